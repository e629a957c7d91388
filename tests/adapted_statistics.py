"""Test-only: Keras Normalization layers whose statistics are weights (none given in the spec: Keras's adapt form)
start at mean 0 and variance 1, which would hide a statistic copied to the wrong place or left out. Here they get
random statistics, as `adapt` or a trained model gives them, and the Keras/PyTorch comparison of torch_reference is
made with them."""

from __future__ import annotations

import numpy as np

from specc.backends.transfer import keras_to_torch, output_difference
from specc.check import ModelReport

from keras_reference import keras_module
from torch_reference import DIFFERENCES, build_both, random_batch, randomize_keras_weights


def randomize_normalization_statistics(keras_model, rng: np.random.Generator) -> None:
    """Random mean, variance and count for every Normalization layer that holds them as weights."""
    for layer in keras_model.layers:
        if type(layer).__name__ != "Normalization" or layer.input_mean is not None:
            continue
        layer.adapt_mean.assign(rng.normal(0.0, 0.5, layer.adapt_mean.shape).astype("float32"))
        layer.adapt_variance.assign(rng.uniform(0.5, 1.5, layer.adapt_variance.shape).astype("float32"))
        layer.count.assign(int(rng.integers(1, 1000)))
        # Keras computes with copies of the statistics, made again when told its weights changed.
        layer.finalize_state()


def equivalence_difference(report: ModelReport, label: str, seed: int = 0, batch_size: int = 3) -> float:
    """torch_reference.equivalence_difference, with random normalization statistics too: both builds with the
    same random weights on the same random batch, the largest absolute difference (kept in DIFFERENCES)."""
    rng = np.random.default_rng(seed)
    keras_module().utils.set_random_seed(seed)
    keras_model, torch_module = build_both(report)
    randomize_keras_weights(keras_model, rng)
    randomize_normalization_statistics(keras_model, rng)
    keras_to_torch(keras_model, torch_module, report)
    difference = output_difference(keras_model, torch_module, report, random_batch(report, rng, batch_size))
    DIFFERENCES.append((difference, f"{label}, model {report.model.name}"))
    return difference
