"""IR stage: the layer kind `conv_transpose` (Keras Conv2DTranspose), its shape rule and parameter count."""

from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from specc.arithmetic import transposed_cropping, transposed_output_length
from specc.layers.base import (
    Activation,
    Amount,
    AxisWindow,
    CostTerms,
    Extent,
    Inference,
    LayerBase,
    Pair,
    Problem,
    Shape,
    WindowPadding,
    needs_feature_map,
    params_working,
    strides_or_dilation,
)


class Conv2DTranspose(LayerBase):
    """Transposed 2-D convolution, Keras `Conv2DTranspose`.

    Output: (H', W', filters) with H' and W' from `transposed_output_length`, dilation and output_padding
    included. Parameters: kh*kw*filters*C_in weights, plus `filters` biases when use_bias.
    output_padding must be less than strides on each axis (Keras refuses otherwise).
    """

    kind: Literal["conv2d_transpose"] = "conv2d_transpose"
    spellings: ClassVar = ("conv_transpose",)
    keras_class: ClassVar = "Conv2DTranspose"
    positional: ClassVar = ("filters", "kernel_size")
    word_arguments: ClassVar = ("activation", "padding")
    padding_modes: ClassVar = ("valid", "same")

    filters: Extent = Field(description="number of output channels")
    kernel_size: Pair = Field(description="window height x width")
    strides: Pair = Field((1, 1), description="step of the window, height x width: the upsampling factor")
    padding: WindowPadding = Field("valid", description="valid or same")
    output_padding: tuple[Amount, Amount] | None = Field(
        None, description="extra rows and columns at the bottom and right; less than strides"
    )
    dilation_rate: Pair = Field((1, 1), description="spacing between kernel taps, height x width")
    activation: Activation = Field("linear", description="activation applied to the output")
    use_bias: bool = Field(True, description="whether a bias is added per filter")

    @model_validator(mode="after")
    def _strides_or_dilation(self) -> Self:
        return strides_or_dilation(self)

    def axis_windows(self, input_shape: Shape) -> tuple[AxisWindow, AxisWindow]:
        """The input spread out `strides` times, then a stride-1 window of the dilated kernel over the full
        output less what Keras crops before (transposed_cropping)."""
        output_padding = self.output_padding or (None, None)
        found = []
        for axis, size in enumerate(input_shape[:2]):
            f, s, d = self.kernel_size[axis], self.strides[axis], self.dilation_rate[axis]
            effective = d * (f - 1) + 1
            before, _ = transposed_cropping(size, f, s, self.padding, output_padding[axis], d)
            found.append(AxisWindow(effective, 1, effective - 1 - before, upsample=s))
        return found[0], found[1]

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """MACs: H_in*W_in*kh*kw*C_in*filters, each input element scattered through the whole kernel (what
        PyTorch's flop counter counts for a transposed convolution)."""
        height, width, channels = input_shapes[0]
        kh, kw = self.kernel_size
        return CostTerms(macs=((height, width, kh, kw, channels, self.filters),))

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        if problem := needs_feature_map(self, input_shape):
            return problem
        output_padding = self.output_padding or (None, None)
        lengths, working = [], []
        for axis, size, f, s, d, extra in zip(
            ("height", "width"),
            input_shape[:2],
            self.kernel_size,
            self.strides,
            self.dilation_rate,
            output_padding,
            strict=True,
        ):
            effective = d * (f - 1) + 1
            if extra is not None and extra >= s:
                return Problem(
                    "E204",
                    f"output_padding must be less than strides on each axis; {axis}: output_padding {extra}, "
                    f"strides {s}",
                    argument="output_padding",
                    hint="leave output_padding out, or make it smaller than strides (Keras refuses otherwise)",
                )
            if self.padding == "same" and extra == 0 and effective % 2 == 0:
                # Keras computes (N-1)*S for the output, which TensorFlow cannot produce from N with 'same'.
                return Problem(
                    "E204",
                    f"with padding=same and an even kernel ({axis} {effective}), output_padding 0 gives "
                    f"{(size - 1) * s}, which TensorFlow refuses to compute from {size}",
                    argument="output_padding",
                    hint="leave output_padding out (the output is then input*strides), or make it at least 1",
                )
            length = transposed_output_length(size, f, s, self.padding, extra, d)
            if self.padding == "valid":
                grown = f"max({effective}, {s})" if extra is None else f"{effective} + {extra}"
                working.append(f"{axis}: ({size} - 1)*{s} + {grown} = {length}")
            elif extra is None:
                working.append(f"{axis}: {size}*{s} = {length}")
            else:
                working.append(f"{axis}: ({size} - 1)*{s} + ({effective} mod 2) + {extra} = {length}")
            lengths.append(length)
        kh, kw = self.kernel_size
        channels = input_shape[2]
        weights = kh * kw * self.filters * channels
        biases = self.filters if self.use_bias else 0
        terms = [f"{kh}*{kw}*{self.filters}*{channels}"] + ([f"{self.filters}"] if biases else [])
        return Inference(
            (lengths[0], lengths[1], self.filters),
            weights + biases,
            working=(*working, params_working(terms, weights + biases)),
            largest_weight=weights,
        )
