"""Both backends on what the zoo added to the IR: `scaled_add` (keras.applications' CustomScaleLayer), `normalization`
with its statistics as weights (Keras's adapt form), `zeropad correct_pad=` (amounts that depend on the input) and
frozen layers (`trainable=false`). Each builds with real Keras and PyTorch as the checker says, `build --verify`'s
comparisons pass, and the PyTorch build computes what the Keras build computes with the weights copied across."""

from __future__ import annotations

import contextlib
import io
import re
import runpy
import subprocess
import sys

import numpy as np
import pytest

from specc.backends import keras_verify, torch_verify
from specc.backends.keras import emit_keras
from specc.backends.keras_verify import keras_figures
from specc.backends.torch import emit_torch, torch_layout
from specc.backends.torch_verify import torch_figures
from specc.backends.transfer import keras_to_torch, output_difference, torch_to_keras
from specc.backends.verify import run_module
from specc.check import ModelReport
from specc.pipeline import check_text

from adapted_statistics import equivalence_difference, randomize_normalization_statistics
from keras_reference import assert_matches_keras, keras_module
from torch_reference import TOLERANCE, build_both, random_batch, randomize_keras_weights

SCALED_ADD = """\
block residual(scale) {
  x = input
  y = conv 4 3 same relu name=branch
  scaled_add x y scale=scale name=add
}
model scaled {
  input 6x6x4
  a = conv 4 3 same
  s = scaled_add a a scale=0.17
  r = residual 0.1 name=block1
  r = residual 0.2 name=block2
  g = global_avgpool keepdims=true
  b = scaled_add r g scale=-1.5
  output b
}
"""

# Statistics as weights on a feature map, in a block, and on the features of a flatten (one per feature, which
# PyTorch flattens in another order: the copy reorders them, as it does batch norm's).
ADAPTED = """\
block norm_conv() {
  normalization name=norm
  conv 3 3 same name=conv
}
model adapted {
  input 5x6x3
  normalization
  norm_conv name=b1
  norm_conv name=b2
  flatten
  normalization
  dense 4
}
"""

# correct_pad on even and odd sizes, a window that is not square, and in a block whose uses pad differently.
CORRECT_PAD = """\
block down(filters) {
  zeropad correct_pad=3x3 name=pad
  conv filters 3 strides=2 name=conv
}
model correct_pad {
  input 8x7x2
  zeropad correct_pad=5x5 name=five
  down 4 name=d1
  down 4 name=d2
  zeropad correct_pad=(2, 3) name=uneven
}
"""

SPECS = {"scaled_add": SCALED_ADD, "adapted_normalization": ADAPTED, "correct_pad": CORRECT_PAD}


def only_report(text: str) -> ModelReport:
    checked = check_text(text)
    assert checked.ok, [f"{d.code} line {d.span.line}: {d.message}" for d in checked.diagnostics]
    (report,) = checked.reports
    return report


@pytest.mark.keras
@pytest.mark.parametrize("text", SPECS.values(), ids=SPECS.keys())
def test_the_keras_build_has_every_shape_and_weight_count_the_checker_gives(text):
    assert_matches_keras(text)


@pytest.mark.keras
@pytest.mark.parametrize("text", SPECS.values(), ids=SPECS.keys())
def test_both_builds_pass_the_comparisons_build_verify_makes(text):
    report = only_report(text)
    keras_module().backend.clear_session(free_memory=False)
    keras_built = run_module(emit_keras([report], "spec.cnn"), "<generated keras>")
    assert keras_verify.build_and_compare(keras_built, report) == []
    torch_built = run_module(emit_torch([report], "spec.cnn"), "<generated torch>")
    assert torch_verify.build_and_compare(torch_built, report) == []


@pytest.mark.keras
@pytest.mark.parametrize("text", SPECS.values(), ids=SPECS.keys())
def test_the_pytorch_build_computes_what_the_keras_build_computes(text):
    report = only_report(text)
    difference = equivalence_difference(report, "new kinds")
    assert difference <= TOLERANCE, f"Keras and PyTorch outputs differ by {difference}"


def test_the_emitted_modules_pass_ruff_with_the_projects_rules(tmp_path):
    for name, text in {**SPECS, "frozen": FROZEN}.items():
        reports = check_text(text).reports
        (tmp_path / f"{name}_keras.py").write_text(emit_keras(reports, f"{name}.cnn"), encoding="utf-8")
        (tmp_path / f"{name}_torch.py").write_text(emit_torch(reports, f"{name}.cnn"), encoding="utf-8")
    rules = ["--isolated", "--select", "E,F,W,I,B,UP", "--line-length", "120"]
    command = [sys.executable, "-m", "ruff", "check", *rules, str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# --- scaled_add ----------------------------------------------------------------------------------------------------


def test_the_custom_scale_layer_is_defined_once_in_a_module_that_uses_it_and_in_no_other():
    source = emit_keras(check_text(SCALED_ADD).reports, "spec.cnn")
    assert source.count("class CustomScaleLayer(layers.Layer):") == 1
    assert "@keras.saving.register_keras_serializable(package='specc')\nclass CustomScaleLayer" in source
    assert "return inputs[0] + inputs[1] * self.scale" in source
    assert "x = CustomScaleLayer(scale, name=name + '_add')([inputs, x])" in source
    assert "def residual(inputs, scale, name):" in source
    assert "CustomScaleLayer" not in emit_keras(check_text(ADAPTED).reports, "spec.cnn")


def test_scaled_add_is_the_arithmetic_in_forward():
    source = emit_torch(check_text(SCALED_ADD).reports, "spec.cnn")
    assert "custom_scale_layer = conv2d + conv2d * 0.17" in source
    assert "add = x + branch * 0.1" in source
    assert "custom_scale_layer_1 = block2 + global_average_pooling2d * -1.5" in source


@pytest.mark.keras
def test_the_custom_scale_layer_saves_and_loads_with_its_scale(tmp_path):
    keras = keras_module()
    report = only_report(SCALED_ADD)
    keras.backend.clear_session(free_memory=False)
    model = run_module(emit_keras([report], "spec.cnn"), "<generated keras>").MODELS["scaled"]()
    assert model.get_layer("block1_add").get_config()["scale"] == 0.1
    model.save(tmp_path / "scaled.keras")
    loaded = keras.saving.load_model(tmp_path / "scaled.keras")
    assert [layer.get_config().get("scale") for layer in loaded.layers] == [
        layer.get_config().get("scale") for layer in model.layers
    ]
    batch = random_batch(report, np.random.default_rng(0))
    np.testing.assert_allclose(loaded(batch), model(batch), atol=1e-6)


# --- correct_pad ---------------------------------------------------------------------------------------------------


@pytest.mark.keras
@pytest.mark.parametrize(("height", "width", "window"), [(8, 7, 3), (7, 8, 3), (8, 8, 5), (9, 9, 5), (6, 7, (2, 3))])
def test_correct_pad_is_written_as_the_amounts_keras_applications_correct_pad_gives(height, width, window):
    from keras.src.applications.imagenet_utils import correct_pad

    keras = keras_module()
    expected = correct_pad(keras.Input((height, width, 2)), window)
    written = f"{window}x{window}" if isinstance(window, int) else f"({window[0]}, {window[1]})"
    report = only_report(f"model m {{\n  input {height}x{width}x2\n  zeropad correct_pad={written} name=pad\n}}\n")
    keras_source = emit_keras([report], "spec.cnn")
    (keras_amounts,) = re.findall(r"layers\.ZeroPadding2D\((.*), name='pad'\)", keras_source)
    assert keras_module().layers.ZeroPadding2D(eval(keras_amounts)).padding == expected
    (torch_amounts,) = re.findall(r"nn\.ZeroPad2d\((.*)\)", emit_torch([report], "spec.cnn"))
    amounts = eval(torch_amounts)
    left, right, top, bottom = amounts if isinstance(amounts, tuple) else (amounts,) * 4
    assert ((top, bottom), (left, right)) == expected


def test_correct_pad_amounts_that_differ_between_uses_are_a_parameter_of_the_block():
    report = only_report(CORRECT_PAD)
    keras_source = emit_keras([report], "spec.cnn")
    assert "def down(x, padding, name):" in keras_source
    assert "padding=1" in keras_source and "padding=((0, 1), (0, 1))" in keras_source
    torch_source = emit_torch([report], "spec.cnn")
    assert "self.d1 = Down(padding=1, in_channels=2)" in torch_source
    assert "self.d2 = Down(padding=(0, 1, 0, 1), in_channels=4)" in torch_source


# --- normalization with its statistics as weights ----------------------------------------------------------------


def test_normalization_without_statistics_is_keras_adapt_form_and_pytorch_buffers():
    report = only_report(ADAPTED)
    assert "x = layers.Normalization(name='normalization')(inputs)" in emit_keras([report], "spec.cnn")
    source = emit_torch([report], "spec.cnn")
    assert "self.normalization = AdaptedNormalization(3)" in source
    assert "self.normalization_1 = AdaptedNormalization(90)" in source
    assert "self.register_buffer('count', torch.zeros((), dtype=torch.int64))" in source


@pytest.mark.keras
def test_normalization_statistics_are_copied_both_ways_in_each_frameworks_feature_order():
    report = only_report(ADAPTED)
    rng = np.random.default_rng(1)
    keras_model, torch_module = build_both(report)
    randomize_keras_weights(keras_model, rng)
    randomize_normalization_statistics(keras_model, rng)
    keras_to_torch(keras_model, torch_module, report)
    state = torch_module.state_dict()
    layout = torch_layout(report)
    stem = keras_model.get_layer("normalization")
    np.testing.assert_array_equal(state[f"{layout['normalization'].module}.mean"], stem.adapt_mean.numpy())
    np.testing.assert_array_equal(state[f"{layout['normalization'].module}.variance"], stem.adapt_variance.numpy())
    assert int(state[f"{layout['b1_norm'].module}.count"]) == int(keras_model.get_layer("b1_norm").count.numpy())
    # After flatten, PyTorch's features come channels-first: the statistics are the same set, reordered.
    flat = keras_model.get_layer("normalization_1").adapt_mean.numpy()
    copied = state[f"{layout['normalization_1'].module}.mean"].numpy()
    assert not np.array_equal(copied, flat) and np.array_equal(np.sort(copied), np.sort(flat))

    # Back into a fresh Keras build: Keras then computes with the copied statistics, as PyTorch does.
    fresh, _ = build_both(report)
    torch_to_keras(torch_module, fresh, report)
    batch = random_batch(report, rng)
    np.testing.assert_allclose(fresh(batch), keras_model(batch), atol=1e-5)
    assert output_difference(fresh, torch_module, report, batch) <= TOLERANCE


# --- frozen layers -------------------------------------------------------------------------------------------------

FROZEN = """\
block unit(filters, train=true) {
  x = input
  y = conv filters 3 same use_bias=false trainable=train name=conv
  y = batchnorm trainable=false name=bn
  y = relu trainable=train name=relu
  add x y name=add
}
model frozen {
  input 6x6x4
  separable 4 3 same trainable=false name=stem
  batchnorm scale=false trainable=false name=stem_bn
  unit 4 train=false name=u1
  unit 4 name=u2
  normalization trainable=false name=norm
  global_avgpool trainable=false name=pool
  dense 3 name=head
}
"""

# Frozen: the stem, a batch norm (Keras counts its gamma and beta non-trainable then), a weightless layer, statistics
# that are weights, the whole first use of the block and the batch norm of the second.
FROZEN_LAYERS = frozenset({"stem", "stem_bn", "pool", "u1_conv", "u1_bn", "u1_relu", "u2_bn", "norm"})


def test_the_spec_freezes_the_layers_the_tests_expect():
    report = only_report(FROZEN)
    assert {layer.name for layer in report.model.layers if not layer.trainable} == FROZEN_LAYERS


@pytest.mark.keras
def test_frozen_layers_build_in_keras_with_the_counts_the_checker_gives():
    assert_matches_keras(FROZEN)


def test_a_frozen_layer_is_built_frozen_in_both_backends_and_a_block_freezes_by_its_own_parameter():
    report = only_report(FROZEN)
    keras_source = emit_keras([report], "spec.cnn")
    assert "layers.SeparableConv2D(4, (3, 3), padding='same', trainable=False, name='stem')" in keras_source
    # Frozen in every use: a constant; frozen by the block's parameter: that parameter, as the use gives it.
    assert "layers.BatchNormalization(trainable=False, name=name + '_bn')" in keras_source
    assert "layers.ReLU(trainable=train, name=name + '_relu')" in keras_source
    assert "x = unit(x, train=False, name='u1')" in keras_source
    assert "x = unit(x, train=True, name='u2')" in keras_source
    torch_source = emit_torch([report], "spec.cnn")
    assert "self.stem.requires_grad_(False)  # spec.cnn:10: trainable=false: frozen, not trained" in torch_source
    assert "self.bn.requires_grad_(False)" in torch_source
    # A layer without weights Keras would train is frozen in Keras's words only: PyTorch has nothing to freeze.
    assert "self.pool.requires_grad_" not in torch_source
    assert "self.norm.requires_grad_" not in torch_source
    assert "self.relu.requires_grad_" not in torch_source


def test_requires_grad_is_false_exactly_for_the_parameters_of_frozen_layers():
    report = only_report(FROZEN)
    module = run_module(emit_torch([report], "spec.cnn"), "<generated torch>").MODELS["frozen"]()
    layout = torch_layout(report)
    for name, place in layout.items():
        if place.module is None:
            continue
        for parameter_name, parameter in module.get_submodule(place.module).named_parameters():
            assert parameter.requires_grad == (name not in FROZEN_LAYERS), f"layer `{name}`: {parameter_name}"
    assert any(not p.requires_grad for p in module.parameters()) and any(p.requires_grad for p in module.parameters())


@pytest.mark.keras
def test_keras_and_pytorch_count_frozen_weights_non_trainable_alike_layer_by_layer():
    report = only_report(FROZEN)
    keras_module().backend.clear_session(free_memory=False)
    keras_model = run_module(emit_keras([report], "spec.cnn"), "<generated keras>").MODELS["frozen"]()
    for layer in report.model.layers:
        assert keras_model.get_layer(layer.name).trainable == layer.trainable, layer.name
    names = [r.layer.name for r in report.counted]
    keras = keras_figures(keras_model, names)
    torch = torch_figures(run_module(emit_torch([report], "spec.cnn"), "<generated torch>").MODELS["frozen"], report)
    for name in names:
        ours, theirs = keras.layers[name], torch.layers[name]
        assert (theirs.trainable_params, theirs.non_trainable_params) == (
            ours.trainable_params,
            ours.non_trainable_params,
        ), name
    # Frozen batch norm: Keras counts all four of its weights non-trainable.
    assert (keras.layers["u2_bn"].trainable_params, keras.layers["u2_bn"].non_trainable_params) == (0, 16)
    assert (torch.trainable_params, torch.non_trainable_params) == (keras.trainable_params, keras.non_trainable_params)
    assert keras.trainable_params > 0 and keras.non_trainable_params > 0


@pytest.mark.keras
def test_the_pytorch_modules_main_prints_the_counts_keras_gives_for_frozen_layers(tmp_path):
    report = only_report(FROZEN)
    keras_module().backend.clear_session(free_memory=False)
    keras_model = run_module(emit_keras([report], "spec.cnn"), "<generated keras>").MODELS["frozen"]()
    keras = keras_figures(keras_model, [])
    script = tmp_path / "frozen_torch.py"
    script.write_text(emit_torch([report], "spec.cnn"), encoding="utf-8")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        runpy.run_path(str(script), run_name="__main__")
    expected = f"parameters: {keras.total_params:,} ({keras.trainable_params:,} trainable, "
    expected += f"{keras.non_trainable_params:,} non-trainable)"
    assert expected in printed.getvalue().splitlines()


@pytest.mark.keras
def test_a_frozen_model_computes_in_pytorch_what_it_computes_in_keras():
    report = only_report(FROZEN)
    assert equivalence_difference(report, "frozen layers") <= TOLERANCE
