"""Check path, repair: apply the mechanical fixes that diagnostics carry (the editor's quick fixes) to spec text.

`specc check --fix` and `--diff` use this; the language server offers the same Fix data one
by one as code actions. Only errors are fixed, and only where the fix is the one on offer: a
warning's fix (a `flatten` before a dense layer on a feature map) would change what a valid
network computes, so it is left to the user.
"""

from __future__ import annotations

from specc.diagnostics import Diagnostic, Fix, Severity, Span
from specc.pipeline import CheckedSource, check_text

# A fix can reveal another error with a fix of its own (a misspelt kind hides the shapes after it),
# so fixing runs again on the fixed text; this bounds it should two fixes ever undo each other.
MAX_ROUNDS = 10


def applicable_fixes(diagnostics: list[Diagnostic]) -> list[Fix]:
    """The fix of each error that has exactly one, as the editor marks it preferred."""
    return [d.fixes[0] for d in diagnostics if d.severity is Severity.ERROR and len(d.fixes) == 1]


def _offset(line_starts: list[int], span_line: int, column: int) -> int:
    return line_starts[span_line - 1] + column - 1


def apply_fixes(text: str, fixes: list[Fix]) -> tuple[str, int]:
    """`text` with the fixes applied, and how many were; a fix that overlaps one before it is left out
    (the next round sees its diagnostic again if it still applies)."""
    line_starts = [0]
    for line in text.split("\n"):
        line_starts.append(line_starts[-1] + len(line) + 1)

    def bounds(span: Span) -> tuple[int, int]:
        return _offset(line_starts, span.line, span.column), _offset(line_starts, span.end_line, span.end_column)

    chosen: list[tuple[int, int, str]] = []
    for fix in sorted(fixes, key=lambda f: bounds(f.span)):
        start, end = bounds(fix.span)
        if chosen and (start < chosen[-1][1] or start == chosen[-1][0]):  # overlaps, or inserts at the same place
            continue
        chosen.append((start, end, fix.new_text))
    for start, end, new_text in reversed(chosen):
        text = text[:start] + new_text + text[end:]
    return text, len(chosen)


def fix_text(text: str) -> tuple[str, int, CheckedSource]:
    """Apply fixes until none is left to apply: the fixed text, how many fixes went in, and its check."""
    checked = check_text(text)
    applied = 0
    for _ in range(MAX_ROUNDS):
        fixes = applicable_fixes(checked.diagnostics)
        if not fixes:
            break
        fixed, count = apply_fixes(text, fixes)
        if fixed == text:
            break
        text, applied = fixed, applied + count
        checked = check_text(text)
    return text, applied, checked
