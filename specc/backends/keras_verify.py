"""Emit stage, verified: run emitted Keras source, build each model with real Keras, compare with the checker.

This is the only module of specc that imports Keras (and so TensorFlow), and only when called.
Figures are read from the built Keras model itself: each specc layer's output shape and its
trainable and non-trainable weights, found by the layer's name, plus the model's totals.
"""

from __future__ import annotations

import math
import os
import types
from collections.abc import Sequence
from dataclasses import dataclass

from specc.check import ModelReport
from specc.diagnostics import Diagnostic, Span
from specc.layers import Shape, format_shape


def load_keras() -> types.ModuleType:
    """Keras 3 on TensorFlow (unless the user chose another backend), with TensorFlow's start-up chatter off."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


def run_module(source: str, filename: str) -> types.ModuleType:
    """Execute generated source as a fresh module (not registered in sys.modules) and return it."""
    module = types.ModuleType("specc_generated")
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


@dataclass(frozen=True)
class LayerFigures:
    """What Keras reports for the Keras layer that carries one specc layer's name."""

    name: str
    output_shape: Shape
    trainable_params: int
    non_trainable_params: int


@dataclass(frozen=True)
class ModelFigures:
    layers: dict[str, LayerFigures]
    output_shape: Shape
    total_params: int
    trainable_params: int
    non_trainable_params: int


def _size(weights) -> int:
    return sum(math.prod(weight.shape) for weight in weights)


def _shape(tensor) -> Shape:
    return tuple(tensor.shape[1:])


def keras_figures(keras_model, layer_names: Sequence[str]) -> ModelFigures:
    """Shapes and weight counts of the named layers of a built Keras model, and the model's totals.

    Helper layers a specc layer is made of (the zero padding before a padded convolution) have no
    weights, so each specc layer's counts are those of the Keras layer with its name.
    """
    figures = {}
    for name in layer_names:
        layer = keras_model.get_layer(name)
        figures[name] = LayerFigures(
            name=name,
            output_shape=_shape(layer.output),
            trainable_params=_size(layer.trainable_weights),
            non_trainable_params=_size(layer.non_trainable_weights),
        )
    return ModelFigures(
        layers=figures,
        output_shape=_shape(keras_model.output),
        total_params=keras_model.count_params(),
        trainable_params=_size(keras_model.trainable_weights),
        non_trainable_params=_size(keras_model.non_trainable_weights),
    )


def _disagreements(subject: str, span: Span, figures) -> list[Diagnostic]:
    """An E401 at `span` for each (what, specc's figure, Keras's figure) that differs."""
    return [
        Diagnostic(
            code="E401",
            message=f"Keras builds {subject} with {what} {built}; specc checked {checked}",
            span=span,
            hint="this is a bug in specc; please report it with the spec",
        )
        for what, checked, built in figures
        if checked != built
    ]


def compare(report: ModelReport, keras: ModelFigures) -> list[Diagnostic]:
    """One E401 per figure where Keras and the checker disagree, at the layer (or model) concerned."""
    found = []
    for layer_report in report.layers:
        layer, ours = layer_report.layer, layer_report.inference
        theirs = keras.layers[layer.name]
        found += _disagreements(
            f"layer `{layer.name}`",
            layer.span,
            (
                ("output shape", format_shape(ours.output_shape), format_shape(theirs.output_shape)),
                ("trainable parameters", f"{ours.trainable_params:,}", f"{theirs.trainable_params:,}"),
                ("non-trainable parameters", f"{ours.non_trainable_params:,}", f"{theirs.non_trainable_params:,}"),
            ),
        )
    found += _disagreements(
        f"model `{report.model.name}`",
        report.model.name_span,
        (
            ("output shape", format_shape(report.output_shape or ()), format_shape(keras.output_shape)),
            ("parameters in total", f"{report.total_params:,}", f"{keras.total_params:,}"),
            ("trainable parameters in total", f"{report.trainable_params:,}", f"{keras.trainable_params:,}"),
            (
                "non-trainable parameters in total",
                f"{report.non_trainable_params:,}",
                f"{keras.non_trainable_params:,}",
            ),
        ),
    )
    return found


def build_and_compare(module: types.ModuleType, report: ModelReport) -> list[Diagnostic]:
    """Build one model of an emitted module with Keras and compare it with its report.

    A model Keras refuses to build is an E401 at the model, with Keras's own message.
    """
    try:
        keras_model = module.MODELS[report.model.name]()
        figures = keras_figures(keras_model, [layer_report.layer.name for layer_report in report.layers])
    except Exception as error:  # noqa: BLE001 - whatever Keras raises is the finding to report
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return [
            Diagnostic(
                code="E401",
                message=f"Keras could not build model `{report.model.name}`: {first_line}",
                span=report.model.name_span,
                hint="this is a bug in specc; please report it with the spec",
            )
        ]
    return compare(report, figures)
