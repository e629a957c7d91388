"""IR stage: the layer kind `depthwise` (Keras DepthwiseConv2D), its shape rule and parameter count."""

from typing import ClassVar, Literal

from pydantic import Field

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
    params_working,
    sliding_windows,
    windowed,
)


class DepthwiseConv2D(LayerBase):
    """Depthwise 2-D convolution, Keras `DepthwiseConv2D`: each input channel has its own depth_multiplier filters.

    Output: (H', W', C*depth_multiplier), H' and W' by `window_output_length` as for Conv2D.
    Parameters: kh*kw*C*depth_multiplier weights, plus C*depth_multiplier biases when use_bias.
    Explicit padding means zeros added before a 'valid' convolution.
    """

    kind: Literal["depthwise_conv2d"] = "depthwise_conv2d"
    spellings: ClassVar = ("depthwise",)
    keras_class: ClassVar = "DepthwiseConv2D"
    positional: ClassVar = ("kernel_size",)
    word_arguments: ClassVar = ("activation", "padding")
    padding_modes: ClassVar = ("valid", "same")
    explicit_padding: ClassVar = True

    kernel_size: Pair = Field(description="window height x width")
    strides: Pair = Field((1, 1), description="step of the window, height x width")
    padding: WindowPadding | ExplicitPadding = Field(
        "valid", description="valid, same, or zeros added: P, (PH, PW) or ((top, bottom), (left, right))"
    )
    depth_multiplier: Extent = Field(1, description="filters per input channel")
    dilation_rate: Pair = Field((1, 1), description="spacing between kernel taps, height x width")
    activation: Activation = Field("linear", description="activation applied to the output")
    use_bias: bool = Field(True, description="whether a bias is added per output channel")

    def axis_windows(self, input_shape: Shape) -> tuple[AxisWindow, AxisWindow]:
        return sliding_windows(input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate)

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """MACs: H'*W'*kh*kw*C*depth_multiplier."""
        height, width, _ = output_shape
        kh, kw = self.kernel_size
        return CostTerms(macs=((height, width, kh, kw, input_shapes[0][2], self.depth_multiplier),))

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
        weights = kh * kw * channels * multiplier
        biases = channels * multiplier if self.use_bias else 0
        terms = [f"{kh}*{kw}*{channels}*{multiplier}"] + ([f"{channels}*{multiplier}"] if biases else [])
        return Inference(
            (height, width, channels * multiplier),
            weights + biases,
            working=(*working, params_working(terms, weights + biases)),
            largest_weight=weights,
        )
