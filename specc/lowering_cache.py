"""IR stage, for the editor: what lowering remembers between versions of a text, so that the next version
relowers only what changed.

The language server lowers the whole spec on every keystroke (specc.lsp.incremental keeps the syntax
nodes of unchanged lines). Statements are matched by identity, and what lowering made of each is kept:
its placed and converted arguments and the layers built from them; for a block's line, the line with one
use's arguments in place of the parameters; for a block's use, all the layers and uses it made. What an
edit moved by whole lines is moved along rather than lowered again. specc.lower uses it; nothing here
gives meaning to a spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from specc import syntax
from specc.diagnostics import Diagnostic, Span
from specc.ir import BlockUse
from specc.layers import LayerBase

if TYPE_CHECKING:
    from specc.lower import Scope

# A line whose name or inputs keep changing (edits around it) would otherwise keep every layer built for it.
# A block's line keeps one per use of the block, so the bound is well above the uses a network has.
BUILT_KEPT_PER_STATEMENT = 2048


@dataclass
class Placed:
    """What lowering made of one statement's arguments, and the layers built from them, by name."""

    statement: syntax.LayerStatement
    values: dict[str, Any]
    spans: dict[str, Span]
    rendered: dict[str, str]
    unfit: frozenset[str]
    reported: tuple[Diagnostic, ...]
    # name -> the layer built (None when validation failed) and what building it reported.
    built: dict[str | None, tuple[LayerBase | None, tuple[Diagnostic, ...]]] = field(default_factory=dict)


class Substitution(NamedTuple):
    """A block's line as one use of the block gives it: the line, the use, the result, the arguments' spans."""

    line: syntax.LayerStatement
    use: syntax.LayerStatement
    result: syntax.LayerStatement
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class Expansion:
    """What lowering one use of a block (all its repetitions) made, when it reported nothing: kept so that the
    next run, finding the same line reading the same values at the same place, takes it whole."""

    sources: tuple[object, ...]
    layers: tuple[LayerBase, ...]
    uses: tuple[BlockUse, ...]
    names: frozenset[str]
    use_names: frozenset[str]
    output: str
    # The cache entries its lines were lowered with, kept alive while it is: should it miss one day (an edit
    # moved the line), its lines are found again rather than validated afresh.
    kept: tuple[tuple[str, object], ...] = ()
    # How many unnamed layers of each Keras name stem it made, which the layers after it are numbered past.
    auto_names: tuple[tuple[str, int], ...] = ()


class LoweringCache:
    """Remembers how each statement was lowered, so that lowering the next version of a text redoes
    only the statements that changed. The editor re-lowers a whole spec on every keystroke.

    Statements are matched by identity (syntax nodes are immutable, and an incremental parse keeps
    the unchanged ones), and only what depends on the statement alone is kept: placed and converted
    arguments, and the layer built for a given name. Generated names, duplicate names and the chain
    of shapes are worked out afresh on every run. Entries not used by a run are dropped after it.
    """

    def __init__(self) -> None:
        self._entries: dict[int, Placed] = {}
        self._used: dict[int, Placed] = {}
        # A block's line with a use's arguments in place of its parameters, by the identities of the line and of
        # the line that uses the block: the same line of the same use is the same statement on the next run, so
        # what it was lowered and inferred to is found again, as for any line. When an edit above the use has
        # moved it, what the line was lowered to is moved with it (only the spans the use's arguments gave it).
        self._substituted: dict[tuple[int, int], Substitution] = {}
        self._substituted_used: dict[tuple[int, int], Substitution] = {}
        # Statements moved by this run's edit (or made from moved ones), to what they were: id(new) -> (old, lines).
        self._moved_from: dict[int, tuple[syntax.LayerStatement, int]] = {}
        self._expansions: dict[tuple, Expansion] = {}
        self._expansions_used: dict[tuple, Expansion] = {}
        self._recordings: list[list[tuple[str, object]]] = []
        # Told of each layer copied with moved spans while lowering, (old, new), so that a cache of what layers
        # were inferred to can follow (the language server's InferenceCache.carry).
        self.follow: Callable[[LayerBase, LayerBase], None] | None = None

    def substituted(self, statement: syntax.LayerStatement, scope: Scope) -> syntax.LayerStatement:
        """`scope.substituted(statement)`, the same object as last run when the line and its use are."""
        if not scope.mentions(statement):
            return statement
        use = scope.use_statement
        key = (id(statement), id(use))
        found = self._substituted_used.get(key) or self._substituted.get(key)
        if found is not None and found.line is statement and found.use is use:
            result = found.result
        else:
            result = scope.substituted(statement)
            moved = self._moved_from.get(id(use))
            old = self._substituted.get((id(statement), id(moved[0]))) if moved is not None else None
            if moved is not None and old is not None and old.line is statement and old.use is moved[0]:
                self._carry_substituted(old.result, result, old.spans, scope.substitution_spans)
            found = Substitution(statement, use, result, scope.substitution_spans)
        self._substituted_used[key] = found
        if self._recordings:
            self._record(("s", key))
        return result

    def _carry_substituted(
        self, old: syntax.LayerStatement, new: syntax.LayerStatement, before: tuple[Span, ...], after: tuple[Span, ...]
    ) -> bool:
        """Let `new`, a block's line whose arguments moved by whole lines since `old` was lowered, reuse what
        `old` was lowered to, with the arguments' spans moved. Any other change is lowered afresh."""
        moved = {old_span: new_span for old_span, new_span in zip(before, after, strict=True) if old_span != new_span}
        deltas = {new_span.line - old_span.line for old_span, new_span in moved.items()}
        if len(deltas) != 1 or any(o.shifted(n.line - o.line) != n for o, n in moved.items()):
            return False
        (lines,) = deltas
        self._moved_from[id(new)] = (old, lines)
        entry = self._entries.get(id(old))
        if entry is None or entry.statement is not old:
            return False

        def moved_diagnostic(diagnostic: Diagnostic) -> Diagnostic:
            return diagnostic.shifted(lines) if diagnostic.span in moved else diagnostic

        spans = {key: moved.get(span, span) for key, span in entry.spans.items()}
        for layer, copy in self._moved_entry(entry, new, spans, moved_diagnostic):
            if self.follow is not None:
                self.follow(layer, copy)
        return True

    def _moved_entry(
        self,
        entry: Placed,
        new: syntax.LayerStatement,
        spans: dict[str, Span],
        moved_diagnostic: Callable[[Diagnostic], Diagnostic],
        layer_span: Span | None = None,
    ) -> list[tuple[LayerBase, LayerBase]]:
        """`entry` for `new`, a moved copy of its statement: the arguments at `spans`, what was reported moved
        by `moved_diagnostic`, each layer built copied (and put at `layer_span` when given); returns the
        (old, new) layer pairs. Copying a built layer skips validating it again, most of lowering's cost."""
        moved: list[tuple[LayerBase, LayerBase]] = []
        built: dict[str | None, tuple[LayerBase | None, tuple[Diagnostic, ...]]] = {}
        for name, (layer, reported) in entry.built.items():
            copy = None
            if layer is not None:
                # pydantic's own shallow copy (a new __dict__, no validation), then the moved spans.
                copy = layer.__copy__()
                copy.__dict__.update(argument_spans=spans, **({"span": layer_span} if layer_span else {}))
                moved.append((layer, copy))
            built[name] = (copy, tuple(moved_diagnostic(d) for d in reported))
        reported = tuple(moved_diagnostic(d) for d in entry.reported)
        self._entries[id(new)] = Placed(new, entry.values, spans, entry.rendered, entry.unfit, reported, built)
        return moved

    def expansion(self, key: tuple, sources: tuple[object, ...]) -> Expansion | None:
        """The expansion kept for a block's use by the last run (or this one), if made from these very objects."""
        found = self._expansions_used.get(key) or self._expansions.get(key)
        if found is None or any(a is not b for a, b in zip(found.sources, sources, strict=True)):
            return None
        self._expansions_used[key] = found
        self._retain(found.kept)
        self._record(("e", key), *found.kept)
        return found

    def moved_expansion(self, key: tuple, sources: tuple[object, ...]) -> Expansion | None:
        """The last run's expansion of a use that this run's edit moved (key[0] is the moved use's id), with
        the spans that the use's line gave it moved along; None when there is none to move."""
        statement = sources[0]
        moved = self._moved_from.get(key[0])
        if moved is None:
            return None
        old_statement, lines = moved
        found = self._expansions.get((id(old_statement), *key[1:]))
        if found is None or found.sources[0] is not old_statement:
            return None
        if any(a is not b for a, b in zip(found.sources[1:], sources[1:], strict=True)):
            return None
        first, last = old_statement.span.line, old_statement.span.end_line

        def move(span: Span) -> Span:
            return span.shifted(lines) if first <= span.line <= last else span

        layers = []
        for layer in found.layers:
            copy = layer.__copy__()  # pydantic's shallow copy: a new __dict__, no validation
            copy.__dict__.update(argument_spans={k: move(v) for k, v in layer.argument_spans.items()})
            layers.append(copy)
            if self.follow is not None:
                self.follow(layer, copy)
        uses = tuple(use.model_copy(update={"span": move(use.span)}) for use in found.uses)
        expansion = Expansion(
            (statement, *sources[1:]), tuple(layers), uses, found.names, found.use_names, found.output, found.kept
        )
        self._expansions_used[key] = expansion
        self._retain(found.kept)
        self._record(("e", key), *found.kept)
        return expansion

    def keep_expansion(self, key: tuple, expansion: Expansion) -> None:
        self._expansions_used[key] = expansion
        self._record(("e", key))

    def start_recording(self) -> list[tuple[str, object]]:
        """Begin noting the entries used from now on (until stop_recording), for an expansion to keep."""
        recording: list[tuple[str, object]] = []
        self._recordings.append(recording)
        return recording

    def stop_recording(self, recording: list[tuple[str, object]]) -> None:
        self._recordings.remove(recording)

    def _record(self, *items: tuple[str, object]) -> None:
        for recording in self._recordings:
            recording.extend(items)

    def _retain(self, kept: tuple[tuple[str, object], ...]) -> None:
        """Carry these entries of the last run into this one, as if used."""
        tables = {
            "p": (self._entries, self._used),
            "s": (self._substituted, self._substituted_used),
            "e": (self._expansions, self._expansions_used),
        }
        for table, key in kept:
            last, used = tables[table]
            if key not in used and key in last:
                used[key] = last[key]  # type: ignore[index]

    def get(self, statement: syntax.LayerStatement) -> Placed | None:
        entry = self._entries.get(id(statement)) or self._used.get(id(statement))
        if entry is None or entry.statement is not statement:
            return None
        self._used[id(statement)] = entry
        if self._recordings:
            self._record(("p", id(statement)))
        return entry

    def put(self, entry: Placed) -> None:
        self._used[id(entry.statement)] = entry
        if self._recordings:
            self._record(("p", id(entry.statement)))

    def carry(
        self, old: syntax.LayerStatement, new: syntax.LayerStatement, lines: int
    ) -> list[tuple[LayerBase, LayerBase]]:
        """Let `new`, which is `old` moved `lines` lines down by an edit above it, reuse what `old` was
        lowered to, with every span moved; returns the (old, new) layer pairs so that the inference
        cache can follow. Copying a built layer skips validating it again, most of lowering's cost."""
        self._moved_from[id(new)] = (old, lines)
        entry = self._entries.get(id(old))
        if entry is None or entry.statement is not old:
            return []
        spans = {key: span.shifted(lines) for key, span in entry.spans.items()}
        return self._moved_entry(entry, new, spans, lambda diagnostic: diagnostic.shifted(lines), new.span)

    def finish_run(self) -> None:
        self._entries, self._used = self._used, {}
        self._substituted, self._substituted_used = self._substituted_used, {}
        self._expansions, self._expansions_used = self._expansions_used, {}
        self._moved_from = {}
