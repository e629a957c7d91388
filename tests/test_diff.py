"""`specc diff`: two specs or models compared layer by layer (tests/diffs/ holds the pairs), in each output format,
with its exit codes and model selection; every expected figure is the checker's own, never a copied number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from specc.cli import app
from specc.diff import MINUS, diff_models, diff_rows, signed
from specc.figures import format_bytes, format_count, format_receptive_field, model_figures
from specc.layers import format_shape
from specc.pipeline import check_bytes
from specc.render import format_diagnostic

from cli_helpers import invoke

DIFFS = Path(__file__).resolve().parent / "diffs"
BASE = DIFFS / "base.cnn"
ZOO = Path(__file__).resolve().parent.parent / "specc" / "zoo"


def report(path: Path, model: str | None = None):
    checked = check_bytes(path.read_bytes())
    assert checked.ok
    return next(r for r in checked.reports if model is None or r.model.name == model)


def compare(before: str, after: str):
    return diff_models(report(DIFFS / before), report(DIFFS / after))


def statuses(diff) -> dict[str, str]:
    return {change.name: change.status for change in diff.layers if change.status != "unchanged"}


def wide(*args: object):
    """`specc ARGS...` on a terminal wide enough that no table cell folds."""
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


# --- what changed ---------------------------------------------------------------------------------


def test_a_spec_compared_with_itself_has_every_layer_unchanged_and_no_differences():
    diff = compare("base.cnn", "base.cnn")
    assert statuses(diff) == {}
    assert len(diff.having("unchanged")) == len(report(BASE).layers)
    assert not diff.differs
    assert all(total.delta in (0, None) for total in diff.totals)


def test_a_widened_conv_changes_its_params_and_the_shapes_after_it_only():
    diff = compare("base.cnn", "widened_conv.cnn")
    assert statuses(diff) == {"head_conv": "changed", "avg_pool": "changed", "predictions": "changed"}
    changes = {change.name: change for change in diff.layers}
    assert changes["head_conv"].changed == ("output_shape", "trainable_params", "macs", "arguments")
    assert changes["head_conv"].changed_arguments() == (("filters", 32, 48),)
    assert changes["avg_pool"].changed == ("output_shape",)
    assert changes["predictions"].changed == ("trainable_params", "macs")  # its output stays 10 wide
    before, after = report(BASE), report(DIFFS / "widened_conv.cnn")
    totals = {total.key: total for total in diff.totals}
    assert totals["total_params"].delta == after.total_params - before.total_params > 0
    assert not totals["output_shapes"].differs


def test_an_added_layer_is_added_and_the_layer_reading_it_is_rewired():
    diff = compare("base.cnn", "added_layer.cnn")
    assert statuses(diff) == {"pool_bn": "added", "pool": "changed"}
    changes = {change.name: change for change in diff.layers}
    assert changes["pool"].changed == ("inputs",)
    assert changes["pool_bn"].before is None and changes["pool_bn"].after.type == "BatchNormalization"
    # The added layer stands where the new spec has it, before the layer that reads it.
    names = [change.name for change in diff.layers]
    assert names.index("pool_bn") == names.index("pool") - 1


def test_a_removed_block_use_lists_each_of_its_layers_removed_where_they_stood():
    diff = compare("base.cnn", "removed_block.cnn")
    removed = [change.name for change in diff.having("removed")]
    assert removed == ["stage2_1_conv", "stage2_2_conv", "stage2_add"]
    names = [change.name for change in diff.layers]
    assert names.index("stage1_add") < names.index("stage2_1_conv") < names.index("pool")
    totals = {total.key: total for total in diff.totals}
    removed_params = sum(change.before.params for change in diff.having("removed"))
    assert totals["total_params"].delta == -removed_params


def test_a_strided_stem_changes_every_later_spatial_shape_but_no_parameter():
    diff = compare("base.cnn", "strided_stem.cnn")
    changed = diff.having("changed")
    assert [change.name for change in changed][0] == "stem"
    assert all("output_shape" in change.changed for change in changed)
    assert all("trainable_params" not in change.changed for change in changed)
    assert {change.name for change in diff.having("unchanged")} == {"avg_pool", "predictions"}
    totals = {total.key: total for total in diff.totals}
    assert totals["total_params"].delta == 0


def test_runs_of_unchanged_layers_fold_into_one_row_naming_the_first_and_last():
    rows = diff_rows(compare("base.cnn", "widened_conv.cnn"))
    assert [row.status for row in rows] == ["unchanged", "changed", "changed", "changed"]
    assert rows[0].layer == "8 unchanged layers: stem … pool"


def test_deltas_are_signed_with_a_plus_or_a_real_minus_sign_and_thousands_separators():
    assert signed(1234) == "+1,234"
    assert signed(-5678) == f"{MINUS}5,678" == "\u22125,678"
    assert signed(0) == "0"


# --- formats --------------------------------------------------------------------------------------


def test_text_format_marks_each_change_and_prints_the_totals_deltas():
    result = wide("diff", BASE, DIFFS / "added_layer.cnn")
    assert result.exit_code == 0, result.output
    before, after = report(BASE), report(DIFFS / "added_layer.cnn")
    out = result.stdout
    assert f"{BASE} → {DIFFS / 'added_layer.cnn'}: 1 added, 0 removed, 1 changed" in out
    assert "+ │ pool_bn (BatchNormalization)" in out
    assert "~ │ pool (MaxPooling2D)" in out
    assert "reads stage2_add → pool_bn" in out
    assert "unchanged layers: stem … stage2_add" in out
    assert signed(after.total_params - before.total_params) in out
    assert signed(after.non_trainable_params - before.non_trainable_params) in out


def test_text_format_shows_a_removed_layer_with_a_minus_and_a_negative_delta():
    result = wide("diff", BASE, DIFFS / "removed_block.cnn")
    assert result.exit_code == 0, result.output
    assert f"{MINUS} │ stage2_1_conv (Conv2D)" in result.stdout
    delta = report(DIFFS / "removed_block.cnn").total_params - report(BASE).total_params
    assert f"{MINUS}{-delta:,}" in result.stdout


JSON_KEYS = {"version", "ok", "before", "after", "differs", "counts", "layers", "unchanged", "totals"}
LAYER_KEYS = {"name", "status", "changed", "before", "after"}
FACT_KEYS = {
    "type",
    "output_shape",
    "params",
    "trainable_params",
    "non_trainable_params",
    "macs",
    "receptive_field",
    "inputs",
    "arguments",
}


def test_json_format_has_the_documented_keys_and_the_checkers_figures():
    result = invoke("diff", BASE, DIFFS / "widened_conv.cnn", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == JSON_KEYS
    assert document["ok"] and document["differs"]
    assert document["before"] == {"spec": str(BASE), "model": "net", "evaluated_at": None}
    assert document["counts"] == {"added": 0, "removed": 0, "changed": 3, "unchanged": 8}
    layers = {layer["name"]: layer for layer in document["layers"]}
    assert set(layers) == {"head_conv", "avg_pool", "predictions"}
    head = layers["head_conv"]
    assert set(head) == LAYER_KEYS and set(head["before"]) == FACT_KEYS == set(head["after"])
    assert head["status"] == "changed"
    assert head["changed"] == ["output_shape", "trainable_params", "macs", "arguments"]
    assert head["before"]["arguments"]["filters"] == 32 and head["after"]["arguments"]["filters"] == 48
    after = report(DIFFS / "widened_conv.cnn")
    assert head["after"]["output_shape"] == list(
        next(r for r in after.layers if r.layer.name == "head_conv").inference.output_shape
    )
    totals = document["totals"]
    assert totals["total_params"]["after"] == after.total_params
    assert totals["total_params"]["delta"] == after.total_params - report(BASE).total_params
    assert totals["input_shapes"] == {"before": [[32, 32, 16]], "after": [[32, 32, 16]]}
    assert document["unchanged"][0] == "stem"


def test_json_format_of_an_added_layer_has_no_before_and_of_a_removed_one_no_after():
    added = json.loads(invoke("diff", BASE, DIFFS / "added_layer.cnn", "-f", "json").stdout)
    removed = json.loads(invoke("diff", DIFFS / "added_layer.cnn", BASE, "-f", "json").stdout)
    (bn,) = [layer for layer in added["layers"] if layer["status"] == "added"]
    assert bn["before"] is None and bn["after"]["type"] == "BatchNormalization"
    (gone,) = [layer for layer in removed["layers"] if layer["status"] == "removed"]
    assert gone["name"] == "pool_bn" and gone["after"] is None


def test_markdown_format_is_a_changes_table_and_a_totals_table_with_signed_deltas():
    result = invoke("diff", BASE, DIFFS / "removed_block.cnn", "--format", "markdown")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"### `{BASE}` → `{DIFFS / 'removed_block.cnn'}`"
    assert "|   | Layer (type) | Output shape | Params | MACs | Receptive field | Other changes |" in lines
    assert "| --- | --- | --- | ---: | ---: | --- | --- |" in lines
    removed = next(r for r in report(BASE).layers if r.layer.name == "stage2_add")
    field = format_receptive_field(model_figures(report(BASE)).layers["stage2_add"].receptive_field)
    assert (
        f"| {MINUS} | stage2_add (Add) | {format_shape(removed.inference.output_shape)} | 0 | 0 | {field} |   |"
        in lines
    )
    assert "|   | *4 unchanged layers: stem … stage1_add* |   |   |   |   |   |" in lines
    before, after = report(BASE).total_params, report(DIFFS / "removed_block.cnn").total_params
    total_row = f"| Total params | {before:,} | {after:,} | {signed(after - before)} |"
    assert total_row in lines
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines if line.startswith("|"))


def test_markdown_of_identical_specs_has_only_the_totals_table():
    result = invoke("diff", BASE, BASE, "--format", "markdown")
    assert result.exit_code == 0
    assert "0 added, 0 removed, 0 changed, 11 unchanged" in result.stdout
    assert "Layer (type)" not in result.stdout
    assert "| Total params |" in result.stdout


# --- exit codes -------------------------------------------------------------------------------------


def test_differing_specs_exit_0_and_with_exit_code_exit_1():
    assert invoke("diff", BASE, DIFFS / "strided_stem.cnn").exit_code == 0
    assert invoke("diff", BASE, DIFFS / "strided_stem.cnn", "--exit-code").exit_code == 1
    assert invoke("diff", BASE, DIFFS / "strided_stem.cnn", "--exit-code", "-f", "json").exit_code == 1


def test_identical_specs_exit_0_even_with_exit_code():
    result = invoke("diff", BASE, BASE, "--exit-code")
    assert result.exit_code == 0, result.output


def test_a_spec_with_errors_exits_1_with_its_diagnostics_printed_as_check_prints_them():
    bad = DIFFS / "errors.cnn"
    result = invoke("diff", BASE, bad)
    assert result.exit_code == 1
    checked = check_bytes(bad.read_bytes())
    for diagnostic in checked.diagnostics:
        assert format_diagnostic(str(bad), checked.lines, diagnostic) in result.stdout
    assert invoke("check", bad).stdout.startswith(result.stdout.rstrip("\n").split("\n")[0])
    assert "nothing to compare" in result.stderr


def test_a_spec_with_errors_in_json_format_exits_1_with_the_checks_file_record():
    result = invoke("diff", DIFFS / "errors.cnn", BASE, "-f", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    (record,) = document["files"]
    assert record["path"] == str(DIFFS / "errors.cnn") and record["diagnostics"][0]["code"] == "E201"


def test_a_missing_file_is_a_usage_error_naming_it(tmp_path):
    missing = tmp_path / "nope.cnn"
    result = invoke("diff", BASE, missing)
    assert result.exit_code == 2
    assert f"no such file: {missing}" in result.stderr


# --- model selection --------------------------------------------------------------------------------


def test_two_models_of_one_file_are_picked_with_file_colon_model():
    two = DIFFS / "two_models.cnn"
    result = invoke("diff", f"{two}:small", f"{two}:large", "-f", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["before"] == {"spec": f"{two}:small", "model": "small", "evaluated_at": None}
    assert document["after"]["model"] == "large"
    small, large = report(two, "small"), report(two, "large")
    assert document["totals"]["total_params"]["delta"] == large.total_params - small.total_params


def test_model_option_picks_the_same_named_model_in_both_files(write):
    other = write("other.cnn", (DIFFS / "two_models.cnn").read_text().replace("conv 16 3x3", "conv 8 3x3"))
    result = invoke("diff", DIFFS / "two_models.cnn", other, "--model", "small", "-f", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["before"]["model"] == document["after"]["model"] == "small"
    assert [layer["name"] for layer in document["layers"]] == ["conv2d", "max_pooling2d", "flatten", "dense"]


def test_a_file_with_several_models_and_none_named_is_a_usage_error_naming_them():
    result = invoke("diff", DIFFS / "two_models.cnn", BASE)
    assert result.exit_code == 2
    assert "has 2 models (small, large)" in result.stderr


def test_an_unknown_model_is_a_usage_error_naming_the_models_there_are():
    result = invoke("diff", f"{DIFFS / 'two_models.cnn'}:medium", BASE)
    assert result.exit_code == 2
    assert "has no model `medium`; it has: small, large" in result.stderr
    assert invoke("diff", BASE, BASE, "--model", "other").exit_code == 2


def test_a_file_whose_name_has_a_colon_is_read_whole_when_it_exists(write):
    odd = write("net:v2.cnn", BASE.read_text())
    result = invoke("diff", BASE, odd, "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["after"]["spec"] == str(odd)


# --- the zoo ------------------------------------------------------------------------------------------


def test_resnet50_with_fewer_classes_changes_only_its_predictions_layer(tmp_path):
    original = ZOO / "resnet50.cnn"
    changed = tmp_path / "resnet50_10.cnn"
    changed.write_text(original.read_text().replace("dense 1000 softmax", "dense 10 softmax"))
    result = invoke("diff", original, changed, "-f", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [(layer["name"], layer["changed"]) for layer in document["layers"]] == [
        ("predictions", ["output_shape", "trainable_params", "macs", "arguments"])
    ]
    before, after = report(original), report(changed)
    assert document["counts"]["unchanged"] == len(before.layers) - 1
    assert document["totals"]["total_params"]["delta"] == after.total_params - before.total_params
    assert document["totals"]["output_shapes"] == {"before": [[1000]], "after": [[10]]}
    # Every unchanged layer of the network folds into one row of the text table.
    text = wide("diff", original, changed)
    assert f"{len(before.layers) - 1} unchanged layers: conv1_pad … avg_pool" in text.stdout


# --- the JSON schema ----------------------------------------------------------------------------------

SCHEMAS = Path(__file__).resolve().parent / "schemas"
PAIRS = [
    "open_input_strided.cnn",
    "widened_conv.cnn",
    "added_layer.cnn",
    "removed_block.cnn",
    "strided_stem.cnn",
    "base.cnn",
]


def _validator(name: str):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a test dependency: pip install -e '.[test]'")
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.mark.parametrize("after", PAIRS)
def test_json_documents_of_every_fixture_pair_both_ways_follow_the_diff_schema(after):
    validator = _validator("specc-diff.schema.json")
    base = DIFFS / "open_input.cnn" if after.startswith("open_input") else BASE
    for pair in ((base, DIFFS / after), (DIFFS / after, base)):
        validator.validate(json.loads(invoke("diff", *pair, "-f", "json").stdout))


def test_the_json_document_of_a_spec_with_errors_follows_the_diff_schema_and_its_files_the_check_schema():
    document = json.loads(invoke("diff", BASE, DIFFS / "errors.cnn", "-f", "json").stdout)
    _validator("specc-diff.schema.json").validate(document)
    _validator("specc-check.schema.json").validate({"version": document["version"], "files": document["files"]})


# --- open inputs --------------------------------------------------------------------------------------


def test_open_inputs_show_their_shape_as_written_and_outputs_as_formulas_with_the_evaluated_size():
    before, after = DIFFS / "open_input.cnn", DIFFS / "open_input_strided.cnn"
    document = json.loads(invoke("diff", before, after, "-f", "json").stdout)
    evaluated = report(before).input_sizes.evaluated_at
    assert document["before"]["evaluated_at"] == document["after"]["evaluated_at"] == evaluated
    totals = document["totals"]
    assert totals["input_shapes"] == {"before": [["H", "W", 3]], "after": [["H", "W", 3]]}
    formulas = report(after).input_sizes.output_formulas
    assert totals["output_shapes"]["after"] == [[int(e) if e.isdigit() else e for e in f] for f in formulas]
    assert totals["accepted_input_sizes"]["after"] == report(after).input_sizes.describe()
    markdown = invoke("diff", before, after, "-f", "markdown").stdout
    shown = ", ".join(f"{name}={size}" for name, size in evaluated.items())
    assert f"layers evaluated at {shown}" in markdown
    assert "| Input shapes | HxWx3 | HxWx3 |   |" in markdown
    assert "x 8 | changed |" in markdown


# --- figures: MACs, FLOPs, receptive fields, memory ----------------------------------------------------


def test_a_strided_stem_changes_each_layers_macs_and_receptive_field_as_specc_figures_has_them():
    before, after = report(BASE), report(DIFFS / "strided_stem.cnn")
    old, new = model_figures(before), model_figures(after)
    diff = diff_models(before, after)
    changes = {change.name: change for change in diff.layers}
    stem = changes["stem"]
    assert stem.before.figures.macs == old.layers["stem"].macs > new.layers["stem"].macs == stem.after.figures.macs
    assert "receptive_field" in stem.changed  # the jump doubles
    assert new.layers["stem"].receptive_field.jump == (2, 2)
    assert changes["head_conv"].changed == ("output_shape", "macs", "receptive_field")
    # After global pooling both see the whole input: no change there, whatever the sizes past the edges.
    assert changes["avg_pool"].status == changes["predictions"].status == "unchanged"
    totals = {total.key: total for total in diff.totals}
    assert (totals["macs"].before, totals["macs"].after) == (old.macs, new.macs)
    assert totals["macs"].delta == new.macs - old.macs < 0
    assert totals["flops"].delta == new.flops - old.flops
    assert totals["peak_forward_bytes"].delta == new.peak_forward_bytes - old.peak_forward_bytes


def test_text_format_has_macs_and_receptive_field_columns_and_memory_in_bytes_units():
    before, after = report(BASE), report(DIFFS / "strided_stem.cnn")
    old, new = model_figures(before), model_figures(after)
    out = wide("diff", BASE, DIFFS / "strided_stem.cnn").stdout
    assert "MACs" in out and "Receptive field" in out
    # A layer's MACs in SI units, its change signed; the totals below give them exactly.
    was, now = old.layers["stem"].macs, new.layers["stem"].macs
    change = f"{'+' if now > was else MINUS}{format_count(abs(now - was))}"
    assert f"{format_count(was)} → {format_count(now)} ({change})" in out
    fields = (format_receptive_field(f.layers["head_conv"].receptive_field) for f in (old, new))
    assert " → ".join(fields) in out
    assert signed(new.macs - old.macs) in out
    (memory,) = [line for line in out.splitlines() if "Peak forward memory" in line]
    cells = [cell.strip() for cell in memory.strip("│ ").split("│")]
    delta = format_bytes(old.peak_forward_bytes - new.peak_forward_bytes)
    assert cells[1:] == [format_bytes(old.peak_forward_bytes), format_bytes(new.peak_forward_bytes), f"{MINUS}{delta}"]


def test_json_format_carries_each_layers_macs_and_receptive_field_and_the_figure_totals():
    before, after = report(BASE), report(DIFFS / "strided_stem.cnn")
    new = model_figures(after)
    document = json.loads(invoke("diff", BASE, DIFFS / "strided_stem.cnn", "-f", "json").stdout)
    head = next(layer for layer in document["layers"] if layer["name"] == "head_conv")
    field = new.layers["head_conv"].receptive_field
    assert head["after"]["macs"] == new.layers["head_conv"].macs
    assert head["after"]["receptive_field"] == {
        "size": list(field.size),
        "jump": [int(j) for j in field.jump],
        "start": [int(s) for s in field.start],
        "whole": False,
    }
    avg_pool = next(r for r in after.layers if r.layer.name == "avg_pool")
    assert avg_pool.layer.name in document["unchanged"]
    totals = document["totals"]
    for key in ("macs", "flops", "peak_forward_bytes"):
        old_value, new_value = getattr(model_figures(before), key), getattr(new, key)
        assert totals[key] == {"before": old_value, "after": new_value, "delta": new_value - old_value}


def test_markdown_format_has_the_figure_totals_with_signed_deltas():
    before, after = model_figures(report(BASE)), model_figures(report(DIFFS / "widened_conv.cnn"))
    lines = invoke("diff", BASE, DIFFS / "widened_conv.cnn", "-f", "markdown").stdout.splitlines()
    assert f"| MACs | {before.macs:,} | {after.macs:,} | {signed(after.macs - before.macs)} |" in lines
    assert f"| FLOPs | {before.flops:,} | {after.flops:,} | {signed(after.flops - before.flops)} |" in lines


def test_the_text_example_in_docs_diff_md_is_what_specc_diff_prints(monkeypatch):
    repo = DIFFS.parent.parent
    documented = (repo / "docs" / "diff.md").read_text(encoding="utf-8").split("```text\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(repo)
    width = max(len(line) for line in documented.splitlines())
    result = CliRunner().invoke(
        app, ["diff", "tests/diffs/base.cnn", "tests/diffs/widened_conv.cnn"], env={"COLUMNS": str(width)}
    )
    assert [line.rstrip() for line in result.stdout.splitlines()] == documented.splitlines()


def test_freezing_a_backbones_last_block_moves_its_weights_to_non_trainable_and_says_so(tmp_path):
    tuned = Path(__file__).resolve().parent.parent / "examples" / "fine_tuning.cnn"
    frozen = tmp_path / "frozen.cnn"
    frozen.write_text(tuned.read_text().replace("trainable_from=block5_conv1", "trainable=false"))
    diff = diff_models(report(tuned), report(frozen))
    conv = next(change for change in diff.layers if change.name == "block5_conv1")
    assert conv.changed == ("trainable_params", "non_trainable_params", "arguments")
    assert conv.changed_arguments() == (("trainable", True, False),)
    totals = {total.key: total for total in diff.totals}
    assert totals["total_params"].delta == 0
    assert totals["non_trainable_params"].delta == -totals["trainable_params"].delta > 0
    out = wide("diff", tuned, frozen).stdout
    assert f"trainable true → false; trainable {conv.before.trainable_params:,} → 0" in out


def test_an_open_model_is_compared_at_the_size_the_first_is_evaluated_at_when_the_second_accepts_it():
    odd, any_size = DIFFS / "open_odd_sizes.cnn", DIFFS / "open_any_size.cnn"
    at_odd, at_own = report(odd).input_sizes.evaluated_at, report(any_size).input_sizes.evaluated_at
    assert at_odd != at_own  # alone, each is evaluated at a size of its own
    document = json.loads(invoke("diff", odd, any_size, "-f", "json").stdout)
    assert document["before"]["evaluated_at"] == document["after"]["evaluated_at"] == at_odd
    # The layer both have is alike at one size; only the pooled branch and the merge are gone.
    assert document["unchanged"] == ["strided"]
    assert {layer["name"]: layer["status"] for layer in document["layers"]} == {
        "pooled": "removed",
        "joined": "removed",
    }


def test_a_side_written_file_colon_model_keeps_its_model_whatever_model_option_says():
    two = DIFFS / "two_models.cnn"
    document = json.loads(invoke("diff", f"{two}:large", two, "--model", "small", "-f", "json").stdout)
    assert (document["before"]["model"], document["after"]["model"]) == ("large", "small")
