"""The zoo's wiring: in Xception, Inception-v3, Inception-ResNet-v2 and EfficientNet-B0 each layer reads the layers
it reads in keras.applications' model, in the same order.

tests/test_zoo.py compares each layer's shape and weights by name; a spec can match those and still be wired
differently (a shortcut that starts from the ReLU instead of the sum before it has the same shape), so this
compares what each layer reads, by name, with Keras's inbound layers.
"""

from __future__ import annotations

import pytest
from test_zoo import checked_zoo_report, keras_application

from specc.zoo import ZOO_BY_NAME

WIRED = ("xception", "inception_v3", "inception_resnet_v2", "efficientnet_b0")


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


@pytest.mark.keras
@pytest.mark.parametrize("name", WIRED)
def test_zoo_spec_layers_read_what_keras_layers_read(name: str):
    network = ZOO_BY_NAME[name]
    report = checked_zoo_report(network)
    model_inputs = {model_input.name for model_input in report.model.inputs}
    ours = {
        layer.name: tuple("input" if read in model_inputs else read for read in layer.inputs)
        for layer in report.model.layers
    }
    theirs = keras_reads(keras_application(network))
    differences = {layer: (ours[layer], theirs[layer]) for layer in ours if ours[layer] != theirs.get(layer)}
    assert not differences, f"{name}: layer: (specc reads, Keras reads): {differences}"
