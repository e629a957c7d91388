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

A straight stack's `forward` passes one `x` down its layers. Any other model is a graph: `forward` takes
one argument per input, holds each layer's value in a local named after the layer, computes merges as
Keras's merge layers do (broadcasting included), and returns its outputs, a tuple of several. Each
block is one nn.Module class, instantiated once per use (repetitions in an nn.Sequential); literals
that differ between uses are its constructor's parameters (`_GraphEmission`). Only layers that reach
an output are emitted, as Keras's Model keeps only those; `torch_layout` says where each one is.

Layers are attributes named as in the spec, unless the name is taken by nn.Module itself (`forward`,
`eval`, `_modules`...), is a Python keyword or starts with two underscores: then `torch_attribute_names` gives
`<name>_layer`. This module
imports no framework: it only writes text.
"""

from __future__ import annotations

import keyword
import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from specc.arithmetic import AxisPadding, same_padding_amounts, transposed_cropping
from specc.backends.python_source import (
    IDENTIFIER,
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
from specc.backends.torch_augmentation import AUGMENTATION_HELPER, is_augmentation, kornia_augmentation
from specc.backends.torch_backbones import (
    backbone_class_name,
    backbone_class_title,
    freezing,
    write_frozen_batchnorm_mode,
    write_loaders,
)
from specc.backends.torch_module_names import NN_MODULE_ATTRIBUTES
from specc.backends.torch_training import (
    CLASS_LOSSES,
    PROBABILITIES,
    STANDARD_IMPORTS,
    TORCH_IMPORTS,
    TRAINING_ATTRIBUTES,
    TRAINING_HELPERS,
    check_trainable,
    logits_report,
    taken_activation,
    training_helpers,
    write_training_members,
    write_training_script,
)
from specc.check import LayerReport, ModelReport
from specc.ir import Model
from specc.layers import (
    ActivationLayer,
    Add,
    Average,
    AvgPool2D,
    BatchNorm,
    Concat,
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
    Maximum,
    MaxPool2D,
    Minimum,
    MinPool2D,
    Multiply,
    Normalization,
    Problem,
    RandomBrightness,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    ReLU,
    Rescaling,
    Reshape,
    ScaledAdd,
    SeparableConv2D,
    Shape,
    Subtract,
    UpSampling2D,
    ZeroPad2D,
    format_shape,
    keras_auto_name,
)

# Names nn.Module has itself (derived from torch, private ones included: see torch_module_names), and the
# class attribute specc adds; a submodule under one of these would be shadowed or would break the module.
RESERVED_ATTRIBUTES = NN_MODULE_ATTRIBUTES | {"INPUT_SHAPE", "INPUT_SHAPES"}

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
    "FlattenChannelsLast": '''\
class FlattenChannelsLast(nn.Flatten):
    """Flatten in Keras's (H, W, C) order: for features that meet another value in a merge, whose order
    copying weights cannot change."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.movedim(1, -1))''',
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
    "AdaptedNormalization": '''\
class AdaptedNormalization(nn.Module):
    """Keras's Normalization with its statistics as weights (set by adapt, or loaded with a trained model):
    buffers, none trained; (x - mean) / max(sqrt(variance), 1e-7) per channel, as Keras computes it."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer('mean', torch.zeros(channels))
        self.register_buffer('variance', torch.ones(channels))
        self.register_buffer('count', torch.zeros((), dtype=torch.int64))  # kept by Keras, used by neither

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        view = (-1, *(1,) * (x.dim() - 2))  # along the channels, axis 1
        return (x - self.mean.view(view)) / self.variance.view(view).sqrt().clamp_min(1e-7)''',
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
    "Augmentation": AUGMENTATION_HELPER,
}
MODULE_NAMES = frozenset({"torch", "nn", "F", "K", "MODELS", *HELPER_CLASSES})
# What a module with a training section defines besides (see torch_training): no model class may take these names.
TRAINING_NAMES = frozenset(
    {
        *("argparse", "math", "os", "sys", "time", "Path", "dist", "DistributedDataParallel", "DataLoader"),
        *("Dataset", "DistributedSampler", "Subset", "TensorDataset", "K", "TRAINED", "IMAGE_SUFFIXES", "COLOR_MODES"),
        *("DataError", "ImageFolder", "Data", "Watch", "targets_of", "class_count", "check_classes", "split"),
        *("read_folder", "images_of", "read_arrays", "read_data", "start_processes", "batch_sums", "logs_of"),
        *("evaluate", "show", "progress", "train", "main", "Augmentation", *TRAINING_HELPERS),
    }
)


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
    # A model with a training section has its settings and methods (probabilities, optimizer...) too.
    reserved = RESERVED_ATTRIBUTES | (TRAINING_ATTRIBUTES if model.training is not None else frozenset())
    attributes = {}
    for layer in model.layers:
        usable = not (
            layer.name in reserved
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
    # A merge has no module: forward computes it from its operands, `{0}`, `{1}`... in this expression.
    expression: str | None = None


@dataclass(frozen=True)
class _Context:
    """What an emitter needs beyond the layer: its input shape (channels-last), its attribute, free names.

    `input_shapes` are every operand's shape (a merge has several). `explicit_padding` asks for padding as
    a pad module even where the layer's own `padding=` could say it: a block class whose uses pad unevenly
    in some uses and evenly in others then has the same modules in every use, the amounts as a parameter.
    """

    input_shape: Shape
    attribute: str
    names: FreeNames
    input_shapes: tuple[Shape, ...] = ()
    explicit_padding: bool = False


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
    if not _is_even(amounts) or context.explicit_padding:
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
        if _is_even(amounts) and not context.explicit_padding:
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
    # correct_pad's amounts, worked out for this input, are written as the amounts they are.
    amounts = _pad_tuple(layer.padding_for(context.input_shape))
    return TorchLayer((TorchModule(context.attribute, "nn.ZeroPad2d", (literal(amounts),)),))


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
    if layer.mean is None or layer.variance is None:  # the statistics are weights: buffers here
        module = TorchModule(context.attribute, "AdaptedNormalization", (literal(context.input_shape[-1]),))
        return TorchLayer((module,), helpers=("AdaptedNormalization",))
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


def _broadcast(index: int, shape: Shape, rank: int) -> str:
    """Operand `index` of a merge as PyTorch must read it to broadcast as Keras does. Keras lines shapes up
    from the last axis, channels-last, and gives a lower-rank operand new axes right after the batch axis:
    a (C,) vector against (H, W, C) is (1, 1, C). Channels-first, that is (C, 1, 1): the new axes go after
    the channels, which `[:, :, None, None]` inserts. Operands of the full rank broadcast alike in both."""
    missing = rank - len(shape)
    if missing == 0:
        return f"{{{index}}}"
    return f"{{{index}}}[:, :, {', '.join(['None'] * missing)}]"


def _chained(function: str, operands: Sequence[str]) -> str:
    """`function(function(a, b), c)`: a two-operand function applied from the left, as Keras's merges fold."""
    expression = operands[0]
    for operand in operands[1:]:
        expression = f"{function}({expression}, {operand})"
    return expression


# Keras's element-wise merges, folded from the left over their (broadcast) operands as Keras computes them.
_ELEMENTWISE: dict[type[LayerBase], Callable[[list[str]], str]] = {
    Add: lambda operands: " + ".join(operands),
    Subtract: lambda operands: " - ".join(operands),
    Multiply: lambda operands: " * ".join(operands),
    Average: lambda operands: f"({' + '.join(operands)}) / {len(operands)}",
    Maximum: lambda operands: _chained("torch.maximum", operands),
    Minimum: lambda operands: _chained("torch.minimum", operands),
}


def _elementwise_merge(layer: LayerBase, context: _Context) -> TorchLayer:
    shapes = context.input_shapes or (context.input_shape,)
    rank = max(len(shape) for shape in shapes)
    operands = [_broadcast(index, shape, rank) for index, shape in enumerate(shapes)]
    return TorchLayer((), expression=_ELEMENTWISE[type(layer)](operands))


def _scaled_add(layer: ScaledAdd, context: _Context) -> TorchLayer:
    """keras.applications' CustomScaleLayer: the first operand plus the second times the scale."""
    shapes = context.input_shapes or (context.input_shape,)
    rank = max(len(shape) for shape in shapes)
    first, second = (_broadcast(index, shape, rank) for index, shape in enumerate(shapes))
    return TorchLayer((), expression=f"{first} + {second} * {literal(layer.scale)}")


def torch_dim(keras_axis: int, rank: int) -> int:
    """The PyTorch dimension of a Keras axis (batch 0, channels last) of a tensor of `rank` axes besides the
    batch: the channels are dim 1, and the other axes follow them."""
    index = (keras_axis if keras_axis < 0 else keras_axis - 1) % rank
    if rank == 1:
        return 1
    return 1 if index == rank - 1 else index + 2


def _concat(layer: Concat, context: _Context) -> TorchLayer:
    shapes = context.input_shapes or (context.input_shape,)
    operands = ", ".join(f"{{{index}}}" for index in range(len(shapes)))
    return TorchLayer((), expression=f"torch.cat([{operands}], dim={torch_dim(layer.axis, len(shapes[0]))})")


def _augmentation(layer: LayerBase, context: _Context) -> TorchLayer:
    """A Keras random preprocessing layer: a kornia augmentation (torch_augmentation), in training only."""
    arguments, note = kornia_augmentation(layer)
    return TorchLayer((TorchModule(context.attribute, "Augmentation", arguments, note),), helpers=("Augmentation",))


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
    Add: _elementwise_merge,
    Subtract: _elementwise_merge,
    Multiply: _elementwise_merge,
    Average: _elementwise_merge,
    Maximum: _elementwise_merge,
    Minimum: _elementwise_merge,
    ScaledAdd: _scaled_add,
    Concat: _concat,
    **{kind: _augmentation for kind in (RandomFlip, RandomRotation, RandomZoom, RandomTranslation)},
    **{kind: _augmentation for kind in (RandomContrast, RandomBrightness)},
}


def torch_layer(
    layer_report: LayerReport, attribute: str, names: FreeNames | None = None, explicit_padding: bool = False
) -> TorchLayer:
    """The PyTorch modules, in order, that compute one checked specc layer."""
    emitter = TORCH_EMITTERS.get(type(layer_report.layer))
    if emitter is None:
        raise NotImplementedError(f"the PyTorch backend cannot emit layer kind `{layer_report.layer.kind}`")
    context = _Context(
        layer_report.input_shape,
        attribute,
        names or FreeNames({attribute}),
        input_shapes=layer_report.input_shapes,
        explicit_padding=explicit_padding,
    )
    layer = layer_report.layer
    emitted = emitter(layer, context)
    if layer.trainable or not emitted.modules:
        return emitted
    # Frozen: its parameters are not trained, as with Keras's trainable=False. Only a layer that has weights Keras
    # would train has parameters to freeze (normalization's statistics are buffers, never trained).
    unfrozen = layer.model_copy(update={"trainable": True}).infer(layer_report.input_shapes)
    if isinstance(unfrozen, Problem) or not unfrozen.trainable_params:
        return emitted
    frozen = (f"self.{context.attribute}.requires_grad_(False)", "trainable=false: frozen, not trained")
    return replace(emitted, adjustments=(*emitted.adjustments, frozen))


def _camel_case(name: str) -> str:
    """`my_net` -> `MyNet`; a name that would not start with a letter gets `Model` in front (`_0` -> `Model0`)."""
    parts = [part for part in name.split("_") if part]
    camel = "".join(part[0].upper() + part[1:] for part in parts)
    return camel if camel[:1].isalpha() else f"Model{camel}"


def module_names(reports: Sequence[ModelReport]) -> set[str]:
    """The names the module defines itself: a model's or a block's class never takes one."""
    trained = any(report.model.training is not None for report in reports)
    return set(MODULE_NAMES) | (set(TRAINING_NAMES) if trained else set())


def model_class_names(reports: Sequence[ModelReport]) -> dict[str, str]:
    """Each model's class name: its name in CamelCase, made unique and kept clear of the module's other names."""
    names = FreeNames(module_names(reports))
    classes = {}
    for report in reports:
        wanted = _camel_case(report.model.name)
        if keyword.iskeyword(wanted) or keyword.issoftkeyword(wanted) or wanted in names.taken:
            wanted += "Model"
        classes[report.model.name] = identifier(names.free(wanted))
    return classes


def _shapes_text(shapes: Sequence[Shape], order: Callable[[Shape], Shape]) -> str:
    return ", ".join("(" + ", ".join(str(d) for d in ("N", *order(shape))) + ")" for shape in shapes)


def _model_docstring(report: ModelReport) -> list[str]:
    model = report.model
    if model.input_shape is None or report.output_shape is None:
        return [f'"""Model {word(model.name)}."""']
    statistics = report.non_trainable_params
    # Batch norm's running statistics are the usual non-trainable weights; frozen layers and normalization's
    # statistics are others.
    only_batchnorm = all(
        r.layer.trainable and not (isinstance(r.layer, Normalization) and r.layer.mean is None) for r in report.counted
    )
    what = "batch-norm running statistics" if only_batchnorm else "non-trainable"
    extra = f", plus {statistics:,} {what}" if statistics else ""
    output_shapes = report.output_shapes or ()
    if len(model.inputs) == 1 and len(output_shapes) == 1:
        torch_input = _shapes_text([model.input_shape], channels_first)
        torch_output = _shapes_text([report.output_shape], channels_first)
        keras_input, keras_output = format_shape(model.input_shape), format_shape(report.output_shape)
    else:
        input_shapes = [i.shape for i in model.inputs]
        torch_input, torch_output = (
            _shapes_text(input_shapes, channels_first),
            _shapes_text(output_shapes, channels_first),
        )
        keras_input = ", ".join(format_shape(shape) for shape in input_shapes)
        keras_output = ", ".join(format_shape(shape) for shape in output_shapes)
        torch_input, torch_output = f"[{torch_input}]", f"[{torch_output}]"
        keras_input, keras_output = f"[{keras_input}]", f"[{keras_output}]"
    built_for = report.input_sizes.built_for() if report.input_sizes is not None else ()
    return [
        f'"""Model {word(model.name)}: {torch_input} -> {torch_output}; {report.trainable_params:,} parameters{extra}.',
        "",
        f"In the spec's channels-last order, as Keras writes it: {keras_input} -> "
        f"{keras_output}, {report.total_params:,} parameters.",
        *(["", *built_for] if built_for else []),
        '"""',
    ]


def _emit_stack(
    writer: SourceWriter,
    report: ModelReport,
    class_name: str,
    label: str,
    layers: list[tuple[LayerReport, TorchLayer]],
    several_inputs: bool = False,
    trained: ModelReport | None = None,
) -> None:
    """A straight stack (one input, each layer reading the one before, the last one output): `forward` passes
    one `x` down the layers, as a person writes a sequential model."""
    model = report.model
    writer.line(f"class {class_name}(nn.Module):")
    writer.indent()
    for docstring_line in _model_docstring(report):
        writer.line(docstring_line)
    writer.line()
    input_shape = channels_first(model.input_shape or ())
    writer.line(f"INPUT_SHAPE = {literal(input_shape)}", comment="one example, channels-first")
    if several_inputs:  # another model of the module has several: `__main__` reads every model's INPUT_SHAPES
        _write_input_shapes(writer, report)
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
    if trained is not None:  # the report as the spec has it: the training code needs the output's activation
        write_training_members(writer, trained, label)
    writer.dedent()


def is_straight_stack(report: ModelReport) -> bool:
    """One input, no blocks, each layer reading the one before it and the last one (or nothing) output: the
    models `forward` writes as one `x` passed down, as specc always emitted them."""
    model = report.model
    if len(model.inputs) != 1 or model.block_uses or len(report.layers) != len(model.layers):
        return False
    previous = model.inputs[0].name
    for layer_report in report.layers:
        if layer_report.layer.inputs != (previous,):
            return False
        previous = layer_report.layer.name
    return model.outputs in ((previous,), ())


# --- graphs: a local per value in forward, a block an nn.Module class -------------------------------------------

# Layers that keep the order of a vector's features (element by element, or a flatten of a vector).
_ORDER_KEEPING = (BatchNorm, Dropout, ActivationLayer, Flatten)


def _needs_keras_order(layer: LayerBase) -> bool:
    """Whether a layer reading flattened features needs them in Keras's order: a merge meets them with a value
    in that order, a reshape gives them back a shape, and normalization has one statistic per feature. What
    reads them by weights (dense) has its weights reordered instead."""
    if layer.arity is None or isinstance(layer, Reshape):
        return True
    return isinstance(layer, Normalization) and any(
        isinstance(statistic, tuple) and len(statistic) > 1 for statistic in (layer.mean, layer.variance)
    )


def _flatten_in_keras_order(attribute: str) -> TorchLayer:
    """A flatten in Keras's (H, W, C) order, for features that must keep it (see flattens_in_keras_order)."""
    return TorchLayer((TorchModule(attribute, "FlattenChannelsLast"),), helpers=("FlattenChannelsLast",))


def flattens_in_keras_order(report: ModelReport) -> frozenset[str]:
    """The flatten layers of a map whose features reach a merge, a reshape or per-feature normalization
    (through layers that keep their order; see _needs_keras_order). Elsewhere a flatten is nn.Flatten,
    channels-first, and specc.backends.transfer reorders the weights that read it; these flatten in Keras's
    order instead."""
    readers: dict[str, list[LayerReport]] = {}
    for layer_report in report.layers:
        for name in layer_report.layer.inputs:
            readers.setdefault(name, []).append(layer_report)
    found = set()
    for layer_report in report.layers:
        if not isinstance(layer_report.layer, Flatten) or len(layer_report.input_shape) < 2:
            continue
        pending, seen = [layer_report.layer.name], set()
        while pending:
            name = pending.pop()
            for reader in readers.get(name, ()):
                if _needs_keras_order(reader.layer):
                    found.add(layer_report.layer.name)
                elif isinstance(reader.layer, _ORDER_KEEPING) and reader.layer.name not in seen:
                    seen.add(reader.layer.name)
                    pending.append(reader.layer.name)
    return frozenset(found)


# Names the emitted methods use, which no local or block parameter may shadow.
RESERVED_LOCALS = frozenset({"self", "torch", "nn", "F", "super", "float", *keyword.kwlist, *keyword.softkwlist})


def python_name(name: str) -> str:
    """A spec name as a readable Python identifier: itself when it is one; else its leading numbers move to the
    end (`1_conv` -> `conv_1`, as Keras's ResNet names read), and a name of numbers only gets `layer_` first."""
    if IDENTIFIER.match(name):
        return name
    parts = name.split("_")
    numbers = []
    while parts and parts[0][:1].isdigit():
        numbers.append(parts.pop(0))
    words = [part for part in parts if part]
    return "_".join(words + numbers) if words else "layer_" + "_".join(numbers)


def _relative_names(statements: list[tuple[str, object]], prefix: str) -> dict[str, str]:
    """Each layer's name inside its block use: what follows the use's `prefix`, or, for a layer the spec left
    unnamed (Keras names those model-wide: `conv2d_7`) or named whole from the use, its Keras name stem
    numbered within the body (`conv2d`, `conv2d_1`), the same in every use, so that uses share one class."""
    counts: Counter[str] = Counter()
    names = {}
    for kind, item in statements:
        if kind != "layer":
            continue
        layer = item.layer  # type: ignore[attr-defined]
        if prefix and layer.name.startswith(prefix):
            names[layer.name] = layer.name[len(prefix) :]
            continue
        if not prefix:
            names[layer.name] = layer.name
            continue
        stem = keras_auto_name(type(layer))
        names[layer.name] = stem if counts[stem] == 0 else f"{stem}_{counts[stem]}"
        counts[stem] += 1
    return names


def _usable_attribute(name: str) -> bool:
    return not (
        name in RESERVED_ATTRIBUTES or name.startswith("__") or keyword.iskeyword(name) or keyword.issoftkeyword(name)
    )


@dataclass(frozen=True)
class LayerPlace:
    """Where a spec layer is in the emitted module. `module`: the dotted path of its submodule (None for a merge,
    which is arithmetic in forward); `owner`: the path of the module whose forward computes it ('' for the
    model itself); `local`: the variable holding its value in that forward (None in a straight stack, where
    every value is `x`)."""

    module: str | None
    owner: str
    local: str | None


@dataclass(frozen=True)
class _Line:
    """One statement of a forward and the modules `__init__` makes for it: a layer's, or a block use's instance.
    `group` names the nn.Sequential holding the instances of a repeated use (one module per repetition)."""

    forward: str
    where: str
    modules: tuple[TorchModule, ...] = ()
    adjustments: tuple[tuple[str, str], ...] = ()
    group: str | None = None
    # The layer's name inside its block use (`1_conv`), for the layers whose padding a block makes explicit.
    layer: str | None = None


@dataclass
class _Body:
    """A forward (its parameters, statements and returned locals) and where each layer computed in it is."""

    arguments: tuple[str, ...]
    lines: list[_Line]
    returns: tuple[str, ...]
    places: dict[str, LayerPlace]
    helpers: set[str]


@dataclass(frozen=True)
class _Instance:
    """A block use, as its parent's `__init__` makes it: its class and keyword arguments, and its layers' places."""

    module: TorchModule
    places: dict[str, LayerPlace]


_OUTSIDE = -1

# The positional arguments of the constructors emitters write, by name: what a block class's parameter is
# called when uses differ in one and no block parameter matches it.
_POSITIONAL_NAMES: dict[str, tuple[str, ...]] = {
    **{f"nn.Conv{n}d": ("in_channels", "out_channels", "kernel_size") for n in (1, 2, 3)},
    **{f"nn.ConvTranspose{n}d": ("in_channels", "out_channels", "kernel_size") for n in (1, 2, 3)},
    "nn.Linear": ("in_features", "out_features"),
    "LinearOnChannels": ("in_features", "out_features"),
    **{f"nn.BatchNorm{n}d": ("num_features",) for n in (1, 2, 3)},
    "BatchNormNd": ("num_features",),
    "nn.ZeroPad2d": ("padding",),
    "nn.ConstantPad2d": ("padding", "value"),
    "nn.MaxPool2d": ("kernel_size",),
    "nn.AvgPool2d": ("kernel_size",),
    "MinPool2d": ("kernel_size",),
    "AvgPool2dSame": ("kernel_size", "stride", "padding"),
    "nn.Dropout": ("p",),
}

# PyTorch's defaults for keywords the emitters leave out when they are the default. When one use of a block
# writes a keyword that another leaves out, the class passes it in every use (a pool's stride None is its size).
_CONV_DEFAULTS = {"stride": "1", "padding": "0", "dilation": "1", "bias": "True"}
_POOL_DEFAULTS = {"stride": "None", "padding": "0"}
_TORCH_DEFAULTS: dict[str, dict[str, str]] = {
    **{f"nn.Conv{n}d": _CONV_DEFAULTS for n in (1, 2, 3)},
    "nn.Linear": {"bias": "True"},
    "LinearOnChannels": {"bias": "True"},
    "nn.MaxPool2d": _POOL_DEFAULTS,
    "MinPool2d": _POOL_DEFAULTS,
    "nn.AvgPool2d": {**_POOL_DEFAULTS, "count_include_pad": "True"},
}

_KEYWORD_ARGUMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z", re.DOTALL)


def _split_argument(argument: str) -> tuple[str | None, str]:
    """`stride=2` -> ('stride', '2'); `16` -> (None, '16')."""
    match = _KEYWORD_ARGUMENT.match(argument)
    return (match.group(1), match.group(2)) if match else (None, argument)


def _structure(body: _Body) -> tuple:
    """What must be the same in two uses of a block for one class to serve both: everything but argument values."""
    return (
        body.arguments,
        body.returns,
        tuple(
            (
                line.forward,
                line.group,
                line.adjustments,
                tuple(
                    (
                        module.attribute,
                        module.constructor,
                        module.note,
                        *(_split_argument(a)[0] for a in module.arguments),
                    )
                    for module in line.modules
                ),
            )
            for line in body.lines
        ),
    )


def _modules_of(line: _Line) -> tuple:
    return tuple((module.attribute, module.constructor) for module in line.modules)


def _with_defaults(bodies: list[_Body]) -> list[_Body]:
    """Where uses differ in which keywords a module writes, each writes every one of them, with PyTorch's default
    where it left it out (so that the value can be a parameter of the class)."""
    if len({len(body.lines) for body in bodies}) != 1:
        return bodies
    for index in range(len(bodies[0].lines)):
        if len({_modules_of(body.lines[index]) for body in bodies}) != 1:
            continue
        for position, module in enumerate(bodies[0].lines[index].modules):
            defaults = _TORCH_DEFAULTS.get(module.constructor)
            written = [
                dict(_split_argument(a) for a in body.lines[index].modules[position].arguments) for body in bodies
            ]
            keywords = list(dict.fromkeys(key for arguments in written for key in arguments if key is not None))
            if all(set(arguments) == set(written[0]) for arguments in written):
                continue
            if defaults is None or not all(key in defaults for key in keywords):
                continue
            for body in bodies:
                line = body.lines[index]
                old = line.modules[position]
                positional = [a for a in old.arguments if _split_argument(a)[0] is None]
                given = dict(_split_argument(a) for a in old.arguments)
                filled = [f"{key}={given.get(key, defaults[key])}" for key in keywords]
                new = TorchModule(old.attribute, old.constructor, (*positional, *filled), old.note)
                modules = (*line.modules[:position], new, *line.modules[position + 1 :])
                body.lines[index] = _Line(line.forward, line.where, modules, line.adjustments, line.group, line.layer)
    return bodies


class _GraphEmission:
    """The class of every block of a spec and the forward of every model, planned together: a block's class is
    made from all its uses in every model of the file, so that it is defined once.

    For each use, the block's statements are emitted as a model's would be (constructors and literal
    arguments, from that use's shapes). Literals equal in every use stay literals in the class; those that
    differ become its constructor's parameters, named after the block parameter whose argument they equal in
    every use (`filters`, `strides`), else after the constructor's own argument (`in_channels`), and each use
    passes its values. Uses whose modules differ otherwise get a class of their own (a variant, said so in
    its docstring)."""

    def __init__(self, reports: Sequence[ModelReport], label: str, taken: set[str]) -> None:
        self.label = label
        self.class_names = FreeNames(set(taken))
        self.classes: list[tuple[str, list[str]]] = []  # (name, source lines), inner blocks first
        self.instances: dict[tuple[int, int], _Instance] = {}
        self.helpers: set[str] = set()
        self.functional = False
        self.reachable: dict[int, list[LayerReport]] = {}
        self.members: dict[int, dict[int, int]] = {}  # report -> use -> number of reachable layers in it
        self.uses: dict[str, list[tuple[ModelReport, int]]] = {}
        self.keras_order_flattens: dict[int, frozenset[str]] = {}
        for report in reports:
            model = report.model
            layers = [r for r in report.layers if r.layer.name in report.reachable]
            self.reachable[id(report)] = layers
            counts: dict[int, int] = {}
            for layer_report in layers:
                scope = layer_report.layer.scope
                while scope is not None:
                    counts[scope] = counts.get(scope, 0) + 1
                    scope = model.block_uses[scope].parent
            self.members[id(report)] = counts
            self.keras_order_flattens[id(report)] = flattens_in_keras_order(report)
            for index in sorted(counts):
                self.uses.setdefault(model.block_uses[index].block, []).append((report, index))

    # --- one forward ---

    def body(self, report: ModelReport, scope: int | None, explicit: frozenset[str] = frozenset()) -> _Body:
        """The forward of the model (scope None) or of one block use, with the layers named in `explicit`
        (relative names) padding with a module."""
        model = report.model
        locals_ = FreeNames(set(RESERVED_LOCALS))
        local_of: dict[str, str] = {}
        if scope is None:
            arguments = tuple(locals_.free(python_name(i.name)) for i in model.inputs)
            for model_input, argument in zip(model.inputs, arguments, strict=True):
                local_of[model_input.name] = argument
            prefix = ""
            model_attributes = torch_attribute_names(model)
            attributes = FreeNames({layer.name for layer in model.layers} | set(model_attributes.values()))
        else:
            use = model.block_uses[scope]
            count = len(use.inputs)
            if count == 1:
                arguments: tuple[str, ...] = ("x",)
            elif len(use.input_names) == count:
                # The names the block's own `name = input` lines give what it reads.
                arguments = tuple(locals_.free(python_name(name)) for name in use.input_names)
            else:
                arguments = tuple(f"x_{i}" for i in range(1, count + 1))
            locals_.taken.update(arguments)
            for name, argument in zip(use.inputs, arguments, strict=True):
                local_of.setdefault(name, argument)
            prefix = use.name + "_"
            model_attributes = {}
            attributes = FreeNames(set())
        # Each statement's attribute first, so that a pad module's generated name never takes one.
        statements: list[tuple[str, object]] = []
        seen_children: set[int] = set()
        for layer_report in self.reachable[id(report)]:
            child = self._child_of(model, layer_report.layer.scope, scope)
            if child == _OUTSIDE:
                continue
            if child is None:
                statements.append(("layer", layer_report))
            elif child not in seen_children:
                group = self._repetitions(report, child)
                seen_children.update(group)
                statements.append(("use", group))
        relative_names = _relative_names(statements, prefix)
        in_backbone = any(use.backbone for use in model.enclosing_uses(scope))
        # The layers and stages a backbone makes itself have Keras's names, not made from its use's: kept whole.
        backbone_body = scope is not None and model.block_uses[scope].backbone is not None
        if backbone_body:
            relative_names = {name: name.removeprefix(prefix) for name in relative_names}
        owned: dict[int, str] = {}
        for index, (kind, item) in enumerate(statements):
            if kind == "layer":
                name = item.layer.name
                if scope is None:
                    owned[index] = model_attributes[name]
                    continue
                wanted = python_name(relative_names[name])
            else:
                group_name = self._group_name(model, item)
                if backbone_body:  # a backbone's stages keep Keras's names (block1, conv2_block1)
                    wanted = python_name(group_name.removeprefix(prefix))
                else:
                    # A use the enclosing use does not name: its block.
                    own = group_name.startswith(prefix)
                    wanted = python_name(group_name[len(prefix) :] if own else model.block_uses[item[0]].block)
            owned[index] = attributes.free(wanted if _usable_attribute(wanted) else _attribute_for(wanted))
        lines: list[_Line] = []
        places: dict[str, LayerPlace] = {}
        helpers: set[str] = set()
        for index, (kind, item) in enumerate(statements):
            attribute = owned[index]
            if kind == "layer":
                layer = item.layer
                relative = relative_names[layer.name]
                if layer.name in self.keras_order_flattens[id(report)]:
                    emitted = _flatten_in_keras_order(attribute)
                else:
                    # A backbone's layers are frozen where it is used (torch_backbones.freezing), so that its
                    # classes serve frozen and trained uses alike.
                    made = item
                    if in_backbone:
                        made = item._replace(layer=item.layer.model_copy(update={"trainable": True}))
                    emitted = torch_layer(made, attribute, attributes, explicit_padding=relative in explicit)
                helpers.update(emitted.helpers)
                local = locals_.free(python_name(relative))
                operands = [local_of[name] for name in layer.inputs]
                if emitted.expression is not None:
                    expression = emitted.expression.format(*operands)
                else:
                    expression = operands[0]
                    for module in emitted.modules:
                        expression = f"self.{module.attribute}({expression})"
                    expression = TORCH_ACTIVATIONS[emitted.activation].function.format(expression)
                lines.append(
                    _Line(
                        f"{local} = {expression}",
                        f"{self.label}:{layer.span.line}",
                        emitted.modules,
                        emitted.adjustments,
                        layer=relative,
                    )
                )
                local_of[layer.name] = local
                places[layer.name] = LayerPlace(attribute if emitted.modules else None, "", local)
            else:
                group = item
                first = model.block_uses[group[0]]
                instances = [self.instance(report, use) for use in group]
                local = locals_.free(attribute)
                operands = ", ".join(local_of[name] for name in first.inputs)
                lines.append(
                    _Line(
                        f"{local} = self.{attribute}({operands})",
                        f"{self.label}:{first.span.line}",
                        tuple(
                            instance.module
                            if len(group) > 1
                            else TorchModule(attribute, instance.module.constructor, instance.module.arguments)
                            for instance in instances
                        ),
                        # A backbone's frozen layers (specc.backends.torch_backbones).
                        adjustments=freezing(report, group[0], attribute, instances[0].places),
                        group=attribute if len(group) > 1 else None,
                    )
                )
                local_of[model.block_uses[group[-1]].output] = local
                for position, instance in enumerate(instances):
                    owner = attribute if len(group) == 1 else f"{attribute}.{position}"
                    for name, place in instance.places.items():
                        places[name] = LayerPlace(
                            f"{owner}.{place.module}" if place.module else None,
                            f"{owner}.{place.owner}" if place.owner else owner,
                            place.local,
                        )
        if scope is None:
            returns = tuple(local_of[name] for name in model.outputs)
        else:
            returns = (local_of[model.block_uses[scope].output],)
        return _Body(arguments, lines, returns, places, helpers)

    @staticmethod
    def _child_of(model: Model, layer_scope: int | None, scope: int | None) -> int | None:
        """The block use directly in `scope` that holds a layer (None: the layer is in `scope` itself; _OUTSIDE:
        it is not within `scope` at all)."""
        if layer_scope == scope:
            return None
        current = layer_scope
        while current is not None:
            parent = model.block_uses[current].parent
            if parent == scope:
                return current
            current = parent
        return _OUTSIDE

    def _repetitions(self, report: ModelReport, first: int) -> list[int]:
        """A use and the repetitions after it (`repeat=N`: the same line, each reading the one before)."""
        model = report.model
        group = [first]
        while True:
            last = model.block_uses[group[-1]]
            following = next(
                (
                    index
                    for index, use in enumerate(model.block_uses)
                    if use.span == last.span
                    and use.repetition == last.repetition + 1  # not a backbone's uses, which share its line
                    and use.block == last.block
                    and use.parent == last.parent
                    and use.inputs == (last.output,)
                    and index in self.members[id(report)]
                ),
                None,
            )
            if following is None or following in group:
                return group
            group.append(following)

    @staticmethod
    def _group_name(model: Model, group: list[int]) -> str:
        """A use's name, or for repetitions (`conv2_block1`, `conv2_block2`) what they have in common."""
        names = [model.block_uses[index].name for index in group]
        if len(names) == 1:
            return names[0]
        common = os.path.commonprefix(names).rstrip("_")
        return common or names[0]

    # --- block classes ---

    def instance(self, report: ModelReport, use: int) -> _Instance:
        key = (id(report), use)
        if key not in self.instances:
            self._define(report.model.block_uses[use].block)
        return self.instances[key]

    def _define(self, block: str) -> None:
        uses = self.uses[block]
        bodies = [self.body(report, index) for report, index in uses]
        explicit = self._differing_padding(bodies)
        if explicit:
            bodies = [self.body(report, index, explicit) for report, index in uses]
        bodies = _with_defaults(bodies)
        variants: dict[tuple, list[int]] = {}
        for position, body in enumerate(bodies):
            variants.setdefault(_structure(body), []).append(position)
        for number, positions in enumerate(variants.values()):
            self._define_variant(
                block,
                [uses[p] for p in positions],
                [bodies[p] for p in positions],
                variant=number if len(variants) > 1 else None,
            )

    @staticmethod
    def _differing_padding(bodies: list[_Body]) -> frozenset[str]:
        """The layers whose modules differ between uses (an uneven 'same' padding in some, even in others)."""
        if len({len(body.lines) for body in bodies}) != 1:
            return frozenset()
        return frozenset(
            line.layer
            for index, line in enumerate(bodies[0].lines)
            if line.layer is not None and len({_modules_of(body.lines[index]) for body in bodies}) != 1
        )

    def _define_variant(
        self, block: str, uses: list[tuple[ModelReport, int]], bodies: list[_Body], variant: int | None
    ) -> None:
        first = bodies[0]
        # Every argument that differs between uses, by (line, module, argument); equal ones share a parameter.
        slots: dict[tuple[int, int, int], tuple[str, ...]] = {}
        for line_index, line in enumerate(first.lines):
            for module_index, module in enumerate(line.modules):
                for argument_index in range(len(module.arguments)):
                    values = tuple(
                        _split_argument(body.lines[line_index].modules[module_index].arguments[argument_index])[1]
                        for body in bodies
                    )
                    if len(set(values)) > 1:
                        slots[(line_index, module_index, argument_index)] = values
        arguments_of = [report.model.block_uses[index].arguments for report, index in uses]
        names = FreeNames(set(RESERVED_LOCALS) | set(HELPER_CLASSES) | self.class_names.taken)
        parameter_of_values: dict[tuple[str, ...], str] = {}
        # The block's own parameters come first, in the order the block defines them; then the generated ones.
        block_parameters = list(arguments_of[0])
        rank: dict[str, int] = {}
        for (line_index, module_index, argument_index), values in slots.items():
            if values in parameter_of_values:
                continue
            module = first.lines[line_index].modules[module_index]
            wanted = next(
                (
                    parameter
                    for parameter in arguments_of[0]
                    if all(
                        parameter in arguments and str(arguments[parameter]) == value
                        for arguments, value in zip(arguments_of, values, strict=True)
                    )
                ),
                None,
            )
            if wanted is None:
                key, _ = _split_argument(module.arguments[argument_index])
                positional = _POSITIONAL_NAMES.get(module.constructor, ())
                wanted = key or (
                    positional[argument_index] if argument_index < len(positional) else f"argument_{argument_index}"
                )
                if wanted in names.taken:
                    owner = module.attribute or first.lines[line_index].group or "block"
                    wanted = f"{owner}_{wanted}"
            parameter = parameter_of_values[values] = names.free(python_name(wanted))
            rank[parameter] = block_parameters.index(wanted) if wanted in block_parameters else len(rank) + 1000
        parameters = sorted(rank, key=rank.__getitem__)
        network = backbone_class_name([report.model.block_uses[index] for report, index in uses])
        base = network or _camel_case(block)
        class_name = identifier(self.class_names.free(base if variant is None else f"{base}Variant{variant + 1}"))

        def substituted(line_index: int, module_index: int, module: TorchModule) -> TorchModule:
            arguments = []
            for argument_index, argument in enumerate(module.arguments):
                values = slots.get((line_index, module_index, argument_index))
                if values is None:
                    arguments.append(argument)
                    continue
                key, _ = _split_argument(argument)
                parameter = parameter_of_values[values]
                arguments.append(f"{key}={parameter}" if key else parameter)
            return TorchModule(module.attribute, module.constructor, tuple(arguments), module.note)

        lines = [
            _Line(
                line.forward,
                line.where,
                tuple(substituted(i, j, module) for j, module in enumerate(line.modules)),
                line.adjustments,
                line.group,
                line.layer,
            )
            for i, line in enumerate(first.lines)
        ]
        writer = SourceWriter()
        writer.line(f"class {class_name}(nn.Module):")
        writer.indent()
        used = f"{len(uses)} use{'s' * (len(uses) != 1)} in the spec"
        what = f"Block `{word(block)}`"
        if network is not None:
            what = backbone_class_title([report.model.block_uses[index] for report, index in uses])
        if variant is None:
            writer.line(f'"""{what} ({used})."""')
        else:
            writer.line(f'"""{what}, variant {variant + 1} ({used}).')
            writer.line()
            writer.line("Its uses differ in more than arguments, so each kind of use has a class of its own.")
            writer.line('"""')
        writer.line()
        writer.line(f"def __init__({', '.join(['self', *parameters])}) -> None:")
        writer.indent()
        writer.line("super().__init__()")
        _write_modules(writer, lines)
        writer.dedent()
        writer.line()
        _write_forward(writer, first.arguments, lines, first.returns)
        writer.dedent()
        self.classes.append((class_name, writer.text().splitlines()))
        for position, ((report, index), body) in enumerate(zip(uses, bodies, strict=True)):
            values = {parameter_of_values[v]: v[position] for v in slots.values()}
            keywords = tuple(f"{parameter}={values[parameter]}" for parameter in parameters)
            self.instances[(id(report), index)] = _Instance(TorchModule("", class_name, keywords), body.places)
        for body in bodies:
            self.helpers.update(body.helpers)
            self.functional |= any(_FUNCTIONAL.search(line.forward) for line in body.lines)


_FUNCTIONAL = re.compile(r"(?<![\w.])F\.")


def _instance_source(module: TorchModule) -> str:
    return f"{module.constructor}({', '.join(module.arguments)})"


def _write_modules(writer: SourceWriter, lines: Sequence[_Line]) -> None:
    """`__init__`'s statements after super().__init__(): each line's modules, or its repetitions' instances."""
    for line in lines:
        if line.group is not None:
            sources = [_instance_source(module) for module in line.modules]
            if len(set(sources)) == 1:
                writer.line(
                    f"self.{line.group} = nn.Sequential(*({sources[0]} for _ in range({len(sources)})))",
                    comment=line.where,
                )
            else:
                writer.lines(call(f"self.{line.group} = nn.Sequential", sources, indent=2), comment=line.where)
            continue
        for module in line.modules:
            comment = f"{line.where}: {module.note}" if module.note else line.where
            writer.lines(
                call(f"self.{module.attribute} = {module.constructor}", module.arguments, indent=2), comment=comment
            )
        for adjustment, reason in line.adjustments:
            writer.lines(adjustment.splitlines(), comment=f"{line.where}: {reason}")


def _write_forward(
    writer: SourceWriter, arguments: Sequence[str], lines: Sequence[_Line], returns: Sequence[str]
) -> None:
    parameters = ", ".join(["self", *(f"{argument}: torch.Tensor" for argument in arguments)])
    result = "torch.Tensor" if len(returns) == 1 else "tuple[torch.Tensor, ...]"
    writer.line(f"def forward({parameters}) -> {result}:")
    writer.indent()
    for line in lines:
        writer.line(line.forward, comment=line.where)
    writer.line(f"return {', '.join(returns)}")
    writer.dedent()


def torch_layout(report: ModelReport) -> dict[str, LayerPlace]:
    """Where each layer that reaches an output is in the module `emit_torch` writes for this model (layers that
    reach none are not emitted, as Keras's Model leaves them out)."""
    if is_straight_stack(report):
        attributes = torch_attribute_names(report.model)
        return {r.layer.name: LayerPlace(attributes[r.layer.name], "", None) for r in report.layers}
    emission = _GraphEmission([report], "spec", set(MODULE_NAMES))
    return emission.body(report, None).places


def emit_torch(reports: Sequence[ModelReport], source_path: str) -> str:
    """A Python module that defines every model of a checked spec as a PyTorch nn.Module.

    A straight stack's forward passes one `x` down its layers. Any other model's forward takes one argument
    per input, gives every layer's value a local named after the layer, and returns its output (a tuple of
    several in the spec's order); each block is a class, instantiated once per use. Only layers that reach
    an output are emitted: Keras's Model leaves the others out, and the Keras backend does the same.

    `source_path` is the spec's path as the user gave it; it appears only in comments, plainly
    when it is made of ordinary path characters, by repr() otherwise.
    """
    label = source_label(source_path)
    for report in reports:
        if report.model.training is not None:
            check_trainable(report)
    # A model whose loss applies its output's softmax (sigmoid) itself is emitted without it: forward gives logits.
    trained = [report for report in reports if report.model.training is not None]
    as_written = {report.model.name: report for report in trained}  # with the output's activation, for the loss
    reports = [logits_report(report) for report in reports]
    class_names = model_class_names(reports)
    graph_reports = [report for report in reports if not is_straight_stack(report)]
    emission = _GraphEmission(graph_reports, label, module_names(reports) | set(class_names.values()))
    several_inputs = any(len(report.model.inputs) != 1 or len(report.model.outputs) > 1 for report in reports)
    emitted_models = []
    helpers: set[str] = set()
    uses_functional = False
    for report in reports:
        if not is_straight_stack(report):
            body = emission.body(report, None)
            helpers.update(body.helpers)
            uses_functional |= any(_FUNCTIONAL.search(line.forward) for line in body.lines)
            emitted_models.append((report, body))
            continue
        attributes = torch_attribute_names(report.model)
        names = FreeNames({layer.name for layer in report.model.layers} | set(attributes.values()))
        layers = []
        in_keras_order = flattens_in_keras_order(report)
        for layer_report in report.layers:
            attribute = attributes[layer_report.layer.name]
            if layer_report.layer.name in in_keras_order:
                emitted = _flatten_in_keras_order(attribute)
            else:
                emitted = torch_layer(layer_report, attribute, names)
            helpers.update(emitted.helpers)
            uses_functional |= TORCH_ACTIVATIONS[emitted.activation].function.startswith("F.")
            layers.append((layer_report, emitted))
        emitted_models.append((report, layers))
    helpers |= emission.helpers
    uses_functional |= emission.functional or any("F." in HELPER_CLASSES[helper] for helper in helpers)
    training_helper_names = set().union(*(training_helpers(report) for report in trained))
    uses_functional |= any("F." in TRAINING_HELPERS[helper] for helper in training_helper_names)
    uses_functional |= any(PROBABILITIES.get(taken_activation(r) or "", "").startswith("F.") for r in trained)
    uses_functional |= any(r.model.training.from_logits and r.model.training.loss in CLASS_LOSSES for r in trained)
    augments = any(is_augmentation(r.layer) for report in reports for r in report.layers)

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
    if trained:
        for line in STANDARD_IMPORTS:
            writer.line(line)
        writer.line()
    if augments:
        writer.line("import kornia.augmentation as K")
    writer.line("import torch")
    if trained:
        writer.line(TORCH_IMPORTS[0])
    if uses_functional:
        writer.line("import torch.nn.functional as F")
    writer.line("from torch import nn")
    if trained:
        for line in TORCH_IMPORTS[1:]:
            writer.line(line)
    for helper in HELPER_CLASSES:
        if helper in helpers:
            writer.top_level_block(HELPER_CLASSES[helper])
    for helper in TRAINING_HELPERS:
        if helper in training_helper_names:
            writer.top_level_block(TRAINING_HELPERS[helper])
    for _, source_lines in emission.classes:
        writer.line()
        writer.line()
        for source_line in source_lines:
            writer.line(source_line)
    for report, emitted in emitted_models:
        writer.line()
        writer.line()
        class_name = class_names[report.model.name]
        if isinstance(emitted, _Body):
            _emit_graph(writer, report, class_name, emitted, several_inputs, label, as_written.get(report.model.name))
        else:
            _emit_stack(writer, report, class_name, label, emitted, several_inputs, as_written.get(report.model.name))
    graphs = [(report, emitted.places) for report, emitted in emitted_models if isinstance(emitted, _Body)]
    write_loaders(writer, graphs, class_names, emission)
    writer.line()
    writer.line()
    write_models_table(writer, [(r.model.name, class_names[r.model.name]) for r in reports])
    if trained:
        write_training_script(writer, [(report, class_names[report.model.name]) for report in trained])
        return writer.text()
    writer.line()
    writer.line("if __name__ == '__main__':")
    writer.indent()
    writer.line("for model_class in MODELS.values():")
    writer.indent()
    writer.line("model = model_class().eval()")
    writer.line("print(model)")
    writer.line("with torch.no_grad():")
    writer.indent()
    if several_inputs:
        writer.line("output = model(*(torch.zeros(1, *shape) for shape in model_class.INPUT_SHAPES))")
        writer.dedent()
        writer.line("for each in output if isinstance(output, tuple) else (output,):")
        writer.indent()
        writer.line("print('output shape:', tuple(each.shape))")
    else:
        writer.line("output = model(torch.zeros(1, *model_class.INPUT_SHAPE))")
        writer.dedent()
        writer.line("print('output shape:', tuple(output.shape))")
    if several_inputs:
        writer.dedent()
    writer.line("trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)")
    writer.line("frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)")
    writer.line("# Buffers are non-trainable parameters to Keras and specc (batch norm's running statistics...),")
    writer.line("# all but batch norm's num_batches_tracked, a counter Keras does not keep.")
    writer.line(
        "statistics = sum(b.numel() for name, b in model.named_buffers() if not name.endswith('num_batches_tracked'))"
    )
    writer.line("total = trainable + frozen + statistics")
    writer.line("print(f'parameters: {total:,} ({trainable:,} trainable, {frozen + statistics:,} non-trainable)')")
    writer.dedent()
    writer.dedent()
    return writer.text()


def _write_input_shapes(writer: SourceWriter, report: ModelReport) -> None:
    shapes = tuple(channels_first(model_input.shape) for model_input in report.model.inputs)
    writer.line(f"INPUT_SHAPES = {literal(shapes)}", comment="every input, in order, channels-first")


def _emit_graph(
    writer: SourceWriter,
    report: ModelReport,
    class_name: str,
    body: _Body,
    several_inputs: bool,
    label: str,
    trained: ModelReport | None = None,
) -> None:
    model = report.model
    writer.line(f"class {class_name}(nn.Module):")
    writer.indent()
    for docstring_line in _model_docstring(report):
        writer.line(docstring_line)
    writer.line()
    writer.line(
        f"INPUT_SHAPE = {literal(channels_first(model.input_shape or ()))}", comment="one example, channels-first"
    )
    if several_inputs:
        _write_input_shapes(writer, report)
    writer.line()
    writer.line("def __init__(self) -> None:")
    writer.indent()
    writer.line("super().__init__()")
    _write_modules(writer, body.lines)
    writer.dedent()
    writer.line()
    _write_forward(writer, body.arguments, body.lines, body.returns)
    write_frozen_batchnorm_mode(writer, report, body.places)
    if trained is not None:  # the report as the spec has it: the training code needs the output's activation
        write_training_members(writer, trained, label)
    writer.dedent()
