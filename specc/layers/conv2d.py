"""IR stage: the layer kind `conv` (Keras Conv2D), its shape rule and parameter count."""

from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from specc.layers.base import (
    Activation,
    AxisWindow,
    CostTerms,
    ExplicitPadding,
    Extent,
    Inference,
    LayerBase,
    Pair,
    Problem,
    Shape,
    WindowPadding,
    needs_feature_map,
    sliding_windows,
    strides_or_dilation,
    windowed,
)


class Conv2D(LayerBase):
    """2-D convolution, Keras `Conv2D`.

    Output: (H', W', filters) with H' and W' from `window_output_length`, dilation included.
    Parameters: kh*kw*C_in*filters weights, plus `filters` biases when use_bias.
    Explicit padding (amounts instead of 'valid'/'same') means zeros added before a 'valid' convolution.
    """

    kind: Literal["conv2d"] = "conv2d"
    spellings: ClassVar = ("conv", "conv2d")
    keras_class: ClassVar = "Conv2D"
    positional: ClassVar = ("filters", "kernel_size")
    word_arguments: ClassVar = ("activation", "padding")
    padding_modes: ClassVar = ("valid", "same")
    explicit_padding: ClassVar = True

    filters: Extent = Field(description="number of output channels")
    kernel_size: Pair = Field(description="window height x width")
    strides: Pair = Field((1, 1), description="step of the window, height x width")
    padding: WindowPadding | ExplicitPadding = Field(
        "valid", description="valid, same, or zeros added: P, (PH, PW) or ((top, bottom), (left, right))"
    )
    dilation_rate: Pair = Field((1, 1), description="spacing between kernel taps, height x width")
    activation: Activation = Field("linear", description="activation applied to the output")
    use_bias: bool = Field(True, description="whether a bias is added per filter")

    @model_validator(mode="after")
    def _strides_or_dilation(self) -> Self:
        return strides_or_dilation(self)

    def axis_windows(self, input_shape: Shape) -> tuple[AxisWindow, AxisWindow]:
        return sliding_windows(input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate)

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """MACs: H'*W'*kh*kw*C_in*filters, every output element one kernel's worth (dilation adds none)."""
        (height, width, filters), (kh, kw) = output_shape, self.kernel_size
        return CostTerms(macs=((height, width, kh, kw, input_shapes[0][2], filters),))

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        if problem := needs_feature_map(self, input_shape):
            return problem
        spatial = windowed(self, input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate)
        if isinstance(spatial, Problem):
            return spatial
        (height, width), working = spatial
        kh, kw = self.kernel_size
        channels = input_shape[2]
        weights = kh * kw * channels * self.filters
        biases = self.filters if self.use_bias else 0
        params = (
            f"params: {kh}*{kw}*{channels}*{self.filters}"
            + (f" + {self.filters}" if biases else "")
            + f" = {weights + biases}"
        )
        return Inference(
            (height, width, self.filters), weights + biases, working=(*working, params), largest_weight=weights
        )
