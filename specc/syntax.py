"""Parse stage, output: the syntax tree of a spec file, free of any parser library's types.

The tree records what was written and where; it gives no meaning to layer kinds or
parameter names. Lowering (specc.lower) turns it into the typed IR.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specc.diagnostics import Span


def _moved(node, **fields):
    """A copy of a frozen node with `fields` replaced. The language server moves every node below an
    inserted line on each keystroke, and filling the copy's dict directly is several times faster
    than a frozen dataclass's __init__ (or dataclasses.replace)."""
    copy = object.__new__(type(node))
    copy.__dict__.update(node.__dict__, **fields)
    return copy


@dataclass(frozen=True)
class Number:
    """An integer or decimal literal; `text` is kept so that 1.0 and 1 can be told apart."""

    text: str
    span: Span

    @property
    def is_integer(self) -> bool:
        return all(c.isdigit() or c in "+-" for c in self.text)

    @property
    def integer(self) -> int:
        """The value of an integer literal, capped: past 18 digits it only matters that it is too large."""
        return bounded_int(self.text)

    def shifted(self, lines: int):
        """This node `lines` lines further down (see Span.shifted)."""
        return _moved(self, span=self.span.shifted(lines)) if lines else self


# Python refuses int() of strings over 4,300 digits; no extent is anywhere near 18 digits.
_LARGEST_DIGITS = 18


def bounded_int(text: str) -> int:
    """int(text) for a signed run of digits, with anything longer than 18 digits read as +-10**18."""
    digits = text.lstrip("+-")
    if len(digits.lstrip("0")) > _LARGEST_DIGITS:
        return -(10**_LARGEST_DIGITS) if text.startswith("-") else 10**_LARGEST_DIGITS
    return int(text)


@dataclass(frozen=True)
class Size:
    """`28x28x1`: a shape or a window written with x between its extents."""

    dims: tuple[int, ...]
    span: Span
    text: str = ""
    # For each extent left open, `?` or the name written for it (`H`), in place; None where a number was written
    # (whose dim is then 0). Empty when every extent is a number.
    open: tuple[str | None, ...] = ()

    def shifted(self, lines: int):
        """This node `lines` lines further down (see Span.shifted)."""
        return _moved(self, span=self.span.shifted(lines)) if lines else self


@dataclass(frozen=True)
class Word:
    """A bare identifier used as a value: `relu`, `same`, `true`."""

    text: str
    span: Span

    def shifted(self, lines: int):
        """This node `lines` lines further down (see Span.shifted)."""
        return _moved(self, span=self.span.shifted(lines)) if lines else self


@dataclass(frozen=True)
class String:
    """A double-quoted literal, already unescaped; `raw` is the literal as written, quotes and escapes included."""

    text: str
    span: Span
    raw: str = field(default="", compare=False)

    def shifted(self, lines: int):
        """This node `lines` lines further down (see Span.shifted)."""
        return _moved(self, span=self.span.shifted(lines)) if lines else self


@dataclass(frozen=True)
class Tuple:
    """`(1, 2)` or `((1, 1), (2, 2))`."""

    items: tuple[Value, ...]
    span: Span

    def shifted(self, lines: int) -> Tuple:
        if not lines:
            return self
        return _moved(self, items=tuple(item.shifted(lines) for item in self.items), span=self.span.shifted(lines))


Value = Number | Size | Word | String | Tuple


@dataclass(frozen=True)
class Argument:
    """A positional value, or a `key=value` pair when `key` is set."""

    value: Value
    span: Span
    key: str | None = None
    key_span: Span | None = None

    def shifted(self, lines: int) -> Argument:
        """This argument `lines` lines further down; its value and span move when first read."""
        return _MovedArgument.of(self, lines)


class _MovedArgument(Argument):
    """An argument moved by whole lines whose value and span are moved when first read.

    The language server moves every statement below an inserted line on each keystroke, and
    lowering reuses what it made of them without reading their arguments' positions; moving
    those on demand keeps an edit from costing a copy of every value below it. It compares,
    hashes and prints as the Argument it stands for.
    """

    def __init__(self, source: Argument, lines: int) -> None:
        # `key` and `key_span` have class-level defaults, so they are set here; `value` and `span`
        # have none, and reading them reaches __getattr__. The frozen dataclass's __setattr__ is
        # bypassed on purpose: this is the hot path the class exists for.
        key_span = source.key_span
        self.__dict__.update(
            key=source.key,
            key_span=key_span.shifted(lines) if key_span is not None else None,
            _source=source,
            _lines=lines,
        )

    @staticmethod
    def of(argument: Argument, lines: int) -> Argument:
        """`argument` moved `lines` lines, lazily; a move of a move not yet read is one move."""
        if lines == 0:
            return argument
        state = argument.__dict__
        if "_source" in state:
            return _MovedArgument(state["_source"], state["_lines"] + lines)
        return _MovedArgument(argument, lines)

    def __getattr__(self, name: str):
        if name not in ("value", "span"):
            raise AttributeError(name)
        state = self.__dict__
        source, lines = state.pop("_source"), state.pop("_lines")
        state["value"] = source.value.shifted(lines)
        state["span"] = source.span.shifted(lines)
        return state[name]

    def _fields(self) -> tuple:
        return (self.value, self.span, self.key, self.key_span)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Argument):
            return self._fields() == (other.value, other.span, other.key, other.key_span)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return repr(Argument(*self._fields()))


@dataclass(frozen=True)
class LayerStatement:
    """One line of a model body: `target = kind arguments from sources`, where only the kind is required.

    `target` names the value the line makes; `sources` are the values it reads (`from x, y`), as
    words with their spans. Without sources a layer reads the line before it."""

    kind: str
    kind_span: Span
    arguments: tuple[Argument, ...]
    span: Span
    target: Word | None = None
    sources: tuple[Word, ...] = ()

    def shifted(self, lines: int) -> LayerStatement:
        """This statement `lines` lines further down, every span inside it moved."""
        if not lines:
            return self
        return _moved(
            self,
            kind_span=self.kind_span.shifted(lines),
            arguments=tuple([argument.shifted(lines) for argument in self.arguments]),
            span=self.span.shifted(lines),
            target=self.target.shifted(lines) if self.target is not None else None,
            sources=tuple(source.shifted(lines) for source in self.sources),
        )


@dataclass(frozen=True)
class Limit:
    """`macs<=600M`: a metric, a comparison and a quantity as written (number and unit, `200MB`), each with its span."""

    metric: Word
    operator: str
    quantity: Word
    span: Span

    def shifted(self, lines: int) -> Limit:
        if not lines:
            return self
        return _moved(
            self,
            metric=self.metric.shifted(lines),
            quantity=self.quantity.shifted(lines),
            span=self.span.shifted(lines),
        )


@dataclass(frozen=True)
class BudgetStatement:
    """`budget params<=5M memory<=200MB batch=8`: limits on a model's figures, and the options (`key=value`)
    that say at what batch and dtype its memory is evaluated. A model keeps these apart from its layer
    statements (ModelBlock.budgets): they make no value, and every pass over the layer lines can ignore them."""

    limits: tuple[Limit, ...]
    options: tuple[Argument, ...]
    span: Span
    keyword_span: Span

    def shifted(self, lines: int) -> BudgetStatement:
        """This statement `lines` lines further down, every span inside it moved."""
        if not lines:
            return self
        return _moved(
            self,
            limits=tuple(limit.shifted(lines) for limit in self.limits),
            options=tuple(option.shifted(lines) for option in self.options),
            span=self.span.shifted(lines),
            keyword_span=self.keyword_span.shifted(lines),
        )


@dataclass(frozen=True)
class TrainingSection:
    """`train { ... }` in a model: how it is trained. Each setting is written as a layer line (a word, then
    arguments), so it is held as one, `kind` being the setting's word (`optimizer`, `epochs`). A model keeps
    these apart from its layer statements (ModelBlock.trainings), as it keeps its budgets."""

    settings: tuple[LayerStatement, ...]
    span: Span
    keyword_span: Span

    def shifted(self, lines: int) -> TrainingSection:
        """This section `lines` lines further down, every span inside it moved."""
        if not lines:
            return self
        return _moved(
            self,
            settings=tuple(setting.shifted(lines) for setting in self.settings),
            span=self.span.shifted(lines),
            keyword_span=self.keyword_span.shifted(lines),
        )


@dataclass(frozen=True)
class Parameter:
    """A block's parameter, `filters` or `strides=1`, with its default value when it has one."""

    name: str
    span: Span
    default: Value | None = None

    def shifted(self, lines: int) -> Parameter:
        if not lines:
            return self
        default = self.default.shifted(lines) if self.default is not None else None
        return _moved(self, span=self.span.shifted(lines), default=default)


@dataclass(frozen=True)
class ModelBlock:
    """`model NAME { ... }`, or `block NAME(parameters) { ... }` when `keyword` is "block"; `span` runs from
    the keyword to the closing brace, `open_span` is the opening brace."""

    name: str
    name_span: Span
    statements: tuple[LayerStatement, ...]
    span: Span
    open_span: Span | None = field(default=None, compare=False)
    keyword: str = "model"
    parameters: tuple[Parameter, ...] = ()
    # The `budget` lines of the body, in order; lowering refuses them in a block.
    budgets: tuple[BudgetStatement, ...] = ()
    # The `train { ... }` sections, in order; lowering takes one per model and refuses them in a block.
    trainings: tuple[TrainingSection, ...] = ()

    @property
    def is_block(self) -> bool:
        return self.keyword == "block"


@dataclass(frozen=True)
class Comment:
    """A `#` comment as written, `#` included, without its line break (nor the \\r of a CRLF line end)."""

    text: str
    span: Span

    def shifted(self, lines: int):
        """This node `lines` lines further down (see Span.shifted)."""
        return _moved(self, span=self.span.shifted(lines)) if lines else self


@dataclass(frozen=True)
class SourceFile:
    models: tuple[ModelBlock, ...] = field(default_factory=tuple)
    # Lines that had a syntax error and were left out; what stood there is unknown.
    broken_lines: frozenset[int] = frozenset()
    # Every comment of the text that parsed, in order. Comments mean nothing to the language;
    # they are kept for the formatter, which must put each back where it was.
    comments: tuple[Comment, ...] = field(default=(), compare=False)
