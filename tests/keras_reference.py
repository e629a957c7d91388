"""Test-only oracle: build each specc model from the Keras backend's emitted module and compare with the checker.

The figures are what Keras itself reports for the model the emitted code builds (each layer's
output shape and weights, found by name, and the model's totals); the assertions here are the
tests' own, independent of `build --verify`'s comparison. Only the layers that reach an output are
built and compared. `assert_keras_refuses` emits even a spec that specc rejects and finds the layer
Keras raised at from the emitted line (evaluating its name where it ran, inside a block's function).
"""

from __future__ import annotations

import ast
import os

from specc.backends.keras import emit_keras
from specc.backends.keras_backbones import offline_arguments
from specc.backends.keras_verify import keras_figures, load_keras
from specc.backends.verify import BuiltModelFigures, run_module
from specc.check import ModelReport
from specc.diagnostics import Severity
from specc.layers import format_shape
from specc.pipeline import CheckedSource, check_text

GENERATED = "<generated keras>"


def keras_module():
    """Keras on the TensorFlow backend, imported on first use so that importing this file is cheap."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ["KERAS_BACKEND"] = "tensorflow"
    return load_keras()


class KerasRefused(ValueError):
    """Keras raised ValueError while building the emitted model; `layer_name` is the layer it was at."""

    def __init__(self, model: str, layer: str | None, error: ValueError):
        super().__init__(f"Keras refused layer `{layer}` of model `{model}`: {error}")
        self.layer_name = layer
        self.error = error


def _layer_named_at(source: str, error: BaseException) -> str | None:
    """The Keras name of the layer whose call raised `error`: the `name=` of the emitted statement at the last
    line of generated code in the traceback, evaluated where it ran (inside a block's function it is made
    from the function's `name`, `name + '_add'`)."""
    frames = [tb for tb in _frames(error.__traceback__) if tb.tb_frame.f_code.co_filename == GENERATED]
    if not frames:
        return None
    frame, line = frames[-1].tb_frame, frames[-1].tb_lineno
    for statement in ast.walk(ast.parse(source)):
        if isinstance(statement, ast.Assign) and statement.lineno <= line <= (statement.end_lineno or line):
            for node in ast.walk(statement):
                if isinstance(node, ast.keyword) and node.arg == "name":
                    expression = compile(ast.Expression(node.value), GENERATED, "eval")
                    return eval(expression, frame.f_globals, frame.f_locals)
    return None


def _frames(traceback_):
    while traceback_ is not None:
        yield traceback_
        traceback_ = traceback_.tb_next


def built_layer_names(report: ModelReport) -> list[str]:
    """The layers the emitted code builds: those that reach an output (Keras's Model would drop the others)."""
    return [layer.name for layer in report.model.layers if layer.name in report.reachable]


def keras_model_figures(report: ModelReport) -> BuiltModelFigures:
    """Emit `report`'s model, build it with Keras, and read back the figures of every layer it builds."""
    keras = keras_module()
    # free_memory=False skips a full gc.collect, which costs far more than building a small model.
    keras.backend.clear_session(free_memory=False)
    source = emit_keras([report], "spec.cnn")
    module = run_module(source, GENERATED)
    name = report.model.name
    build = module.MODELS[name]
    try:
        built = build(**offline_arguments(build))  # a backbone without ImageNet's weights: nothing to download
    except ValueError as error:
        raise KerasRefused(name, _layer_named_at(source, error), error) from error
    return keras_figures(built, built_layer_names(report))


def _errors(checked: CheckedSource) -> list[str]:
    return [f"{d.code} line {d.span.line}: {d.message}" for d in checked.diagnostics if d.severity is Severity.ERROR]


def assert_figures_equal(report: ModelReport, built: BuiltModelFigures, framework: str = "Keras") -> None:
    """Every layer that reaches an output, and the totals, as the framework built them (Keras's by default)."""
    model = report.model.name
    missing = [ours.layer.name for ours in report.counted if ours.layer.name not in built.layers]
    assert not missing, f"model `{model}`: {framework} has no layer named {', '.join(missing)}"
    for ours in report.counted:
        theirs = built.layers[ours.layer.name]
        name = f"model `{model}`, layer `{ours.layer.name}` (line {ours.layer.span.line})"
        got = ours.inference
        assert got.output_shape == theirs.output_shape, (
            f"{name}: specc output shape {format_shape(got.output_shape)}, "
            f"{framework} {format_shape(theirs.output_shape)}"
        )
        assert got.trainable_params == theirs.trainable_params, (
            f"{name}: specc {got.trainable_params} trainable parameters, {framework} {theirs.trainable_params}"
        )
        assert got.non_trainable_params == theirs.non_trainable_params, (
            f"{name}: specc {got.non_trainable_params} non-trainable parameters, "
            f"{framework} {theirs.non_trainable_params}"
        )
    assert report.output_shape == built.output_shape, (
        f"model `{model}`: specc output shape {report.output_shape}, {framework} {built.output_shape}"
    )
    assert report.total_params == built.total_params, (
        f"model `{model}`: specc total {report.total_params} parameters, {framework} {built.total_params}"
    )
    assert report.trainable_params == built.trainable_params, (
        f"model `{model}`: specc {report.trainable_params} trainable in total, {framework} {built.trainable_params}"
    )
    assert report.non_trainable_params == built.non_trainable_params, (
        f"model `{model}`: specc {report.non_trainable_params} non-trainable in total, "
        f"{framework} {built.non_trainable_params}"
    )


def assert_matches_keras(spec_text: str) -> CheckedSource:
    """The spec checks without errors, and every model's layers agree with Keras in shape and parameters."""
    checked = check_text(spec_text)
    assert checked.ok, "specc reported errors:\n" + "\n".join(_errors(checked)) + f"\nspec:\n{spec_text}"
    assert checked.reports, f"no model in spec:\n{spec_text}"
    for report in checked.reports:
        assert report.complete, f"model `{report.model.name}` was not fully checked"
        try:
            figures = keras_model_figures(report)
        except KerasRefused as refusal:
            raise AssertionError(f"specc accepts the spec but {refusal}\nspec:\n{spec_text}") from refusal
        assert_figures_equal(report, figures)
    return checked


def assert_keras_refuses(spec_text: str, code: str = "E301") -> CheckedSource:
    """specc rejects the spec with `code` (and no other error), and Keras raises ValueError at the same layer."""
    checked = check_text(spec_text)
    errors = [d for d in checked.diagnostics if d.severity is Severity.ERROR]
    assert errors and {d.code for d in errors} == {code}, (
        f"expected specc to report only {code}, got: {_errors(checked) or 'no errors'}\nspec:\n{spec_text}"
    )
    for report in checked.reports:
        if report.complete:
            assert_figures_equal(report, keras_model_figures(report))
            continue
        # Keras builds in the model's order, and only what reaches an output.
        inferred = {ours.layer.name for ours in report.layers}
        blamed = next(
            layer for layer in report.model.layers if layer.name not in inferred and layer.name in report.reachable
        )
        try:
            keras_model_figures(report)
        except KerasRefused as refusal:
            assert refusal.layer_name == blamed.name, (
                f"specc blames layer `{blamed.name}`, Keras refused `{refusal.layer_name}` instead: {refusal}"
            )
        else:
            raise AssertionError(
                f"specc rejects layer `{blamed.name}` with {code} but Keras built model "
                f"`{report.model.name}` without complaint\nspec:\n{spec_text}"
            )
    return checked


def keras_layer_refuses(class_name: str, **arguments) -> ValueError | None:
    """The ValueError Keras raises when constructing `keras.layers.<class_name>(**arguments)`, or None."""
    keras = keras_module()
    try:
        getattr(keras.layers, class_name)(**arguments)
    except ValueError as error:
        return error
    return None


def keras_application(network, **arguments):
    """keras.applications' model for a zoo network, without weights, in a fresh session so that its unnamed layers
    get their first names (conv2d, conv2d_1...), as the zoo spec names them."""
    keras = keras_module()
    keras.backend.clear_session(free_memory=False)
    return getattr(keras.applications, network.keras_application)(weights=None, **arguments)
