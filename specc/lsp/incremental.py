"""Editor edge: re-checking a document after each edit without parsing all of it again.

Parsing is most of the check path's time (a 1,000-layer spec takes about 110 ms to parse and
30 ms to lower and check), and an edit usually changes a line or two inside one model or block
(`block NAME(parameters) { ... }`: the same body, so the same reasoning).
Inside a block, every line starts in the same parser state (a statement may begin), and
nothing but braces and `\\` continuations carries from one line to the next. So when the
changed lines lie strictly inside one block and hold neither, parsing just those lines, wrapped
in a block of their own, gives the statements and syntax diagnostics that parsing the whole
text would, with their line numbers moved; the rest of the tree is kept (shifted when lines
were added or removed). Lowering and checking then run on the whole tree as usual, since names
and shapes depend on every line.

Whenever that reasoning does not plainly hold (an edit that touches a brace, a header (a block's
parameters included: its line holds the `{`) or a continuation, a text whose last parse gave up,
many syntax errors) the whole text is parsed.
tests/test_lsp.py checks that both ways agree on random edits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from specc import syntax
from specc.check import InferenceCache
from specc.diagnostics import Diagnostic, Span
from specc.lower import LoweringCache
from specc.parse import parse
from specc.pipeline import CheckedSource, check_tree

# parse() gives up (an empty tree) after this many syntax errors; stay well clear of it.
_MAX_KEPT_ERRORS = 15


@dataclass(frozen=True)
class _Parsed:
    lines: list[str]
    tree: syntax.SourceFile
    diagnostics: list[Diagnostic]


class IncrementalChecker:
    """Checks successive versions of one document, reparsing only the lines an edit changed."""

    def __init__(self) -> None:
        self._last: _Parsed | None = None
        self._lowering = LoweringCache()
        self._inference = InferenceCache()
        # A block's lines moved while lowering (a use below an edit) keep what they were inferred to as well.
        self._lowering.follow = self._inference.carry
        self.reparsed_lines: int | None = None  # for tests: lines parsed by the last check, None for all

    @property
    def tree(self) -> syntax.SourceFile | None:
        """The syntax tree of the last text checked."""
        return self._last.tree if self._last is not None else None

    def check(self, text: str) -> CheckedSource:
        lines = text.split("\n")
        self.reparsed_lines = None
        parsed = self._reparse(lines) if self._last is not None else None
        if parsed is None:
            self.reparsed_lines = None
            tree, diagnostics = parse(text)
            parsed = _Parsed(lines, tree, diagnostics)
        self._last = parsed
        return check_tree(text, parsed.tree, list(parsed.diagnostics), self._lowering, self._inference)

    def _reparse(self, lines: list[str]) -> _Parsed | None:
        """The parse of `lines` from the last one and the changed lines only; None when that is not safe."""
        last = self._last
        assert last is not None
        old = last.lines
        if not last.tree.models or len(last.diagnostics) > _MAX_KEPT_ERRORS:
            return None
        # The changed lines: old[start:old_end] became lines[start:new_end].
        start = 0
        limit = min(len(old), len(lines))
        while start < limit and old[start] == lines[start]:
            start += 1
        if start == len(old) == len(lines):
            self.reparsed_lines = 0
            return last
        end_old, end_new = len(old), len(lines)
        while end_old > start and end_new > start and old[end_old - 1] == lines[end_new - 1]:
            end_old -= 1
            end_new -= 1
        # 1-based line numbers of the changed stretch (before the edit) and its block.
        first, last_line = start + 1, end_old
        block_index = next(
            (i for i, b in enumerate(last.tree.models) if b.span.line < first and last_line < b.span.end_line), None
        )
        if block_index is None:
            return None
        touched = old[start:end_old] + lines[start:end_new] + ([old[start - 1]] if start else [])
        if any(("{" in line or "}" in line or "\\" in line) for line in touched):
            return None
        fragment = lines[start:end_new]
        tree, found = parse("model _ {\n" + "\n".join(fragment) + "\n}\n")
        # A note points outside the line it is about (the `{` of the block a `model` keyword turned up in),
        # here at the wrapper's own brace: only a whole parse can place it.
        if len(tree.models) != 1 or any(d.code not in ("E101", "E102") or d.notes for d in found):
            return None
        kept = [d for d in last.diagnostics if not first <= d.span.line <= last_line]
        if len(kept) + len(found) > _MAX_KEPT_ERRORS:
            return None
        offset = start - 1  # fragment line 2 is line start + 1
        delta = end_new - end_old
        block = last.tree.models[block_index]
        if any(section.span.line <= last_line and first <= section.span.end_line for section in block.trainings):
            return None  # a training section's lines parse as settings, which the fragment's model would not see
        statements = (
            *(s for s in block.statements if s.span.end_line < first),
            *(s.shifted(offset) for s in tree.models[0].statements),
            *(self._moved(s, delta) for s in block.statements if s.span.line > last_line),
        )
        budgets = (
            *(b for b in block.budgets if b.span.end_line < first),
            *(b.shifted(offset) for b in tree.models[0].budgets),
            *(b.shifted(delta) for b in block.budgets if b.span.line > last_line),
        )
        blocks = [
            *last.tree.models[:block_index],
            replace(
                block,
                statements=statements,
                budgets=budgets,
                trainings=(
                    *(t for t in block.trainings if t.span.end_line < first),
                    *(t.shifted(delta) for t in block.trainings if t.span.line > last_line),
                ),
                span=_shift_span(block.span, delta, only_end=True),
            ),
            *(self._moved_block(b, delta) for b in last.tree.models[block_index + 1 :]),
        ]
        broken = {n for n in last.tree.broken_lines if n < first} | {
            n + delta for n in last.tree.broken_lines if n > last_line
        }
        broken |= {n + offset for n in tree.broken_lines}
        diagnostics = [
            *(d for d in kept if d.span.line < first),
            *(d.shifted(offset) for d in found),
            *(d.shifted(delta) for d in kept if d.span.line > last_line),
        ]
        comments = (
            *(c for c in last.tree.comments if c.span.line < first),
            *(c.shifted(offset) for c in tree.comments),
            *(c.shifted(delta) for c in last.tree.comments if c.span.line > last_line),
        )
        self.reparsed_lines = len(fragment)
        source = syntax.SourceFile(models=tuple(blocks), broken_lines=frozenset(broken), comments=comments)
        return _Parsed(lines, source, diagnostics)

    def _moved(self, statement: syntax.LayerStatement, delta: int) -> syntax.LayerStatement:
        """`statement` moved `delta` lines, keeping what it was lowered and inferred to (moved too)."""
        moved = statement.shifted(delta)
        if moved is not statement:
            for old_layer, new_layer in self._lowering.carry(statement, moved, delta):
                self._inference.carry(old_layer, new_layer)
        return moved

    def _moved_block(self, block: syntax.ModelBlock, delta: int) -> syntax.ModelBlock:
        """A model or block below the edit, moved with everything in it: statements, and a block's parameters."""
        if delta == 0:
            return block
        return syntax.ModelBlock(
            name=block.name,
            name_span=_shift_span(block.name_span, delta),
            statements=tuple(self._moved(s, delta) for s in block.statements),
            span=_shift_span(block.span, delta),
            open_span=_shift_span(block.open_span, delta) if block.open_span is not None else None,
            keyword=block.keyword,
            parameters=tuple(parameter.shifted(delta) for parameter in block.parameters),
            budgets=tuple(budget.shifted(delta) for budget in block.budgets),
            trainings=tuple(section.shifted(delta) for section in block.trainings),
        )


# Moving syntax nodes by whole lines; columns never change, since only whole lines were edited.


def _shift_span(span: Span, delta: int, only_end: bool = False) -> Span:
    if only_end:
        return Span(span.line, span.column, span.end_line + delta, span.end_column) if delta else span
    return span.shifted(delta)
