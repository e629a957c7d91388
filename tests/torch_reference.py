"""Test-only: build one checked model with both backends, give the Keras build random weights, copy them into
the PyTorch build with specc's own transfer code, and measure how far apart the two outputs are.

Kernels keep Keras's random initial values (seeded); biases and every batch-norm weight and statistic, which
Keras starts at 0 or 1, are drawn at random too, so that a weight copied to the wrong place shows.
The largest difference of the session is kept in DIFFERENCES and printed at its end (conftest.py).
"""

from __future__ import annotations

import numpy as np

from specc.backends.keras import KERAS_EMITTERS, MIN_POOLING_SOURCE, emit_keras, keras_calls
from specc.backends.keras_backbones import offline_arguments
from specc.backends.torch import emit_torch, is_straight_stack
from specc.backends.transfer import keras_to_torch, output_difference
from specc.backends.verify import run_module
from specc.check import ModelReport
from specc.layers import Add, Average, Concat, Maximum, Minimum, Multiply, Subtract

from keras_reference import keras_module

TOLERANCE = 1e-4
# (difference, what) for every model compared in this session.
DIFFERENCES: list[tuple[float, str]] = []


# Keras's merge layers, by specc's merge kinds.
KERAS_MERGES = {
    Add: "Add",
    Subtract: "Subtract",
    Multiply: "Multiply",
    Average: "Average",
    Maximum: "Maximum",
    Minimum: "Minimum",
}


def keras_graph(report: ModelReport):
    """The Keras functional model of a checked graph, built here from the IR with Keras's own layers: each
    single-input layer as the Keras backend's emitter writes it (keras_calls), each merge as Keras's merge
    layer, and only the layers that reach an output (what keras.Model keeps anyway).

    The Keras backend on this branch emits straight stacks only; once it emits graphs (it has merge
    emitters), build_both uses its module instead and this is the fallback no more."""
    keras = keras_module()
    namespace = {"keras": keras, "layers": keras.layers}
    exec(MIN_POOLING_SOURCE, namespace)
    model = report.model
    values = {i.name: keras.Input(shape=i.shape, name=i.name) for i in model.inputs}
    for layer_report in report.layers:
        layer = layer_report.layer
        if layer.name not in report.reachable:
            continue
        operands = [values[name] for name in layer.inputs]
        if isinstance(layer, Concat):
            values[layer.name] = keras.layers.Concatenate(axis=layer.axis, name=layer.name)(operands)
        elif type(layer) in KERAS_MERGES:
            values[layer.name] = getattr(keras.layers, KERAS_MERGES[type(layer)])(name=layer.name)(operands)
        else:
            tensor = operands[0]
            for keras_call in keras_calls(layer):
                tensor = eval(f"{keras_call.constructor}({', '.join(keras_call.arguments)})", namespace)(tensor)
            values[layer.name] = tensor
    inputs = [values[i.name] for i in model.inputs]
    outputs = [values[name] for name in model.outputs]
    return keras.Model(
        inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0], name=model.name
    )


def build_both(report: ModelReport):
    """The Keras model and the PyTorch module that the two emitted modules build for one checked model (a graph
    the Keras backend cannot emit yet is built by keras_graph)."""
    keras = keras_module()
    keras.backend.clear_session(free_memory=False)
    name = report.model.name
    if is_straight_stack(report) or Add in KERAS_EMITTERS:
        build = run_module(emit_keras([report], "spec.cnn"), "<generated keras>").MODELS[name]
        keras_model = build(**offline_arguments(build))  # a backbone without ImageNet's weights: no download
    else:
        keras_model = keras_graph(report)
    torch_module = run_module(emit_torch([report], "spec.cnn"), "<generated torch>").MODELS[name]()
    return keras_model, torch_module


def randomize_keras_weights(keras_model, rng: np.random.Generator) -> None:
    for variable in keras_model.weights:
        if variable.name in ("bias", "beta", "moving_mean"):
            variable.assign(rng.normal(0.0, 0.5, variable.shape).astype("float32"))
        elif variable.name in ("gamma", "moving_variance"):
            variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype("float32"))


def random_batch(report: ModelReport, rng: np.random.Generator, size: int = 3) -> np.ndarray | list[np.ndarray]:
    """A batch for the model's input, or a list of batches, one per input, for a model of several."""
    batches = [rng.normal(0.0, 1.0, (size, *i.shape)).astype("float32") for i in report.model.inputs]
    return batches[0] if len(batches) == 1 else batches


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
