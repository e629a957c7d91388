"""Emit stage: pictures of checked models, as Graphviz DOT (which the `dot` program renders) or a Mermaid flowchart.

A model is drawn top to bottom as its dataflow: one box per input and per layer (name · Keras class,
output shape, parameters), an edge for each value a layer reads, in `layer.inputs` order. Merges
(layers reading several values) are the joins, drawn in another colour. Each block use is a
cluster labelled `name (block)`, nested as the uses nest; a backbone is a cluster too. The
repetitions of a `repeat=` after the first fold into one box, `conv2_block2..3 (basic ×2)`, as the
summary folds them into one row; `collapse` draws each outermost block use or backbone as one box.

A spec with errors is drawn as far as it was inferred: a layer that failed is a red box with shape
`?`, a layer reading a value an error left unknown a grey one, a line that failed to lower a red box
quoting it. Layers reaching no output are dashed, and outputs have a double border.

Both dialects are written from one Drawing, so they show the same boxes, edges and clusters.
"""

from __future__ import annotations

import html
import subprocess
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

import graphviz

from specc.check import ModelReport
from specc.ir import Model
from specc.summary import (
    FAILED,
    failed_line_position,
    fold_of,
    keras_shape,
    name_range,
    reaching,
    repeat_folds,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from specc.check import LayerReport
    from specc.layers import LayerBase, Shape

# The program that renders DOT, and where to get it, for the error a user sees without it.
DOT_PROGRAM = "dot"
INSTALL_DOT = (
    "install Graphviz: apt-get install graphviz (Debian, Ubuntu), brew install graphviz (macOS), "
    "or see https://graphviz.org/download/"
)
# Formats `dot` renders to a file (the names are also the file suffixes).
RENDERED_FORMATS = ("svg", "png", "pdf")
# A failed line's text is quoted up to this many characters.
_QUOTED_SOURCE = 48


class BoxKind(StrEnum):
    """What a box stands for; each kind has its own look in both dialects."""

    input = "input"
    layer = "layer"
    merge = "merge"  # a layer reading several values: a join
    fold = "fold"  # the later repetitions of a repeat=
    block = "block"  # a whole block use or backbone, with --collapse
    failed = "failed"  # a layer the checker refused, or a line that failed to lower
    unknown = "unknown"  # a layer reading a value an error left unknown


class Box(NamedTuple):
    id: str
    lines: tuple[str, ...]  # the first is the title
    kind: BoxKind
    cluster: int | None  # the block use (index) it is drawn in; None at the model's level
    counted: bool = True  # reaches an output
    output: bool = False


class Cluster(NamedTuple):
    label: str
    parent: int | None
    backbone: bool


@dataclass
class Drawing:
    """One model's picture, in no dialect: boxes in model order, edges between their ids, the block-use
    clusters they sit in."""

    title: str
    boxes: list[Box] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    clusters: dict[int, Cluster] = field(default_factory=dict)

    def layout(self) -> dict[int | None, list[tuple[str, object]]]:
        """What each cluster (None: the model's level) holds, in order of first appearance: ("box", Box) and
        ("cluster", index) items, nested as the uses nest."""
        tree: dict[int | None, list[tuple[str, object]]] = {None: []}
        for box in self.boxes:
            chain = []
            scope = box.cluster
            while scope is not None:
                chain.append(scope)
                scope = self.clusters[scope].parent
            parent = None
            for index in reversed(chain):
                if index not in tree:
                    tree[index] = []
                    tree[parent].append(("cluster", index))
                parent = index
            tree[box.cluster].append(("box", box))
        return tree


def _params(total: int, frozen: int = 0) -> str:
    text = f"{total:,} param{'s' * (total != 1)}"
    if frozen and frozen == total:
        return f"{text}, frozen"
    if frozen:
        return f"{text} ({frozen:,} frozen)"
    return text


def _use_label(model: Model, index: int) -> str:
    use = model.block_uses[index]
    if use.backbone is None:
        return f"{use.name} ({use.block})"
    return f"{use.name} (backbone)" if use.name == use.block else f"{use.name} ({use.block} backbone)"


def drawing(report: ModelReport, collapse: bool = False, source_lines: list[str] = (), prefix: str = "") -> Drawing:
    """The picture of one checked model. `collapse` draws each outermost block use as one box; `source_lines`
    lets a line that failed be quoted; `prefix` goes before every id (to draw several models in one graph)."""
    model = report.model
    inferred = {r.layer.name: r for r in report.layers}
    shapes = report.value_shapes
    counted_names = reaching(report, graph=True)
    folds = repeat_folds(model)

    def counted(name: str) -> bool:
        return counted_names is None or name in counted_names

    # A fold with a layer not inferred is drawn unfolded, as the summary shows it.
    members: dict[tuple[int, ...], list[LayerBase]] = {}
    for layer in model.layers:
        found = fold_of(model, layer, folds)
        if found:
            members.setdefault(found[0], []).append(layer)
    foldable = {fold for fold, layers in members.items() if all(m.name in inferred for m in layers)}

    def group_of(layer: LayerBase) -> tuple[str, object] | None:
        """The fold or collapsed use a layer is drawn in, or None when it has a box of its own."""
        if collapse and layer.scope is not None:
            outermost = model.scope_chain(layer.scope)[-1]
            if outermost in folds and folds[outermost] in foldable:
                return "fold", folds[outermost]
            return "block", outermost
        found = fold_of(model, layer, folds)
        if found and found[0] in foldable:
            return "fold", found[0]
        return None

    title = f"model {model.name}"
    result = Drawing(f"{title} · {_params(report.total_params)}" if report.complete else title)
    node_of: dict[str, str] = {}
    groups: dict[tuple[str, object], list[LayerBase]] = {}
    for layer in model.layers:
        group = group_of(layer)
        if group is not None:
            groups.setdefault(group, []).append(layer)
            kind, key = group
            node_of[layer.name] = f"{prefix}fold#{key[0]}" if kind == "fold" else f"{prefix}use#{key}"
        else:
            node_of[layer.name] = prefix + layer.name

    for model_input in model.inputs:
        node_of[model_input.name] = prefix + model_input.name
        result.boxes.append(
            Box(
                prefix + model_input.name,
                (f"{model_input.name} · InputLayer", keras_shape(model_input.shape)),
                BoxKind.input,
                None,
                counted(model_input.name),
                model_input.name in model.outputs,
            )
        )

    shown_failures: set[str] = set()

    def failed_line_box(name: str) -> None:
        if name in shown_failures:
            return
        shown_failures.add(name)
        # DOT reads a colon in an edge's end as a port: the id is the name without them.
        node_of[name] = prefix + name.replace(":", "_")
        at = failed_line_position(name)
        line = at[0] if at else 0
        text = source_lines[line - 1].strip() if 0 < line <= len(source_lines) else ""
        if len(text) > _QUOTED_SOURCE:
            text = text[: _QUOTED_SOURCE - 1] + "…"
        lines = (f"{FAILED} line {line}" if line else f"{FAILED} a line that failed", *((text,) if text else ()))
        result.boxes.append(Box(node_of[name], lines, BoxKind.failed, None, True, name in model.outputs))

    def add_edges(sources: tuple[str, ...], target: str) -> None:
        for source in sources:
            if source in model.unknown:
                failed_line_box(source)
            edge = (node_of.get(source, prefix + source), target)
            if edge[0] != edge[1] and edge not in result.edges:
                result.edges.append(edge)

    outputs = set(model.outputs)
    shown_groups: set[tuple[str, object]] = set()
    for layer in model.layers:
        group = group_of(layer)
        if group is not None:
            if group not in shown_groups:
                shown_groups.add(group)
                result.boxes.append(_group_box(model, group, groups[group], node_of, inferred, shapes, counted))
            add_edges(layer.inputs, node_of[layer.name])
            continue
        add_edges(layer.inputs, node_of[layer.name])
        layer_report = inferred.get(layer.name)
        title = f"{layer.name} · {layer.keras_class}"
        if layer_report is not None:
            inference = layer_report.inference
            lines = (
                title,
                keras_shape(inference.output_shape),
                _params(inference.params, 0 if layer.trainable else inference.params),
            )
            kind = BoxKind.merge if len(layer.inputs) > 1 else BoxKind.layer
        elif all(source in shapes for source in layer.inputs):
            lines, kind = (title, "?", f"{FAILED} error at line {layer.span.line}"), BoxKind.failed
        else:
            lines, kind = (title, "?", "not inferred"), BoxKind.unknown
        result.boxes.append(
            Box(prefix + layer.name, lines, kind, layer.scope, counted(layer.name), layer.name in outputs)
        )
    for name in sorted(model.unknown & outputs):
        failed_line_box(name)

    # An edge from a value nothing drew (a name the spec never defined) has nowhere to start.
    boxed = {box.id for box in result.boxes}
    result.edges = [edge for edge in result.edges if edge[0] in boxed and edge[1] in boxed]
    drawn = {box.cluster for box in result.boxes}
    for box_scope in drawn:
        for index in model.scope_chain(box_scope):
            use = model.block_uses[index]
            result.clusters[index] = Cluster(_use_label(model, index), use.parent, use.backbone is not None)
    return result


def _group_box(
    model: Model,
    group: tuple[str, object],
    layers: list[LayerBase],
    node_of: dict[str, str],
    inferred: dict[str, LayerReport],
    shapes: dict[str, Shape],
    counted: Callable[[str], bool],
) -> Box:
    """The one box of a fold (`conv2_block2..3 (basic ×2)`) or of a collapsed block use: its output shape (the
    last use's) and its layers' parameters summed."""
    kind, key = group
    if kind == "fold":
        uses = [model.block_uses[index] for index in key]
        first, last = uses[0], uses[-1]
        times = f" ×{len(uses)}" if len(uses) > 1 else ""
        title = f"{name_range(first.name, last.name)} ({first.block}{times})"
        box_kind = BoxKind.fold
    else:
        first = last = model.block_uses[key]
        title = _use_label(model, key)
        box_kind = BoxKind.block
    reports = [inferred[layer.name] for layer in layers if layer.name in inferred]
    total = sum(r.inference.params for r in reports)
    frozen = sum(r.inference.params for r in reports if not r.layer.trainable)
    shape = shapes.get(last.output)
    lines = (title, keras_shape(shape) if shape is not None else "?", _params(total, frozen))
    return Box(
        node_of[layers[0].name],
        lines,
        box_kind,
        first.parent,
        any(counted(layer.name) for layer in layers),
        any(layer.name in model.outputs for layer in layers),
    )


def drawings(reports: list[ModelReport], collapse: bool = False, source_lines: list[str] = ()) -> list[Drawing]:
    """One Drawing per model; with several, each box's id starts with its model's name."""
    several = len(reports) > 1
    return [drawing(report, collapse, source_lines, f"{report.model.name}." if several else "") for report in reports]


# --- DOT ----------------------------------------------------------------------------------------

FONT = "Helvetica"
# Fill and border of each kind of box: layers pale, joins orange, folds and collapsed blocks violet,
# errors red; one table, used by both dialects.
COLOURS = {
    BoxKind.input: ("#d9ead3", "#38761d"),
    BoxKind.layer: ("#eef3fb", "#3c78d8"),
    BoxKind.merge: ("#fce5cd", "#e69138"),
    BoxKind.fold: ("#e6dff2", "#674ea7"),
    BoxKind.block: ("#e6dff2", "#674ea7"),
    BoxKind.failed: ("#f4cccc", "#cc0000"),
    BoxKind.unknown: ("#f3f3f3", "#999999"),
}
# A 3-D box draws its depth inside its margin: more room, so the text clears it.
_BOX3D_MARGIN = "0.22,0.1"
_DOT_SHAPES = {BoxKind.merge: "hexagon", BoxKind.fold: "box3d", BoxKind.block: "box3d", BoxKind.input: "box"}
# Cluster fills by depth, so nested uses stand apart; backbones get their own.
_CLUSTER_FILLS = ("#f7f7f7", "#ececec", "#e2e2e2")
_BACKBONE_FILL = "#fff8e1"


def _dot_label(box: Box) -> str:
    """An HTML-like label: the title bold, the rest plain, every text escaped."""
    title, *rest = (html.escape(line) for line in box.lines)
    return "<" + "<br/>".join([f"<b>{title}</b>", *rest]) + ">"


def _dot_box(graph: graphviz.Digraph, box: Box) -> None:
    fill, border = COLOURS[box.kind]
    style = ["filled"]
    if box.kind in (BoxKind.input, BoxKind.layer, BoxKind.failed, BoxKind.unknown):
        style.append("rounded")
    if not box.counted or box.kind is BoxKind.unknown:
        style.append("dashed")
    attributes = {"shape": _DOT_SHAPES.get(box.kind, "box"), "style": ",".join(style)}
    attributes.update(fillcolor=fill, color=border)
    if attributes["shape"] == "box3d":
        attributes["margin"] = _BOX3D_MARGIN
    if box.output:
        attributes["peripheries"] = "2"
    if not box.counted:
        attributes["fontcolor"] = "#888888"
    graph.node(box.id, _dot_label(box), **attributes)


def _dot_items(graph: graphviz.Digraph, picture: Drawing, tree, holder: int | None, prefix: str, depth: int) -> None:
    """The boxes and clusters a cluster (None: the model) holds, clusters named `cluster_<prefix><use index>`."""
    for what, item in tree[holder]:
        if what == "box":
            _dot_box(graph, item)
            continue
        cluster = picture.clusters[item]
        with graph.subgraph(name=f"cluster_{prefix}{item}") as sub:
            fill = _BACKBONE_FILL if cluster.backbone else _CLUSTER_FILLS[depth % len(_CLUSTER_FILLS)]
            sub.attr(label=cluster.label, style="rounded,filled", fillcolor=fill, color="#b7b7b7")
            _dot_items(sub, picture, tree, item, prefix, depth + 1)


def dot_source(pictures: list[Drawing]) -> str:
    """The DOT text of the drawings: top to bottom, one cluster per model when there are several."""
    graph = graphviz.Digraph("specc", strict=False)
    graph.attr(rankdir="TB", fontname=FONT, fontsize="12", labelloc="t", nodesep="0.3", ranksep="0.35")
    graph.attr("node", shape="box", fontname=FONT, fontsize="11", margin="0.15,0.06", penwidth="1.2")
    graph.attr("edge", color="#555555", arrowsize="0.7")
    if len(pictures) == 1:
        graph.attr(label=pictures[0].title, fontsize="14")
        _dot_picture(graph, pictures[0], "")
    else:
        for number, picture in enumerate(pictures):
            with graph.subgraph(name=f"cluster_model{number}") as sub:
                sub.attr(label=picture.title, style="solid", color="#666666", fontsize="14")
                _dot_picture(sub, picture, f"model{number}_")
    return graph.source


def _dot_picture(graph: graphviz.Digraph, picture: Drawing, cluster_prefix: str) -> None:
    _dot_items(graph, picture, picture.layout(), None, cluster_prefix, 0)
    for source, target in picture.edges:
        graph.edge(source, target)


class DotNotFound(Exception):
    """The `dot` program is not installed (or not on PATH)."""


class DotFailed(Exception):
    """The `dot` program ran and refused: its message."""


def render(source: str, file_format: str) -> bytes:
    """DOT text rendered by the `dot` program to svg, png or pdf. Raises DotNotFound without the program, and
    DotFailed, with what it printed, when it fails."""
    try:
        return graphviz.Source(source).pipe(format=file_format)
    except graphviz.ExecutableNotFound:
        raise DotNotFound(INSTALL_DOT) from None
    except subprocess.CalledProcessError as error:
        message = (error.stderr or b"").decode("utf-8", errors="replace").strip()
        raise DotFailed(message or f"exit status {error.returncode}") from None


# --- Mermaid ------------------------------------------------------------------------------------

_MERMAID_SHAPES = {
    BoxKind.input: ('(["', '"])'),
    BoxKind.merge: ('{{"', '"}}'),
    BoxKind.fold: ('[["', '"]]'),
    BoxKind.block: ('[["', '"]]'),
}


def mermaid_text(text: str) -> str:
    """Text inside a quoted Mermaid label: entity codes for what Mermaid or HTML would read as markup."""
    return "".join(
        {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;"}.get(char, char) for char in text
    )


def mermaid_source(pictures: list[Drawing]) -> str:
    """A Mermaid `flowchart TB` of the drawings, to paste into Markdown: boxes as nodes (ids n0, n1... so no
    layer name can clash with Mermaid's words), block uses as subgraphs, one subgraph per model when several."""
    lines = ["flowchart TB"]
    ids: dict[str, str] = {}
    classes: dict[BoxKind, list[str]] = {}
    styled: dict[str, list[str]] = {"output": [], "uncounted": []}

    def node(box: Box, indent: str) -> None:
        node_id = ids.setdefault(box.id, f"n{len(ids)}")
        opening, closing = _MERMAID_SHAPES.get(box.kind, ('["', '"]'))
        title, *rest = (mermaid_text(line) for line in box.lines)
        lines.append(f"{indent}{node_id}{opening}{'<br/>'.join([f'<b>{title}</b>', *rest])}{closing}")
        classes.setdefault(box.kind, []).append(node_id)
        if box.output:
            styled["output"].append(node_id)
        if not box.counted:
            styled["uncounted"].append(node_id)

    def items(picture: Drawing, tree, holder: int | None, indent: str, prefix: str) -> None:
        for what, item in tree[holder]:
            if what == "box":
                node(item, indent)
                continue
            lines.append(f'{indent}subgraph {prefix}c{item}["{mermaid_text(picture.clusters[item].label)}"]')
            items(picture, tree, item, indent + "  ", prefix)
            lines.append(f"{indent}end")

    for number, picture in enumerate(pictures):
        prefix = f"m{number}" if len(pictures) > 1 else ""
        indent = "  "
        if len(pictures) > 1:
            lines.append(f'  subgraph {prefix}["{mermaid_text(picture.title)}"]')
            indent = "    "
        items(picture, picture.layout(), None, indent, prefix)
        if len(pictures) > 1:
            lines.append("  end")
    for picture in pictures:
        for source, target in picture.edges:
            lines.append(f"  {ids[source]} --> {ids[target]}")
    for kind, (fill, border) in COLOURS.items():
        if kind in classes:
            lines.append(f"  classDef {kind} fill:{fill},stroke:{border},color:#000")
            lines.append(f"  class {','.join(classes[kind])} {kind}")
    if styled["output"]:
        lines.append("  classDef output stroke-width:3px")
        lines.append(f"  class {','.join(styled['output'])} output")
    if styled["uncounted"]:
        lines.append("  classDef uncounted stroke-dasharray:4 3,color:#888")
        lines.append(f"  class {','.join(styled['uncounted'])} uncounted")
    return "\n".join(lines) + "\n"
