"""IR stage: the layer kind `separable` (Keras SeparableConv2D), its shape rule and parameter count."""

from typing import ClassVar, Literal

from pydantic import Field

from specc.layers.base import (
    Activation,
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
    sliding_windows,
    windowed,
)


class SeparableConv2D(LayerBase):
    """Depthwise-separable 2-D convolution, Keras `SeparableConv2D`: a depthwise convolution, then a 1x1 one.

    Output: (H', W', filters), H' and W' by `window_output_length` as for Conv2D.
    Parameters: kh*kw*C*depth_multiplier depthwise weights + C*depth_multiplier*filters pointwise weights,
    plus `filters` biases when use_bias.
    """

    kind: Literal["separable_conv2d"] = "separable_conv2d"
    spellings: ClassVar = ("separable",)
    keras_class: ClassVar = "SeparableConv2D"
    positional: ClassVar = ("filters", "kernel_size")
    word_arguments: ClassVar = ("activation", "padding")
    padding_modes: ClassVar = ("valid", "same")

    filters: Extent = Field(description="number of output channels")
    kernel_size: Pair = Field(description="window height x width of the depthwise step")
    strides: Pair = Field((1, 1), description="step of the window, height x width")
    padding: WindowPadding = Field("valid", description="valid or same")
    depth_multiplier: Extent = Field(1, description="depthwise filters per input channel")
    dilation_rate: Pair = Field((1, 1), description="spacing between kernel taps, height x width")
    activation: Activation = Field("linear", description="activation applied to the output")
    use_bias: bool = Field(True, description="whether a bias is added per filter")

    def axis_windows(self, input_shape: Shape) -> tuple[AxisWindow, AxisWindow]:
        """The depthwise step's windows; the pointwise step reads one position."""
        return sliding_windows(input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate)

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """MACs: the depthwise step at the output's size, H'*W'*kh*kw*C*m, plus the pointwise one, H'*W'*C*m*filters."""
        height, width, filters = output_shape
        (kh, kw), channels, multiplier = self.kernel_size, input_shapes[0][2], self.depth_multiplier
        return CostTerms(
            macs=((height, width, kh, kw, channels, multiplier), (height, width, channels, multiplier, filters))
        )

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        if problem := needs_feature_map(self, input_shape):
            return problem
        spatial = windowed(self, input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate)
        if isinstance(spatial, Problem):
            return spatial
        (height, width), working = spatial
        kh, kw = self.kernel_size
        channels, multiplier = input_shape[2], self.depth_multiplier
        depthwise = kh * kw * channels * multiplier
        pointwise = channels * multiplier * self.filters
        biases = self.filters if self.use_bias else 0
        terms = [f"{kh}*{kw}*{channels}*{multiplier}", f"{channels}*{multiplier}*{self.filters}"]
        terms += [f"{self.filters}"] if biases else []
        total = depthwise + pointwise + biases
        return Inference(
            (height, width, self.filters),
            total,
            working=(*working, params_working(terms, total)),
            largest_weight=max(depthwise, pointwise),
        )
