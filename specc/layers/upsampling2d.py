"""IR stage: the layer kind `upsample` (Keras UpSampling2D), its shape rule."""

from typing import ClassVar, Literal

from pydantic import Field

from specc.layers.base import (
    AxisWindow,
    CostTerms,
    Inference,
    LayerBase,
    Pair,
    Problem,
    Shape,
    needs_feature_map,
    per_element,
)

Interpolation = Literal["nearest", "bilinear"]


class UpSampling2D(LayerBase):
    """Keras `UpSampling2D`: each row repeated size[0] times and each column size[1] times (nearest), or
    bilinear interpolation to that size. Output: (H*sh, W*sw, C); no parameters."""

    kind: Literal["upsampling2d"] = "upsampling2d"
    spellings: ClassVar = ("upsample",)
    keras_class: ClassVar = "UpSampling2D"
    positional: ClassVar = ("size",)
    word_arguments: ClassVar = ("interpolation",)

    size: Pair = Field((2, 2), description="upsampling factors, height x width")
    interpolation: Interpolation = Field("nearest", description="nearest or bilinear")

    @classmethod
    def bare_word_role(cls, word: str) -> str | None:
        """`upsample 2 bilinear`: the interpolation may be a bare word."""
        return "interpolation" if word in ("nearest", "bilinear") else None

    def axis_windows(self, input_shape: Shape) -> tuple[AxisWindow, AxisWindow]:
        """Nearest: output i copies input i // size, the one input in a window of `size` spread positions.
        Bilinear: output i mixes two neighbouring inputs, within a window of 2*size (an input more at edges)."""
        if self.interpolation == "nearest":
            return AxisWindow(self.size[0], 1, self.size[0] - 1, self.size[0]), AxisWindow(
                self.size[1], 1, self.size[1] - 1, self.size[1]
            )
        return AxisWindow(2 * self.size[0], 1, self.size[0], self.size[0]), AxisWindow(
            2 * self.size[1], 1, self.size[1], self.size[1]
        )

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """Nearest copies (0); bilinear weighs four inputs per output element: 4 multiplies and 3 adds, 7."""
        if self.interpolation == "nearest":
            return CostTerms(what="nearest copies its inputs")
        return per_element(7, output_shape, "bilinear: 4 multiplies and 3 adds per output element")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        if problem := needs_feature_map(self, input_shape):
            return problem
        (height, width, channels), (sh, sw) = input_shape, self.size
        return Inference(
            (height * sh, width * sw, channels),
            0,
            working=(f"height: {height}*{sh} = {height * sh}", f"width: {width}*{sw} = {width * sw}"),
        )
