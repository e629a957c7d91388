"""IR stage: the layer kind `rescaling` (Keras Rescaling), its shape rule."""

from typing import ClassVar, Literal

from pydantic import Field

from specc.layers.base import CostTerms, Inference, LayerBase, Problem, Shape, per_element


class Rescaling(LayerBase):
    """Keras `Rescaling`: x*scale + offset, elementwise; same shape, no parameters."""

    kind: Literal["rescaling"] = "rescaling"
    spellings: ClassVar = ("rescaling",)
    keras_class: ClassVar = "Rescaling"
    positional: ClassVar = ("scale",)

    scale: float = Field(description="factor each value is multiplied by")
    offset: float = Field(0.0, description="added after scaling")

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """2 per element (multiply, add), 1 without an offset."""
        if self.offset == 0:
            return per_element(1, output_shape, "a multiply per element")
        return per_element(2, output_shape, "a multiply and an add per element")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        return Inference(input_shape, 0)
