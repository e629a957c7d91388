"""Emit stage: the writer every backend emits Python through, so that generated code is safe by construction.

Nothing from a spec reaches emitted source except identifiers that match IDENTIFIER and
literals written with repr() of a safe type. Calls that would be too long for one line are
broken one argument per line, as a formatter would.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from specc import __version__
from specc.write import GENERATED_MARK

# ASCII only: Python accepts Unicode identifiers but folds look-alikes together (NFKC), so a
# spec could name two things that Python sees as one.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_LINE = 99
# A trailing comment may take a line this far before it moves above the line it annotates.
MAX_COMMENTED_LINE = 120
INDENT = "    "

Literal = None | bool | int | float | str | tuple["Literal", ...]


class UnsafeSource(ValueError):
    """A value that is not allowed to reach generated source (an invalid identifier or an unsafe literal)."""


def identifier(name: str) -> str:
    """`name` if it is an ASCII identifier that is not a Python keyword; raises UnsafeSource otherwise."""
    if not IDENTIFIER.match(name) or keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise UnsafeSource(f"{name!r} is not a safe Python identifier")
    return name


def word(text: str) -> str:
    """`text` if it is made of ASCII letters, digits and underscores only, so it may sit inside a docstring."""
    if not IDENTIFIER.match(text):
        raise UnsafeSource(f"{text!r} is not a plain word")
    return text


def literal(value: Literal) -> str:
    """The Python literal for `value`, by repr(); only None, bool, int, finite float, str and tuples of them."""
    if value is None or isinstance(value, bool | int | str):
        return repr(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise UnsafeSource(f"{value!r} has no Python literal")
        return repr(value)
    if isinstance(value, tuple):
        return repr(tuple(_checked(item) for item in value))
    raise UnsafeSource(f"a {type(value).__name__} cannot be written as a literal")


def _checked(value: Literal) -> Literal:
    literal(value)
    return value


def call(function: str, arguments: Iterable[str], indent: int = 0, trailer: str = "") -> list[str]:
    """`function(arg, ...)trailer` on one line when it fits within MAX_LINE at `indent`, else one argument a line.

    `function` and each argument are source text the caller built from identifiers and literal().
    """
    arguments = list(arguments)
    one_line = f"{function}({', '.join(arguments)}){trailer}"
    if len(INDENT * indent + one_line) <= MAX_LINE:
        return [one_line]
    return [f"{function}(", *(f"{INDENT}{argument}," for argument in arguments), f"){trailer}"]


class SourceWriter:
    """Lines of Python with indentation managed by the writer, never by the caller's strings."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._depth = 0

    def line(self, text: str = "", comment: str | None = None) -> None:
        """One line at the current depth; `comment` goes after it, or above it when it would not fit."""
        prefix = INDENT * self._depth
        if comment is not None and len(f"{prefix}{text}  # {comment}") > MAX_COMMENTED_LINE:
            self._lines.append(f"{prefix}# {comment}")
            comment = None
        suffix = f"  # {comment}" if comment is not None else ""
        self._lines.append(f"{prefix}{text}{suffix}" if text else "")

    def lines(self, texts: Iterable[str], comment: str | None = None) -> None:
        """Several lines at the current depth (a broken call); `comment` goes on the first."""
        texts = list(texts)
        if len(texts) == 1:
            self.line(texts[0], comment)
            return
        if comment is not None:
            self.line(f"# {comment}")
        for text in texts:
            self.line(text)

    def top_level_block(self, source: str) -> None:
        """Fixed source (a helper class, the training runtime) after two blank lines, each line at the current
        depth."""
        self.line()
        self.line()
        for text in source.splitlines():
            self.line(text)

    def indent(self) -> None:
        self._depth += 1

    def dedent(self) -> None:
        self._depth -= 1

    def text(self) -> str:
        return "\n".join(self._lines).rstrip("\n") + "\n"


@dataclass
class FreeNames:
    """Names taken in one scope, so that helpers a backend adds get names no spec layer has."""

    taken: set[str] = field(default_factory=set)

    def free(self, wanted: str) -> str:
        name, suffix = wanted, 1
        while name in self.taken:
            name, suffix = f"{wanted}_{suffix}", suffix + 1
        self.taken.add(name)
        return name


# Paths written into comments as they are when they hold only these characters, else by repr().
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_./-]+\Z")


def path_text(path: str) -> str:
    """A path as it may appear in a comment: plainly when it is made of ordinary path characters, else repr()."""
    return path if _PLAIN_PATH.match(path) else repr(path)


def source_label(source_path: str) -> str:
    """The spec's file name as the `# mnist.cnn:5` comments on emitted lines show it."""
    return path_text(PurePath(source_path).name)


def write_header(writer: SourceWriter, source_path: str, backend: str, docstring: str) -> None:
    """The lines every generated module starts with: specc's mark naming the spec, how to rebuild, a docstring."""
    path = path_text(PurePath(source_path).as_posix())
    writer.line(f"{GENERATED_MARK} {__version__} from {path}; edit the spec, not this file.")
    writer.line(f"# Rebuild: specc build {path} --backend {word(backend)}")
    writer.line(f'"""{docstring}"""')


def write_models_table(writer: SourceWriter, entries: Sequence[tuple[str, str]]) -> None:
    """`MODELS = {'name': builder, ...}` on one line when it fits, else one entry a line."""
    items = [f"{literal(name)}: {identifier(builder)}" for name, builder in entries]
    one_line = f"MODELS = {{{', '.join(items)}}}"
    if len(one_line) <= MAX_LINE:
        writer.line(one_line)
        return
    writer.line("MODELS = {")
    writer.indent()
    for item in items:
        writer.line(f"{item},")
    writer.dedent()
    writer.line("}")
