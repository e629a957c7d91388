"""Output edge of the check path: Keras-style summary tables of checked models, drawn with rich.

Nothing in a table is ever cut: a name, a shape or a count too wide for its column folds onto
the next line, and the count column keeps its longest number whole while that leaves the other
columns room (up to a third of the terminal's width).
"""

from __future__ import annotations

from typing import NamedTuple

from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from specc.check import ModelReport
from specc.diagnostics import Diagnostic, Severity

HEADERS = ("Layer (type)", "Output Shape", "Param #", "Line")
# Marks the layer the checker stopped at, in a summary of a spec with errors.
FAILED = "✗"


class Row(NamedTuple):
    """One line of a summary table, as printed, with the arithmetic --explain puts under it."""

    layer: str
    shape: str
    params: str
    line: str
    working: tuple[str, ...] = ()
    failed: bool = False


def _keras_shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(["None", *map(str, shape)]) + ")"


def stopping_error(report: ModelReport, diagnostics: list[Diagnostic]) -> Diagnostic | None:
    """The error a model's summary stops at: the first one in its block after the last layer the checker
    got through; None when the model is complete."""
    if report.complete:
        return None
    model = report.model
    last = report.layers[-1].layer.span if report.layers else model.span
    after = (last.end_line, last.end_column) if report.layers else (last.line, last.column)
    for diagnostic in diagnostics:
        span = diagnostic.span
        if diagnostic.severity is Severity.ERROR and after <= (span.line, span.column) <= (
            model.span.end_line,
            model.span.end_column,
        ):
            return diagnostic
    return None


def summary_rows(report: ModelReport, stop: Diagnostic | None = None, source_lines: list[str] = ()) -> list[Row]:
    """The rows of a model's table: its input, every layer the checker inferred, and, where it stopped at an
    error, that layer (or source line) marked."""
    model = report.model
    rows = []
    if model.input_shape is not None and model.input_span is not None:
        rows.append(Row("input (InputLayer)", _keras_shape(model.input_shape), "0", str(model.input_span.line)))
    for layer_report in report.layers:
        layer, inference = layer_report.layer, layer_report.inference
        rows.append(
            Row(
                f"{layer.name} ({layer.keras_class})",
                _keras_shape(inference.output_shape),
                f"{inference.params:,}",
                str(layer.span.line),
                tuple(inference.working),
            )
        )
    if stop is not None:
        line = stop.span.line
        failing = [layer for layer in model.layers[len(report.layers) :] if layer.span.line == line]
        if failing:
            label = f"{failing[0].name} ({failing[0].keras_class})"
        else:  # the line did not lower to a layer: show it as written
            label = source_lines[line - 1].strip() if 0 < line <= len(source_lines) else "?"
        rows.append(Row(f"{FAILED} {label}", f"error[{stop.code}]", "", str(line), (stop.message,), failed=True))
    return rows


def _count_width(rows: list[Row], width: int) -> int | None:
    """The width that keeps every count whole, or None (fold them) when that would leave the others too little."""
    longest = max(len(HEADERS[2]), *(len(row.params) for row in rows))
    return longest if longest <= width // 3 else None


def summary_table(title: str, rows: list[Row], width: int) -> Table:
    """One row per layer, as in model.summary(): name (type), output shape with the batch axis, parameters."""
    table = Table(title=title, title_justify="left")
    table.add_column(HEADERS[0], overflow="fold")
    table.add_column(HEADERS[1], overflow="fold")
    # A column that does not wrap is the last rich narrows; where even that cannot keep it whole, it folds.
    whole = _count_width(rows, width) is not None
    table.add_column(HEADERS[2], justify="right", overflow="fold", no_wrap=whole)
    table.add_column(HEADERS[3], justify="right", style="dim")
    for row in rows:
        table.add_row(row.layer, row.shape, row.params, row.line, style="red" if row.failed else None)
    return table


def explained_table(title: str, rows: list[Row], width: int) -> Table:
    """The summary with each layer's arithmetic on lines of its own under its row, across the whole table.

    rich has no cells spanning columns, so each row is a grid of its own inside a one-column table;
    every grid gets the same column widths, which depend on the table's width only, never on the
    row's content, so the columns line up from row to row.
    """
    count_width = _count_width(rows, width) or width // 3
    line_width = max(len(HEADERS[3]), *(len(row.line) for row in rows))
    name_width = max(len(HEADERS[0]), *(len(row.layer) for row in rows))
    shape_width = max(len(HEADERS[1]), *(len(row.shape) for row in rows))
    working_width = max((len(line) + 2 for row in rows for line in row.working), default=0)
    # Inside the table's borders and padding (4), the grid's gaps (2 between columns).
    natural = max(name_width + shape_width + count_width + line_width + 6, working_width) + 4

    def grid(cells: tuple[str, ...], style: str | None = None) -> Table:
        row = Table.grid(expand=True, padding=(0, 1), collapse_padding=False, pad_edge=False)
        # Names give way first (they break well, between name and type); shapes keep their width while it is
        # at most a third of the terminal's.
        row.add_column(ratio=1, overflow="fold")
        if shape_width <= width // 3:
            row.add_column(width=shape_width, overflow="fold")
        else:
            row.add_column(ratio=1, overflow="fold")
        row.add_column(width=count_width, justify="right", overflow="fold")
        row.add_column(width=line_width, justify="right", style="dim")
        row.add_row(*cells, style=style)
        return row

    table = Table(title=title, title_justify="left", show_lines=True, width=min(width, natural))
    table.add_column(grid(HEADERS))
    for row in rows:
        parts = [grid(row[:4], "red" if row.failed else None)]
        if row.working:
            parts.append(Padding(Text("\n".join(row.working), style="dim", overflow="fold"), (0, 0, 0, 2)))
        table.add_row(Group(*parts))
    return table


def print_summaries(
    reports: list[ModelReport],
    explain: bool = False,
    console: Console | None = None,
    diagnostics: list[Diagnostic] = (),
    source_lines: list[str] = (),
) -> None:
    """Each model's table and totals; a model the checker stopped in gets its table up to the error, marked."""
    console = console or Console()
    draw = explained_table if explain else summary_table
    for report in reports:
        stop = stopping_error(report, diagnostics)
        rows = summary_rows(report, stop, source_lines)
        console.print(draw(f'Model: "{report.model.name}"', rows, console.width))
        if stop is not None:
            console.print(f" {FAILED} stopped at line {stop.span.line} (error {stop.code})", style="red")
            console.print(f" Params before line {stop.span.line}: {report.total_params:,}")
        else:
            console.print(f" Total params: {report.total_params:,}")
            console.print(f" Trainable params: {report.trainable_params:,}")
            console.print(f" Non-trainable params: {report.non_trainable_params:,}")
        console.print()
