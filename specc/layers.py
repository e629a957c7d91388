"""IR stage: every layer kind specc knows, each a pydantic model with its shape rule and parameter count.

A layer kind is one class here and nothing else: the fields are its normalised arguments
(a 3 becomes (3, 3) at lowering), the class variables say how it is spelt in a spec, and
`infer` is the one place that computes its output shape and parameters. The checker,
the summary, the editor's hover and the backends' verification all call `infer`.
Shapes leave out the batch axis and are channels-last, as in Keras.
"""

# No `from __future__ import annotations`: pydantic reads the field annotations when each class is
# created, at every start-up, and as strings they would be evaluated once per class and base class.
import functools
import math
from typing import Annotated, ClassVar, Literal, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from specc.arithmetic import explain_window_length, window_output_length
from specc.diagnostics import Span

# Larger extents are rejected before any arithmetic; Keras and PyTorch index with 32-bit ints.
MAX_EXTENT = 2**31 - 1

# The most elements one float32 tensor can have in both frameworks. PyTorch counts a tensor's storage in bytes
# as a signed 64-bit integer, 4 bytes an element, and refuses more ("Storage size calculation overflowed");
# TensorFlow refuses more than 2**63 - 1 elements. Below it, whether a tensor fits is a matter of memory.
MAX_TENSOR_ELEMENTS = 2**61 - 1
MAX_TENSOR_ELEMENTS_TEXT = "2**61 - 1"

Shape = tuple[int, ...]
Extent = Annotated[int, Field(gt=0, le=MAX_EXTENT)]
Pair = tuple[Extent, Extent]
Amount = Annotated[int, Field(ge=0, le=MAX_EXTENT)]
ExplicitPadding = tuple[tuple[Amount, Amount], tuple[Amount, Amount]]
WindowPadding = Literal["valid", "same"]

# Keras activations that keep the shape of their input and take no argument.
ACTIVATIONS: tuple[str, ...] = (
    "linear",
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "swish",
    "mish",
    "sigmoid",
    "hard_sigmoid",
    "log_sigmoid",
    "hard_silu",
    "hard_swish",
    "tanh",
    "hard_tanh",
    "softmax",
    "log_softmax",
    "softplus",
    "softsign",
    "exponential",
)
Activation = Literal[ACTIVATIONS]  # type: ignore[valid-type]


class Problem(NamedTuple):
    """A reason a layer cannot take its input (or a warning about it), aimed at one argument."""

    code: str
    message: str
    argument: str | None = None
    hint: str | None = None


class Inference(NamedTuple):
    """What one layer makes of its input: shape, parameter counts and the arithmetic, for people."""

    output_shape: Shape
    trainable_params: int
    non_trainable_params: int = 0
    working: tuple[str, ...] = ()
    warnings: tuple[Problem, ...] = ()
    # Elements of the layer's largest weight tensor (a convolution's kernel, kh*kw*C_in*filters): a framework
    # allocates each tensor whole, so this, not the total, is what must fit in MAX_TENSOR_ELEMENTS.
    largest_weight: int = 0

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params


def format_shape(shape: Shape) -> str:
    return "x".join(str(d) for d in shape) if shape else "()"


class LayerBase(BaseModel):
    """What every layer has: its name, where it was written, and where each argument was."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False, defer_build=True)

    kind: str
    name: str
    span: Span
    argument_spans: dict[str, Span] = Field(default_factory=dict)
    # The names of the values the layer reads (other layers' names, or inputs'), in order.
    inputs: tuple[str, ...] = ()
    # The block use the layer was made by (an index into Model.block_uses), None at the model's own level.
    scope: int | None = None

    # How the kind is written in a spec; the first spelling is the canonical one.
    spellings: ClassVar[tuple[str, ...]]
    # The Keras class the kind corresponds to, shown in summaries.
    keras_class: ClassVar[str]
    # How many inputs the layer takes: one, or for merges None, meaning two or more.
    arity: ClassVar[int | None] = 1
    # Arguments that may be given without a key, in order.
    positional: ClassVar[tuple[str, ...]] = ()
    # Arguments a bare word can fill, tried in order (`relu` is an activation, `same` a padding).
    word_arguments: ClassVar[tuple[str, ...]] = ()
    # What `padding` may be for this kind: these words, and amounts of zeros when explicit_padding.
    padding_modes: ClassVar[tuple[str, ...]] = ()
    explicit_padding: ClassVar[bool] = False

    @classmethod
    def fill_defaults(cls, given: dict[str, object]) -> dict[str, object]:
        """The arguments with defaults that depend on other arguments filled in; most kinds have none."""
        return given

    @classmethod
    def bare_word_role(cls, word: str) -> str | None:
        """The parameter a bare word fills for this kind (`relu` an activation, `same` a padding), or None."""
        if "activation" in cls.word_arguments and word in ACTIVATIONS:
            return "activation"
        if "padding" in cls.word_arguments and word.lower() in cls.padding_modes:
            return "padding"
        return None

    def span_of(self, argument: str | None) -> Span:
        """The span of an argument as written, or of the whole layer when it was defaulted."""
        return self.argument_spans.get(argument or "", self.span)

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        """Output shape and parameters for these input shapes, one per input (`arity` of them, checked
        before the call), or the Problem that stops the layer taking them."""
        raise NotImplementedError


def _needs_feature_map(layer: LayerBase, input_shape: Shape) -> Problem | None:
    if len(input_shape) == 3:
        return None
    return Problem(
        "E302",
        f"{layer.spellings[0]} expects a height x width x channels input, got {format_shape(input_shape)}",
        hint="2-D layers come before `flatten`; the input is written `input HxWxC`",
    )


def _windowed(
    layer: LayerBase,
    input_shape: Shape,
    window: tuple[int, int],
    strides: tuple[int, int],
    padding: str | ExplicitPadding,
    dilation: tuple[int, int] = (1, 1),
    window_argument: str = "kernel_size",
) -> tuple[tuple[int, int], tuple[str, ...]] | Problem:
    """Height and width after a sliding window, with the working; a Problem if either is not positive."""
    lengths, working = [], []
    for axis, size, f, s, d, pad in zip(
        ("height", "width"),
        input_shape[:2],
        window,
        strides,
        dilation,
        (padding, padding) if isinstance(padding, str) else padding,
        strict=True,
    ):
        length = window_output_length(size, f, s, pad, d)
        working.append(explain_window_length(axis, size, f, s, pad, d))
        if length <= 0:
            padding_text = padding if isinstance(padding, str) else f"{pad}"
            extent = "high" if axis == "height" else "wide"
            return Problem(
                "E301",
                f"output {axis} would be {length}: input {axis} {size}, {window_argument} {f}, "
                f"strides {s}, padding {padding_text}" + (f", dilation_rate {d}" if d != 1 else ""),
                argument=window_argument,
                hint=f"the input is only {size} {extent} at this layer; use padding=same, "
                f"a smaller {window_argument}, or fewer downsampling layers before it",
            )
        lengths.append(length)
    return (lengths[0], lengths[1]), tuple(working)


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
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise PydanticCustomError(
                "strides_with_dilation",
                "strides > 1 cannot be combined with dilation_rate > 1 (Keras refuses it)",
            )
        return self

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        if problem := _needs_feature_map(self, input_shape):
            return problem
        spatial = _windowed(self, input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate)
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


class _Pool2D(LayerBase):
    """A pooling window; strides default to the pool size at lowering, as in Keras."""

    positional: ClassVar = ("pool_size",)
    word_arguments: ClassVar = ("padding",)
    padding_modes: ClassVar = ("valid", "same")

    pool_size: Pair = Field((2, 2), description="window height x width")
    strides: Pair = Field((2, 2), description="step of the window; defaults to pool_size")
    padding: WindowPadding = Field("valid", description="valid or same")

    @classmethod
    def fill_defaults(cls, given: dict[str, object]) -> dict[str, object]:
        """Strides default to the pool size, as in Keras."""
        if "pool_size" in given and "strides" not in given:
            return {**given, "strides": given["pool_size"]}
        return given

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        """Output: (H', W', C) by `window_output_length` with the pool as window; no parameters."""
        (input_shape,) = input_shapes
        if problem := _needs_feature_map(self, input_shape):
            return problem
        spatial = _windowed(self, input_shape, self.pool_size, self.strides, self.padding, window_argument="pool_size")
        if isinstance(spatial, Problem):
            return spatial
        (height, width), working = spatial
        return Inference((height, width, input_shape[2]), 0, working=working)


class MaxPool2D(_Pool2D):
    """Max pooling, Keras `MaxPooling2D`."""

    kind: Literal["maxpool2d"] = "maxpool2d"
    spellings: ClassVar = ("maxpool", "maxpool2d", "max_pool", "maxpooling2d")
    keras_class: ClassVar = "MaxPooling2D"


class AvgPool2D(_Pool2D):
    """Average pooling, Keras `AveragePooling2D`; 'same' averages only the real inputs."""

    kind: Literal["avgpool2d"] = "avgpool2d"
    spellings: ClassVar = ("avgpool", "avgpool2d", "avg_pool", "averagepooling2d")
    keras_class: ClassVar = "AveragePooling2D"


class MinPool2D(_Pool2D):
    """Min pooling, which Keras lacks: the backends emit it as -maxpool(-x), so its shape is max pooling's."""

    kind: Literal["minpool2d"] = "minpool2d"
    spellings: ClassVar = ("minpool", "minpool2d", "min_pool")
    keras_class: ClassVar = "MinPooling2D"


class _GlobalPool2D(LayerBase):
    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        """Output: (C,), one value per channel over the whole height and width; no parameters."""
        (input_shape,) = input_shapes
        if problem := _needs_feature_map(self, input_shape):
            return problem
        return Inference((input_shape[2],), 0)


class GlobalAvgPool2D(_GlobalPool2D):
    """Keras `GlobalAveragePooling2D`."""

    kind: Literal["global_avgpool2d"] = "global_avgpool2d"
    spellings: ClassVar = ("global_avgpool", "global_avgpool2d", "globalavgpool", "globalaveragepooling2d")
    keras_class: ClassVar = "GlobalAveragePooling2D"


class GlobalMaxPool2D(_GlobalPool2D):
    """Keras `GlobalMaxPooling2D`."""

    kind: Literal["global_maxpool2d"] = "global_maxpool2d"
    spellings: ClassVar = ("global_maxpool", "global_maxpool2d", "globalmaxpool", "globalmaxpooling2d")
    keras_class: ClassVar = "GlobalMaxPooling2D"


class ZeroPad2D(LayerBase):
    """Keras `ZeroPadding2D`: (H + top + bottom, W + left + right, C); no parameters."""

    kind: Literal["zeropad2d"] = "zeropad2d"
    spellings: ClassVar = ("zeropad", "zeropad2d", "zeropadding2d")
    keras_class: ClassVar = "ZeroPadding2D"
    positional: ClassVar = ("padding",)
    explicit_padding: ClassVar = True

    padding: ExplicitPadding = Field(
        ((1, 1), (1, 1)), description="zeros added: P, (PH, PW) or ((top, bottom), (left, right))"
    )

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        if problem := _needs_feature_map(self, input_shape):
            return problem
        (top, bottom), (left, right) = self.padding
        height, width, channels = input_shape
        return Inference(
            (height + top + bottom, width + left + right, channels),
            0,
            working=(
                f"height: {height} + {top} + {bottom} = {height + top + bottom}",
                f"width: {width} + {left} + {right} = {width + left + right}",
            ),
        )


class BatchNorm(LayerBase):
    """Keras `BatchNormalization` over the last axis, C channels.

    Parameters: gamma (C, if scale) and beta (C, if center) are trainable; the moving mean
    and variance (2*C) are not, so the usual total is 4*C with 2*C non-trainable.
    """

    kind: Literal["batchnorm"] = "batchnorm"
    spellings: ClassVar = ("batchnorm", "bn", "batch_norm", "batchnormalization")
    keras_class: ClassVar = "BatchNormalization"

    epsilon: Annotated[float, Field(gt=0)] = Field(1e-3, description="added to the variance (Keras's default 1e-3)")
    momentum: Annotated[float, Field(ge=0, le=1)] = Field(
        0.99, description="moving-average momentum (Keras's convention)"
    )
    center: bool = Field(True, description="learn an offset beta")
    scale: bool = Field(True, description="learn a factor gamma")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        channels = input_shape[-1]
        trainable = channels * (int(self.center) + int(self.scale))
        return Inference(
            input_shape,
            trainable,
            2 * channels,
            working=(
                (
                    f"params: {int(self.center) + int(self.scale)}*{channels} trainable (gamma, beta) + "
                    f"2*{channels} non-trainable (moving mean, variance)"
                ),
            ),
            largest_weight=channels,
        )


class Dropout(LayerBase):
    """Keras `Dropout`: the identity at inference; no parameters."""

    kind: Literal["dropout"] = "dropout"
    spellings: ClassVar = ("dropout",)
    keras_class: ClassVar = "Dropout"
    positional: ClassVar = ("rate",)

    rate: Annotated[float, Field(ge=0, lt=1)] = Field(description="fraction of inputs zeroed while training, in [0, 1)")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        return Inference(input_shape, 0)


class Flatten(LayerBase):
    """Keras `Flatten`: (H, W, C) -> (H*W*C,), in channels-last order; no parameters."""

    kind: Literal["flatten"] = "flatten"
    spellings: ClassVar = ("flatten",)
    keras_class: ClassVar = "Flatten"

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        size = math.prod(input_shape)
        return Inference((size,), 0, working=(f"{' * '.join(map(str, input_shape))} = {size}",))


class Dense(LayerBase):
    """Keras `Dense` on the last axis: (..., C_in) -> (..., units).

    Parameters: C_in*units weights, plus `units` biases when use_bias. On a feature map it
    acts per position, as Keras does, which is usually a forgotten flatten: warned about.
    """

    kind: Literal["dense"] = "dense"
    spellings: ClassVar = ("dense", "fc", "linear")
    keras_class: ClassVar = "Dense"
    positional: ClassVar = ("units",)
    word_arguments: ClassVar = ("activation",)

    units: Extent = Field(description="number of outputs")
    activation: Activation = Field("linear", description="activation applied to the output")
    use_bias: bool = Field(True, description="whether a bias is added per unit")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        features = input_shape[-1]
        weights = features * self.units
        biases = self.units if self.use_bias else 0
        warnings = ()
        if len(input_shape) > 1:
            warnings = (
                Problem(
                    "W301",
                    f"dense on a {format_shape(input_shape)} input acts on its last axis only, "
                    f"giving {format_shape((*input_shape[:-1], self.units))}",
                    hint="add `flatten` (or a global pooling) before it if one vector per example is meant",
                ),
            )
        return Inference(
            (*input_shape[:-1], self.units),
            weights + biases,
            working=(
                f"params: {features}*{self.units}" + (f" + {self.units}" if biases else "") + f" = {weights + biases}",
            ),
            warnings=warnings,
            largest_weight=weights,
        )


class ActivationLayer(LayerBase):
    """Keras `Activation`: a standalone activation; same shape, no parameters."""

    kind: Literal["activation"] = "activation"
    spellings: ClassVar = ("activation",)
    keras_class: ClassVar = "Activation"
    positional: ClassVar = ("activation",)
    word_arguments: ClassVar = ("activation",)

    activation: Activation = Field(description="the activation function")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        return Inference(input_shape, 0)


def broadcast_shapes(first: Shape, second: Shape) -> Shape | None:
    """The shape of an element-wise operation on two shapes, as Keras's merge layers compute it; None when
    they do not fit. Shapes line up from the last axis; where one has 1 the other's extent is taken, and a
    shorter shape is read with 1s in front (Keras expands it after the batch axis)."""
    if len(first) < len(second):
        first, second = second, first
    if not second:
        return first
    lead = first[: len(first) - len(second)]
    tail = []
    for a, b in zip(first[len(first) - len(second) :], second, strict=True):
        if a != b and 1 not in (a, b):
            return None
        tail.append(b if a == 1 else a)
    return (*lead, *tail)


class _ElementwiseMerge(LayerBase):
    """A merge of two or more values element by element, Keras's `Add`, `Multiply`...: no parameters.

    Output: the operands' shapes broadcast (`broadcast_shapes`), in order; operands that do not fit are E304.
    """

    arity: ClassVar = None
    # Keras's Subtract takes exactly two operands; the others two or more.
    exact_operands: ClassVar[int | None] = None

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        shape: Shape | None = input_shapes[0]
        for other in input_shapes[1:]:
            merged = broadcast_shapes(shape, other)
            if merged is None:
                return Problem(
                    "E304",
                    f"{self.spellings[0]} needs operands of one shape, or shapes that broadcast "
                    f"(an extent of 1 stretches): {format_shape(shape)} and {format_shape(other)} do not",
                    hint="make the shapes agree, e.g. a 1x1 conv with strides on the shortcut "
                    "(a projection) to match channels and size",
                )
            shape = merged
        return Inference(shape, 0)


class Add(_ElementwiseMerge):
    """Keras `Add`: the sum of its operands."""

    kind: Literal["add"] = "add"
    spellings: ClassVar = ("add",)
    keras_class: ClassVar = "Add"


class Subtract(_ElementwiseMerge):
    """Keras `Subtract`: the first operand minus the second (exactly two)."""

    kind: Literal["subtract"] = "subtract"
    spellings: ClassVar = ("subtract",)
    keras_class: ClassVar = "Subtract"
    exact_operands: ClassVar = 2


class Multiply(_ElementwiseMerge):
    """Keras `Multiply`: the element-wise product, as in squeeze-and-excitation's scaling."""

    kind: Literal["multiply"] = "multiply"
    spellings: ClassVar = ("multiply",)
    keras_class: ClassVar = "Multiply"


class Average(_ElementwiseMerge):
    """Keras `Average`: the element-wise mean."""

    kind: Literal["average"] = "average"
    spellings: ClassVar = ("average",)
    keras_class: ClassVar = "Average"


class Maximum(_ElementwiseMerge):
    """Keras `Maximum`: the element-wise maximum."""

    kind: Literal["maximum"] = "maximum"
    spellings: ClassVar = ("maximum",)
    keras_class: ClassVar = "Maximum"


class Minimum(_ElementwiseMerge):
    """Keras `Minimum`: the element-wise minimum."""

    kind: Literal["minimum"] = "minimum"
    spellings: ClassVar = ("minimum",)
    keras_class: ClassVar = "Minimum"


class Concat(LayerBase):
    """Keras `Concatenate`: operands joined along one axis, channels by default.

    `axis` counts as Keras counts it, the batch axis being 0: -1 (or 3 for a feature map) is channels,
    1 height, 2 width. Output: the operands' common shape with the axis's extents summed; every other
    extent must be equal and every operand of the same rank (E304). No parameters.
    """

    kind: Literal["concat"] = "concat"
    spellings: ClassVar = ("concat", "concatenate")
    keras_class: ClassVar = "Concatenate"
    arity: ClassVar = None

    axis: int = Field(-1, description="axis to join on, counted as Keras does (batch is 0); -1 is channels")

    @model_validator(mode="after")
    def _not_the_batch_axis(self) -> Self:
        if self.axis == 0:
            raise PydanticCustomError("batch_axis", "axis 0 is the batch axis")
        return self

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        first = input_shapes[0]
        rank = len(first)
        # Keras's axis counts the batch: axis k of the batched tensor is axis k-1 here.
        index = self.axis if self.axis < 0 else self.axis - 1
        if not -rank <= index < rank:
            return Problem(
                "E304",
                f"concat axis {self.axis} is outside a {format_shape(first)} input, which has axes 1 to {rank} "
                "(0 is the batch)",
                argument="axis",
                hint="axis=-1 joins channels",
            )
        index %= rank
        for other in input_shapes[1:]:
            same_elsewhere = len(other) == rank and all(
                a == b for axis, (a, b) in enumerate(zip(first, other, strict=True)) if axis != index
            )
            if not same_elsewhere:
                return Problem(
                    "E304",
                    f"concat needs operands that agree on every axis but axis {self.axis}: "
                    f"{format_shape(first)} and {format_shape(other)} do not",
                    hint="concat joins along one axis (channels by default); crop, pad or resize so that "
                    "the others match",
                )
        joined = sum(shape[index] for shape in input_shapes)
        output = (*first[:index], joined, *first[index + 1 :])
        return Inference(
            output, 0, working=(f"axis {self.axis}: {' + '.join(str(s[index]) for s in input_shapes)} = {joined}",)
        )


Layer = Annotated[
    Conv2D
    | MaxPool2D
    | AvgPool2D
    | MinPool2D
    | GlobalAvgPool2D
    | GlobalMaxPool2D
    | ZeroPad2D
    | BatchNorm
    | Dropout
    | Flatten
    | Dense
    | ActivationLayer
    | Add
    | Subtract
    | Multiply
    | Average
    | Maximum
    | Minimum
    | Concat,
    Field(discriminator="kind"),
]

LAYER_KINDS: tuple[type[LayerBase], ...] = (
    Conv2D,
    MaxPool2D,
    AvgPool2D,
    MinPool2D,
    GlobalAvgPool2D,
    GlobalMaxPool2D,
    ZeroPad2D,
    BatchNorm,
    Dropout,
    Flatten,
    Dense,
    ActivationLayer,
    Add,
    Subtract,
    Multiply,
    Average,
    Maximum,
    Minimum,
    Concat,
)

MERGE_KINDS: tuple[type[LayerBase], ...] = tuple(cls for cls in LAYER_KINDS if cls.arity is None)

# Every way a layer kind may be written, lower-cased, to its class.
KIND_BY_SPELLING: dict[str, type[LayerBase]] = {
    spelling: cls for cls in LAYER_KINDS for spelling in (*cls.spellings, cls.keras_class.lower())
}

# Short forms of parameter names that read better in a spec; each stands for the Keras name.
PARAMETER_SHORT_FORMS: dict[str, str] = {
    "kernel": "kernel_size",
    "dilation": "dilation_rate",
    "bias": "use_bias",
    "pool": "pool_size",
}


@functools.cache
def parameter_names(cls: type[LayerBase]) -> tuple[str, ...]:
    """The arguments a kind takes, by their Keras names."""
    return tuple(name for name in cls.model_fields if name not in LayerBase.model_fields)
