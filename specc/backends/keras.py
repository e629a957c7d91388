"""Emit stage: checked IR -> Keras 3 functional-API source, one `build_<model>()` function per model and one
function per block, called once per use (a loop for a repeated use), never unrolled.

A model's values flow through variables: `x` for a value only the next statement reads, so that a stack
reads as a chain, else a name read from the layer's name. A block's function takes its inputs, the
arguments that differ between its uses (named after the block's parameters where they match) and
`name`, from which its layers' names are made, so the built layers have the names specc gave them.
Only what reaches an output is emitted (specc.backends.bodies); a comment names the lines left out.

Each layer kind has one emitter here (KERAS_EMITTERS), which turns the IR layer into the Keras
layers that compute it; arguments equal to Keras's defaults are left out, so the code reads as
a person would write it. Explicit convolution padding becomes ZeroPadding2D then a 'valid'
Conv2D; min pooling, which Keras lacks, becomes a small MaxPooling2D subclass, and scaled_add the
CustomScaleLayer that keras.applications' Inception-ResNet defines (Keras does not export it), each
defined at the top of a module that uses it. Arguments that depend on the layer's input (correct_pad's
zeros) are written as the amounts they come to. Augmentation kinds are Keras's random preprocessing layers
(RandomFlip...), which Keras itself makes active in training only. A model with a training section also gets
compile_<model>, train_<model> and a script's `main` (specc.backends.keras_training); a module without one
ends as it always has. This module imports no framework: it only writes text.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from specc.backends.bodies import model_bodies
from specc.backends.keras_backbones import (
    WEIGHTS_PARAMETER,
    BackbonePlan,
    build_parameters,
    header_note,
    plan_backbones,
    within_backbone,
    write_backbone,
)
from specc.backends.keras_training import (
    FRAMEWORK_IMPORTS,
    STANDARD_IMPORTS,
    training_names,
    training_of,
    write_script,
    write_training,
)
from specc.backends.python_source import (
    FreeNames,
    SourceWriter,
    UnsafeSource,
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
    ExplicitPadding,
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
    parameter_names,
)

MIN_POOLING_CLASS = "MinPooling2D"
MIN_POOLING_SOURCE = '''\
@keras.saving.register_keras_serializable(package='specc')
class MinPooling2D(layers.MaxPooling2D):
    """Min pooling, which Keras lacks: the max pool of the negated input, negated."""

    def call(self, inputs):
        return -super().call(-inputs)'''

SCALED_ADD_CLASS = "CustomScaleLayer"
# As keras.applications' inception_resnet_v2 defines it; a module defines its own, since Keras does not export it.
SCALED_ADD_SOURCE = '''\
@keras.saving.register_keras_serializable(package='specc')
class CustomScaleLayer(layers.Layer):
    """Inception-ResNet's scaled residual, as keras.applications defines it: inputs[0] + inputs[1] * scale."""

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def get_config(self):
        return {**super().get_config(), 'scale': self.scale}

    def call(self, inputs):
        return inputs[0] + inputs[1] * self.scale'''

# Keras's own defaults, left out of emitted calls.
KERAS_BATCHNORM_DEFAULTS = {"epsilon": 1e-3, "momentum": 0.99, "center": True, "scale": True}
KERAS_LAYERNORM_DEFAULTS = {"epsilon": 1e-3, "center": True, "scale": True}
KERAS_RELU_DEFAULTS = {"max_value": None, "negative_slope": 0.0, "threshold": 0.0}
# The random preprocessing layers' optional arguments, at Keras's defaults (value_range is (0, 255) there).
_GEOMETRIC_DEFAULTS = {"fill_mode": "reflect", "interpolation": "bilinear", "fill_value": 0.0}
KERAS_AUGMENTATION_DEFAULTS: dict[type[LayerBase], dict[str, object]] = {
    RandomFlip: {"mode": "horizontal_and_vertical"},
    RandomRotation: _GEOMETRIC_DEFAULTS,
    RandomZoom: {"width_factor": None, **_GEOMETRIC_DEFAULTS},
    RandomTranslation: _GEOMETRIC_DEFAULTS,
    RandomContrast: {"value_range": (0.0, 255.0)},
    RandomBrightness: {"value_range": (0.0, 255.0)},
}


@dataclass(frozen=True)
class _Context:
    """What an emitter needs beyond the layer: the names taken, from which a helper layer's name is made, and
    the shape of the layer's (first) input, channels-last, on which a few layers' arguments depend (None when
    the checker could not infer it)."""

    names: FreeNames
    input_shape: Shape | None = None


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


def _window_arguments(layer: Conv2D | DepthwiseConv2D | SeparableConv2D | Conv2DTranspose) -> list[str]:
    """strides, padding='same' and dilation_rate where they differ from Keras's defaults."""
    arguments = []
    if layer.strides != (1, 1):
        arguments.append(_keyword("strides", layer.strides))
    if layer.padding == "same":
        arguments.append(_keyword("padding", "same"))
    if layer.dilation_rate != (1, 1):
        arguments.append(_keyword("dilation_rate", layer.dilation_rate))
    return arguments


def _output_arguments(layer: Conv2D | DepthwiseConv2D | SeparableConv2D | Conv2DTranspose | Dense) -> list[str]:
    """activation and use_bias=False where they differ from Keras's defaults."""
    return [*_activation(layer.activation), *([_keyword("use_bias", False)] if not layer.use_bias else [])]


def _conv2d(layer: Conv2D, context: _Context) -> list[KerasCall]:
    arguments = [
        literal(layer.filters),
        literal(layer.kernel_size),
        *_window_arguments(layer),
        *_output_arguments(layer),
    ]
    return _after_explicit_padding(layer, KerasCall("layers.Conv2D", _named(*arguments, name=layer.name)), context)


def _after_explicit_padding(layer: Conv2D | DepthwiseConv2D, conv: KerasCall, context: _Context) -> list[KerasCall]:
    """The convolution, after a ZeroPadding2D of the layer's explicit amounts when it has any (Keras's
    convolutions take only 'valid' and 'same')."""
    if isinstance(layer.padding, str) or layer.padding == ((0, 0), (0, 0)):
        return [conv]
    pad = KerasCall(
        "layers.ZeroPadding2D",
        _named(literal(_padding_amounts(layer.padding)), name=context.names.free(f"{layer.name}_pad")),
    )
    return [pad, conv]


def _pool2d(constructor: str) -> Callable[[MaxPool2D | AvgPool2D | MinPool2D, _Context], list[KerasCall]]:
    def emit(layer: MaxPool2D | AvgPool2D | MinPool2D, context: _Context) -> list[KerasCall]:
        arguments = [literal(layer.pool_size)]
        if layer.strides != layer.pool_size:
            arguments.append(_keyword("strides", layer.strides))
        if layer.padding == "same":
            arguments.append(_keyword("padding", "same"))
        return [KerasCall(constructor, _named(*arguments, name=layer.name))]

    return emit


def _without_arguments(constructor: str) -> Callable[[LayerBase, _Context], list[KerasCall]]:
    def emit(layer: LayerBase, context: _Context) -> list[KerasCall]:
        return [KerasCall(constructor, _named(name=layer.name))]

    return emit


def _zeropad2d(layer: ZeroPad2D, context: _Context) -> list[KerasCall]:
    if layer.correct_pad is not None and context.input_shape is None:
        raise ValueError(f"layer `{layer.name}`: correct_pad's amounts depend on its input, whose shape is unknown")
    # correct_pad's amounts, worked out for this input, are written as the amounts they are.
    padding = layer.padding_for(context.input_shape) if layer.correct_pad is not None else layer.padding
    return [KerasCall("layers.ZeroPadding2D", _named(literal(_padding_amounts(padding)), name=layer.name))]


def _batchnorm(layer: BatchNorm, context: _Context) -> list[KerasCall]:
    arguments = [
        _keyword(key, getattr(layer, key))
        for key, default in KERAS_BATCHNORM_DEFAULTS.items()
        if getattr(layer, key) != default
    ]
    return [KerasCall("layers.BatchNormalization", _named(*arguments, name=layer.name))]


def _dropout(layer: Dropout, context: _Context) -> list[KerasCall]:
    return [KerasCall("layers.Dropout", _named(literal(layer.rate), name=layer.name))]


def _dense(layer: Dense, context: _Context) -> list[KerasCall]:
    arguments = [literal(layer.units), *_output_arguments(layer)]
    return [KerasCall("layers.Dense", _named(*arguments, name=layer.name))]


def _activation_layer(layer: ActivationLayer, context: _Context) -> list[KerasCall]:
    return [KerasCall("layers.Activation", _named(literal(layer.activation), name=layer.name))]


def _changed(layer: LayerBase, defaults: dict[str, object]) -> list[str]:
    """`key=value` for each of these arguments that differs from Keras's default."""
    return [_keyword(key, getattr(layer, key)) for key, default in defaults.items() if getattr(layer, key) != default]


def _global_pool2d(constructor: str) -> Callable[[GlobalAvgPool2D | GlobalMaxPool2D, _Context], list[KerasCall]]:
    def emit(layer: GlobalAvgPool2D | GlobalMaxPool2D, context: _Context) -> list[KerasCall]:
        arguments = [_keyword("keepdims", True)] if layer.keepdims else []
        return [KerasCall(constructor, _named(*arguments, name=layer.name))]

    return emit


def _depthwise_conv2d(layer: DepthwiseConv2D, context: _Context) -> list[KerasCall]:
    arguments = [literal(layer.kernel_size), *_window_arguments(layer)]
    if layer.depth_multiplier != 1:
        arguments.append(_keyword("depth_multiplier", layer.depth_multiplier))
    arguments.extend(_output_arguments(layer))
    conv = KerasCall("layers.DepthwiseConv2D", _named(*arguments, name=layer.name))
    return _after_explicit_padding(layer, conv, context)


def _separable_conv2d(layer: SeparableConv2D, context: _Context) -> list[KerasCall]:
    arguments = [literal(layer.filters), literal(layer.kernel_size), *_window_arguments(layer)]
    if layer.depth_multiplier != 1:
        arguments.append(_keyword("depth_multiplier", layer.depth_multiplier))
    arguments.extend(_output_arguments(layer))
    return [KerasCall("layers.SeparableConv2D", _named(*arguments, name=layer.name))]


def _conv2d_transpose(layer: Conv2DTranspose, context: _Context) -> list[KerasCall]:
    arguments = [literal(layer.filters), literal(layer.kernel_size), *_window_arguments(layer)]
    if layer.output_padding is not None:
        arguments.append(_keyword("output_padding", layer.output_padding))
    arguments.extend(_output_arguments(layer))
    return [KerasCall("layers.Conv2DTranspose", _named(*arguments, name=layer.name))]


def _upsampling2d(layer: UpSampling2D, context: _Context) -> list[KerasCall]:
    arguments = [literal(layer.size)] if layer.size != (2, 2) else []
    if layer.interpolation != "nearest":
        arguments.append(_keyword("interpolation", layer.interpolation))
    return [KerasCall("layers.UpSampling2D", _named(*arguments, name=layer.name))]


def _cropping2d(layer: Cropping2D, context: _Context) -> list[KerasCall]:
    return [KerasCall("layers.Cropping2D", _named(literal(_padding_amounts(layer.cropping)), name=layer.name))]


def _reshape(layer: Reshape, context: _Context) -> list[KerasCall]:
    return [KerasCall("layers.Reshape", _named(literal(layer.target_shape), name=layer.name))]


def _rescaling(layer: Rescaling, context: _Context) -> list[KerasCall]:
    arguments = [literal(layer.scale)] + ([_keyword("offset", layer.offset)] if layer.offset != 0.0 else [])
    return [KerasCall("layers.Rescaling", _named(*arguments, name=layer.name))]


def _normalization(layer: Normalization, context: _Context) -> list[KerasCall]:
    mean, variance = layer.mean, layer.variance
    if mean is None or variance is None:  # the statistics are the layer's weights, set by adapt or loaded
        return [KerasCall("layers.Normalization", _named(name=layer.name))]
    # Keras wants the two in the same shape; the spec may give one number for all channels beside a tuple.
    if isinstance(mean, tuple) != isinstance(variance, tuple) or (
        isinstance(mean, tuple) and isinstance(variance, tuple) and len(mean) != len(variance)
    ):
        length = max(len(v) if isinstance(v, tuple) else 1 for v in (mean, variance))
        mean, variance = (v * (length // len(v)) if isinstance(v, tuple) else (v,) * length for v in (mean, variance))
    arguments = [_keyword("mean", mean), _keyword("variance", variance)]
    return [KerasCall("layers.Normalization", _named(*arguments, name=layer.name))]


def _layernorm(layer: LayerNorm, context: _Context) -> list[KerasCall]:
    return [KerasCall("layers.LayerNormalization", _named(*_changed(layer, KERAS_LAYERNORM_DEFAULTS), name=layer.name))]


def _relu(layer: ReLU, context: _Context) -> list[KerasCall]:
    return [KerasCall("layers.ReLU", _named(*_changed(layer, KERAS_RELU_DEFAULTS), name=layer.name))]


def _scaled_add(layer: ScaledAdd, context: _Context) -> list[KerasCall]:
    return [KerasCall(SCALED_ADD_CLASS, _named(literal(layer.scale), name=layer.name))]


def _augmentation(layer: LayerBase, context: _Context) -> list[KerasCall]:
    """A random preprocessing layer: its ranges (the arguments Keras requires) in order, then the optional
    arguments that differ from Keras's defaults. Keras itself makes it active in training only."""
    defaults = KERAS_AUGMENTATION_DEFAULTS[type(layer)]
    required = [literal(getattr(layer, key)) for key in type(layer).positional if key not in defaults]
    arguments = [*required, *_changed(layer, defaults)]
    return [KerasCall(f"layers.{type(layer).keras_class}", _named(*arguments, name=layer.name))]


def _concat(layer: Concat, context: _Context) -> list[KerasCall]:
    arguments = () if layer.axis == -1 else (_keyword("axis", layer.axis),)
    return [KerasCall("layers.Concatenate", _named(*arguments, name=layer.name))]


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
    # Merges: called on a list of their operands.
    Add: _without_arguments("layers.Add"),
    Subtract: _without_arguments("layers.Subtract"),
    Multiply: _without_arguments("layers.Multiply"),
    Average: _without_arguments("layers.Average"),
    Maximum: _without_arguments("layers.Maximum"),
    Minimum: _without_arguments("layers.Minimum"),
    ScaledAdd: _scaled_add,
    Concat: _concat,
    **dict.fromkeys(KERAS_AUGMENTATION_DEFAULTS, _augmentation),
}


def keras_calls(layer: LayerBase, names: FreeNames | None = None, input_shape: Shape | None = None) -> list[KerasCall]:
    """The Keras layers, in order, that compute one specc layer whose (first) input has `input_shape`."""
    emitter = KERAS_EMITTERS.get(type(layer))
    if emitter is None:
        raise NotImplementedError(f"the Keras backend cannot emit layer kind `{layer.kind}`")
    calls = emitter(layer, _Context(names or FreeNames({layer.name}), input_shape))
    if not layer.trainable:
        # The layer itself is the last call (a zero padding may come before it); its name stays the last argument.
        own = calls[-1]
        calls[-1] = replace(own, arguments=(*own.arguments[:-1], _keyword("trainable", False), own.arguments[-1]))
    return calls


def build_function_name(model_name: str) -> str:
    return identifier(f"build_{model_name}")


# --- Graphs: one build function per model, one function per block --------------------------------

# Names the module itself gives or reads, which nothing from a spec may take: its imports and helper
# class, the table and the loop over it, the names every function writes (the chained value `x`, the
# model's `inputs`, a block's `name`, a repeat's `i`) and the builtins a repeat calls.
MODULE_NAMES = frozenset(
    {
        *("keras", "layers", "MODELS", MIN_POOLING_CLASS, SCALED_ADD_CLASS, "build"),
        *("name", "x", "inputs", "i", "str", "range", "super"),
        WEIGHTS_PARAMETER,
    }
)

# What Keras takes when a keyword is left out, for the keywords the emitters leave out at their
# defaults: a block function whose uses give a keyword in some calls only passes the default in the others.
_CONV_DEFAULTS = {"strides": (1, 1), "padding": "valid", "dilation_rate": (1, 1), "activation": None, "use_bias": True}
_POOL_DEFAULTS = {"strides": None, "padding": "valid"}
KERAS_KEYWORD_DEFAULTS: dict[str, dict[str, object]] = {
    "layers.Conv2D": _CONV_DEFAULTS,
    "layers.MaxPooling2D": _POOL_DEFAULTS,
    "layers.AveragePooling2D": _POOL_DEFAULTS,
    MIN_POOLING_CLASS: _POOL_DEFAULTS,
    "layers.BatchNormalization": KERAS_BATCHNORM_DEFAULTS,
    "layers.Dense": {"activation": None, "use_bias": True},
    "layers.Concatenate": {"axis": -1},
    **{f"layers.{kind.keras_class}": defaults for kind, defaults in KERAS_AUGMENTATION_DEFAULTS.items()},
}

# The positional arguments the emitters write, by Keras's names: what a block function's parameter is called
# when the uses differ in one that neither a block parameter nor a field of the layer gives (correct_pad's zeros).
_WINDOWED = ("filters", "kernel_size")
KERAS_POSITIONAL_NAMES: dict[str, tuple[str, ...]] = {
    "layers.Conv2D": _WINDOWED,
    "layers.SeparableConv2D": _WINDOWED,
    "layers.Conv2DTranspose": _WINDOWED,
    "layers.DepthwiseConv2D": ("kernel_size",),
    "layers.MaxPooling2D": ("pool_size",),
    "layers.AveragePooling2D": ("pool_size",),
    MIN_POOLING_CLASS: ("pool_size",),
    "layers.ZeroPadding2D": ("padding",),
    "layers.Cropping2D": ("cropping",),
    "layers.UpSampling2D": ("size",),
    "layers.Dropout": ("rate",),
    "layers.Dense": ("units",),
    "layers.Activation": ("activation",),
    "layers.Reshape": ("target_shape",),
    "layers.Rescaling": ("scale",),
    SCALED_ADD_CLASS: ("scale",),
    "layers.RandomRotation": ("factor",),
    "layers.RandomZoom": ("height_factor",),
    "layers.RandomTranslation": ("height_factor", "width_factor"),
    "layers.RandomContrast": ("factor",),
    "layers.RandomBrightness": ("factor",),
}

# What every Keras layer takes: a block whose uses freeze a layer in some uses only passes True in the others.
KERAS_LAYER_DEFAULTS: dict[str, object] = {"trainable": True}

_KEYWORD_ARGUMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)\Z", re.DOTALL)


@dataclass(frozen=True)
class _Call:
    """One call a statement makes: a Keras layer (or a block's function), its arguments as source text
    apart from the name, and the Keras name of the layer (or block use) it makes."""

    function: str
    positional: tuple[str, ...]
    keywords: tuple[tuple[str, str], ...]
    name: str


def _split(keras_call: KerasCall) -> _Call:
    positional, keywords, name = [], [], ""
    for argument in keras_call.arguments:
        match = _KEYWORD_ARGUMENT.match(argument)
        if match is None:
            positional.append(argument)
        elif match[1] == "name":
            # The emitters write the name with literal(); reading it back is reading a str literal.
            name = ast.literal_eval(match[2])
        else:
            keywords.append((match[1], match[2]))
    return _Call(keras_call.constructor, tuple(positional), tuple(keywords), name)


@dataclass
class _Step:
    """One statement of a body as emitted: a layer (its Keras calls, chained), or a block's function called
    for one use, or for several repetitions of one in a loop (`repeat` > 1, `calls[0].name` their base)."""

    kind: str  # "layer", "merge", "block" or "backbone"
    reads: tuple[str, ...]
    value: str
    calls: tuple[_Call, ...]
    line: int
    layer: LayerBase | None = None
    uses: tuple[int, ...] = ()
    # The number a loop's first repetition takes (a use's `start=`).
    start: int = 1
    backbone: BackbonePlan | None = None

    @property
    def repeat(self) -> int:
        return len(self.uses) if len(self.uses) > 1 else 1


# A slot is one argument of one call of one step, where uses of a block may differ:
# ("pos", step, call, index), ("kw", step, call, keyword) or ("name", step, call) for a name not
# made from the use's own.
Slot = tuple


@dataclass
class _UsePlan:
    """One block use's body, relative to the use: what its steps read by position, and its slots' values."""

    model: int
    use: int
    steps: list[_Step]
    signature: tuple
    slots: dict[Slot, str]
    keywords: dict[tuple[int, int], list[str]]


@dataclass
class _Function:
    """The function emitted for a block (or for one variant of it, when its uses emit different layers)."""

    name: str
    block: str
    variant: int
    plans: list[_UsePlan]
    keywords: dict[tuple[int, int], list[str]]
    constants: dict[Slot, str] = field(default_factory=dict)
    # Each parameter, with the slots it fills.
    parameters: list[tuple[str, tuple[Slot, ...]]] = field(default_factory=list)

    def arguments(self, plan: _UsePlan) -> tuple[tuple[str, str], ...]:
        """The keyword arguments that call this function for one use."""
        return tuple((parameter, plan.slots[slots[0]]) for parameter, slots in self.parameters)


def _python_name(text: str) -> str:
    """A Python identifier read from a layer's or a use's name: `1_conv` -> `x_1_conv`, `class` -> `class_`."""
    candidate = text if text[:1].isalpha() or text[:1] == "_" else f"x_{text}"
    if keyword.iskeyword(candidate) or keyword.issoftkeyword(candidate):
        candidate += "_"
    return identifier(candidate)


def _written_as(argument: str, text: str) -> bool:
    """Whether a block's argument, as the spec wrote it (`2`, `3x3`, `same`), is the value a slot's literal
    holds (`(2, 2)`, `(3, 3)`, `'same'`): the slot then takes the block's parameter's name."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return False
    if re.fullmatch(r"\d+(x\d+)+", argument):
        written: object = tuple(int(extent) for extent in argument.split("x"))
    elif argument in ("true", "false"):
        written = argument == "true"
    else:
        try:
            written = ast.literal_eval(argument)
        except (ValueError, SyntaxError):
            written = argument
    if isinstance(value, tuple) and not isinstance(written, tuple):
        return bool(value) and all(item == written for item in value)
    return value == written and type(value) is type(written)


def _merged_order(orders: list[list[str]]) -> list[str]:
    """One order of keywords that keeps the order of each list (each a subsequence of the emitter's order)."""
    merged: list[str] = []
    for order in orders:
        for position, key in enumerate(order):
            if key in merged:
                continue
            before = [k for k in order[:position] if k in merged]
            merged.insert(merged.index(before[-1]) + 1 if before else 0, key)
    return merged


class _Emission:
    """Everything emit_keras writes for one spec, planned before anything is written: each model's bodies,
    the function for each block (variant), and the names they take."""

    def __init__(self, reports: Sequence[ModelReport]):
        self.reports = list(reports)
        self.bodies = [model_bodies(report.model) for report in self.reports]
        self.module_names = FreeNames(set(MODULE_NAMES) | {build_function_name(r.model.name) for r in self.reports})
        self.module_names.taken |= training_names(self.reports)
        self.calls: list[dict[str, list[KerasCall]]] = []
        for report in self.reports:
            # In the model's order, so that the names of helper layers are those a model of one stack gets.
            names = FreeNames({layer.name for layer in report.model.layers})
            input_shapes = {r.layer.name: r.input_shape for r in report.layers}
            # A backbone's layers are keras.applications' to build, not the emitters'.
            made = [layer for layer in report.model.layers if not within_backbone(report.model, layer.scope)]
            self.calls.append({layer.name: keras_calls(layer, names, input_shapes.get(layer.name)) for layer in made})
        self.function_of: dict[tuple[int, int], tuple[_Function, _UsePlan]] = {}
        self.functions: list[_Function] = []
        uses_by_block: dict[str, list[tuple[int, int]]] = {}
        for index, bodies in enumerate(self.bodies):
            for use in bodies.emitted_uses():
                if within_backbone(bodies.model, use):  # keras.applications builds those
                    continue
                uses_by_block.setdefault(bodies.model.block_uses[use].block, []).append((index, use))
        # Before the functions, whose bodies may make one; every other name keeps clear of their variables.
        self.backbones = plan_backbones(self.reports, self.bodies, self.module_names.taken, _python_name)
        self.module_names.taken |= self.backbones.variables()
        for block in self._innermost_first(uses_by_block):
            self._plan_block(block, uses_by_block[block])

    def _innermost_first(self, uses_by_block: dict[str, list[tuple[int, int]]]) -> list[str]:
        """The blocks used, each after every block it uses, so that a function's callees are planned first."""
        inside: dict[str, set[str]] = {block: set() for block in uses_by_block}
        for block, uses in uses_by_block.items():
            for model, use in uses:
                parent = self.bodies[model].model.block_uses[use].parent
                if parent is not None:
                    inside[self.bodies[model].model.block_uses[parent].block].add(block)
        ordered: list[str] = []

        def visit(block: str) -> None:
            if block not in ordered:
                for inner in sorted(inside[block]):
                    visit(inner)
                ordered.append(block)

        for block in uses_by_block:
            visit(block)
        return ordered

    def steps(self, model: int, scope: int | None) -> list[_Step]:
        """The steps of one body; consecutive repetitions of a repeated use become one loop."""
        bodies = self.bodies[model]
        steps: list[_Step] = []
        for statement in bodies.bodies[scope].emitted:
            if statement.layer is not None:
                layer = statement.layer
                calls = tuple(_split(c) for c in self.calls[model][layer.name])
                kind = "merge" if layer.arity is None else "layer"
                steps.append(_Step(kind, statement.reads, statement.value, calls, layer.span.line, layer=layer))
                continue
            use = bodies.model.block_uses[statement.use]
            if use.backbone is not None:
                backbone = self.backbones.plans[(model, statement.use)]
                steps.append(_Step("backbone", statement.reads, statement.value, (), use.span.line, backbone=backbone))
                continue
            function, plan = self.function_of[(model, statement.use)]
            keywords = function.arguments(plan)
            if (model, statement.use) in self.backbones.holding_weights:  # a backbone's weights, handed on
                keywords += ((WEIGHTS_PARAMETER, WEIGHTS_PARAMETER),)
            call = _Call(function.name, (), keywords, use.name)
            step = _Step("block", statement.reads, statement.value, (call,), use.span.line, uses=(statement.use,))
            before = steps[-1] if steps else None
            if (
                before is not None
                and before.kind == "block"
                and bodies.model.block_uses[before.uses[-1]].span == use.span
                and before.calls[0].function == call.function
                and before.calls[0].keywords == call.keywords
                and step.reads == (before.value,)
            ):
                uses = [bodies.model.block_uses[u] for u in (*before.uses, statement.use)]
                if all(
                    u.repetition == n and u.numbered_from == uses[0].numbered_from and u.start == uses[0].start
                    for n, u in enumerate(uses, 1)
                ):
                    before.uses = (*before.uses, statement.use)
                    before.value = statement.value
                    before.calls = (replace(call, name=use.numbered_from),)
                    before.start = use.start
                    continue
            steps.append(step)
        return steps

    def _use_plan(self, model: int, use: int) -> _UsePlan:
        block_use = self.bodies[model].model.block_uses[use]
        prefix = block_use.name + "_"
        steps = self.steps(model, use)
        made_by = {step.value: index for index, step in enumerate(steps)}

        def reference(value: str) -> tuple:
            if value in block_use.inputs:
                return ("input", block_use.inputs.index(value))
            return ("step", made_by[value]) if value in made_by else ("value", value)

        signature: list = [len(block_use.inputs), reference(block_use.output)]
        slots: dict[Slot, str] = {}
        keywords: dict[tuple[int, int], list[str]] = {}
        for s, step in enumerate(steps):
            shape = []
            for c, made in enumerate(step.calls):
                relative = made.name[len(prefix) :] if made.name.startswith(prefix) else None
                if relative is None:
                    slots[("name", s, c)] = literal(made.name)
                shape.append((made.function, len(made.positional), relative))
                for p, text in enumerate(made.positional):
                    slots[("pos", s, c, p)] = text
                for key, text in made.keywords:
                    slots[("kw", s, c, key)] = text
                keywords[(s, c)] = [key for key, _ in made.keywords]
            signature.append((step.kind, step.repeat, tuple(reference(r) for r in step.reads), tuple(shape)))
        return _UsePlan(model, use, steps, tuple(signature), slots, keywords)

    def _plan_block(self, block: str, uses: list[tuple[int, int]]) -> None:
        """The block's functions: one for all its uses, or one per variant where they emit different layers."""
        groups: dict[tuple, list[_UsePlan]] = {}
        for model, use in uses:
            plan = self._use_plan(model, use)
            groups.setdefault(plan.signature, []).append(plan)
        variants: list[tuple[list[_UsePlan], dict[tuple[int, int], list[str]]]] = []
        for plans in groups.values():
            filled = self._filled(plans)
            if filled is not None:
                variants.append((plans, filled))
                continue
            exact: dict[tuple, list[_UsePlan]] = {}
            for plan in plans:
                exact.setdefault(tuple(sorted((k, tuple(v)) for k, v in plan.keywords.items())), []).append(plan)
            variants.extend((same, same[0].keywords) for same in exact.values())
        for number, (plans, order) in enumerate(variants, start=1):
            wanted = block if number == 1 else f"{block}_variant{number}"
            function = _Function(self.module_names.free(_python_name(wanted)), block, number, plans, order)
            self._parameters(function)
            self.functions.append(function)
            for plan in plans:
                self.function_of[(plan.model, plan.use)] = (function, plan)

    @staticmethod
    def _filled(plans: list[_UsePlan]) -> dict[tuple[int, int], list[str]] | None:
        """The keywords each call takes across the uses, with Keras's default filled in where a use left one
        out; None when a keyword left out has no known default, so that the uses need variants."""
        order: dict[tuple[int, int], list[str]] = {}
        for key in plans[0].keywords:
            order[key] = _merged_order([plan.keywords[key] for plan in plans])
        for plan in plans:
            for (s, c), keys in order.items():
                function = plan.steps[s].calls[c].function
                for key in keys:
                    if ("kw", s, c, key) in plan.slots:
                        continue
                    defaults = {**KERAS_LAYER_DEFAULTS, **KERAS_KEYWORD_DEFAULTS.get(function, {})}
                    if key not in defaults:
                        return None
        for plan in plans:
            for (s, c), keys in order.items():
                function = plan.steps[s].calls[c].function
                defaults = {**KERAS_LAYER_DEFAULTS, **KERAS_KEYWORD_DEFAULTS.get(function, {})}
                for key in keys:
                    plan.slots.setdefault(("kw", s, c, key), literal(defaults.get(key)))  # type: ignore[arg-type]
        return order

    def _parameters(self, function: _Function) -> None:
        """Split the slots into constants (the same in every use) and parameters, named after the block's
        parameter whose arguments vary as they do, else after what they are."""
        plans = function.plans
        by_values: dict[tuple[str, ...], list[Slot]] = {}
        for slot in plans[0].slots:
            values = tuple(plan.slots[slot] for plan in plans)
            if len(set(values)) == 1:
                function.constants[slot] = values[0]
            else:
                by_values.setdefault(values, []).append(slot)
        uses = [self.bodies[plan.model].model.block_uses[plan.use] for plan in plans]
        block_parameters = list(uses[0].arguments)
        local = FreeNames(set(self.module_names.taken))
        taken_parameters: set[str] = set()
        for values, slots in by_values.items():
            wanted = next(
                (
                    parameter
                    for parameter in block_parameters
                    if parameter not in taken_parameters
                    and all(
                        _written_as(str(use.arguments.get(parameter)), value)
                        for use, value in zip(uses, values, strict=True)
                    )
                ),
                None,
            )
            if wanted is not None:
                taken_parameters.add(wanted)
            else:
                wanted = self._descriptive_name(plans[0], slots[0])
            function.parameters.append((local.free(_python_name(wanted)), tuple(slots)))
        order = {name: index for index, name in enumerate(block_parameters)}
        function.parameters.sort(key=lambda parameter: order.get(parameter[0], len(order)))

    @staticmethod
    def _descriptive_name(plan: _UsePlan, slot: Slot) -> str:
        if slot[0] == "kw":
            return slot[3]
        step = plan.steps[slot[1]]
        if slot[0] == "name":
            # A layer the use does not name: an unnamed one, which takes Keras's model-wide name (`conv2d_7`).
            return f"{keras_auto_name(type(step.layer))}_name" if step.layer is not None else "layer_name"
        if step.layer is not None:
            text = plan.slots[slot]
            for field_name in parameter_names(type(step.layer)):
                value = getattr(step.layer, field_name)
                try:
                    if literal(value) == text:
                        return field_name
                except UnsafeSource:
                    continue
        _, _, c, position = slot
        positional = KERAS_POSITIONAL_NAMES.get(step.calls[c].function, ())
        return positional[position] if position < len(positional) else "argument"


def _variables(steps: list[_Step], results: tuple[str, ...], names: FreeNames, prefix: str) -> list[str]:
    """The variable each step's value goes in: `x` for a value only the next step reads (the chain of a
    stack), else a name read from the layer's or use's name."""
    readers: dict[str, set[int]] = {}
    for index, step in enumerate(steps):
        for read in step.reads:
            readers.setdefault(read, set()).add(index)
    variables = []
    for index, step in enumerate(steps):
        read_by = readers.get(step.value, set())
        last = index == len(steps) - 1
        chained = (read_by == {index + 1} and step.value not in results) or (last and not read_by)
        if chained:
            variables.append("x")
            continue
        own = step.calls[0].name if step.kind == "block" else step.value
        own = own[len(prefix) :] if own.startswith(prefix) else own
        variables.append(names.free(_python_name(own.rstrip("_") or "value")))
    return variables


def _model_docstring(report: ModelReport) -> str:
    model = report.model
    shapes = report.output_shapes
    if not model.inputs or not shapes:
        return f'"""Model {word(model.name)}."""'
    inputs = ", ".join(format_shape(i.shape) for i in model.inputs)
    outputs = ", ".join(format_shape(shape) for shape in shapes)
    summary = (
        f"Model {word(model.name)}: {inputs} -> {outputs}, {report.total_params:,} parameters "
        f"({report.non_trainable_params:,} non-trainable)."
    )
    built_for = report.input_sizes.built_for() if report.input_sizes is not None else ()
    if not built_for:
        return f'"""{summary}"""'
    return f'"""{summary}\n\n' + "".join(f"    {line}\n" for line in built_for) + '    """'


class _BodyWriter:
    """Writes one body's steps: each call's arguments rendered by `render`, values in their variables."""

    def __init__(self, writer: SourceWriter, label: str, depth: int):
        self.writer = writer
        self.label = label
        self.depth = depth

    def skipped(self, lines: list[int]) -> None:
        """A comment naming the body's lines left out because they reach no output."""
        if not lines:
            return
        runs: list[list[int]] = []
        for line in lines:
            if runs and line == runs[-1][-1] + 1:
                runs[-1].append(line)
            else:
                runs.append([line])
        shown = [str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs[:6]]
        more = f" and {len(runs) - 6} more" if len(runs) > 6 else ""
        what = "Line" if lines == runs[0] == [lines[0]] else "Lines"
        self.writer.line(
            f"# {what} {', '.join(shown)}{more} of {self.label} reach no output (W303), so they are not built."
        )

    def steps(self, steps: list[_Step], variables: dict[str, str], render, name_of) -> None:
        """`render(s, c, call)` gives a call's arguments but its name; `name_of(s, c, call, looped)` its name."""
        for s, step in enumerate(steps):
            target = variables[step.value]
            sources = [variables[read] for read in step.reads]
            comment = f"{self.label}:{step.line}"
            if step.backbone is not None:
                write_backbone(self.writer, step.backbone, sources[0], target, comment, self.depth)
                continue
            if step.kind == "block":
                (call_,) = step.calls
                arguments = [*render(s, 0, call_)]
                if step.repeat > 1:
                    if sources[0] != target:
                        self.writer.line(f"{target} = {sources[0]}")
                    self.writer.line(f"for i in range({step.start}, {step.start + step.repeat}):", comment=comment)
                    self.writer.indent()
                    name = f"name={name_of(s, 0, call_, True)}"
                    self.writer.lines(call(f"{target} = {call_.function}", [target, *arguments, name], self.depth + 1))
                    self.writer.dedent()
                    continue
                name = f"name={name_of(s, 0, call_, False)}"
                self.writer.lines(
                    call(f"{target} = {call_.function}", [*sources, *arguments, name], self.depth), comment=comment
                )
                continue
            for c, call_ in enumerate(step.calls):
                into = target if c == len(step.calls) - 1 else "x"
                if c > 0:
                    given = "(x)"
                elif step.kind == "merge":
                    given = f"([{', '.join(sources)}])"
                else:
                    given = f"({sources[0]})"
                arguments = [*render(s, c, call_), f"name={name_of(s, c, call_, False)}"]
                self.writer.lines(
                    call(f"{into} = {call_.function}", arguments, self.depth, trailer=given), comment=comment
                )


def _plain_arguments(s: int, c: int, call_: _Call) -> list[str]:
    return [*call_.positional, *(f"{key}={text}" for key, text in call_.keywords)]


def _emit_function(writer: SourceWriter, emission: _Emission, function: _Function, label: str) -> None:
    plan = function.plans[0]
    bodies = emission.bodies[plan.model]
    use = bodies.model.block_uses[plan.use]
    body = bodies.bodies[plan.use]
    prefix = use.name + "_"
    names = FreeNames(set(emission.module_names.taken))
    readers = [i for i, step in enumerate(plan.steps) if set(step.reads) & set(use.inputs)]
    if len(use.inputs) == 1 and readers == [0] and use.output != use.inputs[0]:
        inputs = ["x"]
    elif len(use.inputs) == 1:
        inputs = ["inputs"]
    elif len(use.input_names) == len(use.inputs):
        inputs = [names.free(name) for name in use.input_names]
    else:
        inputs = [names.free(f"inputs_{n}") for n in range(1, len(use.inputs) + 1)]
    parameters = [parameter for parameter, _ in function.parameters]
    names.taken.update(parameters)
    variables = dict(zip(use.inputs, inputs, strict=True))
    variables.update(
        zip((s.value for s in plan.steps), _variables(plan.steps, body.results, names, prefix), strict=True)
    )
    slot_parameter = {slot: parameter for parameter, slots in function.parameters for slot in slots}

    def value(slot: Slot) -> str:
        return slot_parameter.get(slot) or function.constants[slot]

    def render(s: int, c: int, call_: _Call) -> list[str]:
        positional = [value(("pos", s, c, p)) for p in range(len(call_.positional))]
        keys = function.keywords.get((s, c), [key for key, _ in call_.keywords])
        return [*positional, *(f"{key}={value(('kw', s, c, key))}" for key in keys)]

    def name_of(s: int, c: int, call_: _Call, looped: bool) -> str:
        if not call_.name.startswith(prefix):
            return value(("name", s, c))
        text = f"name + {literal('_' + call_.name[len(prefix) :])}"
        return f"{text} + str(i)" if looped else text

    variant = f", variant {function.variant}" if function.variant > 1 else ""
    if (plan.model, plan.use) in emission.backbones.holding_weights:
        parameters.append(WEIGHTS_PARAMETER)
    writer.lines(call(f"def {function.name}", [*inputs, *parameters, "name"], trailer=":"))
    writer.indent()
    writer.line(
        f'"""Block {word(function.block)}{variant}: each layer is named name + \'_\' + its name in the block."""'
    )
    if function.variant > 1:
        writer.line(f"# A variant: these uses of block {word(function.block)} emit other layers than the first's.")
    _BodyWriter(writer, label, 1).skipped(body.skipped_lines())
    _BodyWriter(writer, label, 1).steps(plan.steps, variables, render, name_of)
    writer.line(f"return {variables[use.output]}")
    writer.dedent()


def _emit_model(writer: SourceWriter, emission: _Emission, index: int, label: str) -> None:
    report = emission.reports[index]
    model = report.model
    body = emission.bodies[index].bodies[None]
    steps = emission.steps(index, None)
    names = FreeNames(set(emission.module_names.taken))
    if len(model.inputs) == 1:
        inputs = ["inputs"]
    else:
        inputs = [names.free(_python_name(model_input.name)) for model_input in model.inputs]
    variables = dict(zip((i.name for i in model.inputs), inputs, strict=True))
    variables.update(zip((s.value for s in steps), _variables(steps, body.results, names, ""), strict=True))

    parameters = build_parameters(emission.backbones.of_model(index))
    writer.line(f"def {build_function_name(model.name)}({parameters}) -> keras.Model:")
    writer.indent()
    writer.line(_model_docstring(report))
    if not model.inputs:
        writer.line("inputs = keras.Input(shape=(), name='input')")
    for model_input, variable in zip(model.inputs, inputs, strict=True):
        writer.lines(
            call(
                f"{variable} = keras.Input",
                [_keyword("shape", model_input.shape), _keyword("name", model_input.name)],
                indent=1,
            ),
            comment=f"{label}:{model_input.span.line}",
        )
    writer_ = _BodyWriter(writer, label, 1)
    writer_.skipped(body.skipped_lines())

    def name_of(s: int, c: int, call_: _Call, looped: bool) -> str:
        return f"{literal(call_.name)} + str(i)" if looped else literal(call_.name)

    writer_.steps(steps, variables, _plain_arguments, name_of)
    given = inputs or ["inputs"]
    outputs = [variables[name] for name in model.outputs] or given
    inputs_text = given[0] if len(given) == 1 else f"[{', '.join(given)}]"
    outputs_text = outputs[0] if len(outputs) == 1 else f"[{', '.join(outputs)}]"
    writer.lines(call("return keras.Model", [inputs_text, outputs_text, _keyword("name", model.name)], indent=1))
    writer.dedent()


def emit_keras(reports: Sequence[ModelReport], source_path: str) -> str:
    """A Python module that builds every model of a checked spec with Keras 3: one function per block
    (per variant of it), called once per use, and one build function per model.

    `source_path` is the spec's path as the user gave it; it appears only in comments, plainly
    when it is made of ordinary path characters, by repr() otherwise.
    """
    label = source_label(source_path)
    emission = _Emission(reports)
    uses_layers = any(report.model.layers for report in reports)
    used_kinds = {type(layer) for report in reports for layer in report.model.layers}

    writer = SourceWriter()
    write_header(
        writer,
        source_path,
        "keras",
        "Keras 3 models generated from a specc spec: one build function per model, and MODELS by name."
        + header_note(emission.backbones.plans.values()),
    )
    writer.line()
    trained = [report for report in reports if training_of(report) is not None]
    if trained:
        cosine = any(r.model.training.schedule and r.model.training.schedule.name == "cosine" for r in trained)
        for line in STANDARD_IMPORTS:
            if line != "import math" or cosine:
                writer.line(line)
        writer.line()
    writer.line("import keras")
    if trained:
        for line in FRAMEWORK_IMPORTS:
            writer.line(line)
    if uses_layers:
        writer.line("from keras import layers")
    for kind, helper_source in ((MinPool2D, MIN_POOLING_SOURCE), (ScaledAdd, SCALED_ADD_SOURCE)):
        if kind in used_kinds:
            writer.top_level_block(helper_source)
    for function in emission.functions:
        writer.line()
        writer.line()
        _emit_function(writer, emission, function, label)
    for index in range(len(reports)):
        writer.line()
        writer.line()
        _emit_model(writer, emission, index, label)
        if training_of(reports[index]) is not None:
            write_training(writer, reports[index], build_function_name(reports[index].model.name), label)
    writer.line()
    writer.line()
    write_models_table(writer, [(r.model.name, build_function_name(r.model.name)) for r in reports])
    writer.line()
    if trained:
        write_script(writer, reports)
        return writer.text()
    writer.line("if __name__ == '__main__':")
    writer.indent()
    writer.line("for build in MODELS.values():")
    writer.indent()
    writer.line("build().summary()")
    writer.dedent()
    writer.dedent()
    return writer.text()
