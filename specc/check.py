"""Check stage: IR -> per-layer shapes and parameter counts, with shape errors and lints as diagnostics.

The checker walks each model from its input, asking every layer's own `infer` (specc.layers)
for its output; it never computes a shape itself. It imports no framework.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

from specc.diagnostics import Diagnostic, Fix, Note, Span
from specc.ir import Model, SpecFile
from specc.layers import (
    MAX_TENSOR_ELEMENTS,
    MAX_TENSOR_ELEMENTS_TEXT,
    Inference,
    Layer,
    Problem,
    Shape,
    format_shape,
)


class LayerReport(NamedTuple):
    """One layer as the checker saw it: what came in and what it made of it.

    A named tuple, like Inference, because the editor builds one per layer on every keystroke."""

    layer: Layer
    input_shape: Shape
    inference: Inference


@dataclass(frozen=True)
class ModelReport:
    """A model's layers up to the first one that could not take its input."""

    model: Model
    layers: tuple[LayerReport, ...]
    # False when a layer could not be inferred, so the layers after it are unknown.
    complete: bool

    @property
    def output_shape(self) -> Shape | None:
        if not self.complete:
            return None
        return self.layers[-1].inference.output_shape if self.layers else self.model.input_shape

    @property
    def trainable_params(self) -> int:
        return sum(report.inference.trainable_params for report in self.layers)

    @property
    def non_trainable_params(self) -> int:
        return sum(report.inference.non_trainable_params for report in self.layers)

    @property
    def total_params(self) -> int:
        return self.trainable_params + self.non_trainable_params


def _diagnostic(problem: Problem, layer: Layer, shares_line: bool = False) -> Diagnostic:
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


def _flatten_before(layer: Layer, shares_line: bool) -> Fix:
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


def _tensors_too_large(layer: Layer, inference: Inference) -> list[Diagnostic]:
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
        self._entries: dict[int, tuple[Layer, dict[Shape, Inference | Problem]]] = {}
        self._used: dict[int, tuple[Layer, dict[Shape, Inference | Problem]]] = {}

    def infer(self, layer: Layer, shape: Shape) -> Inference | Problem:
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

    def carry(self, old: Layer, new: Layer) -> None:
        """Let `new`, a copy of `old` with its spans moved, reuse `old`'s inferences (which hold no spans)."""
        entry = self._entries.get(id(old))
        if entry is not None and entry[0] is old:
            self._entries[id(new)] = (new, entry[1])

    def finish_run(self) -> None:
        self._entries, self._used = self._used, {}


def check_model(model: Model, cache: InferenceCache | None = None) -> tuple[ModelReport, list[Diagnostic]]:
    """Infer every layer of a model in order; stops at the first layer that cannot take its input."""
    diagnostics: list[Diagnostic] = []
    if model.input_shape is None:
        return ModelReport(model=model, layers=(), complete=False), diagnostics
    reports: list[LayerReport] = []
    shape = model.input_shape
    if model.input_span is not None:
        too_large = _too_large(f"the input, {format_shape(shape)} for one example,", math.prod(shape), model.input_span)
        diagnostics.extend([too_large] if too_large else [])
    chained = model.layers if model.chain_ends_at is None else model.layers[: model.chain_ends_at]
    # The line where the statement before the current one ends, so a fix knows if they share a line.
    previous_end = model.input_span.end_line if model.input_span is not None else 0
    for layer in chained:
        outcome = layer.infer(shape) if cache is None else cache.infer(layer, shape)
        shares_line = previous_end == layer.span.line
        if isinstance(outcome, Problem):
            diagnostic = _diagnostic(outcome, layer, shares_line)
            if outcome.code == "E302" and len(shape) == 2 == len(model.input_shape) and model.input_span:
                diagnostic = _without_channels(diagnostic, model.input_shape, model.input_span)
            diagnostics.append(diagnostic)
            return ModelReport(model=model, layers=tuple(reports), complete=False), diagnostics
        if outcome.warnings:
            diagnostics.extend(_diagnostic(warning, layer, shares_line) for warning in outcome.warnings)
        if max(outcome.largest_weight, math.prod(outcome.output_shape)) > MAX_TENSOR_ELEMENTS:
            diagnostics.extend(_tensors_too_large(layer, outcome))
        reports.append(LayerReport(layer, shape, outcome))
        shape = outcome.output_shape
        previous_end = layer.span.end_line
    return ModelReport(model=model, layers=tuple(reports), complete=model.chain_ends_at is None), diagnostics


def check(spec: SpecFile, cache: InferenceCache | None = None) -> tuple[list[ModelReport], list[Diagnostic]]:
    """Check every model of a file; returns one report per model and all diagnostics.

    With a cache, layers inferred by an earlier call on the same input are not inferred again.
    """
    reports, diagnostics = [], []
    for model in spec.models:
        report, found = check_model(model, cache)
        reports.append(report)
        diagnostics.extend(found)
    if cache is not None:
        cache.finish_run()
    return reports, diagnostics
