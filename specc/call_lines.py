"""Parse and IR stages, hints: a Keras layer call written as a spec line, rewritten as the line that was meant.

`MaxPooling2D((2, 2))` and `Conv2D(32, (3, 3), activation='relu')` are Python, not specc; the parser
and the lowering both meet such lines, and both offer the same rewrite: `maxpool 2x2`,
`conv 32 3x3 relu`. The rewrite reads the call's text only, so it works on lines that did not parse.
"""

from __future__ import annotations

import ast
import math
import re
from typing import NamedTuple

from specc.layers import KIND_BY_SPELLING, PARAMETER_SHORT_FORMS, LayerBase, format_shape

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class Rewrite(NamedTuple):
    """The spec line a call means, where the call stands on its line (0-based columns, end excluded), and the
    input line its `input_shape=` asks for, if any."""

    line: str
    start: int
    end: int
    input_line: str | None

    @property
    def hint(self) -> str:
        hint = f"a layer line is not a Python call: write `{self.line}`"
        if self.input_line:
            hint += f", with the input shape on a line of its own at the top: `{self.input_line}`"
        return hint


GENERIC_HINT = (
    "a layer line is not a Python call: write the kind, then its arguments separated by spaces, "
    "e.g. `conv 32 3x3 activation=relu`"
)


def looks_like_call(line: str) -> bool:
    """Whether a line starts as a call does: a name, then `(` with nothing between."""
    return re.match(r"\s*[A-Za-z_][A-Za-z0-9_.]*\(", line) is not None


def rewrite(line: str) -> Rewrite | None:
    """The spec line a one-line Keras layer call means, or None when the callee is no known kind or an
    argument has no spec form (a variable, a nested call)."""
    call, lead = _call(line)
    source = line.strip()
    if call is None:
        return None
    cls = KIND_BY_SPELLING.get(_callee_name(call.func).lower())
    if cls is None:
        return None
    positional: list[str] = []
    keywords: list[tuple[str, str]] = []
    input_line = None
    for key, node in [(None, node) for node in call.args] + [(k.arg, k.value) for k in call.keywords]:
        value = _value(node, source)
        if value is None:
            return None
        if key in ("input_shape", "shape"):
            input_line = f"input {value}"
        elif key is None:
            positional.append(value)
        else:
            keywords.append((PARAMETER_SHORT_FORMS.get(key, key), value))
    spec = _spec_line(cls, positional, keywords)
    if spec is None:
        return None
    # ast counts columns in UTF-8 bytes; the Rewrite counts characters.
    end = lead + len(line[lead:].encode("utf-8")[: call.end_col_offset].decode("utf-8", errors="ignore"))
    return Rewrite(spec, lead, end, input_line)


def _call(line: str) -> tuple[ast.Call | None, int]:
    """The call a line holds, read by Python's own parser, and the column it starts at: the call alone on its
    line but for a comment or a trailing comma (a line copied out of a Sequential list)."""
    if not looks_like_call(line):
        return None, 0
    lead = len(line) - len(line.lstrip())
    try:
        tree = ast.parse(line.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # ValueError: a NUL byte; the others: deep nesting
        return None, lead
    if isinstance(tree, ast.Tuple) and len(tree.elts) == 1:
        tree = tree.elts[0]
    if not isinstance(tree, ast.Call) or any(isinstance(a, ast.Starred) for a in tree.args):
        return None, lead
    if any(k.arg is None for k in tree.keywords):  # **kwargs
        return None, lead
    return tree, lead


def _callee_name(node: ast.expr) -> str:
    """`Conv2D`, or the last part of `layers.Conv2D` or `keras.layers.Conv2D`; "" for anything else."""
    if isinstance(node, ast.Attribute):
        return node.attr if isinstance(node.value, ast.Name | ast.Attribute) else ""
    return node.id if isinstance(node, ast.Name) else ""


def _spec_line(cls: type[LayerBase], positional: list[str], keywords: list[tuple[str, str]]) -> str | None:
    """Positional values fill the kind's positional parameters, then bare words; keywords follow as bare
    words where a bare word means the same, else as key=value."""
    filled = dict(zip(cls.positional, positional, strict=False))
    bare = positional[len(cls.positional) :]
    if any(cls.bare_word_role(value) is None for value in bare):
        return None
    named: list[str] = []
    for key, value in keywords:
        if key in cls.positional and len(filled) == cls.positional.index(key) and key not in filled:
            filled[key] = value
        elif key in cls.word_arguments and cls.bare_word_role(value) == key:
            bare.append(value)
        else:
            named.append(f"{key}={value}")
    return " ".join([cls.spellings[0], *filled.values(), *bare, *named])


def _value(node: ast.expr, source: str, nested: bool = False) -> str | None:
    """A Python literal as a spec writes it: `'relu'` -> relu, `(3, 3)` -> 3x3 (inside a tuple, (3, 3)),
    `True` -> true; numbers as written in `source`; a bare name stays a word. None for anything else (a
    variable's attribute, a call)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Tuple | ast.List):
        if not node.elts:
            return None
        numbers = [e.value for e in node.elts if isinstance(e, ast.Constant) and type(e.value) is int]
        if not nested and len(numbers) == len(node.elts) and all(n >= 0 for n in numbers):
            return format_shape(tuple(numbers)) if len(numbers) > 1 else str(numbers[0])
        values = [_value(item, source, nested=True) for item in node.elts]
        if any(value is None for value in values):
            return None
        return "(" + ", ".join(values) + ")"  # type: ignore[arg-type]
    try:
        literal = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(literal, bool):
        return str(literal).lower()
    if isinstance(literal, str):
        return literal if _IDENTIFIER.match(literal) else '"' + literal.replace('"', '\\"') + '"'
    if isinstance(literal, int | float) and math.isfinite(literal):
        return ast.get_source_segment(source, node) or repr(literal)  # as written: 1e-5 stays 1e-5
    return None
