"""Parse and IR stages, hints: a Keras layer call written as a spec line, rewritten as the line that was meant.

`MaxPooling2D((2, 2))` and `Conv2D(32, (3, 3), activation='relu')` are Python, not specc; the parser
and the lowering both meet such lines, and both offer the same rewrite: `maxpool 2x2`,
`conv 32 3x3 relu`. The rewrite reads the call's text only, so it works on lines that did not parse.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from specc.layers import ACTIVATIONS, KIND_BY_SPELLING, PARAMETER_SHORT_FORMS, LayerBase, format_shape

# `Conv2D(...)`, `layers.Conv2D(...)` or `keras.layers.Conv2D(...)`, alone on its line but for a comment or a
# trailing comma (a line copied out of a Sequential list).
_CALL = re.compile(r"(?P<lead>\s*)(?P<callee>[A-Za-z_][A-Za-z0-9_.]*)\((?P<arguments>.*)\)\s*,?\s*(#.*)?\r?\Z")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_KEYWORD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)\s*(.*)\Z", re.S)


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
    match = _CALL.match(line)
    if match is None:
        return None
    cls = KIND_BY_SPELLING.get(match["callee"].rsplit(".", 1)[-1].lower())
    arguments = _split(match["arguments"])
    if cls is None or arguments is None:
        return None
    positional: list[str] = []
    keywords: list[tuple[str, str]] = []
    input_line = None
    for argument in arguments:
        keyword = _KEYWORD.match(argument)
        key, text = (keyword[1], keyword[2]) if keyword else (None, argument)
        value = _value(text)
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
    return Rewrite(spec, match.end("lead"), match.end("arguments") + 1, input_line)


def _spec_line(cls: type[LayerBase], positional: list[str], keywords: list[tuple[str, str]]) -> str | None:
    """Positional values fill the kind's positional parameters, then bare words; keywords follow as bare
    words where a bare word means the same, else as key=value."""
    filled = dict(zip(cls.positional, positional, strict=False))
    bare = positional[len(cls.positional) :]
    if any(bare_word_role(cls, value) is None for value in bare):
        return None
    named: list[str] = []
    for key, value in keywords:
        if key in cls.positional and len(filled) == cls.positional.index(key) and key not in filled:
            filled[key] = value
        elif key in cls.word_arguments and bare_word_role(cls, value) == key:
            bare.append(value)
        else:
            named.append(f"{key}={value}")
    return " ".join([cls.spellings[0], *filled.values(), *bare, *named])


def bare_word_role(cls: type[LayerBase], value: str) -> str | None:
    """The parameter a bare word fills for this kind, as specc.lower places it; None when it fills none."""
    if "activation" in cls.word_arguments and value in ACTIVATIONS:
        return "activation"
    if "padding" in cls.word_arguments and value.lower() in cls.padding_modes:
        return "padding"
    return None


def _split(text: str) -> list[str] | None:
    """Arguments split at the commas outside brackets and quotes; None when brackets or quotes do not match."""
    parts, depth, quote, start = [], 0, "", 0
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth < 0:
                return None
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    if depth or quote:
        return None
    parts.append(text[start:])
    parts = [part.strip() for part in parts]
    if parts and not parts[-1]:
        parts.pop()  # a trailing comma
    return None if any(not part for part in parts) else parts


def _value(text: str, nested: bool = False) -> str | None:
    """A Python literal as a spec writes it: `'relu'` -> relu, `(3, 3)` -> 3x3 (inside a tuple, (3, 3)),
    `True` -> true."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        return inner if _IDENTIFIER.match(inner) else '"' + inner.replace('"', '\\"') + '"'
    if text in ("True", "False"):
        return text.lower()
    if _NUMBER.match(text) or (_IDENTIFIER.match(text) and text != "None"):
        return text
    if text[:1] in "([" and text[-1:] in ")]":
        items = _split(text[1:-1])
        if not items:
            return None
        if not nested and all(re.fullmatch(r"[0-9]+", item) for item in items):
            return format_shape(tuple(int(item) for item in items)) if len(items) > 1 else items[0]
        values = [_value(item, nested=True) for item in items]
        if any(value is None for value in values):
            return None
        return "(" + ", ".join(values) + ")"  # type: ignore[arg-type]
    return None
