"""IR stage: the layer kind `dropout` (Keras Dropout), its shape rule."""

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from specc.layers.base import CostTerms, Inference, LayerBase, Problem, Shape


class Dropout(LayerBase):
    """Keras `Dropout`: the identity at inference; no parameters."""

    kind: Literal["dropout"] = "dropout"
    spellings: ClassVar = ("dropout",)
    keras_class: ClassVar = "Dropout"
    positional: ClassVar = ("rate",)

    rate: Annotated[float, Field(ge=0, lt=1)] = Field(description="fraction of inputs zeroed while training, in [0, 1)")

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        return CostTerms(what="the identity at inference")

    allocates_output: ClassVar = False

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        return Inference(input_shape, 0)
