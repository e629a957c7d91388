"""IR stage: the layer kind `flatten` (Keras Flatten), its shape rule."""

import math
from typing import ClassVar, Literal

from specc.layers.base import CostTerms, Inference, LayerBase, Problem, Shape


class Flatten(LayerBase):
    """Keras `Flatten`: (H, W, C) -> (H*W*C,), in channels-last order; no parameters."""

    kind: Literal["flatten"] = "flatten"
    spellings: ClassVar = ("flatten",)
    keras_class: ClassVar = "Flatten"
    reads_whole_map: ClassVar = True

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        return CostTerms(what="a view of its input")

    allocates_output: ClassVar = False

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        size = math.prod(input_shape)
        return Inference((size,), 0, working=(f"{' * '.join(map(str, input_shape))} = {size}",))
