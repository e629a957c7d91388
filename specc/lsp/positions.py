"""Editor edge: the one place where specc's 1-based spans become LSP's 0-based positions, and back.

Spans count lines split at \\n only and columns in code points, from 1, with end_column one past
the last character. LSP counts from 0 in the units the client and server agreed on: UTF-16
code units unless the client offered UTF-8 or UTF-32.
"""

from __future__ import annotations

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
        if self.encoding == "utf-32" or line.isascii():
            return min(units, len(line))
        counted = 0
        for index, char in enumerate(line):
            if counted >= units:
                return index
            counted += len(char.encode(_CODECS[self.encoding], errors="surrogatepass")) // _UNIT_BYTES[self.encoding]
        return len(line)

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

    def point(self, position: types.Position) -> tuple[int, int]:
        """An LSP position -> specc's 1-based line and column (the character the cursor is before)."""
        text = self.line(position.line)
        return position.line + 1, self._to_characters(text, position.character) + 1

    def whole(self) -> types.Range:
        """The range of the whole text, for edits that replace all of it."""
        last = len(self.lines) - 1
        return types.Range(
            start=types.Position(line=0, character=0),
            end=types.Position(line=last, character=self._to_units(self.lines[last], len(self.lines[last]))),
        )


def contains(span: Span, line: int, column: int) -> bool:
    """Whether the 1-based point lies in the span, its end included (a cursor just after a word is on it)."""
    if not span.line <= line <= span.end_line:
        return False
    if line == span.line and column < span.column:
        return False
    return not (line == span.end_line and column > span.end_column)
