"""Diagnostics shared by every stage: source spans, severities and the catalogue of codes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Plain dataclasses rather than pydantic models: every stage passes these around, and the
# check path should not pay for validating what specc itself builds.


@dataclass(frozen=True)
class Span:
    """A stretch of source text: 1-based line and column; end_column is one past the last character."""

    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, line: int, column: int) -> Span:
        return cls(line=line, column=column, end_line=line, end_column=column + 1)

    def covering(self, other: Span) -> Span:
        """The smallest span that holds both this span and `other`."""
        start = min((self.line, self.column), (other.line, other.column))
        end = max((self.end_line, self.end_column), (other.end_line, other.end_column))
        return Span(line=start[0], column=start[1], end_line=end[0], end_column=end[1])


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Code:
    """One entry of the catalogue: a stable code, its severity and the help text tools show."""

    id: str
    severity: Severity
    title: str
    help: str


def _catalogue(*codes: Code) -> dict[str, Code]:
    return {code.id: code for code in codes}


_E, _W = Severity.ERROR, Severity.WARNING

CODES: dict[str, Code] = _catalogue(
    Code(id="E100", severity=_E, title="not-text", help="A spec must be UTF-8 text without NUL bytes."),
    Code(
        id="E101",
        severity=_E,
        title="unexpected-character",
        help="The character cannot start any token of the language.",
    ),
    Code(
        id="E102",
        severity=_E,
        title="unexpected-token",
        help="The token does not fit where it stands; the message lists what would.",
    ),
    Code(id="E103", severity=_E, title="unexpected-end", help="The file ends inside a model block or a tuple."),
    Code(
        id="E104",
        severity=_E,
        title="no-model",
        help="A spec file declares its networks as `model NAME { ... }` blocks.",
    ),
    Code(
        id="E201",
        severity=_E,
        title="unknown-layer",
        help="The word at the start of a layer line must be a known layer kind.",
    ),
    Code(
        id="E202",
        severity=_E,
        title="unknown-parameter",
        help="Keyword arguments use the names Keras uses for the layer.",
    ),
    Code(id="E203", severity=_E, title="wrong-type", help="The value has the wrong type for this parameter."),
    Code(id="E204", severity=_E, title="out-of-range", help="The value is outside what the layer accepts."),
    Code(id="E205", severity=_E, title="missing-argument", help="A required argument of the layer is missing."),
    Code(id="E206", severity=_E, title="duplicate-argument", help="A parameter may be given once per layer."),
    Code(
        id="E207",
        severity=_E,
        title="unknown-word",
        help="A bare word after a layer kind must be an activation or a padding mode.",
    ),
    Code(
        id="E208",
        severity=_E,
        title="too-many-arguments",
        help="The layer takes fewer positional arguments; name the extra ones with key=value.",
    ),
    Code(
        id="E209",
        severity=_E,
        title="missing-input",
        help="A model starts with `input HxWxC` (the shape without the batch axis).",
    ),
    Code(
        id="E210",
        severity=_E,
        title="misplaced-input",
        help="`input` must be the first line of a model, and appear once.",
    ),
    Code(
        id="E211", severity=_E, title="duplicate-name", help="Model names are unique in a file, layer names in a model."
    ),
    Code(
        id="E212",
        severity=_E,
        title="invalid-name",
        help="Names are ASCII letters, digits and underscores, not starting with a digit.",
    ),
    Code(
        id="E213",
        severity=_E,
        title="strides-with-dilation",
        help="Keras refuses strides > 1 together with dilation_rate > 1 on the same axis set.",
    ),
    Code(
        id="E301", severity=_E, title="size-not-positive", help="A layer would produce a spatial size of zero or less."
    ),
    Code(
        id="E302",
        severity=_E,
        title="wrong-rank",
        help="The layer needs an input of another rank (height x width x channels for 2-D layers).",
    ),
    Code(
        id="W301",
        severity=_W,
        title="dense-on-feature-map",
        help="Dense acts on the last axis only; a Flatten or global pooling before it is usually meant.",
    ),
    Code(id="W302", severity=_W, title="empty-model", help="The model has no layers after its input."),
)


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a spec, pinned to the span it is about."""

    code: str
    message: str
    span: Span
    hint: str | None = None

    @property
    def severity(self) -> Severity:
        return CODES[self.code].severity


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)
