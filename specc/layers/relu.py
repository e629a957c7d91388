"""IR stage: the layer kind `relu` (Keras ReLU, with its max_value, negative_slope and threshold), its shape rule."""

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from specc.layers.base import CostTerms, Inference, LayerBase, Problem, Shape, per_element


class ReLU(LayerBase):
    """Keras `ReLU`: x from threshold up to max_value (clipped there), negative_slope*(x - threshold) below it.
    `relu max_value=6` is ReLU6. Same shape, no parameters."""

    kind: Literal["relu"] = "relu"
    spellings: ClassVar = ("relu",)
    keras_class: ClassVar = "ReLU"

    max_value: Annotated[float, Field(ge=0)] | None = Field(None, description="the largest output (none: no limit)")
    negative_slope: Annotated[float, Field(ge=0)] = Field(0.0, description="slope below the threshold")
    threshold: Annotated[float, Field(ge=0)] = Field(0.0, description="where the identity starts")

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """1 per element, as any standalone activation."""
        return per_element(1, output_shape, "relu per element")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        return Inference(input_shape, 0)
