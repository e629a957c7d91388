"""What every backend promises alike: each example's module is its reviewed golden file and --verify agrees
with the checker on it, generated modules pass ruff, builds are byte-stable, `build` never overwrites a file
specc did not write and imports no framework without --verify, and --verify without the framework is a usage
error that says how to install it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from specc.backends.keras import emit_keras
from specc.backends.torch import RESERVED_ATTRIBUTES, emit_torch
from specc.backends.torch_module_names import NN_MODULE_ATTRIBUTES
from specc.pipeline import check_text
from specc.write import GENERATED_MARK

from cli_helpers import invoke

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples").glob("*.cnn"))
GOLDEN = Path(__file__).resolve().parent / "golden"
EMITTERS = {"keras": emit_keras, "torch": emit_torch}
# What `import` the backend's framework is, and what --verify says to install.
FRAMEWORK_MODULES = {"keras": ("keras", "Keras", "specc[keras]"), "torch": ("torch", "PyTorch", "specc[torch]")}
# Every helper class either backend defines: min pooling, uneven 'same' pools, exponential, dense and batch
# norm beyond rank 4.
HELPERS_SPEC = (
    "model h {\n  input 5x5x2\n  minpool 2 strides=2 same\n  avgpool 2 strides=1 same\n  activation exponential\n}\n"
    "model r {\n  input 2x2x2x2x2\n  dense 2\n  batchnorm\n}\n"
)

backends = pytest.mark.parametrize("backend", sorted(EMITTERS))


def emitted(path: Path, backend: str) -> str:
    checked = check_text(path.read_text(encoding="utf-8"))
    assert checked.ok
    return EMITTERS[backend](checked.reports, f"examples/{path.name}")


@backends
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_module_is_the_golden_file(path, backend):
    """The emitted code is reviewed once in tests/golden/<backend>; regenerate with SPECC_UPDATE_GOLDEN=1."""
    golden = GOLDEN / backend / f"{path.stem}_{backend}.py"
    source = emitted(path, backend)
    if os.environ.get("SPECC_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(source, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}; run with SPECC_UPDATE_GOLDEN=1 and review it"
    assert source == golden.read_text(encoding="utf-8")


@pytest.mark.keras
@backends
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_build_verify_on_an_example_writes_the_module_and_the_framework_agrees_with_the_checker(
    path, backend, tmp_path
):
    target = tmp_path / f"{path.stem}_{backend}.py"
    result = invoke("build", path, "--backend", backend, "-o", target, "--verify")
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8").startswith(GENERATED_MARK)
    framework = FRAMEWORK_MODULES[backend][1]
    assert f"with {framework}:" in result.stderr and "every shape and count as checked" in result.stderr


@backends
def test_generated_modules_pass_ruff_with_the_projects_rules_and_ruffs_defaults(backend, tmp_path):
    for path in EXAMPLES:
        (tmp_path / f"{path.stem}_{backend}.py").write_text(emitted(path, backend), encoding="utf-8")
    helpers = EMITTERS[backend](check_text(HELPERS_SPEC).reports, "helpers.cnn")
    (tmp_path / f"helpers_{backend}.py").write_text(helpers, encoding="utf-8")
    for rules in (["--isolated"], ["--isolated", "--select", "E,F,W,I,B,UP", "--line-length", "120"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", "check", *rules, str(tmp_path)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


@backends
def test_building_the_same_spec_twice_gives_byte_identical_files(backend, tmp_path):
    spec = tmp_path / "tour.cnn"
    spec.write_bytes((REPO / "examples" / "tour.cnn").read_bytes())
    assert invoke("build", spec, "--backend", backend).exit_code == 0
    first = (tmp_path / f"tour_{backend}.py").read_bytes()
    assert invoke("build", spec, "--backend", backend).exit_code == 0
    assert (tmp_path / f"tour_{backend}.py").read_bytes() == first


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "mnist.cnn"
    path.write_bytes((REPO / "examples" / "mnist.cnn").read_bytes())
    return path


@backends
def test_build_writes_spec_stem_backend_py_beside_the_spec_by_default(backend, spec):
    result = invoke("build", spec, "--backend", backend)
    assert result.exit_code == 0, result.output
    target = spec.with_name(f"mnist_{backend}.py")
    assert target.read_text(encoding="utf-8") == EMITTERS[backend](check_text(spec.read_text()).reports, str(spec))
    assert f"wrote {target}" in result.stderr


@backends
def test_build_refuses_to_overwrite_a_file_specc_did_not_generate_without_force(backend, spec):
    theirs = spec.with_name(f"mnist_{backend}.py")
    theirs.write_text("# my own training script\n", encoding="utf-8")
    result = invoke("build", spec, "--backend", backend)
    assert result.exit_code == 2
    assert "was not generated by specc; use --force" in result.stderr
    assert theirs.read_text(encoding="utf-8") == "# my own training script\n"
    assert invoke("build", spec, "--backend", backend, "--force").exit_code == 0
    assert theirs.read_text(encoding="utf-8").startswith(GENERATED_MARK)


@backends
def test_build_without_verify_imports_no_framework(backend, spec):
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "specc", "build", str(spec), "--backend", backend, "-o", "-"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert not imported & {"tensorflow", "keras", "torch", "numpy"}


@backends
def test_verify_without_the_framework_installed_is_a_usage_error_that_says_how_to_install_it(
    backend, spec, monkeypatch
):
    module, framework, extra = FRAMEWORK_MODULES[backend]
    monkeypatch.setitem(sys.modules, module, None)  # what `import <module>` sees when it is not installed
    result = invoke("build", spec, "--backend", backend, "--verify")
    assert result.exit_code == 2, result.output
    assert f"--verify needs {framework}" in result.stderr and f"pip install '{extra}'" in result.stderr
    assert spec.with_name(f"mnist_{backend}.py").exists()


@pytest.mark.keras
@backends
def test_layer_names_nn_module_has_itself_build_and_verify_in_either_backend(backend, tmp_path):
    """Names PyTorch's nn.Module has itself (`_call_impl`, `_modules`, `forward`...) are fine for Keras, which takes
    them as strings, and get attributes of their own in PyTorch; both builds agree with the checker."""
    names = sorted(NN_MODULE_ATTRIBUTES | RESERVED_ATTRIBUTES)
    spec = tmp_path / "names.cnn"
    spec.write_text("model m {\n  input 3\n" + "".join(f"  dense 2 name={n}\n" for n in names) + "}\n", "utf-8")
    result = invoke("build", spec, "--backend", backend, "-o", tmp_path / f"names_{backend}.py", "--verify")
    assert result.exit_code == 0, result.output
    assert "every shape and count as checked" in result.stderr


@pytest.mark.keras
def test_verify_with_keras_prints_only_specc_s_lines_not_tensorflow_s_start_up_messages(spec):
    """TensorFlow's C++ start-up messages (absl's, the CPU and oneDNN notices) go to file descriptor 2,
    which only a real process shows; they appear whenever the user's environment asks for them."""
    target = spec.with_name("mnist_keras.py")
    result = subprocess.run(
        [sys.executable, "-m", "specc", "build", str(spec), "--backend", "keras", "--verify"],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"wrote {target} (model mnist)",
        "verified model mnist with Keras: 8 layers, 93,322 params, every shape and count as checked",
    ]


@pytest.mark.keras
def test_verify_verbose_leaves_tensorflow_s_log_level_as_the_user_set_it(monkeypatch):
    from specc.backends.keras_verify import load_keras

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    load_keras(verbose=True)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    load_keras()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"


@backends
def test_verify_of_a_one_layer_model_says_1_layer(backend, write):
    path = write("one.cnn", "model one {\n  input 4x4x1\n  flatten\n}\n")
    result = invoke("build", path, "--backend", backend, "--verify")
    assert result.exit_code == 0, result.output
    framework = FRAMEWORK_MODULES[backend][1]
    assert f"verified model one with {framework}: 1 layer, 0 params" in result.stderr
