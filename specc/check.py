"""Check stage: IR -> per-layer shapes and parameter counts, with shape errors and lints as diagnostics.

The checker walks each model from its input, asking every layer's own `infer` (specc.layers)
for its output; it never computes a shape itself. It imports no framework.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

from specc.diagnostics import Diagnostic, Fix, Note, Span, once_each
from specc.input_sizes import PREFERRED_SIZE, InputSizes, analyse, open_extents, with_sizes
from specc.ir import BlockUse, Model, SpecFile
from specc.layers import (
    MAX_TENSOR_ELEMENTS,
    MAX_TENSOR_ELEMENTS_TEXT,
    Inference,
    LayerBase,
    Problem,
    Shape,
    format_shape,
)


class LayerReport(NamedTuple):
    """One layer as the checker saw it: what came in and what it made of it.

    A named tuple, like Inference, because the editor builds one per layer on every keystroke."""

    layer: LayerBase
    input_shapes: tuple[Shape, ...]
    inference: Inference

    @property
    def input_shape(self) -> Shape:
        """The shape of the layer's first input: its only one, unless it is a merge."""
        return self.input_shapes[0]


@dataclass(frozen=True)
class ModelReport:
    """A model's layers that could be inferred, in order; a layer is left out when one of the values it
    reads is unknown (its line failed, or a layer before it could not take its input)."""

    model: Model
    layers: tuple[LayerReport, ...]
    # False when some layer could not be inferred, so what follows from it is unknown.
    complete: bool
    # The layers and inputs whose value reaches an output, by name; the totals count only these, as Keras's Model does.
    reachable: frozenset[str] = frozenset()
    # For a model whose input's height and width are open: the sizes it accepts; `model` is then the model
    # evaluated at input_sizes.evaluated_at (or at PREFERRED_SIZE when no size fits).
    input_sizes: InputSizes | None = None

    @property
    def value_shapes(self) -> dict[str, Shape]:
        """The shape of every value that was inferred, inputs and layers, by name."""
        shapes = {i.name: i.shape for i in self.model.inputs}
        shapes.update((r.layer.name, r.inference.output_shape) for r in self.layers)
        return shapes

    @property
    def output_shapes(self) -> tuple[Shape, ...] | None:
        """The shape of each output, in order; None unless every one is known."""
        if not self.complete:
            return None
        shapes = self.value_shapes
        if not self.model.outputs or any(name not in shapes for name in self.model.outputs):
            return None
        return tuple(shapes[name] for name in self.model.outputs)

    @property
    def output_shape(self) -> Shape | None:
        """The shape of the model's output, the first of several."""
        shapes = self.output_shapes
        return shapes[0] if shapes else None

    @property
    def counted(self) -> tuple[LayerReport, ...]:
        """The layers that reach an output: what the model's totals count."""
        return tuple(report for report in self.layers if report.layer.name in self.reachable)

    @property
    def trainable_params(self) -> int:
        return sum(report.inference.trainable_params for report in self.counted)

    @property
    def non_trainable_params(self) -> int:
        return sum(report.inference.non_trainable_params for report in self.counted)

    @property
    def total_params(self) -> int:
        return self.trainable_params + self.non_trainable_params


def _diagnostic(problem: Problem, layer: LayerBase, shares_line: bool = False) -> Diagnostic:
    """A layer's problem as a diagnostic at the argument it is about, with its fixes where they are mechanical."""
    fixes: tuple[Fix, ...] = ()
    if problem.code == "W301":
        fixes = (_flatten_before(layer, shares_line),)
    return Diagnostic(
        code=problem.code,
        message=problem.message,
        span=layer.span_of(problem.argument),
        hint=problem.hint,
        fixes=fixes,
    )


def _without_channels(diagnostic: Diagnostic, input_shape: Shape, input_span: Span) -> Diagnostic:
    """A 2-D layer after `input HxW`: the input line is what to change, so the hint says how and a note points at it."""
    shown = format_shape(input_shape)
    meant = f"input {shown}x1"
    return replace(
        diagnostic,
        hint=f"the model's input, {shown}, has no channel axis: write `{meant}` "
        f"(or `input {shown}x3` for colour images)",
        fixes=(Fix(title=f"Write `{meant}`", span=input_span, new_text=meant),),
        notes=(Note(input_span, f"the input is {shown} here"),),
    )


def _flatten_before(layer: LayerBase, shares_line: bool) -> Fix:
    """Insert `flatten` just before the layer: as a line of its own, or with `;` when the layer does not
    start its line. The new line is indented to the layer's column (with spaces)."""
    at = Span.empty(layer.span.line, layer.span.column)
    new_text = "flatten; " if shares_line else "flatten\n" + " " * (layer.span.column - 1)
    return Fix(title="Insert `flatten` before this layer", span=at, new_text=new_text)


_TOO_LARGE_HINT = (
    f"PyTorch counts a tensor's bytes in a signed 64-bit integer, at 4 bytes a float32 element, so one tensor "
    f"holds at most {MAX_TENSOR_ELEMENTS_TEXT} elements; a smaller layer or input, or global pooling instead of "
    f"flatten, keeps under it"
)


def _too_large(what: str, elements: int, span: Span) -> Diagnostic | None:
    """E303 when a tensor would have more elements than a framework can allocate, whatever the memory."""
    if elements <= MAX_TENSOR_ELEMENTS:
        return None
    return Diagnostic(
        code="E303",
        message=f"{what} would have {elements:,} elements; a framework allocates at most "
        f"{MAX_TENSOR_ELEMENTS:,} ({MAX_TENSOR_ELEMENTS_TEXT}) in one tensor",
        span=span,
        hint=_TOO_LARGE_HINT,
    )


def _tensors_too_large(layer: LayerBase, inference: Inference) -> list[Diagnostic]:
    """The layer's largest weight tensor and its output for one example, where either cannot be allocated."""
    found = [
        _too_large(f"the weights of {layer.spellings[0]} `{layer.name}`", inference.largest_weight, layer.span),
        _too_large(
            f"the output of {layer.spellings[0]} `{layer.name}`, {format_shape(inference.output_shape)} for one "
            "example,",
            math.prod(inference.output_shape),
            layer.span,
        ),
    ]
    return [diagnostic for diagnostic in found if diagnostic is not None]


# A layer whose input keeps changing (an edit above it) would otherwise collect every shape it saw.
_SHAPES_KEPT_PER_LAYER = 4


class InferenceCache:
    """Remembers each layer's inference for the input it was given, so that checking the next version
    of a text infers only the layers that changed or whose input did. The editor re-checks a whole
    spec on every keystroke, and lowering with a LoweringCache hands back the same layer objects
    for unchanged lines. Layers are matched by identity; entries not used by a run are dropped."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[LayerBase, dict[tuple[Shape, ...], Inference | Problem]]] = {}
        self._used: dict[int, tuple[LayerBase, dict[tuple[Shape, ...], Inference | Problem]]] = {}

    def infer(self, layer: LayerBase, shape: tuple[Shape, ...]) -> Inference | Problem:
        entry = self._used.get(id(layer)) or self._entries.get(id(layer))
        if entry is None or entry[0] is not layer:
            entry = (layer, {})
        self._used[id(layer)] = entry
        outcome = entry[1].get(shape)
        if outcome is None:
            if len(entry[1]) >= _SHAPES_KEPT_PER_LAYER:
                entry[1].clear()
            outcome = entry[1][shape] = layer.infer(shape)
        return outcome

    def carry(self, old: LayerBase, new: LayerBase) -> None:
        """Let `new`, a copy of `old` with its spans moved, reuse `old`'s inferences (which hold no spans)."""
        entry = self._entries.get(id(old))
        if entry is not None and entry[0] is old:
            self._entries[id(new)] = (new, entry[1])

    def finish_run(self) -> None:
        self._entries, self._used = self._used, {}


def check_model(model: Model, cache: InferenceCache | None = None) -> tuple[ModelReport, list[Diagnostic]]:
    """Infer every layer of a model in order, each from the shapes of the values it reads; a layer that
    reads an unknown value, or one that could not take its input, is left out, and so is what reads it."""
    diagnostics: list[Diagnostic] = []
    if not model.inputs:
        return ModelReport(model=model, layers=(), complete=False), diagnostics
    shapes: dict[str, Shape] = {}
    for model_input in model.inputs:
        shapes[model_input.name] = model_input.shape
        elements = math.prod(model_input.shape)
        too_large = _too_large(
            f"the input, {format_shape(model_input.shape)} for one example,", elements, model_input.span
        )
        diagnostics.extend([too_large] if too_large else [])
    reports: list[LayerReport] = []
    complete = not model.unknown
    # The line where the statement before the current one ends, so a fix knows if they share a line.
    previous_end = model.inputs[0].span.end_line
    for layer in model.layers:
        span = layer.span
        shares_line = previous_end == span.line
        previous_end = span.end_line
        try:
            input_shapes = tuple([shapes[name] for name in layer.inputs])
        except KeyError:  # it reads a value that is unknown
            complete = False
            continue
        outcome = layer.infer(input_shapes) if cache is None else cache.infer(layer, input_shapes)
        if isinstance(outcome, Problem):
            complete = False
            diagnostic = _diagnostic(outcome, layer, shares_line)
            only = model.inputs[0]
            if outcome.code == "E302" and len(input_shapes[0]) == 2 == len(only.shape) and len(model.inputs) == 1:
                diagnostic = _without_channels(diagnostic, only.shape, only.span)
            if len(layer.inputs) > 1:
                diagnostic = _with_operands(diagnostic, model, layer, input_shapes)
            diagnostics.append(_with_call_sites(diagnostic, model, layer))
            continue
        if not layer.trainable:
            outcome = outcome.frozen()
        if outcome.warnings:
            diagnostics.extend(
                _with_call_sites(_diagnostic(warning, layer, shares_line), model, layer) for warning in outcome.warnings
            )
        if max(outcome.largest_weight, math.prod(outcome.output_shape)) > MAX_TENSOR_ELEMENTS:
            diagnostics.extend(_tensors_too_large(layer, outcome))
        reports.append(LayerReport(layer, input_shapes, outcome))
        shapes[layer.name] = outcome.output_shape
    reachable = reaching_outputs(model)
    diagnostics.extend(_unused(model, reachable))
    for use in model.block_uses:
        if use.backbone is not None and use.inputs[0] in shapes:
            diagnostics.extend(_backbone_refusals(use, shapes[use.inputs[0]], use.output in shapes))
    return ModelReport(model=model, layers=tuple(reports), complete=complete, reachable=reachable), once_each(
        diagnostics
    )


def reaching_outputs(model: Model) -> frozenset[str]:
    """The names of the layers and inputs whose value an output uses, walking back from the outputs (as
    Keras's map_graph does). Unknown values (of lines that failed) are included as met."""
    reads = {layer.name: layer.inputs for layer in model.layers}
    reached: set[str] = set()
    pending = list(model.outputs)
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        pending.extend(reads.get(name, ()))
    return frozenset(reached)


def _lines(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def _unused(model: Model, reachable: frozenset[str]) -> list[Diagnostic]:
    """W303 for each branch (connected run of layers or an input) whose value reaches no output, with the
    lines it spans. A model whose outputs are unknown has nothing to compare with."""
    if not model.outputs or reachable & model.unknown:
        # What a failed line read is unknown, so anything might reach the outputs through it.
        return []
    if len(reachable) == len(model.layers) + len(model.inputs):
        return []
    spans: dict[str, Span] = {i.name: i.span for i in model.inputs}
    spans.update((layer.name, layer.span) for layer in model.layers)
    unused = [name for name in spans if name not in reachable]
    if not unused:
        return []
    # Group the unused values into branches: those connected through what they read.
    group_of = {name: name for name in unused}

    def root(name: str) -> str:
        while group_of[name] != name:
            group_of[name] = group_of[group_of[name]]
            name = group_of[name]
        return name

    for layer in model.layers:
        if layer.name in group_of:
            for source in layer.inputs:
                if source in group_of:
                    group_of[root(source)] = root(layer.name)
    groups: dict[str, list[str]] = {}
    for name in unused:
        groups.setdefault(root(name), []).append(name)
    layer_by_name = {layer.name: layer for layer in model.layers}
    diagnostics = []
    for members in groups.values():
        if any(source in model.unknown for m in members if m in layer_by_name for source in layer_by_name[m].inputs):
            continue  # it reads a line that failed, which has its own error; what it was meant for is unknown
        first = min(spans[m].line for m in members)
        last = max(spans[m].end_line for m in members)
        shown = ", ".join(f"`{m}`" for m in members[:6]) + (f" and {len(members) - 6} more" if len(members) > 6 else "")
        hint = "remove these lines, or read their value where it is meant to go with `from`"
        # The usual cause: a later line reads what this branch read, instead of the branch's result.
        sources = {s for m in members if m in layer_by_name for s in layer_by_name[m].inputs if s not in group_of}
        last_member = max(members, key=lambda m: (spans[m].end_line, spans[m].end_column))
        for layer in model.layers:
            if layer.name in reachable and layer.span.line > last and sources & set(layer.inputs):
                source = next(s for s in layer.inputs if s in sources)
                shown_source = model.value_names.get(source, source)
                result = model.value_names.get(last_member, last_member)
                hint = (
                    f"line {layer.span.line} reads `{shown_source}`, as this branch does; did it mean to read "
                    f"this branch's result, `{result}` (line {spans[last_member].line})?"
                )
                break
        if len(members) == 1 and members[0] not in layer_by_name:
            message = f"the input on {_lines(first, last)} (`{members[0]}`) reaches no output, so nothing reads it"
        elif len(members) == 1:
            message = (
                f"the value made on {_lines(first, last)} reaches no output ({shown}), so it computes nothing "
                "and is left out of the totals"
            )
        else:
            message = (
                f"the values made on {_lines(first, last)} reach no output ({shown}), so they compute nothing "
                "and are left out of the totals"
            )
        diagnostics.append(
            Diagnostic(
                code="W303",
                message=message,
                span=spans[min(members, key=lambda m: (spans[m].line, spans[m].column))],
                hint=hint,
            )
        )
    return diagnostics


def _with_operands(
    diagnostic: Diagnostic, model: Model, layer: LayerBase, input_shapes: tuple[Shape, ...]
) -> Diagnostic:
    """A merge's error naming each operand (by the name the spec gave it), its shape and the line where it
    was made, with a note there."""
    made_at = {i.name: i.span for i in model.inputs}
    made_at.update((other.name, other.span) for other in model.layers if other.name in layer.inputs)
    names = model.value_names if layer.scope is None else model.block_uses[layer.scope].value_names
    named = [(names.get(name, name), name, shape) for name, shape in zip(layer.inputs, input_shapes, strict=True)]
    operands = ", ".join(f"`{shown}` {format_shape(shape)} (line {made_at[name].line})" for shown, name, shape in named)
    notes = tuple(Note(made_at[name], f"`{shown}` is {format_shape(shape)}, made here") for shown, name, shape in named)
    return replace(diagnostic, message=f"{diagnostic.message}; operands: {operands}", notes=diagnostic.notes + notes)


def _with_call_sites(diagnostic: Diagnostic, model: Model, layer: LayerBase) -> Diagnostic:
    """A diagnostic at a line inside a block, with a note at each use of a block that led there. Inside a
    backbone, whose layers all stand at the backbone's line, the message names the network's layer."""
    uses = model.enclosing_uses(layer.scope)
    backbone = next((index for index, use in enumerate(uses) if use.backbone is not None), None)
    if backbone is not None:
        found = uses[backbone].backbone
        assert found is not None
        diagnostic = replace(
            diagnostic,
            message=f"in backbone {found.network}, layer `{layer.name}`: {diagnostic.message}",
            # The network is not the user's to change; its input is.
            hint=f"give the backbone a larger input: keras.applications.{found.keras_application} takes "
            f"{found.default_size}x{found.default_size} by default, and no less than {found.min_size}x{found.min_size}"
            if diagnostic.code == "E301"
            else diagnostic.hint,
        )
        uses = uses[backbone + 1 :]
    notes = tuple(Note(use.span, f"in block `{use.block}`, used here as `{use.name}`") for use in uses)
    return replace(diagnostic, notes=diagnostic.notes + notes) if notes else diagnostic


def _backbone_refusals(use: BlockUse, input_shape: Shape, fits: bool) -> list[Diagnostic]:
    """What keras.applications' obtain_input_shape and class check would raise for this backbone's input.
    When the input is too small for the network's own arithmetic (`fits` is False), the layer that fails
    has said so; Keras's minimum, often larger, is reported only when the arithmetic allows the input."""
    backbone = use.backbone
    assert backbone is not None
    call = f"keras.applications.{backbone.keras_application}"
    found = []
    if len(input_shape) != 3:
        return []  # the network's first layer says so, as E302
    height, width, channels = input_shape
    if backbone.weights == "imagenet" and channels != 3:
        found.append(
            Diagnostic(
                code="E305",
                message=f"{call} with ImageNet weights needs 3 input channels, got {format_shape(input_shape)}",
                span=backbone.span_of("weights", use.span),
                hint="its first convolution was trained on RGB images; give it 3 channels, or weights=none",
            )
        )
    size = backbone.default_size
    if backbone.weights == "imagenet" and backbone.include_top:
        if (height, width) != (size, size):
            found.append(
                Diagnostic(
                    code="E305",
                    message=f"{call} with its ImageNet top needs a {size}x{size}x3 input, "
                    f"got {format_shape(input_shape)}",
                    span=backbone.span_of("include_top", use.span),
                    hint="the top's dense layers were trained at that size; write include_top=false and a head "
                    "of your own for other sizes",
                )
            )
        if backbone.classes != 1000:
            found.append(
                Diagnostic(
                    code="E305",
                    message=f"{call} with its ImageNet top has 1000 classes, got classes={backbone.classes}",
                    span=backbone.span_of("classes", use.span),
                    hint="write include_top=false and add a dense layer with your classes",
                )
            )
    least = backbone.min_size
    if fits and (height < least or width < least):
        found.append(
            Diagnostic(
                code="E305",
                message=f"{call} needs an input of at least {least}x{least}, got {format_shape(input_shape)}",
                span=use.span,
                hint=f"resize the images to {least}x{least} or more (its default is {size}x{size})",
            )
        )
    return found


def check_open_model(
    model: Model, cache: InferenceCache | None = None, evaluate_at: Shape | None = None
) -> tuple[ModelReport, list[Diagnostic]]:
    """A model whose input's height and width are open: the sizes it accepts (specc.input_sizes), then the
    model checked at `evaluate_at` (the first open input's shape) or at a size it accepts. When no size
    fits, E307 at the input, and the model checked at PREFERRED_SIZE shows why."""
    names = open_extents(model)
    first = next(i for i in model.inputs if i.open_axes)
    asked = {name: extent for name, extent in zip(first.open_axes, evaluate_at or (), strict=False) if name}
    fallback = {**dict.fromkeys(names, PREFERRED_SIZE), **asked}
    if model.unknown:
        # A line that failed leaves part of the network unknown, so which sizes fit is unknown too: the model is
        # checked at one size, and the failed line's own error says what to fix first.
        return check_model(with_sizes(model, fallback), cache)
    sizes = analyse(model, check_model)
    at = {**(sizes.evaluated_at or fallback), **asked}
    if sizes.evaluated_at is not None or sizes.unanalysed:
        sizes = replace(sizes, evaluated_at=at)
    report, diagnostics = check_model(with_sizes(model, at), cache)
    shown = "x".join(str(at[name]) for name in names)
    if sizes.unanalysed:
        diagnostics.insert(
            0,
            Diagnostic(
                code="W305",
                message=f"the sizes model `{model.name}` accepts were not worked out: {sizes.reason}; it is checked at "
                f"{shown} only",
                span=first.span,
                hint="write the input's size, or check the sizes you mean with `specc summary --input HxWxC`",
            ),
        )
    elif sizes.evaluated_at is None:
        diagnostics.insert(
            0,
            Diagnostic(
                code="E307",
                message=f"model `{model.name}`: {sizes.reason}",
                span=first.span,
                hint=f"the errors below are those at {shown}; merged branches must downsample alike, and "
                "a size that fits one branch must fit the other",
            ),
        )
    return replace(report, input_sizes=sizes), diagnostics


def check(
    spec: SpecFile, cache: InferenceCache | None = None, evaluate_at: Shape | None = None
) -> tuple[list[ModelReport], list[Diagnostic]]:
    """Check every model of a file; returns one report per model and all diagnostics.

    With a cache, layers inferred by an earlier call on the same input are not inferred again. A model
    whose input is open is evaluated at `evaluate_at` where given, else at a size it accepts.
    """
    reports, diagnostics = [], []
    for model in spec.models:
        if any(i.open_axes for i in model.inputs):
            report, found = check_open_model(model, cache, evaluate_at)
        else:
            report, found = check_model(model, cache)
        reports.append(report)
        diagnostics.extend(found)
    if cache is not None:
        cache.finish_run()
    return reports, diagnostics
