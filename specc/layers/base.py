"""IR stage: what every layer kind shares: LayerBase, shapes, the records a layer's rules return, and the
sliding-window arithmetic the windowed kinds use."""

# No `from __future__ import annotations`: pydantic reads the field annotations when each class is
# created, at every start-up, and as strings they would be evaluated once per class and base class.
import functools
import math
import re
from typing import Annotated, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from specc.arithmetic import (
    explain_window_length,
    same_padding_amounts,
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


def per_element(operations: int, output_shape: Shape, what: str) -> CostTerms:
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


def needs_feature_map(layer: LayerBase, input_shape: Shape) -> Problem | None:
    if len(input_shape) == 3:
        return None
    return Problem(
        "E302",
        f"{layer.spellings[0]} expects a height x width x channels input, got {format_shape(input_shape)}",
        hint="2-D layers come before `flatten`; the input is written `input HxWxC`",
    )


def windowed(
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


def strides_or_dilation(layer: LayerBase) -> LayerBase:
    """The layer, validated: Keras refuses strides > 1 together with dilation_rate > 1 in these kinds."""
    if max(layer.strides) > 1 and max(layer.dilation_rate) > 1:
        raise PydanticCustomError(
            "strides_with_dilation",
            "strides > 1 cannot be combined with dilation_rate > 1 (Keras refuses it)",
        )
    return layer


def sliding_windows(
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


# The vocabulary of the augmentation kinds' arguments (specc.layers.augmentation), which lowering reads to
# place bare words. A factor as Keras takes it: a number f (the range [-f, f], clipped to the kind's bounds) or a
# pair (lo, hi).
Factor = float | tuple[float, ...]
FillMode = Literal["reflect", "wrap", "constant", "nearest"]
FLIP_MODES: tuple[str, ...] = ("horizontal", "vertical", "horizontal_and_vertical")
FILL_MODES: tuple[str, ...] = ("reflect", "wrap", "constant", "nearest")


def params_working(terms: list[str], total: int) -> str:
    return f"params: {' + '.join(terms)} = {total}"


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
