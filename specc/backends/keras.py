"""Emit stage: checked IR -> Keras 3 functional-API source, one `build_<model>()` function per model.

Each layer kind has one emitter here (KERAS_EMITTERS), which turns the IR layer into the Keras
layers that compute it; arguments equal to Keras's defaults are left out, so the code reads as
a person would write it. Explicit convolution padding becomes ZeroPadding2D then a 'valid'
Conv2D, and min pooling, which Keras lacks, becomes a small MaxPooling2D subclass defined at
the top of the module. This module imports no framework: it only writes text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from specc.backends.python_source import (
    FreeNames,
    SourceWriter,
    call,
    identifier,
    literal,
    source_label,
    word,
    write_header,
    write_models_table,
)
from specc.check import ModelReport
from specc.layers import (
    ActivationLayer,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Conv2DTranspose,
    Cropping2D,
    Dense,
    DepthwiseConv2D,
    Dropout,
    ExplicitPadding,
    Flatten,
    GlobalAvgPool2D,
    GlobalMaxPool2D,
    LayerBase,
    LayerNorm,
    MaxPool2D,
    MinPool2D,
    Normalization,
    ReLU,
    Rescaling,
    Reshape,
    SeparableConv2D,
    UpSampling2D,
    ZeroPad2D,
    format_shape,
)

MIN_POOLING_CLASS = "MinPooling2D"
MIN_POOLING_SOURCE = '''\
@keras.saving.register_keras_serializable(package='specc')
class MinPooling2D(layers.MaxPooling2D):
    """Min pooling, which Keras lacks: the max pool of the negated input, negated."""

    def call(self, inputs):
        return -super().call(-inputs)'''

# Keras's own defaults, left out of emitted calls.
KERAS_BATCHNORM_DEFAULTS = {"epsilon": 1e-3, "momentum": 0.99, "center": True, "scale": True}
KERAS_LAYERNORM_DEFAULTS = {"epsilon": 1e-3, "center": True, "scale": True}
KERAS_RELU_DEFAULTS = {"max_value": None, "negative_slope": 0.0, "threshold": 0.0}


@dataclass(frozen=True)
class KerasCall:
    """One Keras layer to construct: the class (as source text) and its arguments (as source text)."""

    constructor: str
    arguments: tuple[str, ...]


def _keyword(key: str, value) -> str:
    return f"{identifier(key)}={literal(value)}"


def _named(*arguments: str, name: str) -> tuple[str, ...]:
    return (*arguments, _keyword("name", name))


def _padding_amounts(padding: ExplicitPadding) -> int | tuple:
    """The shortest form Keras's ZeroPadding2D accepts for these amounts."""
    (top, bottom), (left, right) = padding
    if top == bottom == left == right:
        return top
    if top == bottom and left == right:
        return (top, left)
    return padding


def _activation(activation: str) -> tuple[str, ...]:
    return () if activation == "linear" else (_keyword("activation", activation),)


def _conv2d(layer: Conv2D, names: FreeNames) -> list[KerasCall]:
    arguments = [literal(layer.filters), literal(layer.kernel_size)]
    if layer.strides != (1, 1):
        arguments.append(_keyword("strides", layer.strides))
    if layer.padding == "same":
        arguments.append(_keyword("padding", "same"))
    if layer.dilation_rate != (1, 1):
        arguments.append(_keyword("dilation_rate", layer.dilation_rate))
    arguments.extend(_activation(layer.activation))
    if not layer.use_bias:
        arguments.append(_keyword("use_bias", False))
    conv = KerasCall("layers.Conv2D", _named(*arguments, name=layer.name))
    if isinstance(layer.padding, str) or layer.padding == ((0, 0), (0, 0)):
        return [conv]
    pad = KerasCall(
        "layers.ZeroPadding2D",
        _named(literal(_padding_amounts(layer.padding)), name=names.free(f"{layer.name}_pad")),
    )
    return [pad, conv]


def _pool2d(constructor: str) -> Callable[[MaxPool2D | AvgPool2D | MinPool2D, FreeNames], list[KerasCall]]:
    def emit(layer: MaxPool2D | AvgPool2D | MinPool2D, names: FreeNames) -> list[KerasCall]:
        arguments = [literal(layer.pool_size)]
        if layer.strides != layer.pool_size:
            arguments.append(_keyword("strides", layer.strides))
        if layer.padding == "same":
            arguments.append(_keyword("padding", "same"))
        return [KerasCall(constructor, _named(*arguments, name=layer.name))]

    return emit


def _without_arguments(constructor: str) -> Callable[[LayerBase, FreeNames], list[KerasCall]]:
    def emit(layer: LayerBase, names: FreeNames) -> list[KerasCall]:
        return [KerasCall(constructor, _named(name=layer.name))]

    return emit


def _zeropad2d(layer: ZeroPad2D, names: FreeNames) -> list[KerasCall]:
    return [KerasCall("layers.ZeroPadding2D", _named(literal(_padding_amounts(layer.padding)), name=layer.name))]


def _batchnorm(layer: BatchNorm, names: FreeNames) -> list[KerasCall]:
    arguments = [
        _keyword(key, getattr(layer, key))
        for key, default in KERAS_BATCHNORM_DEFAULTS.items()
        if getattr(layer, key) != default
    ]
    return [KerasCall("layers.BatchNormalization", _named(*arguments, name=layer.name))]


def _dropout(layer: Dropout, names: FreeNames) -> list[KerasCall]:
    return [KerasCall("layers.Dropout", _named(literal(layer.rate), name=layer.name))]


def _dense(layer: Dense, names: FreeNames) -> list[KerasCall]:
    arguments = [literal(layer.units), *_activation(layer.activation)]
    if not layer.use_bias:
        arguments.append(_keyword("use_bias", False))
    return [KerasCall("layers.Dense", _named(*arguments, name=layer.name))]


def _activation_layer(layer: ActivationLayer, names: FreeNames) -> list[KerasCall]:
    return [KerasCall("layers.Activation", _named(literal(layer.activation), name=layer.name))]


def _changed(layer: LayerBase, defaults: dict[str, object]) -> list[str]:
    """`key=value` for each of these arguments that differs from Keras's default."""
    return [_keyword(key, getattr(layer, key)) for key, default in defaults.items() if getattr(layer, key) != default]


def _global_pool2d(constructor: str) -> Callable[[GlobalAvgPool2D | GlobalMaxPool2D, FreeNames], list[KerasCall]]:
    def emit(layer: GlobalAvgPool2D | GlobalMaxPool2D, names: FreeNames) -> list[KerasCall]:
        arguments = [_keyword("keepdims", True)] if layer.keepdims else []
        return [KerasCall(constructor, _named(*arguments, name=layer.name))]

    return emit


def _window_arguments(layer: DepthwiseConv2D | SeparableConv2D | Conv2DTranspose) -> list[str]:
    """strides, padding='same' and dilation_rate where they differ from Keras's defaults."""
    arguments = []
    if layer.strides != (1, 1):
        arguments.append(_keyword("strides", layer.strides))
    if layer.padding == "same":
        arguments.append(_keyword("padding", "same"))
    if layer.dilation_rate != (1, 1):
        arguments.append(_keyword("dilation_rate", layer.dilation_rate))
    return arguments


def _depthwise_conv2d(layer: DepthwiseConv2D, names: FreeNames) -> list[KerasCall]:
    arguments = [literal(layer.kernel_size), *_window_arguments(layer)]
    if layer.depth_multiplier != 1:
        arguments.append(_keyword("depth_multiplier", layer.depth_multiplier))
    arguments.extend(_activation(layer.activation))
    if not layer.use_bias:
        arguments.append(_keyword("use_bias", False))
    conv = KerasCall("layers.DepthwiseConv2D", _named(*arguments, name=layer.name))
    if isinstance(layer.padding, str) or layer.padding == ((0, 0), (0, 0)):
        return [conv]
    pad = KerasCall(
        "layers.ZeroPadding2D",
        _named(literal(_padding_amounts(layer.padding)), name=names.free(f"{layer.name}_pad")),
    )
    return [pad, conv]


def _separable_conv2d(layer: SeparableConv2D, names: FreeNames) -> list[KerasCall]:
    arguments = [literal(layer.filters), literal(layer.kernel_size), *_window_arguments(layer)]
    if layer.depth_multiplier != 1:
        arguments.append(_keyword("depth_multiplier", layer.depth_multiplier))
    arguments.extend(_activation(layer.activation))
    if not layer.use_bias:
        arguments.append(_keyword("use_bias", False))
    return [KerasCall("layers.SeparableConv2D", _named(*arguments, name=layer.name))]


def _conv2d_transpose(layer: Conv2DTranspose, names: FreeNames) -> list[KerasCall]:
    arguments = [literal(layer.filters), literal(layer.kernel_size), *_window_arguments(layer)]
    if layer.output_padding is not None:
        arguments.append(_keyword("output_padding", layer.output_padding))
    arguments.extend(_activation(layer.activation))
    if not layer.use_bias:
        arguments.append(_keyword("use_bias", False))
    return [KerasCall("layers.Conv2DTranspose", _named(*arguments, name=layer.name))]


def _upsampling2d(layer: UpSampling2D, names: FreeNames) -> list[KerasCall]:
    arguments = [literal(layer.size)] if layer.size != (2, 2) else []
    if layer.interpolation != "nearest":
        arguments.append(_keyword("interpolation", layer.interpolation))
    return [KerasCall("layers.UpSampling2D", _named(*arguments, name=layer.name))]


def _cropping2d(layer: Cropping2D, names: FreeNames) -> list[KerasCall]:
    return [KerasCall("layers.Cropping2D", _named(literal(_padding_amounts(layer.cropping)), name=layer.name))]


def _reshape(layer: Reshape, names: FreeNames) -> list[KerasCall]:
    return [KerasCall("layers.Reshape", _named(literal(layer.target_shape), name=layer.name))]


def _rescaling(layer: Rescaling, names: FreeNames) -> list[KerasCall]:
    arguments = [literal(layer.scale)] + ([_keyword("offset", layer.offset)] if layer.offset != 0.0 else [])
    return [KerasCall("layers.Rescaling", _named(*arguments, name=layer.name))]


def _normalization(layer: Normalization, names: FreeNames) -> list[KerasCall]:
    mean, variance = layer.mean, layer.variance
    # Keras wants the two in the same shape; the spec may give one number for all channels beside a tuple.
    if isinstance(mean, tuple) != isinstance(variance, tuple) or (
        isinstance(mean, tuple) and isinstance(variance, tuple) and len(mean) != len(variance)
    ):
        length = max(len(v) if isinstance(v, tuple) else 1 for v in (mean, variance))
        mean, variance = (v * (length // len(v)) if isinstance(v, tuple) else (v,) * length for v in (mean, variance))
    arguments = [_keyword("mean", mean), _keyword("variance", variance)]
    return [KerasCall("layers.Normalization", _named(*arguments, name=layer.name))]


def _layernorm(layer: LayerNorm, names: FreeNames) -> list[KerasCall]:
    return [KerasCall("layers.LayerNormalization", _named(*_changed(layer, KERAS_LAYERNORM_DEFAULTS), name=layer.name))]


def _relu(layer: ReLU, names: FreeNames) -> list[KerasCall]:
    return [KerasCall("layers.ReLU", _named(*_changed(layer, KERAS_RELU_DEFAULTS), name=layer.name))]


KERAS_EMITTERS: dict[type[LayerBase], Callable] = {
    Conv2D: _conv2d,
    MaxPool2D: _pool2d("layers.MaxPooling2D"),
    AvgPool2D: _pool2d("layers.AveragePooling2D"),
    MinPool2D: _pool2d(MIN_POOLING_CLASS),
    GlobalAvgPool2D: _global_pool2d("layers.GlobalAveragePooling2D"),
    GlobalMaxPool2D: _global_pool2d("layers.GlobalMaxPooling2D"),
    ZeroPad2D: _zeropad2d,
    BatchNorm: _batchnorm,
    Dropout: _dropout,
    Flatten: _without_arguments("layers.Flatten"),
    Dense: _dense,
    ActivationLayer: _activation_layer,
    DepthwiseConv2D: _depthwise_conv2d,
    SeparableConv2D: _separable_conv2d,
    Conv2DTranspose: _conv2d_transpose,
    UpSampling2D: _upsampling2d,
    Cropping2D: _cropping2d,
    Reshape: _reshape,
    Rescaling: _rescaling,
    Normalization: _normalization,
    LayerNorm: _layernorm,
    ReLU: _relu,
}


def keras_calls(layer: LayerBase, names: FreeNames | None = None) -> list[KerasCall]:
    """The Keras layers, in order, that compute one specc layer."""
    emitter = KERAS_EMITTERS.get(type(layer))
    if emitter is None:
        raise NotImplementedError(f"the Keras backend cannot emit layer kind `{layer.kind}`")
    return emitter(layer, names or FreeNames({layer.name}))


def build_function_name(model_name: str) -> str:
    return identifier(f"build_{model_name}")


def _model_docstring(report: ModelReport) -> str:
    model = report.model
    if model.input_shape is None or report.output_shape is None:
        return f'"""Model {word(model.name)}."""'
    return (
        f'"""Model {word(model.name)}: {format_shape(model.input_shape)} -> '
        f"{format_shape(report.output_shape)}, {report.total_params:,} parameters "
        f'({report.non_trainable_params:,} non-trainable)."""'
    )


def _emit_model(writer: SourceWriter, report: ModelReport, source_label: str) -> None:
    model = report.model
    names = FreeNames({layer.name for layer in model.layers})
    input_name = names.free("input")
    writer.line(f"def {build_function_name(model.name)}() -> keras.Model:")
    writer.indent()
    writer.line(_model_docstring(report))
    input_shape = model.input_shape if model.input_shape is not None else ()
    writer.lines(
        call("inputs = keras.Input", [_keyword("shape", input_shape), _keyword("name", input_name)], indent=1),
        comment=f"{source_label}:{model.input_span.line}" if model.input_span else None,
    )
    tensor = "inputs"
    for layer in model.layers:
        for keras_call in keras_calls(layer, names):
            writer.lines(
                call(f"x = {keras_call.constructor}", keras_call.arguments, indent=1, trailer=f"({tensor})"),
                comment=f"{source_label}:{layer.span.line}",
            )
            tensor = "x"
    writer.line(f"return keras.Model(inputs, {tensor}, name={literal(model.name)})")
    writer.dedent()


def emit_keras(reports: Sequence[ModelReport], source_path: str) -> str:
    """A Python module that builds every model of a checked spec with Keras 3.

    `source_path` is the spec's path as the user gave it; it appears only in comments, plainly
    when it is made of ordinary path characters, by repr() otherwise.
    """
    label = source_label(source_path)
    uses_layers = any(report.model.layers for report in reports)
    uses_min_pooling = any(isinstance(layer, MinPool2D) for report in reports for layer in report.model.layers)

    writer = SourceWriter()
    write_header(
        writer,
        source_path,
        "keras",
        "Keras 3 models generated from a specc spec: one build function per model, and MODELS by name.",
    )
    writer.line()
    writer.line("import keras")
    if uses_layers:
        writer.line("from keras import layers")
    if uses_min_pooling:
        writer.line()
        writer.line()
        for source_line in MIN_POOLING_SOURCE.splitlines():
            writer.line(source_line)
    for report in reports:
        writer.line()
        writer.line()
        _emit_model(writer, report, label)
    writer.line()
    writer.line()
    write_models_table(writer, [(r.model.name, build_function_name(r.model.name)) for r in reports])
    writer.line()
    writer.line("if __name__ == '__main__':")
    writer.indent()
    writer.line("for build in MODELS.values():")
    writer.indent()
    writer.line("build().summary()")
    writer.dedent()
    writer.dedent()
    return writer.text()
