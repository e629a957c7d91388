"""Output edge of the check path: diagnostics as text with a caret or as gcc-style lines, and checked files as
one JSON document (SARIF lives in specc.sarif).

Spans are 1-based inside specc; this module prints them as they are (editors and compilers
count lines and columns from 1 too). The language server converts them for LSP itself.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from specc.check import ModelReport
from specc.diagnostics import Diagnostic, Severity, Span
from specc.input_sizes import written_shape
from specc.ir import Model
from specc.layers import Shape, format_shape
from specc.pipeline import CheckedSource, cycle_collection_paused

if TYPE_CHECKING:
    from specc.figures import LayerFigures, ReceptiveField

_STYLES = {"error": "1;31", "warning": "1;33", "hint": "1;36", "caret": "1;31", "path": "1", "ok": "32"}


def use_color(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def _paint(text: str, style: str, color: bool) -> str:
    return f"\x1b[{_STYLES[style]}m{text}\x1b[0m" if color else text


# A quoted source line is cut to this many characters around the caret, so long lines stay readable.
_SHOWN_WIDTH = 100


def _window(source: str, start: int, width: int) -> tuple[str, int]:
    """The part of a long line around the span, marked with ... at the cuts, and the span's start in it."""
    if len(source) <= _SHOWN_WIDTH:
        return source, start
    left = max(0, min(start - 30, len(source) - _SHOWN_WIDTH))
    shown = source[left : left + _SHOWN_WIDTH]
    prefix = "..." if left else ""
    suffix = "..." if left + _SHOWN_WIDTH < len(source) else ""
    return prefix + shown + suffix, start - left + len(prefix)


def format_diagnostic(path: str, text_lines: list[str], diagnostic: Diagnostic, color: bool = False) -> str:
    """`path:line:col: severity[CODE]: message`, the source line with a caret under the span, then the hint;
    then each note as `path:line:col: note: message` with its own source line and caret."""
    span = diagnostic.span
    severity = diagnostic.severity.value
    head = (
        f"{_paint(f'{path}:{span.line}:{span.column}:', 'path', color)} "
        f"{_paint(f'{severity}[{diagnostic.code}]', severity, color)}: {diagnostic.message}"
    )
    lines = [head, *_quoted(text_lines, span, color)]
    if diagnostic.hint:
        lines.append(f"{' ' * len(str(span.line))} = {_paint('hint', 'hint', color)}: {diagnostic.hint}")
    for note in diagnostic.notes:
        at = note.span
        lines.append(
            f"{_paint(f'{path}:{at.line}:{at.column}:', 'path', color)} {_paint('note', 'hint', color)}: {note.message}"
        )
        lines += _quoted(text_lines, at, color)
    return "\n".join(lines)


def _quoted(text_lines: list[str], span: Span, color: bool) -> list[str]:
    """The source line of a span with a caret under it, or nothing when the line is not in the text."""
    lines: list[str] = []
    if 1 <= span.line <= len(text_lines):
        source = text_lines[span.line - 1].rstrip("\r")
        gutter = " " * len(str(span.line))
        start = min(max(span.column - 1, 0), len(source))
        end = span.end_column - 1 if span.end_line == span.line else len(source)
        width = max(min(end, len(source)) - start, 1)
        shown, start = _window(source, start, width)
        width = min(width, _SHOWN_WIDTH)
        # Keep tabs in the caret line so the caret sits under the same column as in the source.
        lead = "".join(c if c == "\t" else " " for c in shown[:start])
        printable = "".join(c if c.isprintable() or c == "\t" else "\ufffd" for c in shown)
        lines += [
            f"{gutter} |",
            f"{span.line} | {printable}",
            f"{gutter} | {lead}{_paint('^' * width, 'caret', color)}",
        ]
    return lines


def _one_line(text: str) -> str:
    """Text with line breaks and other control characters escaped, so it cannot split a one-line record."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def format_gcc(path: str, diagnostic: Diagnostic) -> str:
    """One line as gcc and clang print them, which editors and CI problem matchers already parse:
    `path:line:col: severity: message; hint [CODE]`, then a `path:line:col: note: message` line per note.

    The code goes last in brackets, where gcc puts its `[-Wflag]`; a hint joins the message after
    `; ` as gcc's own "did you mean" does, and only when it is one printable line.
    """
    span = diagnostic.span
    message = _one_line(diagnostic.message)
    if diagnostic.hint and diagnostic.hint.isprintable():
        message = f"{message}; {diagnostic.hint}"
    line = f"{_one_line(path)}:{span.line}:{span.column}: {diagnostic.severity.value}: {message} [{diagnostic.code}]"
    # gcc's own follow-up lines: a note has no code, and problem matchers read it as one more location.
    notes = (f"{_one_line(path)}:{n.span.line}:{n.span.column}: note: {_one_line(n.message)}" for n in diagnostic.notes)
    return "\n".join([line, *notes])


def _open_shape(model_input) -> str:
    """An input's shape as written: `HxWx3` for one whose height and width are open."""
    if not model_input.open_axes:
        return format_shape(model_input.shape)
    return written_shape(
        tuple(name or str(extent) for name, extent in zip(model_input.open_axes, model_input.shape, strict=True))
    )


def _written_shapes(named: list[tuple[str, str]]) -> str:
    """_shapes_shown for shapes already written out."""
    if len(named) == 1:
        return named[0][1]
    return "(" + ", ".join(f"{name}: {shape}" for name, shape in named) + ")"


def _shapes_shown(named: list[tuple[str, Shape]]) -> str:
    """One side of a result line: the shape alone when there is one, else `(name: shape, ...)`."""
    if len(named) == 1:
        return format_shape(named[0][1])
    return "(" + ", ".join(f"{name}: {format_shape(shape)}" for name, shape in named) + ")"


def format_result_line(path: str, checked: CheckedSource) -> str:
    """One line per model for a file that checked clean: inputs -> outputs and parameter totals. A model with
    several inputs or outputs names each, `(image: 28x28x1, meta: 10) -> (dense_3: 10, dense_4: 4)`."""
    lines = []
    for report in checked.reports:
        model, output_shapes = report.model, report.output_shapes
        if output_shapes is None or not model.inputs:
            continue
        sizes = report.input_sizes
        if sizes is not None and sizes.output_formulas:
            # An open input: its shape and the outputs' as formulas, and the sizes it accepts.
            inputs = _written_shapes([(i.name, _open_shape(i)) for i in model.inputs])
            formulas = (written_shape(formula) for formula in sizes.output_formulas)
            outputs = _written_shapes(list(zip(model.outputs, formulas, strict=True)))
            shown = ", ".join(f"{name}={size}" for name, size in (sizes.evaluated_at or {}).items())
            lines.append(
                f"{path}: model {model.name}: {inputs} -> {outputs}; accepts {sizes.describe()}; "
                f"{report.total_params:,} params ({report.trainable_params:,} trainable, "
                f"{report.non_trainable_params:,} non-trainable), evaluated at {shown}"
            )
            continue
        inputs = _shapes_shown([(i.name, i.shape) for i in model.inputs])
        outputs = _shapes_shown(list(zip(model.outputs, output_shapes, strict=True)))
        lines.append(
            f"{path}: model {model.name}: {inputs} -> {outputs}, {report.total_params:,} params "
            f"({report.trainable_params:,} trainable, {report.non_trainable_params:,} non-trainable)"
        )
    return "\n".join(lines)


def _span_record(span: Span) -> dict[str, int]:
    return {"line": span.line, "column": span.column, "end_line": span.end_line, "end_column": span.end_column}


def diagnostic_record(diagnostic: Diagnostic) -> dict[str, Any]:
    record: dict[str, Any] = {
        "severity": diagnostic.severity.value,
        "code": diagnostic.code,
        "message": diagnostic.message,
        **_span_record(diagnostic.span),
    }
    if diagnostic.hint:
        record["hint"] = diagnostic.hint
    if diagnostic.notes:
        record["notes"] = [{"message": n.message, **_span_record(n.span)} for n in diagnostic.notes]
    return record


def _known(model: Model, name: str) -> str | None:
    """A value's name, or None for the value of a line that failed (its placeholder name is specc's own)."""
    return None if name in model.unknown else name


def _receptive_field_record(field: ReceptiveField | None) -> dict[str, Any] | None:
    return None if field is None else field.record()


def _layer_figures_record(found: LayerFigures) -> dict[str, Any]:
    """A layer's figures: MACs and FLOPs for one example, its output's bytes in float32 for one example."""
    return {
        "macs": found.macs,
        "flops": found.flops,
        "output_bytes": found.output_bytes,
        "receptive_field": _receptive_field_record(found.receptive_field),
    }


def model_record(report: ModelReport) -> dict[str, Any]:
    """The JSON form of one checked model: its inputs, every layer inferred (with what it reads, the block
    use that made it, whether it counts, and its figures), its outputs and the totals of what reaches them."""
    model = report.model
    # The figures are computed only for JSON, never for a check's text (which imports no more than it needs).
    from specc.budgets import budget_uses
    from specc.figures import model_figures

    figures = model_figures(report)
    output_shapes = report.output_shapes
    uses = model.block_uses
    return {
        "name": model.name,
        "line": model.span.line,
        "input_shape": list(model.input_shape) if model.input_shape is not None else None,
        "inputs": [
            {"name": i.name, "input_shape": list(i.shape), "line": i.span.line, "open_axes": list(i.open_axes)}
            for i in model.inputs
        ],
        "input_sizes": _input_sizes_record(report),
        "layers": [
            {
                "name": layer_report.layer.name,
                "kind": layer_report.layer.kind,
                # The kind as a spec writes it (`conv`); `kind` is the IR's name for it (`conv2d`).
                "spelling": layer_report.layer.spellings[0],
                "line": layer_report.layer.span.line,
                "inputs": list(layer_report.layer.inputs),
                "input_shape": list(layer_report.input_shape),
                "input_shapes": [list(shape) for shape in layer_report.input_shapes],
                "output_shape": list(layer_report.inference.output_shape),
                "params": layer_report.inference.params,
                "trainable_params": layer_report.inference.trainable_params,
                "non_trainable_params": layer_report.inference.non_trainable_params,
                "counted": layer_report.layer.name in report.reachable,
                "trainable": layer_report.layer.trainable,
                "block": uses[layer_report.layer.scope].name if layer_report.layer.scope is not None else None,
                **_layer_figures_record(figures.layers[layer_report.layer.name]),
            }
            for layer_report in report.layers
        ],
        "block_uses": [
            {
                "name": use.name,
                "block": use.block,
                "line": use.span.line,
                "arguments": use.arguments,
                "inputs": [_known(model, name) for name in use.inputs],
                "output": _known(model, use.output),
                "parent": uses[use.parent].name if use.parent is not None else None,
                "backbone": use.backbone.model_dump(exclude={"argument_spans"}) if use.backbone is not None else None,
            }
            for use in uses
        ],
        "complete": report.complete,
        "outputs": [_known(model, name) for name in model.outputs],
        "output_shape": list(report.output_shape) if report.output_shape is not None else None,
        "output_shapes": [list(shape) for shape in output_shapes] if output_shapes is not None else None,
        "total_params": report.total_params,
        "trainable_params": report.trainable_params,
        "non_trainable_params": report.non_trainable_params,
        "budgets": [
            {
                "line": use.limit.span.line,
                "metric": use.limit.metric,
                "operator": use.limit.operator,
                "limit": use.limit.limit,
                "written": use.limit.text,
                "figure": use.figure,
                "within": use.within,
                "batch": use.budget.batch,
                "dtype": use.budget.dtype,
            }
            for use in budget_uses(report)
        ],
        "figures": {
            "macs": figures.macs,
            "flops": figures.flops,
            "parameter_bytes": figures.parameter_bytes,
            "peak_forward_bytes": figures.peak_forward_bytes,
            "training_bytes": figures.training_bytes,
            "dtype": figures.dtype,
            "batch": figures.batch,
        },
    }


def _input_sizes_record(report: ModelReport) -> dict[str, Any] | None:
    """What an open input accepts (specc.input_sizes), or None for a model whose input sizes are all given."""
    sizes = report.input_sizes
    if sizes is None:
        return None
    return {
        "accepts": [
            {
                "name": r.name,
                "minimum": r.minimum,
                "modulus": r.modulus,
                "residues": list(r.residues),
                "every_from": r.every_from,
            }
            for r in sizes.rules
        ],
        "description": sizes.describe(),
        "output_formulas": [list(formula) for formula in sizes.output_formulas],
        "evaluated_at": sizes.evaluated_at,
    }


# A record of 100,000 layers is 100,000 dicts made beside the checked spec: see cycle_collection_paused.
@cycle_collection_paused()
def file_record(path: str, checked: CheckedSource) -> dict[str, Any]:
    """The JSON form of one checked file; shapes leave out the batch axis, lines count from 1."""
    return {
        "path": path,
        "ok": checked.ok,
        "models": [model_record(report) for report in checked.reports],
        "diagnostics": [diagnostic_record(d) for d in checked.diagnostics],
    }


def count_by_severity(diagnostics: list[Diagnostic]) -> tuple[int, int]:
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    return errors, len(diagnostics) - errors
