"""Test-only: build one checked model with both backends, give the Keras build random weights, copy them into
the PyTorch build with specc's own transfer code, and measure how far apart the two outputs are.

Kernels keep Keras's random initial values (seeded); biases and every batch-norm weight and statistic, which
Keras starts at 0 or 1, are drawn at random too, so that a weight copied to the wrong place shows.
The largest difference of the session is kept in DIFFERENCES and printed at its end (conftest.py).
"""

from __future__ import annotations

import numpy as np

from specc.backends.keras import emit_keras
from specc.backends.torch import emit_torch
from specc.backends.transfer import keras_to_torch, output_difference
from specc.backends.verify import run_module
from specc.check import ModelReport

from keras_reference import keras_module

TOLERANCE = 1e-4
# (difference, what) for every model compared in this session.
DIFFERENCES: list[tuple[float, str]] = []


def build_both(report: ModelReport):
    """The Keras model and the PyTorch module that the two emitted modules build for one checked model."""
    keras = keras_module()
    keras.backend.clear_session(free_memory=False)
    name = report.model.name
    keras_model = run_module(emit_keras([report], "spec.cnn"), "<generated keras>").MODELS[name]()
    torch_module = run_module(emit_torch([report], "spec.cnn"), "<generated torch>").MODELS[name]()
    return keras_model, torch_module


def randomize_keras_weights(keras_model, rng: np.random.Generator) -> None:
    for variable in keras_model.weights:
        if variable.name in ("bias", "beta", "moving_mean"):
            variable.assign(rng.normal(0.0, 0.5, variable.shape).astype("float32"))
        elif variable.name in ("gamma", "moving_variance"):
            variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype("float32"))


def random_batch(report: ModelReport, rng: np.random.Generator, size: int = 3) -> np.ndarray:
    return rng.normal(0.0, 1.0, (size, *report.model.input_shape)).astype("float32")


def equivalence_difference(report: ModelReport, label: str, seed: int = 0, record: bool = True) -> float:
    """Both builds with the same (random) weights on the same random batch: the largest absolute difference.
    Kept in DIFFERENCES unless `record` is false (a test that breaks the copy on purpose)."""
    rng = np.random.default_rng(seed)
    keras_module().utils.set_random_seed(seed)  # Keras's initial kernels too, so that every run sees the same
    keras_model, torch_module = build_both(report)
    randomize_keras_weights(keras_model, rng)
    keras_to_torch(keras_model, torch_module, report)
    difference = output_difference(keras_model, torch_module, report, random_batch(report, rng))
    if record:
        DIFFERENCES.append((difference, f"{label}, model {report.model.name}"))
    return difference
