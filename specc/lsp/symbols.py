"""Editor edge: the names a spec's text defines and uses (values, blocks, block parameters), read from its syntax tree.

Navigation works on the text as written, so it reads the syntax tree rather than the IR (where a
block's lines are copied once per use and value names are gone). The rules are lowering's:

- A value is bound by a line's target (`y = ...`) and used after `from`, as a merge's operand
  (`add x y`) and by `output`. A use refers to the latest binding above it in the same body, a
  model's or a block's; a body sees no other body's values. Within one line, what it reads is
  looked up before its own target is bound, so `x = conv 8 3 from x` reads the `x` above it.
- A block is defined by `block NAME(...) {` and used wherever a line's kind is its name, in any
  model or block of the file, before or after the definition.
- A block's parameter is defined in its header and used in its body wherever a bare word is its
  name (lowering substitutes every such word), and at each use of the block as a key (`filters=16`).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from specc import syntax
from specc.diagnostics import Span
from specc.lower import IDENTIFIER, documented_kind

# Words the grammar or lowering reads as the language's own wherever a name may stand.
KEYWORDS = frozenset({"model", "block", "from", "input", "output"})
# Every block use takes these two, so no parameter may be called so (E220).
USE_ARGUMENTS = frozenset({"name", "repeat"})


class Symbol:
    """One binding: a value bound by one line, a block, or a block's parameter. Compared by identity:
    two bindings of the same name are two symbols."""

    __slots__ = ("kind", "name", "definition", "body", "statement", "block")

    def __init__(
        self,
        kind: str,
        name: str,
        definition: Span,
        body: syntax.ModelBlock | None = None,
        statement: syntax.LayerStatement | None = None,
        block: syntax.ModelBlock | None = None,
    ) -> None:
        self.kind = kind  # "value", "block" or "parameter"
        self.name = name
        self.definition = definition  # where its name is written where it is defined
        self.body = body  # a value's or a parameter's model or block
        self.statement = statement  # a value: the line that makes it
        self.block = block  # a block, or a parameter's block

    def __repr__(self) -> str:
        return f"Symbol({self.kind} {self.name!r} at {self.definition.line}:{self.definition.column})"


@dataclass(frozen=True)
class Occurrence:
    """A name written in the text, and the symbol it is (a definition) or refers to (a use)."""

    span: Span
    symbol: Symbol
    is_definition: bool


@dataclass
class SymbolIndex:
    """Every occurrence of every symbol in a file, in the order of the text."""

    occurrences: list[Occurrence] = field(default_factory=list)
    blocks: dict[str, Symbol] = field(default_factory=dict)
    _starts: list[tuple[int, int]] = field(default_factory=list)

    def at(self, line: int, column: int) -> Occurrence | None:
        """The occurrence under a 1-based point, or just before it (a cursor right after a word is on it)."""
        index = bisect.bisect_right(self._starts, (line, column)) - 1
        for candidate in self.occurrences[max(index - 1, 0) : index + 1][::-1]:
            span = candidate.span
            if span.line == line and span.column <= column <= span.end_column:
                return candidate
        return None

    def of(self, symbol: Symbol) -> list[Occurrence]:
        """Every occurrence of `symbol`, its definition included, in the order of the text."""
        return [o for o in self.occurrences if o.symbol is symbol]

    def body_at(self, tree: syntax.SourceFile, line: int) -> syntax.ModelBlock | None:
        for body in tree.models:
            if body.span.line <= line <= body.span.end_line:
                return body
        return None


def _name_span(parameter: syntax.Parameter) -> Span:
    """Where a parameter's name is written: the start of its span (`strides=1` spans its default too)."""
    start = parameter.span
    return Span(start.line, start.column, start.line, start.column + len(parameter.name))


def _words(value: syntax.Value):
    """The bare words in a value, tuples' items included."""
    if isinstance(value, syntax.Word):
        yield value
    elif isinstance(value, syntax.Tuple):
        for item in value.items:
            yield from _words(item)


def _reads_operands(kind: str) -> bool:
    """Whether a line of this kind names the values it reads after its kind: merges and `output`."""
    if kind == "output":
        return True
    cls = documented_kind(kind)
    return cls is not None and cls.arity is None


def build_index(tree: syntax.SourceFile) -> SymbolIndex:
    """The symbols of a parsed file and where each occurs."""
    index = SymbolIndex()
    found: list[Occurrence] = []
    # Blocks and their parameters first: a block may be used above its definition.
    parameters_of: dict[int, dict[str, Symbol]] = {}
    for body in tree.models:
        parameters: dict[str, Symbol] = {}
        for parameter in body.parameters:
            span = _name_span(parameter)
            symbol = Symbol("parameter", parameter.name, span, body=body, block=body)
            parameters.setdefault(parameter.name, symbol)
            found.append(Occurrence(span, symbol, True))
        parameters_of[id(body)] = parameters
        if body.is_block:
            symbol = Symbol("block", body.name, body.name_span, block=body)
            found.append(Occurrence(body.name_span, symbol, True))
            index.blocks.setdefault(body.name, symbol)
    for body in tree.models:
        values: dict[str, Symbol] = {}
        for statement in body.statements:
            used = index.blocks.get(statement.kind)
            used_parameters = parameters_of[id(used.block)] if used is not None else {}  # type: ignore[arg-type]
            _statement_occurrences(statement, body, used, used_parameters, parameters_of[id(body)], values, found)
    found.sort(key=lambda o: (o.span.line, o.span.column))
    index.occurrences = found
    index._starts = [(o.span.line, o.span.column) for o in found]
    return index


def _statement_occurrences(
    statement: syntax.LayerStatement,
    body: syntax.ModelBlock,
    used_block: Symbol | None,
    used_parameters: dict[str, Symbol],
    parameters: dict[str, Symbol],
    values: dict[str, Symbol],
    found: list[Occurrence],
) -> None:
    """The occurrences in one line: the block it uses and that block's parameters given by key; the values
    and parameters it reads; then the value it binds."""
    if used_block is not None:
        found.append(Occurrence(statement.kind_span, used_block, False))
        for argument in statement.arguments:
            if argument.key in used_parameters and argument.key_span is not None:
                found.append(Occurrence(argument.key_span, used_parameters[argument.key], False))
    operands = _reads_operands(statement.kind)
    for argument in statement.arguments:
        for word in _words(argument.value):
            if word.text in parameters:
                found.append(Occurrence(word.span, parameters[word.text], False))
            elif operands and argument.key is None and word is argument.value and word.text in values:
                found.append(Occurrence(word.span, values[word.text], False))
    for source in statement.sources:
        if source.text in values:
            found.append(Occurrence(source.span, values[source.text], False))
    if statement.target is not None:
        symbol = Symbol("value", statement.target.text, statement.target.span, body=body, statement=statement)
        values[statement.target.text] = symbol
        found.append(Occurrence(statement.target.span, symbol, True))


def values_above(body: syntax.ModelBlock, line: int, column: int) -> list[str]:
    """The value names that a statement starting at a 1-based point of `body` may read: those bound by the
    statements that end before it, each once, the latest binding last."""
    names: dict[str, None] = {}
    for statement in body.statements:
        if (statement.span.end_line, statement.span.end_column) >= (line, column):
            break  # the line the point is in, or one after it
        if statement.target is not None:
            names.pop(statement.target.text, None)
            names[statement.target.text] = None
    return list(names)


def rename_problem(index: SymbolIndex, symbol: Symbol, new_name: str) -> str | None:
    """Why `symbol` cannot be renamed `new_name`, or None when it can: the new name must be a name,
    not one of the language's words, and must not change what any other name refers to."""
    if not IDENTIFIER.match(new_name):
        return f"`{new_name}` is not a name: a letter or `_`, then letters, digits or `_`"
    if new_name in KEYWORDS:
        return f"`{new_name}` is one of specc's own words"
    if new_name == symbol.name:
        return None
    if symbol.kind == "block":
        if new_name in index.blocks:
            return f"a block named `{new_name}` is already defined"
        if documented_kind(new_name) is not None:
            return f"`{new_name}` is a layer kind; a block needs a name of its own"
        return None
    body = symbol.body
    assert body is not None
    # Every name a body writes as a value or a bare word: a renamed value or parameter taking one of them
    # would capture, or be captured by, what that name refers to now.
    written = {p.name for p in body.parameters}
    for statement in body.statements:
        if statement.target is not None:
            written.add(statement.target.text)
        written.update(source.text for source in statement.sources)
        written.update(word.text for argument in statement.arguments for word in _words(argument.value))
    if symbol.kind == "parameter" and new_name in USE_ARGUMENTS:
        return f"every use of a block takes `{new_name}`; a parameter needs another name"
    if new_name in written:
        what = "a parameter or a value" if body.is_block else "a value"
        where = f"{'block' if body.is_block else 'model'} `{body.name}`"
        return f"`{new_name}` is already used in {where} (as {what} or a word)"
    return None
