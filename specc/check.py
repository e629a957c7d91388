"""Check stage: IR -> per-layer shapes and parameter counts, with shape errors and lints as diagnostics.

The checker walks each model from its input, asking every layer's own `infer` (specc.layers)
for its output; it never computes a shape itself. It imports no framework.
"""

from __future__ import annotations

from dataclasses import dataclass

from specc.diagnostics import Diagnostic
from specc.ir import Model, SpecFile
from specc.layers import Inference, Layer, Problem, Shape


@dataclass(frozen=True)
class LayerReport:
    """One layer as the checker saw it: what came in and what it made of it."""

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


def _diagnostic(problem: Problem, layer: Layer) -> Diagnostic:
    return Diagnostic(
        code=problem.code, message=problem.message, span=layer.span_of(problem.argument), hint=problem.hint
    )


def check_model(model: Model) -> tuple[ModelReport, list[Diagnostic]]:
    """Infer every layer of a model in order; stops at the first layer that cannot take its input."""
    diagnostics: list[Diagnostic] = []
    if model.input_shape is None:
        return ModelReport(model=model, layers=(), complete=False), diagnostics
    reports: list[LayerReport] = []
    shape = model.input_shape
    chained = model.layers if model.chain_ends_at is None else model.layers[: model.chain_ends_at]
    for layer in chained:
        outcome = layer.infer(shape)
        if isinstance(outcome, Problem):
            diagnostics.append(_diagnostic(outcome, layer))
            return ModelReport(model=model, layers=tuple(reports), complete=False), diagnostics
        diagnostics.extend(_diagnostic(warning, layer) for warning in outcome.warnings)
        reports.append(LayerReport(layer=layer, input_shape=shape, inference=outcome))
        shape = outcome.output_shape
    return ModelReport(model=model, layers=tuple(reports), complete=model.chain_ends_at is None), diagnostics


def check(spec: SpecFile) -> tuple[list[ModelReport], list[Diagnostic]]:
    """Check every model of a file; returns one report per model and all diagnostics."""
    reports, diagnostics = [], []
    for model in spec.models:
        report, found = check_model(model)
        reports.append(report)
        diagnostics.extend(found)
    return reports, diagnostics
