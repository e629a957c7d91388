"""Emit stage, verified: run emitted Keras source, build each model with real Keras, compare with the checker.

This is the only module of specc that imports Keras (and so TensorFlow), and only when called.
Figures are read from the built Keras model itself: each specc layer's output shape and its
trainable and non-trainable weights, found by the layer's name (a backbone's in the application's model
nested in it), plus the model's totals. Backbones are built without ImageNet's weights, which change no figure. Only the
layers that reach an output are compared: the emitted code builds no others (Keras's Model would
drop them), and the checker's totals leave them out too.
"""

from __future__ import annotations

import math
import os
import types
from collections.abc import Sequence
from dataclasses import replace

from specc.backends.keras_backbones import find_layer, offline_arguments
from specc.backends.verify import BuiltLayerFigures, BuiltModelFigures, compare_figures, could_not_build
from specc.check import ModelReport
from specc.diagnostics import Diagnostic
from specc.layers import Shape


def load_keras(verbose: bool = False) -> types.ModuleType:
    """Keras 3 on TensorFlow (unless the user chose another backend); TensorFlow's start-up messages only if verbose.

    TensorFlow's C++ side (absl's "All log messages before absl::InitializeLog()", the CPU and
    oneDNN notices) writes straight to file descriptor 2 while it is imported, and reads its log
    level from the environment then, so the level is set before the import; it is set even over
    the user's own, since --verbose is the way to see them. Only logging changes: oneDNN stays on,
    so the numbers are those the user's own TensorFlow computes.
    """
    if not verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


def _size(weights) -> int:
    return sum(math.prod(weight.shape) for weight in weights)


def _shape(tensor) -> Shape:
    return tuple(tensor.shape[1:])


def keras_figures(keras_model, layer_names: Sequence[str]) -> BuiltModelFigures:
    """Shapes and weight counts of the named layers of a built Keras model, and the model's totals.

    Helper layers a specc layer is made of (the zero padding before a padded convolution) have no
    weights, so each specc layer's counts are those of the Keras layer with its name.
    """
    figures = {}
    for name in layer_names:
        layer = find_layer(keras_model, name)
        figures[name] = BuiltLayerFigures(
            name=name,
            output_shape=_shape(layer.output),
            trainable_params=_size(layer.trainable_weights),
            non_trainable_params=_size(layer.non_trainable_weights),
        )
    return BuiltModelFigures(
        layers=figures,
        # The first output's, as the checker's report.output_shape is.
        output_shape=_shape(keras_model.outputs[0]),
        total_params=keras_model.count_params(),
        trainable_params=_size(keras_model.trainable_weights),
        non_trainable_params=_size(keras_model.non_trainable_weights),
    )


def compare(report: ModelReport, keras: BuiltModelFigures) -> list[Diagnostic]:
    """One E401 per figure where Keras and the checker disagree, at the layer (or model) concerned; only
    the layers that reach an output are compared, the others being built by neither."""
    model = report.model
    if not model.outputs and model.inputs:
        # A model without layers outputs its input, as its emitted Model does (lowering names no output then).
        report = replace(report, model=model.model_copy(update={"outputs": (model.inputs[0].name,)}))
    return compare_figures(replace(report, layers=report.counted), keras, "Keras")


def build_and_compare(module: types.ModuleType, report: ModelReport) -> list[Diagnostic]:
    """Build one model of an emitted module with Keras and compare it with its report.

    A model Keras refuses to build is an E401 at the model, with Keras's own message.
    """
    try:
        build = module.MODELS[report.model.name]
        keras_model = build(**offline_arguments(build))  # backbones without ImageNet's weights: no download
        figures = keras_figures(keras_model, [layer_report.layer.name for layer_report in report.counted])
    except Exception as error:  # noqa: BLE001 - whatever Keras raises is the finding to report
        return [could_not_build(report, "Keras", error)]
    return compare(report, figures)
