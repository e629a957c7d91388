"""The command line: exit codes 0/1/2, the text and JSON output of `specc check`, `specc summary`,
the diagnostics of every fixture in tests/bad/ as the user sees them, and that no framework is imported."""

from __future__ import annotations

import difflib
import json
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from specc import __version__
from specc.cli import app
from specc.pipeline import check_bytes, check_text

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
    # An open input is written as the spec writes it (HxWx3) and its output as formulas, then what it accepts.
    assert re.search(r": model \w+: \w+x\w+x\d+ -> \w+(x\w+)*(, |; accepts .*; )[\d,]+ params", result.stdout)
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


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        ((), "[OPTIONS] COMMAND [ARGS]..."),
        (("check",), "check [OPTIONS] FILE..."),
        (("summary",), "summary [OPTIONS] FILE"),
        (("build",), "build [OPTIONS] FILE"),
        (("fmt",), "fmt [OPTIONS] FILE..."),
        (("lsp",), "lsp [OPTIONS]"),
    ],
)
def test_help_names_arguments_as_command_lines_do_and_puts_no_placeholder_after_a_flag(command, usage):
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Usage: ") and lines[0].endswith(f" {usage}")
    for placeholder in ("<bool>", "<path>", "<str>", "list[", "{file"):
        assert placeholder not in result.stdout
    flags = ("--version", "--help", "--explain", "--force", "--verify", "--verbose", "--check")
    for line in lines:
        assert len(line) <= 80, line
        for flag in flags:
            if line.strip().startswith(flag) or f", {flag} " in line:
                # A flag's help follows it after spaces; a placeholder would stand right after it.
                assert re.match(rf"\s*(-\w, )?{flag}( {{2,}}\S|$)", line), line


def test_version_prints_the_package_version_and_exits_0():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"specc {__version__}"


# --- fixes -------------------------------------------------------------------------------------

FIXABLE_SPEC = (
    "model f {\n  input 28x28x1\n  conv 32 3x3 stride=2 same same\n  maxpol 2x2; flatten\n  dense 10 softmx\n}\n"
)
FIXED_SPEC = "model f {\n  input 28x28x1\n  conv 32 3x3 strides=2 same\n  maxpool 2x2; flatten\n  dense 10 softmax\n}\n"


def test_check_fix_applies_the_fixes_the_diagnostics_offer_in_place_and_exits_0_when_none_is_left(write):
    path = write("fixable.cnn", FIXABLE_SPEC)
    offered = [d.fixes for d in check_text(FIXABLE_SPEC).diagnostics]
    assert len(offered) == 4 and all(len(fixes) == 1 for fixes in offered)
    path.chmod(0o640)
    result = invoke("check", "--fix", path)
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8") == FIXED_SPEC
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["fixable.cnn"]
    assert f"fixed 4 errors in {path}" in result.stderr
    assert f"{path}: model f: 28x28x1 -> 10" in result.stdout


def test_check_fix_exits_1_with_the_errors_no_fix_repairs(write):
    spec = BAD_SPEC.replace("flatten", "conv 8 9x9")
    path = write("bad.cnn", spec)
    result = invoke("check", "--fix", path)
    assert result.exit_code == 1
    assert path.read_text(encoding="utf-8") == spec.replace("stride=", "strides=").replace("maxpol", "maxpool")
    assert f"fixed 2 errors in {path}" in result.stderr
    assert f"{path}:5:10: error[E301]" in result.stdout
    assert "checked 1 file: 1 error, 0 warnings" in result.stderr


def test_check_diff_prints_the_fixes_as_a_unified_diff_and_changes_nothing(write):
    path = write("fixable.cnn", FIXABLE_SPEC)
    result = invoke("check", "--diff", path)
    assert result.exit_code == 1
    assert path.read_text(encoding="utf-8") == FIXABLE_SPEC
    assert result.stdout == "".join(
        difflib.unified_diff(
            FIXABLE_SPEC.splitlines(keepends=True), FIXED_SPEC.splitlines(keepends=True), str(path), str(path)
        )
    )
    assert f"would fix 4 errors in {path}" in result.stderr


def test_check_diff_of_a_file_without_a_final_newline_is_a_diff_patch_applies(write, tmp_path):
    path = write("fixable.cnn", FIXABLE_SPEC.rstrip("\n"))
    result = invoke("check", "--diff", path)
    assert result.stdout.endswith("\n }\n\\ No newline at end of file\n")
    patch = subprocess.run(["patch", "--dry-run", str(path)], input=result.stdout, capture_output=True, text=True)
    assert patch.returncode == 0, patch.stdout + patch.stderr


def test_check_fix_leaves_a_warnings_fix_which_would_change_a_valid_network_to_the_user(write):
    path = write("warn.cnn", WARNING_SPEC)
    assert check_text(WARNING_SPEC).diagnostics[0].fixes
    result = invoke("check", "--fix", path)
    assert result.exit_code == 0
    assert path.read_text(encoding="utf-8") == WARNING_SPEC
    assert "fixed" not in result.stderr


def test_check_fix_keeps_a_byte_order_mark_and_crlf_line_ends(write):
    path = write("crlf.cnn", b"\xef\xbb\xbf" + FIXABLE_SPEC.replace("\n", "\r\n").encode())
    assert invoke("check", "--fix", path).exit_code == 0
    assert path.read_bytes() == b"\xef\xbb\xbf" + FIXED_SPEC.replace("\n", "\r\n").encode()


def test_fixes_that_overlap_or_insert_at_the_same_place_go_in_one_at_a_time():
    from specc.diagnostics import Fix, Span
    from specc.fixes import apply_fixes

    text = "abcdef\nxyz\n"
    fixes = [
        Fix("one", Span(1, 2, 1, 4), "B"),
        Fix("overlaps one", Span(1, 3, 1, 5), "C"),
        Fix("insert", Span.empty(2, 1), ">"),
        Fix("insert again", Span.empty(2, 1), "<"),
        Fix("at the end of one", Span(1, 4, 1, 5), "D"),
    ]
    assert apply_fixes(text, fixes) == ("aBDef\n>xyz\n", 3)


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
    assert (first["name"], first["kind"], first["line"]) == ("conv2d", "conv2d", 5)
    assert first["output_shape"] == [26, 26, 32]
    assert (first["params"], first["trainable_params"]) == (320, 320)
    assert [layer["name"] for layer in model["layers"]] == [
        "conv2d",
        "max_pooling2d",
        "conv2d_1",
        "max_pooling2d_1",
        "conv2d_2",
        "flatten",
        "dense",
        "dense_1",
    ]
    assert [layer["line"] for layer in model["layers"]] == list(range(5, 13))
    assert sum(layer["params"] for layer in model["layers"]) == 93322
    for layer in model["layers"]:
        assert set(layer) >= {"name", "kind", "line", "output_shape", "params", "trainable_params"}


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.cnn")))
def test_json_layers_carry_the_spelling_the_spec_writes_beside_the_ir_kind(example):
    """`kind` is the IR's name (`conv2d`); `spelling` is the word that starts the layer's line (`conv`), after the
    value's name where the line names it (`c = conv ...`). A backbone's layers stand at its line but are written in
    its zoo spec, where their spelling is checked."""
    path = EXAMPLES / example
    lines = path.read_text(encoding="utf-8").split("\n")
    (file,) = json.loads(invoke("check", "--format", "json", path).stdout)["files"]
    for model in file["models"]:
        backbone_lines = {use["line"] for use in model["block_uses"] if use["backbone"] is not None}
        for layer in model["layers"]:
            if layer["line"] in backbone_lines:
                assert lines[layer["line"] - 1].split()[0] == "backbone"
                continue
            words = lines[layer["line"] - 1].split()
            assert layer["spelling"] == (words[2] if words[1:2] == ["="] else words[0]), layer
    kinds = {layer["kind"]: layer["spelling"] for model in file["models"] for layer in model["layers"]}
    assert kinds.get("conv2d", "conv") == "conv" and kinds.get("maxpool2d", "maxpool") == "maxpool"


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


def test_json_output_lists_a_diagnostics_notes_with_their_positions():
    result = invoke("check", "--format", "json", BAD / "e302_input_without_channels.cnn")
    (file,) = json.loads(result.stdout)["files"]
    (diagnostic,) = file["diagnostics"]
    assert diagnostic["notes"] == [
        {"message": "the input is 28x28 here", "line": 3, "column": 3, "end_line": 3, "end_column": 14}
    ]


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
        ("conv2d", "Conv2D", "(None, 26, 26, 32)", "320"),
        ("max_pooling2d", "MaxPooling2D", "(None, 13, 13, 32)", "0"),
        ("conv2d_1", "Conv2D", "(None, 11, 11, 64)", "18,496"),
        ("max_pooling2d_1", "MaxPooling2D", "(None, 5, 5, 64)", "0"),
        ("conv2d_2", "Conv2D", "(None, 3, 3, 64)", "36,928"),
        ("flatten", "Flatten", "(None, 576)", "0"),
        ("dense", "Dense", "(None, 64)", "36,928"),
        ("dense_1", "Dense", "(None, 10)", "650"),
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


def summary_at(columns: int, *args: object):
    return CliRunner().invoke(app, ["summary", *map(str, args)], env={"COLUMNS": str(columns)})


@pytest.mark.parametrize("columns", [80, 200])
def test_summary_explain_puts_each_layers_arithmetic_under_its_row_and_cuts_nothing(columns):
    spec = EXAMPLES / "mnist_batchnorm.cnn"
    result = summary_at(columns, spec, "--explain")
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    lines = result.stdout.splitlines()
    assert all(len(line) <= columns for line in lines)
    text = [line.strip("│┃ ") for line in lines]
    [report] = check_text(spec.read_text(encoding="utf-8")).reports
    for layer_report in report.layers:
        layer, inference = layer_report.layer, layer_report.inference
        shape = "(None, " + ", ".join(map(str, inference.output_shape)) + ")"
        # The row on one line: name (type), shape, count and line; a name and type wider than their column
        # (`batch_normalization (BatchNormalization)` at 80) put the type on the next line, as Keras does.
        row = re.compile(
            rf"{layer.name}( \({layer.keras_class}\))? +{re.escape(shape)} +{inference.params:,} +{layer.span.line}$"
        )
        [at] = [index for index, line in enumerate(text) if row.match(line)]
        if f"({layer.keras_class})" not in text[at]:
            at += 1
            assert text[at] == f"({layer.keras_class})"
        for working in inference.working:
            if len(working) < 70:  # a line wider than the table wraps at a space, as text does
                assert working in text[at + 1 : at + 1 + len(inference.working)], working


# The largest counts that still check clean: the dense kernel, 2e18 elements, is under E303's limit (2**61 - 1).
HUGE_SPEC = "model huge {\n  input 1000000000\n  dense 2000000000 relu\n  batchnorm\n  dense 10 softmax\n}\n"


@pytest.mark.parametrize("columns", [80, 40])
@pytest.mark.parametrize("explain", [False, True])
def test_summary_never_cuts_a_count_however_large_or_narrow_the_terminal(columns, explain, write):
    path = write("huge.cnn", HUGE_SPEC)
    result = summary_at(columns, path, *(["--explain"] if explain else []))
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout
    assert all(len(line) <= columns for line in result.stdout.splitlines())
    [report] = check_text(HUGE_SPEC).reports
    counts = [f"{layer_report.inference.params:,}" for layer_report in report.layers]
    assert max(map(len, counts)) > 20
    if columns == 80:
        for count in counts:
            assert re.search(rf"(^|\s){count}\s", result.stdout), count
    if not explain:  # a count folded in a narrow column: its pieces, read down the column, make it whole
        rows = [line.split("│") for line in result.stdout.splitlines() if line.startswith("│")]
        column = "".join(row[3].strip() for row in rows).replace(",", "")
        for count in counts:
            assert count.replace(",", "") in column


def test_summary_of_a_spec_with_errors_shows_the_diagnostics_and_the_table_up_to_the_failing_layer(write):
    spec = (
        BAD_SPEC.replace("stride=", "strides=") + "model c {\n  input 8x8x3\n  conv 4 3x3\n  conv 4 7x7\n  dense 2\n}\n"
    )
    path = write("bad.cnn", spec)
    result = summary_at(80, path)
    assert result.exit_code == 1
    assert f"{path}:4:3: error[E201]: unknown layer kind `maxpol`" in result.stdout
    rows = [line.strip("│ ") for line in result.stdout.splitlines() if line.startswith("│")]
    cells = [[cell.strip() for cell in row.split("│")] for row in rows]
    assert cells == [
        ["input (InputLayer)", "(None, 28, 28, 1)", "0", "2"],
        ["conv2d (Conv2D)", "(None, 13, 13, 32)", "320", "3"],
        ["✗ maxpol 2x2", "error[E201]", "", "4"],
        ["input (InputLayer)", "(None, 8, 8, 3)", "0", "8"],
        ["conv2d (Conv2D)", "(None, 6, 6, 4)", "112", "9"],
        ["✗ conv2d_1 (Conv2D)", "error[E301]", "", "10"],
    ]
    assert " ✗ stopped at line 4 (error E201)" in result.stdout
    assert " Params before line 10: 112" in result.stdout
    assert "Total params" not in result.stdout


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


# --- summary and JSON of graphs -----------------------------------------------------------------

# Two inputs, merges, a branch that reaches no output (conv2d_2) and two outputs.
GRAPH_SPEC = """model g {
  image = input 8x8x4
  meta = input 4
  c = conv 4 3x3 same from image
  s = add c image
  p = conv 4 1x1 from s
  m = multiply p s
  u = conv 2 1x1 from image
  f = flatten from m
  logits = dense 3 from f
  side = dense 2 from meta
  output logits side
}
"""

# A residual block used three times by one `repeat=`, then once more on its own.
BLOCK_SPEC = """block basic(filters) {
  x = input
  y = conv filters 3x3 same relu name=1_conv
  z = conv filters 3x3 same name=2_conv
  add x z name=add
}

model net {
  image = input 8x8x4
  c = conv 4 3x3 same from image
  t = basic 4 name=stage repeat=3 from c
  last = basic 4 from t
  output last
}
"""

# A block whose second conv cannot fit, used twice: the error is inside the block, at both uses.
BLOCK_USED_TWICE_SPEC = (
    "block down(f) {\n  conv f 3x3\n  conv f 7x7\n}\n"
    "model m {\n  image = input 8x8x3\n  a = down 4 from image\n  b = down 4 from image\n  s = add a b\n}\n"
)


def table_cells(output: str) -> list[list[str]]:
    """The cells of a summary table, each cell's lines joined with a space. Where lines separate the rows (a
    graph's table, as Keras draws it) a row is everything between two; else a line whose first cell is empty
    goes on the row above."""
    rows: list[list[str]] = []
    separated = any(line.startswith("├") for line in output.splitlines())
    starts_row = True
    for line in output.splitlines():
        if line.startswith(("├", "┡")):
            starts_row = True
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if (starts_row if separated else cells[0]) or not rows:
            rows.append(cells)
        else:  # the next line of the row above: a cell that runs over several lines
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
        starts_row = False
    return rows


def test_summary_of_a_stack_has_keras_sequential_columns_and_no_connected_to():
    result = summary_at(120, MNIST)
    assert "Connected to" not in result.stdout
    assert "Layer (type)" in result.stdout and "Line" in result.stdout


def test_summary_of_a_graph_has_its_inputs_as_rows_and_what_each_layer_reads(write):
    result = summary_at(140, write("g.cnn", GRAPH_SPEC))
    assert result.exit_code == 0, result.output
    assert "Connected to" in result.stdout
    cells = {row[0]: row[1:] for row in table_cells(result.stdout)}
    assert cells["image (InputLayer)"] == ["(None, 8, 8, 4)", "0", "-", "2"]
    assert cells["meta (InputLayer)"] == ["(None, 4)", "0", "-", "3"]
    assert cells["add (Add)"] == ["(None, 8, 8, 4)", "0", "conv2d[0][0], image[0][0]", "5"]
    assert cells["multiply (Multiply)"][2] == "conv2d_1[0][0], add[0][0]"
    assert cells["dense_1 (Dense)"][2] == "meta[0][0]"


def test_summary_of_a_graph_puts_each_value_read_on_a_line_of_its_own(write):
    result = summary_at(140, write("g.cnn", GRAPH_SPEC))
    lines = result.stdout.splitlines()
    [at] = [index for index, line in enumerate(lines) if "add (Add)" in line]
    assert "conv2d[0][0]," in lines[at] and "image[0][0]" in lines[at + 1]


def test_summary_marks_a_layer_reaching_no_output_and_leaves_it_out_of_the_totals(write):
    result = summary_at(140, write("g.cnn", GRAPH_SPEC))
    cells = {row[0]: row[1:] for row in table_cells(result.stdout)}
    assert cells["† conv2d_2 (Conv2D)"][:2] == ["(None, 8, 8, 2)", "10"]
    assert "conv2d_2 (Conv2D)" not in cells
    [report] = check_text(GRAPH_SPEC).reports
    every_layer = sum(r.inference.params for r in report.layers)
    assert report.total_params == every_layer - 10
    assert f"Total params: {report.total_params:,}" in result.stdout
    assert " † not connected to an output: not counted" in result.stdout


@pytest.mark.keras
def test_a_graphs_summary_has_the_rows_and_connections_keras_prints_for_the_same_functional_model(write, monkeypatch):
    """Keras's functional summary of the same network, built by hand with its layers unnamed in a fresh
    session, so that Keras names them: every row Keras prints (it leaves out what reaches no output) is in
    specc's with the same name, shape, count and Connected to."""
    import keras
    from keras import layers

    keras.backend.clear_session(free_memory=False)
    image, meta = keras.Input((8, 8, 4), name="image"), keras.Input((4,), name="meta")
    c = layers.Conv2D(4, 3, padding="same")(image)
    s = layers.Add()([c, image])
    p = layers.Conv2D(4, 1)(s)
    m = layers.Multiply()([p, s])
    logits = layers.Dense(3)(layers.Flatten()(m))
    side = layers.Dense(2)(meta)
    model = keras.Model([image, meta], [logits, side])
    monkeypatch.setenv("COLUMNS", "250")
    printed: list[str] = []
    model.summary(print_fn=lambda text, line_break=True: printed.append(text))
    theirs = {row[0]: row[1:4] for row in table_cells("\n".join(printed))}
    output = summary_at(250, write("g.cnn", GRAPH_SPEC)).stdout
    ours = {row[0]: row[1:4] for row in table_cells(output)}
    assert len(theirs) == 9
    assert {label: ours.get(label) for label in theirs} == theirs
    assert f"Total params: {model.count_params():,}" in output


def test_summary_folds_a_repeated_blocks_later_repetitions_into_one_row_and_the_totals_stay_whole(write):
    result = summary_at(140, write("net.cnn", BLOCK_SPEC))
    assert result.exit_code == 0, result.output
    rows = table_cells(result.stdout)
    labels = [row[0] for row in rows]
    # The first repetition shows its layers; the second and third are one row; the next use is not folded.
    assert labels == [
        "image (InputLayer)",
        "conv2d (Conv2D)",
        "stage1_1_conv (Conv2D)",
        "stage1_2_conv (Conv2D)",
        "stage1_add (Add)",
        "stage2..3 (basic ×2)",
        "basic_1_1_conv (Conv2D)",
        "basic_1_2_conv (Conv2D)",
        "basic_1_add (Add)",
    ]
    [report] = check_text(BLOCK_SPEC).reports
    folded = [r for r in report.layers if r.layer.name.startswith(("stage2_", "stage3_"))]
    assert len(folded) == 6
    fold = rows[labels.index("stage2..3 (basic ×2)")]
    assert fold[1:] == ["(None, 8, 8, 4)", f"{sum(r.inference.params for r in folded):,}", "stage1_add[0][0]", "11"]
    assert f"Total params: {report.total_params:,}" in result.stdout
    assert report.total_params == sum(r.inference.params for r in report.layers)
    # What reads the fold's value names the layer that makes it, inside the fold.
    assert rows[labels.index("basic_1_1_conv (Conv2D)")][3] == "stage3_add[0][0]"


def test_summary_explain_of_a_graph_keeps_each_layers_arithmetic_and_sums_a_fold(write):
    result = summary_at(200, write("net.cnn", BLOCK_SPEC), "--explain")
    assert result.exit_code == 0, result.output
    assert "params: 3*3*4*4 + 4 = 148" in result.stdout
    assert "6 layers in 2 uses of block `basic`" in result.stdout
    assert "params: 296 + 296 = 592" in result.stdout
    assert all(len(line) <= 200 for line in result.stdout.splitlines())


@pytest.mark.parametrize("columns", [60, 100])
def test_summary_of_a_graph_cuts_nothing_in_a_narrow_terminal(write, columns):
    for explain in ([], ["--explain"]):
        result = summary_at(columns, write("net.cnn", BLOCK_SPEC), *explain)
        assert "…" not in result.stdout
        assert all(len(line) <= columns for line in result.stdout.splitlines())


def test_summary_of_a_graph_with_a_merge_that_does_not_fit_marks_it_and_what_reads_it(write):
    spec = (
        "model m {\n  image = input 8x8x3\n  a = conv 4 3x3 from image\n  b = conv 8 3x3 from image\n"
        "  s = add a b\n  dense 2\n}\n"
    )
    result = summary_at(120, write("m.cnn", spec))
    assert result.exit_code == 1
    assert table_cells(result.stdout) == [
        ["image (InputLayer)", "(None, 8, 8, 3)", "0", "-", "2"],
        ["conv2d (Conv2D)", "(None, 6, 6, 4)", "112", "image[0][0]", "3"],
        ["conv2d_1 (Conv2D)", "(None, 6, 6, 8)", "224", "image[0][0]", "4"],
        ["✗ add (Add)", "error[E304]", "", "conv2d[0][0], conv2d_1[0][0]", "5"],
        ["? dense (Dense)", "?", "", "add[0][0]", "6"],
    ]
    assert " ✗ errors at line 5" in result.stdout
    assert " ? not inferred: reads a value an error left unknown" in result.stdout
    assert " Params of the layers inferred: 336" in result.stdout
    assert "Total params" not in result.stdout


def test_summary_of_a_graph_shows_a_line_that_failed_where_it_stands_and_counts_what_came_before(write):
    spec = (
        "model g {\n  image = input 8x8x3\n  a = conv 4 3x3 from image\n  b = maxpol 2x2 from a\n"
        "  c = conv 4 3x3 from image\n  s = add b c\n}\n"
    )
    result = summary_at(120, write("g.cnn", spec))
    assert result.exit_code == 1
    assert table_cells(result.stdout) == [
        ["image (InputLayer)", "(None, 8, 8, 3)", "0", "-", "2"],
        ["conv2d (Conv2D)", "(None, 6, 6, 4)", "112", "image[0][0]", "3"],
        ["✗ b = maxpol 2x2 from a", "error[E201]", "", "", "4"],
        ["conv2d_1 (Conv2D)", "(None, 6, 6, 4)", "112", "image[0][0]", "5"],
        ["? add (Add)", "?", "", "✗ line 4, conv2d_1[0][0]", "6"],
    ]
    # What the failed line read is unknown, so nothing is marked as reaching no output.
    assert "†" not in result.stdout
    assert " Params of the layers inferred: 224" in result.stdout


def test_summary_of_a_block_used_twice_with_an_error_inside_marks_the_layer_in_each_use(write):
    spec = BLOCK_USED_TWICE_SPEC
    result = summary_at(120, write("m.cnn", spec))
    assert result.exit_code == 1
    labels = [row[0] for row in table_cells(result.stdout)]
    assert labels == [
        "image (InputLayer)",
        "conv2d (Conv2D)",
        "✗ conv2d_1 (Conv2D)",
        "conv2d_2 (Conv2D)",
        "✗ conv2d_3 (Conv2D)",
        "? add (Add)",
    ]
    assert " ✗ errors at line 3" in result.stdout


def test_summary_of_a_stack_of_blocks_stops_at_the_error_inside_the_block(write):
    spec = "block cc(f) {\n  conv f 3x3 same\n  conv f kxk\n}\nmodel e {\n  input 8x8x3\n  cc 4\n  dense 2\n}\n"
    result = summary_at(100, write("e.cnn", spec))
    assert result.exit_code == 1
    assert table_cells(result.stdout) == [
        ["input (InputLayer)", "(None, 8, 8, 3)", "0", "6"],
        ["conv2d (Conv2D)", "(None, 8, 8, 4)", "112", "2"],
        ["✗ conv f kxk", "error[E205]", "", "3"],
    ]
    assert " ✗ stopped at line 3 (error E205)" in result.stdout
    assert " Params before line 3: 112" in result.stdout


def test_json_of_a_graph_lists_its_inputs_outputs_and_what_each_layer_reads(write):
    (file,) = json.loads(invoke("check", "--format", "json", write("g.cnn", GRAPH_SPEC)).stdout)["files"]
    (model,) = file["models"]
    assert model["inputs"] == [
        {"name": "image", "input_shape": [8, 8, 4], "line": 2, "open_axes": []},
        {"name": "meta", "input_shape": [4], "line": 3, "open_axes": []},
    ]
    assert model["input_shape"] == [8, 8, 4]
    assert model["outputs"] == ["dense", "dense_1"]
    assert model["output_shapes"] == [[3], [2]]
    assert model["output_shape"] == [3]
    layers = {layer["name"]: layer for layer in model["layers"]}
    assert layers["add"]["inputs"] == ["conv2d", "image"]
    assert layers["add"]["input_shapes"] == [[8, 8, 4], [8, 8, 4]]
    assert layers["add"]["input_shape"] == [8, 8, 4]
    assert [name for name, layer in layers.items() if not layer["counted"]] == ["conv2d_2"]
    assert model["total_params"] == sum(layer["params"] for layer in model["layers"] if layer["counted"])
    assert all(layer["block"] is None for layer in model["layers"]) and model["block_uses"] == []


def test_json_names_the_block_use_that_made_each_layer(write):
    (file,) = json.loads(invoke("check", "--format", "json", write("net.cnn", BLOCK_SPEC)).stdout)["files"]
    (model,) = file["models"]
    blocks = {layer["name"]: layer["block"] for layer in model["layers"]}
    assert blocks["conv2d"] is None
    assert blocks["stage2_1_conv"] == "stage2" and blocks["basic_1_add"] == "basic_1"
    assert [(use["name"], use["block"], use["line"]) for use in model["block_uses"]] == [
        ("stage1", "basic", 11),
        ("stage2", "basic", 11),
        ("stage3", "basic", 11),
        ("basic_1", "basic", 12),
    ]
    stage2 = model["block_uses"][1]
    assert (stage2["inputs"], stage2["output"], stage2["parent"]) == (["stage1_add"], "stage2_add", None)
    assert stage2["arguments"] == {"filters": "4"}


def test_the_result_line_of_a_model_with_several_inputs_and_outputs_names_each(write):
    result = invoke("check", write("g.cnn", GRAPH_SPEC))
    assert result.exit_code == 0
    [line] = [line for line in result.stdout.splitlines() if ": model g: " in line]
    [report] = check_text(GRAPH_SPEC).reports
    assert line.endswith(
        ": model g: (image: 8x8x4, meta: 4) -> (dense: 3, dense_1: 2), "
        f"{report.total_params:,} params ({report.total_params:,} trainable, 0 non-trainable)"
    )


def test_the_result_line_of_a_model_with_one_input_and_one_output_shows_the_shapes_alone(write):
    result = invoke("check", write("net.cnn", BLOCK_SPEC))
    assert ": model net: 8x8x4 -> 8x8x4, " in result.stdout


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
        "E303",
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


def test_an_unclosed_block_is_shown_with_a_note_line_source_and_caret_at_its_opening_brace():
    path = BAD / "e102_next_model_inside_an_unclosed_block.cnn"
    result = invoke("check", path)
    assert result.exit_code == 1
    assert result.stdout.split("\n")[:9] == [
        f"{path}:6:1: error[E102]: unexpected `model`; expected `;`, `}}`, a name or end of line",
        "  |",
        "6 | model second {",
        "  | ^^^^^",
        "  = hint: close the block of model `first` with `}` before the next model",
        f"{path}:2:13: note: the block of model `first` opened here is not closed",
        "  |",
        "2 | model first {",
        "  |             ^",
    ]


def test_an_e302_after_an_input_without_channels_notes_the_input_line():
    path = BAD / "e302_input_without_channels.cnn"
    out = invoke("check", path).stdout.split("\n")
    at = out.index(f"{path}:3:3: note: the input is 28x28 here")
    assert out[at - 1] == (
        "  = hint: the model's input, 28x28, has no channel axis: write `input 28x28x1` "
        "(or `input 28x28x3` for colour images)"
    )
    assert out[at + 1 : at + 4] == ["  |", "3 |   input 28x28", "  |   ^^^^^^^^^^^"]


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


# --- where build writes ---------------------------------------------------------------------------

GENERATED_LOOKALIKE = "# Generated by specc, or so this comment says\nmodel m {\n  input 4\n  dense 2\n}\n"


@pytest.mark.parametrize("force", [(), ("--force",)], ids=["", "force"])
def test_build_never_writes_over_its_own_spec_even_when_the_spec_starts_like_a_generated_file(write, force):
    spec = write("spec.cnn", GENERATED_LOOKALIKE)
    (spec.parent / "link.py").symlink_to(spec.name)
    os.link(spec, spec.parent / "hard.py")
    for output in (spec, spec.parent / "link.py", spec.parent / "hard.py"):
        result = invoke("build", spec, "--backend", "keras", "-o", output, *force)
        assert result.exit_code == 2, result.output
        assert f"cannot write {output}: it is the input file {spec}" in result.stderr
    assert spec.read_text(encoding="utf-8") == GENERATED_LOOKALIKE
    assert (spec.parent / "link.py").is_symlink()


@pytest.mark.parametrize("force", [(), ("--force",)], ids=["", "force"])
def test_build_to_a_fifo_is_a_usage_error_and_neither_hangs_nor_replaces_it(tmp_path, force):
    fifo = tmp_path / "out.py"
    os.mkfifo(fifo)
    result = run_specc("build", MNIST, "--backend", "keras", "-o", fifo, *force)
    assert result.returncode == 2, result.stderr
    assert f"cannot write {fifo}: it is a FIFO; specc writes only regular files (-o - writes to stdout)" in (
        result.stderr
    )
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_build_to_dev_null_is_refused_before_anything_is_opened():
    result = invoke("build", MNIST, "--backend", "keras", "-o", "/dev/null")
    assert result.exit_code == 2
    assert "cannot write /dev/null: it is a character device; specc writes only regular files" in result.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_build_through_a_symlink_rewrites_the_generated_file_it_points_to_and_keeps_the_link(tmp_path):
    (tmp_path / "generated").mkdir()
    real = tmp_path / "generated" / "mnist_keras.py"
    assert invoke("build", MNIST, "--backend", "keras", "-o", real).exit_code == 0
    real.write_text(real.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    link = tmp_path / "model.py"
    link.symlink_to(real)
    result = invoke("build", MNIST, "--backend", "keras", "-o", link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == real
    assert "# edited" not in real.read_text(encoding="utf-8")


def test_build_to_a_directory_path_that_does_not_exist_is_a_usage_error_and_makes_no_file(tmp_path):
    result = invoke("build", MNIST, "--backend", "keras", "-o", f"{tmp_path / 'newdir'}{os.sep}")
    assert result.exit_code == 2
    assert f"no directory {tmp_path / 'newdir'}" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_build_to_a_file_path_with_a_trailing_separator_is_a_usage_error_and_keeps_the_file(write):
    theirs = write("out.py", "# mine\n")
    result = invoke("build", MNIST, "--backend", "keras", "-o", f"{theirs}{os.sep}", "--force")
    assert result.exit_code == 2
    assert f"{theirs} is not a directory" in result.stderr
    assert theirs.read_text(encoding="utf-8") == "# mine\n"


def test_build_to_an_existing_directory_with_or_without_a_separator_writes_the_default_name_in_it(tmp_path):
    (tmp_path / "out").mkdir()
    for output in (tmp_path / "out", f"{tmp_path / 'out'}{os.sep}"):
        result = invoke("build", MNIST, "--backend", "keras", "-o", output)
        assert result.exit_code == 0, result.output
        assert [p.name for p in (tmp_path / "out").iterdir()] == ["mnist_keras.py"]


# `specc ARGS...` with an fsync that never ends, after saying so on stdout.
SLOW_SPECC = """
import os, sys, time
from specc.cli import run

def fsync(handle):
    print("writing", flush=True)
    time.sleep(120)

os.fsync = fsync
sys.argv[0] = "specc"
run()
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_build_leaves_no_temporary_file_once_the_next_build_has_run(tmp_path, signum):
    target = tmp_path / "out.py"
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_SPECC, "build", str(MNIST), "--backend", "keras", "-o", str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "writing\n", child.stderr.read()
        child.send_signal(signum)
        assert child.wait(timeout=60) == -signum
    finally:
        child.kill()
        child.wait()
    if signum == signal.SIGTERM:
        assert list(tmp_path.iterdir()) == []
    assert run_specc("build", MNIST, "--backend", "keras", "-o", target).returncode == 0
    assert [p.name for p in tmp_path.iterdir()] == ["out.py"]


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
# The kinds whose classes exist: asking specc.layers for the others would create them.
kinds = [
    getattr(sys.modules[f"specc.layers.{kind.module}"], kind.class_name)
    for kind in specc.layers.KINDS
    if f"specc.layers.{kind.module}" in sys.modules
]
built = [c.__name__ for c in (specc.ir.SpecFile, specc.ir.Model, *kinds) if c.__pydantic_complete__]
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
    # Figures, budgets, pictures and diffs are for the commands and specs that ask for them.
    for module in ("specc.figures", "specc.budgets", "specc.drawing", "specc.diff", "graphviz"):
        assert module not in modules
    assert not {m for m in modules if m.startswith(("specc.sarif", "specc.write", "specc.backends.", "specc.lsp."))}
    # The Keras-call patterns are compiled only for a spec that has a line written as a call.
    assert "specc.call_lines" not in modules
    # typing_extensions before 4.16 imported asyncio for pydantic_core on Python 3.11, some 45 ms of every check.
    assert "asyncio" not in modules
    # Only the modules of the layer kinds mnist.cnn uses are imported, so only their classes are created (the
    # pooling family's together), not all 36 kinds'.
    assert {m for m in modules if m.startswith("specc.layers.")} == {
        "specc.layers.base",
        "specc.layers.conv2d",
        "specc.layers.pooling",
        "specc.layers.flatten",
        "specc.layers.dense",
    }
    # Only the layer kinds mnist.cnn uses get a validator; the model and the file are not validated
    # again, which would build the schema of every layer kind for nothing.
    assert report["built"] == ["Conv2D", "MaxPool2D", "Flatten", "Dense"]


_IMPORT_AND_COUNT_COLLECTIONS = """
import gc, json
import typer, pydantic  # noqa: F401 (the libraries' own start-up is theirs: counted from here)
enabled, before = gc.isenabled(), gc.get_stats()
import specc.cli  # noqa: F401
after = gc.get_stats()
print(json.dumps({
    "enabled": [enabled, gc.isenabled()],
    "collections": [a["collections"] - b["collections"] for a, b in zip(after, before)],
    "tracked": sum(len(gc.get_objects(generation)) for generation in range(3)),
    "frozen": gc.get_freeze_count(),
}))
"""


def test_importing_the_cli_runs_no_cycle_collection_and_leaves_what_it_made_out_of_the_collectors_reach():
    # specc's IR classes, pydantic's schema machinery and lark allocate heavily at import and make no garbage;
    # collecting meanwhile, or walking it all at the first collection after, was some 10% of a `specc check`.
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_AND_COUNT_COLLECTIONS], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["enabled"] == [True, True]
    # Before the pause: [29, 2, 0]. A young-generation pass may still come while the module registers its
    # commands after the imports; none walks the older generations.
    young, middle, old = report["collections"]
    assert (middle, old) == (0, 0) and young <= 2
    # Before the freeze every object the imports made (some 57,000) was left in the generations.
    assert report["tracked"] < report["frozen"] // 10
