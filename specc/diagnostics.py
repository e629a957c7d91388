"""Diagnostics shared by every stage: source spans, severities and the catalogue of codes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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

    @classmethod
    def empty(cls, line: int, column: int) -> Span:
        """A span of no characters: where a fix inserts text."""
        return cls(line=line, column=column, end_line=line, end_column=column)

    def shifted(self, lines: int) -> Span:
        """The same span `lines` lines further down (up when negative): where it is after lines above
        it were inserted or deleted. Columns do not change."""
        if lines == 0:
            return self
        # The language server moves every span below an inserted line on each keystroke; filling
        # the instance's dict directly is several times faster than a frozen dataclass's __init__.
        moved = object.__new__(Span)
        fields = moved.__dict__
        fields["line"], fields["column"] = self.line + lines, self.column
        fields["end_line"], fields["end_column"] = self.end_line + lines, self.end_column
        return moved

    @classmethod
    def __get_pydantic_core_schema__(cls, source: object, handler: object) -> dict:
        """A layer's spans are validated as Span instances, which is all pydantic checks of a dataclass instance
        in strict mode (it does not revalidate its fields). As a dataclass schema, every layer kind would build
        Span's field by field twice (`span`, `argument_spans`) at its first use: half of a kind's schema time."""
        from pydantic_core import core_schema

        return core_schema.is_instance_schema(cls)


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Code:
    """One entry of the catalogue: a stable code, a short title and the help text tools show."""

    id: str
    title: str
    help: str

    @property
    def severity(self) -> Severity:
        """E codes are errors and W codes warnings; the letter is the one record of it."""
        return Severity.WARNING if self.id.startswith("W") else Severity.ERROR


# fmt: off
_CATALOGUE: tuple[tuple[str, str, str], ...] = (
    ("E100", "not-text", "A spec must be UTF-8 text without NUL bytes."),
    ("E101", "unexpected-character", "The character cannot start any token of the language."),
    ("E102", "unexpected-token", "The token does not fit where it stands; the message lists what would."),
    ("E103", "unexpected-end", "The file ends inside a model block or a tuple."),
    ("E104", "no-model", "A spec file declares its networks as `model NAME { ... }` blocks."),
    ("E201", "unknown-layer", "The word at the start of a layer line must be a known layer kind."),
    ("E202", "unknown-parameter", "Keyword arguments use the names Keras uses for the layer."),
    ("E203", "wrong-type", "The value has the wrong type for this parameter."),
    ("E204", "out-of-range", "The value is outside what the layer accepts."),
    ("E205", "missing-argument", "A required argument of the layer is missing."),
    ("E206", "duplicate-argument", "A parameter may be given once per layer."),
    ("E207", "unknown-word", "A bare word after a layer kind must be an activation or a padding mode."),
    ("E208", "too-many-arguments", "The layer takes fewer positional arguments; name the extra ones with key=value."),
    ("E209", "missing-input", "A model starts with `input HxWxC` (the shape without the batch axis)."),
    ("E210", "misplaced-input", "One `input` may go unnamed; with several, each is named (`image = input ...`)."),
    ("E211", "duplicate-name", "Model names are unique in a file, layer names in a model."),
    ("E212", "invalid-name", "Names are ASCII letters, digits and underscores, not starting with a digit."),
    ("E213", "strides-with-dilation", "Keras refuses strides > 1 together with dilation_rate > 1."),
    ("E214", "unknown-value", "A name after `from`, or a merge's operand, must be a value named on a line above."),
    ("E215", "used-before-defined", "A line reads values from the lines above it; a network has no cycles."),
    ("E216", "wrong-inputs", "The layer or block reads another number of values (merges name two or more)."),
    ("E217", "bad-output", "`output` names the values a model outputs, on one line; a block has one output."),
    ("E219", "block-recursion", "A block cannot use itself, directly or through others, or grow past the limits."),
    ("E220", "bad-block", "A block's name, parameters and values must not clash."),
    ("E221", "unknown-backbone", "`backbone` names a network of specc's zoo (the networks of keras.applications)."),
    ("E222", "unknown-fine-tuning-point", "trainable_from names a layer or block of the backbone's network."),
    (
        "E223",
        "bad-budget",
        "A model's `budget` line limits params, trainable, macs, flops or memory: `budget params<=5M macs<=600M`.",
    ),
    (
        "E224",
        "bad-training-setting",
        "A model's one `train { ... }` section holds known settings (optimizer, loss, epochs...) with fitting values.",
    ),
    ("E301", "size-not-positive", "A layer would produce a spatial size of zero or less."),
    ("E302", "wrong-rank", "The layer needs an input of another rank (height x width x channels for 2-D layers)."),
    ("E303", "tensor-too-large", "A weight or output tensor would have more elements than a framework can allocate."),
    ("E304", "operands-do-not-fit", "A merge's operands must share one shape, or agree off the concat axis."),
    (
        "E305",
        "backbone-input",
        "keras.applications refuses the backbone's input or classes: ImageNet weights need 3 channels, and with the "
        "ImageNet top its default size and 1000 classes; no network takes less than its minimum size.",
    ),
    (
        "E306",
        "over-budget",
        "The model's figures (parameters, MACs, FLOPs or peak inference memory) exceed a limit of its budget.",
    ),
    (
        "E307",
        "no-input-size",
        "An input left open (`input ?x?x3`) must fit at some height and width: merged branches must agree.",
    ),
    ("E401", "framework-disagrees", "specc build --verify found Keras or PyTorch disagreeing with the checker."),
    ("W301", "dense-on-feature-map", "Dense acts on the last axis only; usually a Flatten or global pooling is meant."),
    ("W302", "empty-model", "The model has no layers after its input."),
    ("W303", "unused-value", "A layer, branch or input whose value reaches no output computes nothing."),
    ("W304", "unused-block", "A block that no model uses is never checked."),
    (
        "W305",
        "input-sizes-unknown",
        "The sizes an open input accepts were not worked out (its strides repeat too rarely); one size is checked.",
    ),
    ("W401", "loss-does-not-fit-output", "The training loss does not fit the output's activation and units."),
    ("W402", "softmax-not-at-output", "Softmax belongs on an output; inside the network it squashes features."),
    ("W403", "dropout-before-output", "A dropout whose value is the output zeroes predictions while training."),
    ("W404", "classes-differ-from-units", "The output has another number of units than the data has classes."),
    (
        "W405",
        "learning-rate-for-freezing",
        "Fine-tuning wants a small learning rate; a frozen backbone's new head wants a usual one.",
    ),
    ("W406", "batchnorm-after-dropout", "Batch normalization right after dropout sees other statistics in training."),
    ("W407", "dense-holds-most-parameters", "A dense layer on a flattened feature map holds most of the parameters."),
)
# fmt: on

CODES: dict[str, Code] = {id_: Code(id=id_, title=title, help=help_) for id_, title, help_ in _CATALOGUE}


@dataclass(frozen=True)
class Fix:
    """A mechanical repair: put `new_text` in place of `span` (an empty span inserts, empty text deletes)."""

    title: str
    span: Span
    new_text: str


@dataclass(frozen=True)
class Note:
    """A second place a finding is about, such as the `{` that was never closed: shown after it as `note:`."""

    span: Span
    message: str


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a spec, pinned to the span it is about, with the edits that would repair it.

    `fixes` are structured so that an editor can apply them without reading the hint; `notes` point
    at other places that explain the finding. Neither takes part in equality, since they follow from it.
    """

    code: str
    message: str
    span: Span
    hint: str | None = None
    fixes: tuple[Fix, ...] = field(default=(), compare=False)
    notes: tuple[Note, ...] = field(default=(), compare=False)

    @property
    def severity(self) -> Severity:
        return CODES[self.code].severity

    def shifted(self, lines: int) -> Diagnostic:
        """The same finding `lines` lines further down, fixes included (see Span.shifted)."""
        if lines == 0:
            return self
        fixes = tuple(Fix(fix.title, fix.span.shifted(lines), fix.new_text) for fix in self.fixes)
        notes = tuple(Note(note.span.shifted(lines), note.message) for note in self.notes)
        return Diagnostic(self.code, self.message, self.span.shifted(lines), self.hint, fixes, notes)


def once_each(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Each finding once, in order: a line inside a block is lowered and checked once per use of the block and
    says the same each time. The notes of the repeats (the uses that led there) are kept on the one left."""
    kept: dict[tuple[str, Span, str], Diagnostic] = {}
    for diagnostic in diagnostics:
        key = (diagnostic.code, diagnostic.span, diagnostic.message)
        first = kept.get(key)
        if first is None:
            kept[key] = diagnostic
        elif added := tuple(note for note in diagnostic.notes if note not in first.notes):
            kept[key] = replace(first, notes=first.notes + added)
    return list(kept.values())


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)
