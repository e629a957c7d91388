"""The zoo through both backends: each spec in specc/zoo builds with Keras and with PyTorch as the checker says (the
comparisons `build --verify` makes, on the built models), and the PyTorch build computes what the Keras build
computes, within 1e-4, with the Keras weights (random, batch-norm and normalization statistics included) copied
across by specc's weight transfer.

Each network is built once per framework for the whole module (a module-scoped fixture), at its own input size,
and run on one small batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from specc.backends import keras_verify, torch_verify
from specc.backends.keras import emit_keras
from specc.backends.keras_verify import keras_figures
from specc.backends.torch import emit_torch
from specc.backends.torch_verify import torch_figures
from specc.backends.transfer import keras_to_torch, output_difference
from specc.backends.verify import run_module
from specc.check import ModelReport
from specc.diagnostics import Severity
from specc.pipeline import check_text
from specc.zoo import ZOO, ZooNetwork

from adapted_statistics import randomize_normalization_statistics
from keras_reference import keras_module
from torch_reference import DIFFERENCES, TOLERANCE, random_batch, randomize_keras_weights

pytestmark = pytest.mark.keras

BATCH_SIZE = 2


@dataclass(frozen=True)
class Built:
    """One zoo network: its checked report and each backend's emitted module and model (PyTorch's class too)."""

    report: ModelReport
    keras_model: object
    torch_class: type
    torch_model: object


@pytest.fixture(scope="module", params=ZOO, ids=lambda network: network.name)
def built(request) -> Built:
    network: ZooNetwork = request.param
    if not network.path.exists():
        pytest.skip(f"the zoo has no {network.path.name} yet")
    checked = check_text(network.text())
    errors = [f"line {d.span.line}: {d.code} {d.message}" for d in checked.diagnostics if d.severity is Severity.ERROR]
    assert not errors, f"{network.name}.cnn has errors: {errors}"
    (report,) = checked.reports
    keras = keras_module()
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    keras_model = run_module(emit_keras([report], f"{network.name}.cnn"), "<generated keras>").MODELS[
        report.model.name
    ]()
    torch_class = run_module(emit_torch([report], f"{network.name}.cnn"), "<generated torch>").MODELS[report.model.name]
    return Built(report, keras_model, torch_class, torch_class())


def test_the_keras_build_is_what_the_checker_says(built: Built):
    names = [layer_report.layer.name for layer_report in built.report.counted]
    assert keras_verify.compare(built.report, keras_figures(built.keras_model, names)) == []


def test_the_pytorch_build_is_what_the_checker_says(built: Built):
    assert torch_verify.compare(built.report, torch_figures(built.torch_class, built.report)) == []


def test_the_pytorch_build_computes_what_the_keras_build_computes_with_the_weights_copied(built: Built):
    rng = np.random.default_rng(0)
    randomize_keras_weights(built.keras_model, rng)
    randomize_normalization_statistics(built.keras_model, rng)
    keras_to_torch(built.keras_model, built.torch_model, built.report)
    batch = random_batch(built.report, rng, BATCH_SIZE)
    difference = output_difference(built.keras_model, built.torch_model, built.report, batch)
    DIFFERENCES.append((difference, f"zoo, model {built.report.model.name}"))
    assert difference <= TOLERANCE, f"Keras and PyTorch outputs differ by {difference}"
