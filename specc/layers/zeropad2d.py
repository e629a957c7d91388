"""IR stage: the layer kind `zeropad` (Keras ZeroPadding2D), its shape rule."""

from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from specc.layers.base import (
    AxisWindow,
    CostTerms,
    ExplicitPadding,
    Inference,
    LayerBase,
    Pair,
    Problem,
    Shape,
    format_shape,
    needs_feature_map,
)


class ZeroPad2D(LayerBase):
    """Keras `ZeroPadding2D`: (H + top + bottom, W + left + right, C); no parameters.

    `correct_pad=KxK` pads as keras.applications' `correct_pad(inputs, kernel_size)` does before a stride-2
    'valid' window: K//2 on each side, one fewer at the top (left) when the height (width) is even, so the
    amounts depend on the input; it is what TensorFlow's 'same' pads for a stride of 2.
    """

    kind: Literal["zeropad2d"] = "zeropad2d"
    spellings: ClassVar = ("zeropad", "zeropad2d", "zeropadding2d")
    keras_class: ClassVar = "ZeroPadding2D"
    positional: ClassVar = ("padding",)
    explicit_padding: ClassVar = True

    padding: ExplicitPadding = Field(
        ((1, 1), (1, 1)), description="zeros added: P, (PH, PW) or ((top, bottom), (left, right))"
    )
    correct_pad: Pair | None = Field(
        None, description="pad for this window as keras.applications' correct_pad does (depends on the input)"
    )

    @model_validator(mode="after")
    def _padding_or_correct_pad(self) -> Self:
        if self.correct_pad is not None and "padding" in self.model_fields_set:
            raise PydanticCustomError("padding_twice", "give padding or correct_pad, not both")
        return self

    def padding_for(self, input_shape: Shape) -> ExplicitPadding:
        """The zeros added around an input of this shape: `padding`, or what `correct_pad` makes of the input."""
        if self.correct_pad is None:
            return self.padding
        (kh, kw), (height, width) = self.correct_pad, input_shape[:2]
        return ((kh // 2 - (1 - height % 2), kh // 2), (kw // 2 - (1 - width % 2), kw // 2))

    def axis_windows(self, input_shape: Shape) -> tuple[AxisWindow, AxisWindow]:
        (top, _), (left, _) = self.padding_for(input_shape)
        return AxisWindow(1, 1, top), AxisWindow(1, 1, left)

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        return CostTerms(what="zeros are written, nothing computed")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        if problem := needs_feature_map(self, input_shape):
            return problem
        (top, bottom), (left, right) = self.padding_for(input_shape)
        if min(top, left) < 0:
            return Problem(
                "E204",
                f"correct_pad {format_shape(self.correct_pad or ())} would pad {min(top, left)} on an even "
                f"{format_shape(input_shape)} input (Keras refuses negative padding)",
                argument="correct_pad",
                hint="correct_pad is for windows of 2 or more, before a stride-2 convolution",
            )
        height, width, channels = input_shape
        return Inference(
            (height + top + bottom, width + left + right, channels),
            0,
            working=(
                f"height: {height} + {top} + {bottom} = {height + top + bottom}",
                f"width: {width} + {left} + {right} = {width + left + right}",
            ),
        )
