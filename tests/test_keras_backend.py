"""The Keras backend: emitted modules build models that equal the checker layer by layer, Keras refuses what
specc rejects at the same layer, and `specc build --backend keras [--verify]` writes and verifies them.
Golden files, ruff and safe writes, alike for every backend, are in test_build_backends.py."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from specc.backends.keras import KERAS_EMITTERS
from specc.backends.keras_verify import build_and_compare, compare, load_keras
from specc.backends.verify import run_module
from specc.diagnostics import Severity
from specc.layers import LAYER_KINDS, Conv2D, Inference
from specc.pipeline import check_text
from specc.write import GENERATED_MARK

from cli_helpers import invoke
from keras_reference import (
    assert_figures_equal,
    assert_keras_refuses,
    assert_matches_keras,
    keras_model_figures,
)

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples").glob("*.cnn"))


def test_every_layer_kind_has_a_keras_emitter():
    assert set(KERAS_EMITTERS) == set(LAYER_KINDS)


# --- the examples --------------------------------------------------------------------------------


@pytest.mark.keras
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_builds_with_keras_and_every_layer_equals_the_checker(path):
    assert_matches_keras(path.read_text(encoding="utf-8"))


# --- generated specs: several hundred small models over the shape rules --------------------------

INPUTS = ("7x7x1", "8x6x2", "9x11x3", "10x5x2")
KERNELS = ("1", "2", "3x3", "(3, 1)", "2x5", "5x5", "(7, 3)")
CONV_OPTIONS = (
    "",
    "same",
    "strides=2 same",
    "strides=3 padding=same",
    "strides=2",
    "strides=3 valid",
    "strides=(1, 2) same",
    "dilation=2",
    "dilation_rate=2 same",
    "dilation=(2, 1) same",
    "padding=1",
    "padding=((0, 1), (2, 0)) strides=2",
    "padding=(1, 0) use_bias=false relu",
)
POOLS = ("maxpool", "avgpool", "minpool")
POOL_SIZES = ("2", "3x3", "2x3", "(1, 2)")
POOL_STRIDES = ("", "strides=1", "strides=2", "strides=(1, 3)")
OTHER_LAYERS = (
    ("7x9x2", "global_avgpool"),
    ("7x9x2", "global_maxpool"),
    ("5x5x1", "zeropad"),
    ("5x5x1", "zeropad 2"),
    ("5x6x1", "zeropad (1, 2)"),
    ("5x6x1", "zeropad ((0, 1), (2, 3))"),
    ("6x6x4", "batchnorm"),
    ("6x6x4", "batchnorm center=false"),
    ("6x6x4", "batchnorm scale=false epsilon=1e-5 momentum=0.9"),
    ("6x6x4", "batchnorm center=false scale=false"),
    ("6x6x4", "dense 3"),
    ("6x5x4", "dense 3 relu use_bias=false"),
    ("6x6x4", "dropout 0.5"),
    ("6x6x4", "activation softmax"),
    ("6x6x4", "activation gelu"),
)


def _spec(input_shape: str, line: str, index: int) -> str:
    return f"model generated_{index} {{\n  input {input_shape}\n  {line}\n  flatten\n  dense 2\n}}\n"


def generated_specs() -> list[str]:
    lines = [(i, f"conv 3 {k} {o}") for i, k, o in itertools.product(INPUTS, KERNELS, CONV_OPTIONS)]
    lines += [
        ("7x9x2" if n % 2 else "8x8x1", f"{p} {s} {t} {padding}")
        for n, (p, s, t, padding) in enumerate(itertools.product(POOLS, POOL_SIZES, POOL_STRIDES, ("", "same")))
    ]
    lines += list(OTHER_LAYERS)
    return [_spec(input_shape, line, index) for index, (input_shape, line) in enumerate(lines)]


GENERATED = generated_specs()


def test_generated_set_is_wide_and_includes_specs_specc_rejects():
    verdicts = [check_text(text).ok for text in GENERATED]
    assert len(GENERATED) >= 350
    assert verdicts.count(False) >= 10 and verdicts.count(True) >= 300


@pytest.mark.keras
@pytest.mark.parametrize("text", GENERATED, ids=[f"spec{i}" for i in range(len(GENERATED))])
def test_generated_spec_builds_as_checked_or_keras_refuses_it_where_specc_does(text):
    """Clean specs: the emitted model equals the checker, by the tests' comparison and by --verify's.
    Specs specc rejects (E301): Keras refuses the emitted model at the same layer."""
    checked = check_text(text)
    if not checked.ok:
        assert_keras_refuses(text)
        return
    for report in checked.reports:
        figures = keras_model_figures(report)
        assert_figures_equal(report, figures)
        assert compare(report, figures) == []


# --- --verify reports a disagreement instead of hiding it ----------------------------------------


@pytest.mark.keras
def test_verify_reports_e401_naming_the_layer_and_both_figures_when_the_checker_is_wrong(monkeypatch, tmp_path):
    honest_infer = Conv2D.infer

    def off_by_one(self, input_shape):
        inference = honest_infer(self, input_shape)
        height, width, channels = inference.output_shape
        return Inference((height, width, channels + 1), inference.trainable_params, working=inference.working)

    monkeypatch.setattr(Conv2D, "infer", off_by_one)
    spec = tmp_path / "m.cnn"
    spec.write_text("model m {\n  input 8x8x1\n  conv 4 3x3\n}\n", encoding="utf-8")
    result = invoke("build", spec, "--backend", "keras", "--verify")
    assert result.exit_code == 1
    assert "error[E401]" in result.stderr
    assert "Keras builds layer `conv2d` with output shape 6x6x4; specc checked 6x6x5" in result.stderr
    assert "m.cnn:3:3" in result.stderr


@pytest.mark.keras
def test_verify_reports_a_model_keras_cannot_build_as_e401_not_a_traceback():
    checked = check_text("model m {\n  input 8x8x1\n  conv 4 3x3\n}\n")
    (report,) = checked.reports
    load_keras()
    module = run_module("MODELS = {'m': lambda: 1 / 0}\n", "<broken>")
    (found,) = build_and_compare(module, report)
    assert found.code == "E401" and "could not build model `m`" in found.message
    assert found.severity is Severity.ERROR


# --- specc build: where it writes, and what it refuses to overwrite ------------------------------


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "mnist.cnn"
    path.write_bytes((REPO / "examples" / "mnist.cnn").read_bytes())
    return path


def test_build_to_dash_writes_the_module_to_stdout_and_nothing_to_disk(spec):
    result = invoke("build", spec, "--backend", "keras", "-o", "-")
    assert result.exit_code == 0
    assert result.stdout.startswith(GENERATED_MARK)
    assert "def build_mnist() -> keras.Model:" in result.stdout
    assert not spec.with_name("mnist_keras.py").exists()


def test_build_into_a_directory_uses_the_default_name_there(spec, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert invoke("build", spec, "-b", "keras", "-o", out).exit_code == 0
    assert (out / "mnist_keras.py").exists()


def test_build_overwrites_its_own_earlier_output_and_leaves_no_temporary_files(spec):
    target = spec.with_name("mnist_keras.py")
    target.write_text(f"{GENERATED_MARK} 0.0.1 from an older spec\n", encoding="utf-8")
    assert invoke("build", spec, "--backend", "keras").exit_code == 0
    assert "def build_mnist()" in target.read_text(encoding="utf-8")
    assert sorted(p.name for p in spec.parent.iterdir()) == ["mnist.cnn", "mnist_keras.py"]


def test_build_refuses_a_spec_with_errors_with_the_diagnostics_of_check_and_writes_nothing(tmp_path):
    spec = tmp_path / "bad.cnn"
    spec.write_text("model b {\n  input 28x28x1\n  conv 32 3x3 stride=2\n}\n", encoding="utf-8")
    result = invoke("build", spec, "--backend", "keras")
    assert result.exit_code == 1
    assert f"{spec}:3:15: error[E202]: conv has no parameter `stride`" in result.stderr
    assert "did you mean `strides`?" in result.stderr
    assert not (tmp_path / "bad_keras.py").exists()


def test_build_into_a_missing_directory_is_a_usage_error(spec, tmp_path):
    result = invoke("build", spec, "--backend", "keras", "-o", tmp_path / "nowhere" / "m.py")
    assert result.exit_code == 2 and "no directory" in result.stderr


def test_build_needs_a_backend_and_knows_only_real_ones(spec):
    assert invoke("build", spec).exit_code == 2
    assert invoke("build", spec, "--backend", "caffe").exit_code == 2


@pytest.mark.keras
def test_a_file_of_several_models_gives_one_build_function_each_and_all_verify(tmp_path):
    spec = tmp_path / "two.cnn"
    spec.write_text(
        "model small {\n  input 8x8x1\n  conv 2 3\n}\nmodel empty {\n  input 4x4x2\n}\n"
        "model vector {\n  input 16\n  dense 4 relu\n  batchnorm\n  dense 2\n}\n",
        encoding="utf-8",
    )
    result = invoke("build", spec, "--backend", "keras", "--verify")
    assert result.exit_code == 0, result.output
    source = (tmp_path / "two_keras.py").read_text(encoding="utf-8")
    for name in ("small", "empty", "vector"):
        assert f"def build_{name}() -> keras.Model:" in source
        assert f"verified model {name} with Keras" in result.stderr
    assert "MODELS = {'small': build_small, 'empty': build_empty, 'vector': build_vector}" in source
