"""Editor edge: the one place where specc's 1-based spans become LSP's 0-based positions, and back.

Spans count lines split at \\n only and columns in code points, from 1, with end_column one past
the last character. LSP counts from 0 in the units the client and server agreed on: UTF-16
code units unless the client offered UTF-8 or UTF-32.

Every position a client sends is clamped to the text here before anything uses it (LSP: a
character past the end of its line means the line's end), so no request does work that grows
with a number the client chose rather than with the document.
"""

from __future__ import annotations

import re

from lsprotocol import types

from specc.diagnostics import Span

_UNIT_BYTES = {"utf-8": 1, "utf-16": 2, "utf-32": 4}
_CODECS = {"utf-8": "utf-8", "utf-16": "utf-16-le", "utf-32": "utf-32-le"}


class Lines:
    """A text's lines, with conversions between specc's columns and the client's position units."""

    def __init__(self, text: str, encoding: str = "utf-16"):
        self.text = text
        self.lines = text.split("\n")
        self.encoding = str(encoding) if str(encoding) in _CODECS else "utf-16"

    def line(self, index: int) -> str:
        """Line `index` (0-based) without its \\r, or "" past the end."""
        return self.lines[index].removesuffix("\r") if 0 <= index < len(self.lines) else ""

    def _to_units(self, line: str, characters: int) -> int:
        if self.encoding == "utf-32" or line.isascii():
            return characters
        return (
            len(line[:characters].encode(_CODECS[self.encoding], errors="surrogatepass")) // _UNIT_BYTES[self.encoding]
        )

    def _to_characters(self, line: str, units: int) -> int:
        return _characters(line, units, self.encoding)

    def position(self, line: int, column: int) -> types.Position:
        """1-based line and column (a span's start, or its exclusive end) -> a position inside the text."""
        index = min(max(line - 1, 0), max(len(self.lines) - 1, 0))
        text = self.line(index)
        characters = min(max(column - 1, 0), len(text))
        return types.Position(line=index, character=self._to_units(text, characters))

    def range(self, span: Span) -> types.Range:
        start = self.position(span.line, span.column)
        end = self.position(span.end_line, span.end_column)
        if (end.line, end.character) < (start.line, start.character):
            end = start
        return types.Range(start=start, end=end)

    def clamp(self, position: types.Position) -> types.Position:
        """A client's position moved into the text: a line past the end becomes the end of the last line,
        a character past the end of its line the line's end."""
        line = min(position.line, len(self.lines) - 1)
        text = self.line(line)
        end = self._to_units(text, len(text))
        if line == position.line and position.character <= end:
            return position
        return types.Position(line=line, character=end)

    def clamp_range(self, range: types.Range) -> types.Range:
        """A client's range with both ends moved into the text."""
        return types.Range(start=self.clamp(range.start), end=self.clamp(range.end))

    def point(self, position: types.Position) -> tuple[int, int]:
        """An LSP position -> specc's 1-based line and column (the character the cursor is before), in the text."""
        position = self.clamp(position)
        text = self.line(position.line)
        return position.line + 1, self._to_characters(text, position.character) + 1

    def whole(self) -> types.Range:
        """The range of the whole text, for edits that replace all of it."""
        last = len(self.lines) - 1
        return types.Range(
            start=types.Position(line=0, character=0),
            end=types.Position(line=last, character=self._to_units(self.lines[last], len(self.lines[last]))),
        )


def _characters(line: str, units: int, encoding: str) -> int:
    """How many characters of `line` the first `units` code units cover, at most the whole line."""
    if encoding == "utf-32" or line.isascii():
        return min(units, len(line))
    counted = 0
    for index, char in enumerate(line):
        if counted >= units:
            return index
        counted += len(char.encode(_CODECS[encoding], errors="surrogatepass")) // _UNIT_BYTES[encoding]
    return len(line)


# LSP's line breaks; unlike str.splitlines, not \f, \v, \x1c-\x1e, \x85, U+2028 or U+2029. The group keeps
# each break in re.split's result, between the lines it separates.
_LINE_BREAK = re.compile(r"(\r\n|\r|\n)")


def apply_change(text: str, change: types.TextDocumentContentChangeEvent, encoding: str = "utf-16") -> str:
    """`text` after one didChange content change: the whole new text, or a range replaced.

    The range is in the client's units and lines as LSP counts them; ends past the text are clamped
    to it, so the work is bounded by the text whatever numbers the client sends.
    """
    if not isinstance(change, types.TextDocumentContentChangePartial):
        return change.text
    encoding = str(encoding) if str(encoding) in _CODECS else "utf-16"
    # str.split when every break is \n (the usual text, and several times faster than the regex).
    with_returns = "\r" in text
    parts = _LINE_BREAK.split(text) if with_returns else text.split("\n")
    step = 2 if with_returns else 1

    def offset(position: types.Position) -> int:
        index = position.line * step
        if index >= len(parts):
            return len(text)
        start = sum(map(len, parts[:index])) + (0 if with_returns else position.line)
        return start + _characters(parts[index], position.character, encoding)

    begin, finish = offset(change.range.start), offset(change.range.end)
    return text[:begin] + change.text + text[max(begin, finish) :]


def contains(span: Span, line: int, column: int) -> bool:
    """Whether the 1-based point lies in the span, its end included (a cursor just after a word is on it)."""
    if not span.line <= line <= span.end_line:
        return False
    if line == span.line and column < span.column:
        return False
    return not (line == span.end_line and column > span.end_column)
