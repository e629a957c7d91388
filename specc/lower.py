"""IR stage: syntax tree -> typed IR (specc.ir), with a diagnostic for every argument that does not fit.

Lowering gives meaning to the words of a spec: it finds each layer kind, places positional
arguments and bare words, normalises values (3 becomes (3, 3)), and lets the pydantic
models enforce the domain rules. Nothing here raises for a user's mistake.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import re
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, get_args

from pydantic import ValidationError

from specc import syntax
from specc.backbones import keras_layer_order, network_layers, zoo_layer_names, zoo_model
from specc.diagnostics import Diagnostic, Fix, Span, once_each
from specc.ir import Backbone, BlockUse, Budget, BudgetLimit, BudgetMetric, Model, ModelInput, SpecFile, Training
from specc.layers import (
    ACTIVATIONS,
    FILL_MODES,
    FLIP_MODES,
    KIND_BY_SPELLING,
    KINDS,
    MAX_EXTENT,
    PARAMETER_SHORT_FORMS,
    LayerBase,
    keras_auto_name,
    parameter_names,
)
from specc.lowering_cache import BUILT_KEPT_PER_STATEMENT, Expansion, LoweringCache, Placed
from specc.zoo import ZOO_BY_NAME, ZooNetwork

if TYPE_CHECKING:
    from specc import call_lines


# Per-kind facts asked for on every layer line (parameter_names is cached in specc.layers);
# pydantic's model_fields is slow to read, and the editor re-lowers a spec on each keystroke.
@functools.cache
def _kind_name(cls: type[LayerBase]) -> str:
    """The IR kind of a class (`conv2d`)."""
    return cls.model_fields["kind"].default


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# What a name inside a block may be: it follows the use's name and `_`, so `1_conv` is fine there.
_NAME_PART = re.compile(r"[A-Za-z0-9_]+\Z")
# Enough for any network's stage; it also bounds the work a spec can ask for.
_MAX_REPEAT = 1000
# Blocks inside blocks, at most this deep; deeper is surely a mistake and would only cost time.
_MAX_BLOCK_DEPTH = 32
# Repetitions multiply (a repeated block of repeated blocks), so the layers they make are capped as a whole.
_MAX_EXPANDED_LAYERS = 200_000
# Enough for any image or sequence layout; it also keeps flattened sizes small enough to print.
MAX_INPUT_RANK = 8


class _Unfit(Exception):
    """A value of the wrong form for its parameter; caught within this module, reported as E203.

    `replacement` is the value that was probably meant, when there is one to offer as a fix.
    """

    def __init__(self, expected: str, hint: str | None = None, replacement: str | None = None):
        self.expected = expected
        self.hint = hint
        self.replacement = replacement


def _shortened(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[: limit - 4]}... ({len(text)} characters)"


def render(value: syntax.Value) -> str:
    """A value as it would be written in a spec, for messages; very long numbers are shortened."""
    if isinstance(value, syntax.Number):
        return _shortened(value.text)
    if isinstance(value, syntax.Size):
        return _shortened(value.text or "x".join(map(str, value.dims)))
    if isinstance(value, syntax.Word):
        return value.text
    if isinstance(value, syntax.String):
        return '"' + value.text.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    return "(" + ", ".join(render(item) for item in value.items) + ")"


def closest(word: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    matches = difflib.get_close_matches(word.lower(), [c.lower() for c in candidates], n=1, cutoff=0.6)
    if not matches:
        return None
    return next(c for c in candidates if c.lower() == matches[0])


def documented_kind(word: str) -> type[LayerBase] | None:
    """The layer kind a word names as the README spells kinds: in lower case (`conv`, `conv2d`), or as Keras
    spells its class (`Conv2D`). Kinds are case-sensitive, as activations and parameter names are, so
    `Conv2d` or `CONV` names none (and E201 says which spelling was meant)."""
    cls = KIND_BY_SPELLING.get(word)
    if cls is None and word != word.lower():
        cls = KIND_BY_SPELLING.get(word.lower())
        if cls is not None and word != cls.keras_class:
            return None
    return cls


def _is_input(word: str) -> bool:
    return word in ("input", "Input")


def _documented_case(word: str) -> str | None:
    """The documented spelling of a kind written in another case: the Keras class for a word in mixed case
    (`Conv2d` -> `Conv2D`), else the lower-case spelling (`CONV` -> `conv`, `DENSE` -> `dense`)."""
    lower = word.lower()
    if lower == "input":
        return "input"
    cls = KIND_BY_SPELLING.get(lower)
    if cls is None:
        return None
    return cls.keras_class if lower == cls.keras_class.lower() and not word.isupper() else lower


def _keras_call(statement: syntax.LayerStatement) -> call_lines.Rewrite | None:
    """The spec line meant by a statement written as a Keras call, `MaxPooling2D((2, 2))`: the kind with a
    tuple glued to it and nothing after. (Calls with keywords do not parse; specc.parse hints at those.)"""
    if len(statement.arguments) != 1:
        return None
    argument = statement.arguments[0]
    kind = statement.kind_span
    if argument.key is not None or not isinstance(argument.value, syntax.Tuple):
        return None
    if (argument.value.span.line, argument.value.span.column) != (kind.end_line, kind.end_column):
        return None
    from specc import call_lines  # only a spec with this mistake needs its patterns compiled

    return call_lines.rewrite(statement.kind + render(argument.value))


def _unquoted(cls: type[LayerBase], target: str, value: syntax.Value) -> str | None:
    """The word a quoted string holds when the word, unquoted, is what the parameter takes: `"same"` -> same."""
    if not isinstance(value, syntax.String) or not IDENTIFIER.match(value.text):
        return None
    try:
        _converter(cls, target)(syntax.Word(text=value.text, span=value.span))
    except _Unfit:
        return None
    return value.text


def _replace(span: Span, old: str, new: str | None) -> tuple[Fix, ...]:
    """The fix that writes `new` where `old` stands, for a "did you mean" suggestion; none without one."""
    if new is None:
        return ()
    return (Fix(title=f"Replace `{old}` with `{new}`", span=span, new_text=new),)


# Converters from a syntax value to the python value a layer field takes, by field form.


def _integer(value: syntax.Value) -> int:
    if isinstance(value, syntax.Number) and value.is_integer:
        return value.integer
    raise _Unfit("an integer")


def _number(value: syntax.Value) -> float:
    if isinstance(value, syntax.Number):
        try:
            return float(value.text)
        except ValueError:
            pass
    raise _Unfit("a number")


def _integers(value: syntax.Value) -> tuple[int, ...]:
    if isinstance(value, syntax.Size):
        if value.open:
            raise _Unfit("sizes written as numbers", hint="only an input's height and width may be left open (`?`)")
        return value.dims
    if isinstance(value, syntax.Tuple):
        return tuple(_integer(item) for item in value.items)
    raise _Unfit("a size")


def _pair(value: syntax.Value) -> tuple[int, int]:
    """3 -> (3, 3); 3x5 and (3, 5) -> (3, 5)."""
    if isinstance(value, syntax.Number):
        n = _integer(value)
        return (n, n)
    try:
        dims = _integers(value)
    except _Unfit:
        dims = ()
    if len(dims) == 2:
        return (dims[0], dims[1])
    raise _Unfit("an integer or a height x width pair such as 3x3 or (3, 5)")


def _explicit_padding(value: syntax.Value) -> tuple[tuple[int, int], tuple[int, int]]:
    """P -> ((P, P), (P, P)); (PH, PW) -> ((PH, PH), (PW, PW)); ((t, b), (l, r)) as written."""
    expected = "P, (PH, PW) or ((top, bottom), (left, right))"
    if isinstance(value, syntax.Tuple) and value.items and all(isinstance(i, syntax.Tuple) for i in value.items):
        if len(value.items) == 2 and all(len(i.items) == 2 for i in value.items):  # type: ignore[union-attr]
            (top, bottom), (left, right) = (tuple(_integer(x) for x in i.items) for i in value.items)  # type: ignore[union-attr]
            return ((top, bottom), (left, right))
        raise _Unfit(expected)
    try:
        height, width = _pair(value)
    except _Unfit:
        raise _Unfit(expected) from None
    return ((height, height), (width, width))


def _padding(cls: type[LayerBase], value: syntax.Value) -> str | tuple[tuple[int, int], tuple[int, int]]:
    """A padding mode word the kind accepts, or amounts of zeros when the kind takes explicit padding."""
    modes = " or ".join(cls.padding_modes)
    expected = (f"{modes}, or amounts " if modes else "amounts ") + "P, (PH, PW) or ((top, bottom), (left, right))"
    if not cls.explicit_padding:
        expected = modes
    if isinstance(value, syntax.Word):
        if value.text.lower() in cls.padding_modes:
            return value.text.lower()
        raise _Unfit(expected)
    if not cls.explicit_padding:
        raise _Unfit(expected)
    try:
        return _explicit_padding(value)
    except _Unfit:
        raise _Unfit(expected) from None


def _word(value: syntax.Value) -> str:
    if isinstance(value, (syntax.Word, syntax.String)):
        return value.text
    raise _Unfit("a name")


def _activation(value: syntax.Value) -> str:
    name = _word(value)
    if name in ACTIVATIONS:
        if isinstance(value, syntax.String):
            # As with `padding="same"`: a word goes without quotes, and E203 says so (with the fix).
            raise _Unfit("the name of a Keras activation")
        return name
    match = closest(name, ACTIVATIONS)
    raise _Unfit(
        "the name of a Keras activation",
        hint=f"did you mean `{match}`?" if match else f"choose from: {', '.join(ACTIVATIONS)}",
        replacement=match,
    )


def _boolean(value: syntax.Value) -> bool:
    if isinstance(value, syntax.Word) and value.text.lower() in ("true", "false"):
        return value.text.lower() == "true"
    raise _Unfit("true or false")


def _numbers(value: syntax.Value) -> float | tuple[float, ...]:
    """A number, or a tuple of numbers (one per channel)."""
    if isinstance(value, syntax.Tuple):
        try:
            return tuple(_number(item) for item in value.items)
        except _Unfit:
            pass
    elif isinstance(value, syntax.Number):
        return _number(value)
    raise _Unfit("a number or a tuple of numbers, one per channel")


def _target_shape(value: syntax.Value) -> tuple[int, ...]:
    """784 -> (784,); 7x7x64 -> (7, 7, 64); (7, 7, -1) as written, -1 standing for the one dimension inferred."""
    expected = "sizes such as 7x7x64, or (7, 7, -1) with at most one -1 to be inferred"
    try:
        dims = (_integer(value),) if isinstance(value, syntax.Number) else _integers(value)
    except _Unfit:
        raise _Unfit(expected) from None
    if not dims or dims.count(-1) > 1 or any(d == 0 or d < -1 for d in dims):
        raise _Unfit(expected)
    return dims


def _choice(expected: tuple[str, ...]) -> Callable[[syntax.Value], str]:
    """A converter for a word out of `expected`, with the closest one as the hint."""

    def convert(value: syntax.Value) -> str:
        word = _word(value)
        if word in expected and isinstance(value, syntax.Word):
            return word
        match = closest(word, expected)
        raise _Unfit(
            f"{', '.join(expected[:-1])} or {expected[-1]}",
            hint=f"did you mean `{match}`?" if match else None,
            replacement=match,
        )

    return convert


def _factor(value: syntax.Value) -> float | tuple[float, ...]:
    """An augmentation's range: a number f (for [-f, f]) or numbers (low, high); the kind checks how many."""
    if isinstance(value, syntax.Tuple):
        try:
            return tuple(_number(item) for item in value.items)
        except _Unfit:
            pass
    elif isinstance(value, syntax.Number):
        return _number(value)
    raise _Unfit("a number or a pair (low, high)")


def _value_range(value: syntax.Value) -> tuple[float, float]:
    """(low, high): Keras takes a pair and nothing else."""
    if isinstance(value, syntax.Tuple) and len(value.items) == 2:
        low, high = (_number(item) for item in value.items)
        return (low, high)
    raise _Unfit("a pair of numbers (low, high), such as (0, 255)")


def _interpolation(value: syntax.Value) -> str:
    if isinstance(value, syntax.Word) and value.text in ("nearest", "bilinear"):
        return value.text
    raise _Unfit("nearest or bilinear")


CONVERTERS: dict[str, Callable[[syntax.Value], Any]] = {
    "filters": _integer,
    "units": _integer,
    "kernel_size": _pair,
    "strides": _pair,
    "dilation_rate": _pair,
    "pool_size": _pair,
    "activation": _activation,
    "use_bias": _boolean,
    "center": _boolean,
    "scale": _boolean,
    "rate": _number,
    "epsilon": _number,
    "momentum": _number,
    "name": _word,
    "axis": _integer,
    "depth_multiplier": _integer,
    "output_padding": _pair,
    "size": _pair,
    "interpolation": _interpolation,
    "cropping": _explicit_padding,
    "target_shape": _target_shape,
    "keepdims": _boolean,
    "offset": _number,
    "mean": _numbers,
    "variance": _numbers,
    "max_value": _number,
    "negative_slope": _number,
    "threshold": _number,
    "correct_pad": _pair,
    "trainable": _boolean,
    "factor": _factor,
    "height_factor": _factor,
    "width_factor": _factor,
    "mode": _choice(FLIP_MODES),
    "fill_mode": _choice(FILL_MODES),
    "fill_value": _number,
    "value_range": _value_range,
}

# Parameters whose form depends on the kind, by the kind's IR name: Rescaling's scale is a factor, where
# batch and layer normalization's scale says whether to learn one.
KIND_CONVERTERS: dict[str, dict[str, Callable[[syntax.Value], Any]]] = {
    "rescaling": {"scale": _number},
    "scaled_add": {"scale": _number},
}


def _converter(cls: type[LayerBase], argument: str) -> Callable[[syntax.Value], Any]:
    if argument == "padding":
        return lambda value: _padding(cls, value)
    return KIND_CONVERTERS.get(_kind_name(cls), {}).get(argument) or CONVERTERS[argument]


_PYDANTIC_COMPARISONS = {
    "greater_than": ("greater than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"),
    "less_than_equal": ("at most", "le"),
}


def _mentioned(value: syntax.Value, parameters: dict[str, syntax.Value]) -> bool:
    if isinstance(value, syntax.Word):
        return value.text in parameters
    return isinstance(value, syntax.Tuple) and any(_mentioned(item, parameters) for item in value.items)


def _weights(value: syntax.Value) -> str | None:
    word = _word(value)
    if word in ("imagenet", "none"):
        return None if word == "none" else word
    raise _Unfit("imagenet or none", hint="weights=imagenet loads ImageNet's; weights=none starts from random ones")


def _pooling(value: syntax.Value) -> str | None:
    word = _word(value)
    if word in ("avg", "max", "none"):
        return None if word == "none" else word
    raise _Unfit("avg, max or none")


def _backbone_layer_names(statement: syntax.LayerStatement) -> frozenset[str]:
    """The names a backbone line's layers will take, read from the line before it is lowered (as written:
    a line with mistakes in it is reported when it is lowered)."""
    network, include_top, pooling = None, True, None
    for argument in statement.arguments:
        value = argument.value.text if isinstance(argument.value, syntax.Word) else None
        if argument.key is None and network is None and value is not None:
            network = ZOO_BY_NAME.get(value)
        elif argument.key == "include_top" and value is not None:
            include_top = value.lower() != "false"
        elif argument.key == "pooling" and value in ("avg", "max"):
            pooling = value
    if network is None:
        return frozenset()
    return zoo_layer_names(network, include_top, pooling)


def _own(accepted: tuple[str, ...]) -> list[str]:
    """A kind's own parameters, for hints that list them: `trainable`, which every layer takes, goes unsaid."""
    return [name for name in accepted if name != "trainable"]


def _inside(span: Span, outer: Span) -> bool:
    return (outer.line, outer.column) <= (span.line, span.column) <= (outer.end_line, outer.end_column)


# Budgets: what each metric counts, and the units its quantities take (`5M`, `200MB`, `1.5GiB`).
BUDGET_METRICS: tuple[str, ...] = get_args(BudgetMetric)
_BYTE_METRICS = ("memory",)
COUNT_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
BYTE_UNITS = {
    "B": 1,
    "KB": 10**3,
    "kB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
}
BUDGET_OPTIONS = ("batch", "dtype")
BUDGET_DTYPES: tuple[str, ...] = get_args(Budget.model_fields["dtype"].annotation)
_QUANTITY = re.compile(r"([0-9]+\.?[0-9]*|\.[0-9]+)([A-Za-z]*)\Z")


def budget_quantity(metric: str, text: str) -> int:
    """The count or bytes a quantity written for `metric` stands for: 5M -> 5000000, 1.5KiB -> 1536.

    Raises _Unfit (E203) for a unit the metric does not take, or a quantity that is no whole number."""
    bytes_ = metric in _BYTE_METRICS
    what = "bytes" if bytes_ else "a count"
    match = _QUANTITY.match(text)
    if match is None:
        raise _Unfit(f"{what} such as {'200MB' if bytes_ else '5M'}")
    number, unit = match.groups()
    units = BYTE_UNITS if bytes_ else COUNT_UNITS
    if unit not in units:
        if bytes_ and unit in COUNT_UNITS:
            meant = f"{number}{unit}B"
            hint = f"memory is in bytes: write {meant}"
            if unit:
                hint += f" (decimal, 1 MB = 10**6 bytes) or {number}{unit}iB (binary, 1 MiB = 2**20 bytes)"
            raise _Unfit("bytes, with a unit", hint=hint, replacement=meant)
        if not bytes_ and unit in BYTE_UNITS:
            meant = f"{number}{unit[0].upper()}" if unit in ("KB", "kB", "MB", "GB", "TB") else None
            raise _Unfit(
                "a count, not bytes",
                hint=f"{metric} counts {'weights' if metric in ('params', 'trainable') else 'operations'}"
                + (f": write {meant}" if meant else ": write a count such as 5M"),
                replacement=meant,
            )
        match_ = closest(unit, [u for u in units if u])
        raise _Unfit(
            f"{what} with a unit of " + ", ".join(u for u in units if u),
            hint=f"did you mean `{number}{match_}`?" if match_ else None,
            replacement=f"{number}{match_}" if match_ else None,
        )
    value = Decimal(number) * units[unit]
    if value != value.to_integral_value():
        raise _Unfit(f"a whole number of {'bytes' if bytes_ else metric}")
    return int(value)


class Scope:
    """Where lowering stands in a body: the model's own, or one use of a block inside it.

    It maps value names to the nodes that made them (the latest definition wins, as in Python), knows
    the value the next line reads by default, and, in a block, the parameters' arguments and the
    values the use reads. Layer names made here start with `prefix`."""

    def __init__(
        self,
        prefix: str,
        index: int | None,
        block: syntax.ModelBlock | None,
        parent: Scope | None = None,
        substitutions: dict[str, syntax.Value] | None = None,
        bound_inputs: tuple[str, ...] = (),
    ) -> None:
        self.prefix = prefix
        self.index = index
        self.block = block
        self.parent = parent
        self.substitutions = substitutions or {}
        # Where the arguments were written, once per use: what moves with the use when an edit moves it.
        self.substitution_spans = tuple(value.span for value in self.substitutions.values())
        self.bound_inputs = bound_inputs
        # The line that uses the block, where the arguments standing for its parameters were written.
        self.use_statement: syntax.LayerStatement | None = None
        self.next_input = 0
        self.values: dict[str, str] = {}
        # The name each value was first given here, by node, for messages (see Model.value_names).
        self.value_names: dict[str, str] = {}
        self.previous: str | None = None
        self.previous_end = 0
        self.output: str | None = None
        self.kind_counts: Counter[str] = Counter()
        self.depth = 0 if parent is None else parent.depth + 1

    def active_blocks(self) -> set[str]:
        """The blocks being expanded around this scope, itself included."""
        names, scope = set(), self
        while scope is not None:
            if scope.block is not None:
                names.add(scope.block.name)
            scope = scope.parent
        return names

    def names_defined_later(self, name: str, statement: syntax.LayerStatement) -> Span | None:
        """Where `name` is defined below `statement` in this body, if it is."""
        statements = self.block.statements if self.block is not None else self.body
        for later in statements:
            after = (later.span.line, later.span.column) > (statement.span.line, statement.span.column)
            if after and later.target is not None and later.target.text == name:
                return later.target.span
        return None

    body: tuple[syntax.LayerStatement, ...] = ()

    def mentions(self, statement: syntax.LayerStatement) -> bool:
        """Whether a line names any of this use's parameters as a bare word (alone or in a tuple)."""
        return any(_mentioned(argument.value, self.substitutions) for argument in statement.arguments)

    def substituted(self, statement: syntax.LayerStatement) -> syntax.LayerStatement:
        """The statement with each bare word that names a parameter replaced by the use's argument, which
        keeps its own span: a wrong argument is reported where the block is used."""
        changed = False
        arguments = []
        for argument in statement.arguments:
            value = self.substituted_value(argument.value)
            if value is not argument.value:
                changed = True
                argument = syntax.Argument(
                    value=value, span=argument.span, key=argument.key, key_span=argument.key_span
                )
            arguments.append(argument)
        if not changed:
            return statement
        return syntax.LayerStatement(
            kind=statement.kind,
            kind_span=statement.kind_span,
            arguments=tuple(arguments),
            span=statement.span,
            target=statement.target,
            sources=statement.sources,
        )

    def substituted_value(self, value: syntax.Value) -> syntax.Value:
        if isinstance(value, syntax.Word) and value.text in self.substitutions:
            return self.substitutions[value.text]
        if isinstance(value, syntax.Tuple):
            items = tuple(self.substituted_value(item) for item in value.items)
            if any(new is not old for new, old in zip(items, value.items, strict=True)):
                return syntax.Tuple(items=items, span=value.span)
        return value


class _ModelLowering:
    """Lowers one model block, collecting diagnostics as it goes."""

    def __init__(
        self,
        block: syntax.ModelBlock,
        diagnostics: list[Diagnostic],
        broken_lines: frozenset[int],
        cache: LoweringCache | None = None,
        blocks: dict[str, syntax.ModelBlock] | None = None,
    ):
        self.block = block
        self.cache = cache
        self.blocks = blocks or {}
        self.inputs: list[ModelInput] = []
        self.unnamed_inputs: list[syntax.LayerStatement] = []
        # Whether the model has an `input` line at all; without one, E209 says so once and nothing else does.
        self.has_input_line = any(s.kind.lower() == "input" for s in block.statements)
        self.layers: list[LayerBase] = []
        self.block_uses: list[BlockUse] = []
        self.unknown: set[str] = set()
        self.outputs: tuple[str, ...] | None = None
        self.value_names: dict[str, str] = {}
        # The names block uses have taken, so that an unnamed use is never given one of them.
        self.use_names: set[str] = set()
        self.output_spans: tuple[Span, ...] = ()
        # Lines of this block that had a syntax error: whatever stood there is unknown, so the
        # chain of shapes ends at the first one and nothing is reported as missing because of it.
        self.broken_lines = sorted(line for line in broken_lines if block.span.line <= line <= block.span.end_line)
        self.diagnostics = diagnostics
        self.taken_names: set[str] = set()
        # Unnamed layers so far, per Keras name stem, over the whole model (blocks included), as Keras counts.
        self.auto_name_counts: Counter[str] = Counter()
        # Names written in the block, so that a generated name never takes one a later line gives.
        self.reserved_names = {
            argument.value.text
            for statement in block.statements
            for argument in statement.arguments
            if argument.key == "name" and isinstance(argument.value, (syntax.Word, syntax.String))
        }
        # A backbone's layers keep Keras's names for them, so the model's own unnamed layers are numbered past them.
        for statement in block.statements:
            if statement.kind == "backbone":
                self.reserved_names |= _backbone_layer_names(statement)

    def report(self, code: str, message: str, span: Span, hint: str | None = None, fixes: tuple[Fix, ...] = ()) -> None:
        self.diagnostics.append(Diagnostic(code=code, message=message, span=span, hint=hint, fixes=fixes))

    def lower(self) -> Model:
        model_scope = Scope(prefix="", index=None, block=None)
        model_scope.body = self.block.statements
        self.lower_statements(self.block.statements, model_scope)
        broken = bool(self.broken_lines)
        if not self.has_input_line and not broken:
            self.report(
                "E209",
                f"model `{self.block.name}` has no `input` line",
                self.block.name_span,
                hint="start the block with the input shape, e.g. `input 28x28x1`",
            )
        elif not broken and not any(s.kind.lower() not in ("input", "output") for s in self.block.statements):
            self.report(
                "W302",
                f"model `{self.block.name}` has no layers after its input",
                self.block.name_span,
                hint="add layers after `input`, one per line",
            )
        if len(self.inputs) > 1:
            for statement in self.unnamed_inputs:
                self.report(
                    "E210",
                    "a model with several inputs names each one",
                    statement.kind_span,
                    hint="write `image = input 224x224x3`, and read it with `from image`",
                )
        budgets = self.lower_budgets()
        outputs, output_spans = self.outputs, self.output_spans
        if outputs is None:
            last = model_scope.previous
            outputs = (last,) if last is not None else ()
            output_spans = tuple((self.layers[-1].span if self.layers else self.block.name_span) for _ in outputs)
        training = self.lower_training(outputs)
        # Built without validation: the layers were validated one by one as they were built and the
        # inputs by lower_input, and validating the model again would first build the schema of
        # the whole layer union, a large share of a `specc check` run, only to accept them.
        return Model.model_construct(
            name=self.block.name,
            span=self.block.span,
            name_span=self.block.name_span,
            inputs=tuple(self.inputs),
            layers=tuple(self.layers),
            outputs=outputs,
            output_spans=output_spans,
            block_uses=tuple(self.block_uses),
            unknown=frozenset(self.unknown),
            value_names=self.value_names,
            budgets=budgets,
            training=training,
        )

    def lower_training(self, outputs: tuple[str, ...]) -> Training | None:
        """The model's training section as lowered (specc.lower_training); a second section is E224."""
        if not self.block.trainings:
            return None
        from specc.lower_training import lower_training, output_head

        first, *others = self.block.trainings
        for section in others:
            self.report(
                "E224",
                f"model `{self.block.name}` already has a training section, on line {first.span.line}",
                section.keyword_span,
                hint="write every setting in one `train { ... }`",
            )
        head = output_head(self.layers, outputs[0]) if outputs else ("linear", None)
        training, diagnostics = lower_training(first, self.block.name, head)
        self.diagnostics.extend(diagnostics)
        return training

    def lower_budgets(self) -> tuple[Budget, ...]:
        """The model's budget lines as lowered; a metric limited twice at the same batch and dtype is E206."""
        budgets: list[Budget] = []
        limited: dict[tuple[str, int, str], BudgetLimit] = {}
        for statement in self.block.budgets:
            budget = self.lower_budget(statement)
            if budget is None:
                continue
            for limit in budget.limits:
                # Counts do not depend on the batch or dtype a line gives; memory does.
                key = (
                    (limit.metric, budget.batch, budget.dtype)
                    if limit.metric in _BYTE_METRICS
                    else (limit.metric, 1, "")
                )
                if key in limited:
                    self.report(
                        "E206",
                        f"{limit.metric} already has a budget on line {limited[key].span.line}",
                        limit.span,
                        hint="keep one limit per metric"
                        + (" (memory may have one per batch and dtype)" if limit.metric in _BYTE_METRICS else ""),
                    )
                else:
                    limited[key] = limit
            budgets.append(budget)
        return tuple(budgets)

    def lower_budget(self, statement: syntax.BudgetStatement) -> Budget | None:
        """One `budget` line: each limit's metric and quantity, and the batch and dtype memory is evaluated at.
        None when anything on it is wrong (each mistake reported), so that no check runs on half a line."""
        ok = True
        limits: list[BudgetLimit] = []
        seen: set[str] = set()
        for written in statement.limits:
            metric = written.metric.text
            if metric not in BUDGET_METRICS:
                match = closest(metric, BUDGET_METRICS)
                self.report(
                    "E223",
                    f"unknown budget metric `{metric}`",
                    written.metric.span,
                    hint=(f"did you mean `{match}`? " if match else "")
                    + "a budget limits "
                    + ", ".join(BUDGET_METRICS),
                    fixes=_replace(written.metric.span, metric, match),
                )
                ok = False
                continue
            if metric in seen:
                self.report("E206", f"{metric} is limited twice on one budget line", written.span, hint="keep one")
                ok = False
                continue
            seen.add(metric)
            try:
                value = budget_quantity(metric, written.quantity.text)
            except _Unfit as unfit:
                self.report(
                    "E203",
                    f"{metric} expects {unfit.expected}, got {written.quantity.text}",
                    written.quantity.span,
                    hint=unfit.hint,
                    fixes=_replace(written.quantity.span, written.quantity.text, unfit.replacement),
                )
                ok = False
                continue
            limits.append(
                BudgetLimit(
                    metric=metric, operator=written.operator, limit=value, text=written.quantity.text, span=written.span
                )
            )
        options: dict[str, Any] = {}
        for option in statement.options:
            key = option.key or ""
            value = option.value
            if key not in BUDGET_OPTIONS:
                match = closest(key, BUDGET_OPTIONS)
                self.report(
                    "E202",
                    f"budget has no option `{key}`",
                    option.key_span or option.span,
                    hint=(f"did you mean `{match}`? " if match else "")
                    + "a budget line takes batch=N and dtype=float32|float16|bfloat16 (what memory is evaluated at)",
                    fixes=_replace(option.key_span, key, match) if option.key_span else (),
                )
                ok = False
            elif key in options:
                self.report("E206", f"{key} is given twice", option.span, hint=f"keep one `{key}`")
                ok = False
            elif key == "batch":
                if not (isinstance(value, syntax.Number) and value.is_integer):
                    self.report("E203", f"batch expects an integer, got {render(value)}", value.span)
                    ok = False
                elif value.integer < 1:
                    self.report("E204", f"batch must be at least 1, got {render(value)}", value.span)
                    ok = False
                else:
                    options[key] = value.integer
            else:
                text = value.text if isinstance(value, (syntax.Word, syntax.String)) else render(value)
                if isinstance(value, syntax.Word) and text in BUDGET_DTYPES:
                    options[key] = text
                else:
                    match = closest(text, BUDGET_DTYPES)
                    self.report(
                        "E203",
                        f"dtype expects one of {', '.join(BUDGET_DTYPES)}, got {render(value)}",
                        value.span,
                        hint=f"did you mean `{match}`?" if match else None,
                        fixes=_replace(value.span, render(value), match),
                    )
                    ok = False
        if not ok or not limits:
            return None
        return Budget(limits=tuple(limits), span=statement.span, **options)

    def lower_statements(self, statements: tuple[syntax.LayerStatement, ...], scope: Scope) -> None:
        """Lower a body, model's or block's, in order: each line's value is named and read by the lines after it."""
        for statement in statements:
            if self.breaks_before(statement, scope):
                scope.previous = self.unknown_value(statement)
            kind = statement.kind
            if kind.lower() == "input":
                self.lower_input_statement(statement, scope)
            elif kind == "output":
                self.lower_output(statement, scope)
            elif kind in self.blocks:
                self.lower_block_use(statement, self.blocks[kind], scope)
            elif kind == "backbone":
                self.lower_backbone(statement, scope)
            else:
                self.lower_layer_statement(statement, scope)
            scope.previous_end = statement.span.end_line

    def breaks_before(self, statement: syntax.LayerStatement, scope: Scope) -> bool:
        """Whether a line that could not be parsed stands between this statement and the one before it,
        so that what it reads by default is unknown."""
        if not self.broken_lines or scope.block is not None:
            return False
        index = bisect.bisect_right(self.broken_lines, scope.previous_end)
        return index < len(self.broken_lines) and self.broken_lines[index] < statement.span.line

    def unknown_value(self, statement: syntax.LayerStatement) -> str:
        """A name for the value of a line that failed: it reads as unknown, so what reads it is not inferred."""
        name = f"?{statement.span.line}:{statement.span.column}:{len(self.unknown)}"
        self.unknown.add(name)
        return name

    def define(self, scope: Scope, statement: syntax.LayerStatement, value: str) -> None:
        """The statement's value is `value`: the next line reads it by default, and its target names it."""
        scope.previous = value
        if statement.target is not None:
            scope.values[statement.target.text] = value
            names = self.value_names if scope.block is None else scope.value_names
            names.setdefault(value, statement.target.text)

    def resolve(self, word: syntax.Word, scope: Scope, statement: syntax.LayerStatement) -> str:
        """The node a value name refers to: its latest definition above, in this scope."""
        name = word.text
        if name in scope.values:
            return scope.values[name]
        if self.broken_lines and scope.block is None:
            # It may have been defined on a line that could not be parsed.
            return self.unknown_value(statement)
        later = scope.names_defined_later(name, statement)
        if later is not None:
            self.report(
                "E215",
                f"`{name}` is used before it is defined (on line {later.line})",
                word.span,
                hint="a line reads values from the lines above it; a network has no cycles, so move the "
                "definition up or read another value",
            )
        else:
            known = list(scope.values)
            match = closest(name, known)
            if match:
                hint = f"did you mean `{match}`?"
            elif known:
                hint = f"values defined above: {', '.join(known[:12])}{', ...' if len(known) > 12 else ''}"
            else:
                hint = "name a line's value with `name = ...` before reading it with `from name`"
            self.report(
                "E214",
                f"unknown value `{name}`" + (f" in block `{scope.block.name}`" if scope.block is not None else ""),
                word.span,
                hint=hint,
                fixes=_replace(word.span, name, match),
            )
        return self.unknown_value(statement)

    def inputs_of(self, statement: syntax.LayerStatement, scope: Scope) -> tuple[str, ...] | None:
        """What a layer line reads: the values after `from`, or the line before's; None when there is none."""
        if statement.sources:
            return tuple(self.resolve(source, scope, statement) for source in statement.sources)
        if scope.previous is None:
            if not self.has_input_line or self.broken_lines:
                return None
            self.report(
                "E216",
                f"`{statement.kind}` has nothing to read: no line before it makes a value",
                statement.kind_span,
                hint="start the model with `input HxWxC`, or name what the line reads with `from`",
            )
            return None
        return (scope.previous,)

    def lower_input_statement(self, statement: syntax.LayerStatement, scope: Scope) -> None:
        if not _is_input(statement.kind):
            # Still read as the input it is meant to be, so that the model is not also missing one.
            self.report_unknown_kind(statement)
        if scope.block is not None:
            self.lower_block_input(statement, scope)
            return
        if statement.sources:
            self.report("E216", "an input reads nothing", statement.sources[0].span, hint="remove `from ...`")
        name = statement.target.text if statement.target is not None else "input"
        if statement.target is None and any(i.name == "input" for i in self.inputs):
            self.report(
                "E210",
                "`input` without a name may appear once in a model",
                statement.kind_span,
                hint="name each input, `image = input 224x224x3`, and read it with `from image`",
            )
            self.define(scope, statement, self.unknown_value(statement))
            return
        if statement.target is None:
            self.unnamed_inputs.append(statement)
        lowered = self.lower_input(statement)
        if lowered is None or not self.claim_name(name, statement.target.span if statement.target else statement.span):
            self.define(scope, statement, self.unknown_value(statement))
            return
        shape, open_axes = lowered
        self.inputs.append(ModelInput.model_construct(name=name, shape=shape, span=statement.span, open_axes=open_axes))
        self.define(scope, statement, name)

    def lower_block_input(self, statement: syntax.LayerStatement, scope: Scope) -> None:
        """`x = input` in a block: the block's next input, bound to what the use reads."""
        if statement.arguments:
            self.report(
                "E220",
                "a block's input takes its shape from where the block is used",
                statement.arguments[0].span,
                hint="write `x = input` with no shape",
            )
        if scope.next_input >= len(scope.bound_inputs):
            value = self.unknown_value(statement)
        else:
            value = scope.bound_inputs[scope.next_input]
        scope.next_input += 1
        self.define(scope, statement, value)

    def lower_output(self, statement: syntax.LayerStatement, scope: Scope) -> None:
        """`output a b`: the values the model outputs, in order (in a block, its one output)."""
        words = [a for a in statement.arguments if a.key is None and isinstance(a.value, syntax.Word)]
        others = [a for a in statement.arguments if a not in words] + [*statement.sources]
        for other in others:
            self.report(
                "E217",
                "`output` takes the names of values only",
                other.span,
                hint="write `output logits`, or `output a b` for several",
            )
        if not words:
            self.report("E217", "`output` needs the names of the values to output", statement.kind_span)
            return
        values = tuple(self.resolve(a.value, scope, statement) for a in words)  # type: ignore[arg-type]
        if scope.block is not None:
            if len(values) > 1:
                self.report(
                    "E217",
                    "a block has one output",
                    words[1].span,
                    hint="output one value; a model built from blocks names several outputs itself",
                )
            scope.output = values[0]
            return
        if self.outputs is not None:
            self.report("E217", "a model has one `output` line", statement.kind_span, hint="list every output on it")
            return
        self.outputs = values
        self.output_spans = tuple(a.span for a in words)

    def lower_layer_statement(self, statement: syntax.LayerStatement, scope: Scope) -> None:
        cls = documented_kind(statement.kind)
        if cls is None:
            self.report_unknown_kind(statement)
            self.define(scope, statement, self.unknown_value(statement))
            return
        if scope.substitutions:
            statement = self.substituted(statement, scope)
        if cls.arity is None:
            inputs = self.merge_operands(cls, statement, scope)
        else:
            inputs = self.inputs_of(statement, scope)
            if inputs is not None and len(inputs) != cls.arity:
                self.report(
                    "E216",
                    f"{cls.spellings[0]} reads one value, got {len(inputs)}",
                    statement.sources[1].span,
                    hint=f"merge them first, e.g. `add {' '.join(s.text for s in statement.sources)}` or `concat ...`",
                )
                inputs = None
        layer = self.lower_layer(statement, cls, inputs or (), scope)
        if layer is None or inputs is None:
            self.define(scope, statement, self.unknown_value(statement))
            return
        self.layers.append(layer)
        self.define(scope, statement, layer.name)

    def merge_operands(
        self, cls: type[LayerBase], statement: syntax.LayerStatement, scope: Scope
    ) -> tuple[str, ...] | None:
        """A merge's operands, the names written after its kind: `add x shortcut`."""
        kind = cls.spellings[0]
        if statement.sources:
            names = " ".join(s.text for s in statement.sources)
            self.report(
                "E216",
                f"{kind} names its operands after the kind, without `from`",
                statement.sources[0].span,
                hint=f"write `{kind} {names}`",
            )
            return None
        words = [a.value for a in statement.arguments if a.key is None and isinstance(a.value, syntax.Word)]
        exact = getattr(cls, "exact_operands", None)
        if len(words) < 2 or (exact is not None and len(words) != exact):
            wanted = "two" if exact == 2 else "two or more"
            self.report(
                "E216",
                f"{kind} needs {wanted} operands, got {len(words)}",
                words[-1].span if words else statement.kind_span,
                hint=f"name them after the kind: `{kind} x shortcut`",
            )
            return None
        return tuple(self.resolve(word, scope, statement) for word in words)  # type: ignore[arg-type]

    def lower_block_use(self, statement: syntax.LayerStatement, block: syntax.ModelBlock, scope: Scope) -> None:
        """A line that uses a block: its arguments checked here, at the use, then the block's lines lowered
        with the parameters standing for the arguments, once per repetition."""
        if scope.substitutions:
            statement = self.substituted(statement, scope)
        arguments = self.block_arguments(statement, block)
        failed = arguments is None
        if scope.depth >= _MAX_BLOCK_DEPTH or len(self.layers) >= _MAX_EXPANDED_LAYERS:
            self.report(
                "E219",
                f"block `{block.name}` makes the model too large to check: more than {_MAX_BLOCK_DEPTH} blocks "
                f"deep or {_MAX_EXPANDED_LAYERS:,} layers",
                statement.kind_span,
                hint="use fewer repetitions",
            )
            failed = True
        elif block.name in scope.active_blocks():
            self.report(
                "E219",
                f"block `{block.name}` uses itself"
                + (f" (through `{scope.block.name}`)" if scope.block and scope.block.name != block.name else ""),
                statement.kind_span,
                hint="a block cannot contain itself; repeat it with `repeat=N` instead",
            )
            failed = True
        inputs = self.inputs_of(statement, scope)
        expected = max(1, sum(1 for s in block.statements if s.kind == "input"))
        if inputs is not None and len(inputs) != expected:
            self.report(
                "E216",
                f"block `{block.name}` reads {expected} value{'s' * (expected != 1)}, got {len(inputs)}",
                (statement.sources[0].span if statement.sources else statement.kind_span),
                hint=f"name them after `from`: `{block.name} ... from "
                + ", ".join(s.target.text if s.target else "x" for s in block.statements if s.kind == "input")
                + "`",
            )
            inputs = None
        if failed or inputs is None:
            self.define(scope, statement, self.unknown_value(statement))
            return
        assert arguments is not None
        values, given_name, name_span, repeat, start = arguments
        if repeat > 1 and expected > 1:
            self.report(
                "E216",
                f"block `{block.name}` reads {expected} values, so it cannot repeat: "
                "each repetition reads the one before",
                statement.kind_span,
            )
            self.define(scope, statement, self.unknown_value(statement))
            return
        if given_name is not None and not _NAME_PART.match(given_name):
            self.report("E212", f"name {given_name!r} is not a valid name", name_span or statement.span)
            self.define(scope, statement, self.unknown_value(statement))
            return
        base = scope.prefix + given_name if given_name is not None else self.use_name(block, scope)
        # Unnamed layers inside are numbered after those above, so the counts so far are part of the key.
        counts_before = tuple(sorted(self.auto_name_counts.items()))
        key = (
            id(statement),
            inputs,
            base,
            len(self.block_uses),
            scope.index,
            tuple(map(id, self.blocks.values())),
            counts_before,
        )
        sources = (statement, *self.blocks.values())
        cached = None
        if self.cache is not None:
            cached = self.cache.expansion(key, sources) or self.cache.moved_expansion(key, sources)
        if cached is not None and not cached.names & self.taken_names and not cached.use_names & self.use_names:
            self.layers.extend(cached.layers)
            self.block_uses.extend(cached.uses)
            self.taken_names |= cached.names
            self.use_names |= cached.use_names
            self.auto_name_counts.update(dict(cached.auto_names))
            self.define(scope, statement, cached.output)
            return
        marks = (len(self.layers), len(self.block_uses), len(self.diagnostics), len(self.unknown))
        recording = self.cache.start_recording() if self.cache is not None else []
        output = None
        for repetition in range(1, repeat + 1):
            # A repetition's number follows the base, after `_` when the base ends in a digit (stage2_1, not stage21).
            numbered = repeat > 1 or start != 1
            numbered_from = base + ("_" if base[-1].isdigit() else "") if numbered else ""
            name = f"{numbered_from}{start + repetition - 1}" if numbered else base
            use_index = len(self.block_uses)
            self.use_names.add(name)
            inner = Scope(
                prefix=name + "_",
                index=use_index,
                block=block,
                parent=scope,
                substitutions=values,
                bound_inputs=inputs if output is None else (output,),
            )
            inner.use_statement = statement
            inner.previous = (
                inner.bound_inputs[0]
                if expected == 1 and not any(s.kind == "input" for s in block.statements)
                else None
            )
            self.block_uses.append(None)  # its place, filled in once its output is known
            self.lower_statements(block.statements, inner)
            output = inner.output if inner.output is not None else inner.previous
            if output is None:
                output = self.unknown_value(statement)
            self.block_uses[use_index] = BlockUse.model_construct(
                block=block.name,
                name=name,
                span=statement.span,
                repetition=repetition if numbered else 0,
                numbered_from=numbered_from,
                start=start,
                arguments={key: render(value) for key, value in values.items()},
                inputs=inner.bound_inputs,
                output=output,
                parent=scope.index,
                input_names=tuple(
                    s.target.text for s in block.statements if s.kind.lower() == "input" and s.target is not None
                ),
                value_names=inner.value_names,
            )
        assert output is not None
        if self.frozen_use(statement, block):
            for index in range(marks[0], len(self.layers)):
                self.layers[index] = self.layers[index].model_copy(update={"trainable": False})
        if self.cache is not None:
            self.cache.stop_recording(recording)
        if self.cache is not None and (len(self.diagnostics), len(self.unknown)) == marks[2:]:
            layers, uses = tuple(self.layers[marks[0] :]), tuple(self.block_uses[marks[1] :])
            names, use_names = frozenset(layer.name for layer in layers), frozenset(u.name for u in uses)
            kept = tuple(dict.fromkeys(recording))
            counted = self.auto_name_counts - Counter(dict(counts_before))
            self.cache.keep_expansion(
                key, Expansion(sources, layers, uses, names, use_names, output, kept, tuple(counted.items()))
            )
        self.define(scope, statement, output)

    def substituted(self, statement: syntax.LayerStatement, scope: Scope) -> syntax.LayerStatement:
        """A block's line with the use's arguments for its parameters (kept from the last run when cached)."""
        return self.cache.substituted(statement, scope) if self.cache is not None else scope.substituted(statement)

    def count_argument(self, argument: syntax.Argument, least: int) -> int | None:
        """A use's `repeat=` or `start=`: an integer from `least` to _MAX_REPEAT; None after reporting otherwise."""
        try:
            count = _integer(argument.value)
        except _Unfit:
            self.report("E203", f"{argument.key} expects an integer, got {render(argument.value)}", argument.value.span)
            return None
        if not least <= count <= _MAX_REPEAT:
            self.report(
                "E204", f"{argument.key} must be between {least} and {_MAX_REPEAT}, got {count}", argument.value.span
            )
            return None
        return count

    def frozen_use(self, statement: syntax.LayerStatement, block: syntax.ModelBlock) -> bool:
        """Whether a use says `trainable=false`, which freezes every layer it makes (unless the block has a
        parameter of that name, which the argument is for)."""
        if any(parameter.name == "trainable" for parameter in block.parameters):
            return False
        for argument in statement.arguments:
            if argument.key == "trainable":
                try:
                    return not _boolean(argument.value)
                except _Unfit:
                    self.report(
                        "E203", f"trainable expects true or false, got {render(argument.value)}", argument.value.span
                    )
        return False

    def use_name(self, block: syntax.ModelBlock, scope: Scope) -> str:
        """`basic_1`, `basic_2`...: the next free name for an unnamed use of a block, counted per block."""
        while True:
            scope.kind_counts["block " + block.name] += 1
            candidate = f"{scope.prefix}{block.name}_{scope.kind_counts['block ' + block.name]}"
            if candidate not in self.taken_names and candidate not in self.use_names:
                return candidate

    def block_arguments(
        self, statement: syntax.LayerStatement, block: syntax.ModelBlock
    ) -> tuple[dict[str, syntax.Value], str | None, Span | None, int, int] | None:
        """A use's arguments matched to the block's parameters (defaults filled in), its `name`, its `repeat`
        and the number its repetitions start at (`start`); None after reporting what does not fit."""
        parameters = {p.name: p for p in block.parameters}
        values: dict[str, syntax.Value] = {}
        free = [p.name for p in block.parameters]
        name: str | None = None
        name_span: Span | None = None
        repeat = 1
        start = 1
        ok = True
        for argument in statement.arguments:
            key = argument.key
            if key == "trainable" and "trainable" not in parameters:
                continue  # the use's own, read by frozen_use
            if key in ("start", "repeat"):
                count = self.count_argument(argument, 0 if key == "start" else 1)
                if count is None:
                    ok = False
                elif key == "start":
                    start = count
                else:
                    repeat = count
                continue
            if key == "name":
                try:
                    name = _word(argument.value)
                    name_span = argument.value.span
                except _Unfit:
                    self.report("E203", f"name expects a name, got {render(argument.value)}", argument.value.span)
                    ok = False
                continue
            if key is None:
                if not free:
                    self.report(
                        "E208",
                        f"too many positional arguments for block `{block.name}`: {render(argument.value)}",
                        argument.value.span,
                        hint=f"block `{block.name}` takes "
                        + (", ".join(p.name for p in block.parameters) or "no arguments"),
                    )
                    ok = False
                    continue
                key = free[0]
            elif key not in parameters:
                match = closest(key, [*parameters, "name", "repeat", "start", "trainable"])
                span = argument.key_span or argument.span
                self.report(
                    "E202",
                    f"block `{block.name}` has no parameter `{key}`",
                    span,
                    hint=f"did you mean `{match}`?"
                    if match
                    else f"block `{block.name}` takes: {', '.join(parameters) or 'no arguments'}",
                    fixes=_replace(span, key, match) if argument.key_span else (),
                )
                ok = False
                continue
            if key in values:
                self.report("E206", f"`{key}` is given more than once", argument.span, hint=f"keep one `{key}`")
                ok = False
                continue
            free.remove(key)
            values[key] = argument.value
        missing = [p.name for p in block.parameters if p.name not in values and p.default is None]
        if missing:
            self.report(
                "E205",
                f"block `{block.name}` needs {', '.join(missing)}",
                statement.kind_span,
                hint=f"write it as `{block.name} " + " ".join(f"<{m}>" for m in missing) + "`",
            )
            ok = False
        if not ok:
            return None
        for parameter in block.parameters:
            if parameter.name not in values and parameter.default is not None:
                values[parameter.name] = parameter.default
        return values, name, name_span, repeat, start

    def lower_input(self, statement: syntax.LayerStatement) -> tuple[tuple[int, ...], tuple[str | None, ...]] | None:
        """The input's shape and, for each axis left open, its name (see ModelInput.open_axes)."""
        values = [a for a in statement.arguments if a.key in (None, "shape")]
        for extra in [a for a in statement.arguments if a.key not in (None, "shape")]:
            self.report(
                "E202",
                f"input takes no parameter `{extra.key}`",
                extra.key_span or extra.span,
                hint="write the shape alone: `input 28x28x1`",
            )
        if not values:
            self.report(
                "E205",
                "input needs a shape",
                statement.kind_span,
                hint="e.g. `input 28x28x1` (height x width x channels)",
            )
            return None
        if len(values) > 1:
            self.report("E208", "input takes one shape", values[1].span, hint="write it as HxWxC, e.g. `input 28x28x1`")
            return None
        value = values[0].value
        if isinstance(value, syntax.Size) and value.open:
            return self.lower_open_input(value)
        try:
            shape = (_integer(value),) if isinstance(value, syntax.Number) else _integers(value)
        except _Unfit:
            self.report("E203", f"input shape must be sizes such as 28x28x1, got {render(value)}", value.span)
            return None
        if not shape or any(d <= 0 or d > MAX_EXTENT for d in shape):
            self.report("E204", f"input sizes must be between 1 and {MAX_EXTENT}, got {render(value)}", value.span)
            return None
        if len(shape) > MAX_INPUT_RANK:
            self.report(
                "E204",
                f"input has {len(shape)} axes; specc takes at most {MAX_INPUT_RANK}",
                value.span,
                hint="image inputs are height x width x channels, e.g. `input 28x28x1`",
            )
            return None
        return shape, ()

    def lower_open_input(self, value: syntax.Size) -> tuple[tuple[int, ...], tuple[str | None, ...]] | None:
        """`input ?x?x3` or `input HxWx3`: the shape with 0 for each open extent, and each open extent's name
        (`?` is named H for the height and W for the width). Only a feature map's height and width may be open:
        the channels decide the weights."""
        if len(value.dims) != 3 or value.open[2] is not None:
            self.report(
                "E204",
                f"only an image input's height and width may be left open, got {value.text}",
                value.span,
                hint="write the channels as a number: `input ?x?x3` (height x width x channels)",
            )
            return None
        if any(d <= 0 or d > MAX_EXTENT for d, name in zip(value.dims, value.open, strict=True) if name is None):
            self.report("E204", f"input sizes must be between 1 and {MAX_EXTENT}, got {value.text}", value.span)
            return None
        names = tuple(("H", "W")[axis] if name == "?" else name for axis, name in enumerate(value.open[:2])) + (None,)
        return value.dims, names

    def lower_backbone(self, statement: syntax.LayerStatement, scope: Scope) -> None:
        """`backbone resnet50 weights=imagenet include_top=false pooling=avg trainable_from=conv5_block1`: a zoo
        network's layers, as keras.applications builds them for these arguments, reading the line's input. They
        keep Keras's names and sit in a block use of their own, which carries the line's arguments (ir.Backbone)."""
        arguments = self.backbone_arguments(statement)
        inputs = self.inputs_of(statement, scope)
        if arguments is None or inputs is None:
            self.define(scope, statement, self.unknown_value(statement))
            return
        network, given, spans = arguments
        if len(inputs) != 1:
            self.report("E216", f"a backbone reads one value, got {len(inputs)}", statement.sources[1].span)
            self.define(scope, statement, self.unknown_value(statement))
            return
        layers = network_layers(
            network,
            given.get("include_top", True),
            given.get("pooling"),
            given.get("classes", 1000),
            given.get("classifier_activation", "softmax"),
        )
        output = layers[-1].name
        order = keras_layer_order(layers, (output,))
        trainable_from = given.get("trainable_from")
        first_trainable = None
        zoo = zoo_model(network)
        if trainable_from is not None:
            first_trainable = self.first_layer_of(trainable_from, network, layers, order, spans["trainable_from"])
            if first_trainable is None:
                self.define(scope, statement, self.unknown_value(statement))
                return
        use_name = given.get("name", network.name)
        if use_name in self.use_names or use_name in self.taken_names:
            self.report(
                "E211",
                f"a layer or block use named `{use_name}` already exists in model `{self.block.name}`",
                spans.get("name", statement.kind_span),
                hint="name the backbone: `name=base`",
            )
            self.define(scope, statement, self.unknown_value(statement))
            return
        clashes = sorted(layer.name for layer in layers if layer.name in self.taken_names)
        if clashes:
            self.report(
                "E211",
                f"the backbone's layer `{clashes[0]}` has the name of a layer above it in model `{self.block.name}`",
                statement.kind_span,
                hint="rename that layer; a backbone's layers keep the names Keras gives them",
            )
            self.define(scope, statement, self.unknown_value(statement))
            return
        frozen = set(order[: order.index(first_trainable)]) if first_trainable else set()
        if not given.get("trainable", True):
            frozen = set(order)
        backbone_index = len(self.block_uses)
        offset = backbone_index + 1
        zoo_input = zoo.inputs[0].name
        for layer in layers:
            self.taken_names.add(layer.name)
            self.layers.append(
                layer.model_copy(
                    update={
                        "span": statement.span,
                        "argument_spans": {},
                        "inputs": tuple(inputs[0] if name == zoo_input else name for name in layer.inputs),
                        "scope": backbone_index if layer.scope is None else layer.scope + offset,
                        "trainable": layer.trainable and layer.name not in frozen,
                    }
                )
            )
        self.use_names.add(use_name)
        backbone = Backbone.model_construct(
            network=network.name,
            keras_application=network.keras_application,
            weights=given.get("weights", "imagenet"),
            include_top=given.get("include_top", True),
            pooling=given.get("pooling"),
            classes=given.get("classes", 1000),
            classifier_activation=given.get("classifier_activation", "softmax"),
            trainable=given.get("trainable", True),
            trainable_from=trainable_from,
            first_trainable=first_trainable,
            default_size=network.default_size,
            min_size=network.min_size,
            argument_spans=spans,
        )
        self.block_uses.append(
            BlockUse.model_construct(
                block=network.name,
                name=use_name,
                span=statement.span,
                arguments={a.key: render(a.value) for a in statement.arguments if a.key and a.key != "name"},
                inputs=inputs,
                output=output,
                parent=scope.index,
                input_names=(zoo_input,),
                value_names={},
                backbone=backbone,
            )
        )
        for use in zoo.block_uses:
            self.block_uses.append(
                use.model_copy(
                    update={
                        "span": statement.span,
                        "parent": backbone_index if use.parent is None else use.parent + offset,
                        "inputs": tuple(inputs[0] if name == zoo_input else name for name in use.inputs),
                    }
                )
            )
        self.define(scope, statement, output)

    def backbone_arguments(
        self, statement: syntax.LayerStatement
    ) -> tuple[ZooNetwork, dict[str, Any], dict[str, Span]] | None:
        """A backbone line's network and its other arguments as Python values, with where each was written;
        None after reporting what does not fit."""
        converters: dict[str, Callable[[syntax.Value], Any]] = {
            "weights": _weights,
            "include_top": _boolean,
            "pooling": _pooling,
            "classes": _integer,
            "classifier_activation": _activation,
            "trainable": _boolean,
            "trainable_from": _word,
            "name": _word,
        }
        given: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        network: ZooNetwork | None = None
        ok = True
        for argument in statement.arguments:
            key = argument.key
            if key is None:
                if network is None and isinstance(argument.value, syntax.Word):
                    network = ZOO_BY_NAME.get(argument.value.text)
                    if network is None:
                        match = closest(argument.value.text, list(ZOO_BY_NAME))
                        self.report(
                            "E221",
                            f"the zoo has no network `{argument.value.text}`",
                            argument.value.span,
                            hint=(f"did you mean `{match}`? " if match else "")
                            + "the zoo has: "
                            + ", ".join(ZOO_BY_NAME),
                            fixes=_replace(argument.value.span, argument.value.text, match),
                        )
                        return None
                    continue
                self.report(
                    "E208",
                    f"too many positional arguments for backbone: {render(argument.value)}",
                    argument.span,
                    hint="write `backbone <network> key=value ...`",
                )
                ok = False
                continue
            if key not in converters:
                match = closest(key, list(converters))
                self.report(
                    "E202",
                    f"backbone has no parameter `{key}`",
                    argument.key_span or argument.span,
                    hint=(f"did you mean `{match}`? " if match else "") + "backbone takes " + ", ".join(converters),
                    fixes=_replace(argument.key_span, key, match) if argument.key_span else (),
                )
                ok = False
                continue
            if key in given:
                self.report("E206", f"{key} is given twice", argument.span)
                ok = False
                continue
            try:
                given[key] = converters[key](argument.value)
            except _Unfit as unfit:
                self.report(
                    "E203",
                    f"{key} expects {unfit.expected}, got {render(argument.value)}",
                    argument.value.span,
                    hint=unfit.hint,
                )
                ok = False
                continue
            spans[key] = argument.value.span
        if network is None:
            self.report(
                "E205",
                "backbone needs the network to use",
                statement.kind_span,
                hint="write e.g. `backbone resnet50 weights=imagenet include_top=false`; the zoo has: "
                + ", ".join(ZOO_BY_NAME),
            )
            return None
        if "name" in given and not IDENTIFIER.match(given["name"]):
            self.report(
                "E212",
                f"name {given['name']!r} is not a valid name",
                spans["name"],
                hint="use ASCII letters, digits and underscores, starting with a letter",
            )
            ok = False
        if given.get("classes", 1) < 1:
            self.report("E204", f"classes must be at least 1, got {given['classes']}", spans["classes"])
            ok = False
        if "trainable_from" in given and given.get("trainable") is False:
            self.report(
                "E206",
                "trainable=false freezes the whole backbone, so trainable_from has nothing to say",
                spans["trainable_from"],
                hint="keep one: trainable=false to extract features, trainable_from=... to fine-tune",
            )
            ok = False
        return (network, given, spans) if ok else None

    def first_layer_of(
        self, wanted: str, network: ZooNetwork, layers: list[LayerBase], order: list[str], span: Span
    ) -> str | None:
        """The layer fine-tuning starts at: the one named, or the first (in Keras's order) of the block use
        named; E222 with the closest name when the network has neither."""
        names = {layer.name for layer in layers}
        if wanted in names:
            return wanted
        zoo = zoo_model(network)
        uses = {use.name: index for index, use in enumerate(zoo.block_uses)}
        if wanted in uses:
            members = {layer.name for layer in layers if uses[wanted] in zoo.scope_chain(layer.scope)}
            return next(name for name in order if name in members)
        candidates = [*uses, *order]
        match = closest(wanted, candidates)
        self.report(
            "E222",
            f"`{wanted}` names no layer or block of {network.name}",
            span,
            hint=f"did you mean `{match}`?" if match else f"its layers include {', '.join(order[:3])} ... {order[-1]}",
            fixes=_replace(span, wanted, match),
        )
        return None

    def report_unknown_kind(self, statement: syntax.LayerStatement) -> None:
        """E201 with the documented spelling meant: the same word in its documented case, else the canonical
        spelling of the closest kind, else the list of kinds."""
        meant = _documented_case(statement.kind)
        if meant is None:
            match = closest(statement.kind, [*KIND_BY_SPELLING, "input"])
            meant = "input" if match == "input" else KIND_BY_SPELLING[match].spellings[0] if match else None
        if meant is not None and meant.lower() == statement.kind.lower():
            hint = f"did you mean `{meant}`? (layer kinds are case-sensitive)"
        elif meant is not None:
            hint = f"did you mean `{meant}`?"
        else:
            hint = (
                f"specc's layer kinds: {', '.join(kind.spellings[0] for kind in KINDS)} "
                "(Keras class names such as `Conv2D` work too)"
            )
        fixes = _replace(statement.kind_span, statement.kind, meant)
        call = _keras_call(statement)
        if call is not None:
            # `Conv2d(32, 3)`: mending the case alone would leave a call, so offer the whole line.
            hint = call.hint
            fixes = _replace(statement.span, f"{statement.kind}{render(statement.arguments[0].value)}", call.line)
        self.report("E201", f"unknown layer kind `{statement.kind}`", statement.kind_span, hint=hint, fixes=fixes)

    def lower_layer(
        self, statement: syntax.LayerStatement, cls: type[LayerBase], inputs: tuple[str, ...], scope: Scope
    ) -> LayerBase | None:
        placed = self.cache.get(statement) if self.cache is not None else None
        if placed is None:
            mark = len(self.diagnostics)
            values, spans, rendered, unfit = self.place_arguments(cls, statement)
            placed = Placed(
                statement, cls.fill_defaults(values), spans, rendered, frozenset(unfit), tuple(self.diagnostics[mark:])
            )
            if self.cache is not None:
                self.cache.put(placed)
        elif placed.reported:
            self.diagnostics.extend(placed.reported)
        name = self.layer_name(cls, placed.values.get("name"), placed.spans.get("name"), scope)
        built = placed.built.get(name)
        layer = built[0] if built is not None else None
        if layer is not None and (layer.inputs != inputs or layer.scope != scope.index):
            # The same line reading other values (a line above it renamed): the layer as built, told what it
            # reads now. pydantic's own shallow copy: a new __dict__, no validation.
            copy = layer.__copy__()
            copy.__dict__.update(inputs=inputs, scope=scope.index)
            built = placed.built[name] = (copy, built[1])  # type: ignore[index]
        if built is None:
            mark = len(self.diagnostics)
            values = {key: value for key, value in placed.values.items() if key != "name"}
            try:
                layer = cls(
                    name=name or "_",
                    span=statement.span,
                    argument_spans=placed.spans,
                    inputs=inputs,
                    scope=scope.index,
                    **values,
                )
            except ValidationError as error:
                # Arguments already reported as unfit show up again as missing; say each thing once.
                self.report_validation(cls, statement, error, placed.spans, placed.rendered, set(placed.unfit))
                layer = None
            # A line of the model keeps a few names it had (edits above renumber it); a block's line one per use.
            if len(placed.built) >= (BUILT_KEPT_PER_STATEMENT if scope.block is not None else 4):
                placed.built.clear()
            built = placed.built[name] = (layer, tuple(self.diagnostics[mark:]))
        elif built[1]:
            self.diagnostics.extend(built[1])
        layer = built[0]
        return layer if layer is not None and name is not None and not placed.unfit else None

    def place_arguments(
        self, cls: type[LayerBase], statement: syntax.LayerStatement
    ) -> tuple[dict[str, Any], dict[str, Span], dict[str, str], bool]:
        """Assign each argument to a parameter and convert it; the last item says whether any did not fit."""
        accepted = parameter_names(cls)
        values: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        rendered: dict[str, str] = {}
        free_positions = list(cls.positional)
        unfit: set[str] = set()
        for index, argument in enumerate(statement.arguments):
            if cls.arity is None and argument.key is None and isinstance(argument.value, syntax.Word):
                continue  # a merge's operand: `add x shortcut`
            target = self.target_of(cls, argument, accepted, free_positions, unfit)
            if target is None:
                unfit.add("")
                if argument.key is None and isinstance(argument.value, syntax.Word):
                    # The word was meant for one of these; it has been reported, so is not also missing.
                    unfit.update(cls.word_arguments)
                continue
            if target in values:
                # Deleting from the end of what precedes it takes the separating blank with it.
                before = statement.arguments[index - 1].span if index else statement.kind_span
                end = argument.span
                self.report(
                    "E206",
                    f"`{target}` is given more than once",
                    argument.span,
                    hint=f"keep one `{target}` on this line",
                    fixes=(
                        Fix(
                            title=f"Remove this `{target}`",
                            span=Span(before.end_line, before.end_column, end.end_line, end.end_column),
                            new_text="",
                        ),
                    ),
                )
                unfit.add("")
                continue
            if target in free_positions:
                free_positions.remove(target)
            try:
                values[target] = _converter(cls, target)(argument.value)
            except _Unfit as wrong:
                hint, fixes = wrong.hint, _replace(argument.value.span, render(argument.value), wrong.replacement)
                call = _keras_call(statement) if index == 0 else None
                unquoted = _unquoted(cls, target, argument.value)
                if call is not None:
                    hint = call.hint
                    fixes = _replace(statement.span, f"{statement.kind}{render(argument.value)}", call.line)
                elif unquoted is not None:
                    hint = f"write it without quotes: `{f'{argument.key}=' if argument.key else ''}{unquoted}`"
                    fixes = _replace(argument.value.span, render(argument.value), unquoted)
                elif hint is None and isinstance(argument.value, syntax.Tuple) and len(argument.value.items) == 1:
                    hint = "parentheses make a tuple; write the value alone, as in `dropout 0.25`"
                self.report(
                    "E203",
                    f"{target} expects {wrong.expected}, got {render(argument.value)}",
                    argument.value.span,
                    hint=hint,
                    fixes=fixes,
                )
                unfit.add(target)
                continue
            spans[target] = argument.value.span
            rendered[target] = render(argument.value)
        return values, spans, rendered, unfit

    def target_of(
        self,
        cls: type[LayerBase],
        argument: syntax.Argument,
        accepted: tuple[str, ...],
        free_positions: list[str],
        unfit: set[str],
    ) -> str | None:
        """The parameter an argument fills, or None after reporting why it fills none; a misspelt key's
        parameter joins `unfit`, so that it is not also reported missing."""
        kind = cls.spellings[0]
        if argument.key is not None:
            key = PARAMETER_SHORT_FORMS.get(argument.key, argument.key)
            if key in accepted or key == "name":
                return key
            known = [*accepted, "name", *(s for s, full in PARAMETER_SHORT_FORMS.items() if full in accepted)]
            match = None
            if argument.key in ("input_shape", "input_dim", "shape"):
                hint = "the input shape is a line of its own at the top of the model: `input 28x28x1`"
            else:
                match = closest(argument.key, known)
                hint = (
                    f"did you mean `{match}`?"
                    if match
                    else f"{kind} takes: {', '.join(_own(accepted)) or 'no arguments'}"
                )
                if match:
                    unfit.add(PARAMETER_SHORT_FORMS.get(match, match))
            span = argument.key_span or argument.span
            self.report(
                "E202",
                f"{kind} has no parameter `{argument.key}`",
                span,
                hint=hint,
                fixes=_replace(span, argument.key, match) if argument.key_span else (),
            )
            return None
        value = argument.value
        if isinstance(value, syntax.Word) and value.text.lower() not in ("true", "false"):
            word = value.text
            if role := cls.bare_word_role(word):
                return role
            choices = [
                *(ACTIVATIONS if "activation" in cls.word_arguments else ()),
                *(cls.padding_modes if "padding" in cls.word_arguments else ()),
            ]
            if not choices:
                hint = (
                    f"name the parameter: {', '.join(a + '=...' for a in _own(accepted))}"
                    if _own(accepted)
                    else f"{kind} takes no arguments"
                )
                self.report("E207", f"{kind} takes no bare word here, got `{word}`", value.span, hint=hint)
            else:
                roles = " or ".join("activation" if r == "activation" else "padding mode" for r in cls.word_arguments)
                match = closest(word, choices)
                self.report(
                    "E207",
                    f"`{word}` is not a known {roles}",
                    value.span,
                    hint=f"did you mean `{match}`?" if match else f"choose from: {', '.join(choices)}",
                    fixes=_replace(value.span, word, match),
                )
            return None
        if isinstance(value, syntax.String) and (role := cls.bare_word_role(value.text)):
            # `maxpool 2x2 "same"`: a word in quotes where only a bare word can stand.
            shown = "padding mode" if role == "padding" else role
            self.report(
                "E203",
                f"a bare {shown} is a word, not a quoted string: {render(value)}",
                value.span,
                hint=f"write it without quotes: `{value.text}`",
                fixes=_replace(value.span, render(value), value.text),
            )
            unfit.add(role)
            return None
        if not free_positions:
            named = [a for a in _own(accepted) if a not in cls.positional]
            if cls.positional:
                hint = f"{kind} takes {', '.join(cls.positional)} in that order" + (
                    f"; name the others, e.g. {named[0]}=..." if named else ""
                )
            else:
                hint = f"{kind} takes no positional arguments" + (
                    f"; name them: {', '.join(a + '=...' for a in _own(accepted))}" if _own(accepted) else ""
                )
            self.report("E208", f"too many positional arguments for {kind}: {render(value)}", value.span, hint=hint)
            return None
        return free_positions[0]

    def claim_name(self, name: str, span: Span) -> bool:
        """Take a name for a layer or input; E211 (and False) when the model already has it."""
        if name in self.taken_names:
            self.report(
                "E211",
                f"a layer named `{name}` already exists in model `{self.block.name}`",
                span,
                hint="give each layer its own name",
            )
            return False
        self.taken_names.add(name)
        return True

    def layer_name(self, cls: type[LayerBase], given: str | None, span: Span | None, scope: Scope) -> str | None:
        """The given name, validated (after the block use's name inside a block), or the name Keras would
        give an unnamed layer: `conv2d`, then `conv2d_1`, `conv2d_2`..., counted over the whole model in the
        order the layers are made, blocks included (a block is a function called in order)."""
        # A name the use passes in (a parameter standing for it, so written at the use, outside the body) is the
        # layer's whole name: `concat a b c name=label` in a block, used as `mixed 32 label=mixed0`, is `mixed0`.
        from_the_use = scope.block is not None and span is not None and not _inside(span, scope.block.span)
        if given is not None and from_the_use:
            if not IDENTIFIER.match(given):
                self.report("E212", f"layer name {given!r} is not a valid name", span or self.block.name_span)
                return None
            return given if self.claim_name(given, span or self.block.name_span) else None
        if given is not None:
            valid = IDENTIFIER.match(given) if scope.block is None else _NAME_PART.match(given)
            if not valid:
                self.report(
                    "E212",
                    f"layer name {given!r} is not a valid name",
                    span or self.block.name_span,
                    hint="use ASCII letters, digits and underscores, starting with a letter",
                )
                return None
            full = scope.prefix + given
            return full if self.claim_name(full, span or self.block.name_span) else None
        stem = keras_auto_name(cls)
        while True:
            count = self.auto_name_counts[stem]
            self.auto_name_counts[stem] += 1
            candidate = stem if count == 0 else f"{stem}_{count}"
            if candidate not in self.reserved_names and candidate not in self.taken_names:
                self.taken_names.add(candidate)
                return candidate

    def report_validation(
        self,
        cls: type[LayerBase],
        statement: syntax.LayerStatement,
        error: ValidationError,
        spans: dict[str, Span],
        rendered: dict[str, str],
        unfit: set[str],
    ) -> None:
        """Turn pydantic's errors into specc diagnostics at the arguments they are about."""
        kind = cls.spellings[0]
        missing = [str(e["loc"][0]) for e in error.errors() if e["type"] == "missing" and e["loc"][0] not in unfit]
        if missing:
            if all(m in cls.positional for m in missing):
                hint = f"write it as `{kind} " + " ".join(f"<{p}>" for p in cls.positional) + "`"
            else:
                hint = f"add {', '.join(m + '=...' for m in missing)}"
            self.report("E205", f"{kind} needs {', '.join(missing)}", statement.kind_span, hint=hint)
        reported: set[str | None] = set()
        # Sort range errors first: for `padding=-1` the union's literal branch also fails, but
        # the range is what the user needs to hear, once per argument.
        errors = sorted(error.errors(), key=lambda e: e["type"] not in _PYDANTIC_COMPARISONS)
        for item in errors:
            argument = str(item["loc"][0]) if item["loc"] else None
            if item["type"] == "missing" or argument in reported:
                continue
            reported.add(argument)
            span = spans.get(argument or "", statement.kind_span)
            shown = rendered.get(argument or "", "")
            kind_of_error = item["type"]
            if kind_of_error == "strides_with_dilation":
                self.report(
                    "E213",
                    f"{kind}: strides > 1 cannot be combined with dilation_rate > 1 (Keras refuses it)",
                    spans.get("strides", statement.kind_span),
                    hint="use strides=1 with dilation, or follow the dilated layer with a pooling layer",
                )
            elif kind_of_error == "batch_axis":
                self.report(
                    "E204",
                    f"{kind}: axis 0 is the batch axis, which a layer cannot join on",
                    spans.get("axis", statement.kind_span),
                    hint="axis counts as Keras counts it: 1 is height, 2 width, -1 (or 3) channels",
                )
            elif kind_of_error == "keras_range":
                self.report("E204", f"{kind}: {item['msg']}, got {shown}", span)
            elif kind_of_error in ("statistics_pair", "padding_twice"):
                self.report("E203", f"{kind}: {item['msg']}", span)
            elif kind_of_error in _PYDANTIC_COMPARISONS:
                words, key = _PYDANTIC_COMPARISONS[kind_of_error]
                limit = item["ctx"][key]
                limit = int(limit) if isinstance(limit, float) and limit.is_integer() else limit
                self.report("E204", f"{argument} must be {words} {limit}, got {shown}", span)
            elif kind_of_error == "finite_number":
                self.report("E204", f"{argument} must be a finite number, got {shown}", span)
            elif kind_of_error == "literal_error":
                self.report("E203", f"{argument} does not accept {shown}", span)
            else:
                self.report("E203", f"{argument} has a value of the wrong form: {shown}", span)


def placed_parameters(cls: type[LayerBase], statement: syntax.LayerStatement) -> frozenset[str]:
    """The parameters that a statement's arguments fill, by key, by position or as bare words, placed
    by the rules lowering uses (`target_of`); the editor's completion offers only the others."""
    lowering = _ModelLowering(
        syntax.ModelBlock(name="_", name_span=statement.span, statements=(statement,), span=statement.span),
        [],
        frozenset(),
    )
    if cls.arity is None:
        statement = syntax.LayerStatement(
            kind=statement.kind,
            kind_span=statement.kind_span,
            arguments=tuple(
                a for a in statement.arguments if a.key is not None or not isinstance(a.value, syntax.Word)
            ),
            span=statement.span,
        )
    accepted = parameter_names(cls)
    free_positions = list(cls.positional)
    placed: dict[str, Any] = {}
    for argument in statement.arguments:
        target = lowering.target_of(cls, argument, accepted, free_positions, placed)
        if target is not None:
            placed[target] = argument
            if target in free_positions:
                free_positions.remove(target)
    return frozenset(placed)


def _block_definitions(source: syntax.SourceFile, diagnostics: list[Diagnostic]) -> dict[str, syntax.ModelBlock]:
    """The file's blocks by name, each checked on its own: its name, its parameters, its lines' names."""
    blocks: dict[str, syntax.ModelBlock] = {}
    for block in source.models:
        if not block.is_block:
            continue
        clash = None
        if block.name in blocks:
            clash = f"a block named `{block.name}` is already defined"
        elif block.name.lower() in ("input", "output") or documented_kind(block.name) is not None:
            clash = f"`{block.name}` is a layer kind; a block needs a name of its own"
        if clash:
            diagnostics.append(Diagnostic(code="E220", message=clash, span=block.name_span, hint="rename the block"))
            continue
        seen: set[str] = set()
        for parameter in block.parameters:
            if parameter.name in seen or parameter.name in ("name", "repeat"):
                diagnostics.append(
                    Diagnostic(
                        code="E220",
                        message=f"block `{block.name}` has a parameter `{parameter.name}` "
                        + ("twice" if parameter.name in seen else "(a name every use already takes)"),
                        span=parameter.span,
                        hint="give each parameter its own name",
                    )
                )
            seen.add(parameter.name)
        defaults_seen = False
        for parameter in block.parameters:
            if parameter.default is not None:
                defaults_seen = True
            elif defaults_seen:
                diagnostics.append(
                    Diagnostic(
                        code="E220",
                        message=f"parameter `{parameter.name}` has no default but follows one that has",
                        span=parameter.span,
                        hint="put the parameters with defaults last, as in Python",
                    )
                )
        for section in block.trainings:
            diagnostics.append(
                Diagnostic(
                    code="E224",
                    message=f"a training section trains a model; block `{block.name}` cannot have one",
                    span=section.keyword_span,
                    hint="move the `train { ... }` section into the model that uses the block",
                )
            )
        for budget in block.budgets:
            diagnostics.append(
                Diagnostic(
                    code="E223",
                    message=f"a budget limits a model; block `{block.name}` cannot have one",
                    span=budget.keyword_span,
                    hint="move the budget line into the model that uses the block",
                )
            )
        for statement in block.statements:
            if statement.target is not None and statement.target.text in seen:
                diagnostics.append(
                    Diagnostic(
                        code="E220",
                        message=f"`{statement.target.text}` is both a parameter of block `{block.name}` "
                        "and a value in it",
                        span=statement.target.span,
                        hint="give the value another name",
                    )
                )
        blocks[block.name] = block
    return blocks


def lower(source: syntax.SourceFile, cache: LoweringCache | None = None) -> tuple[SpecFile, list[Diagnostic]]:
    """Lower a syntax tree to the IR; returns the models that could be built and the diagnostics.

    Blocks are lowered where they are used, once per use. With a cache, statements lowered by an earlier
    call with the same cache are not lowered again.
    """
    diagnostics: list[Diagnostic] = []
    models: list[Model] = []
    seen: set[str] = set()
    blocks = _block_definitions(source, diagnostics) if any(b.is_block for b in source.models) else {}
    used: set[str] = set()
    for block in source.models:
        if block.is_block:
            continue
        if block.name in seen:
            diagnostics.append(
                Diagnostic(
                    code="E211",
                    message=f"a model named `{block.name}` is already defined",
                    span=block.name_span,
                    hint="give each model in a file its own name",
                )
            )
        seen.add(block.name)
        lowering = _ModelLowering(block, diagnostics, source.broken_lines, cache, blocks)
        models.append(lowering.lower())
        used.update(use.block for use in lowering.block_uses if use is not None)
    for name, block in blocks.items():
        if name not in used:
            diagnostics.append(
                Diagnostic(
                    code="W304",
                    message=f"block `{name}` is never used, so its lines are not checked",
                    span=block.name_span,
                    hint=f"use it in a model as a layer: `{name} ...`",
                )
            )
    if cache is not None:
        cache.finish_run()
    return SpecFile.model_construct(models=tuple(models)), once_each(diagnostics)
