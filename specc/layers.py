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
import re
from typing import Annotated, ClassVar, Literal, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from specc.arithmetic import (
    explain_window_length,
    same_padding_amounts,
    transposed_cropping,
    transposed_output_length,
    window_output_length,
)
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

    def frozen(self) -> "Inference":
        """The same layer with `trainable = False`: Keras then counts every weight as non-trainable."""
        return self._replace(trainable_params=0, non_trainable_params=self.params)


class AxisWindow(NamedTuple):
    """How one spatial axis of a layer's output reads its input, in the terms of a convolution.

    The input is first spread out `upsample` times (upsample - 1 zeros after each position, as a transposed
    convolution spreads it), `pad_before` zeros go before it (a negative amount crops), and output position i
    reads `window` consecutive positions from i*stride. Receptive fields and the input sizes a network accepts
    are computed from these, so that they follow the same windows as the shapes.
    """

    window: int
    stride: int
    pad_before: int
    upsample: int = 1


class Cost(NamedTuple):
    """What a layer computes for ONE example. `macs`: multiply-accumulates of its weighted linear map (convolutions
    and dense; 0 for every other kind). `flops`: 2 per MAC (a multiply and an add; bias adds and fused activations
    are not counted, as torch.utils.flop_counter, fvcore and published figures count) plus the kind's stated
    element-wise operations. docs/figures.md gives every kind's rule."""

    macs: int
    flops: int


class CostTerms(NamedTuple):
    """A layer's cost as products of whole numbers, so that the arithmetic can be shown as well as summed.

    MACs are the sum of the products in `macs`; FLOPs are 2 per MAC plus the sum of the products in `flops`
    (each product's first factor is the operations per output element); `what` says what those operations are.
    """

    macs: tuple[tuple[int, ...], ...] = ()
    flops: tuple[tuple[int, ...], ...] = ()
    what: str = ""

    def cost(self) -> Cost:
        macs = sum(math.prod(term) for term in self.macs)
        return Cost(macs, 2 * macs + sum(math.prod(term) for term in self.flops))

    def working(self) -> tuple[str, ...]:
        """The arithmetic, for people: `MACs: 26*26*3*3*1*32 = 194,688`, then the FLOPs."""
        macs, flops = self.cost()
        lines = []
        if self.macs:
            products = " + ".join("*".join(map(str, term)) for term in self.macs)
            lines.append(f"MACs: {products} = {macs:,}")
        if self.flops:
            products = " + ".join("*".join(map(str, term)) for term in self.flops)
            doubled = f"2*{macs:,} + " if macs else ""
            lines.append(f"FLOPs: {doubled}{products} = {flops:,}" + (f" ({self.what})" if self.what else ""))
        elif macs:
            lines.append(f"FLOPs: 2*{macs:,} = {flops:,} (a multiply and an add per MAC)")
        else:
            lines.append("FLOPs: 0" + (f" ({self.what})" if self.what else ""))
        return tuple(lines)


def _per_element(operations: int, output_shape: Shape, what: str) -> CostTerms:
    """`operations` FLOPs for each element of the output (none when 0)."""
    return CostTerms(flops=((operations, *output_shape),) if operations else (), what=what)


def written_value(value: object) -> str:
    """An argument's value as a spec writes it: `3x3`, `((1, 1), (2, 2))`, `true`, `same`."""
    if isinstance(value, tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return "x".join(map(str, value))
    if isinstance(value, tuple):
        return "(" + ", ".join(written_value(v) for v in value) + ")"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


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
    # False freezes the layer: its weights are then counted non-trainable, as `layer.trainable = False` makes Keras
    # count them (see Inference.frozen).
    trainable: bool = Field(True, description="false freezes the layer's weights (counted non-trainable)")

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
    # True for Keras's random preprocessing layers (random_flip...): active in training only, the identity at
    # inference, so they keep the shape and cost nothing in the figures.
    augmentation: ClassVar[bool] = False

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

    # True where every output reads every position of its input (global pooling, flatten).
    reads_whole_map: ClassVar[bool] = False

    def axis_windows(self, input_shape: Shape) -> tuple[AxisWindow, AxisWindow] | None:
        """How the output's height and width read the input's (this input shape, which the layer accepts);
        None when each output position reads the same position of its input, as element-wise kinds do."""
        return None

    # False for kinds that are a view of their input or the identity at inference in both frameworks (flatten,
    # reshape, dropout): their output takes no memory of its own.
    allocates_output: ClassVar[bool] = True

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """The kind's cost rule for one example, as products (see CostTerms), for inputs it accepts and the
        output `infer` gave. Every kind states its own; there is no default."""
        raise NotImplementedError

    def cost(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> Cost:
        """MACs and FLOPs for ONE example (see Cost and docs/figures.md)."""
        return self.cost_terms(input_shapes, output_shape).cost()


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


def _strides_or_dilation(layer: "Conv2D | Conv2DTranspose") -> "Conv2D | Conv2DTranspose":
    """The layer, validated: Keras refuses strides > 1 together with dilation_rate > 1 in these kinds."""
    if max(layer.strides) > 1 and max(layer.dilation_rate) > 1:
        raise PydanticCustomError(
            "strides_with_dilation",
            "strides > 1 cannot be combined with dilation_rate > 1 (Keras refuses it)",
        )
    return layer


def _sliding_windows(
    input_shape: Shape,
    window: tuple[int, int],
    strides: tuple[int, int],
    padding: str | ExplicitPadding,
    dilation: tuple[int, int] = (1, 1),
) -> tuple[AxisWindow, AxisWindow]:
    """The AxisWindows of a convolution or pooling window: the dilated window, the strides, and the zeros
    before each axis ('same' pads as Keras does, the odd one after)."""
    found = []
    for axis, size in enumerate(input_shape[:2]):
        effective = dilation[axis] * (window[axis] - 1) + 1
        if padding == "same":
            before = same_padding_amounts(size, window[axis], strides[axis], dilation[axis])[0]
        elif padding == "valid":
            before = 0
        else:
            before = padding[axis][0]
        found.append(AxisWindow(effective, strides[axis], before))
    return found[0], found[1]


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
        return _strides_or_dilation(self)

    def axis_windows(self, input_shape: Shape) -> tuple[AxisWindow, AxisWindow]:
        return _sliding_windows(input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate)

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """MACs: H'*W'*kh*kw*C_in*filters, every output element one kernel's worth (dilation adds none)."""
        (height, width, filters), (kh, kw) = output_shape, self.kernel_size
        return CostTerms(macs=((height, width, kh, kw, input_shapes[0][2], filters),))

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

    def axis_windows(self, input_shape: Shape) -> tuple[AxisWindow, AxisWindow]:
        return _sliding_windows(input_shape, self.pool_size, self.strides, self.padding)

    # Operations per output element for a window of this many positions (max/min: comparisons; average: adds
    # and the divide).
    @staticmethod
    def window_operations(window: int) -> int:
        raise NotImplementedError

    window_what: ClassVar[str] = ""

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """FLOPs per output element from the pool window (padding positions of 'same' counted as positions)."""
        window = self.pool_size[0] * self.pool_size[1]
        return _per_element(self.window_operations(window), output_shape, self.window_what)

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

    window_what: ClassVar = "window - 1 comparisons per output element"

    @staticmethod
    def window_operations(window: int) -> int:
        return window - 1


class AvgPool2D(_Pool2D):
    """Average pooling, Keras `AveragePooling2D`; 'same' averages only the real inputs."""

    kind: Literal["avgpool2d"] = "avgpool2d"
    spellings: ClassVar = ("avgpool", "avgpool2d", "avg_pool", "averagepooling2d")
    keras_class: ClassVar = "AveragePooling2D"

    window_what: ClassVar = "window - 1 adds and a divide per output element"

    @staticmethod
    def window_operations(window: int) -> int:
        return window


class MinPool2D(_Pool2D):
    """Min pooling, which Keras lacks: the backends emit it as -maxpool(-x), so its shape is max pooling's."""

    kind: Literal["minpool2d"] = "minpool2d"
    spellings: ClassVar = ("minpool", "minpool2d", "min_pool")
    keras_class: ClassVar = "MinPooling2D"

    window_what: ClassVar = "window - 1 comparisons per output element"

    @staticmethod
    def window_operations(window: int) -> int:
        return window - 1


class _GlobalPool2D(LayerBase):
    reads_whole_map: ClassVar = True
    keepdims: bool = Field(False, description="keep height and width, as 1x1")

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """FLOPs: H*W per channel (adds and the divide, or comparisons), over the whole map."""
        height, width, channels = input_shapes[0]
        return CostTerms(flops=((height, width, channels),), what="H*W per channel")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        """Output: (C,), one value per channel over the whole height and width, or (1, 1, C) with keepdims;
        no parameters."""
        (input_shape,) = input_shapes
        if problem := _needs_feature_map(self, input_shape):
            return problem
        return Inference((1, 1, input_shape[2]) if self.keepdims else (input_shape[2],), 0)


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
        if problem := _needs_feature_map(self, input_shape):
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

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """At inference the statistics fold into one scale and one shift: 2 per element."""
        return _per_element(2, output_shape, "scale and shift per element, statistics folded in")

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

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        return CostTerms(what="the identity at inference")

    allocates_output: ClassVar = False

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        return Inference(input_shape, 0)


class Flatten(LayerBase):
    """Keras `Flatten`: (H, W, C) -> (H*W*C,), in channels-last order; no parameters."""

    kind: Literal["flatten"] = "flatten"
    spellings: ClassVar = ("flatten",)
    keras_class: ClassVar = "Flatten"
    reads_whole_map: ClassVar = True

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        return CostTerms(what="a view of its input")

    allocates_output: ClassVar = False

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

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """MACs: C_in*units for each position of the input's leading axes (one vector: C_in*units)."""
        (*leading, features) = input_shapes[0]
        return CostTerms(macs=((*leading, features, self.units),))

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

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """1 per element, whatever the function (linear: 0)."""
        if self.activation == "linear":
            return CostTerms(what="linear is the identity")
        return _per_element(1, output_shape, f"{self.activation} per element")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        return Inference(input_shape, 0)


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
        return _sliding_windows(input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate)

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """MACs: H'*W'*kh*kw*C*depth_multiplier."""
        height, width, _ = output_shape
        kh, kw = self.kernel_size
        return CostTerms(macs=((height, width, kh, kw, input_shapes[0][2], self.depth_multiplier),))

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        if problem := _needs_feature_map(self, input_shape):
            return problem
        spatial = _windowed(self, input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate)
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
            working=(*working, _params_working(terms, weights + biases)),
            largest_weight=weights,
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
        return _sliding_windows(input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate)

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """MACs: the depthwise step at the output's size, H'*W'*kh*kw*C*m, plus the pointwise one, H'*W'*C*m*filters."""
        height, width, filters = output_shape
        (kh, kw), channels, multiplier = self.kernel_size, input_shapes[0][2], self.depth_multiplier
        return CostTerms(
            macs=((height, width, kh, kw, channels, multiplier), (height, width, channels, multiplier, filters))
        )

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        if problem := _needs_feature_map(self, input_shape):
            return problem
        spatial = _windowed(self, input_shape, self.kernel_size, self.strides, self.padding, self.dilation_rate)
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
            working=(*working, _params_working(terms, total)),
            largest_weight=max(depthwise, pointwise),
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
        return _strides_or_dilation(self)

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
        if problem := _needs_feature_map(self, input_shape):
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
            working=(*working, _params_working(terms, weights + biases)),
            largest_weight=weights,
        )


Interpolation = Literal["nearest", "bilinear"]


class UpSampling2D(LayerBase):
    """Keras `UpSampling2D`: each row repeated size[0] times and each column size[1] times (nearest), or
    bilinear interpolation to that size. Output: (H*sh, W*sw, C); no parameters."""

    kind: Literal["upsampling2d"] = "upsampling2d"
    spellings: ClassVar = ("upsample",)
    keras_class: ClassVar = "UpSampling2D"
    positional: ClassVar = ("size",)
    word_arguments: ClassVar = ("interpolation",)

    size: Pair = Field((2, 2), description="upsampling factors, height x width")
    interpolation: Interpolation = Field("nearest", description="nearest or bilinear")

    @classmethod
    def bare_word_role(cls, word: str) -> str | None:
        """`upsample 2 bilinear`: the interpolation may be a bare word."""
        return "interpolation" if word in ("nearest", "bilinear") else None

    def axis_windows(self, input_shape: Shape) -> tuple[AxisWindow, AxisWindow]:
        """Nearest: output i copies input i // size, the one input in a window of `size` spread positions.
        Bilinear: output i mixes two neighbouring inputs, within a window of 2*size (an input more at edges)."""
        if self.interpolation == "nearest":
            return AxisWindow(self.size[0], 1, self.size[0] - 1, self.size[0]), AxisWindow(
                self.size[1], 1, self.size[1] - 1, self.size[1]
            )
        return AxisWindow(2 * self.size[0], 1, self.size[0], self.size[0]), AxisWindow(
            2 * self.size[1], 1, self.size[1], self.size[1]
        )

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """Nearest copies (0); bilinear weighs four inputs per output element: 4 multiplies and 3 adds, 7."""
        if self.interpolation == "nearest":
            return CostTerms(what="nearest copies its inputs")
        return _per_element(7, output_shape, "bilinear: 4 multiplies and 3 adds per output element")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        if problem := _needs_feature_map(self, input_shape):
            return problem
        (height, width, channels), (sh, sw) = input_shape, self.size
        return Inference(
            (height * sh, width * sw, channels),
            0,
            working=(f"height: {height}*{sh} = {height * sh}", f"width: {width}*{sw} = {width * sw}"),
        )


class Cropping2D(LayerBase):
    """Keras `Cropping2D`: (H - top - bottom, W - left - right, C); no parameters. Both must stay positive."""

    kind: Literal["cropping2d"] = "cropping2d"
    spellings: ClassVar = ("crop",)
    keras_class: ClassVar = "Cropping2D"
    positional: ClassVar = ("cropping",)

    cropping: ExplicitPadding = Field(
        description="rows and columns removed: P, (PH, PW) or ((top, bottom), (left, right))"
    )

    def axis_windows(self, input_shape: Shape) -> tuple[AxisWindow, AxisWindow]:
        (top, _), (left, _) = self.cropping
        return AxisWindow(1, 1, -top), AxisWindow(1, 1, -left)

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        return CostTerms(what="a slice of its input")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        if problem := _needs_feature_map(self, input_shape):
            return problem
        (top, bottom), (left, right) = self.cropping
        height, width, channels = input_shape
        lengths = []
        for axis, size, before, after in (("height", height, top, bottom), ("width", width, left, right)):
            if size - before - after <= 0:
                return Problem(
                    "E301",
                    f"output {axis} would be {size - before - after}: input {axis} {size}, cropping {before} + {after}",
                    argument="cropping",
                    hint=f"crop fewer than {size} in all along the {axis}",
                )
            lengths.append(size - before - after)
        return Inference(
            (lengths[0], lengths[1], channels),
            0,
            working=(
                f"height: {height} - {top} - {bottom} = {lengths[0]}",
                f"width: {width} - {left} - {right} = {lengths[1]}",
            ),
        )


MAX_RESHAPE_RANK = 8
TargetDimension = Annotated[int, Field(ge=-1, le=MAX_EXTENT)]


class Reshape(LayerBase):
    """Keras `Reshape`, of the channels-last layout: the same elements in a new shape; no parameters.

    One dimension may be -1: it is the element count divided by the product of the others, which must
    divide it. The target's element count must equal the input's.
    """

    kind: Literal["reshape"] = "reshape"
    spellings: ClassVar = ("reshape",)
    keras_class: ClassVar = "Reshape"
    positional: ClassVar = ("target_shape",)

    target_shape: tuple[TargetDimension, ...] = Field(
        min_length=1, max_length=MAX_RESHAPE_RANK, description="the new shape: 7x7x64, or (7, 7, -1) to infer one"
    )

    @model_validator(mode="after")
    def _one_inferred_dimension(self) -> Self:
        if 0 in self.target_shape or self.target_shape.count(-1) > 1:
            raise PydanticCustomError(
                "target_shape", "target_shape takes sizes of at least 1, and at most one -1 to be inferred"
            )
        return self

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        return CostTerms(what="a view of its input")

    allocates_output: ClassVar = False

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        elements = math.prod(input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        written = format_shape(self.target_shape)
        if -1 in self.target_shape:
            if elements % known:
                return Problem(
                    "E204",
                    f"target_shape {written}: the input {format_shape(input_shape)} has {elements} elements, "
                    f"which {known} does not divide",
                    argument="target_shape",
                    hint=f"the other dimensions must multiply to a divisor of {elements}",
                )
            output = tuple(elements // known if d == -1 else d for d in self.target_shape)
            working = (f"-1: {elements} / {known} = {elements // known}",)
        else:
            if known != elements:
                return Problem(
                    "E204",
                    f"target_shape {written} has {known} elements, the input {format_shape(input_shape)} "
                    f"has {elements}",
                    argument="target_shape",
                    hint="the element count must stay the same; write one dimension as -1 to have it inferred",
                )
            output, working = self.target_shape, ()
        return Inference(output, 0, working=working)


class Rescaling(LayerBase):
    """Keras `Rescaling`: x*scale + offset, elementwise; same shape, no parameters."""

    kind: Literal["rescaling"] = "rescaling"
    spellings: ClassVar = ("rescaling",)
    keras_class: ClassVar = "Rescaling"
    positional: ClassVar = ("scale",)

    scale: float = Field(description="factor each value is multiplied by")
    offset: float = Field(0.0, description="added after scaling")

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """2 per element (multiply, add), 1 without an offset."""
        if self.offset == 0:
            return _per_element(1, output_shape, "a multiply per element")
        return _per_element(2, output_shape, "a multiply and an add per element")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        return Inference(input_shape, 0)


Statistic = float | tuple[float, ...]
NonNegativeStatistic = Annotated[float, Field(ge=0)] | tuple[Annotated[float, Field(ge=0)], ...]


class Normalization(LayerBase):
    """Keras `Normalization` over the last axis: (x - mean) / sqrt(variance).

    Given, each of mean and variance is one number, or one per channel (C of them), and Keras creates no
    weights. Left out (both), the statistics are the layer's own weights, set by `adapt` or by loading a
    trained model (EfficientNet's): mean and variance per channel and a count, 2*C + 1, none trainable.
    """

    kind: Literal["normalization"] = "normalization"
    spellings: ClassVar = ("normalization",)
    keras_class: ClassVar = "Normalization"

    mean: Statistic | None = Field(None, description="subtracted: a number, or one per channel (none: a weight)")
    variance: NonNegativeStatistic | None = Field(
        None, description="divided by its square root: a number, or one per channel (none: a weight)"
    )

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        if (self.mean is None) != (self.variance is None):
            raise PydanticCustomError(
                "statistics_pair", "give both mean and variance, or neither (then they are weights, set by adapt)"
            )
        return self

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """2 per element: subtract the mean, multiply by 1/sqrt(variance) (computed once per channel)."""
        return _per_element(2, output_shape, "a subtract and a multiply per element")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        channels = input_shape[-1]
        if self.mean is None:
            return Inference(
                input_shape,
                0,
                2 * channels + 1,
                working=(f"params: 2*{channels} + 1 non-trainable (mean, variance, count) = {2 * channels + 1}",),
                largest_weight=channels,
            )
        for argument in ("mean", "variance"):
            value = getattr(self, argument)
            if isinstance(value, tuple) and len(value) not in (1, channels):
                return Problem(
                    "E204",
                    f"{argument} has {len(value)} values, the input {format_shape(input_shape)} has {channels} "
                    "channels",
                    argument=argument,
                    hint=f"give one number, or {channels}: one per channel",
                )
        return Inference(input_shape, 0)


class LayerNorm(LayerBase):
    """Keras `LayerNormalization` over the last axis, C channels: each position normalised across its channels.

    Parameters: gamma (C, if scale) and beta (C, if center), both trainable; no statistics are kept.
    """

    kind: Literal["layernorm"] = "layernorm"
    spellings: ClassVar = ("layernorm",)
    keras_class: ClassVar = "LayerNormalization"

    epsilon: Annotated[float, Field(gt=0)] = Field(1e-3, description="added to the variance (Keras's default 1e-3)")
    center: bool = Field(True, description="learn an offset beta")
    scale: bool = Field(True, description="learn a factor gamma")

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """5 per element for the normalisation (an add for the mean; subtract the mean, square and add for the
        variance; multiply by 1/sqrt(variance + epsilon)), plus 1 for gamma and 1 for beta when present. The
        per-position divides and square roots are not counted."""
        operations = 5 + int(self.scale) + int(self.center)
        return _per_element(operations, output_shape, "5 to normalise, 1 each for gamma and beta, per element")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        channels = input_shape[-1]
        factors = int(self.center) + int(self.scale)
        return Inference(
            input_shape,
            factors * channels,
            working=(f"params: {factors}*{channels} (gamma, beta) = {factors * channels}",),
            largest_weight=channels if factors else 0,
        )


class ReLU(LayerBase):
    """Keras `ReLU`: x from threshold up to max_value (clipped there), negative_slope*(x - threshold) below it.
    `relu max_value=6` is ReLU6. Same shape, no parameters."""

    kind: Literal["relu"] = "relu"
    spellings: ClassVar = ("relu",)
    keras_class: ClassVar = "ReLU"

    max_value: Annotated[float, Field(ge=0)] | None = Field(None, description="the largest output (none: no limit)")
    negative_slope: Annotated[float, Field(ge=0)] = Field(0.0, description="slope below the threshold")
    threshold: Annotated[float, Field(ge=0)] = Field(0.0, description="where the identity starts")

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """1 per element, as any standalone activation."""
        return _per_element(1, output_shape, "relu per element")

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

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """k - 1 operations per output element for k operands (Average: k, the divide included)."""
        operations = len(input_shapes) - 1
        return _per_element(operations, output_shape, f"{operations} per element for {len(input_shapes)} operands")

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

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """k per output element for k operands: k - 1 adds and the divide."""
        operations = len(input_shapes)
        return _per_element(operations, output_shape, f"{operations - 1} adds and a divide per element")


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


class ScaledAdd(_ElementwiseMerge):
    """keras.applications' `CustomScaleLayer`, Inception-ResNet's scaled residual: the first operand plus the
    second times `scale` (`scaled_add x branch scale=0.17`). Exactly two operands; no parameters."""

    kind: Literal["scaled_add"] = "scaled_add"
    spellings: ClassVar = ("scaled_add",)
    keras_class: ClassVar = "CustomScaleLayer"
    exact_operands: ClassVar = 2

    scale: float = Field(description="the factor the second operand is multiplied by")

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """2 per element: a multiply by scale and an add."""
        return _per_element(2, output_shape, "a multiply and an add per element")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        """As the other merges, but of one rank: its call adds the tensors as they come, batch axis included,
        so a shorter operand would line its batch up with another axis (Keras's Add layer expands it first)."""
        first, second = input_shapes
        if len(first) != len(second):
            return Problem(
                "E304",
                f"scaled_add needs operands of one rank: {format_shape(first)} and {format_shape(second)} are not",
                hint="reshape the smaller one first, e.g. `reshape (1, 1, C)`",
            )
        return super().infer(input_shapes)


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

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        return CostTerms(what="copies its operands")

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


# Augmentation: Keras's random image preprocessing layers. Each is active in training only and the identity at
# inference (Keras returns its input unchanged when training is off), so each keeps the shape, has no weights
# and costs nothing in the figures, which are for inference. Their ranges are checked as Keras 3 checks them
# when the layer is constructed (keras/src/layers/preprocessing/image_preprocessing), so that what Keras refuses
# is E204 at the argument and what it accepts is accepted.

# A factor as Keras takes it: a number f (the range [-f, f], clipped to the kind's bounds) or a pair (lo, hi).
Factor = float | tuple[float, ...]
FillMode = Literal["reflect", "wrap", "constant", "nearest"]
FLIP_MODES: tuple[str, ...] = ("horizontal", "vertical", "horizontal_and_vertical")
FILL_MODES: tuple[str, ...] = ("reflect", "wrap", "constant", "nearest")


def _out_of_keras_range(message: str) -> PydanticCustomError:
    return PydanticCustomError("keras_range", message)


def _bounded_factor(argument: str, factor: Factor, low: float, high: float) -> Factor:
    """BaseImagePreprocessingLayer._set_factor: a number in [low, high]; a pair (a, b) with a <= high and
    b >= low (Keras sorts it and checks nothing more)."""
    if isinstance(factor, tuple):
        if len(factor) != 2:
            raise _out_of_keras_range(f"{argument} is a number or a pair (low, high)")
        if factor[0] > high or factor[1] < low:
            raise _out_of_keras_range(
                f"{argument} (a, b) needs a <= {high:g} and b >= {low:g} (Keras refuses other pairs)"
            )
    elif not low <= factor <= high:
        raise _out_of_keras_range(f"{argument} must be in [{low:g}, {high:g}] (Keras refuses other values)")
    return factor


def _each_in(argument: str, factor: Factor, low: float, high: float, low_included: bool) -> Factor:
    """RandomZoom's and RandomTranslation's _set_factor: a number, or a pair, each number in the range."""
    if isinstance(factor, tuple) and len(factor) != 2:
        raise _out_of_keras_range(f"{argument} is a number or a pair (low, high)")
    for number in factor if isinstance(factor, tuple) else (factor,):
        if number > high or number < low or (number == low and not low_included):
            raise _out_of_keras_range(
                f"{argument} must be in {'[' if low_included else '('}{low:g}, {high:g}], each number of a pair too "
                "(Keras refuses other values)"
            )
    return factor


class _Augmentation(LayerBase):
    """A random preprocessing layer: the identity at inference, active in training only."""

    augmentation: ClassVar = True
    allocates_output: ClassVar = False

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """0: the identity at inference (the figures are for inference)."""
        return CostTerms(what="the identity at inference, active in training only")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        if problem := _needs_feature_map(self, input_shape):
            return problem
        return Inference(input_shape, 0)


class RandomFlip(_Augmentation):
    """Keras `RandomFlip`: flips each image left-right (horizontal), top-bottom (vertical) or either, at random.
    Keras does not check `mode` (another word silently flips nothing); specc does."""

    kind: Literal["random_flip"] = "random_flip"
    spellings: ClassVar = ("random_flip",)
    keras_class: ClassVar = "RandomFlip"
    positional: ClassVar = ("mode",)
    word_arguments: ClassVar = ("mode",)

    mode: Literal[FLIP_MODES] = Field(  # type: ignore[valid-type]
        "horizontal_and_vertical", description="horizontal, vertical or horizontal_and_vertical"
    )

    @classmethod
    def bare_word_role(cls, word: str) -> str | None:
        """`random_flip horizontal`: the mode is a bare word (any word: a wrong one is told the modes)."""
        return "mode"


class _Geometric(_Augmentation):
    """What rotation, zoom and translation share: how points from outside the image are filled."""

    fill_mode: FillMode = Field("reflect", description="reflect, wrap, constant or nearest")
    interpolation: Literal["nearest", "bilinear"] = Field("bilinear", description="nearest or bilinear")
    fill_value: float = Field(0.0, description="the value outside the image when fill_mode=constant")


class RandomRotation(_Geometric):
    """Keras `RandomRotation`: rotates by a random fraction of a full turn in [-factor, factor] (or (lo, hi))."""

    kind: Literal["random_rotation"] = "random_rotation"
    spellings: ClassVar = ("random_rotation",)
    keras_class: ClassVar = "RandomRotation"
    positional: ClassVar = ("factor",)

    factor: Factor = Field(description="fraction of a full turn: f for [-f, f], or (lo, hi); within [-1, 1]")

    @field_validator("factor")
    @classmethod
    def _keras_range(cls, factor: Factor) -> Factor:
        return _bounded_factor("factor", factor, -1.0, 1.0)


class RandomZoom(_Geometric):
    """Keras `RandomZoom`: zooms by a random fraction (negative zooms in, positive out) of the height, and of the
    width (the same as the height, keeping the aspect, when width_factor is not given)."""

    kind: Literal["random_zoom"] = "random_zoom"
    spellings: ClassVar = ("random_zoom",)
    keras_class: ClassVar = "RandomZoom"
    positional: ClassVar = ("height_factor", "width_factor")

    height_factor: Factor = Field(description="f for [-f, f], or (lo, hi); each in (-1, 1]")
    width_factor: Factor | None = Field(None, description="as height_factor; none keeps the aspect")

    @field_validator("height_factor", "width_factor")
    @classmethod
    def _keras_range(cls, factor: Factor | None, info: ValidationInfo) -> Factor | None:
        return None if factor is None else _each_in(str(info.field_name), factor, -1.0, 1.0, low_included=False)


class RandomTranslation(_Geometric):
    """Keras `RandomTranslation`: shifts by a random fraction of the height and of the width."""

    kind: Literal["random_translation"] = "random_translation"
    spellings: ClassVar = ("random_translation",)
    keras_class: ClassVar = "RandomTranslation"
    positional: ClassVar = ("height_factor", "width_factor")

    height_factor: Factor = Field(description="fraction of the height: f for [-f, f], or (lo, hi); each in [-1, 1]")
    width_factor: Factor = Field(description="fraction of the width: f for [-f, f], or (lo, hi); each in [-1, 1]")

    @field_validator("height_factor", "width_factor")
    @classmethod
    def _keras_range(cls, factor: Factor, info: ValidationInfo) -> Factor:
        return _each_in(str(info.field_name), factor, -1.0, 1.0, low_included=True)


class _Photometric(_Augmentation):
    """Contrast and brightness: the range the image's values lie in."""

    value_range: tuple[float, float] = Field((0.0, 255.0), description="the range of the image's values, (low, high)")


class RandomContrast(_Photometric):
    """Keras `RandomContrast`: (x - mean) * c + mean per image and channel, c drawn from [1 - lo, 1 + hi]."""

    kind: Literal["random_contrast"] = "random_contrast"
    spellings: ClassVar = ("random_contrast",)
    keras_class: ClassVar = "RandomContrast"
    positional: ClassVar = ("factor",)

    factor: Factor = Field(description="f for [1 - f, 1 + f], or (lo, hi); within [0, 1]")

    @field_validator("factor")
    @classmethod
    def _keras_range(cls, factor: Factor) -> Factor:
        return _bounded_factor("factor", factor, 0.0, 1.0)


class RandomBrightness(_Photometric):
    """Keras `RandomBrightness`: adds a random fraction of value_range's width to each image."""

    kind: Literal["random_brightness"] = "random_brightness"
    spellings: ClassVar = ("random_brightness",)
    keras_class: ClassVar = "RandomBrightness"
    positional: ClassVar = ("factor",)

    factor: Factor = Field(description="fraction of the value range: f for [-f, f], or (lo, hi); within [-1, 1]")

    @field_validator("factor")
    @classmethod
    def _keras_range(cls, factor: Factor) -> Factor:
        return _bounded_factor("factor", factor, -1.0, 1.0)


def _params_working(terms: list[str], total: int) -> str:
    return f"params: {' + '.join(terms)} = {total}"


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
    | DepthwiseConv2D
    | SeparableConv2D
    | Conv2DTranspose
    | UpSampling2D
    | Cropping2D
    | Reshape
    | Rescaling
    | Normalization
    | LayerNorm
    | ReLU
    | Add
    | Subtract
    | Multiply
    | Average
    | Maximum
    | Minimum
    | ScaledAdd
    | Concat
    | RandomFlip
    | RandomRotation
    | RandomZoom
    | RandomTranslation
    | RandomContrast
    | RandomBrightness,
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
    DepthwiseConv2D,
    SeparableConv2D,
    Conv2DTranspose,
    UpSampling2D,
    Cropping2D,
    Reshape,
    Rescaling,
    Normalization,
    LayerNorm,
    ReLU,
    Add,
    Subtract,
    Multiply,
    Average,
    Maximum,
    Minimum,
    ScaledAdd,
    Concat,
    RandomFlip,
    RandomRotation,
    RandomZoom,
    RandomTranslation,
    RandomContrast,
    RandomBrightness,
)

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
def keras_auto_name(cls: type[LayerBase]) -> str:
    """The stem of an unnamed layer's name, as Keras makes it: its class in snake case (`Conv2D` ->
    `conv2d`, `BatchNormalization` -> `batch_normalization`), keras.src.utils.naming.to_snake_case's rule."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", cls.keras_class)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def parameter_names(cls: type[LayerBase]) -> tuple[str, ...]:
    """The arguments a kind takes, by their Keras names; `trainable`, which every layer takes, last."""
    return (*(name for name in cls.model_fields if name not in LayerBase.model_fields), "trainable")
