"""The zoo: each spec in specc/zoo checks to exactly what keras.applications builds, layer by layer, by name.

The oracle is `keras.applications.<Network>(weights=None)` built in a fresh Keras session (so that its unnamed
layers get their first names, `conv2d`, `conv2d_1`...): the same set of layer names, and for each its output shape
and trainable and non-trainable weights, and the model's totals.
"""

from __future__ import annotations

import pytest

from specc.backends.keras_verify import keras_figures
from specc.diagnostics import Severity
from specc.pipeline import check_text
from specc.zoo import ZOO, ZooNetwork

from keras_reference import assert_figures_equal, keras_application

# A spec that reads like the paper's table of stages stays short; a longer one means the language lacks a word.
MOST_LINES = 100


def checked_zoo_report(network: ZooNetwork):
    checked = check_text(network.text())
    errors = [f"line {d.span.line}: {d.code} {d.message}" for d in checked.diagnostics if d.severity is Severity.ERROR]
    assert not errors, f"{network.name}.cnn has errors: {errors}"
    (report,) = checked.reports
    return report


@pytest.mark.parametrize("network", ZOO, ids=lambda network: network.name)
def test_zoo_spec_is_short_and_checks_clean(network: ZooNetwork):
    lines = [line for line in network.text().splitlines() if line.strip() and not line.strip().startswith("#")]
    assert len(lines) <= MOST_LINES, f"{network.name}.cnn has {len(lines)} lines of spec"
    checked = check_text(network.text())
    assert not checked.diagnostics, [f"{d.code} line {d.span.line}: {d.message}" for d in checked.diagnostics]


@pytest.mark.keras
@pytest.mark.parametrize("network", ZOO, ids=lambda network: network.name)
def test_zoo_spec_equals_keras_applications_layer_by_layer(network: ZooNetwork):
    report = checked_zoo_report(network)
    built = keras_application(network)
    keras_names = {layer.name for layer in built.layers if type(layer).__name__ != "InputLayer"}
    specc_names = {layer.name for layer in report.model.layers}
    assert specc_names == keras_names, (
        f"only in specc: {sorted(specc_names - keras_names)}; only in Keras: {sorted(keras_names - specc_names)}"
    )
    assert_figures_equal(report, keras_figures(built, [layer.name for layer in report.model.layers]))
