"""The PyTorch backend: emitted modules equal the checker layer by layer, compute what the Keras build computes
(weights copied by specc.backends.transfer, outputs within 1e-4), make Keras's semantics explicit, and
`specc build --backend torch --verify` verifies them. Golden files, ruff and safe writes, alike for every
backend, are in test_build_backends.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_keras_backend import GENERATED

from specc.backends.torch import (
    RESERVED_ATTRIBUTES,
    TORCH_ACTIVATIONS,
    TORCH_EMITTERS,
    channels_first,
    emit_torch,
    model_class_names,
    torch_attribute_names,
    torch_momentum,
)
from specc.backends.torch_module_names import NN_MODULE_ATTRIBUTES
from specc.backends.torch_module_names import derive as derive_nn_module_names
from specc.backends.torch_verify import build_and_compare, compare, torch_figures
from specc.backends.transfer import (
    feature_orders,
    keras_to_torch,
    output_difference,
    torch_to_keras,
    weight_pairs,
)
from specc.backends.verify import run_module
from specc.diagnostics import Severity
from specc.layers import ACTIVATIONS, LAYER_KINDS, MAX_TENSOR_ELEMENTS, Conv2D, Inference
from specc.pipeline import check_text

from cli_helpers import invoke
from keras_reference import assert_figures_equal
from torch_reference import (
    TOLERANCE,
    build_both,
    equivalence_difference,
    random_batch,
    randomize_keras_weights,
)

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples").glob("*.cnn"))


def torch_module_of(text: str, model: str | None = None):
    checked = check_text(text)
    assert checked.ok, checked.diagnostics
    report = checked.reports[0] if model is None else next(r for r in checked.reports if r.model.name == model)
    module = run_module(emit_torch(checked.reports, "spec.cnn"), "<generated torch>")
    return report, module.MODELS[report.model.name]


def assert_builds_as_checked_and_computes_what_keras_does(text: str, label: str) -> None:
    checked = check_text(text)
    assert checked.ok, [d.message for d in checked.diagnostics]
    module = run_module(emit_torch(checked.reports, "spec.cnn"), "<generated torch>")
    for report in checked.reports:
        figures = torch_figures(module.MODELS[report.model.name], report)
        assert_figures_equal(report, figures, "PyTorch")
        assert compare(report, figures) == []
        difference = equivalence_difference(report, label)
        assert difference <= TOLERANCE, f"{label}: Keras and PyTorch outputs differ by {difference}\n{text}"


# --- one emitter per kind, one form per activation, no attribute nn.Module needs ----------------


def test_every_layer_kind_has_a_torch_emitter():
    assert set(TORCH_EMITTERS) == set(LAYER_KINDS)


def test_every_keras_activation_has_a_torch_module_and_function():
    assert set(TORCH_ACTIVATIONS) == set(ACTIVATIONS)


def test_reserved_attributes_cover_every_name_an_nn_module_uses_itself_private_ones_included():
    used = {name for name in dir(torch.nn.Module) if not name.startswith("__")}
    used |= {name for name in vars(torch.nn.Module()) if not name.startswith("__")}
    assert used <= RESERVED_ATTRIBUTES, sorted(used - RESERVED_ATTRIBUTES)


def test_the_committed_nn_module_names_are_what_the_installed_torch_derives():
    """Regenerate with `python -m specc.backends.torch_module_names` when torch changes."""
    assert derive_nn_module_names() == NN_MODULE_ATTRIBUTES


# Names that broke the emitted module while check and build succeeded (issue 11), before the private names were
# reserved: building, forward, state_dict() or load_state_dict() failed, or forward recursed without end.
BROKEN_BEFORE = (
    "_apply _backward_pre_hooks _buffers _call_impl _compiled_call_impl _forward_hooks _forward_pre_hooks "
    "_get_backward_hooks _get_backward_pre_hooks _get_name _load_from_state_dict _load_state_dict_post_hooks "
    "_load_state_dict_pre_hooks _maybe_warn_non_full_backward_hook _modules _named_members _non_persistent_buffers_set "
    "_parameters _register_load_state_dict_pre_hook _register_state_dict_hook _replicate_for_data_parallel "
    "_save_to_state_dict _slow_forward _state_dict_hooks _state_dict_pre_hooks _version _wrapped_call_impl"
).split()


def name_batches(size: int = 24) -> list[list[str]]:
    """Every name nn.Module has (from the installed torch, not from the committed list), in batches."""
    names = sorted(set(BROKEN_BEFORE) | derive_nn_module_names() | {"INPUT_SHAPE"})
    return [names[i : i + size] for i in range(0, len(names), size)]


@pytest.mark.parametrize("names", name_batches(), ids=lambda names: f"{names[0]}..{names[-1]}")
def test_layer_names_nn_module_has_itself_build_run_and_round_trip_their_state_dict(names):
    text = "model m {\n  input 3\n" + "".join(f"  dense 2 name={name}\n" for name in names) + "}\n"
    report, model_class = torch_module_of(text)
    assert compare(report, torch_figures(model_class, report)) == []
    module = model_class()
    state = module.state_dict()
    assert len(state) == 2 * len(names)
    copy = model_class()
    assert not copy.load_state_dict(state).missing_keys
    inputs = torch.ones(2, 3)
    assert torch.equal(copy(inputs), module(inputs))


def test_a_layer_named_like_an_nn_module_method_or_a_keyword_gets_an_attribute_of_its_own():
    text = (
        "model m {\n  input 6x6x1\n  conv 2 3 name=forward\n  conv 2 1 name=training\n  conv 2 1 name=forward_layer\n"
        "  flatten name=eval\n  dense 2 name=class\n  dense 2 name=__x\n  dense 2 name=__0\n  dense 2 name=_fine\n}\n"
    )
    report, model_class = torch_module_of(text)
    attributes = torch_attribute_names(report.model)
    assert attributes == {
        "forward": "forward_layer_1",
        "training": "training_layer",
        "forward_layer": "forward_layer",
        "eval": "eval_layer",
        "class": "class_layer",
        "__x": "x_layer",
        "__0": "layer__0",
        "_fine": "_fine",
    }
    assert isinstance(model_class().get_submodule("forward_layer_1"), torch.nn.Conv2d)
    assert_builds_as_checked_and_computes_what_keras_does(text, "reserved names")


def test_model_classes_are_camel_case_unique_and_clear_of_the_modules_own_names():
    text = "".join(
        f"model {name} {{\n  input 4\n  dense 2\n}}\n"
        for name in ("my_net", "myNet", "min_pool2d", "None", "nn", "F", "_0", "_")
    )
    classes = model_class_names(check_text(text).reports)
    assert classes == {
        "my_net": "MyNet",
        "myNet": "MyNetModel",
        "min_pool2d": "MinPool2dModel",
        "None": "NoneModel",
        "nn": "Nn",
        "F": "FModel",
        "_0": "Model0",
        "_": "Model",
    }
    module = run_module(emit_torch(check_text(text).reports, "spec.cnn"), "<generated torch>")
    assert list(module.MODELS) == ["my_net", "myNet", "min_pool2d", "None", "nn", "F", "_0", "_"]


# --- the examples --------------------------------------------------------------------------------


@pytest.mark.keras
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_builds_with_torch_as_checked_and_computes_what_keras_computes(path):
    assert_builds_as_checked_and_computes_what_keras_does(path.read_text(encoding="utf-8"), path.name)


def test_running_an_emitted_module_prints_each_model_its_output_shape_and_the_parameters_specc_check_counts(
    tmp_path,
):
    """Batch norm's running statistics are buffers in PyTorch: the module counts them as the non-trainable
    parameters, so its figures read as `specc check`'s."""
    spec = REPO / "examples" / "mnist_batchnorm.cnn"
    target = tmp_path / "mnist_batchnorm_torch.py"
    assert invoke("build", spec, "-b", "torch", "-o", target).exit_code == 0
    result = subprocess.run([sys.executable, str(target)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "output shape: (1, 10)" in result.stdout
    [report] = check_text(spec.read_text(encoding="utf-8")).reports
    assert report.non_trainable_params > 0
    assert (
        f"parameters: {report.total_params:,} ({report.trainable_params:,} trainable, "
        f"{report.non_trainable_params:,} non-trainable)"
    ) in result.stdout.splitlines()


def test_input_shape_is_the_spec_input_channels_first():
    report, model_class = torch_module_of("model m {\n  input 28x20x3\n  conv 2 3\n}\n")
    assert model_class.INPUT_SHAPE == (3, 28, 20) == channels_first(report.model.input_shape)


# --- Keras semantics, made explicit --------------------------------------------------------------


def _source(text: str) -> str:
    return emit_torch(check_text(text).reports, "spec.cnn")


def test_same_padding_with_stride_becomes_keras_uneven_zero_padding_before_the_convolution():
    source = _source("model m {\n  input 8x8x1\n  conv 2 3 strides=2 same\n}\n")
    assert "self.conv2d_pad = nn.ZeroPad2d((0, 1, 0, 1))" in source
    assert "self.conv2d = nn.Conv2d(1, 2, 3, stride=2)" in source


def test_even_same_padding_is_the_convolutions_own_padding():
    assert "nn.Conv2d(1, 2, 3, padding=1)" in _source("model m {\n  input 8x8x1\n  conv 2 3 same\n}\n")
    assert "nn.Conv2d(1, 2, 3, padding=2, dilation=2)" in _source(
        "model m {\n  input 8x8x1\n  conv 2 3 dilation=2 same\n}\n"
    )


def test_uneven_same_pooling_pads_max_with_minus_inf_min_with_plus_inf_and_averages_only_real_inputs():
    source = _source(
        "model m {\n  input 7x7x1\n  maxpool 2 same\n  minpool 2 strides=1 same\n  avgpool 2 strides=1 same\n}\n"
    )
    assert "nn.ConstantPad2d((0, 1, 0, 1), float('-inf'))" in source
    assert "nn.ConstantPad2d((0, 1, 0, 1), float('inf'))" in source
    assert "AvgPool2dSame(2, 1, (0, 1, 0, 1))" in source


def test_even_same_average_pooling_does_not_count_the_padding():
    source = _source("model m {\n  input 7x7x1\n  avgpool 3 strides=1 same\n}\n")
    assert "nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)" in source


def test_batchnorm_takes_keras_epsilon_and_momentum_in_pytorchs_convention():
    assert torch_momentum(0.99) == 0.01 and torch_momentum(0.9) == 0.1 and torch_momentum(0.123) == 0.877
    source = _source("model m {\n  input 4x4x3\n  batchnorm\n  batchnorm momentum=0.9 epsilon=1e-5\n}\n")
    assert "nn.BatchNorm2d(3, eps=0.001, momentum=0.01)" in source
    assert "nn.BatchNorm2d(3, eps=1e-05, momentum=0.1)" in source


@pytest.mark.keras
def test_batchnorm_moving_mean_follows_the_same_momentum_in_training_in_both_frameworks():
    """One training step moves Keras's moving mean and PyTorch's running mean alike: the momentum is converted."""
    report, _ = torch_module_of("model m {\n  input 5x5x3\n  batchnorm momentum=0.8\n}\n")
    rng = np.random.default_rng(1)
    keras_model, torch_module = build_both(report)
    randomize_keras_weights(keras_model, rng)
    keras_to_torch(keras_model, torch_module, report)
    batch = random_batch(report, rng, size=8)
    keras_model(batch, training=True)
    torch_module.train()
    torch_module(torch.from_numpy(np.moveaxis(batch, -1, 1).copy()))
    keras_layer, torch_layer = keras_model.get_layer("batch_normalization"), torch_module.batch_normalization
    np.testing.assert_allclose(torch_layer.running_mean.numpy(), keras_layer.moving_mean.numpy(), atol=1e-6)


@pytest.mark.keras
def test_batchnorm_running_variance_in_training_is_unbiased_in_pytorch_and_biased_in_keras_as_documented():
    """The one difference docs/torch.md owns up to: PyTorch has no option for Keras's biased estimate."""
    report, _ = torch_module_of("model m {\n  input 5\n  batchnorm momentum=0.5\n}\n")
    keras_model, torch_module = build_both(report)
    batch = random_batch(report, np.random.default_rng(3), size=8)
    keras_model(batch, training=True)
    torch_module.train()
    torch_module(torch.from_numpy(batch))
    np.testing.assert_allclose(
        keras_model.get_layer("batch_normalization").moving_variance.numpy(), 0.5 + 0.5 * batch.var(axis=0), rtol=1e-5
    )
    np.testing.assert_allclose(
        torch_module.batch_normalization.running_var.numpy(), 0.5 + 0.5 * batch.var(axis=0, ddof=1), rtol=1e-5
    )


def test_dense_on_a_feature_map_acts_on_the_channels():
    assert "nn.Conv2d(4, 3, kernel_size=1)" in _source("model m {\n  input 6x6x4\n  dense 3\n}\n")
    assert "nn.Conv1d(4, 3, kernel_size=1)" in _source("model m {\n  input 6x4\n  dense 3\n}\n")
    assert "LinearOnChannels(2, 3)" in _source("model m {\n  input 2x2x2x2x2\n  dense 3\n}\n")


def test_softmax_acts_on_the_channel_axis():
    source = _source("model m {\n  input 4x4x3\n  activation softmax\n  conv 2 1 softmax\n}\n")
    assert "nn.Softmax(dim=1)" in source and "F.softmax(self.conv2d(x), dim=1)" in source


# Specs for what the Keras backend's generated set does not reach: dense and batch norm on every rank, every
# activation, flatten followed by per-feature layers, a model whose output is a flattened map, empty models.
TORCH_SPECS = [
    *(
        f"model m {{\n  input {shape}\n  dense 3 relu\n  dense 2\n}}\n"
        for shape in ("7", "6x4", "3x4x5x2", "2x3x2x3x2")
    ),
    *(
        f"model m {{\n  input {shape}\n  batchnorm {options}\n  dense 2\n}}\n"
        for shape in ("7", "6x4", "3x4x2", "3x4x5x2", "2x3x2x3x2", "2x2x2x2x2x3")
        for options in ("", "center=false", "scale=false", "center=false scale=false momentum=0.5 epsilon=0.1")
    ),
    # One activation at a time: exponential of exponential would overflow any absolute tolerance.
    *(
        f"model m {{\n  input {shape}\n  {line}\n}}\n"
        for name in ACTIVATIONS
        for shape, line in (("4x5x3", f"activation {name}"), ("4x5x3", f"conv 2 2 {name}"), ("6", f"dense 4 {name}"))
    ),
    "model m {\n  input 4x5x3\n  conv 3 2 same\n  flatten\n}\n",
    "model m {\n  input 4x5x3\n  conv 3 2\n  flatten\n  batchnorm center=false\n  dropout 0.2\n  activation tanh\n}\n",
    "model m {\n  input 4x5x3\n  conv 3 2\n  flatten\n  batchnorm\n  dropout 0.2\n  activation tanh\n  dense 4\n}\n",
    "model m {\n  input 5x3\n  flatten\n  dense 2\n}\n",
    "model m {\n  input 3x3x2\n  flatten\n  flatten\n  batchnorm\n  dense 2\n  batchnorm\n}\n",
    "model m {\n  input 9x9x2\n  global_maxpool\n  batchnorm\n  dense 2\n}\n",
    "model m {\n  input 4x4x2\n}\n",
    "model m {\n  input 10x11x2\n  conv 4 4 strides=3 same use_bias=false\n  bn\n"
    "  conv 2 (2, 3) padding=((2, 0), (1, 3))\n}\n",
    "model a_b {\n  input 8x8x1\n  conv 2 3\n}\nmodel aB {\n  input 6\n  dense 2\n}\n",
]


@pytest.mark.keras
@pytest.mark.parametrize("text", TORCH_SPECS, ids=[f"torch{i}" for i in range(len(TORCH_SPECS))])
def test_spec_builds_with_torch_as_checked_and_computes_what_keras_computes(text):
    assert_builds_as_checked_and_computes_what_keras_does(text, "torch spec")


@pytest.mark.keras
@pytest.mark.parametrize("text", GENERATED, ids=[f"spec{i}" for i in range(len(GENERATED))])
def test_generated_spec_builds_with_torch_as_checked_and_computes_what_keras_computes(text):
    """The Keras backend's generated set: clean specs only (specs specc rejects are never built)."""
    if check_text(text).ok:
        assert_builds_as_checked_and_computes_what_keras_does(text, "generated spec")


# --- weights between the builds ------------------------------------------------------------------


@pytest.mark.keras
def test_without_reordering_the_dense_weights_after_flatten_the_builds_would_differ(monkeypatch):
    """The equivalence test can fail: copy the kernel after a flatten in Keras's order and the outputs part."""
    from specc.backends import transfer

    report, _ = torch_module_of("model m {\n  input 4x5x3\n  conv 3 2\n  flatten\n  dense 4\n}\n")
    assert feature_orders(report)[2] is not None  # the dense layer's input
    assert equivalence_difference(report, "reordered") <= TOLERANCE
    monkeypatch.setattr(transfer, "flatten_order", lambda shape: np.arange(int(np.prod(shape))))
    assert equivalence_difference(report, "not reordered", record=False) > 1e-2


@pytest.mark.keras
def test_weights_copied_to_torch_and_back_to_a_fresh_keras_model_are_the_same():
    text = (REPO / "examples" / "tour.cnn").read_text(encoding="utf-8")
    report = check_text(text + "model v {\n  input 4x4x2\n  flatten\n  bn\n  dense 3\n}\n").reports
    for model_report in report:
        rng = np.random.default_rng(2)
        original, torch_module = build_both(model_report)
        randomize_keras_weights(original, rng)
        keras_to_torch(original, torch_module, model_report)
        fresh, _ = build_both(model_report)
        torch_to_keras(torch_module, fresh, model_report)
        for before, after in zip(original.weights, fresh.weights, strict=True):
            np.testing.assert_array_equal(before.numpy(), after.numpy(), err_msg=before.path)
        assert output_difference(fresh, torch_module, model_report, random_batch(model_report, rng)) <= TOLERANCE


def test_weight_pairs_name_every_parameter_and_statistic_of_the_torch_module():
    report, model_class = torch_module_of((REPO / "examples" / "tour.cnn").read_text(encoding="utf-8"))
    state = model_class().state_dict()
    paired = {pair.torch_name for pair in weight_pairs(report)}
    assert paired == {key for key in state if not key.endswith("num_batches_tracked")}


@pytest.mark.keras
def test_copying_into_a_module_of_another_spec_is_a_clear_error_not_a_silent_mismatch(write):
    spec = write("m.cnn", "model m {\n  input 8x8x1\n  conv 4 3\n}\n")
    keras_model, _ = build_both(check_text(spec.read_text()).reports[0])
    _, other = torch_module_of("model m {\n  input 8x8x2\n  conv 4 3\n}\n")
    with pytest.raises(ValueError, match="were both models built from the same spec"):
        keras_to_torch(keras_model, other(), spec)
    with pytest.raises(ValueError, match="has no model `m`"):
        keras_to_torch(keras_model, other(), write("n.cnn", "model n {\n  input 4\n  dense 2\n}\n"))


# --- --verify reports a disagreement instead of hiding it ----------------------------------------


def test_verify_torch_reports_e401_naming_the_layer_and_both_figures_when_the_checker_is_wrong(monkeypatch, write):
    honest_infer = Conv2D.infer

    def off_by_one(self, input_shape):
        inference = honest_infer(self, input_shape)
        height, width, channels = inference.output_shape
        return Inference((height + 1, width, channels), inference.trainable_params, working=inference.working)

    monkeypatch.setattr(Conv2D, "infer", off_by_one)
    spec = write("m.cnn", "model m {\n  input 8x8x1\n  conv 4 3x3\n}\n")
    result = invoke("build", spec, "--backend", "torch", "--verify")
    assert result.exit_code == 1
    assert "error[E401]" in result.stderr
    assert "PyTorch builds layer `conv2d` with output shape 6x6x4; specc checked 7x6x4" in result.stderr
    assert "m.cnn:3:3" in result.stderr


def test_verify_torch_reports_a_model_pytorch_cannot_run_as_e401_not_a_traceback():
    checked = check_text("model m {\n  input 8x8x1\n  conv 4 3\n}\n")
    (report,) = checked.reports
    module = run_module("import torch\nMODELS = {'m': lambda: torch.nn.Linear(3, 4)}\n", "<broken>")
    (found,) = build_and_compare(module, report)
    assert found.code == "E401" and "PyTorch could not build model `m`" in found.message
    assert found.severity is Severity.ERROR


def test_verify_counts_batchnorm_running_statistics_as_non_trainable_and_not_the_batch_counter():
    report, model_class = torch_module_of("model m {\n  input 4x4x3\n  batchnorm scale=false\n}\n")
    figures = torch_figures(model_class, report)
    assert (figures.trainable_params, figures.non_trainable_params) == (3, 6)


def test_the_tensor_size_limit_of_e303_is_where_torch_refuses_a_float32_tensor():
    torch.empty(MAX_TENSOR_ELEMENTS, device="meta")
    with pytest.raises(RuntimeError, match="Storage size calculation overflowed"):
        torch.empty(MAX_TENSOR_ELEMENTS + 1, device="meta")
    # The layers of test_shape_rules' boundary: 2147483647 inputs to 2**30 units fit, one unit more does not.
    torch.nn.Linear(2147483647, 2**30, device="meta")
    with pytest.raises(RuntimeError, match="Storage size calculation overflowed"):
        torch.nn.Linear(2147483647, 2**30 + 1, device="meta")
