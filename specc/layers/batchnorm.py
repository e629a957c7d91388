"""IR stage: the layer kind `batchnorm` (Keras BatchNormalization), its shape rule and parameter count."""

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from specc.layers.base import CostTerms, Inference, LayerBase, Problem, Shape, per_element


class BatchNorm(LayerBase):
    """Keras `BatchNormalization` over the last axis, C channels.

    Parameters: gamma (C, if scale) and beta (C, if center) are trainable; the moving mean
    and variance (2*C) are not, so the usual total is 4*C with 2*C non-trainable.
    """

    kind: Literal["batchnorm"] = "batchnorm"
    spellings: ClassVar = ("batchnorm", "bn", "batch_norm", "batchnormalization")
    keras_class: ClassVar = "BatchNormalization"

    epsilon: Annotated[float, Field(gt=0)] = Field(1e-3, description="added to the variance (Keras's default 1e-3)")
    momentum: Annotated[float, Field(ge=0, le=1)] = Field(
        0.99, description="moving-average momentum (Keras's convention)"
    )
    center: bool = Field(True, description="learn an offset beta")
    scale: bool = Field(True, description="learn a factor gamma")

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """At inference the statistics fold into one scale and one shift: 2 per element."""
        return per_element(2, output_shape, "scale and shift per element, statistics folded in")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        channels = input_shape[-1]
        trainable = channels * (int(self.center) + int(self.scale))
        return Inference(
            input_shape,
            trainable,
            2 * channels,
            working=(
                (
                    f"params: {int(self.center) + int(self.scale)}*{channels} trainable (gamma, beta) + "
                    f"2*{channels} non-trainable (moving mean, variance)"
                ),
            ),
            largest_weight=channels,
        )
