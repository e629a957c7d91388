"""IR stage: syntax tree -> typed IR (specc.ir), with a diagnostic for every argument that does not fit.

Lowering gives meaning to the words of a spec: it finds each layer kind, places positional
arguments and bare words, normalises values (3 becomes (3, 3)), and lets the pydantic
models enforce the domain rules. Nothing here raises for a user's mistake.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from specc import syntax
from specc.diagnostics import Diagnostic, Fix, Span
from specc.ir import Model, SpecFile
from specc.layers import (
    ACTIVATIONS,
    KIND_BY_SPELLING,
    LAYER_KINDS,
    MAX_EXTENT,
    PARAMETER_SHORT_FORMS,
    LayerBase,
    parameter_names,
)

if TYPE_CHECKING:
    from specc import call_lines


# Per-kind facts asked for on every layer line (parameter_names is cached in specc.layers);
# pydantic's model_fields is slow to read, and the editor re-lowers a spec on each keystroke.
@functools.cache
def _kind_name(cls: type[LayerBase]) -> str:
    """The IR kind of a class (`conv2d`), the stem of its generated layer names."""
    return cls.model_fields["kind"].default


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
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
}

# Parameters whose form depends on the kind, by the kind's IR name: Rescaling's scale is a factor, where
# batch and layer normalization's scale says whether to learn one.
KIND_CONVERTERS: dict[str, dict[str, Callable[[syntax.Value], Any]]] = {
    "rescaling": {"scale": _number},
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


@dataclass
class _Placed:
    """What lowering made of one statement's arguments, and the layers built from them, by name."""

    statement: syntax.LayerStatement
    values: dict[str, Any]
    spans: dict[str, Span]
    rendered: dict[str, str]
    unfit: frozenset[str]
    reported: tuple[Diagnostic, ...]
    # name -> the layer built (None when validation failed) and what building it reported.
    built: dict[str | None, tuple[LayerBase | None, tuple[Diagnostic, ...]]] = field(default_factory=dict)


class LoweringCache:
    """Remembers how each statement was lowered, so that lowering the next version of a text redoes
    only the statements that changed. The editor re-lowers a whole spec on every keystroke.

    Statements are matched by identity (syntax nodes are immutable, and an incremental parse keeps
    the unchanged ones), and only what depends on the statement alone is kept: placed and converted
    arguments, and the layer built for a given name. Generated names, duplicate names and the chain
    of shapes are worked out afresh on every run. Entries not used by a run are dropped after it.
    """

    def __init__(self) -> None:
        self._entries: dict[int, _Placed] = {}
        self._used: dict[int, _Placed] = {}

    def get(self, statement: syntax.LayerStatement) -> _Placed | None:
        entry = self._entries.get(id(statement)) or self._used.get(id(statement))
        if entry is None or entry.statement is not statement:
            return None
        self._used[id(statement)] = entry
        return entry

    def put(self, entry: _Placed) -> None:
        self._used[id(entry.statement)] = entry

    def carry(
        self, old: syntax.LayerStatement, new: syntax.LayerStatement, lines: int
    ) -> list[tuple[LayerBase, LayerBase]]:
        """Let `new`, which is `old` moved `lines` lines down by an edit above it, reuse what `old` was
        lowered to, with every span moved; returns the (old, new) layer pairs so that the inference
        cache can follow. Copying a built layer skips validating it again, most of lowering's cost."""
        entry = self._entries.get(id(old))
        if entry is None or entry.statement is not old:
            return []
        spans = {key: span.shifted(lines) for key, span in entry.spans.items()}
        moved: list[tuple[LayerBase, LayerBase]] = []
        built: dict[str | None, tuple[LayerBase | None, tuple[Diagnostic, ...]]] = {}
        for name, (layer, reported) in entry.built.items():
            copy = None
            if layer is not None:
                # pydantic's own shallow copy (a new __dict__, no validation), then the moved spans.
                copy = layer.__copy__()
                copy.__dict__.update(span=new.span, argument_spans=spans)
                moved.append((layer, copy))
            built[name] = (copy, tuple(d.shifted(lines) for d in reported))
        self._entries[id(new)] = _Placed(
            new,
            entry.values,
            spans,
            entry.rendered,
            entry.unfit,
            tuple(d.shifted(lines) for d in entry.reported),
            built,
        )
        return moved

    def finish_run(self) -> None:
        self._entries, self._used = self._used, {}


class _ModelLowering:
    """Lowers one model block, collecting diagnostics as it goes."""

    def __init__(
        self,
        block: syntax.ModelBlock,
        diagnostics: list[Diagnostic],
        broken_lines: frozenset[int],
        cache: LoweringCache | None = None,
    ):
        self.block = block
        self.cache = cache
        # Lines of this block that had a syntax error: whatever stood there is unknown, so the
        # chain of shapes ends at the first one and nothing is reported as missing because of it.
        self.broken_lines = sorted(line for line in broken_lines if block.span.line <= line <= block.span.end_line)
        self.diagnostics = diagnostics
        self.kind_counts: Counter[str] = Counter()
        self.taken_names: set[str] = set()
        # Names written in the block, so that a generated name never takes one a later line gives.
        self.reserved_names = {
            argument.value.text
            for statement in block.statements
            for argument in statement.arguments
            if argument.key == "name" and isinstance(argument.value, (syntax.Word, syntax.String))
        }

    def report(self, code: str, message: str, span: Span, hint: str | None = None, fixes: tuple[Fix, ...] = ()) -> None:
        self.diagnostics.append(Diagnostic(code=code, message=message, span=span, hint=hint, fixes=fixes))

    def lower(self) -> Model:
        input_shape, input_span = None, None
        layers: list[LayerBase] = []
        chain_ends_at: int | None = None
        statements = self.block.statements
        first_broken = self.broken_lines[0] if self.broken_lines else None
        for index, statement in enumerate(statements):
            if first_broken is not None and statement.span.line > first_broken and chain_ends_at is None:
                chain_ends_at = len(layers)
            if statement.kind.lower() == "input":
                if not _is_input(statement.kind):
                    # Still read as the input it is meant to be, so that the model is not also missing one.
                    self.report_unknown_kind(statement)
                if index != 0 or input_span is not None:
                    self.report(
                        "E210",
                        "`input` must be the first line of a model, and appear once",
                        statement.kind_span,
                        hint="move it to the top of the block",
                    )
                    continue
                input_shape, input_span = self.lower_input(statement), statement.span
                continue
            layer = self.lower_layer(statement)
            if layer is not None:
                layers.append(layer)
            elif chain_ends_at is None:
                chain_ends_at = len(layers)
        if first_broken is not None and chain_ends_at is None:
            chain_ends_at = len(layers)
        # Broken lines may have held the input or the layers: then neither is reported missing.
        if first_broken is None and input_span is None:
            self.report(
                "E209",
                f"model `{self.block.name}` has no `input` line",
                self.block.name_span,
                hint="start the block with the input shape, e.g. `input 28x28x1`",
            )
        elif first_broken is None and not any(s.kind.lower() != "input" for s in statements):
            self.report(
                "W302",
                f"model `{self.block.name}` has no layers after its input",
                self.block.name_span,
                hint="add layers after `input`, one per line",
            )
        # Built without validation: the layers were validated one by one as they were built and the
        # input shape by lower_input, and validating the model again would first build the schema of
        # the whole layer union, a large share of a `specc check` run, only to accept them.
        return Model.model_construct(
            name=self.block.name,
            span=self.block.span,
            name_span=self.block.name_span,
            input_shape=input_shape,
            input_span=input_span,
            layers=tuple(layers),
            chain_ends_at=chain_ends_at,
        )

    def lower_input(self, statement: syntax.LayerStatement) -> tuple[int, ...] | None:
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
        return shape

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
                f"specc's layer kinds: {', '.join(cls.spellings[0] for cls in LAYER_KINDS)} "
                "(Keras class names such as `Conv2D` work too)"
            )
        fixes = _replace(statement.kind_span, statement.kind, meant)
        call = _keras_call(statement)
        if call is not None:
            # `Conv2d(32, 3)`: mending the case alone would leave a call, so offer the whole line.
            hint = call.hint
            fixes = _replace(statement.span, f"{statement.kind}{render(statement.arguments[0].value)}", call.line)
        self.report("E201", f"unknown layer kind `{statement.kind}`", statement.kind_span, hint=hint, fixes=fixes)

    def lower_layer(self, statement: syntax.LayerStatement) -> LayerBase | None:
        cls = documented_kind(statement.kind)
        if cls is None:
            self.report_unknown_kind(statement)
            return None
        placed = self.cache.get(statement) if self.cache is not None else None
        if placed is None:
            mark = len(self.diagnostics)
            values, spans, rendered, unfit = self.place_arguments(cls, statement)
            placed = _Placed(
                statement, cls.fill_defaults(values), spans, rendered, frozenset(unfit), tuple(self.diagnostics[mark:])
            )
            if self.cache is not None:
                self.cache.put(placed)
        elif placed.reported:
            self.diagnostics.extend(placed.reported)
        name = self.layer_name(cls, placed.values.get("name"), placed.spans.get("name"))
        built = placed.built.get(name)
        if built is None:
            mark = len(self.diagnostics)
            values = {key: value for key, value in placed.values.items() if key != "name"}
            try:
                layer = cls(name=name or "_", span=statement.span, argument_spans=placed.spans, **values)
            except ValidationError as error:
                # Arguments already reported as unfit show up again as missing; say each thing once.
                self.report_validation(cls, statement, error, placed.spans, placed.rendered, set(placed.unfit))
                layer = None
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
                hint = f"did you mean `{match}`?" if match else f"{kind} takes: {', '.join(accepted) or 'no arguments'}"
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
                    f"name the parameter: {', '.join(a + '=...' for a in accepted)}"
                    if accepted
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
            named = [a for a in accepted if a not in cls.positional]
            if cls.positional:
                hint = f"{kind} takes {', '.join(cls.positional)} in that order" + (
                    f"; name the others, e.g. {named[0]}=..." if named else ""
                )
            else:
                hint = f"{kind} takes no positional arguments" + (
                    f"; name them: {', '.join(a + '=...' for a in accepted)}" if accepted else ""
                )
            self.report("E208", f"too many positional arguments for {kind}: {render(value)}", value.span, hint=hint)
            return None
        return free_positions[0]

    def layer_name(self, cls: type[LayerBase], given: str | None, span: Span | None) -> str | None:
        """The given name, validated, or the next free `kind_N`, counted per kind from 1."""
        if given is not None:
            if not IDENTIFIER.match(given):
                self.report(
                    "E212",
                    f"layer name {given!r} is not a valid name",
                    span or self.block.name_span,
                    hint="use ASCII letters, digits and underscores, starting with a letter",
                )
                return None
            if given in self.taken_names:
                self.report(
                    "E211",
                    f"a layer named `{given}` already exists in model `{self.block.name}`",
                    span or self.block.name_span,
                    hint="give each layer its own name",
                )
                return None
            self.taken_names.add(given)
            return given
        while True:
            self.kind_counts[cls.__name__] += 1
            candidate = f"{_kind_name(cls)}_{self.kind_counts[cls.__name__]}"
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


def lower(source: syntax.SourceFile, cache: LoweringCache | None = None) -> tuple[SpecFile, list[Diagnostic]]:
    """Lower a syntax tree to the IR; returns the models that could be built and the diagnostics.

    With a cache, statements lowered by an earlier call with the same cache are not lowered again.
    """
    diagnostics: list[Diagnostic] = []
    models: list[Model] = []
    seen: set[str] = set()
    for block in source.models:
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
        models.append(_ModelLowering(block, diagnostics, source.broken_lines, cache).lower())
    if cache is not None:
        cache.finish_run()
    return SpecFile.model_construct(models=tuple(models)), diagnostics
