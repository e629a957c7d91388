"""Checking graphs: named values, several inputs and outputs, merges, blocks and repeats, and what the checker
says about them. The figures of these networks are compared with real Keras in tests/test_keras_graphs.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from specc.diagnostics import Severity
from specc.pipeline import check_text

GRAPHS = Path(__file__).resolve().parent / "graphs"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def checked_model(text: str):
    checked = check_text(text)
    return checked, checked.reports[0]


def codes(checked) -> list[tuple[str, int]]:
    return [(d.code, d.span.line) for d in checked.diagnostics]


def layer_names(report) -> list[str]:
    return [r.layer.name for r in report.layers]


def test_the_seed_model_as_written_gets_one_w303_naming_the_lines_of_the_block_that_reaches_no_output():
    checked = check_text((GRAPHS / "seed_as_written.cnn").read_text(encoding="utf-8"))
    (warning,) = checked.diagnostics
    assert warning.code == "W303"
    assert warning.span.line == 6
    assert warning.message.startswith("the values made on lines 6-11 reach no output")
    assert warning.hint == (
        "line 13 reads `il`, as this branch does; did it mean to read this branch's result, `dl` (line 11)?"
    )


def test_the_seed_model_as_written_counts_only_what_reaches_the_output():
    checked = check_text((GRAPHS / "seed_as_written.cnn").read_text(encoding="utf-8"))
    (report,) = checked.reports
    # The unused block is still checked, layer by layer, but its weights are not the model's.
    assert "conv2d" in layer_names(report) and "conv2d" not in report.reachable
    assert report.total_params == sum(r.inference.params for r in report.layers if r.layer.name in report.reachable)
    assert report.total_params < sum(r.inference.params for r in report.layers)


def test_the_fixed_seed_model_checks_clean_with_the_parameters_keras_counts():
    checked = check_text((EXAMPLES / "seed_functional.cnn").read_text(encoding="utf-8"))
    assert checked.diagnostics == []
    (report,) = checked.reports
    assert report.total_params == 1_679_082
    assert report.output_shape == (10,)


def test_a_line_without_from_reads_the_line_before_it_so_every_stack_means_what_it_meant():
    _, report = checked_model("model m {\n  input 8x8x1\n  conv 4 3x3\n  flatten\n  dense 2\n}\n")
    assert [r.layer.inputs for r in report.layers] == [("input",), ("conv2d",), ("flatten",)]
    assert report.model.outputs == ("dense",)


def test_a_rebound_name_refers_to_its_latest_definition_above():
    checked, report = checked_model(
        "model m {\n  x = input 8x8x3\n  x = conv 4 3x3 same from x\n  x = conv 6 1x1 from x\n  y = add x x\n}\n"
    )
    assert checked.ok
    assert [r.layer.inputs for r in report.layers] == [("x",), ("conv2d",), ("conv2d_1", "conv2d_1")]


def test_a_residual_add_infers_the_common_shape_and_has_no_parameters():
    checked, report = checked_model(
        "model m {\n  x = input 16x16x8\n  y = conv 8 3x3 same\n  y = conv 8 3x3 same\n  add x y\n}\n"
    )
    assert checked.ok
    assert report.layers[-1].input_shapes == ((16, 16, 8), (16, 16, 8))
    assert report.output_shape == (16, 16, 8)
    assert report.layers[-1].inference.params == 0


@pytest.mark.parametrize(
    ("shapes", "merged"),
    [
        (("4x4x8", "8"), (4, 4, 8)),  # a vector per channel stretches over height and width, as Keras does
        (("4x4x1", "4x4x8"), (4, 4, 8)),
        (("1x4x8", "4x1x8"), (4, 4, 8)),
    ],
)
def test_elementwise_merges_broadcast_extents_of_one_and_shorter_shapes_as_keras_does(shapes, merged):
    first, second = shapes
    checked, report = checked_model(f"model m {{\n  a = input {first}\n  b = input {second}\n  multiply a b\n}}\n")
    assert checked.ok, checked.diagnostics
    assert report.output_shape == merged


def test_concat_sums_the_channels_by_default_and_another_axis_on_request():
    _, report = checked_model(
        "model m {\n  a = input 8x8x3\n  b = input 8x8x5\n  c = concat a b\n  d = input 8x2x3\n"
        "  e = concat a d axis=2\n  output c e\n}\n"
    )
    assert report.output_shapes == ((8, 8, 8), (8, 10, 3))


def test_concat_on_the_batch_axis_is_refused_at_the_argument():
    checked, _ = checked_model("model m {\n  a = input 8x8x3\n  b = input 8x8x5\n  concat a b axis=0\n}\n")
    (error,) = checked.diagnostics
    assert error.code == "E204" or error.code == "E203"
    assert error.span.line == 4


def test_operands_that_do_not_fit_are_e304_at_the_merge_naming_each_operand_its_shape_and_line():
    checked, _ = checked_model("model m {\n  x = input 32x32x64\n  y = conv 32 3x3 same from x\n  s = add x y\n}\n")
    (error,) = [d for d in checked.diagnostics if d.severity is Severity.ERROR]
    assert (error.code, error.span.line) == ("E304", 4)
    assert "`x` 32x32x64 (line 2), `y` 32x32x32 (line 3)" in error.message
    assert [(n.span.line, n.message) for n in error.notes] == [
        (2, "`x` is 32x32x64, made here"),
        (3, "`y` is 32x32x32, made here"),
    ]


def test_several_inputs_and_outputs_keep_their_order():
    checked, report = checked_model(
        "model two {\n  image = input 32x32x3\n  meta = input 4\n  f = conv 8 3x3 from image\n  g = global_avgpool\n"
        "  h = dense 8 from meta\n  j = concat g h\n  k = dense 10 softmax\n  l = dense 1 sigmoid from j\n"
        "  output k l\n}\n"
    )
    assert checked.ok
    assert [i.name for i in report.model.inputs] == ["image", "meta"]
    assert report.output_shapes == ((10,), (1,))


def test_several_unnamed_inputs_are_e210():
    checked, _ = checked_model("model m {\n  input 4\n  input 4\n  add input input\n}\n")
    assert ("E210", 3) in codes(checked)


def test_an_input_that_reaches_no_output_is_w303():
    checked, _ = checked_model("model m {\n  a = input 4\n  b = input 4\n  dense 2 from a\n}\n")
    (warning,) = checked.diagnostics
    assert (warning.code, warning.span.line) == ("W303", 3)
    assert warning.message == "the input on line 3 (`b`) reaches no output, so nothing reads it"


def test_an_unknown_name_gets_the_closest_defined_name_as_a_hint_and_fix():
    checked, _ = checked_model("model m {\n  image = input 8x8x1\n  conv 4 3x3 from imag\n}\n")
    (error,) = checked.diagnostics
    assert (error.code, error.span.line, error.span.column) == ("E214", 3, 19)
    assert error.hint == "did you mean `image`?"
    assert error.fixes[0].new_text == "image"


def test_reading_a_value_defined_below_is_e215_which_is_how_a_cycle_shows():
    checked, _ = checked_model("model m {\n  x = input 8\n  a = dense 4 from b\n  b = dense 4 from a\n}\n")
    assert codes(checked) == [("E215", 3)]


def test_a_line_that_failed_leaves_what_reads_it_unchecked_without_further_errors():
    checked, report = checked_model(
        "model m {\n  x = input 8x8x1\n  y = conv 4 3x3 strides=same\n  z = conv 4 3x3 from y\n  add x z\n}\n"
    )
    assert codes(checked) == [("E203", 3)]
    assert not report.complete


BASIC = """\
block basic(filters, strides=1) {
  x = input
  y = conv filters 3x3 strides=strides same name=1_conv
  y = conv filters 3x3 same name=2_conv
  add x y name=add
}
"""


def test_layers_inside_a_block_use_are_named_after_the_use_as_keras_applications_names_them():
    checked, report = checked_model(BASIC + "model m {\n  input 8x8x4\n  basic 4 name=conv2_block1\n}\n")
    assert checked.ok
    assert layer_names(report) == ["conv2_block1_1_conv", "conv2_block1_2_conv", "conv2_block1_add"]


def test_repeat_numbers_the_uses_and_chains_them():
    checked, report = checked_model(BASIC + "model m {\n  input 8x8x4\n  basic 4 name=conv2_block repeat=3\n}\n")
    assert checked.ok
    assert [n for n in layer_names(report) if n.endswith("_add")] == [
        "conv2_block1_add",
        "conv2_block2_add",
        "conv2_block3_add",
    ]
    assert report.layers[3].layer.inputs == ("conv2_block1_add",)
    assert [use.name for use in report.model.block_uses] == ["conv2_block1", "conv2_block2", "conv2_block3"]


def test_a_repeated_use_whose_name_ends_in_a_digit_is_numbered_after_an_underscore():
    _, report = checked_model(BASIC + "model m {\n  input 8x8x4\n  basic 4 name=stage2 repeat=2\n}\n")
    assert [use.name for use in report.model.block_uses] == ["stage2_1", "stage2_2"]


def test_unnamed_uses_are_numbered_per_block():
    _, report = checked_model(BASIC + "model m {\n  input 8x8x4\n  basic 4\n  basic 4\n}\n")
    assert [use.name for use in report.model.block_uses] == ["basic_1", "basic_2"]


def test_a_default_argument_applies_and_a_given_one_replaces_it():
    _, report = checked_model(BASIC + "model m {\n  input 8x8x4\n  basic 4\n}\n")
    assert report.layers[0].layer.strides == (1, 1)
    checked, report = checked_model(BASIC + "model m {\n  input 8x8x4\n  basic 4 strides=2\n}\n")
    # The stride halves the main path but not the shortcut: the add cannot fit.
    assert [d.code for d in checked.diagnostics] == ["E304"]


def test_a_shape_error_inside_a_block_points_at_its_line_with_a_note_at_the_use():
    checked, _ = checked_model(BASIC + "model m {\n  input 8x8x4\n  basic 4\n  basic 8\n}\n")
    (error,) = checked.diagnostics
    assert (error.code, error.span.line) == ("E304", 5)
    assert [(n.span.line, n.message) for n in error.notes][-1] == (10, "in block `basic`, used here as `basic_2`")


def test_a_wrong_argument_is_reported_where_the_block_is_used():
    checked, _ = checked_model(BASIC + "model m {\n  input 8x8x4\n  basic 4 strides=same\n}\n")
    (error,) = checked.diagnostics
    assert (error.code, error.span.line, error.span.column) == ("E203", 9, 19)


def test_blocks_can_use_blocks_and_names_build_on_each_use():
    checked, report = checked_model(
        BASIC
        + "block stage(filters) {\n  basic filters name=block1\n  basic filters name=block2\n}\n"
        + "model m {\n  input 8x8x4\n  stage 4 name=conv2\n}\n"
    )
    assert checked.ok
    assert layer_names(report)[0] == "conv2_block1_1_conv"
    assert layer_names(report)[-1] == "conv2_block2_add"
    uses = report.model.block_uses
    assert [(u.name, u.parent) for u in uses] == [("conv2", None), ("conv2_block1", 0), ("conv2_block2", 0)]


def test_a_block_with_two_inputs_reads_them_in_order():
    checked, report = checked_model(
        "block join(n) {\n  a = input\n  b = input\n  c = concat a b\n  conv n 1x1 from c\n}\n"
        "model m {\n  x = input 8x8x4\n  y = input 8x8x2\n  join 3 from x, y\n}\n"
    )
    assert checked.ok
    assert report.layers[0].input_shapes == ((8, 8, 4), (8, 8, 2))
    assert report.output_shape == (8, 8, 3)


def test_a_value_inside_a_block_is_not_visible_outside_it():
    checked, _ = checked_model(BASIC + "model m {\n  input 8x8x4\n  basic 4\n  dense 2 from y\n}\n")
    assert ("E214", 10) in codes(checked)


def test_the_same_block_line_failing_in_two_uses_is_reported_once():
    checked, _ = checked_model(
        "block bad {\n  conv 4 3x3 strides=(1, 2, 3)\n}\nmodel m {\n  input 8x8x1\n  bad\n  bad\n}\n"
    )
    assert codes(checked) == [("E203", 2)]


@pytest.mark.parametrize(
    "name", ["x", "self", "inputs", "forward", "keras", "torch", "F", "layers", "input", "output_1"]
)
def test_hostile_value_and_block_names_check_like_any_other(name):
    text = (
        f"block b{name}(n) {{\n  v = input\n  {name}2 = conv n 1x1 from v\n}}\n"
        f"model m {{\n  {name} = input 4x4x2\n  {name}1 = b{name} 2 from {name}\n  add {name} {name}1\n}}\n"
    )
    checked, report = checked_model(text)
    assert checked.ok, checked.diagnostics
    assert report.output_shape == (4, 4, 2)


def test_a_value_defined_later_on_the_same_line_after_a_semicolon_is_also_e215():
    checked, _ = checked_model("model m {\n  x = input 8\n  a = dense 4 from b; b = dense 4 from x\n}\n")
    assert [d.code for d in checked.diagnostics] == ["E215"]


def test_a_merge_inside_a_block_names_its_operands_as_the_block_does():
    checked, _ = checked_model(BASIC + "model m {\n  input 8x8x4\n  basic 4\n  basic 8\n}\n")
    (error,) = checked.diagnostics
    assert "operands: `x` 8x8x4 (line 5), `y` 8x8x8 (line 4)" in error.message
