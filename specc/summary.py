"""Output edge of the check path: Keras-style summary tables of checked models, drawn with rich."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from specc.check import ModelReport


def _keras_shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(["None", *map(str, shape)]) + ")"


def summary_table(report: ModelReport, explain: bool = False) -> Table:
    """One row per layer, as in model.summary(): name (type), output shape with the batch axis, parameters;
    with `explain`, also the arithmetic that produced each row."""
    model = report.model
    table = Table(title=f'Model: "{model.name}"', title_justify="left", show_lines=explain)
    table.add_column("Layer (type)")
    table.add_column("Output Shape")
    table.add_column("Param #", justify="right")
    table.add_column("Line", justify="right", style="dim")
    if explain:
        table.add_column("Arithmetic", style="dim")
    if model.input_shape is not None and model.input_span is not None:
        table.add_row("input (InputLayer)", _keras_shape(model.input_shape), "0", str(model.input_span.line))
    for layer_report in report.layers:
        layer = layer_report.layer
        table.add_row(
            f"{layer.name} ({layer.keras_class})",
            _keras_shape(layer_report.inference.output_shape),
            f"{layer_report.inference.params:,}",
            str(layer.span.line),
            *(["\n".join(layer_report.inference.working)] if explain else []),
        )
    return table


def print_summaries(reports: list[ModelReport], explain: bool = False, console: Console | None = None) -> None:
    console = console or Console()
    for report in reports:
        console.print(summary_table(report, explain))
        console.print(f" Total params: {report.total_params:,}")
        console.print(f" Trainable params: {report.trainable_params:,}")
        console.print(f" Non-trainable params: {report.non_trainable_params:,}")
        console.print()
