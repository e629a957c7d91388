"""Format stage: spec text -> the same spec in specc's one canonical layout, comments kept (`specc fmt`).

The formatter works from the syntax tree, so it sees exactly what the checker sees, and it only
formats text that parses: with a syntax error it returns the parser's diagnostics and no text.
The layout, which docs/fmt.md shows with examples:

- `model NAME {` (a block: `block NAME(a, b=1) {`, or `block NAME {` without parameters) on a
  line of its own, the body indented two spaces, `}` alone at column 0. An empty model is
  `model NAME {` then `}`. One exception: a first statement that starts with the word `model` or
  `block` (as its kind or its value's name; well-formed right after `{`) stays on the header
  line, because at the start of a line the parser reads either word as the start of a new model.
- One statement per line: statements separated by `;` are split onto lines of their own, and
  lines joined by a backslash continuation are written as one line. Lines are never wrapped.
- Within a statement: `name = ` before the kind when the line names its value; single spaces
  between the kind and each argument; `key=value` without spaces; tuples as `(a, b)` and
  `((a, b), (c, d))`, without a trailing comma; the values read last, `from a, b` (arguments
  written after them move before them, which lowering places the same way).
- A budget line: `budget`, its limits as `metric<=quantity` without spaces, then its options
  (`batch=8 dtype=float16`), each in the order written.
- A training section: `train {` on a line of its own, one setting per line indented two spaces more,
  `}` alone at the body's indentation; settings keep the order written, each laid out as a layer line.
- Every word, number, size and string is written as it was (3x3 stays 3x3, 0.50 stays 0.50,
  `kernel=` stays `kernel=`, a string keeps its escapes): only the layout changes.
- Every comment is kept, in order, with its text as written less trailing whitespace. A comment
  that followed code on its line follows the same code: after a statement, after `model NAME {`,
  or after `}`. The trailing comments of consecutive statement lines start in one column, two
  spaces after the longest statement among them (as gofmt aligns them); any other line ends the
  run, and a model's first and last lines keep their comment two spaces after the brace. A
  comment alone on its line stays alone, indented like the body inside a model and at column 0
  outside.
- Blank lines: a run of blank lines becomes one; none at the start or end of a body or of the
  file; exactly one after each model's `}` when anything follows.
- LF line endings and exactly one final newline; a text with nothing but whitespace formats to
  the empty text.

Everything above applies to blocks as to models: "model" in it means either.

Formatting never changes what a spec means (the IR of the output equals the input's, spans left
out) and is idempotent. Specs with semantic errors, such as unknown layer kinds or shapes that do
not fit, format like any other: they are well-formed text.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace

from specc import syntax
from specc.diagnostics import Diagnostic
from specc.parse import parse

INDENT = "  "
# Between code and the comment that follows it on its line.
COMMENT_GAP = "  "
# Whitespace that the grammar ignores, and the \r of a CRLF line end: a line of only these is blank.
_BLANK = " \t\f\r"
# Words that open a model or a block at the start of a line, though a statement may start with them right after `{`.
_KEYWORDS = ("model", "block")


def format_text(text: str) -> tuple[str | None, list[Diagnostic]]:
    """Returns (`text` in the canonical layout, []), or (None, the syntax diagnostics) when `text` does not parse."""
    tree, diagnostics = parse(text)
    if diagnostics:
        return None, diagnostics
    blank_lines = {number for number, line in enumerate(text.split("\n"), start=1) if not line.strip(_BLANK)}
    return _layout(tree, blank_lines), []


@dataclass(frozen=True)
class _Entry:
    """One line of output in the making: where its source starts and ends, its depth and its text."""

    line: int
    column: int
    end_line: int
    depth: int
    text: str
    # "open" and "close" for a model's first and last line, "comment" for a comment, "line" for a statement;
    # "train_open", "setting" and "train_close" for a training section's lines.
    role: str = "line"


def _entries(tree: syntax.SourceFile) -> list[_Entry]:
    """The models' header, statement and closing lines, in source order (comments are merged in later)."""
    entries: list[_Entry] = []
    for model in tree.models:
        header = _header(model)
        header_end = model.open_span.end_line if model.open_span is not None else model.name_span.end_line
        statements: list[syntax.LayerStatement | syntax.BudgetStatement | syntax.TrainingSection] = list(
            model.statements
        )
        if model.budgets or model.trainings:
            statements = sorted(
                [*statements, *model.budgets, *model.trainings], key=lambda s: (s.span.line, s.span.column)
            )
        if statements and isinstance(statements[0], syntax.LayerStatement) and _first_word(statements[0]) in _KEYWORDS:
            # The parser takes `model` or `block` for a kind or a value's name only right after `{`; at the
            # start of a line of its own it opens a model, a syntax error. So such a statement stays where it was.
            header = f"{header} {_statement(statements[0])}"
            header_end, statements = statements[0].span.end_line, statements[1:]
        entries.append(_Entry(model.span.line, model.span.column, header_end, 0, header, role="open"))
        for statement in statements:
            span = statement.span
            if isinstance(statement, syntax.TrainingSection):
                entries.extend(_training_entries(statement))
                continue
            entries.append(_Entry(span.line, span.column, span.end_line, 1, _statement(statement)))
        end_line, end_column = model.span.end_line, model.span.end_column - 1
        entries.append(_Entry(end_line, end_column, end_line, 0, "}", role="close"))
    return entries


def _training_entries(section: syntax.TrainingSection) -> list[_Entry]:
    """`train {`, each setting a line deeper, and `}`."""
    keyword = section.keyword_span
    end_line, end_column = section.span.end_line, section.span.end_column - 1
    return [
        _Entry(keyword.line, keyword.column, keyword.end_line, 1, "train {", role="train_open"),
        *(
            _Entry(s.span.line, s.span.column, s.span.end_line, 2, _statement(s), role="setting")
            for s in section.settings
        ),
        _Entry(end_line, end_column, end_line, 1, "}", role="train_close"),
    ]


def _layout(tree: syntax.SourceFile, blank_lines: set[int]) -> str:
    comments = [_Entry(c.span.line, c.span.column, c.span.line, 0, c.text.rstrip(), "comment") for c in tree.comments]
    out: list[_Line] = []
    previous: _Entry | None = None  # the last entry given a line of its own
    code_end_line = 0  # the source line on which the last entry of code (not a comment) ends
    depth = 0
    for entry in heapq.merge(_entries(tree), comments, key=lambda e: (e.line, e.column)):
        if entry.role == "comment":
            if entry.line == code_end_line:  # code came before it on its line: it follows that code
                out[-1].comments.append(entry.text)
                continue
            entry = replace(entry, depth=depth)
        else:
            code_end_line = entry.end_line
        if previous is not None and _blank_line_between(previous, entry, blank_lines):
            out.append(_Line(""))
        out.append(_Line(INDENT * entry.depth + entry.text, in_body=entry.role in ("line", "setting")))
        depth = {"open": 1, "close": 0, "train_open": 2, "train_close": 1}.get(entry.role, depth)
        previous = entry
    return "".join(line + "\n" for line in _aligned(out))


@dataclass
class _Line:
    """A line of output: its code (or a comment alone) and the comments that follow the code."""

    code: str
    # Statement lines align their comments with each other; a model's first and last lines do not.
    in_body: bool = False
    comments: list[str] = field(default_factory=list)


def _aligned(lines: list[_Line]) -> list[str]:
    """The lines as text, the trailing comments of consecutive statement lines in one column, as gofmt does."""
    texts: list[str] = []
    run: list[_Line] = []

    def flush() -> None:
        width = max((len(line.code) for line in run), default=0)
        texts.extend(line.code.ljust(width) + COMMENT_GAP + COMMENT_GAP.join(line.comments) for line in run)
        run.clear()

    for line in lines:
        if line.comments and line.in_body:
            run.append(line)
            continue
        flush()
        texts.append(COMMENT_GAP.join([line.code, *line.comments]))
    flush()
    return texts


def _blank_line_between(previous: _Entry, entry: _Entry, blank_lines: set[int]) -> bool:
    if entry.role in ("close", "train_close") or previous.role in ("open", "train_open"):
        return False  # no blank line at the start or end of a body
    if previous.role == "close":
        return True  # one after each model
    return any(line in blank_lines for line in range(previous.end_line + 1, entry.line))


def _header(model: syntax.ModelBlock) -> str:
    if not model.is_block:
        return f"model {model.name} {{"
    parameters = ", ".join(p.name if p.default is None else f"{p.name}={_value(p.default)}" for p in model.parameters)
    return f"block {model.name}({parameters}) {{" if parameters else f"block {model.name} {{"


def _first_word(statement: syntax.LayerStatement) -> str:
    return statement.target.text if statement.target is not None else statement.kind


def _statement(statement: syntax.LayerStatement | syntax.BudgetStatement) -> str:
    if isinstance(statement, syntax.BudgetStatement):
        return _budget(statement)
    words = [statement.kind, *(_argument(argument) for argument in statement.arguments)]
    if statement.target is not None:
        words[:0] = [statement.target.text, "="]
    if statement.sources:
        words += ["from", ", ".join(source.text for source in statement.sources)]
    return " ".join(words)


def _budget(statement: syntax.BudgetStatement) -> str:
    """`budget`, the limits as `metric<=quantity` without spaces, then the options: each as written."""
    limits = [f"{limit.metric.text}{limit.operator}{limit.quantity.text}" for limit in statement.limits]
    return " ".join(["budget", *limits, *(_argument(option) for option in statement.options)])


def _argument(argument: syntax.Argument) -> str:
    value = _value(argument.value)
    return value if argument.key is None else f"{argument.key}={value}"


def _value(value: syntax.Value) -> str:
    """A value as written, in canonical spacing; tuples nest at most two levels (the grammar's limit)."""
    if isinstance(value, syntax.Tuple):
        return "(" + ", ".join(_value(item) for item in value.items) + ")"
    if isinstance(value, syntax.String):
        return value.raw
    return value.text
