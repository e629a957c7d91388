"""The zoo: each spec in specc/zoo checks to exactly what keras.applications builds, layer by layer, by name.

The oracle is `keras.applications.<Network>(weights=None)` built in a fresh Keras session (so that its unnamed
layers get their first names, `conv2d`, `conv2d_1`...): the same set of layer names, and for each the layers it
reads, in order, its output shape and trainable and non-trainable weights, and the model's totals. What each
layer reads is compared because shapes and weights alone would pass a spec wired differently: a shortcut that
starts from the ReLU instead of the sum before it has the same shape.
"""

from __future__ import annotations

import pytest

from specc.backbones import keras_layer_order
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


def keras_reads(built) -> dict[str, tuple[str, ...]]:
    """Each layer's name and the names of the layers its (only) call reads, in order; the input layer as `input`."""
    inputs = {layer.name for layer in built.layers if type(layer).__name__ == "InputLayer"}
    reads = {}
    for layer in built.layers:
        if layer.name in inputs:
            continue
        (node,) = layer._inbound_nodes
        names = (tensor._keras_history.operation.name for tensor in node.input_tensors)
        reads[layer.name] = tuple("input" if name in inputs else name for name in names)
    return reads


def specc_reads(report) -> dict[str, tuple[str, ...]]:
    """The same for the spec's layers: the names each reads, in order, a model input as `input`."""
    model_inputs = {model_input.name for model_input in report.model.inputs}
    return {
        layer.name: tuple("input" if read in model_inputs else read for read in layer.inputs)
        for layer in report.model.layers
    }


@pytest.mark.keras
@pytest.mark.parametrize("network", ZOO, ids=lambda network: network.name)
def test_zoo_spec_equals_keras_applications_layer_by_layer(network: ZooNetwork):
    report = checked_zoo_report(network)
    built = keras_application(network)
    theirs = keras_reads(built)
    ours = specc_reads(report)
    assert set(ours) == set(theirs), (
        f"only in specc: {sorted(set(ours) - set(theirs))}; only in Keras: {sorted(set(theirs) - set(ours))}"
    )
    miswired = {layer: (ours[layer], theirs[layer]) for layer in ours if ours[layer] != theirs[layer]}
    assert not miswired, f"layer: (specc reads, Keras reads): {miswired}"
    assert_figures_equal(report, keras_figures(built, [layer.name for layer in report.model.layers]))
    # Backbones' trainable_from counts in model.layers' order, which for a branching network is not the spec's.
    keras_order = [layer.name for layer in built.layers if type(layer).__name__ != "InputLayer"]
    assert keras_layer_order(report.model.layers, report.model.outputs) == keras_order
