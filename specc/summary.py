"""Output edge of the check path: Keras-style summary tables of checked models, drawn with rich.

A model whose every layer reads the one before it (what Keras builds as a Sequential model) gets
Keras's Sequential table. Any other graph gets the table Keras prints for a functional model: its
inputs as rows and a "Connected to" column naming what each layer reads (`conv2d[0][0]`, one line
per value). Layers whose value reaches no output are dim, marked †, and left out of the totals, as
Keras's Model leaves them out. The repetitions of a repeated block use after the first fold into one
row, `conv2_block2..3 (basic ×2)`, with their parameters summed; the first repetition shows every
layer, so the table still shows what the block is made of.

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

from specc.check import LayerReport, ModelReport
from specc.diagnostics import Diagnostic, Severity
from specc.figures import ModelFigures, format_bytes, format_count, format_receptive_field, model_figures
from specc.ir import Model
from specc.layers import LayerBase

HEADERS = ("Layer (type)", "Output Shape", "Param #", "Line")
# A graph's table: Keras's functional columns, then the line.
GRAPH_HEADERS = ("Layer (type)", "Output Shape", "Param #", "Connected to", "Line")
# What --costs adds before the line: MACs for one example, the output's memory, what one output position sees.
COST_HEADERS = ("MACs", "Memory", "Receptive field")
# Marks the layer the checker stopped at, in a summary of a spec with errors.
FAILED = "✗"
# Marks a layer of a graph that was not inferred because a value it reads is unknown.
NOT_INFERRED = "?"
# Marks a layer whose value reaches no output, which the totals leave out.
NOT_COUNTED = "†"
# A column past the end of any line, to look for an error anywhere from a point to the end of its line.
_LINE_END = 1 << 30


class Row(NamedTuple):
    """One line of a summary table, as printed, with the arithmetic --explain puts under it."""

    layer: str
    shape: str
    params: str
    line: str
    working: tuple[str, ...] = ()
    failed: bool = False
    # The Connected to cell of a graph's table: the values the row reads, one a line.
    connected: str = ""
    # Not counted in the totals, or not inferred: shown dim.
    dim: bool = False
    # The --costs cells: MACs, the output's memory, the receptive field.
    costs: tuple[str, str, str] = ("", "", "")

    def cells(self, graph: bool, costs: bool = False) -> tuple[str, ...]:
        first = (self.layer, self.shape, self.params, *((self.connected,) if graph else ()))
        return (*first, *(self.costs if costs else ()), self.line)

    @property
    def style(self) -> str | None:
        return "red" if self.failed else "dim" if self.dim else None


def keras_shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(["None", *map(str, shape)]) + ")"


def _headers(graph: bool, costs: bool) -> tuple[str, ...]:
    headers = GRAPH_HEADERS if graph else HEADERS
    return (*headers[:-1], *(COST_HEADERS if costs else ()), headers[-1])


def _label(layer: LayerBase) -> str:
    return f"{layer.name} ({layer.keras_class})"


def is_stack(model: Model) -> bool:
    """Whether every layer reads the one value before it, from one input to one output: the model Keras
    would build as Sequential, whose summary has no Connected-to column. A line that failed stands in
    the chain as the value it would have made."""
    if len(model.inputs) > 1 or len(model.outputs) > 1:
        return False
    previous = model.inputs[0].name if model.inputs else None
    for layer in model.layers:
        if len(layer.inputs) != 1 or (layer.inputs[0] != previous and layer.inputs[0] not in model.unknown):
            return False
        previous = layer.name
    return not model.outputs or model.outputs[0] == previous or model.outputs[0] in model.unknown


def stopping_error(report: ModelReport, diagnostics: list[Diagnostic]) -> Diagnostic | None:
    """The error a stack's summary stops at: the one at the first layer the checker could not infer, or at the
    failed line that layer reads; else the first one in the model's block after the last layer the checker got
    through. None when the model is complete."""
    if report.complete:
        return None
    model = report.model
    rest = model.layers[len(report.layers) :]
    if rest:
        failed = [failed_line_position(name) for name in rest[0].inputs if name in model.unknown]
        span = rest[0].span
        start, end = (
            (failed[0], (failed[0][0], _LINE_END))
            if failed and failed[0]
            else ((span.line, span.column), (span.end_line, span.end_column))
        )
        found = _first_error(diagnostics, start, end)
        if found is not None:
            return found
    last = report.layers[-1].layer.span if report.layers else model.span
    after = (last.end_line, last.end_column) if report.layers else (last.line, last.column)
    return _first_error(diagnostics, after, (model.span.end_line, model.span.end_column))


def reaching(report: ModelReport, graph: bool) -> frozenset[str] | None:
    """The names of what reaches an output, which a graph's table counts; None when every layer counts: in a
    stack, and where an output is reached through a line that failed, since what that line read is unknown
    (the checker then reports no unused branch either)."""
    if not graph or report.reachable & report.model.unknown:
        return None
    return report.reachable


def inferred_params(report: ModelReport, graph: bool) -> int:
    """The parameters of the layers inferred that count, for the table of a model the checker stopped in."""
    counted = reaching(report, graph)
    return sum(r.inference.params for r in report.layers if counted is None or r.layer.name in counted)


# --- repeated block uses ------------------------------------------------------------------------


def repeat_folds(model: Model) -> dict[int, tuple[int, ...]]:
    """For each block use that repeats the one before it (the second and later of one `repeat=`): the uses its
    folded row stands for, every repetition after the first. One `repeat=` makes uses of the same block, at
    the same line, inside the same use: no two statements share a span."""
    runs: dict[tuple, list[int]] = {}
    for index, use in enumerate(model.block_uses):
        runs.setdefault((use.parent, use.block, use.span), []).append(index)
    return {index: tuple(run[1:]) for run in runs.values() if len(run) > 1 for index in run[1:]}


def fold_of(model: Model, layer: LayerBase, folds: dict[int, tuple[int, ...]]) -> tuple[tuple[int, ...], int] | None:
    """The fold a layer is shown in, with the use of it the layer belongs to; the outermost one, since a
    block repeated inside a repetition folds with it. None when the layer has a row of its own."""
    found = None
    scope = layer.scope
    while scope is not None:
        if scope in folds:
            found = (folds[scope], scope)
        scope = model.block_uses[scope].parent
    return found


def _freezing(trainable: int, frozen: int) -> str:
    """How much of a part of a backbone trains: `frozen`, `trainable`, or both counts."""
    if not frozen:
        return "trainable"
    if not trainable:
        return "frozen"
    return f"{trainable:,} trainable, {frozen:,} frozen"


def name_range(first: str, last: str) -> str:
    """`conv2_block2..3` for conv2_block2 to conv2_block3, as `repeat=` numbers them."""
    if first == last:
        return first
    stem = first.rstrip("0123456789")
    suffix = last[len(stem) :]
    if stem != first and last.startswith(stem) and suffix.isdigit():
        return f"{first}..{suffix}"
    return f"{first}..{last}"


# --- rows ---------------------------------------------------------------------------------------


def failed_line_position(name: str) -> tuple[int, int] | None:
    """The line and column of the statement an unknown value stands for: specc.lower names it
    `?LINE:COLUMN:N`."""
    line, _, rest = name[1:].partition(":")
    column = rest.partition(":")[0]
    return (int(line), int(column)) if line.isdigit() and column.isdigit() else None


def _connections(model: Model, names: tuple[str, ...]) -> str:
    """The Connected to cell: `name[0][0]` for each value read, as Keras prints them (no layer is called twice,
    so the node and tensor indices are 0); a failed line's value is that line."""
    shown = []
    for name in names:
        failed = failed_line_position(name) if name in model.unknown else None
        shown.append(f"{FAILED} line {failed[0]}" if failed else f"{name}[0][0]")
    return ",\n".join(shown) or "-"


def _first_error(diagnostics: list[Diagnostic], start: tuple[int, int], end: tuple[int, int]) -> Diagnostic | None:
    for diagnostic in diagnostics:
        if diagnostic.severity is Severity.ERROR and start <= (diagnostic.span.line, diagnostic.span.column) <= end:
            return diagnostic
    return None


def _error_row(label: str, diagnostic: Diagnostic | None, line: int, connected: str = "") -> Row:
    code = f"error[{diagnostic.code}]" if diagnostic else "error"
    working = (diagnostic.message,) if diagnostic else ()
    return Row(f"{FAILED} {label}", code, "", str(line), working, failed=True, connected=connected)


class _RowBuilder:
    """The rows of one model's table, walking its layers in order; in a graph, the layers that could not
    be inferred and the lines that failed are rows too, marked."""

    def __init__(
        self,
        report: ModelReport,
        graph: bool,
        diagnostics: list[Diagnostic],
        source_lines: list[str],
        figures: ModelFigures | None = None,
    ):
        self.report, self.model, self.graph = report, report.model, graph
        self.figures = figures or model_figures(report)
        self.diagnostics, self.source_lines = diagnostics, source_lines
        self.inferred = {r.layer.name: r for r in report.layers}
        self.shapes = report.value_shapes
        self.folds = repeat_folds(self.model)
        self.reaching = reaching(report, graph)
        # Each fold's layers, with the use each belongs to; a fold with a layer not inferred is not folded.
        self.fold_members: dict[tuple[int, ...], list[tuple[int, LayerBase]]] = {}
        for layer in self.model.layers:
            found = fold_of(self.model, layer, self.folds) if self.folds else None
            if found:
                self.fold_members.setdefault(found[0], []).append((found[1], layer))
        self.foldable = {
            fold for fold, members in self.fold_members.items() if all(m.name in self.inferred for _, m in members)
        }
        # A backbone's layers are shown as Keras shows a nested model, one row, and under it one row per block
        # of the network (or layer outside its blocks), each with what of it trains and what is frozen.
        self.backbone_units: dict[str, tuple[int, int | str]] = {}
        for layer in self.model.layers:
            unit = self.backbone_unit(layer)
            if unit is not None:
                self.backbone_units[layer.name] = unit
        self.shown_units: set[tuple[int, int | str] | int] = set()
        self.rows: list[Row] = []
        self.shown_folds: set[tuple[int, ...]] = set()
        self.shown_failures: set[tuple[int, int]] = set()

    def inputs(self) -> None:
        for model_input in self.model.inputs[: None if self.graph else 1]:
            counted = self.counted(model_input.name)
            self.rows.append(
                Row(
                    ("" if counted else f"{NOT_COUNTED} ") + f"{model_input.name} (InputLayer)",
                    keras_shape(model_input.shape),
                    "0",
                    str(model_input.span.line),
                    connected="-",
                    dim=not counted,
                    costs=("0", format_bytes(self.figures.input_bytes[model_input.name]), self.seen(model_input.name)),
                )
            )

    def seen(self, name: str) -> str:
        """The receptive field cell of a value: its layer's, or for a map input its single pixel."""
        if name in self.figures.layers:
            return format_receptive_field(self.figures.layers[name].receptive_field)
        shape = self.shapes.get(name)
        return "1x1 /1" if shape is not None and len(shape) == 3 and name not in self.inferred else "-"

    def summed_costs(self, names: list[str], output: str) -> tuple[str, str, str]:
        """The cost cells of rows that stand for several layers: MACs and memory summed, the field of the output."""
        found = [self.figures.layers[name] for name in names if name in self.figures.layers]
        macs = sum(f.macs for f in found)
        memory = sum(f.output_bytes for f in found)
        return format_count(macs), format_bytes(memory), self.seen(output)

    def cost_working(self, names: list[str]) -> tuple[str, ...]:
        """The MACs arithmetic of rows that stand for several layers: each member's MACs added."""
        found = [self.figures.layers[name].macs for name in names if name in self.figures.layers]
        if len(found) < 2:
            return ()
        return (f"MACs: {' + '.join(f'{m:,}' for m in found if m)} = {sum(found):,}",) if any(found) else ()

    def counted(self, name: str) -> bool:
        return self.reaching is None or name in self.reaching

    def position(self, layer: LayerBase) -> tuple[int, int]:
        """Where a layer stands in the model's text: its line, or for a layer a block made, the use's line."""
        span = layer.span
        scope = layer.scope
        while scope is not None:
            span = self.model.block_uses[scope].span
            scope = self.model.block_uses[scope].parent
        return span.line, span.column

    def layers(self, layers: tuple[LayerBase, ...]) -> None:
        # Lines of the model's own text that failed, in order, to be shown where they stand among the layers
        # (a failed line inside a block is shown before the first layer that reads it).
        model_span = self.model.span
        start, end = (model_span.line, model_span.column), (model_span.end_line, model_span.end_column)
        in_model = self.model.unknown if self.graph else ()
        pending = sorted(at + (name,) for name in in_model if (at := failed_line_position(name)) and start <= at <= end)
        for layer in layers:
            while pending and pending[0][:2] < self.position(layer):
                self.failed_line(pending.pop(0)[2])
            unit = self.backbone_units.get(layer.name)
            if unit is not None:
                self.backbone_rows(unit)
                continue
            found = fold_of(self.model, layer, self.folds) if self.folds else None
            if found and found[0] in self.foldable:
                if found[0] not in self.shown_folds:
                    self.shown_folds.add(found[0])
                    self.rows.append(self.fold_row(found[0]))
                continue
            if self.graph:
                for source in layer.inputs:
                    if source in self.model.unknown:
                        self.failed_line(source)
            layer_report = self.inferred.get(layer.name)
            if layer_report is not None:
                self.rows.append(self.layer_row(layer_report))
            elif all(source in self.shapes for source in layer.inputs):
                span = layer.span
                found_error = _first_error(self.diagnostics, (span.line, span.column), (span.end_line, span.end_column))
                self.rows.append(
                    _error_row(_label(layer), found_error, span.line, _connections(self.model, layer.inputs))
                )
            else:
                self.rows.append(
                    Row(
                        f"{NOT_INFERRED} {_label(layer)}",
                        "?",
                        "",
                        str(layer.span.line),
                        connected=_connections(self.model, layer.inputs),
                        dim=True,
                    )
                )
        if self.graph:  # a failed line that nothing after it reads, such as the last one
            for name in sorted(self.model.unknown, key=lambda n: failed_line_position(n) or (0, 0)):
                self.failed_line(name)

    def backbone_unit(self, layer: LayerBase) -> tuple[int, int | str] | None:
        """The backbone a layer belongs to (its use's index) and the row it is shown in: the network's block
        use it is in (the outermost one), or the layer's own name outside any; None outside backbones."""
        backbone = self.model.backbone_of(layer.scope)
        if backbone is None:
            return None
        chain = self.model.scope_chain(layer.scope)
        inside = chain[: chain.index(backbone)]
        return backbone, inside[-1] if inside else layer.name

    def backbone_rows(self, unit: tuple[int, int | str]) -> None:
        """The backbone's row, before its first unit, and the unit's row, each once."""
        backbone = unit[0]
        if backbone not in self.shown_units:
            self.shown_units.add(backbone)
            self.rows.append(self.unit_row(backbone, None))
        if unit not in self.shown_units:
            self.shown_units.add(unit)
            self.rows.append(self.unit_row(backbone, unit[1]))

    def unit_row(self, backbone: int, unit: int | str | None) -> Row:
        """A row for a whole backbone (unit None) or one of its units, with its parameters and, where the
        backbone freezes anything, how many of them train and how many are frozen."""
        use = self.model.block_uses[backbone]
        members = [
            self.inferred[name]
            for name, found in self.backbone_units.items()
            if found[0] == backbone and name in self.inferred
        ]
        if unit is not None:
            members = [m for m in members if self.backbone_units[m.layer.name][1] == unit]
        params = sum(m.inference.params for m in members)
        frozen = sum(m.inference.params for m in members if not m.layer.trainable)
        if unit is None:
            kind = "Functional" if use.name == use.block else f"Functional {use.block}"
            label, output = f"{use.name} ({kind})", use.output
            line = use.span.line
        elif isinstance(unit, int):
            inner = self.model.block_uses[unit]
            label, output, line = f"  {inner.name} ({inner.block})", inner.output, use.span.line
        else:
            layer = self.inferred[unit].layer if unit in self.inferred else None
            label = f"  {_label(layer)}" if layer is not None else f"  {unit}"
            output, line = unit, use.span.line
        # Each row says what trains once anything in the backbone is frozen.
        backbone_freezes = any(
            not self.inferred[name].layer.trainable
            for name, found in self.backbone_units.items()
            if found[0] == backbone and name in self.inferred
        )
        if backbone_freezes and params:
            label += " · " + _freezing(params - frozen, frozen)
        shape = self.shapes.get(output)
        names = [m.layer.name for m in members]
        working = (f"{len(members)} layers: {params - frozen:,} trainable, {frozen:,} frozen",)
        return Row(
            label,
            keras_shape(shape) if shape is not None else "?",
            f"{params:,}",
            str(line),
            working + self.cost_working(names),
            connected=_connections(self.model, use.inputs) if unit is None else "",
            costs=self.summed_costs(names, output),
        )

    def failed_line(self, name: str) -> None:
        """A row for a line that failed to lower, as written, once however many values stand for it."""
        at = failed_line_position(name)
        if at is None or at in self.shown_failures:
            return
        self.shown_failures.add(at)
        line = at[0]
        text = self.source_lines[line - 1].strip() if 0 < line <= len(self.source_lines) else "?"
        self.rows.append(_error_row(text, _first_error(self.diagnostics, at, (line, _LINE_END)), line))

    def layer_row(self, layer_report: LayerReport) -> Row:
        layer, inference = layer_report.layer, layer_report.inference
        counted = self.counted(layer.name)
        return Row(
            ("" if counted else f"{NOT_COUNTED} ") + _label(layer),
            keras_shape(inference.output_shape),
            f"{inference.params:,}",
            str(layer.span.line),
            (*inference.working, *self.figures.working.get(layer.name, ())),
            connected=_connections(self.model, layer.inputs),
            dim=not counted,
            costs=self.summed_costs([layer.name], layer.name),
        )

    def fold_row(self, fold: tuple[int, ...]) -> Row:
        """One row for the repetitions after the first of a repeated block use: their names, the block and how
        many, the last one's output, and their counted parameters summed (the working shows each repetition's)."""
        uses = [self.model.block_uses[index] for index in fold]
        first, last = uses[0], uses[-1]
        members = self.fold_members[fold]
        per_use = [
            sum(self.inferred[m.name].inference.params for use, m in members if use == index and self.counted(m.name))
            for index in fold
        ]
        total = sum(per_use)
        any_counted = any(self.counted(m.name) for _, m in members)
        times = f" ×{len(uses)}" if len(uses) > 1 else ""
        label = f"{name_range(first.name, last.name)} ({first.block}{times})"
        working = [f"{len(members)} layers in {len(uses)} use{'s' * (len(uses) != 1)} of block `{first.block}`"]
        if len(uses) > 1:
            working.append(f"params: {' + '.join(f'{p:,}' for p in per_use)} = {total:,}")
        shape = self.shapes.get(last.output)
        names = [m.name for _, m in members if self.counted(m.name)]
        return Row(
            ("" if any_counted else f"{NOT_COUNTED} ") + label,
            keras_shape(shape) if shape is not None else "?",
            f"{total:,}",
            str(first.span.line),
            (*working, *self.cost_working(names)),
            connected=_connections(self.model, first.inputs),
            dim=not any_counted,
            costs=self.summed_costs(names, last.output),
        )


def summary_rows(
    report: ModelReport,
    stop: Diagnostic | None = None,
    source_lines: list[str] = (),
    diagnostics: list[Diagnostic] = (),
    figures: ModelFigures | None = None,
) -> list[Row]:
    """The rows of a model's table. A stack: its input, every layer the checker inferred, and, where it stopped
    at an error, that layer (or source line) marked. A graph: its inputs, then every layer in order, those that
    could not be inferred marked, and the lines that failed as written."""
    model = report.model
    graph = not is_stack(model)
    builder = _RowBuilder(report, graph, list(diagnostics), list(source_lines), figures)
    builder.inputs()
    if graph:
        builder.layers(model.layers)
        return builder.rows
    builder.layers(tuple(r.layer for r in report.layers))
    rows = builder.rows
    if stop is not None:
        line = stop.span.line
        rest = model.layers[len(report.layers) :]
        at = (stop.span.line, stop.span.column)
        failing = [
            layer
            for layer in rest[:1]
            if (layer.span.line, layer.span.column) <= at <= (layer.span.end_line, layer.span.end_column)
        ]
        failing = failing or [layer for layer in rest if layer.span.line == line]
        if failing:
            label = _label(failing[0])
        else:  # the line did not lower to a layer: show it as written
            label = source_lines[line - 1].strip() if 0 < line <= len(source_lines) else "?"
        rows.append(_error_row(label, stop, line))
    return rows


# --- tables -------------------------------------------------------------------------------------


def _count_width(rows: list[Row], width: int) -> int | None:
    """The width that keeps every count whole, or None (fold them) when that would leave the others too little."""
    longest = max(len(HEADERS[2]), *(len(row.params) for row in rows))
    return longest if longest <= width // 3 else None


def summary_table(title: str, rows: list[Row], width: int, graph: bool = False, costs: bool = False) -> Table:
    """One row per layer, as in model.summary(): name (type), output shape with the batch axis, parameters,
    in a graph's table what the layer reads, and with `costs` its MACs, memory and receptive field."""
    headers = _headers(graph, costs)
    # A graph's rows may take several lines (a merge reads several values): lines between rows, as Keras draws.
    table = Table(title=title, title_justify="left", show_lines=graph)
    table.add_column(headers[0], overflow="fold")
    table.add_column(headers[1], overflow="fold")
    # A column that does not wrap is the last rich narrows; where even that cannot keep it whole, it folds.
    whole = _count_width(rows, width) is not None
    table.add_column(headers[2], justify="right", overflow="fold", no_wrap=whole)
    if graph:
        table.add_column(headers[3], overflow="fold")
    if costs:
        table.add_column(COST_HEADERS[0], justify="right", overflow="fold")
        table.add_column(COST_HEADERS[1], justify="right", overflow="fold")
        table.add_column(COST_HEADERS[2], overflow="fold")
    table.add_column(headers[-1], justify="right", style="dim")
    for row in rows:
        table.add_row(*row.cells(graph, costs), style=row.style)
    return table


def explained_table(title: str, rows: list[Row], width: int, graph: bool = False, costs: bool = False) -> Table:
    """The summary with each layer's arithmetic on lines of its own under its row, across the whole table.

    rich has no cells spanning columns, so each row is a grid of its own inside a one-column table;
    every grid gets the same column widths, which depend on the table's width only, never on the
    row's content, so the columns line up from row to row.
    """
    headers = _headers(graph, costs)
    count_width = _count_width(rows, width) or width // 3
    line_width = max(len(headers[-1]), *(len(row.line) for row in rows))
    name_width = max(len(headers[0]), *(len(row.layer) for row in rows))
    shape_width = max(len(headers[1]), *(len(row.shape) for row in rows))
    connected_width = max(len(GRAPH_HEADERS[3]), *(len(part) for row in rows for part in row.connected.split("\n")))
    cost_widths = [max(len(header), *(len(row.costs[i]) for row in rows)) for i, header in enumerate(COST_HEADERS)]
    working_width = max((len(line) + 2 for row in rows for line in row.working), default=0)
    # Inside the table's borders and padding (4), the grid's gaps (2 between columns).
    columns_width = name_width + shape_width + count_width + line_width + 6
    if graph:
        columns_width += connected_width + 2
    if costs:
        columns_width += sum(cost_widths) + 2 * len(cost_widths)
    natural = max(columns_width, working_width) + 4

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
        if graph:
            if connected_width <= width // 3:
                row.add_column(width=connected_width, overflow="fold")
            else:
                row.add_column(ratio=1, overflow="fold")
        if costs:
            for index, cost_width in enumerate(cost_widths):
                row.add_column(width=cost_width, justify="left" if index == 2 else "right", overflow="fold")
        row.add_column(width=line_width, justify="right", style="dim")
        row.add_row(*cells, style=style)
        return row

    table = Table(title=title, title_justify="left", show_lines=True, width=min(width, natural))
    table.add_column(grid(headers))
    for row in rows:
        parts = [grid(row.cells(graph, costs), row.style)]
        if row.working:
            parts.append(Padding(Text("\n".join(row.working), style="dim", overflow="fold"), (0, 0, 0, 2)))
        table.add_row(Group(*parts))
    return table


def figures_totals(figures: ModelFigures) -> tuple[str, ...]:
    """The lines of a complete model's figures under its parameter totals (docs/figures.md says what each counts)."""
    dtype, batch = figures.dtype, figures.batch
    return (
        f"Total MACs: {format_count(figures.macs)} (FLOPs: {format_count(figures.flops)})",
        f"Parameter memory ({dtype}): {format_bytes(figures.parameter_bytes)}",
        f"Peak forward memory (batch {batch}, {dtype}): {format_bytes(figures.peak_forward_bytes)} activations",
        f"Training memory estimate (batch {batch}, {dtype}, Adam): {format_bytes(figures.training_bytes)}",
    )


def _lines(numbers: list[int]) -> str:
    return ("line " if len(numbers) == 1 else "lines ") + ", ".join(map(str, numbers))


def print_summaries(
    reports: list[ModelReport],
    explain: bool = False,
    console: Console | None = None,
    diagnostics: list[Diagnostic] = (),
    source_lines: list[str] = (),
    costs: bool = False,
    dtype: str = "float32",
    batch: int = 1,
) -> None:
    """Each model's table and totals; a model the checker stopped in gets its table up to the error, marked
    (a graph: every layer, those not inferred marked). `costs` adds each row's MACs, memory and receptive
    field; the figures' totals follow the parameters' for a complete model, in `dtype` for `batch` examples."""
    console = console or Console()
    draw = explained_table if explain else summary_table
    for report in reports:
        graph = not is_stack(report.model)
        stop = None if graph else stopping_error(report, diagnostics)
        figures = model_figures(report, dtype, batch)
        rows = summary_rows(report, stop, source_lines, diagnostics, figures)
        console.print(draw(f'Model: "{report.model.name}"', rows, console.width, graph, costs))
        if stop is not None:
            console.print(f" {FAILED} stopped at line {stop.span.line} (error {stop.code})", style="red")
            console.print(f" Params before line {stop.span.line}: {inferred_params(report, graph):,}")
        elif graph and not report.complete:
            failed = sorted({int(row.line) for row in rows if row.failed})
            if failed:
                console.print(f" {FAILED} errors at {_lines(failed)}", style="red")
            if any(row.layer.startswith(f"{NOT_INFERRED} ") for row in rows):
                console.print(f" {NOT_INFERRED} not inferred: reads a value an error left unknown")
            console.print(f" Params of the layers inferred: {inferred_params(report, graph):,}")
        else:
            console.print(f" Total params: {report.total_params:,}")
            console.print(f" Trainable params: {report.trainable_params:,}")
            console.print(f" Non-trainable params: {report.non_trainable_params:,}")
            for line in figures_totals(figures):
                console.print(f" {line}")
        if any(row.layer.startswith(f"{NOT_COUNTED} ") for row in rows):
            console.print(f" {NOT_COUNTED} not connected to an output: not counted")
        console.print()
