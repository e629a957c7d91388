"""Test-only oracle: build each specc model with real Keras and read back shapes and parameter counts.

Nothing here copies a number from specc: every specc layer becomes the Keras layers it stands
for (explicit conv padding is ZeroPadding2D then a 'valid' Conv2D; min pooling is
-maxpool(-x)), the functional model is built on a symbolic input, and the figures are what
Keras itself reports. `assert_matches_keras` and `assert_keras_refuses` compare the two.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from specc.diagnostics import Severity
from specc.ir import Model
from specc.layers import (
    ActivationLayer,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    GlobalMaxPool2D,
    MaxPool2D,
    MinPool2D,
    ZeroPad2D,
    format_shape,
)
from specc.pipeline import CheckedSource, check_text


def keras_module():
    """Keras on the TensorFlow backend, imported on first use so that importing this file is cheap."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras

    return keras


@dataclass(frozen=True)
class KerasLayerFigures:
    """What Keras reports for the Keras layers that make up one specc layer."""

    name: str
    output_shape: tuple[int, ...]
    trainable_params: int
    non_trainable_params: int


@dataclass(frozen=True)
class KerasModelFigures:
    layers: tuple[KerasLayerFigures, ...]
    output_shape: tuple[int, ...]
    total_params: int
    trainable_params: int
    non_trainable_params: int


class KerasRefused(ValueError):
    """Keras raised ValueError while constructing or calling the Keras layers of one specc layer."""

    def __init__(self, model: str, layer: str, index: int, error: ValueError):
        super().__init__(f"Keras refused layer `{layer}` (#{index + 1}) of model `{model}`: {error}")
        self.layer_name = layer
        self.index = index
        self.error = error


def keras_layers_for(layer) -> list:
    """The Keras layers, in order, that one specc IR layer corresponds to."""
    keras = keras_module()
    k = keras.layers
    if isinstance(layer, Conv2D):
        conv = dict(filters=layer.filters, kernel_size=layer.kernel_size, strides=layer.strides,
                    dilation_rate=layer.dilation_rate, activation=layer.activation, use_bias=layer.use_bias)
        if isinstance(layer.padding, str):
            return [k.Conv2D(padding=layer.padding, **conv)]
        return [k.ZeroPadding2D(padding=layer.padding), k.Conv2D(padding="valid", **conv)]
    if isinstance(layer, MinPool2D):
        return [k.Lambda(keras.ops.negative),
                k.MaxPooling2D(pool_size=layer.pool_size, strides=layer.strides, padding=layer.padding),
                k.Lambda(keras.ops.negative)]
    if isinstance(layer, MaxPool2D):
        return [k.MaxPooling2D(pool_size=layer.pool_size, strides=layer.strides, padding=layer.padding)]
    if isinstance(layer, AvgPool2D):
        return [k.AveragePooling2D(pool_size=layer.pool_size, strides=layer.strides, padding=layer.padding)]
    if isinstance(layer, GlobalAvgPool2D):
        return [k.GlobalAveragePooling2D()]
    if isinstance(layer, GlobalMaxPool2D):
        return [k.GlobalMaxPooling2D()]
    if isinstance(layer, ZeroPad2D):
        return [k.ZeroPadding2D(padding=layer.padding)]
    if isinstance(layer, BatchNorm):
        return [k.BatchNormalization(epsilon=layer.epsilon, momentum=layer.momentum,
                                     center=layer.center, scale=layer.scale)]
    if isinstance(layer, Dropout):
        return [k.Dropout(rate=layer.rate)]
    if isinstance(layer, Flatten):
        return [k.Flatten()]
    if isinstance(layer, Dense):
        return [k.Dense(units=layer.units, activation=layer.activation, use_bias=layer.use_bias)]
    if isinstance(layer, ActivationLayer):
        return [k.Activation(layer.activation)]
    raise TypeError(f"the Keras oracle does not know layer kind {type(layer).__name__}; add it to keras_layers_for")


def _size(weights) -> int:
    return sum(math.prod(w.shape) for w in weights)


def keras_figures(model: Model) -> KerasModelFigures:
    """Build `model` as a Keras functional model; raises KerasRefused at the first layer Keras rejects."""
    keras = keras_module()
    # free_memory=False skips a full gc.collect, which costs far more than building a small model.
    keras.backend.clear_session(free_memory=False)
    assert model.input_shape is not None, f"model `{model.name}` has no input shape"
    inputs = keras.Input(shape=model.input_shape)
    x = inputs
    figures = []
    for index, layer in enumerate(model.layers):
        try:
            parts = keras_layers_for(layer)
            for part in parts:
                x = part(x)
        except ValueError as error:
            raise KerasRefused(model.name, layer.name, index, error) from error
        figures.append(KerasLayerFigures(
            name=layer.name,
            output_shape=tuple(x.shape[1:]),
            trainable_params=sum(_size(p.trainable_weights) for p in parts),
            non_trainable_params=sum(_size(p.non_trainable_weights) for p in parts),
        ))
    built = keras.Model(inputs, x)
    return KerasModelFigures(
        layers=tuple(figures),
        output_shape=tuple(built.output.shape[1:]),
        total_params=built.count_params(),
        trainable_params=_size(built.trainable_weights),
        non_trainable_params=_size(built.non_trainable_weights),
    )


def _errors(checked: CheckedSource) -> list[str]:
    return [f"{d.code} line {d.span.line}: {d.message}" for d in checked.diagnostics if d.severity is Severity.ERROR]


def _compare(report, keras: KerasModelFigures) -> None:
    model = report.model.name
    assert len(report.layers) == len(keras.layers), (
        f"model `{model}`: specc reports {len(report.layers)} layers, Keras built {len(keras.layers)}")
    for ours, theirs in zip(report.layers, keras.layers):
        name = f"model `{model}`, layer `{ours.layer.name}` (line {ours.layer.span.line})"
        assert ours.layer.name == theirs.name
        got = ours.inference
        assert got.output_shape == theirs.output_shape, (
            f"{name}: specc output shape {format_shape(got.output_shape)}, Keras {format_shape(theirs.output_shape)}")
        assert got.trainable_params == theirs.trainable_params, (
            f"{name}: specc {got.trainable_params} trainable parameters, Keras {theirs.trainable_params}")
        assert got.non_trainable_params == theirs.non_trainable_params, (
            f"{name}: specc {got.non_trainable_params} non-trainable parameters, Keras {theirs.non_trainable_params}")
    assert report.output_shape == keras.output_shape, (
        f"model `{model}`: specc output shape {report.output_shape}, Keras {keras.output_shape}")
    assert report.total_params == keras.total_params, (
        f"model `{model}`: specc total {report.total_params} parameters, Keras count_params() {keras.total_params}")
    assert report.trainable_params == keras.trainable_params, (
        f"model `{model}`: specc {report.trainable_params} trainable in total, Keras {keras.trainable_params}")
    assert report.non_trainable_params == keras.non_trainable_params, (
        f"model `{model}`: specc {report.non_trainable_params} non-trainable in total, "
        f"Keras {keras.non_trainable_params}")


def assert_matches_keras(spec_text: str) -> CheckedSource:
    """The spec checks without errors, and every model's layers agree with Keras in shape and parameters."""
    checked = check_text(spec_text)
    assert checked.ok, "specc reported errors:\n" + "\n".join(_errors(checked)) + f"\nspec:\n{spec_text}"
    assert checked.reports, f"no model in spec:\n{spec_text}"
    for model, report in zip(checked.spec.models, checked.reports):
        assert report.complete, f"model `{model.name}` was not fully checked"
        try:
            figures = keras_figures(model)
        except KerasRefused as refusal:
            raise AssertionError(f"specc accepts the spec but {refusal}\nspec:\n{spec_text}") from refusal
        _compare(report, figures)
    return checked


def assert_keras_refuses(spec_text: str, code: str = "E301") -> CheckedSource:
    """specc rejects the spec with `code` (and no other error), and Keras raises ValueError at the same layer."""
    checked = check_text(spec_text)
    errors = [d for d in checked.diagnostics if d.severity is Severity.ERROR]
    assert errors and {d.code for d in errors} == {code}, (
        f"expected specc to report only {code}, got: {_errors(checked) or 'no errors'}\nspec:\n{spec_text}")
    for model, report in zip(checked.spec.models, checked.reports):
        if report.complete:
            _compare(report, keras_figures(model))
            continue
        blamed = model.layers[len(report.layers)]
        try:
            keras_figures(model)
        except KerasRefused as refusal:
            assert refusal.layer_name == blamed.name, (
                f"specc blames layer `{blamed.name}`, Keras refused `{refusal.layer_name}` instead: {refusal}")
        else:
            raise AssertionError(f"specc rejects layer `{blamed.name}` with {code} but Keras built model "
                                 f"`{model.name}` without complaint\nspec:\n{spec_text}")
    return checked


def keras_layer_refuses(class_name: str, **arguments) -> ValueError | None:
    """The ValueError Keras raises when constructing `keras.layers.<class_name>(**arguments)`, or None."""
    keras = keras_module()
    try:
        getattr(keras.layers, class_name)(**arguments)
    except ValueError as error:
        return error
    return None
