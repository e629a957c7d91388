"""Editor edge: what the language server offers, as pure functions of a checked spec.

Each function takes a CheckedSource (the one check path's result) and the text's Lines, and
returns lsprotocol values; none of them talks to a client, so they are tested without one.
Shapes, counts and arithmetic come from the checker's reports, and costs, memory and receptive fields
from specc.figures (float32, batch 1), never recomputed here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lsprotocol import types

from specc import syntax
from specc.check import LayerReport, ModelReport
from specc.diagnostics import Diagnostic, Severity, Span
from specc.figures import LayerFigures, ModelFigures, ReceptiveField, format_bytes, format_count, model_figures
from specc.ir import BlockUse, Model
from specc.layers import (
    ACTIVATIONS,
    LAYER_KINDS,
    PARAMETER_SHORT_FORMS,
    Cost,
    LayerBase,
    format_shape,
    parameter_names,
    written_value,
)
from specc.lower import BUDGET_DTYPES, BUDGET_METRICS, documented_kind, placed_parameters, render
from specc.lsp.positions import Lines, contains
from specc.lsp.symbols import Occurrence, SymbolIndex, build_index, rename_problem, values_above
from specc.parse import parse
from specc.pipeline import CheckedSource
from specc.zoo import ZOO

SOURCE = "specc"

_SEVERITIES = {Severity.ERROR: types.DiagnosticSeverity.Error, Severity.WARNING: types.DiagnosticSeverity.Warning}


# Diagnostics and their fixes


def to_lsp_diagnostic(diagnostic: Diagnostic, lines: Lines, uri: str | None = None) -> types.Diagnostic:
    """A specc diagnostic as LSP reports it: code, severity, 0-based range; the hint on a line of its own;
    with the document's uri, each note as related information."""
    message = diagnostic.message + (f"\nhint: {diagnostic.hint}" if diagnostic.hint else "")
    related = None
    if uri is not None and diagnostic.notes:
        related = [
            types.DiagnosticRelatedInformation(
                location=types.Location(uri=uri, range=lines.range(note.span)), message=note.message
            )
            for note in diagnostic.notes
        ]
    return types.Diagnostic(
        range=lines.range(diagnostic.span),
        message=message,
        severity=_SEVERITIES[diagnostic.severity],
        code=diagnostic.code,
        source=SOURCE,
        related_information=related,
    )


def diagnostics(checked: CheckedSource, lines: Lines, uri: str | None = None) -> list[types.Diagnostic]:
    return [to_lsp_diagnostic(d, lines, uri) for d in checked.diagnostics]


def _touches(a: types.Range, b: types.Range) -> bool:
    """Whether two ranges overlap or meet, so that a cursor at either end of a diagnostic counts."""
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and (
        b.start.line,
        b.start.character,
    ) <= (a.end.line, a.end.character)


def code_actions(checked: CheckedSource, lines: Lines, uri: str, within: types.Range) -> list[types.CodeAction]:
    """One quick fix per Fix of each diagnostic that touches `within`; the only fix of one is preferred."""
    within = lines.clamp_range(within)
    actions = []
    for diagnostic in checked.diagnostics:
        if not diagnostic.fixes:
            continue
        reported = to_lsp_diagnostic(diagnostic, lines)
        if not _touches(reported.range, within):
            continue
        for fix in diagnostic.fixes:
            actions.append(
                types.CodeAction(
                    title=fix.title,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[reported],
                    is_preferred=len(diagnostic.fixes) == 1,
                    edit=types.WorkspaceEdit(
                        changes={uri: [types.TextEdit(range=lines.range(fix.span), new_text=fix.new_text)]}
                    ),
                )
            )
    return actions


# Where things are


def _layer_reports(checked: CheckedSource) -> Iterator[tuple[ModelReport, LayerReport]]:
    for report in checked.reports:
        for layer_report in report.layers:
            yield report, layer_report


def _model_at(checked: CheckedSource, line: int) -> Model | None:
    for model in checked.spec.models:
        if model.span.line <= line <= model.span.end_line:
            return model
    return None


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _word_at(lines: Lines, line: int, column: int) -> tuple[str, Span] | None:
    """The identifier under (or just before) a 1-based point, with its span."""
    for match in _WORD.finditer(lines.line(line - 1)):
        if match.start() + 1 <= column <= match.end() + 1:
            return match.group(), Span(line, match.start() + 1, line, match.end() + 1)
    return None


def tree_of(checked: CheckedSource, tree: syntax.SourceFile | None = None) -> syntax.SourceFile:
    """The syntax tree of the checked text: the one given (the server keeps its incremental parse's), else parsed."""
    return tree if tree is not None else parse(checked.text)[0]


# What each line made: one line inside a block makes one node per use of the block.


@dataclass(frozen=True)
class Made:
    """A node a line made, by the name the IR gives it, with its output shape (None when unknown)."""

    name: str
    shape: tuple[int, ...] | None
    params: int | None = None


def made_by_line(checked: CheckedSource, tree: syntax.SourceFile) -> dict[Span, list[Made]]:
    """For each statement's span, the nodes it made, in the models' order: an input's value; a layer; a
    block use's output (the last repetition's); a block's `x = input`, the value each use reads there.
    A line in a block has one per use of the block, in every model."""
    made: dict[Span, list[Made]] = {}
    inputs_of_block = {
        body.name: [s.span for s in body.statements if s.kind == "input"] for body in tree.models if body.is_block
    }
    for report in checked.reports:
        model = report.model
        shapes: dict[str, tuple[int, ...]] = {i.name: i.shape for i in model.inputs}
        params: dict[str, int] = {}
        for layer_report in report.layers:
            shapes[layer_report.layer.name] = layer_report.inference.output_shape
            params[layer_report.layer.name] = layer_report.inference.params
        for model_input in model.inputs:
            made.setdefault(model_input.span, []).append(Made(model_input.name, model_input.shape))
        backbone_params: dict[int, int] = {}
        for layer in model.layers:
            backbone = model.backbone_of(layer.scope)
            if backbone is not None:  # a backbone line makes one value: its network's output
                backbone_params[backbone] = backbone_params.get(backbone, 0) + params.get(layer.name, 0)
                continue
            made.setdefault(layer.span, []).append(Made(layer.name, shapes.get(layer.name), params.get(layer.name)))
        last_of_statement: dict[tuple[Span, int | None], Made] = {}
        for index, use in enumerate(model.block_uses):
            if use is None:
                continue
            if use.backbone is not None:
                made.setdefault(use.span, []).append(
                    Made(use.name, shapes.get(use.output), backbone_params.get(index, 0))
                )
                continue
            if model.backbone_of(use.parent) is not None:
                continue
            # The repetitions of one line (repeat=N) share its span and parent; its value is the last one's.
            last_of_statement[(use.span, use.parent)] = Made(use.name, shapes.get(use.output))
            # A block without `x = input` lines reads its one input with no line to show it on.
            for span, value in zip(inputs_of_block.get(use.block, ()), use.inputs, strict=False):
                made.setdefault(span, []).append(Made(use.name, shapes.get(value)))
        for (span, _), use_made in last_of_statement.items():
            made.setdefault(span, []).append(use_made)
    return made


def _shapes_text(entries: list[Made], limit: int = 3) -> str | None:
    """The distinct known shapes of a line's nodes, `a | b`, in the order first met; None when none is known."""
    distinct = list(dict.fromkeys(format_shape(e.shape) for e in entries if e.shape is not None))
    if not distinct:
        return None
    return " | ".join(distinct[:limit]) + (" | …" if len(distinct) > limit else "")


# Figures: what each layer costs and sees (specc.figures), as the hover and the cost hints show them


def figures_of(checked: CheckedSource) -> tuple[ModelFigures, ...]:
    """Each model's figures, in the order of checked.reports, for one example in float32: the server
    computes them once per check, on the first request that needs them."""
    return tuple(model_figures(report) for report in checked.reports)


def _figures_for(checked: CheckedSource, figures: tuple[ModelFigures, ...] | None) -> tuple[ModelFigures, ...]:
    return figures if figures is not None else figures_of(checked)


def _per_axis_text(pair: tuple[object, object]) -> str:
    """One number when both axes agree, else `height x width`."""
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def receptive_field_text(field: ReceptiveField | None) -> str:
    """`receptive field 7x7, jump 2, start -2`: the input pixels one output position sees, the input pixels
    between neighbouring positions (the effective stride) and where the first position's window starts."""
    if field is None:
        return "receptive field: none (no feature map before this layer)"
    size = f"{field.size[0]}x{field.size[1]}"
    if field.whole:
        return f"receptive field: the whole input ({size})"
    return f"receptive field {size}, jump {_per_axis_text(field.jump)}, start {_per_axis_text(field.start)}"


def _cost_text(macs: int, flops: int) -> str:
    return f"MACs {format_count(macs)} · FLOPs {format_count(flops)}"


def layer_figures_text(figures: LayerFigures, model: ModelFigures) -> list[str]:
    """A layer's cost for one example, its output's memory and its receptive field, one line each."""
    memory = (
        f"output memory {format_bytes(figures.output_bytes)} ({model.dtype}, batch {model.batch})"
        if figures.output_bytes
        else "output memory: none of its own (a view of its input)"
    )
    return [_cost_text(figures.macs, figures.flops), memory, receptive_field_text(figures.receptive_field)]


def model_figures_text(figures: ModelFigures) -> list[str]:
    """The model's totals over the layers that reach an output: cost per example, then memory."""
    return [
        _cost_text(figures.macs, figures.flops) + " (one example)",
        f"parameter memory {format_bytes(figures.parameter_bytes)}, peak forward memory "
        f"{format_bytes(figures.peak_forward_bytes)}, training estimate {format_bytes(figures.training_bytes)} "
        f"(Adam; {figures.dtype}, batch {figures.batch})",
    ]


def _use_costs(report: ModelReport, figures: ModelFigures) -> dict[int, Cost]:
    """The summed MACs and FLOPs of every block use's layers (those of the uses inside it included), by index."""
    sums: dict[int, Cost] = {}
    for layer_report in report.layers:
        layer = layer_report.layer
        cost = figures.layers[layer.name]
        for scope in report.model.scope_chain(layer.scope):
            macs, flops = sums.get(scope, Cost(0, 0))
            sums[scope] = Cost(macs + cost.macs, flops + cost.flops)
    return sums


def _repetitions(model: Model, index: int) -> list[int]:
    """The uses one line makes at the place `index` was made: `repeat=N` makes N with one span and parent."""
    use = model.block_uses[index]
    return [
        i
        for i, other in enumerate(model.block_uses)
        if other is not None and other.span == use.span and other.parent == use.parent
    ]


def block_use_cost_text(report: ModelReport, figures: ModelFigures, index: int) -> str:
    """The summed MACs and FLOPs of the layers a block use's line made: every repetition of it."""
    sums = _use_costs(report, figures)
    repeated = _repetitions(report.model, index)
    macs = sum(sums.get(i, Cost(0, 0)).macs for i in repeated)
    flops = sum(sums.get(i, Cost(0, 0)).flops for i in repeated)
    layers = sum(len(report.model.layers_within(i)) for i in repeated)
    over = f"{len(repeated)} repetitions, {layers} layers" if len(repeated) > 1 else f"{layers} layers"
    return f"{_cost_text(macs, flops)} (summed over its {over})"


def _use_at(report: ModelReport, line: int, column: int) -> int | None:
    """The first block use (not a backbone, nor inside one) whose line holds the point."""
    model = report.model
    for index, use in enumerate(model.block_uses):
        if use is None or use.backbone is not None or model.backbone_of(index) is not None:
            continue
        if contains(use.span, line, column):
            return index
    return None


def _input_sizes_text(report: ModelReport) -> list[str]:
    """For an open input (`input ?x?x3`): the sizes it accepts, the output's formula, the size evaluated at."""
    sizes = report.input_sizes
    if sizes is None:
        return []
    lines = [f"accepts {sizes.describe()}"]
    if sizes.output_formulas:
        lines.append(f"output {sizes.describe_outputs()}")
    if sizes.evaluated_at is not None:
        shown = " x ".join(f"{name}={size}" for name, size in sizes.evaluated_at.items())
        lines.append(f"shapes and figures are at {shown}")
    return lines


# Hover


def _settings(layer: LayerBase) -> str:
    return ", ".join(f"{name}={written_value(getattr(layer, name))}" for name in parameter_names(type(layer)))


def layer_hover_text(layer_report: LayerReport, figures: ModelFigures | None = None) -> str:
    """What a layer makes of its input: shapes, parameter counts, its arguments, with the model's figures its
    cost, output memory and receptive field, and the arithmetic."""
    layer, inference = layer_report.layer, layer_report.inference
    lines = [
        f"{layer.name} ({layer.keras_class}): {format_shape(layer_report.input_shape)} -> "
        f"{format_shape(inference.output_shape)}",
        f"params: {inference.params:,} ({inference.trainable_params:,} trainable, "
        f"{inference.non_trainable_params:,} non-trainable)",
    ]
    if settings := _settings(layer):
        lines.append(settings)
    layer_figures = figures.layers.get(layer.name) if figures is not None else None
    if layer_figures is not None:
        lines += layer_figures_text(layer_figures, figures)
    working = list(inference.working) + list(figures.working.get(layer.name, ()) if figures is not None else ())
    if working:
        lines += ["", *working]
    return "\n".join(lines)


def backbone_hover_text(report: ModelReport, index: int, figures: ModelFigures | None = None) -> str:
    """A backbone line: the network, its input and output shapes, what of it trains and what is frozen, and
    with the model's figures its layers' summed cost."""
    model = report.model
    use = model.block_uses[index]
    backbone = use.backbone
    assert backbone is not None
    shapes = report.value_shapes
    members = [r for r in report.layers if model.backbone_of(r.layer.scope) == index]
    params = sum(r.inference.params for r in members)
    frozen = sum(r.inference.params for r in members if not r.layer.trainable)
    statistics = sum(r.inference.non_trainable_params for r in members if r.layer.trainable)
    known = lambda name: format_shape(shapes[name]) if name in shapes else "?"  # noqa: E731
    arguments = f"include_top={written_value(backbone.include_top)}, weights={backbone.weights or 'none'}"
    if backbone.pooling:
        arguments += f", pooling={backbone.pooling}"
    lines = [
        f"{use.name}: keras.applications.{backbone.keras_application}({arguments})",
        f"{known(use.inputs[0])} -> {known(use.output)}, {len(members)} layers",
        f"params: {params:,} ({params - frozen - statistics:,} trainable, {frozen:,} frozen"
        + (f", {statistics:,} non-trainable statistics" if statistics else "")
        + ")",
    ]
    if backbone.first_trainable is not None:
        lines.append(f"fine-tuning: trains from `{backbone.first_trainable}` on (Keras's layer order)")
    elif not backbone.trainable:
        lines.append("frozen: feature extraction")
    if figures is not None:
        macs = sum(figures.layers[r.layer.name].macs for r in members)
        flops = sum(figures.layers[r.layer.name].flops for r in members)
        lines.append(f"{_cost_text(macs, flops)} (summed over its {len(members)} layers)")
    return "\n".join(lines)


def _model_hover_text(report: ModelReport, figures: ModelFigures | None = None) -> str:
    """A model's input and output shapes and parameter counts; with its figures, the totals of cost and memory;
    for an open input, the sizes it accepts."""
    model = report.model
    shapes = (
        f"{format_shape(model.input_shape) if model.input_shape is not None else '?'} -> "
        f"{format_shape(report.output_shape) if report.output_shape is not None else '?'}"
    )
    text = f"model {model.name}: {shapes}, {len(model.layers)} layers, {report.total_params:,} params"
    text += f" ({report.trainable_params:,} trainable, {report.non_trainable_params:,} non-trainable)"
    if not report.complete:
        # The totals count the layers that reach an output, which a model with an error has none of yet.
        text += "\nshapes are known only up to the first layer with an error, and the totals once it is fixed"
        return "\n".join([text, *_input_sizes_text(report)])
    return "\n".join([text, *_input_sizes_text(report), *(model_figures_text(figures) if figures else ())])


def budget_hover_text(report: ModelReport, budget) -> str:
    """Each limit of a budget line beside the model's figure for it, and how much of the limit it uses."""
    from specc.budgets import budget_uses, shown_amount

    uses = [use for use in budget_uses(report) if use.budget is budget]
    if not uses:
        return "budget: the model's figures are known once its shapes check"
    lines = ["budget:"]
    for use in uses:
        limit = use.limit
        share = f", {100 * use.figure / limit.limit:.0f}% of it" if limit.limit else ""
        lines.append(
            f"  {limit.metric}: {shown_amount(limit.metric, use.figure)} (limit {limit.operator} {limit.text}{share})"
            + ("" if use.within else ": over budget")
        )
    if any(use.limit.metric == "memory" for use in uses):
        lines.append(f"  memory for batch {budget.batch} in {budget.dtype}: peak activations + weights")
    return "\n".join(lines)


def hover_text(
    checked: CheckedSource, line: int, column: int, figures: tuple[ModelFigures, ...] | None = None
) -> tuple[str, Span] | None:
    """The hover at a 1-based point: a layer's shapes, arithmetic and figures, a block use's or backbone's
    summed MACs, an input's shape, a model's totals (an open input's accepted sizes with them)."""
    figures = _figures_for(checked, figures)
    for report, model_figures_ in zip(checked.reports, figures, strict=True):
        model = report.model
        if not (model.span.line <= line <= model.span.end_line):
            continue
        if contains(model.name_span, line, column):
            return _model_hover_text(report, model_figures_), model.name_span
        if model.input_span is not None and contains(model.input_span, line, column):
            if model.input_shape is None:
                return None
            text = f"input: {format_shape(model.input_shape)} (height x width x channels)"
            return "\n".join([text, "", _model_hover_text(report, model_figures_)]), model.input_span
        for budget in model.budgets:
            if contains(budget.span, line, column):
                return budget_hover_text(report, budget), budget.span
        for index, use in enumerate(model.block_uses):
            if use is not None and use.backbone is not None and contains(use.span, line, column):
                return backbone_hover_text(report, index, model_figures_), use.span
        for layer_report in report.layers:
            layer = layer_report.layer
            if contains(layer.span, line, column):
                text = layer_hover_text(layer_report, model_figures_)
                if layer.scope is not None:
                    use = model.block_uses[layer.scope]
                    uses = sum(1 for other in model.layers if other.span == layer.span)
                    text += f"\n\nin block `{use.block}`, shown as used by `{use.name}`" + (
                        f", the first of {uses} uses (the inlay hint shows each shape)" if uses > 1 else ""
                    )
                return text, layer.span
        for layer in model.layers[len(report.layers) :]:
            if contains(layer.span, line, column):
                return f"{layer.name} ({layer.keras_class}): shape unknown, a line above has an error", layer.span
        if (index := _use_at(report, line, column)) is not None:
            use = model.block_uses[index]
            return f"{use.name}: block {use.block}\n{block_use_cost_text(report, model_figures_, index)}", use.span
    return None


def _block_use_costs_at(
    checked: CheckedSource, figures: tuple[ModelFigures, ...], line: int, column: int
) -> str | None:
    """The summed cost of the block use whose line holds a 1-based point, if one does."""
    for report, model_figures_ in zip(checked.reports, figures, strict=True):
        if (index := _use_at(report, line, column)) is not None:
            return block_use_cost_text(report, model_figures_, index)
    return None


def _per_use(entries: list[Made], limit: int = 8, indent: str = "  ") -> list[str]:
    """`name: shape` for each node of a line, the first `limit` of them."""
    listed = [f"{indent}{e.name}: {format_shape(e.shape) if e.shape is not None else '?'}" for e in entries[:limit]]
    return listed + ([f"{indent}... and {len(entries) - limit} more"] if len(entries) > limit else [])


def symbol_hover_text(
    checked: CheckedSource, tree: syntax.SourceFile, occurrence: Occurrence
) -> tuple[str, Span] | None:
    """The hover on a value's, block's or parameter's name: the shape of the value (one per use of the
    block it is in), a block's signature and its uses' outputs, a parameter's argument at each use."""
    symbol = occurrence.symbol
    if symbol.kind == "value":
        assert symbol.statement is not None and symbol.body is not None
        entries = made_by_line(checked, tree).get(symbol.statement.span, [])
        where = f"value `{symbol.name}` (line {symbol.definition.line})"
        if not symbol.body.is_block:
            shape = entries[-1].shape if entries else None
            return f"{where}: {format_shape(shape) if shape is not None else 'shape unknown'}", occurrence.span
        if not entries:
            return f"{where} in block `{symbol.body.name}`: the block is not used, so it has no shape", occurrence.span
        heading = f"{where} in block `{symbol.body.name}`: {_shapes_text(entries) or 'shape unknown'}, per use:"
        return "\n".join([heading, *_per_use(entries)]), occurrence.span
    if symbol.kind == "block":
        block = symbol.block
        assert block is not None
        signature = ", ".join(
            p.name + (f"={render(p.default)}" if p.default is not None else "") for p in block.parameters
        )
        lines = [f"block {block.name}({signature})"]
        made = made_by_line(checked, tree)
        if occurrence.is_definition:
            uses = [
                entry
                for body in tree.models
                for statement in body.statements
                if statement.kind == block.name
                for entry in made.get(statement.span, [])
            ]
        else:
            uses = [
                entry for statement in _statements_at(tree, occurrence.span) for entry in made.get(statement.span, [])
            ]
        if uses:
            lines += ["output per use:", *_per_use(uses)]
        else:
            lines.append("not used" if occurrence.is_definition else "output unknown: the use has an error")
        return "\n".join(lines), occurrence.span
    block = symbol.block
    assert block is not None
    arguments = [
        (use.name, use.arguments.get(symbol.name))
        for report in checked.reports
        for use in report.model.block_uses
        if use is not None and use.block == block.name
    ]
    lines = [f"parameter `{symbol.name}` of block `{block.name}`"]
    lines += [f"  {name}: {value}" for name, value in arguments[:8]]
    if len(arguments) > 8:
        lines.append(f"  ... and {len(arguments) - 8} more")
    return "\n".join(lines), occurrence.span


def _statements_at(tree: syntax.SourceFile, span: Span) -> list[syntax.LayerStatement]:
    """The statement whose kind is written at `span`."""
    return [s for body in tree.models for s in body.statements if s.kind_span == span]


def hover(
    checked: CheckedSource,
    lines: Lines,
    position: types.Position,
    markdown: bool,
    tree: syntax.SourceFile | None = None,
    index: SymbolIndex | None = None,
    figures: tuple[ModelFigures, ...] | None = None,
) -> types.Hover | None:
    """The hover at an LSP position; `figures` are figures_of(checked), computed here when not given."""
    line, column = lines.point(position)
    tree = tree_of(checked, tree)
    figures = _figures_for(checked, figures)
    occurrence = (index or build_index(tree)).at(line, column)
    found = symbol_hover_text(checked, tree, occurrence) if occurrence is not None else None
    if found is not None and occurrence is not None and occurrence.symbol.kind == "block":
        if not occurrence.is_definition and (costs := _block_use_costs_at(checked, figures, line, column)):
            found = (f"{found[0]}\n{costs}", found[1])
    if found is None:
        found = hover_text(checked, line, column, figures)
    if found is None:
        return None
    text, span = found
    contents = (
        types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"```text\n{text}\n```")
        if markdown
        else types.MarkupContent(kind=types.MarkupKind.PlainText, value=text)
    )
    return types.Hover(contents=contents, range=lines.range(span))


# Inlay hints


def macs_by_line(checked: CheckedSource, figures: tuple[ModelFigures, ...]) -> dict[Span, list[tuple[str, int]]]:
    """For each line that makes layers, `(name, MACs)` per node it made, in the models' order: a layer's own;
    a block use's or backbone's, summed over its layers (a `repeat=N` line's over its repetitions)."""
    made: dict[Span, list[tuple[str, int]]] = {}
    for report, model_figures_ in zip(checked.reports, figures, strict=True):
        model = report.model
        for layer_report in report.layers:
            layer = layer_report.layer
            if model.backbone_of(layer.scope) is None:
                made.setdefault(layer.span, []).append((layer.name, model_figures_.layers[layer.name].macs))
        sums = _use_costs(report, model_figures_)
        lines_made: dict[tuple[Span, int | None], tuple[str, int]] = {}
        for index, use in enumerate(model.block_uses):
            if use is None or (use.backbone is None and model.backbone_of(index) is not None):
                continue
            key = (use.span, use.parent if use.backbone is None else index)
            _, macs = lines_made.get(key, (use.name, 0))
            lines_made[key] = (use.name, macs + sums.get(index, Cost(0, 0)).macs)
        for (span, _), entry in lines_made.items():
            made.setdefault(span, []).append(entry)
    return made


def _cost_hints(
    checked: CheckedSource, lines: Lines, first: int, last: int, figures: tuple[ModelFigures, ...]
) -> list[types.InlayHint]:
    """`195 K MACs` after each line between 1-based `first` and `last` whose layers multiply weights; where a
    block's uses differ, each distinct count, `1.20 M | 2.40 M MACs`."""
    hints = []
    for span, entries in macs_by_line(checked, figures).items():
        if not first <= span.end_line <= last or not any(macs for _, macs in entries):
            continue
        distinct = list(dict.fromkeys(format_count(macs) for _, macs in entries))
        label = " | ".join(distinct[:3]) + (" | …" if len(distinct) > 3 else "")
        hints.append(
            types.InlayHint(
                position=lines.position(span.end_line, span.end_column),
                label=f"{label} MACs",
                padding_left=True,
                tooltip="\n".join(f"{name}: {macs:,} MACs (one example)" for name, macs in entries[:20]),
            )
        )
    return hints


def inlay_hints(
    checked: CheckedSource,
    lines: Lines,
    within: types.Range,
    tree: syntax.SourceFile | None = None,
    costs: bool = False,
    figures: tuple[ModelFigures, ...] | None = None,
) -> list[types.InlayHint]:
    """`-> 26x26x32` after each line that makes a value whose shape is known: inputs, layers, block uses
    (the block's output). A line inside a block makes one value per use of the block: its hint is the
    shape they share, or each distinct shape, `-> 16x16x8 | 8x8x16`, the tooltip naming each use's.
    With `costs` (the client's `specc.inlayHints.costs`), each line that multiplies weights also gets its
    MACs after the shape, from `figures` (figures_of(checked), computed here when not given)."""
    within = lines.clamp_range(within)
    first, last = within.start.line + 1, within.end.line + 1
    hints = []
    for span, entries in made_by_line(checked, tree_of(checked, tree)).items():
        if not first <= span.end_line <= last:
            continue
        label = _shapes_text(entries)
        if label is None:
            continue
        if len(entries) == 1:
            entry = entries[0]
            tooltip = f"{entry.name}: {entry.params:,} params" if entry.params is not None else entry.name
        else:
            tooltip = "\n".join(_per_use(entries, limit=20, indent=""))
        hints.append(
            types.InlayHint(
                position=lines.position(span.end_line, span.end_column),
                label=f"→ {label}",
                kind=types.InlayHintKind.Type,
                padding_left=True,
                tooltip=tooltip,
            )
        )
    if costs:
        # After the shape hints, so that where both fall at one place the sort, which is stable, puts the shape first.
        hints += _cost_hints(checked, lines, first, last, _figures_for(checked, figures))
    hints.sort(key=lambda hint: (hint.position.line, hint.position.character))
    return hints


# Document symbols


def document_symbols(
    checked: CheckedSource, lines: Lines, tree: syntax.SourceFile | None = None
) -> list[types.DocumentSymbol]:
    """Each model, with its inputs, its layers (by name, kind and output shape) and its block uses as
    children; each block, with its parameters. A block's layers are listed nowhere under a model: their
    lines are the block's, and a symbol's range lies inside its parent's."""
    shapes = {id(r.layer): r.inference.output_shape for _, r in _layer_reports(checked)}
    symbols = []
    for report in checked.reports:
        model = report.model
        output_shapes = {r.layer.name: r.inference.output_shape for r in report.layers}
        output_shapes.update((i.name, i.shape) for i in model.inputs)
        children = []
        for model_input in model.inputs:
            children.append(
                types.DocumentSymbol(
                    name=model_input.name,
                    kind=types.SymbolKind.Variable,
                    range=lines.range(model_input.span),
                    selection_range=lines.range(model_input.span),
                    detail=format_shape(model_input.shape),
                )
            )
        # One symbol per line that uses a block at the model's level: the last repetition, which makes its value.
        last_use_of_line: dict[Span, BlockUse] = {}
        for use in model.block_uses:
            if use is not None and use.parent is None:
                last_use_of_line[use.span] = use
        for layer in model.layers:
            if layer.scope is not None:
                continue
            shape = shapes.get(id(layer))
            selection = layer.argument_spans.get("name", layer.span)
            children.append(
                types.DocumentSymbol(
                    name=layer.name,
                    kind=types.SymbolKind.Field,
                    range=lines.range(layer.span),
                    selection_range=lines.range(selection),
                    detail=layer.keras_class + (f" → {format_shape(shape)}" if shape is not None else ""),
                )
            )
        for use in last_use_of_line.values():
            shape = output_shapes.get(use.output)
            children.append(
                types.DocumentSymbol(
                    name=use.name,
                    kind=types.SymbolKind.Module,
                    range=lines.range(use.span),
                    selection_range=lines.range(use.span),
                    detail=f"block {use.block}" + (f" → {format_shape(shape)}" if shape is not None else ""),
                )
            )
        children.sort(key=lambda c: (c.range.start.line, c.range.start.character))
        symbols.append(
            types.DocumentSymbol(
                name=model.name,
                kind=types.SymbolKind.Class,
                range=lines.range(model.span),
                selection_range=lines.range(model.name_span),
                detail="model",
                children=children,
            )
        )
    symbols += _block_symbols(tree_of(checked, tree), lines)
    symbols.sort(key=lambda symbol: (symbol.range.start.line, symbol.range.start.character))
    return symbols


def _block_symbols(tree: syntax.SourceFile, lines: Lines) -> list[types.DocumentSymbol]:
    """Each block definition, with its parameters as children."""
    return [
        types.DocumentSymbol(
            name=body.name,
            kind=types.SymbolKind.Function,
            range=lines.range(body.span),
            selection_range=lines.range(body.name_span),
            detail="block(" + ", ".join(p.name for p in body.parameters) + ")",
            children=[
                types.DocumentSymbol(
                    name=p.name,
                    kind=types.SymbolKind.TypeParameter,
                    range=lines.range(p.span),
                    selection_range=lines.range(p.span),
                    detail=f"= {render(p.default)}" if p.default is not None else None,
                )
                for p in body.parameters
            ],
        )
        for body in tree.models
        if body.is_block
    ]


# Go to definition


def _declarations(checked: CheckedSource, current: Model | None) -> Iterator[tuple[str, Span]]:
    """Every name the file defines, with where: the current model's layers first, then models, then the rest."""

    def named_layers(model: Model) -> Iterator[tuple[str, Span]]:
        return ((layer.name, layer.argument_spans["name"]) for layer in model.layers if "name" in layer.argument_spans)

    if current is not None:
        yield from named_layers(current)
    yield from ((model.name, model.name_span) for model in checked.spec.models)
    for model in checked.spec.models:
        if model is not current:
            yield from named_layers(model)


def definition(
    checked: CheckedSource,
    lines: Lines,
    uri: str,
    position: types.Position,
    tree: syntax.SourceFile | None = None,
    index: SymbolIndex | None = None,
) -> types.Location | None:
    """Where the name under the cursor is defined: a value's binding (the latest above, in its body), a
    block's or a parameter's header; else a layer's `name=` value or a model's name."""
    line, column = lines.point(position)
    occurrence = (index or build_index(tree_of(checked, tree))).at(line, column)
    if occurrence is not None:
        return types.Location(uri=uri, range=lines.range(occurrence.symbol.definition))
    found = _word_at(lines, line, column)
    if found is None:
        return None
    word, _ = found
    for name, span in _declarations(checked, _model_at(checked, line)):
        if name == word:
            return types.Location(uri=uri, range=lines.range(span))
    return None


def references(
    checked: CheckedSource,
    lines: Lines,
    uri: str,
    position: types.Position,
    include_declaration: bool,
    tree: syntax.SourceFile | None = None,
    index: SymbolIndex | None = None,
) -> list[types.Location]:
    """Every occurrence of the value, block or parameter under the cursor: a value's binding and the uses
    that read it (up to the next binding of its name), a block's uses, a parameter's uses in its body
    and its keys at the block's uses."""
    index = index or build_index(tree_of(checked, tree))
    occurrence = index.at(*lines.point(position))
    if occurrence is None:
        return []
    return [
        types.Location(uri=uri, range=lines.range(o.span))
        for o in index.of(occurrence.symbol)
        if include_declaration or not o.is_definition
    ]


class RenameRefused(Exception):
    """A rename that would not mean what it says; the server answers the request with this message."""


def prepare_rename(
    checked: CheckedSource,
    lines: Lines,
    position: types.Position,
    tree: syntax.SourceFile | None = None,
    index: SymbolIndex | None = None,
) -> types.PrepareRenamePlaceholder | None:
    """The name under the cursor and its range, when it is a value, block or parameter; None elsewhere."""
    index = index or build_index(tree_of(checked, tree))
    occurrence = index.at(*lines.point(position))
    if occurrence is None:
        return None
    return types.PrepareRenamePlaceholder(range=lines.range(occurrence.span), placeholder=occurrence.symbol.name)


def rename(
    checked: CheckedSource,
    lines: Lines,
    uri: str,
    position: types.Position,
    new_name: str,
    tree: syntax.SourceFile | None = None,
    index: SymbolIndex | None = None,
) -> types.WorkspaceEdit | None:
    """An edit renaming the symbol under the cursor at every occurrence (for a value, that binding's only);
    None where there is no symbol; RenameRefused when the new name is not a name or would clash."""
    index = index or build_index(tree_of(checked, tree))
    occurrence = index.at(*lines.point(position))
    if occurrence is None:
        return None
    problem = rename_problem(index, occurrence.symbol, new_name)
    if problem is not None:
        raise RenameRefused(f"cannot rename `{occurrence.symbol.name}` to `{new_name}`: {problem}")
    edits = [types.TextEdit(range=lines.range(o.span), new_text=new_name) for o in index.of(occurrence.symbol)]
    return types.WorkspaceEdit(changes={uri: edits})


# Completion


_STRING = re.compile(r'"([^"\\\n]|\\.)*"?')


def _code_part(line: str) -> str:
    """A line without its strings' contents and its comment, so braces and `#` in them do not count."""
    return _STRING.sub('""', line).split("#", 1)[0]


def _inside_model(lines: Lines, line_index: int, before: str) -> bool:
    depth = 0
    for index in range(line_index):
        code = _code_part(lines.line(index))
        depth = max(depth + code.count("{") - code.count("}"), 0)
    code = _code_part(before)
    return depth + code.count("{") - code.count("}") > 0


@dataclass(frozen=True)
class _Context:
    """What the cursor is in: the kind word of its statement (if typed), a `key=` before it, and the
    statement before the cursor without the partial word."""

    inside_model: bool
    kind: str | None
    key: str | None
    head: str
    # Right after `from ` or `from a, `: where a value's name goes.
    after_from: bool = False


_TRAILING_WORD = re.compile(r"[A-Za-z0-9_]*\Z")
# `y = ` at the start of a statement: the value's name, before the kind.
_TARGET = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*=(?!=)\s*")
_AFTER_FROM = re.compile(r"(?<![A-Za-z0-9_])from\s+(?:[A-Za-z_][A-Za-z0-9_]*\s*,\s*)*\Z")
_KEY_BEFORE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*\Z")
_GIVEN_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=")


def _context(lines: Lines, position: types.Position) -> _Context | None:
    line, column = lines.point(position)
    before = lines.line(line - 1)[: column - 1]
    if "#" in _STRING.sub('""', before) or before.count('"') % 2:
        return None  # in a comment or a string
    inside = _inside_model(lines, line - 1, before)
    statement = re.split(r"[;{]", _STRING.sub('""', before))[-1]
    target = _TARGET.match(statement)
    if target is not None and inside:
        statement = statement[target.end() :]
    head = statement[: len(statement) - len(_TRAILING_WORD.search(statement).group())]
    if _AFTER_FROM.search(head):
        return _Context(inside_model=inside, kind=statement.split()[0], key=None, head=head, after_from=True)
    words = statement.split()
    if not head.strip():
        return _Context(inside_model=inside, kind=None, key=None, head=head)
    key = _KEY_BEFORE.search(head)
    return _Context(inside_model=inside, kind=words[0] if words else None, key=key.group(1) if key else None, head=head)


def _given(cls: type[LayerBase], head: str) -> frozenset[str]:
    """The parameters the statement before the cursor already fills, by key, position or bare word, as
    lowering places them; only the keys written, when that much of the statement does not parse."""
    tree, errors = parse("model _ {\n" + head + "\n}\n")
    if not errors and len(tree.models) == 1 and len(tree.models[0].statements) == 1:
        return placed_parameters(cls, tree.models[0].statements[0])
    return frozenset(PARAMETER_SHORT_FORMS.get(k, k) for k in _GIVEN_KEY.findall(head))


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n", 1)[0]


def _kind_items(inside_model: bool, tree: syntax.SourceFile | None = None) -> list[types.CompletionItem]:
    if not inside_model:
        return [
            types.CompletionItem(
                label="model",
                kind=types.CompletionItemKind.Keyword,
                detail="model NAME { input HxWxC ... }",
                insert_text="model ",
            ),
            types.CompletionItem(
                label="block",
                kind=types.CompletionItemKind.Keyword,
                detail="block NAME(parameters) { x = input ... }",
                insert_text="block ",
            ),
        ]
    blocks = [
        types.CompletionItem(
            label=body.name,
            kind=types.CompletionItemKind.Module,
            detail=f"block {body.name}(" + ", ".join(p.name for p in body.parameters) + ")",
            sort_text=f"0{body.name}",
        )
        for body in (tree.models if tree is not None else ())
        if body.is_block
    ]
    items = [
        types.CompletionItem(
            label="input",
            kind=types.CompletionItemKind.Keyword,
            detail="the input shape, first line of a model: input 28x28x1",
        ),
        types.CompletionItem(
            label="backbone",
            kind=types.CompletionItemKind.Keyword,
            detail="a network of the zoo: backbone resnet50 weights=imagenet include_top=false",
        ),
        types.CompletionItem(
            label="output",
            kind=types.CompletionItemKind.Keyword,
            detail="the values the model outputs: output a b",
        ),
        types.CompletionItem(
            label="budget",
            kind=types.CompletionItemKind.Keyword,
            detail="limits on the model's figures: budget params<=5M macs<=600M memory<=200MB",
        ),
        *blocks,
    ]
    for cls in LAYER_KINDS:
        items.append(
            types.CompletionItem(
                label=cls.spellings[0],
                kind=types.CompletionItemKind.Class,
                detail=f"{cls.keras_class}" + (f" ({', '.join(cls.positional)})" if cls.positional else ""),
                documentation=_first_line(cls.__doc__),
            )
        )
    # The Keras class names are documented spellings too; listed after specc's own, which the README teaches.
    for cls in LAYER_KINDS:
        items.append(
            types.CompletionItem(
                label=cls.keras_class,
                kind=types.CompletionItemKind.Class,
                detail=f"the same as `{cls.spellings[0]}`",
                documentation=_first_line(cls.__doc__),
                sort_text=f"~{cls.keras_class}",
            )
        )
    return items


def _value_items_for(cls: type[LayerBase], key: str) -> list[str]:
    if key == "padding":
        return list(cls.padding_modes)
    if key == "activation":
        return list(ACTIVATIONS)
    if cls.model_fields.get(key) is not None and cls.model_fields[key].annotation is bool:
        return ["true", "false"]
    return []


def _defined_names(checked: CheckedSource) -> list[str]:
    names = {model.name for model in checked.spec.models}
    names |= {layer.name for model in checked.spec.models for layer in model.layers if "name" in layer.argument_spans}
    return sorted(names)


def _value_items(tree: syntax.SourceFile, tree_lines: Lines, line: int, column: int) -> list[types.CompletionItem]:
    """The values a line at the point may read: those named above it in its model or block."""
    body = next((b for b in tree.models if b.span.line <= line <= b.span.end_line), None)
    if body is None:
        return []
    # The statement the point is in starts after the last `;` or `{` before it on its line; its own value
    # is not offered.
    before = _code_part(tree_lines.line(line - 1)[: column - 1])
    start = max(before.rfind(";"), before.rfind("{")) + 1
    names = values_above(body, line, start + 1)
    # The latest first: what a line reads is most often what was just made.
    return [
        types.CompletionItem(label=name, kind=types.CompletionItemKind.Variable, sort_text=f"0{index:05d}")
        for index, name in enumerate(reversed(names))
    ]


def _block_use_items(block: syntax.ModelBlock, head: str) -> list[types.CompletionItem]:
    """A block use's arguments not yet given by key: the block's parameters, `name` and `repeat`."""
    given = set(_GIVEN_KEY.findall(head))
    items = []
    for parameter in block.parameters:
        if parameter.name in given:
            continue
        default = f" (default {render(parameter.default)})" if parameter.default is not None else ""
        items.append(
            types.CompletionItem(
                label=f"{parameter.name}=",
                kind=types.CompletionItemKind.Property,
                detail=f"parameter of block {block.name}{default}",
                sort_text=f"1{parameter.name}",
            )
        )
    for key, detail in (("name", "the prefix of the names of the block's layers"), ("repeat", "uses in a row")):
        if key not in given:
            items.append(
                types.CompletionItem(
                    label=f"{key}=", kind=types.CompletionItemKind.Property, detail=detail, sort_text=f"2{key}"
                )
            )
    return items


def completions(
    checked: CheckedSource, lines: Lines, position: types.Position, tree: syntax.SourceFile | None = None
) -> list[types.CompletionItem]:
    """Layer kinds and blocks at the start of a statement; then the kind's parameters and bare words
    (a block's parameters after a block); after `key=`, that parameter's allowed values, or the names
    the file defines where there is no fixed set. Value names above the cursor after `from `, as a
    merge's operands and after `output`."""
    context = _context(lines, position)
    if context is None:
        return []
    tree = tree_of(checked, tree)
    line, column = lines.point(position)
    if context.after_from:
        return _value_items(tree, lines, line, column)
    if context.kind is None:
        return _kind_items(context.inside_model, tree)
    if context.kind == "output":
        return _value_items(tree, lines, line, column) if context.key is None else []
    block = next((b for b in tree.models if b.is_block and b.name == context.kind), None)
    if block is not None and context.inside_model:
        return _block_use_items(block, context.head) if context.key is None else []
    if context.kind == "backbone" and context.inside_model:
        return _backbone_items(context)
    if context.kind == "budget" and context.inside_model:
        return _budget_items(context)
    cls = documented_kind(context.kind)
    if cls is None:
        return []
    if context.key is not None:
        key = PARAMETER_SHORT_FORMS.get(context.key, context.key)
        values = _value_items_for(cls, key)
        if values:
            return [types.CompletionItem(label=v, kind=types.CompletionItemKind.EnumMember) for v in values]
        if key == "name" or key in parameter_names(cls):
            return []
        return [types.CompletionItem(label=n, kind=types.CompletionItemKind.Reference) for n in _defined_names(checked)]
    given = _given(cls, context.head)
    items = []
    for name in (*parameter_names(cls), "name"):
        if name in given:
            continue
        field = cls.model_fields.get(name)
        items.append(
            types.CompletionItem(
                label=f"{name}=",
                kind=types.CompletionItemKind.Property,
                detail=field.description if field is not None else "the layer's name, unique in its model",
                insert_text=f"{name}=",
                sort_text=f"1{name}",
            )
        )
    if "activation" in cls.word_arguments and "activation" not in given:
        items += [
            types.CompletionItem(
                label=a, kind=types.CompletionItemKind.EnumMember, detail="activation", sort_text=f"2{a}"
            )
            for a in ACTIVATIONS
        ]
    if "padding" in cls.word_arguments and "padding" not in given:
        items += [
            types.CompletionItem(label=p, kind=types.CompletionItemKind.EnumMember, detail="padding", sort_text=f"0{p}")
            for p in cls.padding_modes
        ]
    if cls.arity is None:
        items = _value_items(tree, lines, line, column) + items  # a merge's operands, named after the kind
    return items


_BACKBONE_VALUES = {
    "weights": ("imagenet", "none"),
    "include_top": ("true", "false"),
    "pooling": ("avg", "max", "none"),
    "trainable": ("true", "false"),
    "classifier_activation": ACTIVATIONS,
}
_BACKBONE_KEYS = {
    "weights": "imagenet (keras.applications' default) or none",
    "include_top": "keep the ImageNet classifier (default true)",
    "pooling": "with include_top=false: avg, max or none",
    "classes": "with include_top=true: the classifier's units",
    "classifier_activation": "with include_top=true: the classifier's activation",
    "trainable": "false freezes the whole network (feature extraction)",
    "trainable_from": "fine-tuning: the layer or block of the network from which on it trains",
    "name": "the backbone's name in the model (default: the network's)",
}


_BUDGET_METRIC_DETAILS = {
    "params": "every weight, trainable or not: params<=5M",
    "trainable": "the trainable weights: trainable<=1M",
    "macs": "multiply-accumulates for one example: macs<=600M",
    "flops": "floating-point operations for one example: flops<=1.2G",
    "memory": "peak forward memory, activations plus weights, in bytes: memory<=200MB",
}


def _budget_items(context: _Context) -> list[types.CompletionItem]:
    """On a budget line: the metrics not limited on it yet, then batch= and dtype= (what memory is evaluated at)."""
    if context.key == "dtype":
        return [types.CompletionItem(label=d, kind=types.CompletionItemKind.EnumMember) for d in BUDGET_DTYPES]
    if context.key is not None:
        return []
    given = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:<|=)", context.head))
    items = [
        types.CompletionItem(
            label=f"{metric}<=",
            kind=types.CompletionItemKind.Property,
            detail=_BUDGET_METRIC_DETAILS.get(metric),
            insert_text=f"{metric}<=",
            sort_text=f"0{metric}",
        )
        for metric in BUDGET_METRICS
        if metric not in given
    ]
    for option, detail in (
        ("batch", "examples memory is evaluated for (default 1)"),
        ("dtype", "float32 (default), float16 or bfloat16"),
    ):
        if option not in given:
            items.append(
                types.CompletionItem(
                    label=f"{option}=",
                    kind=types.CompletionItemKind.Property,
                    detail=detail,
                    insert_text=f"{option}=",
                    sort_text=f"1{option}",
                )
            )
    return items


def _backbone_items(context: _Context) -> list[types.CompletionItem]:
    """After `backbone`: the zoo's networks, then keras.applications' arguments and their values."""
    if context.key is not None:
        return [
            types.CompletionItem(label=v, kind=types.CompletionItemKind.EnumMember)
            for v in _BACKBONE_VALUES.get(context.key, ())
        ]
    if len(context.head.split()) == 1:
        return [
            types.CompletionItem(
                label=network.name,
                kind=types.CompletionItemKind.Module,
                detail=f"keras.applications.{network.keras_application}, "
                f"{network.default_size}x{network.default_size}x3",
            )
            for network in ZOO
        ]
    given = set(_GIVEN_KEY.findall(context.head))
    return [
        types.CompletionItem(
            label=f"{key}=",
            kind=types.CompletionItemKind.Property,
            detail=detail,
            insert_text=f"{key}=",
            sort_text=f"1{key}",
        )
        for key, detail in _BACKBONE_KEYS.items()
        if key not in given
    ]


# Formatting


def formatting(text: str, lines: Lines) -> list[types.TextEdit]:
    """`specc fmt`'s layout as one edit of the whole text; none when the text is already so, or has syntax errors."""
    from specc.fmt import format_text

    formatted, _ = format_text(text)
    if formatted is None or formatted == text:
        return []
    return [types.TextEdit(range=lines.whole(), new_text=formatted)]
