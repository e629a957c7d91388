"""The command line: exit codes 0/1/2, the text and JSON output of `specc check`, `specc summary`,
the diagnostics of every fixture in tests/bad/ as the user sees them, and that no framework is imported."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from specc import __version__
from specc.cli import app
from specc.pipeline import check_bytes

from cli_helpers import invoke

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
MNIST = EXAMPLES / "mnist.cnn"
BAD = Path(__file__).resolve().parent / "bad"
EXPECTED = json.loads((BAD / "expected.json").read_text(encoding="utf-8"))
FIXTURES = sorted(name for name in EXPECTED if not name.startswith("_"))

BAD_SPEC = "model b {\n  input 28x28x1\n  conv 32 3x3 stride=2\n  maxpol 2x2\n  flatten\n}\n"
WARNING_SPEC = "model w {\n  input 8x8x3\n  dense 4\n}\n"


def assert_not_a_crash(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


# --- exit codes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.cnn")))
def test_check_on_a_shipped_example_exits_0_with_a_result_line_and_no_diagnostics(example):
    result = invoke("check", EXAMPLES / example)
    assert result.exit_code == 0, result.output
    assert "error[" not in result.stdout and "warning[" not in result.stdout
    assert re.search(r": model \w+: \d+x\d+x\d+ -> \d+, [\d,]+ params", result.stdout)
    assert "checked 1 file: 0 errors, 0 warnings" in result.stderr


def test_check_on_a_spec_with_errors_exits_1_and_reports_each_error(write):
    path = write("bad.cnn", BAD_SPEC)
    result = invoke("check", path)
    assert result.exit_code == 1
    assert f"{path}:3:15: error[E202]: conv has no parameter `stride`" in result.stdout
    assert f"{path}:4:3: error[E201]: unknown layer kind `maxpol`" in result.stdout
    assert "checked 1 file: 2 errors, 0 warnings" in result.stderr


def test_check_on_a_spec_with_only_warnings_exits_0_and_prints_the_warning(write):
    path = write("warn.cnn", WARNING_SPEC)
    result = invoke("check", path)
    assert result.exit_code == 0, result.output
    assert f"{path}:3:3: warning[W301]: dense on a 8x8x3 input" in result.stdout
    assert f"{path}: model w: 8x8x3 -> 8x8x4" in result.stdout
    assert "0 errors, 1 warning" in result.stderr


def test_check_with_one_bad_file_among_good_ones_exits_1_and_names_each_file(write):
    bad = write("bad.cnn", BAD_SPEC)
    result = invoke("check", MNIST, bad, EXAMPLES / "cifar10.cnn")
    assert result.exit_code == 1
    assert f"{MNIST}: model mnist:" in result.stdout
    assert f"{bad}:3:15: error[E202]" in result.stdout
    assert "checked 3 files: 2 errors, 0 warnings" in result.stderr


def test_check_on_a_missing_file_is_a_usage_error_naming_the_file(tmp_path):
    missing = tmp_path / "nope.cnn"
    result = invoke("check", missing)
    assert result.exit_code == 2
    assert f"no such file: {missing}" in result.stderr
    assert result.stdout == ""


def test_a_missing_file_among_good_files_is_still_a_usage_error(tmp_path):
    result = invoke("check", MNIST, tmp_path / "nope.cnn")
    assert result.exit_code == 2
    assert "nope.cnn" in result.stderr


def test_check_on_a_directory_is_a_usage_error_naming_the_directory():
    result = invoke("check", EXAMPLES)
    assert result.exit_code == 2
    assert f"{EXAMPLES} is a directory" in result.stderr


def test_specc_without_arguments_is_a_usage_error_showing_help():
    result = invoke()
    assert result.exit_code == 2
    assert "Usage" in result.output


@pytest.mark.parametrize("command", ["check", "summary"])
def test_a_command_without_its_file_argument_is_a_usage_error(command):
    result = invoke(command)
    assert result.exit_code == 2
    assert "Missing argument" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("check", "--bogus", str(MNIST)),
        ("check", "--format", "xml", str(MNIST)),
        ("summary", "--bogus", str(MNIST)),
        ("frobnicate",),
        ("--bogus",),
    ],
)
def test_unknown_options_commands_and_option_values_are_usage_errors(args):
    result = invoke(*args)
    assert result.exit_code == 2
    assert_not_a_crash(result)


def test_version_prints_the_package_version_and_exits_0():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"specc {__version__}"


# --- JSON output --------------------------------------------------------------------------------


def test_json_output_for_mnist_is_one_document_with_every_layer_and_the_totals():
    result = invoke("check", "--format", "json", MNIST)
    assert result.exit_code == 0
    assert result.stderr == ""
    document = json.loads(result.stdout)
    (file,) = document["files"]
    assert file["path"] == str(MNIST)
    assert file["diagnostics"] == []
    (model,) = file["models"]
    assert model["name"] == "mnist"
    assert model["input_shape"] == [28, 28, 1]
    assert model["output_shape"] == [10]
    assert (model["total_params"], model["trainable_params"], model["non_trainable_params"]) == (93322, 93322, 0)
    first = model["layers"][0]
    assert (first["name"], first["kind"], first["line"]) == ("conv2d_1", "conv2d", 5)
    assert first["output_shape"] == [26, 26, 32]
    assert (first["params"], first["trainable_params"]) == (320, 320)
    assert [layer["name"] for layer in model["layers"]] == [
        "conv2d_1",
        "maxpool2d_1",
        "conv2d_2",
        "maxpool2d_2",
        "conv2d_3",
        "flatten_1",
        "dense_1",
        "dense_2",
    ]
    assert [layer["line"] for layer in model["layers"]] == list(range(5, 13))
    assert sum(layer["params"] for layer in model["layers"]) == 93322
    for layer in model["layers"]:
        assert set(layer) >= {"name", "kind", "line", "output_shape", "params", "trainable_params"}


def test_json_output_for_a_bad_file_lists_diagnostics_with_positions_and_exits_1(write):
    path = write("bad.cnn", BAD_SPEC)
    result = invoke("check", "--format", "json", path)
    assert result.exit_code == 1
    (file,) = json.loads(result.stdout)["files"]
    assert file["path"] == str(path)
    assert file["ok"] is False
    assert file["diagnostics"] == [
        {
            "severity": "error",
            "code": "E202",
            "message": "conv has no parameter `stride`",
            "line": 3,
            "column": 15,
            "end_line": 3,
            "end_column": 21,
            "hint": "did you mean `strides`?",
        },
        {
            "severity": "error",
            "code": "E201",
            "message": "unknown layer kind `maxpol`",
            "line": 4,
            "column": 3,
            "end_line": 4,
            "end_column": 9,
            "hint": "did you mean `maxpool`?",
        },
    ]
    (model,) = file["models"]
    assert model["name"] == "b"
    assert model["output_shape"] is None  # a line failed to lower, so the shapes after it are unknown


def test_json_output_for_several_files_is_still_one_document(write):
    bad = write("bad.cnn", BAD_SPEC)
    warn = write("warn.cnn", WARNING_SPEC)
    result = invoke("check", "-f", "json", MNIST, bad, warn)
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert [f["path"] for f in document["files"]] == [str(MNIST), str(bad), str(warn)]
    assert [d["severity"] for d in document["files"][2]["diagnostics"]] == ["warning"]
    assert document["files"][2]["models"][0]["output_shape"] == [8, 8, 4]


def test_json_output_for_a_file_that_is_not_text_reports_e100(write):
    path = write("binary.cnn", b"\xff\xfe\x00garbage")
    result = invoke("check", "--format", "json", path)
    assert result.exit_code == 1
    (file,) = json.loads(result.stdout)["files"]
    assert [d["code"] for d in file["diagnostics"]] == ["E100"]
    assert file["models"] == []


# --- summary ------------------------------------------------------------------------------------


def test_summary_of_mnist_prints_every_layer_and_the_keras_totals():
    result = invoke("summary", MNIST)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert 'Model: "mnist"' in out
    for name, keras_class, shape, params in [
        ("conv2d_1", "Conv2D", "(None, 26, 26, 32)", "320"),
        ("maxpool2d_1", "MaxPooling2D", "(None, 13, 13, 32)", "0"),
        ("conv2d_2", "Conv2D", "(None, 11, 11, 64)", "18,496"),
        ("maxpool2d_2", "MaxPooling2D", "(None, 5, 5, 64)", "0"),
        ("conv2d_3", "Conv2D", "(None, 3, 3, 64)", "36,928"),
        ("flatten_1", "Flatten", "(None, 576)", "0"),
        ("dense_1", "Dense", "(None, 64)", "36,928"),
        ("dense_2", "Dense", "(None, 10)", "650"),
    ]:
        row = next((line for line in out.splitlines() if f"{name} ({keras_class})" in line), None)
        assert row is not None, f"no row for {name}"
        assert shape in row and re.search(rf"\b{params}\b", row)
    assert "Total params: 93,322" in out
    assert "Trainable params: 93,322" in out
    assert "Non-trainable params: 0" in out


def test_summary_explain_shows_the_arithmetic_behind_each_shape_and_count():
    result = CliRunner().invoke(app, ["summary", str(MNIST), "--explain"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "height: floor((28 - 3) / 1) + 1 = 26" in result.stdout
    assert "params: 3*3*1*32 + 32 = 320" in result.stdout
    assert "3 * 3 * 64 = 576" in result.stdout


def test_summary_with_model_selects_that_model():
    result = invoke("summary", MNIST, "--model", "mnist")
    assert result.exit_code == 0
    assert "Total params: 93,322" in result.stdout


def test_summary_of_a_model_the_file_lacks_is_a_usage_error_listing_the_models():
    result = invoke("summary", MNIST, "--model", "nope")
    assert result.exit_code == 2
    assert "no model `nope`" in result.stderr and "mnist" in result.stderr


def test_summary_of_a_bad_spec_exits_1_with_its_diagnostics_and_no_table(write):
    path = write("bad.cnn", BAD_SPEC)
    result = invoke("summary", path)
    assert result.exit_code == 1
    assert f"{path}:3:15: error[E202]" in result.stdout
    assert "Total params" not in result.stdout


def test_summary_of_a_warning_only_spec_exits_0_with_the_table(write):
    result = invoke("summary", write("warn.cnn", WARNING_SPEC))
    assert result.exit_code == 0
    assert "Total params: 16" in result.stdout


@pytest.mark.parametrize("target", ["missing", "directory"])
def test_summary_of_a_missing_file_or_a_directory_is_a_usage_error(tmp_path, target):
    path = tmp_path / "nope.cnn" if target == "missing" else tmp_path
    result = invoke("summary", path)
    assert result.exit_code == 2
    assert str(path) in result.stderr


# --- the fixtures in tests/bad: exact positions and how they are shown --------------------------


def test_the_fixtures_cover_every_diagnostic_code_family():
    codes = {code for name in FIXTURES for code, _, _ in EXPECTED[name]["diagnostics"]}
    assert len(FIXTURES) >= 12
    assert codes >= {
        "E100",
        "E101",
        "E102",
        "E103",
        "E104",
        "E201",
        "E202",
        "E203",
        "E204",
        "E205",
        "E206",
        "E207",
        "E208",
        "E209",
        "E210",
        "E211",
        "E212",
        "E213",
        "E301",
        "E302",
        "W301",
        "W302",
    }
    assert sorted(p.name for p in BAD.glob("*.cnn")) == FIXTURES


@pytest.mark.parametrize("fixture", FIXTURES)
def test_fixture_reports_exactly_the_expected_codes_at_the_expected_positions(fixture):
    result = invoke("check", "--format", "json", BAD / fixture)
    expected = EXPECTED[fixture]
    assert result.exit_code == expected["exit"]
    (file,) = json.loads(result.stdout)["files"]
    found = [[d["code"], d["line"], d["column"]] for d in file["diagnostics"]]
    assert found == expected["diagnostics"]


def _assert_rendered(out_lines: list[str], path: str, source_lines: list[str], diagnostic) -> None:
    span = diagnostic.span
    head = f"{path}:{span.line}:{span.column}: {diagnostic.severity.value}[{diagnostic.code}]: {diagnostic.message}"
    assert head in out_lines, f"no line {head!r}"
    at = out_lines.index(head)
    gutter = " " * len(str(span.line))
    assert out_lines[at + 1] == f"{gutter} |"
    assert out_lines[at + 2] == f"{span.line} | {source_lines[span.line - 1]}"
    caret_line = out_lines[at + 3]
    prefix = f"{gutter} | "
    assert caret_line.startswith(prefix)
    carets = caret_line[len(prefix) :]
    assert carets.lstrip(" ").startswith("^") and set(carets.strip()) == {"^"}
    assert len(carets) - len(carets.lstrip(" ")) == span.column - 1, "caret under the wrong column"
    if span.end_line == span.line:
        assert len(carets.strip()) == max(span.end_column - span.column, 1)
    if diagnostic.hint:
        assert out_lines[at + 4] == f"{gutter} = hint: {diagnostic.hint}"


@pytest.mark.parametrize("fixture", FIXTURES)
def test_fixture_text_output_shows_location_source_line_caret_and_hint(fixture):
    path = BAD / fixture
    result = invoke("check", path)
    assert result.exit_code == EXPECTED[fixture]["exit"]
    assert_not_a_crash(result)
    data = path.read_bytes()
    checked = check_bytes(data)
    source_lines = data.decode("utf-8-sig", errors="replace").replace("\x00", "\ufffd").split("\n")
    out_lines = result.stdout.split("\n")
    assert len(checked.diagnostics) == len(EXPECTED[fixture]["diagnostics"])
    for diagnostic in checked.diagnostics:
        _assert_rendered(out_lines, str(path), source_lines, diagnostic)


def test_a_caret_under_a_tab_indented_token_keeps_the_tab(write):
    path = write("tabs.cnn", "model m {\n\tinput 28x28x1\n\tmaxpol 2x2\n}\n")
    out = invoke("check", path).stdout.split("\n")
    at = out.index(f"{path}:3:2: error[E201]: unknown layer kind `maxpol`")
    assert out[at + 2] == "3 | \tmaxpol 2x2"
    assert out[at + 3] == "  | \t^^^^^^"


def test_an_unclosed_block_in_a_file_ending_with_a_newline_still_shows_a_source_line_and_caret(write):
    path = write("open.cnn", "model m {\n  input 28x28x1\n  conv 32 3x3\n")
    result = invoke("check", path)
    assert result.exit_code == 1
    assert "error[E103]" in result.stdout
    assert re.search(r"^\s*\d+ \| ", result.stdout, re.M), result.stdout
    assert "^" in result.stdout


@pytest.mark.parametrize(
    "separator",
    [
        pytest.param("\f", id="form-feed"),
        pytest.param("\r", id="lone-CR"),
        pytest.param("\u2028", id="line-separator"),
        pytest.param("\x1c", id="file-separator"),
    ],
)
def test_the_quoted_source_line_is_the_line_the_diagnostic_is_on_after_a_comment_with_a_line_break_lookalike(
    write, separator
):
    path = write("ff.cnn", f"model m {{  # a{separator}b\n  input 28x28x1\n  maxpol 2x2\n  flatten\n}}\n")
    result = invoke("check", path)
    assert result.exit_code == 1
    out = result.stdout.split("\n")
    at = out.index(f"{path}:3:3: error[E201]: unknown layer kind `maxpol`")
    assert out[at + 2] == "3 |   maxpol 2x2"


def test_the_too_many_arguments_hint_suggests_only_parameters_the_layer_has(write):
    result = invoke("check", write("dense.cnn", "model m {\n  input 4\n  dense 10 20\n}\n"))
    assert "error[E208]" in result.stdout
    assert "strides" not in result.stdout


# --- real processes -----------------------------------------------------------------------------


def run_specc(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *kwargs.pop("python_flags", ()), "-m", "specc", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        **kwargs,
    )


def test_python_m_specc_check_exits_0_on_mnist_and_1_on_a_bad_spec_and_2_on_a_missing_file(tmp_path):
    bad = tmp_path / "bad.cnn"
    bad.write_text(BAD_SPEC, encoding="utf-8")
    clean = run_specc("check", "examples/mnist.cnn")
    assert clean.returncode == 0, clean.stderr
    assert "examples/mnist.cnn: model mnist: 28x28x1 -> 10, 93,322 params" in clean.stdout
    failed = run_specc("check", bad)
    assert failed.returncode == 1
    assert f"{bad}:4:3: error[E201]: unknown layer kind `maxpol`" in failed.stdout
    assert "Traceback" not in failed.stderr
    missing = run_specc("check", tmp_path / "nope.cnn")
    assert missing.returncode == 2
    assert "nope.cnn" in missing.stderr and "Traceback" not in missing.stderr


def test_python_m_specc_summary_prints_the_table():
    result = run_specc("summary", "examples/mnist.cnn")
    assert result.returncode == 0, result.stderr
    assert "Total params: 93,322" in result.stdout


def test_check_imports_no_deep_learning_framework():
    result = run_specc("check", "examples/mnist.cnn", python_flags=("-X", "importtime"))
    assert result.returncode == 0, result.stderr
    imported = {m.group(1).strip() for m in re.finditer(r"^import time:\s*\d+ \|\s*\d+ \|(.*)$", result.stderr, re.M)}
    assert imported, "no -X importtime output"
    assert "specc.cli" in imported
    top_level = {name.split(".")[0] for name in imported}
    assert not top_level & {"tensorflow", "keras", "torch", "jax"}
    for banned in ("tensorflow", "keras", "torch"):
        assert banned not in result.stderr


# Runs `specc check` in a fresh interpreter, then reports what the run imported and which pydantic
# validators it built: the start-up cost of a check is mostly imports and schema building.
_CHECK_AND_REPORT = """
import json, runpy, sys
sys.argv = ["specc", "check", "examples/mnist.cnn"]
try:
    runpy.run_module("specc", run_name="__main__")
except SystemExit as exit:
    code = exit.code
import specc.ir, specc.layers
built = [c.__name__ for c in (specc.ir.SpecFile, specc.ir.Model, *specc.layers.LAYER_KINDS) if c.__pydantic_complete__]
print(json.dumps({"code": code, "modules": sorted(sys.modules), "built": built}))
"""


def test_check_imports_and_builds_only_what_checking_the_spec_needs():
    result = subprocess.run(
        [sys.executable, "-c", _CHECK_AND_REPORT], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["code"] == 0
    modules = set(report["modules"])
    # The other commands' modules, and the libraries only they use, stay unloaded.
    for module in ("rich", "pygls", "lsprotocol", "specc.backends", "specc.lsp", "specc.summary", "specc.fmt"):
        assert module not in modules
    assert not {m for m in modules if m.startswith(("specc.sarif", "specc.write", "specc.backends.", "specc.lsp."))}
    # Only the layer kinds mnist.cnn uses get a validator; the model and the file are not validated
    # again, which would build the schema of every layer kind for nothing.
    assert report["built"] == ["Conv2D", "MaxPool2D", "Flatten", "Dense"]
