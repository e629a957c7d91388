"""IR stage: the layer kind `layernorm` (Keras LayerNormalization), its shape rule and parameter count."""

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from specc.layers.base import CostTerms, Inference, LayerBase, Problem, Shape, per_element


class LayerNorm(LayerBase):
    """Keras `LayerNormalization` over the last axis, C channels: each position normalised across its channels.

    Parameters: gamma (C, if scale) and beta (C, if center), both trainable; no statistics are kept.
    """

    kind: Literal["layernorm"] = "layernorm"
    spellings: ClassVar = ("layernorm",)
    keras_class: ClassVar = "LayerNormalization"

    epsilon: Annotated[float, Field(gt=0)] = Field(1e-3, description="added to the variance (Keras's default 1e-3)")
    center: bool = Field(True, description="learn an offset beta")
    scale: bool = Field(True, description="learn a factor gamma")

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """5 per element for the normalisation (an add for the mean; subtract the mean, square and add for the
        variance; multiply by 1/sqrt(variance + epsilon)), plus 1 for gamma and 1 for beta when present. The
        per-position divides and square roots are not counted."""
        operations = 5 + int(self.scale) + int(self.center)
        return per_element(operations, output_shape, "5 to normalise, 1 each for gamma and beta, per element")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        channels = input_shape[-1]
        factors = int(self.center) + int(self.scale)
        return Inference(
            input_shape,
            factors * channels,
            working=(f"params: {factors}*{channels} (gamma, beta) = {factors * channels}",),
            largest_weight=channels if factors else 0,
        )
