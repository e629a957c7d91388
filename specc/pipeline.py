"""The whole check path in one call: bytes -> text -> syntax tree -> IR -> reports and diagnostics.

The command line, the language server and the backends start here, so each of them sees the
same diagnostics for the same input.
"""

from __future__ import annotations

import codecs
import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from specc.check import InferenceCache, ModelReport, check
from specc.diagnostics import Diagnostic, Severity, Span, has_errors
from specc.ir import SpecFile
from specc.lints import lint
from specc.lower import LoweringCache, lower
from specc.parse import parse
from specc.syntax import Comment, SourceFile


@dataclass(frozen=True)
class CheckedSource:
    """Everything known about one spec text."""

    text: str
    spec: SpecFile
    reports: list[ModelReport]
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)

    @property
    def lines(self) -> list[str]:
        """The source lines as the parser counts them: split at \\n only, never at \\f or U+2028."""
        return self.text.split("\n")


def decode(data: bytes) -> tuple[str, Diagnostic | None]:
    """Spec bytes as text, without a leading BOM; bytes that are not UTF-8 text give a diagnostic.

    The text is returned either way (bad bytes replaced) so that the diagnostic can quote its line.
    """
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    body = data[bom:]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        good = body[: error.start].decode("utf-8")
        return body.decode("utf-8", errors="replace"), Diagnostic(
            code="E100",
            message=f"the file is not UTF-8 text (byte 0x{body[error.start]:02x} at offset {bom + error.start})",
            span=_position_after(good),
            hint="save the spec as UTF-8 text",
        )
    if "\x00" in text:
        return text, Diagnostic(
            code="E100",
            message="the file contains a NUL byte, so it is not text",
            span=_position_after(text[: text.index("\x00")]),
            hint="save the spec as UTF-8 text",
        )
    return text, None


def _position_after(prefix: str) -> Span:
    line = prefix.count("\n") + 1
    return Span.point(line, len(prefix) - (prefix.rfind("\n") + 1) + 1)


@contextmanager
def cycle_collection_paused(freeze: bool = False) -> Iterator[None]:
    """Python's cycle collector paused for the duration, then restored as it was; with `freeze`, what
    was built meanwhile is first moved out of its reach (gc.freeze), for a process that keeps it.

    Checking a spec builds a tree of objects that all stay alive until the end (tokens, syntax
    nodes, layers, reports) and holds no reference cycles, so reference counting frees it. While
    it grows, each full collection walks all of it, and their number grows with its size too:
    at 100,000 layers they took most of the time. Cycles made meanwhile wait for the next collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()


def check_text(text: str, evaluate_at: tuple[int, ...] | None = None) -> CheckedSource:
    """Parse, lower and check spec text; collects every diagnostic of every stage, sorted by position. A model
    whose input is left open is evaluated at `evaluate_at` where given (see specc.check.check_open_model)."""
    with cycle_collection_paused():
        tree, diagnostics = parse(text)
        return check_tree(text, tree, diagnostics, evaluate_at=evaluate_at)


def check_tree(
    text: str,
    tree: SourceFile,
    parse_diagnostics: list[Diagnostic],
    lowering_cache: LoweringCache | None = None,
    inference_cache: InferenceCache | None = None,
    evaluate_at: tuple[int, ...] | None = None,
) -> CheckedSource:
    """Lower and check an already parsed text: the rest of check_text, for the language server, which
    parses only the lines an edit touched and keeps caches of lowered statements and inferences."""
    with cycle_collection_paused():
        spec, lowering = lower(tree, lowering_cache)
        reports, checking = check(spec, inference_cache, evaluate_at)
        if any(report.model.budgets for report in reports):
            # The figures a budget needs are computed only for a spec that has one (a check imports no more).
            from specc.budgets import check_budgets

            checking += [diagnostic for report in reports for diagnostic in check_budgets(report)]
    diagnostics = parse_diagnostics + lowering + checking
    if not has_errors(diagnostics):
        # Lints are about a model that checks: on one with errors they would be noise beside what must be fixed.
        diagnostics += [diagnostic for report in reports if report.complete for diagnostic in lint(report)]
    diagnostics = silenced(diagnostics, tree.comments)
    if not tree.models and not diagnostics:
        diagnostics.append(
            Diagnostic(
                code="E104",
                message="the file declares no model",
                span=Span.point(1, 1),
                hint="write a block: `model mnist { input 28x28x1 ... }`",
            )
        )
    diagnostics.sort(key=lambda d: (d.span.line, d.span.column))
    return CheckedSource(text=text, spec=spec, reports=reports, diagnostics=diagnostics)


# `# specc: ignore`, `# specc: ignore[W401]` or `# specc: ignore[W401, W403]` after the code on a line.
_IGNORE = re.compile(r"#.*\bspecc:\s*ignore\b(?:\[([A-Za-z0-9_,\s]*)\])?")


def silenced(diagnostics: list[Diagnostic], comments: tuple[Comment, ...]) -> list[Diagnostic]:
    """The diagnostics less the warnings that a `# specc: ignore[...]` comment on their line silences (all of
    them when it names no code). Errors are never silenced: a spec with one cannot be built."""
    ignored: dict[int, frozenset[str] | None] = {}
    for comment in comments:
        if match := _IGNORE.match(comment.text):
            codes = match.group(1)
            ignored[comment.span.line] = (
                None if codes is None else frozenset(c.strip().upper() for c in codes.split(",") if c.strip())
            )
    if not ignored:
        return diagnostics
    return [
        d
        for d in diagnostics
        if d.severity is not Severity.WARNING
        or d.span.line not in ignored
        or (ignored[d.span.line] is not None and d.code not in ignored[d.span.line])  # type: ignore[operator]
    ]


def check_bytes(data: bytes, evaluate_at: tuple[int, ...] | None = None) -> CheckedSource:
    """check_text for raw file contents, which may not be text at all."""
    text, problem = decode(data)
    if problem is not None:
        return CheckedSource(text=text, spec=SpecFile.model_construct(models=()), reports=[], diagnostics=[problem])
    return check_text(text, evaluate_at)
