"""Emit stage, verified: what a framework reports for a built model, and where it disagrees with the checker.

Framework-neutral: each *_verify module builds the emitted module with its framework and reads its
figures into BuiltModelFigures (shapes channels-last, as the checker writes them); `compare_figures`
turns every disagreement into an E401 at the layer or model concerned. Imports no framework.
"""

from __future__ import annotations

import types
from dataclasses import dataclass

from specc.check import ModelReport
from specc.diagnostics import Diagnostic, Span
from specc.layers import Shape, format_shape

BUG_HINT = "this is a bug in specc; please report it with the spec"


def run_module(source: str, filename: str) -> types.ModuleType:
    """Execute generated source as a fresh module (not registered in sys.modules) and return it."""
    module = types.ModuleType("specc_generated")
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


@dataclass(frozen=True)
class BuiltLayerFigures:
    """What a framework reports for the part of its model that computes one specc layer."""

    name: str
    output_shape: Shape
    trainable_params: int
    non_trainable_params: int


@dataclass(frozen=True)
class BuiltModelFigures:
    layers: dict[str, BuiltLayerFigures]
    output_shape: Shape
    total_params: int
    trainable_params: int
    non_trainable_params: int


def _disagreements(framework: str, subject: str, span: Span, figures) -> list[Diagnostic]:
    """An E401 at `span` for each (what, specc's figure, the framework's figure) that differs."""
    return [
        Diagnostic(
            code="E401",
            message=f"{framework} builds {subject} with {what} {built}; specc checked {checked}",
            span=span,
            hint=BUG_HINT,
        )
        for what, checked, built in figures
        if checked != built
    ]


def compare_figures(report: ModelReport, built: BuiltModelFigures, framework: str) -> list[Diagnostic]:
    """One E401 per figure where the framework and the checker disagree, at the layer (or model) concerned."""
    found = []
    for layer_report in report.layers:
        layer, ours = layer_report.layer, layer_report.inference
        theirs = built.layers[layer.name]
        found += _disagreements(
            framework,
            f"layer `{layer.name}`",
            layer.span,
            (
                ("output shape", format_shape(ours.output_shape), format_shape(theirs.output_shape)),
                ("trainable parameters", f"{ours.trainable_params:,}", f"{theirs.trainable_params:,}"),
                ("non-trainable parameters", f"{ours.non_trainable_params:,}", f"{theirs.non_trainable_params:,}"),
            ),
        )
    found += _disagreements(
        framework,
        f"model `{report.model.name}`",
        report.model.name_span,
        (
            ("output shape", format_shape(report.output_shape or ()), format_shape(built.output_shape)),
            ("parameters in total", f"{report.total_params:,}", f"{built.total_params:,}"),
            ("trainable parameters in total", f"{report.trainable_params:,}", f"{built.trainable_params:,}"),
            (
                "non-trainable parameters in total",
                f"{report.non_trainable_params:,}",
                f"{built.non_trainable_params:,}",
            ),
        ),
    )
    return found


def could_not_build(report: ModelReport, framework: str, error: BaseException) -> Diagnostic:
    """The E401 for a model the framework refused to build or run, with the framework's own first line."""
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return Diagnostic(
        code="E401",
        message=f"{framework} could not build model `{report.model.name}`: {first_line}",
        span=report.model.name_span,
        hint=BUG_HINT,
    )
