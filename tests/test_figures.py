"""Figures (specc.figures, the cost rules in specc.layers): each kind's MACs and FLOPs on small cases worked
by hand, receptive fields on small stacks, and memory liveness on a branching graph."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from specc.cli import app
from specc.figures import (
    DTYPE_BYTES,
    LayerFigures,
    ModelFigures,
    ReceptiveField,
    format_bytes,
    format_count,
    model_figures,
)
from specc.layers import LAYER_KINDS, Cost, LayerBase
from specc.pipeline import check_text


def _figures(body: str, dtype: str = "float32", batch: int = 1) -> ModelFigures:
    checked = check_text("model m {\n" + body + "\n}\n")
    errors = [d for d in checked.diagnostics if d.code.startswith("E")]
    assert not errors, errors
    return model_figures(checked.reports[0], dtype, batch)


def _last(body: str) -> LayerFigures:
    return list(_figures(body).layers.values())[-1]


def test_every_kind_states_its_own_cost_rule():
    assert [k.__name__ for k in LAYER_KINDS if k.cost_terms is LayerBase.cost_terms] == []


# (input, layer line, MACs, FLOPs), each worked by hand from docs/figures.md's rules.
COSTS = [
    # conv: H'*W'*kh*kw*C_in*F, FLOPs 2*MACs (the bias adds not counted)
    ("8x8x3", "conv 4 3x3", 6 * 6 * 3 * 3 * 3 * 4, 2 * 6 * 6 * 3 * 3 * 3 * 4),
    ("8x8x3", "conv 4 3x3 bias=false", 6 * 6 * 3 * 3 * 3 * 4, 2 * 6 * 6 * 3 * 3 * 3 * 4),
    ("8x8x3", "conv 4 3x3 dilation=2", 4 * 4 * 3 * 3 * 3 * 4, 2 * 4 * 4 * 3 * 3 * 3 * 4),
    ("8x8x3", "conv 4 3x3 strides=2 same relu", 4 * 4 * 3 * 3 * 3 * 4, 2 * 4 * 4 * 3 * 3 * 3 * 4),
    ("8x8x3", "depthwise 3x3 depth_multiplier=2", 6 * 6 * 3 * 3 * 3 * 2, 2 * 6 * 6 * 3 * 3 * 3 * 2),
    ("8x8x3", "separable 5 3x3", 6 * 6 * 3 * 3 * 3 + 6 * 6 * 3 * 5, 2 * (6 * 6 * 3 * 3 * 3 + 6 * 6 * 3 * 5)),
    # transposed: every input element through the whole kernel
    ("4x4x3", "conv_transpose 2 3x3 strides=2", 4 * 4 * 3 * 3 * 3 * 2, 2 * 4 * 4 * 3 * 3 * 3 * 2),
    ("20", "dense 10", 20 * 10, 2 * 20 * 10),
    ("4x4x3", "dense 10", 4 * 4 * 3 * 10, 2 * 4 * 4 * 3 * 10),
    ("4x4x3", "batchnorm", 0, 2 * 48),
    ("4x4x3", "maxpool 2", 0, 3 * 2 * 2 * 3),
    ("4x4x3", "minpool 2", 0, 3 * 2 * 2 * 3),
    ("4x4x3", "avgpool 2", 0, 4 * 2 * 2 * 3),
    ("5x5x3", "maxpool 3 strides=1", 0, 8 * 3 * 3 * 3),
    ("4x4x3", "global_avgpool", 0, 4 * 4 * 3),
    ("4x4x3", "global_maxpool", 0, 4 * 4 * 3),
    ("4x4x3", "activation relu", 0, 48),
    ("4x4x3", "activation softmax", 0, 48),
    ("4x4x3", "activation linear", 0, 0),
    ("4x4x3", "relu", 0, 48),
    ("4x4x3", "rescaling 0.5", 0, 48),
    ("4x4x3", "rescaling 0.5 offset=-1", 0, 2 * 48),
    ("4x4x3", "normalization mean=0.5 variance=2", 0, 2 * 48),
    ("4x4x3", "normalization", 0, 2 * 48),
    ("4x4x3", "layernorm", 0, 7 * 48),
    ("4x4x3", "layernorm center=false scale=false", 0, 5 * 48),
    ("4x4x3", "dropout 0.5", 0, 0),
    ("4x4x3", "flatten", 0, 0),
    ("4x4x3", "reshape (16, 3)", 0, 0),
    ("4x4x3", "zeropad 1", 0, 0),
    ("4x4x3", "crop 1", 0, 0),
    ("4x4x3", "upsample 2", 0, 0),
    ("4x4x3", "upsample 2 bilinear", 0, 7 * 8 * 8 * 3),
]


@pytest.mark.parametrize(("shape", "line", "macs", "flops"), COSTS, ids=[c[1] for c in COSTS])
def test_layer_cost_follows_the_documented_convention(shape, line, macs, flops):
    found = _last(f"input {shape}\n{line}")
    assert (found.macs, found.flops) == (macs, flops)


MERGES = [
    ("add a b", 48),
    ("add a b c", 2 * 48),
    ("subtract a b", 48),
    ("multiply a b c", 2 * 48),
    ("maximum a b", 48),
    ("minimum a b c", 2 * 48),
    ("average a b c", 3 * 48),
    ("scaled_add a b scale=0.17", 2 * 48),
    ("concat a b c", 0),
]


@pytest.mark.parametrize(("line", "flops"), MERGES, ids=[m[0] for m in MERGES])
def test_merge_cost_is_per_output_element(line, flops):
    found = _last(f"x = input 4x4x3\na = relu from x\nb = relu from x\nc = relu from x\n{line}")
    assert (found.macs, found.flops) == (0, flops)


def test_merge_of_broadcast_operands_counts_output_elements():
    found = _last("x = input 4x4x3\ns = global_avgpool keepdims=true from x\nmultiply x s")
    assert found.flops == 48


def test_cost_is_one_example_and_named_tuple():
    checked = check_text("model m {\n input 8x8x3\n conv 4 3x3\n}\n")
    layer_report = checked.reports[0].layers[0]
    cost = layer_report.layer.cost(layer_report.input_shapes, layer_report.inference.output_shape)
    assert cost == Cost(macs=3888, flops=7776)


def test_macs_working_shows_the_product():
    figures = _figures("input 28x28x1\nconv 32 3x3 name=c")
    assert figures.working["c"][0] == "MACs: 26*26*3*3*1*32 = 194,688"


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(5, 24),
    channels=st.integers(1, 6),
    filters=st.integers(1, 8),
    kernel=st.integers(1, 5),
    strides=st.integers(1, 3),
    padding=st.sampled_from(["valid", "same"]),
)
def test_conv_macs_are_output_elements_times_kernel_volume(size, channels, filters, kernel, strides, padding):
    checked = check_text(
        f"model m {{\n input {size}x{size}x{channels}\n conv {filters} {kernel}x{kernel} strides={strides} "
        f"{padding}\n}}\n"
    )
    (layer_report,) = checked.reports[0].layers
    height, width, out = layer_report.inference.output_shape
    found = model_figures(checked.reports[0]).layers[layer_report.layer.name]
    assert found.macs == height * width * out * kernel * kernel * channels
    assert found.flops == 2 * found.macs


# Receptive fields


def _field(body: str) -> ReceptiveField | None:
    return _last(body).receptive_field


def _square(size: int, jump: Fraction | int = 1, start: Fraction | int = 0, whole: bool = False) -> ReceptiveField:
    return ReceptiveField((size, size), (Fraction(jump),) * 2, (Fraction(start),) * 2, whole)


def test_receptive_field_of_two_3x3_convolutions_is_5():
    assert _field("input 16x16x1\nconv 4 3x3\nconv 4 3x3") == _square(5)


def test_receptive_field_after_a_stride_2_convolution_grows_by_twice_the_kernel():
    assert _field("input 16x16x1\nconv 4 3x3 strides=2\nconv 4 3x3") == _square(7, jump=2)


def test_receptive_field_of_dilated_convolutions():
    assert _field("input 16x16x1\nconv 4 3x3 dilation=2") == _square(5)
    assert _field("input 16x16x1\nconv 4 3x3 dilation=2\nconv 4 3x3 dilation=2") == _square(9)


def test_receptive_field_of_same_padding_starts_before_the_input():
    assert _field("input 16x16x1\nconv 4 3x3 same") == _square(3, start=-1)
    assert _field("input 16x16x1\nconv 4 3x3 same\nconv 4 3x3 same") == _square(5, start=-2)


def test_receptive_field_through_pooling():
    assert _field("input 16x16x1\nmaxpool 2\nconv 4 3x3") == _square(6, jump=2)


def test_receptive_field_per_axis():
    assert _field("input 16x16x1\nconv 4 3x1") == ReceptiveField((3, 1), (1, 1), (0, 0), False)


def test_receptive_field_of_a_merge_takes_its_widest_operand():
    found = _field("x = input 16x16x1\na = conv 4 3x3 same from x\nb = conv 4 5x5 same from x\nadd a b")
    assert found == _square(5, start=-2)


def test_receptive_field_of_elementwise_layers_is_their_input_field():
    assert _field("input 16x16x1\nconv 4 3x3\nbatchnorm\nrelu") == _square(3)


def test_receptive_field_after_global_pooling_is_the_whole_input():
    # 3 + (14 - 1)*1: the last map is 14 wide, one pixel apart
    assert _field("input 16x16x1\nconv 4 3x3\nglobal_avgpool") == _square(16, whole=True)
    assert _field("input 16x16x1\nconv 4 3x3\nglobal_avgpool\ndense 3") == _square(16, whole=True)
    assert _field("input 16x16x1\nconv 4 3x3\nflatten\ndense 3") == _square(16, whole=True)


def test_receptive_field_of_a_transposed_convolution_has_a_fractional_jump():
    # a 3-wide window over an input spread 2 times touches at most 2 real inputs
    found = _field("input 8x8x1\nconv_transpose 4 3x3 strides=2")
    assert found.size == (2, 2) and found.jump == (Fraction(1, 2),) * 2


def test_receptive_field_is_none_without_a_map():
    assert _field("input 20\ndense 10\ndense 3") is None


def test_receptive_field_working():
    figures = _figures("input 16x16x1\nconv 4 3x3 strides=2\nconv 4 3x3 same name=c")
    assert "rf: 3 + (3-1)*2 = 7, jump 2*1 = 2, start 0 - 1*2 = -2" in figures.working["c"]


# Memory

# x (64 B) -> a (512 B) -> b (64 B) -> c (512 B) -> d (64 B); e = x + d. float32, batch 1.
BRANCHING = """x = input 4x4x1
a = conv 8 1x1 from x
b = conv 1 1x1 from a
c = conv 8 1x1 from b
d = conv 1 1x1 from c
e = add x d
"""


def test_peak_memory_frees_a_value_after_its_last_reader():
    # At c: x (read by e), b (read by c) and c; a was freed after b read it.
    assert _figures(BRANCHING + "output e").peak_forward_bytes == 64 + 64 + 512


def test_peak_memory_keeps_model_outputs_alive():
    # a is an output too, so it stays: x + a + b + c when c is made.
    assert _figures(BRANCHING + "output e a").peak_forward_bytes == 64 + 512 + 64 + 512


def test_peak_memory_counts_a_view_once():
    # flatten is a view of a: a (512 B) stays alive while the dense reads it, and nothing is added for it.
    figures = _figures("x = input 4x4x1\na = conv 8 1x1\nf = flatten\ng = dense 2")
    assert figures.layers["flatten"].output_bytes == 0
    assert figures.peak_forward_bytes == 64 + 512


def test_memory_scales_with_batch_and_dtype():
    one = _figures(BRANCHING + "output e")
    many = _figures(BRANCHING + "output e", dtype="float16", batch=8)
    assert many.peak_forward_bytes == one.peak_forward_bytes * 8 * 2 // 4
    assert many.layers["conv2d"].output_bytes == one.layers["conv2d"].output_bytes * 8 * 2 // 4
    assert many.parameter_bytes == one.parameter_bytes // 2
    assert (many.macs, many.flops) == (one.macs, one.flops)
    assert (many.dtype, many.batch) == ("float16", 8)
    assert DTYPE_BYTES["bfloat16"] == 2


def test_training_memory_is_saved_activations_params_gradients_and_adam():
    figures = _figures("input 4x4x1\nconv 2 1x1")
    # saved: input 64 B + output 128 B; 4 params (2 weights, 2 biases) of 4 bytes, a gradient each, Adam's 2 moments
    assert figures.parameter_bytes == 16
    assert figures.training_bytes == 64 + 128 + 16 + 16 + 2 * 16


def test_frozen_weights_have_no_gradients_or_optimizer_state():
    figures = _figures("input 4x4x1\nconv 2 1x1 trainable=false")
    assert figures.training_bytes == 64 + 128 + 16


def test_totals_count_only_layers_reaching_an_output():
    figures = _figures("x = input 8x8x3\na = conv 4 3x3 from x\nb = conv 4 3x3 from x\noutput a")
    assert figures.macs == figures.layers["conv2d"].macs
    assert figures.layers["conv2d_1"].macs == figures.layers["conv2d"].macs


# Formatting


@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (0, "0"),
        (512, "512"),
        (12_345, "12.3 K"),
        (600_000_000, "600 M"),
        (4_089_184_256, "4.09 G"),
        (999_999, "1.00 M"),
    ],
)
def test_format_count(n, shown):
    assert format_count(n) == shown


@pytest.mark.parametrize(
    ("n", "shown"), [(512, "512 B"), (97_800_000, "97.8 MB"), (102_200_000, "102.2 MB"), (999_990_000, "1.0 GB")]
)
def test_format_bytes(n, shown):
    assert format_bytes(n) == shown


# The summary's figures


REPO = Path(__file__).resolve().parent.parent
MNIST = REPO / "examples" / "mnist.cnn"


def _summary(*args: object, columns: int = 200):
    return CliRunner().invoke(app, ["summary", *map(str, args)], env={"COLUMNS": str(columns)})


def test_summary_prints_the_figures_totals_after_the_params():
    result = _summary(MNIST)
    assert result.exit_code == 0, result.output
    figures = model_figures(check_text(MNIST.read_text(encoding="utf-8")).reports[0])
    lines = [line.strip() for line in result.stdout.splitlines()]
    at = lines.index("Non-trainable params: 0")
    assert lines[at + 1 : at + 5] == [
        f"Total MACs: {format_count(figures.macs)} (FLOPs: {format_count(figures.flops)})",
        f"Parameter memory (float32): {format_bytes(figures.parameter_bytes)}",
        f"Peak forward memory (batch 1, float32): {format_bytes(figures.peak_forward_bytes)} activations",
        f"Training memory estimate (batch 1, float32, Adam): {format_bytes(figures.training_bytes)}",
    ]
    assert "MACs " not in result.stdout.split("Total params")[0]  # the default table keeps Keras's columns


def test_summary_costs_adds_macs_memory_and_receptive_field_columns():
    result = _summary(MNIST, "--costs")
    assert result.exit_code == 0, result.output
    assert re.search(r"MACs +┃ +Memory +┃ +Receptive field", result.stdout)
    # conv2d: 26*26*3*3*1*32 MACs, 26*26*32 float32 values, a 3x3 field
    assert re.search(r"conv2d \(Conv2D\) .* 195 K │ +86\.5 kB │ 3x3 /1 ", result.stdout)
    assert re.search(r"flatten \(Flatten\) .* 0 B │ whole input ", result.stdout)


def test_summary_dtype_and_batch_scale_the_memory_figures():
    result = _summary(MNIST, "--costs", "--dtype", "float16", "--batch", "4")
    assert result.exit_code == 0, result.output
    assert re.search(r"conv2d \(Conv2D\) .* 173\.1 kB │", result.stdout)  # 26*26*32 * 4 examples * 2 bytes
    assert "Peak forward memory (batch 4, float16)" in result.stdout


@pytest.mark.parametrize("args", [("--dtype", "float64"), ("--batch", "0")])
def test_summary_refuses_an_unknown_dtype_or_an_empty_batch(args):
    assert _summary(MNIST, *args).exit_code == 2


def test_summary_explain_shows_the_macs_and_receptive_field_arithmetic():
    result = _summary(MNIST, "--explain")
    assert "MACs: 26*26*3*3*1*32 = 194,688" in result.stdout
    assert "rf: 4 + (3-1)*2 = 8, jump 2*1 = 2, start 0 - 0*2 = 0" in result.stdout


FOLDED = """block unit(filters) {
  x = input
  y = conv filters 3x3 same name=conv
  add x y name=add
}

model net {
  input 8x8x4
  unit 4 name=stage repeat=3
}
"""


def test_summary_fold_row_sums_its_members_macs_and_memory(write):
    result = _summary(write("net.cnn", FOLDED), "--costs")
    assert result.exit_code == 0, result.output
    conv_macs, map_bytes = 8 * 8 * 3 * 3 * 4 * 4, 8 * 8 * 4 * 4
    # stage2..3: two convolutions and two adds
    row = next(line for line in result.stdout.splitlines() if "stage2..3" in line)
    assert format_count(2 * conv_macs) in row and format_bytes(4 * map_bytes) in row


def test_json_carries_each_layers_figures_and_the_models(write):
    path = write("up.cnn", "model m {\n  input 8x8x1\n  conv 4 3x3 same\n  conv_transpose 2 3x3 strides=2\n}\n")
    result = CliRunner().invoke(app, ["check", "--format", "json", str(path)])
    [model] = json.loads(result.stdout)["files"][0]["models"]
    figures = model_figures(check_text(path.read_text(encoding="utf-8")).reports[0])
    conv, transposed = model["layers"]
    assert (conv["macs"], conv["flops"], conv["output_bytes"]) == (8 * 8 * 9 * 4, 2 * 8 * 8 * 9 * 4, 8 * 8 * 4 * 4)
    assert conv["receptive_field"] == {"size": [3, 3], "jump": [1, 1], "start": [-1, -1], "whole": False}
    assert transposed["receptive_field"]["jump"] == [0.5, 0.5]
    assert model["figures"] == {
        "macs": figures.macs,
        "flops": figures.flops,
        "parameter_bytes": figures.parameter_bytes,
        "peak_forward_bytes": figures.peak_forward_bytes,
        "training_bytes": figures.training_bytes,
        "dtype": "float32",
        "batch": 1,
    }


def test_resnet50_macs_with_torchvisions_stride_placement_are_its_published_4_09_g():
    """docs/figures.md's account: Keras's ResNet50 (v1) strides its first block's 1x1 convolution in stages 3-5;
    torchvision's (v1.5) runs that 1x1 at the input's resolution (4 times the positions) and strides the 3x3.
    Moved so, specc's count is torchvision's published 4,089,184,256 multiply-accumulates."""
    report = check_text("model m {\n  image = input 224x224x3\n  backbone resnet50 weights=none\n}\n").reports[0]
    figures = model_figures(report)
    strided = [
        r.layer.name
        for r in report.layers
        if r.layer.kind == "conv2d"
        and r.layer.kernel_size == (1, 1)
        and r.layer.strides == (2, 2)
        and r.layer.name.endswith("_1_conv")
    ]
    assert strided == ["conv3_block1_1_conv", "conv4_block1_1_conv", "conv5_block1_1_conv"]
    moved = sum(3 * figures.layers[name].macs for name in strided)
    assert figures.macs == 3_857_973_248
    assert figures.macs + moved == 4_089_184_256


TORCH_COUNTED = [
    ("8x8x3", "conv 4 3x3", "Conv2d(3, 4, 3)"),
    ("9x9x3", "conv 4 3x3 strides=2 dilation=1", "Conv2d(3, 4, 3, stride=2)"),
    ("12x12x2", "conv 4 3x3 dilation=2", "Conv2d(2, 4, 3, dilation=2)"),
    ("8x8x3", "depthwise 3x3 depth_multiplier=2", "Conv2d(3, 6, 3, groups=3)"),
    ("5x5x3", "conv_transpose 2 3x3 strides=2", "ConvTranspose2d(3, 2, 3, stride=2)"),
    ("20", "dense 10", "Linear(20, 10)"),
]


@pytest.mark.torch
@pytest.mark.parametrize(("shape", "line", "module"), TORCH_COUNTED, ids=[c[1] for c in TORCH_COUNTED])
def test_flops_of_weighted_kinds_are_what_torch_flop_counter_counts(shape, line, module):
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    found = _last(f"input {shape}\n{line}")
    dims = [int(d) for d in shape.split("x")]
    # PyTorch is channels-first: (N, C, H, W) for maps.
    example = torch.zeros(1, dims[-1], *dims[:-1]) if len(dims) == 3 else torch.zeros(1, *dims)
    layer = eval(f"torch.nn.{module}")  # noqa: S307 - a constant of this table
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        layer(example)
    assert found.flops == counter.get_total_flops() == 2 * found.macs
