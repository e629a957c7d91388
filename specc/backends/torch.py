"""Emit stage: checked IR -> PyTorch source, one `nn.Module` subclass per model, computing what Keras computes.

Each layer kind has one emitter here (TORCH_EMITTERS). It turns the checked layer, with the
input shape the checker found for it, into the modules `__init__` creates and the line `forward`
runs. PyTorch needs the sizes Keras infers (in_channels, in_features); they come from the
checker's shapes. Where PyTorch's defaults differ from Keras's, the emitted code says so:

- Tensors are channels-first: Keras's (H, W, C) is PyTorch's (C, H, W); `channels_first` maps one to
  the other, and `torch_shape` gives a layer's shape in PyTorch's order.
- 'same' padding, and explicit padding, that is not the same on both sides (Keras puts the odd zero
  at the bottom and right; PyTorch refuses padding='same' with strides) becomes an explicit pad
  module before the layer. Max pooling pads with -inf, min pooling with +inf, and 'same' average
  pooling averages only the real inputs, as Keras does.
- Batch normalization takes Keras's epsilon and momentum (Keras's 0.99 is PyTorch's 0.01).
- Dense on a feature map acts on the channels, as in Keras: a 1x1 convolution.
- Softmax acts on the channel axis, dim=1.
- Flatten is nn.Flatten, channels-first; specc.backends.transfer reorders the weights that read a
  flattened feature map, so that `forward` stays as a person would write it.

Layers are attributes named as in the spec, unless the name is taken by nn.Module itself (`forward`,
`eval`, `_modules`...), is a Python keyword or starts with two underscores: then `torch_attribute_names` gives
`<name>_layer`. This module
imports no framework: it only writes text.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from specc.arithmetic import AxisPadding, same_padding_amounts, transposed_cropping
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
from specc.backends.torch_module_names import NN_MODULE_ATTRIBUTES
from specc.check import LayerReport, ModelReport
from specc.ir import Model
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
    Shape,
    UpSampling2D,
    ZeroPad2D,
    format_shape,
)

# Names nn.Module has itself (derived from torch, private ones included: see torch_module_names), and the
# class attribute specc adds; a submodule under one of these would be shadowed or would break the module.
RESERVED_ATTRIBUTES = NN_MODULE_ATTRIBUTES | {"INPUT_SHAPE"}

# Helper classes a module defines when one of its models needs them; a model's class never takes these names.
HELPER_CLASSES = {
    "MinPool2d": '''\
class MinPool2d(nn.MaxPool2d):
    """Min pooling, which PyTorch lacks: the max pool of the negated input, negated."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -super().forward(-x)''',
    "AvgPool2dSame": '''\
class AvgPool2dSame(nn.Module):
    """Keras's 'same' average pooling where the zeros are uneven: each window averages its real inputs only."""

    def __init__(self, kernel_size, stride, padding: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.padding = padding  # (left, right, top, bottom), as F.pad takes it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sums = F.avg_pool2d(F.pad(x, self.padding), self.kernel_size, self.stride)
        real = F.avg_pool2d(F.pad(torch.ones_like(x[:1, :1]), self.padding), self.kernel_size, self.stride)
        return sums / real''',
    "Exponential": '''\
class Exponential(nn.Module):
    """Keras's `exponential` activation, which has no module in torch.nn."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)''',
    "LinearOnChannels": '''\
class LinearOnChannels(nn.Linear):
    """Keras's Dense on a (N, C, ...) tensor of more than five axes: a linear map of the channels at each position."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)''',
    "BatchNormNd": '''\
class BatchNormNd(nn.BatchNorm1d):
    """Batch normalization of the channels of a (N, C, ...) tensor of more than five axes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.flatten(2)).view_as(x)''',
    "KerasReshape": '''\
class KerasReshape(nn.Module):
    """Keras's Reshape, which orders the elements channels-last: channels moved last, reshaped, moved back first."""

    def __init__(self, *shape: int) -> None:
        super().__init__()
        self.shape = shape  # channels-last, as the spec writes it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.movedim(1, -1) if x.dim() > 2 else x
        x = x.reshape(x.shape[0], *self.shape)
        return x.movedim(-1, 1) if x.dim() > 2 else x''',
    "Rescaling": '''\
class Rescaling(nn.Module):
    """Keras's Rescaling: x * scale + offset."""

    def __init__(self, scale: float, offset: float = 0.0) -> None:
        super().__init__()
        self.scale, self.offset = scale, offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.offset''',
    "Normalization": '''\
class Normalization(nn.Module):
    """Keras's Normalization with its statistics given: (x - mean) / max(sqrt(variance), 1e-7), per channel.
    The statistics are constants, not buffers: Keras counts them as no weights."""

    def __init__(self, mean: tuple[float, ...], variance: tuple[float, ...]) -> None:
        super().__init__()
        self.mean, self.variance = mean, variance

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        view = (-1, *(1,) * (x.dim() - 2))  # along the channels, axis 1
        mean = x.new_tensor(self.mean).view(view)
        deviation = x.new_tensor(self.variance).view(view).sqrt().clamp_min(1e-7)
        return (x - mean) / deviation''',
    "LayerNormOnChannels": '''\
class LayerNormOnChannels(nn.LayerNorm):
    """Keras's LayerNormalization of a (N, C, ...) tensor: each position normalised across its channels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)''',
    "KerasReLU": '''\
class KerasReLU(nn.Module):
    """Keras's ReLU: x from threshold up to max_value, negative_slope * (x - threshold) below the threshold."""

    def __init__(self, max_value: float | None, negative_slope: float, threshold: float) -> None:
        super().__init__()
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.where(x > self.threshold, x, torch.zeros_like(x))
        if self.max_value is not None:
            y = y.clamp(max=self.max_value)
        return y - self.negative_slope * F.relu(self.threshold - x)''',
}
MODULE_NAMES = frozenset({"torch", "nn", "F", "MODELS", *HELPER_CLASSES})


@dataclass(frozen=True)
class ActivationForms:
    """One Keras activation in PyTorch: as a module (a standalone layer) and as a call in forward ({} is x)."""

    constructor: str
    function: str
    arguments: tuple[str, ...] = ()
    helper: str | None = None


# Keras 3's activations, with its defaults: leaky_relu's slope is 0.2, gelu is exact, softmax acts on channels.
TORCH_ACTIVATIONS: dict[str, ActivationForms] = {
    "linear": ActivationForms("nn.Identity", "{}"),
    "relu": ActivationForms("nn.ReLU", "F.relu({})"),
    "relu6": ActivationForms("nn.ReLU6", "F.relu6({})"),
    "leaky_relu": ActivationForms("nn.LeakyReLU", "F.leaky_relu({}, 0.2)", ("0.2",)),
    "elu": ActivationForms("nn.ELU", "F.elu({})"),
    "selu": ActivationForms("nn.SELU", "F.selu({})"),
    "celu": ActivationForms("nn.CELU", "F.celu({})"),
    "gelu": ActivationForms("nn.GELU", "F.gelu({})"),
    "silu": ActivationForms("nn.SiLU", "F.silu({})"),
    "swish": ActivationForms("nn.SiLU", "F.silu({})"),
    "mish": ActivationForms("nn.Mish", "F.mish({})"),
    "sigmoid": ActivationForms("nn.Sigmoid", "torch.sigmoid({})"),
    "hard_sigmoid": ActivationForms("nn.Hardsigmoid", "F.hardsigmoid({})"),
    "log_sigmoid": ActivationForms("nn.LogSigmoid", "F.logsigmoid({})"),
    "hard_silu": ActivationForms("nn.Hardswish", "F.hardswish({})"),
    "hard_swish": ActivationForms("nn.Hardswish", "F.hardswish({})"),
    "tanh": ActivationForms("nn.Tanh", "torch.tanh({})"),
    "hard_tanh": ActivationForms("nn.Hardtanh", "F.hardtanh({})"),
    "softmax": ActivationForms("nn.Softmax", "F.softmax({}, dim=1)", ("dim=1",)),
    "log_softmax": ActivationForms("nn.LogSoftmax", "F.log_softmax({}, dim=1)", ("dim=1",)),
    "softplus": ActivationForms("nn.Softplus", "F.softplus({})"),
    "softsign": ActivationForms("nn.Softsign", "F.softsign({})"),
    "exponential": ActivationForms("Exponential", "torch.exp({})", helper="Exponential"),
}


def channels_first(shape: Shape) -> Shape:
    """A channels-last shape (batch axis left out) in PyTorch's order: the channels move to the front."""
    return (shape[-1], *shape[:-1]) if len(shape) > 1 else shape


def channels_last(shape: Shape) -> Shape:
    """The inverse of channels_first: a PyTorch shape (batch axis left out) in the checker's order."""
    return (*shape[1:], shape[0]) if len(shape) > 1 else shape


def _attribute_for(name: str) -> str:
    """An attribute for a layer whose name cannot be one. Leading underscores go, since in a class body
    Python mangles `self.__x` into `self._Model__x`; what is left must still start with a letter."""
    stripped = name.lstrip("_")
    return f"{stripped}_layer" if stripped[:1].isalpha() else f"layer{name}"


def torch_attribute_names(model: Model) -> dict[str, str]:
    """Each spec layer's attribute on the emitted module: its own name, or `<name>_layer` where that is taken."""
    names = FreeNames({layer.name for layer in model.layers})
    attributes = {}
    for layer in model.layers:
        usable = not (
            layer.name in RESERVED_ATTRIBUTES
            or layer.name.startswith("__")
            or keyword.iskeyword(layer.name)
            or keyword.issoftkeyword(layer.name)
        )
        attributes[layer.name] = layer.name if usable else names.free(_attribute_for(layer.name))
    return attributes


@dataclass(frozen=True)
class TorchModule:
    """One submodule `__init__` creates: `self.<attribute> = <constructor>(<arguments>)`, applied in forward."""

    attribute: str
    constructor: str
    arguments: tuple[str, ...] = ()
    # Why the module is there, when it is not the spec layer itself (a pad); shown beside the line.
    note: str | None = None


@dataclass(frozen=True)
class TorchLayer:
    """What one spec layer becomes: modules applied in order, then the layer's activation, in forward."""

    modules: tuple[TorchModule, ...]
    activation: str = "linear"
    # Lines of __init__ after the modules are made (`self.bn.bias = None`), with their reasons.
    adjustments: tuple[tuple[str, str], ...] = ()
    helpers: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Context:
    """What an emitter needs beyond the layer: its input shape (channels-last), its attribute, free names."""

    input_shape: Shape
    attribute: str
    names: FreeNames


def _keyword(key: str, value) -> str:
    return f"{identifier(key)}={literal(value)}"


def _compact(pair: tuple[int, int]) -> int | tuple[int, int]:
    """An (h, w) pair as PyTorch code usually writes it: one number when both are equal."""
    return pair[0] if pair[0] == pair[1] else pair


def _side_padding(
    padding: str | tuple[AxisPadding, AxisPadding],
    input_shape: Shape,
    window: tuple[int, int],
    strides: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> tuple[AxisPadding, AxisPadding]:
    """(top, bottom), (left, right): the zeros Keras adds for this padding at this input size."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        height, width = (
            same_padding_amounts(size, f, s, d)
            for size, f, s, d in zip(input_shape[:2], window, strides, dilation, strict=True)
        )
        return height, width
    return padding


def _is_even(amounts: tuple[AxisPadding, AxisPadding]) -> bool:
    (top, bottom), (left, right) = amounts
    return top == bottom and left == right


def _pad_tuple(amounts: tuple[AxisPadding, AxisPadding]) -> int | tuple[int, int, int, int]:
    """The padding as nn.ZeroPad2d and F.pad take it: (left, right, top, bottom), or one number."""
    (top, bottom), (left, right) = amounts
    if top == bottom == left == right:
        return top
    return (left, right, top, bottom)


def _uneven_note(padding) -> str:
    if padding == "same":
        return "'same' as Keras pads, the odd zero at the bottom and right"
    return "the spec's uneven padding"


def _conv2d(layer: Conv2D, context: _Context) -> TorchLayer:
    amounts = _side_padding(layer.padding, context.input_shape, layer.kernel_size, layer.strides, layer.dilation_rate)
    arguments = [literal(context.input_shape[-1]), literal(layer.filters), literal(_compact(layer.kernel_size))]
    if layer.strides != (1, 1):
        arguments.append(_keyword("stride", _compact(layer.strides)))
    modules = []
    if not _is_even(amounts):
        pad_attribute = context.names.free(f"{context.attribute}_pad")
        modules.append(
            TorchModule(pad_attribute, "nn.ZeroPad2d", (literal(_pad_tuple(amounts)),), _uneven_note(layer.padding))
        )
    elif amounts != ((0, 0), (0, 0)):
        arguments.append(_keyword("padding", _compact((amounts[0][0], amounts[1][0]))))
    if layer.dilation_rate != (1, 1):
        arguments.append(_keyword("dilation", _compact(layer.dilation_rate)))
    if not layer.use_bias:
        arguments.append(_keyword("bias", False))
    modules.append(TorchModule(context.attribute, "nn.Conv2d", tuple(arguments)))
    return TorchLayer(tuple(modules), activation=layer.activation)


def _pool2d(kind: str) -> Callable[[MaxPool2D | AvgPool2D | MinPool2D, _Context], TorchLayer]:
    """Max, average or min pooling: the PyTorch module when its padding can say what Keras does, else a pad first."""
    constructor = {"max": "nn.MaxPool2d", "avg": "nn.AvgPool2d", "min": "MinPool2d"}[kind]
    helpers = ("MinPool2d",) if kind == "min" else ()

    def emit(layer: MaxPool2D | AvgPool2D | MinPool2D, context: _Context) -> TorchLayer:
        amounts = _side_padding(layer.padding, context.input_shape, layer.pool_size, layer.strides)
        arguments = [literal(_compact(layer.pool_size))]
        if layer.strides != layer.pool_size:
            arguments.append(_keyword("stride", _compact(layer.strides)))
        if _is_even(amounts):
            if amounts != ((0, 0), (0, 0)):
                arguments.append(_keyword("padding", _compact((amounts[0][0], amounts[1][0]))))
                if kind == "avg":
                    arguments.append(_keyword("count_include_pad", False))
            return TorchLayer((TorchModule(context.attribute, constructor, tuple(arguments)),), helpers=helpers)
        if kind == "avg":
            stride = literal(_compact(layer.strides))
            module = TorchModule(
                context.attribute, "AvgPool2dSame", (arguments[0], stride, literal(_pad_tuple(amounts)))
            )
            return TorchLayer((module,), helpers=("AvgPool2dSame",))
        fill = "float('-inf')" if kind == "max" else "float('inf')"
        pad = TorchModule(
            context.names.free(f"{context.attribute}_pad"),
            "nn.ConstantPad2d",
            (literal(_pad_tuple(amounts)), fill),
            f"Keras's 'same' padding, of {'-inf' if kind == 'max' else '+inf'} so that it is never picked",
        )
        return TorchLayer((pad, TorchModule(context.attribute, constructor, tuple(arguments))), helpers=helpers)

    return emit


def _global_pool2d(pool: str) -> Callable[[GlobalAvgPool2D | GlobalMaxPool2D, _Context], TorchLayer]:
    def emit(layer: GlobalAvgPool2D | GlobalMaxPool2D, context: _Context) -> TorchLayer:
        if layer.keepdims:
            return TorchLayer((TorchModule(context.attribute, pool, ("1",)),))
        return TorchLayer((TorchModule(context.attribute, "nn.Sequential", (f"{pool}(1)", "nn.Flatten()")),))

    return emit


def _zeropad2d(layer: ZeroPad2D, context: _Context) -> TorchLayer:
    return TorchLayer((TorchModule(context.attribute, "nn.ZeroPad2d", (literal(_pad_tuple(layer.padding)),)),))


def torch_momentum(keras_momentum: float) -> float:
    """Keras's momentum (weight of the old moving average) as PyTorch's (weight of the new batch): 1 - m,
    computed in decimal so that 0.99 gives 0.01 rather than 0.010000000000000009."""
    return float(Decimal(1) - Decimal(repr(keras_momentum)))


# Batch-norm classes by the rank of the input, batch axis left out (channels-last rank == PyTorch rank).
_BATCHNORM_BY_RANK = {1: "nn.BatchNorm1d", 2: "nn.BatchNorm1d", 3: "nn.BatchNorm2d", 4: "nn.BatchNorm3d"}


def _batchnorm(layer: BatchNorm, context: _Context) -> TorchLayer:
    constructor = _BATCHNORM_BY_RANK.get(len(context.input_shape), "BatchNormNd")
    arguments = [
        literal(context.input_shape[-1]),
        _keyword("eps", layer.epsilon),
        _keyword("momentum", torch_momentum(layer.momentum)),
    ]
    adjustments = ()
    if not layer.center and not layer.scale:
        arguments.append(_keyword("affine", False))
    elif not layer.center:
        adjustments = ((f"self.{context.attribute}.bias = None", "center=false: no learned offset (beta)"),)
    elif not layer.scale:
        adjustments = ((f"self.{context.attribute}.weight = None", "scale=false: no learned factor (gamma)"),)
    helpers = ("BatchNormNd",) if constructor == "BatchNormNd" else ()
    return TorchLayer(
        (TorchModule(context.attribute, constructor, tuple(arguments)),), adjustments=adjustments, helpers=helpers
    )


def _dropout(layer: Dropout, context: _Context) -> TorchLayer:
    return TorchLayer((TorchModule(context.attribute, "nn.Dropout", (literal(layer.rate),)),))


def _flatten(layer: Flatten, context: _Context) -> TorchLayer:
    note = "in (C, H, W) order, not Keras's (H, W, C)" if len(context.input_shape) > 1 else None
    return TorchLayer((TorchModule(context.attribute, "nn.Flatten", note=note),))


# Dense on a feature map acts on its channels, position by position: a convolution with a window of 1.
POINTWISE_CONV_BY_RANK = {2: "nn.Conv1d", 3: "nn.Conv2d", 4: "nn.Conv3d"}


def _dense(layer: Dense, context: _Context) -> TorchLayer:
    rank = len(context.input_shape)
    arguments = [literal(context.input_shape[-1]), literal(layer.units)]
    helpers = ()
    if rank == 1:
        constructor = "nn.Linear"
    elif rank in POINTWISE_CONV_BY_RANK:
        constructor = POINTWISE_CONV_BY_RANK[rank]
        arguments.append(_keyword("kernel_size", 1))
    else:
        constructor, helpers = "LinearOnChannels", ("LinearOnChannels",)
    if not layer.use_bias:
        arguments.append(_keyword("bias", False))
    module = TorchModule(context.attribute, constructor, tuple(arguments))
    return TorchLayer((module,), activation=layer.activation, helpers=helpers)


def _activation_layer(layer: ActivationLayer, context: _Context) -> TorchLayer:
    forms = TORCH_ACTIVATIONS[layer.activation]
    helpers = (forms.helper,) if forms.helper else ()
    return TorchLayer((TorchModule(context.attribute, forms.constructor, forms.arguments),), helpers=helpers)


def _inline(function: str, arguments: Sequence[str]) -> str:
    """`function(arg, ...)` on one line, as an argument of another call (an nn.Sequential's parts)."""
    return f"{function}({', '.join(arguments)})"


def _window_padding(layer: DepthwiseConv2D | SeparableConv2D, context: _Context) -> tuple[list[TorchModule], list[str]]:
    """A pad module where Keras's zeros are uneven, else the `padding=` argument (none for no zeros)."""
    amounts = _side_padding(layer.padding, context.input_shape, layer.kernel_size, layer.strides, layer.dilation_rate)
    if not _is_even(amounts):
        pad_attribute = context.names.free(f"{context.attribute}_pad")
        note = _uneven_note(layer.padding)
        return [TorchModule(pad_attribute, "nn.ZeroPad2d", (literal(_pad_tuple(amounts)),), note)], []
    if amounts != ((0, 0), (0, 0)):
        return [], [_keyword("padding", _compact((amounts[0][0], amounts[1][0])))]
    return [], []


def _depthwise_arguments(layer: DepthwiseConv2D | SeparableConv2D, context: _Context, padding: list[str]) -> list[str]:
    """nn.Conv2d's arguments for Keras's depthwise step: one group per input channel."""
    channels = context.input_shape[-1]
    arguments = [literal(channels), literal(channels * layer.depth_multiplier), literal(_compact(layer.kernel_size))]
    if layer.strides != (1, 1):
        arguments.append(_keyword("stride", _compact(layer.strides)))
    arguments.extend(padding)
    if layer.dilation_rate != (1, 1):
        arguments.append(_keyword("dilation", _compact(layer.dilation_rate)))
    arguments.append(_keyword("groups", channels))
    return arguments


def _depthwise_conv2d(layer: DepthwiseConv2D, context: _Context) -> TorchLayer:
    modules, padding = _window_padding(layer, context)
    arguments = _depthwise_arguments(layer, context, padding)
    if not layer.use_bias:
        arguments.append(_keyword("bias", False))
    modules.append(TorchModule(context.attribute, "nn.Conv2d", tuple(arguments)))
    return TorchLayer(tuple(modules), activation=layer.activation)


def _separable_conv2d(layer: SeparableConv2D, context: _Context) -> TorchLayer:
    """A depthwise convolution without bias, then a 1x1 convolution, in one nn.Sequential (both are the layer)."""
    modules, padding = _window_padding(layer, context)
    depthwise = _inline("nn.Conv2d", [*_depthwise_arguments(layer, context, padding), _keyword("bias", False)])
    pointwise = [literal(context.input_shape[-1] * layer.depth_multiplier), literal(layer.filters), literal(1)]
    if not layer.use_bias:
        pointwise.append(_keyword("bias", False))
    modules.append(TorchModule(context.attribute, "nn.Sequential", (depthwise, _inline("nn.Conv2d", pointwise))))
    return TorchLayer(tuple(modules), activation=layer.activation)


def transposed_padding(layer: Conv2DTranspose, input_shape: Shape) -> tuple[Shape, Shape, Shape]:
    """nn.ConvTranspose2d's padding and output_padding that give Keras's output, and what is left to crop from the
    bottom and right (height, width), by `transposed_cropping`. PyTorch cuts `padding` from both ends and adds
    `output_padding` at the end; where Keras cuts one more at the end than at the start, a crop does it."""
    paddings, output_paddings, crops = [], [], []
    output_padding = layer.output_padding or (None, None)
    for size, f, s, d, extra in zip(
        input_shape[:2], layer.kernel_size, layer.strides, layer.dilation_rate, output_padding, strict=True
    ):
        before, after = transposed_cropping(size, f, s, layer.padding, extra, d)
        paddings.append(before)
        output_paddings.append(max(before - after, 0))
        crops.append(max(after - before, 0))
    return tuple(paddings), tuple(output_paddings), tuple(crops)


def _conv2d_transpose(layer: Conv2DTranspose, context: _Context) -> TorchLayer:
    padding, output_padding, crop = transposed_padding(layer, context.input_shape)
    arguments = [literal(context.input_shape[-1]), literal(layer.filters), literal(_compact(layer.kernel_size))]
    if layer.strides != (1, 1):
        arguments.append(_keyword("stride", _compact(layer.strides)))
    if padding != (0, 0):
        arguments.append(_keyword("padding", _compact(padding)))
    if output_padding != (0, 0):
        arguments.append(_keyword("output_padding", _compact(output_padding)))
    if layer.dilation_rate != (1, 1):
        arguments.append(_keyword("dilation", _compact(layer.dilation_rate)))
    if not layer.use_bias:
        arguments.append(_keyword("bias", False))
    if crop == (0, 0):
        return TorchLayer((TorchModule(context.attribute, "nn.ConvTranspose2d", tuple(arguments)),), layer.activation)
    # Negative padding crops: the last rows and columns Keras leaves out.
    cut = _inline("nn.ZeroPad2d", [literal((0, -crop[1], 0, -crop[0]))])
    module = TorchModule(
        context.attribute,
        "nn.Sequential",
        (_inline("nn.ConvTranspose2d", arguments), cut),
        "the zero pad's negative amounts crop the end, as TensorFlow's 'same' does",
    )
    return TorchLayer((module,), activation=layer.activation)


def _upsampling2d(layer: UpSampling2D, context: _Context) -> TorchLayer:
    arguments = [_keyword("scale_factor", _compact(layer.size)), _keyword("mode", layer.interpolation)]
    note = None
    if layer.interpolation == "bilinear":
        # TensorFlow's resize with half-pixel centres, which is align_corners=False.
        arguments.append(_keyword("align_corners", False))
        note = "align_corners=False: half-pixel centres, as TensorFlow's resize"
    return TorchLayer((TorchModule(context.attribute, "nn.Upsample", tuple(arguments), note),))


def _cropping2d(layer: Cropping2D, context: _Context) -> TorchLayer:
    (top, bottom), (left, right) = layer.cropping
    amounts = _pad_tuple(((-top, -bottom), (-left, -right)))
    return TorchLayer(
        (TorchModule(context.attribute, "nn.ZeroPad2d", (literal(amounts),), "negative amounts crop, as Cropping2D"),)
    )


def _reshape(layer: Reshape, context: _Context) -> TorchLayer:
    # The target with its -1 worked out: the layer was checked, so its inference is no Problem.
    shape = layer.infer((context.input_shape,)).output_shape  # type: ignore[union-attr]
    return TorchLayer(
        (TorchModule(context.attribute, "KerasReshape", tuple(literal(d) for d in shape)),), helpers=("KerasReshape",)
    )


def _rescaling(layer: Rescaling, context: _Context) -> TorchLayer:
    arguments = [literal(layer.scale)] + ([_keyword("offset", layer.offset)] if layer.offset != 0.0 else [])
    return TorchLayer((TorchModule(context.attribute, "Rescaling", tuple(arguments)),), helpers=("Rescaling",))


def _normalization(layer: Normalization, context: _Context) -> TorchLayer:
    mean, variance = (v if isinstance(v, tuple) else (v,) for v in (layer.mean, layer.variance))
    module = TorchModule(context.attribute, "Normalization", (literal(mean), literal(variance)))
    return TorchLayer((module,), helpers=("Normalization",))


def _layernorm(layer: LayerNorm, context: _Context) -> TorchLayer:
    constructor = "nn.LayerNorm" if len(context.input_shape) == 1 else "LayerNormOnChannels"
    arguments = [literal(context.input_shape[-1]), _keyword("eps", layer.epsilon)]
    adjustments = ()
    if not layer.center and not layer.scale:
        arguments.append(_keyword("elementwise_affine", False))
    elif not layer.center:
        arguments.append(_keyword("bias", False))
    elif not layer.scale:
        adjustments = ((f"self.{context.attribute}.weight = None", "scale=false: no learned factor (gamma)"),)
    helpers = ("LayerNormOnChannels",) if constructor == "LayerNormOnChannels" else ()
    module = TorchModule(context.attribute, constructor, tuple(arguments))
    return TorchLayer((module,), adjustments=adjustments, helpers=helpers)


def _relu(layer: ReLU, context: _Context) -> TorchLayer:
    slope, threshold, top = layer.negative_slope, layer.threshold, layer.max_value
    if threshold == 0.0 and slope == 0.0 and top is None:
        module = TorchModule(context.attribute, "nn.ReLU")
    elif threshold == 0.0 and slope == 0.0 and top == 6.0:
        module = TorchModule(context.attribute, "nn.ReLU6")
    elif threshold == 0.0 and slope == 0.0:
        module = TorchModule(context.attribute, "nn.Hardtanh", (literal(0.0), literal(top)))
    elif threshold == 0.0 and top is None:
        module = TorchModule(context.attribute, "nn.LeakyReLU", (literal(slope),))
    else:
        arguments = (literal(top), literal(slope), literal(threshold))
        return TorchLayer((TorchModule(context.attribute, "KerasReLU", arguments),), helpers=("KerasReLU",))
    return TorchLayer((module,))


TORCH_EMITTERS: dict[type[LayerBase], Callable] = {
    Conv2D: _conv2d,
    MaxPool2D: _pool2d("max"),
    AvgPool2D: _pool2d("avg"),
    MinPool2D: _pool2d("min"),
    GlobalAvgPool2D: _global_pool2d("nn.AdaptiveAvgPool2d"),
    GlobalMaxPool2D: _global_pool2d("nn.AdaptiveMaxPool2d"),
    ZeroPad2D: _zeropad2d,
    BatchNorm: _batchnorm,
    Dropout: _dropout,
    Flatten: _flatten,
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


def torch_layer(layer_report: LayerReport, attribute: str, names: FreeNames | None = None) -> TorchLayer:
    """The PyTorch modules, in order, that compute one checked specc layer."""
    emitter = TORCH_EMITTERS.get(type(layer_report.layer))
    if emitter is None:
        raise NotImplementedError(f"the PyTorch backend cannot emit layer kind `{layer_report.layer.kind}`")
    context = _Context(layer_report.input_shape, attribute, names or FreeNames({attribute}))
    return emitter(layer_report.layer, context)


def _camel_case(name: str) -> str:
    """`my_net` -> `MyNet`; a name that would not start with a letter gets `Model` in front (`_0` -> `Model0`)."""
    parts = [part for part in name.split("_") if part]
    camel = "".join(part[0].upper() + part[1:] for part in parts)
    return camel if camel[:1].isalpha() else f"Model{camel}"


def model_class_names(reports: Sequence[ModelReport]) -> dict[str, str]:
    """Each model's class name: its name in CamelCase, made unique and kept clear of the module's other names."""
    names = FreeNames(set(MODULE_NAMES))
    classes = {}
    for report in reports:
        wanted = _camel_case(report.model.name)
        if keyword.iskeyword(wanted) or keyword.issoftkeyword(wanted) or wanted in names.taken:
            wanted += "Model"
        classes[report.model.name] = identifier(names.free(wanted))
    return classes


def _model_docstring(report: ModelReport) -> list[str]:
    model = report.model
    if model.input_shape is None or report.output_shape is None:
        return [f'"""Model {word(model.name)}."""']
    torch_input = ", ".join(str(d) for d in ("N", *channels_first(model.input_shape)))
    torch_output = ", ".join(str(d) for d in ("N", *channels_first(report.output_shape)))
    statistics = report.non_trainable_params
    extra = f", plus {statistics:,} batch-norm running statistics" if statistics else ""
    return [
        f'"""Model {word(model.name)}: ({torch_input}) -> ({torch_output}); '
        f"{report.trainable_params:,} parameters{extra}.",
        "",
        f"In the spec's channels-last order, as Keras writes it: {format_shape(model.input_shape)} -> "
        f"{format_shape(report.output_shape)}, {report.total_params:,} parameters.",
        '"""',
    ]


def _emit_model(
    writer: SourceWriter, report: ModelReport, class_name: str, label: str, layers: list[tuple[LayerReport, TorchLayer]]
) -> None:
    model = report.model
    writer.line(f"class {class_name}(nn.Module):")
    writer.indent()
    for docstring_line in _model_docstring(report):
        writer.line(docstring_line)
    writer.line()
    input_shape = channels_first(model.input_shape or ())
    writer.line(f"INPUT_SHAPE = {literal(input_shape)}", comment="one example, channels-first")
    writer.line()
    writer.line("def __init__(self) -> None:")
    writer.indent()
    writer.line("super().__init__()")
    for layer_report, emitted in layers:
        where = f"{label}:{layer_report.layer.span.line}"
        for module in emitted.modules:
            comment = f"{where}: {module.note}" if module.note else where
            writer.lines(
                call(f"self.{module.attribute} = {module.constructor}", module.arguments, indent=2), comment=comment
            )
        for line, reason in emitted.adjustments:
            writer.line(line, comment=f"{where}: {reason}")
    writer.dedent()
    writer.line()
    writer.line("def forward(self, x: torch.Tensor) -> torch.Tensor:")
    writer.indent()
    for layer_report, emitted in layers:
        where = f"{label}:{layer_report.layer.span.line}"
        for index, module in enumerate(emitted.modules):
            applied = f"self.{module.attribute}(x)"
            if index == len(emitted.modules) - 1:
                applied = TORCH_ACTIVATIONS[emitted.activation].function.format(applied)
            writer.line(f"x = {applied}", comment=where)
    writer.line("return x")
    writer.dedent()
    writer.dedent()


def emit_torch(reports: Sequence[ModelReport], source_path: str) -> str:
    """A Python module that defines every model of a checked spec as a PyTorch nn.Module.

    `source_path` is the spec's path as the user gave it; it appears only in comments, plainly
    when it is made of ordinary path characters, by repr() otherwise.
    """
    label = source_label(source_path)
    class_names = model_class_names(reports)
    emitted_models = []
    helpers: set[str] = set()
    for report in reports:
        attributes = torch_attribute_names(report.model)
        names = FreeNames({layer.name for layer in report.model.layers} | set(attributes.values()))
        layers = []
        for layer_report in report.layers:
            emitted = torch_layer(layer_report, attributes[layer_report.layer.name], names)
            helpers.update(emitted.helpers)
            layers.append((layer_report, emitted))
        emitted_models.append((report, layers))
    uses_functional = any("F." in HELPER_CLASSES[helper] for helper in helpers) or any(
        TORCH_ACTIVATIONS[emitted.activation].function.startswith("F.")
        for _, layers in emitted_models
        for _, emitted in layers
    )

    writer = SourceWriter()
    write_header(
        writer,
        source_path,
        "torch",
        "PyTorch modules generated from a specc spec: one nn.Module per model, and MODELS by name.\n\n"
        "Inputs are channels-first, (N, C, H, W). Each model computes what the Keras build of the same spec\n"
        "computes; specc.backends.transfer copies weights between the two.\n",
    )
    writer.line()
    writer.line("import torch")
    if uses_functional:
        writer.line("import torch.nn.functional as F")
    writer.line("from torch import nn")
    for helper in HELPER_CLASSES:
        if helper in helpers:
            writer.line()
            writer.line()
            for source_line in HELPER_CLASSES[helper].splitlines():
                writer.line(source_line)
    for report, layers in emitted_models:
        writer.line()
        writer.line()
        _emit_model(writer, report, class_names[report.model.name], label, layers)
    writer.line()
    writer.line()
    write_models_table(writer, [(r.model.name, class_names[r.model.name]) for r in reports])
    writer.line()
    writer.line("if __name__ == '__main__':")
    writer.indent()
    writer.line("for model_class in MODELS.values():")
    writer.indent()
    writer.line("model = model_class().eval()")
    writer.line("print(model)")
    writer.line("with torch.no_grad():")
    writer.indent()
    writer.line("output = model(torch.zeros(1, *model_class.INPUT_SHAPE))")
    writer.dedent()
    writer.line("print('output shape:', tuple(output.shape))")
    writer.line("trainable = sum(p.numel() for p in model.parameters())")
    writer.line("# Batch norm's running statistics: buffers here, the non-trainable parameters of Keras and specc.")
    writer.line("statistics = sum(b.numel() for b in model.buffers() if b.is_floating_point())")
    writer.line("total = trainable + statistics")
    writer.line("print(f'parameters: {total:,} ({trainable:,} trainable, {statistics:,} non-trainable, in buffers)')")
    writer.dedent()
    writer.dedent()
    return writer.text()
