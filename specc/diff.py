"""Check stage: two checked models compared layer by layer, and their totals, for reviewing a change to a network.

Layers are matched by name (specc names them as Keras does, so an unchanged layer keeps its name).
A layer only in the second model is added, one only in the first removed; one in both is changed
when any fact compared differs: its type, output shape, trainable or non-trainable parameters,
what it reads, its arguments, or (from specc.figures) its MACs or receptive field. Everything
here works on ModelReports; the command line draws the result (text, JSON or Markdown).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, NamedTuple

from specc.check import LayerReport, ModelReport
from specc.figures import (
    LayerFigures,
    ModelFigures,
    ReceptiveField,
    format_bytes,
    format_count,
    format_receptive_field,
    model_figures,
)
from specc.input_sizes import written_shape
from specc.layers import Shape, format_shape, written_value

# What a layer's arguments leave out: where it was written and how it is wired (compared on their own), its name.
_NOT_ARGUMENTS = frozenset({"kind", "name", "span", "argument_spans", "inputs", "scope"})


class Figures(NamedTuple):
    """What the diff compares of a layer's figures (specc.figures): MACs for one example, and what it sees."""

    macs: int
    receptive_field: ReceptiveField | None  # None where the layer's value has no map before it


class LayerFacts(NamedTuple):
    """What the diff compares of one layer in one model."""

    type: str  # the Keras class: Conv2D
    output_shape: Shape
    trainable_params: int
    non_trainable_params: int
    inputs: tuple[str, ...]
    arguments: tuple[tuple[str, Any], ...]  # every argument with its normalised value, in the kind's order
    figures: Figures

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params


# The facts compared, in the order a change lists them: each name is also the JSON key of `changed`.
COMPARED = (
    "type",
    "output_shape",
    "trainable_params",
    "non_trainable_params",
    "macs",
    "receptive_field",
    "inputs",
    "arguments",
)


def _fact(facts: LayerFacts, name: str) -> Any:
    """A fact as compared. A receptive field is compared as shown (size and jump, or `whole input`): two fields
    that both see the whole input are alike, however far past its edges either reaches."""
    if name == "receptive_field":
        return format_receptive_field(facts.figures.receptive_field)
    return getattr(facts.figures, name) if name in Figures._fields else getattr(facts, name)


class LayerChange(NamedTuple):
    """One layer name and what each model has under it: `before` None when it was added, `after` when removed."""

    name: str
    before: LayerFacts | None
    after: LayerFacts | None

    @property
    def status(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed" if self.changed else "unchanged"

    @property
    def changed(self) -> tuple[str, ...]:
        """The names of the facts that differ (from COMPARED), for a layer in both models."""
        if self.before is None or self.after is None:
            return ()
        return tuple(name for name in COMPARED if _fact(self.before, name) != _fact(self.after, name))

    def changed_arguments(self) -> tuple[tuple[str, Any, Any], ...]:
        """Each argument whose value differs: name, before (None if absent), after."""
        if self.before is None or self.after is None:
            return ()
        before, after = dict(self.before.arguments), dict(self.after.arguments)
        names = [*before, *(name for name in after if name not in before)]
        return tuple((n, before.get(n), after.get(n)) for n in names if before.get(n) != after.get(n))


class Total(NamedTuple):
    """A figure of the whole model in both: a count (with a delta) or shapes. None: not known for that model."""

    key: str  # the JSON key
    label: str  # what a table calls it
    before: Any
    after: Any

    @property
    def delta(self) -> int | None:
        """after - before for counts known on both sides; None for shapes or an unknown side."""
        if isinstance(self.before, int) and isinstance(self.after, int):
            return self.after - self.before
        return None

    @property
    def differs(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class ModelDiff:
    """Two models compared: every layer name of either, in an order that follows both models, and the totals."""

    before: ModelReport
    after: ModelReport
    layers: tuple[LayerChange, ...]
    totals: tuple[Total, ...]

    def having(self, status: str) -> tuple[LayerChange, ...]:
        return tuple(change for change in self.layers if change.status == status)

    @property
    def differs(self) -> bool:
        """Whether the networks differ: a layer added, removed or changed, or a total (inputs included) that differs."""
        return any(c.status != "unchanged" for c in self.layers) or any(t.differs for t in self.totals)


def layer_facts(report: LayerReport, figures: LayerFigures) -> LayerFacts:
    """What the diff compares of one checked layer, with its figures."""
    layer, inference = report.layer, report.inference
    arguments = layer.model_dump(exclude=_NOT_ARGUMENTS)
    return LayerFacts(
        type=layer.keras_class,
        output_shape=inference.output_shape,
        trainable_params=inference.trainable_params,
        non_trainable_params=inference.non_trainable_params,
        inputs=layer.inputs,
        arguments=tuple(arguments.items()),
        figures=Figures(figures.macs, figures.receptive_field),
    )


def _aligned(before: list[str], after: list[str]) -> list[str]:
    """Every name of either list once, in an order that keeps both lists' orders where they agree: a name only in
    `before` stands where it stood there, among the names of `after`."""
    order: list[str] = []
    in_after = set(after)
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            order.extend(after[j1:j2])
            continue
        # A name in both that moved is shown where `after` has it.
        order.extend(name for name in before[i1:i2] if name not in in_after)
        order.extend(after[j1:j2])
    return order


def diff_models(before: ModelReport, after: ModelReport) -> ModelDiff:
    """Compare two checked models layer by layer, by name, with their totals; the figures are
    specc.figures.model_figures's (float32, batch 1)."""
    figures = model_figures(before), model_figures(after)
    old, new = (
        {r.layer.name: layer_facts(r, f.layers[r.layer.name]) for r in report.layers}
        for report, f in zip((before, after), figures, strict=True)
    )
    names = _aligned(list(old), list(new))
    layers = tuple(LayerChange(name, old.get(name), new.get(name)) for name in names)
    return ModelDiff(before, after, layers, _totals(before, after, figures))


def _totals(before: ModelReport, after: ModelReport, figures: tuple[ModelFigures, ModelFigures]) -> tuple[Total, ...]:
    old, new = figures
    totals = [
        Total("total_params", "Total params", before.total_params, after.total_params),
        Total("trainable_params", "Trainable params", before.trainable_params, after.trainable_params),
        Total("non_trainable_params", "Non-trainable params", before.non_trainable_params, after.non_trainable_params),
        Total("macs", "MACs", old.macs, new.macs),
        Total("flops", "FLOPs", old.flops, new.flops),
        Total("peak_forward_bytes", "Peak forward memory", old.peak_forward_bytes, new.peak_forward_bytes),
        Total("input_shapes", "Input shapes", _input_shapes(before), _input_shapes(after)),
        Total("output_shapes", "Output shapes", _output_shapes(before), _output_shapes(after)),
    ]
    if before.input_sizes is not None or after.input_sizes is not None:
        accepted = (None if r.input_sizes is None else r.input_sizes.describe() for r in (before, after))
        totals.append(Total("accepted_input_sizes", "Accepted input sizes", *accepted))
    return tuple(totals)


def _input_shapes(report: ModelReport) -> tuple[tuple[int | str, ...], ...]:
    """Each input's shape as written: an open extent (`input ?x?x3`) by its name, H or W, not a number."""
    return tuple(
        tuple(name or size for size, name in zip(i.shape, i.open_axes, strict=True)) if i.open_axes else i.shape
        for i in report.model.inputs
    )


def _output_shapes(report: ModelReport) -> tuple[tuple[int | str, ...], ...] | None:
    """Each output's shape; for an open input, as formulas of its open extents (`H/32`), numbers as integers."""
    sizes = report.input_sizes
    if sizes is None or not sizes.output_formulas:
        return report.output_shapes
    return tuple(
        tuple(int(extent) if extent.isdigit() else extent for extent in formula) for formula in sizes.output_formulas
    )


def evaluated_at(report: ModelReport) -> str | None:
    """`H=224, W=224`: the sizes an open input's layers were evaluated at; None for a model with sizes given."""
    sizes = report.input_sizes
    if sizes is None or not sizes.evaluated_at:
        return None
    return ", ".join(f"{name}={size}" for name, size in sizes.evaluated_at.items())


# --- how values are written ---------------------------------------------------------------------

MINUS = "\u2212"  # a real minus sign, as wide as the plus


def signed(n: int) -> str:
    """A delta with its sign: +1,234, −5,678, 0."""
    if n == 0:
        return "0"
    return f"{'+' if n > 0 else MINUS}{abs(n):,}"


def receptive_field_record(field: ReceptiveField | None) -> dict[str, Any] | None:
    return None if field is None else field.record()


def format_shapes(shapes: tuple[tuple[int | str, ...], ...] | None) -> str:
    """Shapes as specc writes them: `7x7x2048`, with formulas spaced: `ceil(H/32) x ceil(W/32) x 2048`."""
    if shapes is None:
        return "?"
    return ", ".join(written_shape(tuple(map(str, shape))) for shape in shapes)


def format_total(total: Total, value: Any) -> str:
    if value is None:
        return "?"
    if total.key.endswith("_shapes"):
        return format_shapes(value)
    if total.key.endswith("_bytes"):
        return format_bytes(value)
    return value if isinstance(value, str) else f"{value:,}"


# --- JSON -----------------------------------------------------------------------------------------


def facts_record(facts: LayerFacts) -> dict[str, Any]:
    return {
        "type": facts.type,
        "output_shape": list(facts.output_shape),
        "params": facts.params,
        "trainable_params": facts.trainable_params,
        "non_trainable_params": facts.non_trainable_params,
        "macs": facts.figures.macs,
        "receptive_field": receptive_field_record(facts.figures.receptive_field),
        "inputs": list(facts.inputs),
        "arguments": {name: _json_value(value) for name, value in facts.arguments},
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value


def _total_record(total: Total) -> dict[str, Any]:
    if total.key.endswith("_shapes"):
        shapes = (None if s is None else [list(shape) for shape in s] for s in (total.before, total.after))
        before, after = shapes
        return {"before": before, "after": after}
    if total.key == "accepted_input_sizes":  # descriptions, not counts
        return {"before": total.before, "after": total.after}
    return {"before": total.before, "after": total.after, "delta": total.delta}


def _side_record(report: ModelReport, label: str) -> dict[str, Any]:
    sizes = report.input_sizes
    return {
        "spec": label,
        "model": report.model.name,
        "evaluated_at": None if sizes is None or not sizes.evaluated_at else dict(sizes.evaluated_at),
    }


def diff_record(diff: ModelDiff, before_label: str, after_label: str) -> dict[str, Any]:
    """The JSON form of a diff (keys documented in docs/diff.md). Unchanged layers are listed by name only."""
    counts = {status: len(diff.having(status)) for status in ("added", "removed", "changed", "unchanged")}
    return {
        "before": _side_record(diff.before, before_label),
        "after": _side_record(diff.after, after_label),
        "differs": diff.differs,
        "counts": counts,
        "layers": [
            {
                "name": change.name,
                "status": change.status,
                "changed": list(change.changed),
                "before": None if change.before is None else facts_record(change.before),
                "after": None if change.after is None else facts_record(change.after),
            }
            for change in diff.layers
            if change.status != "unchanged"
        ],
        "unchanged": [change.name for change in diff.having("unchanged")],
        "totals": {total.key: _total_record(total) for total in diff.totals},
    }


# --- rows, for the text and Markdown tables ---------------------------------------------------------

# The mark of each status in the first column, as a diff marks its lines.
MARKS = {"added": "+", "removed": MINUS, "changed": "~", "unchanged": " "}


class DiffRow(NamedTuple):
    """One row of the changes table, as printed: a layer, or a run of unchanged layers folded into one."""

    status: str
    layer: str
    shape: str
    params: str
    macs: str
    receptive_field: str
    other: str  # what else changed: arguments, what it reads, the type


def _change_cell(before: str, after: str) -> str:
    return after if before == after else f"{before} → {after}"


def _count_cell(before: int, after: int) -> str:
    """The count, or both and the signed delta where it changed."""
    if before == after:
        return f"{after:,}"
    return f"{before:,} → {after:,} ({signed(after - before)})"


def _macs_cell(before: int, after: int) -> str:
    """_count_cell in SI units (`2.23 M → 3.35 M (+1.12 M)`): a layer's MACs run to billions; the totals and the
    JSON give them exactly."""
    if before == after:
        return format_count(after)
    delta = after - before
    return f"{format_count(before)} → {format_count(after)} ({'+' if delta > 0 else MINUS}{format_count(abs(delta))})"


def _facts_cells(facts: LayerFacts) -> tuple[str, str, str, str]:
    return (
        format_shape(facts.output_shape),
        f"{facts.params:,}",
        format_count(facts.figures.macs),
        format_receptive_field(facts.figures.receptive_field),
    )


def _other_changes(change: LayerChange) -> str:
    parts = []
    if "type" in change.changed:
        parts.append(f"type {change.before.type} → {change.after.type}")
    for name, old, new in change.changed_arguments():
        parts.append(f"{name} {written_value(old)} → {written_value(new)}")
    if "inputs" in change.changed:
        parts.append(f"reads {', '.join(change.before.inputs)} → {', '.join(change.after.inputs)}")
    # A change of the trainable count alone is the Params column's; the split matters once frozen weights change.
    if "non_trainable_params" in change.changed:
        old, new = change.before, change.after
        parts.append(
            f"trainable {old.trainable_params:,} → {new.trainable_params:,}, "
            f"non-trainable {old.non_trainable_params:,} → {new.non_trainable_params:,}"
        )
    return "; ".join(parts)


def _row(change: LayerChange) -> DiffRow:
    status = change.status
    facts = change.after or change.before
    label = f"{change.name} ({facts.type})"
    if status in ("added", "removed"):
        return DiffRow(status, label, *_facts_cells(facts), "")
    old, new = _facts_cells(change.before), _facts_cells(change.after)
    if change.before.type != change.after.type:
        label = f"{change.name} ({change.before.type} → {change.after.type})"
    return DiffRow(
        status,
        label,
        _change_cell(old[0], new[0]),
        _count_cell(change.before.params, change.after.params),
        _macs_cell(change.before.figures.macs, change.after.figures.macs),
        _change_cell(old[3], new[3]),
        _other_changes(change),
    )


def _unchanged_row(run: list[LayerChange]) -> DiffRow:
    count = len(run)
    names = run[0].name if count == 1 else f"{run[0].name} … {run[-1].name}"
    return DiffRow("unchanged", f"{count} unchanged layer{'s' * (count != 1)}: {names}", "", "", "", "", "")


def diff_rows(diff: ModelDiff) -> list[DiffRow]:
    """A row per layer added, removed or changed, in model order; each run of unchanged layers between them is
    one row naming its first and last layer, so a long backbone that did not change takes one line."""
    rows: list[DiffRow] = []
    run: list[LayerChange] = []
    for change in diff.layers:
        if change.status == "unchanged":
            run.append(change)
            continue
        if run:
            rows.append(_unchanged_row(run))
            run = []
        rows.append(_row(change))
    if run:
        rows.append(_unchanged_row(run))
    return rows


def evaluation_note(diff: ModelDiff) -> str | None:
    """For models with an open input, the sizes their layers' shapes and figures were evaluated at."""
    shown = [evaluated_at(diff.before), evaluated_at(diff.after)]
    if shown == [None, None]:
        return None
    if shown[0] == shown[1]:
        return f"layers evaluated at {shown[0]}"
    return f"layers evaluated at {shown[0] or 'the sizes given'} (before), {shown[1] or 'the sizes given'} (after)"


def verdict(diff: ModelDiff) -> str:
    """One line: how many layers were added, removed, changed and left as they were."""
    counts = [f"{len(diff.having(status))} {status}" for status in ("added", "removed", "changed", "unchanged")]
    return ", ".join(counts)


# --- Markdown -------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or " "


def diff_markdown(diff: ModelDiff, before_label: str, after_label: str) -> str:
    """The diff as Markdown for a pull request: a heading, the verdict, the changes table and the totals table."""
    lines = [f"### `{before_label}` → `{after_label}`", "", verdict(diff), ""]
    if note := evaluation_note(diff):
        lines += [note, ""]
    rows = diff_rows(diff)
    if any(row.status != "unchanged" for row in rows):
        # Counts align right, as in the text table.
        lines += [_markdown_row(HEADERS), _markdown_row(["---:" if h in NUMERIC else "---" for h in HEADERS])]
        for row in rows:
            folded = ["", f"*{row.layer}*", *([""] * (len(HEADERS) - 2))]
            lines.append(_markdown_row(folded if row.status == "unchanged" else _row_cells(row)))
        lines.append("")
    lines += [_markdown_row(["", "before", "after", "Δ"]), _markdown_row(["---", "---:", "---:", "---:"])]
    for total in diff.totals:
        delta = _delta_cell(total)
        lines.append(
            _markdown_row([total.label, format_total(total, total.before), format_total(total, total.after), delta])
        )
    return "\n".join(lines) + "\n"


def _delta_cell(total: Total) -> str:
    """A count's signed delta; `changed` for shapes that differ; empty otherwise."""
    if total.delta is not None and total.key.endswith("_bytes"):
        return "0" if not total.delta else ("+" if total.delta > 0 else MINUS) + format_bytes(abs(total.delta))
    if total.delta is not None:
        return signed(total.delta)
    return "changed" if total.differs else ""


def _markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


HEADERS = ["", "Layer (type)", "Output shape", "Params", "MACs", "Receptive field", "Other changes"]
NUMERIC = {"Params", "MACs"}


def _row_cells(row: DiffRow) -> list[str]:
    return [MARKS[row.status], *row[1:]]


# --- text -----------------------------------------------------------------------------------------

_STYLES = {"added": "green", "removed": "red", "changed": "yellow", "unchanged": "dim"}


def print_diff(diff: ModelDiff, before_label: str, after_label: str, console: Any = None) -> None:
    """The diff drawn with rich: a title, the changes table (unchanged runs folded, dim), the totals table."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    console.print(f"{before_label} → {after_label}: {verdict(diff)}", highlight=False)
    if note := evaluation_note(diff):
        console.print(note, style="dim", highlight=False)
    if any(change.status != "unchanged" for change in diff.layers):
        table = Table(title="Layers", title_justify="left")
        rows = diff_rows(diff)
        for header in HEADERS:
            table.add_column(header, justify="right" if header in NUMERIC else "left", overflow="fold")
        for row in rows:
            table.add_row(*_row_cells(row), style=_STYLES[row.status])
        console.print(table)
    totals = Table(title="Totals", title_justify="left")
    for header, justify in (("", "left"), ("before", "right"), ("after", "right"), ("Δ", "right")):
        totals.add_column(header, justify=justify, overflow="fold")
    for total in diff.totals:
        delta = _delta_cell(total)
        style = None if total.differs else "dim"
        totals.add_row(
            total.label, format_total(total, total.before), format_total(total, total.after), delta, style=style
        )
    console.print(totals)
