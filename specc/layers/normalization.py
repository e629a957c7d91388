"""IR stage: the layer kind `normalization` (Keras Normalization), its shape rule."""

from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from specc.layers.base import CostTerms, Inference, LayerBase, Problem, Shape, format_shape, per_element

Statistic = float | tuple[float, ...]


NonNegativeStatistic = Annotated[float, Field(ge=0)] | tuple[Annotated[float, Field(ge=0)], ...]


class Normalization(LayerBase):
    """Keras `Normalization` over the last axis: (x - mean) / sqrt(variance).

    Given, each of mean and variance is one number, or one per channel (C of them), and Keras creates no
    weights. Left out (both), the statistics are the layer's own weights, set by `adapt` or by loading a
    trained model (EfficientNet's): mean and variance per channel and a count, 2*C + 1, none trainable.
    """

    kind: Literal["normalization"] = "normalization"
    spellings: ClassVar = ("normalization",)
    keras_class: ClassVar = "Normalization"

    mean: Statistic | None = Field(None, description="subtracted: a number, or one per channel (none: a weight)")
    variance: NonNegativeStatistic | None = Field(
        None, description="divided by its square root: a number, or one per channel (none: a weight)"
    )

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        if (self.mean is None) != (self.variance is None):
            raise PydanticCustomError(
                "statistics_pair", "give both mean and variance, or neither (then they are weights, set by adapt)"
            )
        return self

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """2 per element: subtract the mean, multiply by 1/sqrt(variance) (computed once per channel)."""
        return per_element(2, output_shape, "a subtract and a multiply per element")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        channels = input_shape[-1]
        if self.mean is None:
            return Inference(
                input_shape,
                0,
                2 * channels + 1,
                working=(f"params: 2*{channels} + 1 non-trainable (mean, variance, count) = {2 * channels + 1}",),
                largest_weight=channels,
            )
        for argument in ("mean", "variance"):
            value = getattr(self, argument)
            if isinstance(value, tuple) and len(value) not in (1, channels):
                return Problem(
                    "E204",
                    f"{argument} has {len(value)} values, the input {format_shape(input_shape)} has {channels} "
                    "channels",
                    argument=argument,
                    hint=f"give one number, or {channels}: one per channel",
                )
        return Inference(input_shape, 0)
