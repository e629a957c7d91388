"""Budgets: `budget params<=5M macs<=600M memory<=200MB` lines parse, lower (E223 and the argument codes for what
is wrong on them), and fail `specc check` with E306 at the limit a model exceeds, in every output format.
The figures compared are specc.figures' own, computed here, never copied."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from specc import syntax
from specc.budgets import check_budgets, memory_bytes
from specc.check import check_model
from specc.figures import format_bytes, format_count, model_figures
from specc.fmt import format_text
from specc.ir import Budget, BudgetLimit
from specc.lower import budget_quantity
from specc.lsp import features
from specc.lsp.incremental import IncrementalChecker
from specc.lsp.positions import Lines
from specc.parse import parse
from specc.pipeline import check_text

from cli_helpers import invoke

REPO = Path(__file__).resolve().parent.parent

NET = """\
model net {
  input 32x32x3
  budget {limits}
  conv 16 3x3 relu
  conv 32 3x3 relu
  globalavgpool
  dense 10
}
"""


def net(limits: str) -> str:
    return NET.replace("{limits}", limits)


def figures_of(text: str, dtype: str = "float32", batch: int = 1):
    checked = check_text(text)
    return checked.reports[0], model_figures(checked.reports[0], dtype, batch)


def codes(text: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.column) for d in check_text(text).diagnostics]


# --- parsing ------------------------------------------------------------------------------------


def test_a_budget_line_parses_to_its_limits_and_options_with_a_span_for_each():
    tree, diagnostics = parse(net("params<=5M macs < 600M memory<=1.5GiB batch=8 dtype=float16"))
    assert diagnostics == []
    [model] = tree.models
    [budget] = model.budgets
    assert [s.kind for s in model.statements] == ["input", "conv", "conv", "globalavgpool", "dense"]
    assert [(lim.metric.text, lim.operator, lim.quantity.text) for lim in budget.limits] == [
        ("params", "<=", "5M"),
        ("macs", "<", "600M"),
        ("memory", "<=", "1.5GiB"),
    ]
    assert [(lim.span.column, lim.span.end_column) for lim in budget.limits] == [(10, 20), (21, 32), (33, 47)]
    assert [(o.key, o.value.text) for o in budget.options] == [("batch", "8"), ("dtype", "float16")]
    assert (budget.keyword_span.column, budget.span.column, budget.span.end_column) == (3, 3, 69)


def test_several_budget_lines_are_kept_in_order_apart_from_the_layer_lines():
    tree, _ = parse("model m {\n  budget params<=1M\n  input 8x8x1\n  budget memory<=1MB; dense 2\n}\n")
    [model] = tree.models
    assert [b.span.line for b in model.budgets] == [2, 4]
    assert [s.kind for s in model.statements] == ["input", "dense"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("budget", "unexpected end of line; expected a limit such as `params<=5M`"),
        ("budget params 5M", "unexpected `5M`; expected `<=`, `<` or `=`"),
        ("budget params<=", "unexpected end of line; expected a quantity such as 5M or 200MB"),
        ("budget params<=5M macs", "unexpected end of line; expected `<=`, `<` or `=`"),
        ("budget params>=5M", "unexpected character `>`"),
    ],
)
def test_a_malformed_budget_line_is_a_syntax_error_that_names_the_limit_form(line: str, message: str):
    _, diagnostics = parse(f"model m {{\n  input 8x8x1\n  {line}\n}}\n")
    [diagnostic] = diagnostics
    assert diagnostic.message == message
    assert "`budget params<=5M" in diagnostic.hint


def test_budget_is_reserved_at_the_start_of_a_statement_and_an_ordinary_word_elsewhere():
    _, diagnostics = parse("model m {\n  input 8x8x1\n  budget = dense 2\n}\n")
    [diagnostic] = diagnostics
    assert diagnostic.code == "E102" and "begins a budget line" in diagnostic.hint
    assert codes("model m {\n  input 8x8x1\n  flatten\n  dense 2 name=budget\n}\n") == []


def test_a_quantity_outside_a_budget_is_still_a_number_run_into_a_word():
    [diagnostic] = check_text("model m {\n  input 8x8x1\n  conv 5M 3x3\n}\n").diagnostics
    assert (diagnostic.code, diagnostic.message) == ("E101", "`5M` is neither a number nor a size")
    assert "separate numbers from words" in diagnostic.hint


# --- lowering -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "text", "value"),
    [
        ("params", "5M", 5_000_000),
        ("params", "3538984", 3_538_984),
        ("trainable", "1.5K", 1_500),
        ("macs", "0.6G", 600_000_000),
        ("flops", "2T", 2 * 10**12),
        ("memory", "200MB", 200_000_000),
        ("memory", "200kB", 200_000),
        ("memory", "1.5KiB", 1_536),
        ("memory", "2GiB", 2 * 2**30),
        ("memory", "512B", 512),
    ],
)
def test_a_quantity_is_read_exactly_in_decimal_or_binary_units(metric: str, text: str, value: int):
    assert budget_quantity(metric, text) == value


def test_a_budget_lowers_to_the_ir_with_limits_in_counts_and_bytes_batch_and_dtype():
    [model] = check_text(net("params<=5M macs<600M memory<=200MB batch=8 dtype=bfloat16")).spec.models
    [budget] = model.budgets
    assert [(lim.metric, lim.operator, lim.limit, lim.text) for lim in budget.limits] == [
        ("params", "<=", 5_000_000, "5M"),
        ("macs", "<", 600_000_000, "600M"),
        ("memory", "<=", 200_000_000, "200MB"),
    ]
    assert (budget.batch, budget.dtype, budget.span.line) == (8, "bfloat16", 3)
    assert check_text(net("memory<=1GB")).spec.models[0].budgets[0].model_dump(include={"batch", "dtype"}) == {
        "batch": 1,
        "dtype": "float32",
    }


@pytest.mark.parametrize(
    ("limits", "code", "column", "hint"),
    [
        ("parms<=5M", "E223", 10, "did you mean `params`?"),
        ("FLOPs<=5M", "E223", 10, "did you mean `flops`?"),
        ("params<=5MB", "E203", 18, "params counts weights: write 5M"),
        ("macs<=5MiB", "E203", 16, "macs counts operations: write a count such as 5M"),
        ("memory<=200M", "E203", 18, "memory is in bytes: write 200MB"),
        ("memory<=200", "E203", 18, "memory is in bytes: write 200B"),
        ("params<=5Mb", "E203", 18, "did you mean `5M`?"),
        ("flops<=1.5", "E203", 17, None),
        ("params<=1M params<=2M", "E206", 21, "keep one"),
        ("memory<=1MB batch=0", "E204", 28, None),
        ("memory<=1MB batch=2.5", "E203", 28, None),
        ("memory<=1MB dtype=float_16", "E203", 28, "did you mean `float16`?"),
        ("memory<=1MB batchsize=4", "E202", 22, "did you mean `batch`?"),
        ("memory<=1MB batch=2 batch=4", "E206", 30, "keep one `batch`"),
    ],
)
def test_what_a_budget_line_gets_wrong_is_reported_where_it_is_written(limits, code, column, hint):
    checked = check_text(net(limits))
    [diagnostic] = checked.diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == (code, 3, column)
    if hint is not None:
        assert hint in diagnostic.hint
    # A line with a mistake on it is not checked at all, so nothing is reported twice for it.
    assert checked.spec.models[0].budgets == ()


def test_a_metric_limited_again_on_another_line_is_e206_but_memory_may_have_one_per_batch_and_dtype():
    text = NET.replace("  budget {limits}\n", "  budget params<=1M memory<=1MB\n  budget params<=2M\n")
    assert codes(text) == [("E206", 4, 10)]
    assert check_text(text).diagnostics[0].message == "params already has a budget on line 3"
    text = NET.replace("  budget {limits}\n", "  budget memory<=1MB\n  budget memory<=10MB batch=8\n")
    assert codes(text) == []


def test_a_budget_in_a_block_is_e223_since_a_budget_limits_a_model():
    text = "block b {\n  budget params<=1K\n  dense 2\n}\nmodel m {\n  input 4\n  b\n}\n"
    [diagnostic] = check_text(text).diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == ("E223", 2, 3)
    assert diagnostic.message == "a budget limits a model; block `b` cannot have one"


@pytest.mark.parametrize("limits", ["parms<=5M", "params<=5MB", "memory<=200M", "macs<=5m"])
def test_the_fix_a_budget_mistake_offers_clears_it(limits: str):
    text = net(limits)
    checked = check_text(text)
    [diagnostic] = checked.diagnostics
    [fix] = diagnostic.fixes
    lines = text.split("\n")
    line = lines[fix.span.line - 1]
    lines[fix.span.line - 1] = line[: fix.span.column - 1] + fix.new_text + line[fix.span.end_column - 1 :]
    fixed = "\n".join(lines)
    assert [d.code for d in check_text(fixed).diagnostics if d.code != "E306"] == []


# --- checking -----------------------------------------------------------------------------------


def test_a_budget_the_model_meets_checks_clean_and_exits_0(write):
    report, figures = figures_of(net("params<=1M"))
    text = net(
        f"params<={report.total_params} trainable<={report.trainable_params} macs<={figures.macs} "
        f"flops<={figures.flops} memory<={memory_bytes(figures)}B"
    )
    assert check_text(text).diagnostics == []
    result = invoke("check", write("met.cnn", text))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("metric", ["params", "trainable", "macs", "flops", "memory"])
def test_each_metric_one_over_its_limit_is_e306_at_the_limit(metric: str):
    report, figures = figures_of(net("params<=1M"))
    figure = {
        "params": report.total_params,
        "trainable": report.trainable_params,
        "macs": figures.macs,
        "flops": figures.flops,
        "memory": memory_bytes(figures),
    }[metric]
    unit = "B" if metric == "memory" else ""
    assert codes(net(f"{metric}<={figure}{unit}")) == []
    assert codes(net(f"{metric}<{figure + 1}{unit}")) == []
    assert codes(net(f"{metric}<={figure - 1}{unit}")) == [("E306", 3, 10)]
    # `<` excludes the limit itself.
    [diagnostic] = check_text(net(f"{metric}<{figure}{unit}")).diagnostics
    assert diagnostic.code == "E306" and "is not below the budget" in diagnostic.message


def test_the_message_gives_the_figure_the_limit_the_excess_and_the_hint_the_three_largest_layers():
    report, figures = figures_of(net("params<=1M"))
    [diagnostic] = check_text(net("macs<=1M")).diagnostics
    excess = figures.macs - 1_000_000
    assert diagnostic.message == (
        f"macs {format_count(figures.macs)} exceeds the budget of 1 M "
        f"(by {format_count(excess)}, {100 * excess / 1_000_000:.0f}%)"
    )
    ranked = sorted(report.counted, key=lambda r: -figures.layers[r.layer.name].macs)[:3]
    assert diagnostic.hint == "the most macs: " + ", ".join(
        f"`{r.layer.name}` (line {r.layer.span.line}, {format_count(figures.layers[r.layer.name].macs)})"
        for r in ranked
    )
    assert diagnostic.span == check_text(net("macs<=1M")).spec.models[0].budgets[0].limits[0].span


def test_memory_is_peak_activations_plus_parameters_at_the_lines_batch_and_dtype():
    report, figures = figures_of(net("params<=1M"), "float16", 4)
    assert memory_bytes(figures) == figures.peak_forward_bytes + figures.parameter_bytes
    assert figures.parameter_bytes == 2 * report.total_params
    at_batch_1 = model_figures(report, "float16", 1)
    assert figures.peak_forward_bytes > at_batch_1.peak_forward_bytes
    total = memory_bytes(figures)
    assert codes(net(f"memory<={total}B batch=4 dtype=float16")) == []
    assert codes(net(f"memory<={memory_bytes(at_batch_1)}B dtype=float16")) == []
    # The float32 default doubles every byte, so the same limit no longer holds.
    assert codes(net(f"memory<={total}B batch=4")) == [("E306", 3, 10)]
    [diagnostic] = check_text(net(f"memory<={total - 1}B batch=4 dtype=float16")).diagnostics
    assert f"memory {format_bytes(total)} exceeds the budget of {total - 1} B" in diagnostic.message
    assert (
        f"for batch 4 in float16: activations at their peak {format_bytes(figures.peak_forward_bytes)} "
        f"+ parameters {format_bytes(figures.parameter_bytes)}" in diagnostic.message
    )
    assert diagnostic.hint.startswith("the largest outputs: ")


def test_a_binary_limit_is_also_shown_in_the_decimal_units_of_the_figures():
    [diagnostic] = check_text(net("memory<=1KiB")).diagnostics
    assert "exceeds the budget of 1 KiB (1.0 kB)" in diagnostic.message


def test_a_model_whose_shapes_fail_has_no_figures_and_no_budget_diagnostic():
    text = net("params<=1 macs<=1").replace("conv 32 3x3 relu", "conv 32 99x99 relu")
    assert [code for code, _, _ in codes(text)] == ["E301"]


def test_an_open_input_is_checked_at_the_size_the_report_was_evaluated_at_and_says_so():
    model = check_text(net("macs<=1M")).spec.models[0]
    opened = model.inputs[0].model_copy(update={"open_axes": ("?", "?", None)})
    report, _ = check_model(model.model_copy(update={"inputs": (opened,)}))
    [diagnostic] = check_budgets(report)
    assert diagnostic.message.endswith(" at input 32x32x3")
    left_open = opened.model_copy(update={"shape": (0, 0, 3)})
    assert check_budgets(check_model(model.model_copy(update={"inputs": (left_open,)}))[0]) == []


def test_budget_limits_compare_as_their_operator_says():
    span = check_text(net("params<=1")).spec.models[0].budgets[0].span
    at_most = BudgetLimit(metric="params", operator="<=", limit=10, text="10", span=span)
    below = BudgetLimit(metric="params", operator="<", limit=10, text="10", span=span)
    assert (at_most.allows(10), at_most.allows(11), below.allows(9), below.allows(10)) == (True, False, True, False)
    assert Budget(limits=(at_most,), span=span).dtype == "float32"


def test_mobilenet_v2_of_the_zoo_fits_its_published_budget_and_fails_a_tighter_one():
    """Sandler et al. give MobileNetV2 (1.0, 224) 3.4M parameters and 300M multiply-adds; Keras's build has
    3.54M parameters (its classifier included)."""
    zoo = (REPO / "specc" / "zoo" / "mobilenet_v2.cnn").read_text(encoding="utf-8")
    assert "model mobilenet_v2 {\n" in zoo

    def with_budget(limits: str) -> str:
        return zoo.replace("model mobilenet_v2 {\n", f"model mobilenet_v2 {{\n  budget {limits}\n", 1)

    assert codes(with_budget("params<=3.6M macs<=310M memory<=64MB")) == []
    checked = check_text(with_budget("params<=3.5M macs<=300M"))
    line = with_budget("").split("\n").index("  budget ") + 1
    assert [(d.code, d.span.line) for d in checked.diagnostics] == [("E306", line), ("E306", line)]
    report = checked.reports[0]
    figures = model_figures(report)
    params, macs = checked.diagnostics
    assert params.message.startswith(f"params {format_count(report.total_params)} exceeds the budget of 3.5 M")
    assert macs.message.startswith(f"macs {format_count(figures.macs)} exceeds the budget of 300 M")
    assert macs.hint.startswith("the most macs: `")


# --- every output format ------------------------------------------------------------------------

OVER = net("params<=5K macs<=1M")


def test_an_exceeded_budget_exits_1_in_the_text_format_with_the_line_and_caret(write):
    path = write("over.cnn", OVER)
    result = invoke("check", path)
    assert result.exit_code == 1
    lines = result.stdout.split("\n")
    [head] = [line for line in lines if line.startswith(f"{path}:3:10: error[E306]: params ")]
    at = lines.index(head)
    assert lines[at + 2 : at + 4] == ["3 |   budget params<=5K macs<=1M", "  |          ^^^^^^^^^^"]
    assert lines[at + 4].startswith("  = hint: the most params: `")


def test_an_exceeded_budget_is_a_gcc_line_with_the_code_last(write):
    path = write("over.cnn", OVER)
    result = invoke("check", "--format", "gcc", path)
    assert result.exit_code == 1
    assert [line.split(": ", 2)[0] for line in result.stdout.splitlines()] == [f"{path}:3:10", f"{path}:3:21"]
    assert all(line.endswith(" [E306]") and ": error: " in line for line in result.stdout.splitlines())


def test_an_exceeded_budget_is_in_the_json_document_with_its_position(write):
    result = invoke("check", "--format", "json", write("over.cnn", OVER))
    assert result.exit_code == 1
    [file] = json.loads(result.stdout)["files"]
    assert file["ok"] is False
    assert [(d["code"], d["line"], d["column"], d["end_column"]) for d in file["diagnostics"]] == [
        ("E306", 3, 10, 20),
        ("E306", 3, 21, 29),
    ]
    assert all(d["severity"] == "error" and d["hint"] for d in file["diagnostics"])


def test_an_exceeded_budget_is_a_sarif_result_of_rule_e306_at_the_budget_line(write, monkeypatch, tmp_path):
    write("over.cnn", OVER)
    monkeypatch.chdir(tmp_path)
    result = invoke("check", "--format", "sarif", "over.cnn")
    assert result.exit_code == 1
    [run] = json.loads(result.stdout)["runs"]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert rules["E306"]["name"] == "over-budget" and rules["E223"]["name"] == "bad-budget"
    regions = []
    for sarif_result in run["results"]:
        assert (sarif_result["ruleId"], sarif_result["level"]) == ("E306", "error")
        [location] = sarif_result["locations"]
        assert location["physicalLocation"]["artifactLocation"]["uri"] == "over.cnn"
        region = location["physicalLocation"]["region"]
        regions.append((region["startLine"], region["startColumn"], region["endColumn"]))
    assert regions == [(3, 10, 20), (3, 21, 29)]


# --- formatting and the editor ------------------------------------------------------------------


def test_fmt_writes_budget_lines_canonically_and_round_trips():
    text = (
        "model net {   budget params <= 5M  # small\n  input 32x32x3\n"
        "  budget   macs<600M   memory <=  200MB batch = 8 ;  dense 10\n}\n"
    )
    formatted, diagnostics = format_text(text)
    assert diagnostics == []
    assert formatted == (
        "model net {\n  budget params<=5M  # small\n  input 32x32x3\n"
        "  budget macs<600M memory<=200MB batch=8\n  dense 10\n}\n"
    )
    assert format_text(formatted) == (formatted, [])
    # Only the layout changed: the limits lower to the same metrics, operators and values.
    lowered = [
        [(lim.metric, lim.operator, lim.limit) for b in check_text(t).spec.models[0].budgets for lim in b.limits]
        for t in (text, formatted)
    ]
    assert lowered[0] == lowered[1]


_BUDGET_PIECES = [
    *("budget", "params<=5M", "macs<600M", "memory<=1MB", "batch=2", "dtype=float16", "parms<=1", "params<="),
    *("conv", "8", "3x3", "relu", "dense", "4", "flatten", "5M", "=", ";", "#c", "params<=1"),
]


@pytest.mark.parametrize("seed", range(4))
def test_incremental_recheck_of_edits_among_budget_lines_agrees_with_checking_the_whole_text(seed: int):
    start = net("params<=1M memory<=10MB") + "model b {\n  input 8x8x1\n  budget macs<=1\n  dense 2\n}\n"
    rng = random.Random(seed)
    checker = IncrementalChecker()
    lines = start.split("\n")
    partial = 0
    for _ in range(60):
        lines = list(lines)
        at = rng.randrange(1, len(lines) - 1)
        if "{" in lines[at] or "}" in lines[at] or "{" in lines[at - 1]:
            continue
        made = "  " + " ".join(rng.choice(_BUDGET_PIECES) for _ in range(rng.randint(0, 4)))
        if rng.random() < 0.5:
            lines[at] = made
        else:
            lines.insert(at, made)
        text = "\n".join(lines)
        incremental, whole = checker.check(text), check_text(text)
        assert incremental.diagnostics == whole.diagnostics, text
        assert incremental.spec == whole.spec, text
        assert checker.tree == parse(text)[0], text
        partial += checker.reparsed_lines is not None
    assert partial >= 5


def test_the_editor_features_pass_over_a_budget_line_without_error():
    from lsprotocol import types

    text = net("params<=1 memory<=1MB")
    checked, lines = check_text(text), Lines(text)
    for character in (2, 10, 18, 30):
        position = types.Position(line=2, character=character)
        features.hover(checked, lines, position, markdown=True)
        features.completions(checked, lines, position)
        features.definition(checked, lines, "file:///m.cnn", position)
    every = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=9, character=0))
    actions = features.code_actions(checked, lines, "file:///m.cnn", every)
    assert all(isinstance(action, types.CodeAction) for action in actions)


def test_completion_on_a_budget_line_offers_the_metrics_not_yet_limited_then_the_options_and_dtypes():
    from lsprotocol import types

    text = "model m {\n  input 8x8x1\n  budget params<=5M \n  budget memory<=1MB dtype=\n  \n}\n"
    checked, lines = check_text(text), Lines(text)

    def labels(line: int, character: int) -> list[str]:
        return [item.label for item in features.completions(checked, lines, types.Position(line, character))]

    assert labels(2, 20) == ["trainable<=", "macs<=", "flops<=", "memory<=", "batch=", "dtype="]
    assert labels(3, 27) == ["float32", "float16", "bfloat16"]
    assert "budget" in labels(4, 2)


def test_the_syntax_tree_of_a_budget_moves_with_the_lines_above_it():
    tree, _ = parse(net("params<=1M batch=2"))
    [budget] = tree.models[0].budgets
    moved = budget.shifted(3)
    assert isinstance(moved, syntax.BudgetStatement)
    assert [lim.span.line for lim in moved.limits] == [6]
    assert (moved.span.line, moved.keyword_span.line, moved.options[0].span.line) == (6, 6, 6)


# --- the documentation --------------------------------------------------------------------------

DOCS = (REPO / "docs" / "budgets.md").read_text(encoding="utf-8")


def test_the_spec_in_docs_budgets_checks_clean_in_the_canonical_layout():
    [spec] = re.findall(r"```cnn\n(.*?)```", DOCS, flags=re.DOTALL)
    assert check_text(spec).diagnostics == []
    assert format_text(spec) == (spec, [])


def test_the_e306_samples_in_docs_budgets_are_what_specc_prints():
    from specc.render import format_diagnostic

    [spec] = re.findall(r"```cnn\n(.*?)```", DOCS, flags=re.DOTALL)
    spec = spec.replace("macs<=3M", "macs<=2M").replace("memory<=4MB batch=32", "memory<=1MB batch=32")
    macs, memory = check_text(spec).diagnostics
    [block] = [b for b in re.findall(r"```text\n(.*?)```", DOCS, flags=re.DOTALL) if "[E306]" in b]
    assert format_diagnostic("mnist.cnn", spec.splitlines(), macs) == block.rstrip("\n")
    assert f"`{memory.message}`" in " ".join(DOCS.split())


def test_json_lists_each_limit_with_the_figure_it_limits_and_whether_it_is_met(tmp_path):
    text = (
        "model small {\n  input 28x28x1\n  budget params<=1K macs<=10M\n  conv 32 3x3 relu\n  flatten\n  dense 10\n}\n"
    )
    path = tmp_path / "small.cnn"
    path.write_text(text)
    (model,) = json.loads(invoke("check", path, "--format", "json").stdout)["files"][0]["models"]
    (report,) = check_text(text).reports
    params, macs = model["budgets"]
    assert params == {
        "line": 3, "metric": "params", "operator": "<=", "limit": 1000, "written": "1K",
        "figure": report.total_params, "within": False, "batch": 1, "dtype": "float32",
    }  # fmt: skip
    assert (macs["figure"], macs["within"]) == (model_figures(report).macs, True)


def test_hovering_a_budget_line_shows_each_figure_against_its_limit():
    text = (
        "model small {\n  input 28x28x1\n  budget params<=1K macs<=10M\n  conv 32 3x3 relu\n  flatten\n  dense 10\n}\n"
    )
    checked = check_text(text)
    (report,) = checked.reports
    hover, span = features.hover_text(checked, 3, 5)
    assert span.line == 3
    params = format_count(report.total_params)
    assert f"params: {params} (limit <= 1K, {100 * report.total_params / 1000:.0f}% of it): over budget" in hover
    macs = model_figures(report).macs
    assert f"macs: {format_count(macs)} (limit <= 10M, {100 * macs / 10_000_000:.0f}% of it)\n" in hover + "\n"
