"""`specc train` as a command line: what it refuses before building (exit 2), a spec with errors (exit 1), which
model it trains, the module it writes (build's), and the script command it runs, whose exit code it returns.
The script is not run here (subprocess.Popen is replaced); tests/test_train_end_to_end.py runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from specc.cli import app

from cli_helpers import invoke

TRAINED = """model small {
  input 16x16x3
  conv 8 3x3 relu
  global_avgpool
  dense 3 softmax

  train {
    optimizer sgd learning_rate=0.1 momentum=0.9
    epochs 4
  }
}
"""

UNTRAINED = """model plain {
  input 16x16x3
  conv 8 3x3 relu
  global_avgpool
  dense 3 softmax
}
"""


@pytest.fixture
def ran(monkeypatch):
    """The commands `specc train` runs, in order; each exits with the code `ran.exit_code` (0 unless set)."""

    class Ran(list):
        exit_code = 0

    commands = Ran()

    class Process:
        def __init__(self, command):
            commands.append(command)

        def wait(self):
            return commands.exit_code

    monkeypatch.setattr(subprocess, "Popen", Process)
    return commands


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    return folder


def test_train_writes_the_module_build_writes_and_runs_it_with_this_python_on_the_data(write, data, ran):
    spec = write("small.cnn", TRAINED)
    result = invoke("train", spec, "--backend", "keras", "--data", data)
    assert result.exit_code == 0, result.output
    module = spec.with_name("small_keras.py")
    built = spec.with_name("built.py")
    assert invoke("build", spec, "--backend", "keras", "-o", built).exit_code == 0
    assert module.read_text(encoding="utf-8") == built.read_text(encoding="utf-8")
    assert ran == [[sys.executable, str(module), "--data", str(data)]]
    assert f"wrote {module}; training model small with Keras" in result.stderr


@pytest.mark.parametrize("code", [1, 2, 3])
def test_train_exits_with_the_scripts_exit_code(write, data, ran, code):
    ran.exit_code = code
    result = invoke("train", write("small.cnn", TRAINED), "--backend", "torch", "--data", data)
    assert result.exit_code == code


def test_a_script_killed_by_a_signal_exits_128_plus_the_signal_as_a_shell_reports_it(write, data, ran):
    ran.exit_code = -9
    result = invoke("train", write("small.cnn", TRAINED), "--backend", "torch", "--data", data)
    assert result.exit_code == 137


def test_epochs_model_and_the_arguments_after_the_separator_go_to_the_script(write, data, ran):
    spec = write("two.cnn", TRAINED + UNTRAINED)
    result = invoke(
        "train", spec, "-b", "torch", "--data", data, "--epochs", "2", "--model", "small", "--", "--output", "m.pt"
    )
    assert result.exit_code == 0, result.output
    (command,) = ran
    assert command[2:] == ["--data", str(data), "--epochs", "2", "--model", "small", "--output", "m.pt"]


def test_a_second_file_without_the_separator_is_a_usage_error_not_an_argument_of_the_script(write, data, ran):
    spec = write("small.cnn", TRAINED)
    result = invoke("train", spec, spec, "--backend", "keras", "--data", data)
    assert result.exit_code == 2
    assert ran == []


def test_missing_data_is_a_usage_error_before_anything_is_built(write, tmp_path, ran):
    spec = write("small.cnn", TRAINED)
    result = invoke("train", spec, "--backend", "keras", "--data", tmp_path / "nowhere")
    assert result.exit_code == 2
    assert f"--data {tmp_path / 'nowhere'}: no such file or directory" in result.stderr
    assert not spec.with_name("small_keras.py").exists()
    assert ran == []


def test_a_spec_with_errors_prints_its_diagnostics_and_exits_1_without_building(write, data, ran):
    spec = write("bad.cnn", TRAINED.replace("conv 8 3x3", "conv 8 3x3 stride=2"))
    result = invoke("train", spec, "--backend", "keras", "--data", data)
    assert result.exit_code == 1
    assert "error[E202]" in result.stderr
    assert "nothing was built or trained" in result.stderr
    assert not spec.with_name("bad_keras.py").exists()
    assert ran == []


def test_several_models_and_none_named_is_a_usage_error_naming_them(write, data, ran):
    result = invoke("train", write("two.cnn", TRAINED + UNTRAINED), "--backend", "keras", "--data", data)
    assert result.exit_code == 2
    assert "has 2 models (small, plain); name the one to train with --model" in result.stderr
    assert ran == []


def test_a_model_the_file_does_not_have_is_a_usage_error_naming_those_it_has(write, data, ran):
    result = invoke("train", write("small.cnn", TRAINED), "-b", "keras", "--data", data, "--model", "big")
    assert result.exit_code == 2
    assert "has no model `big`; it has: small" in result.stderr


def test_writing_the_module_to_stdout_is_a_usage_error_since_train_runs_it(write, data, ran):
    result = invoke("train", write("small.cnn", TRAINED), "-b", "keras", "--data", data, "-o", "-")
    assert result.exit_code == 2
    assert ran == []


def test_an_existing_file_specc_did_not_write_is_kept_unless_forced(write, data, ran):
    spec = write("small.cnn", TRAINED)
    mine = write("small_torch.py", "print('mine')\n")
    result = invoke("train", spec, "-b", "torch", "--data", data)
    assert result.exit_code == 2
    assert "use --force to overwrite it" in result.stderr
    assert mine.read_text() == "print('mine')\n"
    assert invoke("train", spec, "-b", "torch", "--data", data, "--force").exit_code == 0
    assert mine.read_text() != "print('mine')\n"


@pytest.mark.parametrize("backend", ["keras", "torch"])
def test_a_model_without_a_train_section_trains_with_the_defaults_and_says_so(write, data, ran, backend):
    spec = write("plain.cnn", UNTRAINED)
    result = invoke("train", spec, "-b", backend, "--data", data)
    assert result.exit_code == 0, result.output
    assert "model plain has no train section; training with the defaults: " in result.stderr
    assert "sparse_categorical_crossentropy" in result.stderr
    # The module trains (the backends emit training code only for a model with training settings).
    trained = spec.with_name(f"plain_{backend}.py").read_text(encoding="utf-8")
    built = invoke("build", spec, "-b", backend, "-o", "-").stdout
    assert trained != built and "--data" in trained


def test_help_shows_the_separator_for_the_scripts_arguments():
    result = invoke("train", "--help")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].endswith("train [OPTIONS] FILE [-- SCRIPT_ARG...]")
    assert all(len(line) <= 80 for line in result.stdout.splitlines())


def test_train_is_listed_right_after_build():
    names = [command.name or command.callback.__name__ for command in app.registered_commands]
    assert names.index("train") == names.index("build") + 1


def test_what_a_backend_cannot_train_is_said_with_exit_1_and_nothing_is_written(write, data, ran):
    spec = write(
        "two.cnn",
        "model two {\n  a = input 8x8x3\n  b = input 8x8x3\n  m = concat a b\n  global_avgpool\n  dense 2 softmax\n}\n",
    )
    result = invoke("train", spec, "-b", "torch", "--data", data)
    assert result.exit_code == 1, result.output
    assert "the PyTorch backend cannot train" in result.stderr and "one input" in result.stderr
    assert not spec.with_name("two_torch.py").exists()
    assert ran == []


def test_a_real_script_killed_by_a_signal_gives_128_plus_the_signal():
    from specc.cli import _run_script

    assert _run_script([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]) == 137
    assert _run_script([sys.executable, "-c", "raise SystemExit(2)"]) == 2
