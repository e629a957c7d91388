"""Open inputs (`input ?x?x3`): the sizes a network accepts, proved against the checker's own rules at every size
and against Keras at the boundaries, for a U-Net and for the zoo's networks as backbones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specc.check import check_model
from specc.diagnostics import Severity
from specc.input_sizes import period, with_sizes
from specc.pipeline import check_text
from specc.zoo import ZOO, ZooNetwork

from cli_helpers import invoke as run_cli

EXAMPLES = Path(__file__).parent.parent / "examples"


def open_unet() -> str:
    return re.sub(r"input \d+x\d+x3", "input ?x?x3", (EXAMPLES / "unet.cnn").read_text())


def sizes_of(text: str):
    checked = check_text(text)
    (report,) = checked.reports
    return report.input_sizes, checked


def accepted_by_checker(model, height: int, width: int) -> bool:
    """Whether the checker, given this one size, infers every layer without an error."""
    report, diagnostics = check_model(with_sizes(model, {"H": height, "W": width}))
    return report.complete and not any(d.severity is Severity.ERROR for d in diagnostics)


# --- the language ------------------------------------------------------------------------------


def test_question_marks_leave_height_and_width_open_and_name_them_h_and_w():
    checked = check_text("model m {\n  input ?x?x3\n  conv 8 3x3\n}\n")
    (model_input,) = checked.spec.models[0].inputs
    assert model_input.open_axes == ("H", "W", None)
    assert checked.ok


def test_named_extents_tie_two_inputs_to_one_size():
    sizes, checked = sizes_of(
        "model m {\n  a = input HxWx3\n  b = input HxWx1\n  x = conv 8 3x3 from a\n  y = conv 8 3x3 from b\n"
        "  add x y\n}\n"
    )
    assert checked.ok
    assert [rule.name for rule in sizes.rules] == ["H", "W"]
    assert sizes.describe() == "H, W >= 3"
    assert sizes.output_formulas == (("(H - 2)", "(W - 2)", "8"),)


def test_open_channels_are_refused_at_the_input():
    checked = check_text("model m {\n  input 28x28x?\n  conv 8 3x3\n}\n")
    assert [d.code for d in checked.diagnostics] == ["E204"]
    assert "height and width" in checked.diagnostics[0].message


def test_an_open_size_anywhere_but_an_input_is_a_type_error():
    checked = check_text("model m {\n  input 28x28x1\n  conv 8 KxK\n}\n")
    assert [d.code for d in checked.diagnostics] == ["E203"]


# --- what the analysis finds -------------------------------------------------------------------


def test_valid_convolutions_need_the_size_their_windows_take():
    sizes, _ = sizes_of("model m {\n  input ?x?x3\n  conv 8 3x3 strides=2\n  conv 8 3x3\n}\n")
    (height, width) = sizes.rules
    assert (height.minimum, height.modulus) == (7, 1)
    assert sizes.output_formulas == (("floor((H - 5)/2)", "floor((W - 5)/2)", "8"),)


def test_same_padding_accepts_every_size_and_divides_by_the_stride_rounding_up():
    sizes, _ = sizes_of("model m {\n  input ?x?x3\n  conv 8 3x3 strides=2 same\n  conv 8 3x3 same\n}\n")
    assert sizes.describe() == "H, W >= 1"
    assert sizes.output_formulas == (("ceil(H/2)", "ceil(W/2)", "8"),)


def test_a_unet_accepts_sizes_divisible_by_its_downsampling():
    sizes, checked = sizes_of(open_unet())
    assert checked.ok
    assert sizes.describe() == "H, W >= 8, divisible by 8"
    assert sizes.output_formulas == (("H", "W", "2"),)


def test_asymmetric_kernels_give_each_axis_its_own_rule():
    sizes, _ = sizes_of("model m {\n  input ?x?x3\n  conv 8 5x1\n  conv 8 1x3 strides=2\n}\n")
    height, width = sizes.rules
    assert (height.name, height.minimum) == ("H", 5)
    assert (width.name, width.minimum) == ("W", 3)


def test_branches_that_never_line_up_are_e307_at_the_input_with_the_merge_error_shown():
    sizes, checked = sizes_of(
        "model m {\n  a = input ?x?x3\n  x = conv 8 3x3 strides=2 from a\n  y = conv 8 3x3 from a\n  add x y\n}\n"
    )
    codes = [d.code for d in checked.diagnostics]
    assert codes[0] == "E307" and "E304" in codes
    assert checked.diagnostics[0].span.line == 2
    assert sizes.evaluated_at is None


def test_the_report_is_evaluated_at_224_when_the_network_takes_it():
    sizes, checked = sizes_of(open_unet())
    assert sizes.evaluated_at == {"H": 224, "W": 224}
    assert checked.reports[0].model.inputs[0].shape == (224, 224, 3)


def test_an_evaluation_size_may_be_asked_for():
    checked = check_text(open_unet(), evaluate_at=(64, 96, 3))
    report = checked.reports[0]
    assert report.model.inputs[0].shape == (64, 96, 3)
    assert report.output_shape == (64, 96, 2)


# A random stack of spatial layers, with at most one residual merge, written as a spec.
_LAYER = st.one_of(
    st.builds(
        lambda k, s, pad: f"conv 4 {k}x{k} strides={s} {pad}",
        st.integers(1, 5),
        st.integers(1, 3),
        st.sampled_from(["valid", "same"]),
    ),
    st.builds(lambda k, d: f"conv 4 {k}x{k} dilation_rate={d}", st.integers(2, 3), st.integers(2, 3)),
    st.builds(lambda k, pad: f"maxpool {k}x{k} {pad}", st.integers(2, 3), st.sampled_from(["valid", "same"])),
    st.builds(lambda p: f"zeropad {p}", st.integers(1, 2)),
    st.builds(lambda c: f"crop {c}", st.integers(1, 2)),
    st.builds(lambda u: f"upsample {u}", st.integers(2, 3)),
    st.builds(lambda k, s: f"conv_transpose 4 {k}x{k} strides={s}", st.integers(1, 3), st.integers(1, 3)),
)


@st.composite
def open_networks(draw) -> str:
    layers = draw(st.lists(_LAYER, min_size=1, max_size=4))
    # A shortcut around the stack, as a residual block has, makes the sizes line up or not.
    merge = draw(st.sampled_from([None, "add", "concat"]))
    lines = ["  input ?x?x4", "  stem = conv 4 1x1"] + [f"  {layer}" for layer in layers[:-1]]
    lines.append(f"  last = {layers[-1]}")
    if merge:
        lines.append(f"  {merge} stem last")
    return "model m {\n" + "\n".join(lines) + "\n}\n"


@settings(max_examples=40, deadline=None, derandomize=True)
@given(open_networks())
def test_the_sizes_found_are_exactly_those_the_checker_accepts_one_by_one(text):
    checked = check_text(text)
    model = checked.spec.models[0]
    sizes = checked.reports[0].input_sizes
    limit = 3 * period(model) + 40
    accepted = {n for n in range(1, limit) if accepted_by_checker(model, n, n)}
    if sizes.evaluated_at is None:
        # No size from the large ones up fits; small ones may, by coincidence of floors, and are not claimed.
        assert not any(accepted_by_checker(model, n, n) for n in range(1024, 1024 + period(model)))
        return
    height = sizes.rules[0]
    claimed = {n for n in range(1, limit) if height.accepts(n)}
    assert claimed == accepted, f"spec:\n{text}"


# --- the command line --------------------------------------------------------------------------


def test_check_prints_the_accepted_sizes_and_the_output_formula(tmp_path):
    path = tmp_path / "unet.cnn"
    path.write_text(open_unet())
    result = run_cli("check", str(path))
    assert result.exit_code == 0
    assert "HxWx3 -> HxWx2; accepts H, W >= 8, divisible by 8" in result.stdout
    assert "evaluated at H=224, W=224" in result.stdout


def test_summary_input_evaluates_an_open_spec_at_one_size(tmp_path):
    path = tmp_path / "unet.cnn"
    path.write_text(open_unet())
    result = run_cli("summary", str(path), "--input", "64x96x3")
    assert result.exit_code == 0
    assert "(None, 64, 96, 2)" in result.stdout


def test_summary_input_at_a_size_the_network_refuses_reports_the_error(tmp_path):
    path = tmp_path / "unet.cnn"
    path.write_text(open_unet())
    result = run_cli("summary", str(path), "--input", "60x60x3")
    assert result.exit_code == 1
    assert "E304" in result.stdout + result.stderr


@pytest.mark.parametrize("shape", ["64x64x1", "64x64", "big"])
def test_summary_input_that_does_not_fit_the_spec_is_a_usage_error(tmp_path, shape):
    path = tmp_path / "unet.cnn"
    path.write_text(open_unet())
    assert run_cli("summary", str(path), "--input", shape).exit_code == 2


def test_summary_input_on_a_spec_with_a_fixed_input_is_a_usage_error():
    assert run_cli("summary", str(EXAMPLES / "mnist.cnn"), "--input", "28x28x1").exit_code == 2


# --- Keras at the boundaries -------------------------------------------------------------------


@pytest.mark.keras
@pytest.mark.parametrize("size", [7, 8, 12, 16, 20, 24])
def test_keras_builds_the_open_unet_exactly_at_the_sizes_specc_accepts(size):
    from keras_reference import KerasRefused, assert_figures_equal, keras_model_figures

    sizes, _ = sizes_of(open_unet())
    checked = check_text(open_unet(), evaluate_at=(size, size, 3))
    (report,) = checked.reports
    if sizes.rules[0].accepts(size):
        assert checked.ok
        assert_figures_equal(report, keras_model_figures(report))
    else:
        assert not checked.ok
        with pytest.raises((KerasRefused, ValueError)):
            keras_model_figures(report)


def backbone_spec(network: ZooNetwork) -> str:
    return f"model m {{\n  input ?x?x3\n  backbone {network.name} weights=none include_top=false\n}}\n"


@pytest.mark.keras
@pytest.mark.parametrize("network", ZOO, ids=lambda network: network.name)
def test_the_zoo_minimum_size_is_the_one_keras_applications_accepts(network):
    from keras_reference import keras_application

    sizes, checked = sizes_of(backbone_spec(network))
    assert checked.ok
    least = sizes.rules[0].minimum
    # Keras builds the network at specc's minimum, with the output specc computes, and refuses one pixel less.
    built = keras_application(network, include_top=False, input_shape=(least, least, 3))
    at_least = check_text(backbone_spec(network), evaluate_at=(least, least, 3)).reports[0]
    assert tuple(built.output.shape[1:]) == at_least.output_shape
    with pytest.raises(ValueError):
        keras_application(network, include_top=False, input_shape=(least - 1, least - 1, 3))
    assert not sizes.rules[0].accepts(least - 1)


def test_json_gives_the_accepted_sizes_the_output_formulas_and_the_evaluation_size(tmp_path):
    import json

    import jsonschema

    path = tmp_path / "unet.cnn"
    path.write_text(open_unet())
    result = run_cli("check", str(path), "--format", "json")
    document = json.loads(result.stdout)
    schema = json.loads((Path(__file__).parent / "schemas" / "specc-check.schema.json").read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(document)
    (model,) = document["files"][0]["models"]
    assert model["inputs"][0]["open_axes"] == ["H", "W", None]
    sizes = model["input_sizes"]
    assert sizes["accepts"][0] == {"name": "H", "minimum": 8, "modulus": 8, "residues": [0], "every_from": 8}
    assert sizes["output_formulas"] == [["H", "W", "2"]]
    assert sizes["evaluated_at"] == {"H": 224, "W": 224}


def test_a_stride_period_too_long_to_search_is_checked_at_one_size_with_a_warning():
    strides = "".join(f"  conv 4 3x3 strides={s} same\n" for s in (3, 5, 7, 11))
    checked = check_text(f"model m {{\n  input ?x?x3\n{strides}}}\n")
    assert [d.code for d in checked.diagnostics] == ["W305"]
    assert "1155 pixels" in checked.diagnostics[0].message
    assert checked.reports[0].model.inputs[0].shape == (224, 224, 3)


def test_branches_that_agree_only_at_tiny_sizes_say_so():
    _, checked = sizes_of(
        "model m {\n  a = input ?x?x3\n  x = conv 8 3x3 strides=2 same from a\n  y = conv 8 3x3 same from a\n"
        "  add x y\n}\n"
    )
    assert checked.diagnostics[0].code == "E307"
    assert "line up only at 1x1, 2x2" in checked.diagnostics[0].message


@pytest.mark.parametrize("backend", ["keras", "torch"])
def test_generated_code_says_what_the_spec_leaves_open_and_the_size_it_is_built_for(backend):
    from specc.backends.keras import emit_keras
    from specc.backends.torch import emit_torch

    checked = check_text(open_unet(), evaluate_at=(64, 96, 3))
    source = (emit_keras if backend == "keras" else emit_torch)(checked.reports, "unet.cnn")
    assert "it accepts H, W >= 8, divisible by 8," in source
    assert "giving HxWx2. This code is built for H=64, W=96." in source


def test_a_backbone_with_its_imagenet_top_takes_its_default_size_only():
    sizes, checked = sizes_of("model m {\n  input ?x?x3\n  backbone vgg16 weights=imagenet\n}\n")
    assert checked.ok
    assert sizes.describe() == "H, W = 224 only"
    assert sizes.output_formulas == (("1000",),)
    assert sizes.rules[0].accepts(224) and not sizes.rules[0].accepts(256)


def test_extents_tied_to_each_other_are_checked_at_one_size_with_a_warning():
    _, checked = sizes_of("model m {\n  a = input HxWx3\n  b = input WxHx3\n  add a b\n}\n")
    assert [d.code for d in checked.diagnostics] == ["W305"]
    assert "tied to each other" in checked.diagnostics[0].message


def test_the_readme_shows_what_check_prints_for_the_open_example(monkeypatch):
    monkeypatch.chdir(EXAMPLES.parent)
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    result = run_cli("check", "examples/segment_any_size.cnn")
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("examples/segment_any_size.cnn:")]
    assert f"$ specc check examples/segment_any_size.cnn\n{line}\n" in readme


def test_a_line_that_failed_leaves_the_sizes_unknown_and_only_its_own_error_is_reported():
    checked = check_text("model m {\n  input ?x?x3\n  a = conv 8 3x3\n  concat a\n}\n")
    assert [d.code for d in checked.diagnostics] == ["E216"]
    assert checked.reports[0].input_sizes is None
