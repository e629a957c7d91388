"""The PyTorch backend on graphs: forward names every value, merges compute what Keras's merge layers compute
(broadcasting included), each block is one nn.Module class used once per use, and the builds of both
frameworks agree within 1e-4 with weights copied through block submodules. `--verify` passes on graphs."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from specc.backends.torch import emit_torch, python_name, torch_dim, torch_layout
from specc.backends.torch_verify import compare, torch_figures
from specc.backends.transfer import keras_to_torch, weight_pairs
from specc.backends.verify import run_module
from specc.pipeline import check_text

from cli_helpers import invoke
from graph_strategies import graph_specs
from torch_reference import TOLERANCE, build_both, equivalence_difference, random_batch, randomize_keras_weights

RESNET_BASIC = """\
block basic(filters) {
  x = input
  y = conv filters 3 same use_bias=false name=1_conv
  y = bn name=1_bn
  y = activation relu name=1_relu
  y = conv filters 3 same use_bias=false name=2_conv
  y = bn name=2_bn
  y = add x y name=add
  activation relu name=out
}
model resnet_basic {
  input 8x8x3
  conv 6 3 same name=stem
  basic 6 name=conv2_block repeat=2
  global_avgpool
  dense 4
}
"""

BOTTLENECK = """\
block bottleneck(filters, expanded, strides=1) {
  x = input
  shortcut = conv expanded 1 strides=strides name=0_conv
  shortcut = bn name=0_bn
  y = conv filters 1 strides=strides name=1_conv from x
  y = bn name=1_bn
  y = activation relu name=1_relu
  y = conv filters 3 same name=2_conv
  y = bn name=2_bn
  y = activation relu name=2_relu
  y = conv expanded 1 name=3_conv
  y = bn name=3_bn
  add shortcut y name=add
  activation relu name=out
}
model resnet_bottleneck {
  input 8x8x4
  bottleneck 2 8 name=conv2_block1
  bottleneck 4 16 strides=2 name=conv3_block1
  global_avgpool
}
"""

# Strides 2 with 'same' on an even input pads unevenly in one use, evenly in the other: the class pads with a
# module in both, the amounts a parameter.
STRIDED_SAME = """\
block down(filters, strides=1) {
  conv filters 3 strides=strides same relu name=conv
  maxpool 2 strides=1 same name=pool
}
model strided_same {
  input 8x8x2
  down 3 name=first
  down 4 2 name=second
}
"""

INCEPTION = """\
block inception(f1, f3r, f3, f5r, f5, fp) {
  x = input
  a = conv f1 1 relu from x
  b = conv f3r 1 relu from x
  b = conv f3 3 same relu
  c = conv f5r 1 relu from x
  c = conv f5 5 same relu
  d = maxpool 3 strides=1 same from x
  d = conv fp 1 relu
  concat a b c d
}
model inception {
  input 9x9x6
  inception 4 3 5 2 3 2 name=mixed_1
  inception 5 3 6 2 2 3 name=mixed_2
}
"""

DENSENET = """\
block dense_layer(growth) {
  x = input
  y = bn
  y = activation relu
  y = conv growth 3 same use_bias=false
  concat x y
}
model densenet {
  input 6x6x4
  dense_layer 3 name=block repeat=3
  bn
  global_avgpool
}
"""

SQUEEZE_EXCITE = """\
block se(channels, squeezed) {
  x = input
  s = global_avgpool
  s = dense squeezed relu
  s = dense channels sigmoid
  multiply x s
}
model squeeze_excite {
  input 6x6x8
  conv 8 3 same relu
  se 8 2 name=se
}
"""

# TODO: `upsample 2` (and conv_transpose) in place of the zero-padding stand-ins once the new layer kinds
# land on this branch; the stand-ins restore the size the skip connection needs, as upsampling would.
UNET = """\
block double_conv(filters) {
  conv filters 3 same relu name=1_conv
  conv filters 3 same relu name=2_conv
}
model unet {
  image = input 16x16x2
  e1 = double_conv 4 name=enc1
  p1 = maxpool 2
  e2 = double_conv 8 name=enc2
  p2 = maxpool 2
  e3 = double_conv 16 name=bottom
  u2 = zeropad 2 from e3
  d2 = concat u2 e2
  d2 = double_conv 8 name=dec2
  u1 = zeropad 4 from d2
  d1 = concat u1 e1
  d1 = double_conv 4 name=dec1
  conv 1 1 sigmoid name=mask
}
"""

TWO_IN_TWO_OUT = """\
model two_heads {
  image = input 8x8x3
  meta = input 5
  f = conv 4 3 relu from image
  f = global_maxpool
  m = dense 4 relu from meta
  j = concat f m
  a = dense 3 softmax name=class_head
  b = dense 1 name=value_head from j
  output a b
}
"""

# Every merge kind, with Keras's broadcasting: an extent of 1 (a 1x1 map), a vector against a map, and a
# rank-2 value against a map (Keras adds the missing axes after the batch, channels-last).
MERGES = """\
model merges {
  image = input 6x6x4
  sequence = input 6x4
  vector = input 4
  c = conv 4 3 same from image
  p = maxpool 6 from c
  s = add c p image
  d = subtract s c
  m = multiply d vector
  a = average m sequence image
  hi = maximum a vector
  lo = minimum hi sequence
  rows = concat lo c
  output rows
}
"""

# The seed (a Korean course's CNN, /work/shared/seeds/000): its second branch read the input `il` instead of
# the first branch's `dl`, which left the whole first branch unused. Fixed, it reads `dl`.
SEED_FIXED = """\
model seed {
  il = input 28x28x1
  cl = conv 32 3x3 same relu from il
  bl = batchnorm
  cl = conv 32 3x3 same relu
  bl = batchnorm
  pl = maxpool 2
  dl = dropout 0.25
  cl = conv 64 3x3 same relu from dl
  bl = batchnorm
  cl = conv 64 3x3 same relu
  bl = batchnorm
  pl = maxpool 2
  dl = dropout 0.25
  fl = flatten
  dl = dense 512 relu
  bl = batchnorm
  ol = dense 10 softmax
}
"""

SEED_AS_WRITTEN = SEED_FIXED.replace("from dl", "from il")

# A block that uses a block: the inner class is defined once and the outer class instantiates it.
NESTED = """\
block unit(filters) {
  x = input
  y = conv filters 3 same relu name=1_conv
  add x y name=add
}
block stage(filters, strides) {
  x = conv filters 1 strides=strides name=0_conv
  unit filters name=u repeat=2
}
model nested {
  input 8x8x3
  a = stage 4 1 name=s1
  b = stage 6 2 name=s2
  stage 6 1 name=s3 from b
}
"""

# A flatten whose features meet a dense layer's in a merge: copying weights cannot reorder both, so this
# flatten is in Keras's order (FlattenChannelsLast).
FLATTEN_INTO_MERGE = """\
model flatten_merge {
  image = input 3x4x2
  f = flatten from image
  d = dense 24 from f
  s = add f d
  dense 3
}
"""

GRAPH_SPECS = {
    "nested": NESTED,
    "flatten_merge": FLATTEN_INTO_MERGE,
    "resnet_basic": RESNET_BASIC,
    "resnet_bottleneck": BOTTLENECK,
    "strided_same": STRIDED_SAME,
    "inception": INCEPTION,
    "densenet": DENSENET,
    "squeeze_excite": SQUEEZE_EXCITE,
    "unet": UNET,
    "two_heads": TWO_IN_TWO_OUT,
    "merges": MERGES,
    "seed": SEED_FIXED,
    "seed_as_written": SEED_AS_WRITTEN,
}


def checked(text: str):
    result = check_text(text)
    assert not [d for d in result.diagnostics if d.code.startswith("E")], [d.message for d in result.diagnostics]
    return result


def source_of(text: str) -> str:
    return emit_torch(checked(text).reports, "spec.cnn")


def module_of(text: str):
    result = checked(text)
    return result.reports[0], run_module(emit_torch(result.reports, "spec.cnn"), "<generated torch>")


# --- equivalence with Keras, and --verify's figures --------------------------------------------------------


@pytest.mark.keras
@pytest.mark.parametrize("name", GRAPH_SPECS)
def test_graph_builds_as_checked_and_computes_what_keras_computes_with_weights_copied(name):
    report, module = module_of(GRAPH_SPECS[name])
    assert compare(report, torch_figures(module.MODELS[report.model.name], report)) == []
    difference = equivalence_difference(report, name)
    assert difference <= TOLERANCE, f"{name}: Keras and PyTorch outputs differ by {difference}"


@pytest.mark.parametrize("name", ["resnet_bottleneck", "densenet", "two_heads", "merges"])
def test_build_verify_passes_on_graphs(name, write):
    spec = write(f"{name}.cnn", GRAPH_SPECS[name])
    result = invoke("build", spec, "--backend", "torch", "--verify", "-o", spec.with_suffix(".py"))
    assert result.exit_code == 0, result.stderr


def test_a_module_mixing_a_stack_and_a_two_input_model_runs_as_a_script(write):
    import subprocess
    import sys

    spec = write("mix.cnn", "model stack {\n  input 4\n  dense 2\n}\n" + TWO_IN_TWO_OUT)
    target = spec.with_suffix(".py")
    assert invoke("build", spec, "-b", "torch", "-o", target).exit_code == 0
    result = subprocess.run([sys.executable, str(target)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    shapes = [line for line in result.stdout.splitlines() if line.startswith("output shape")]
    assert shapes == ["output shape: (1, 2)", "output shape: (1, 3)", "output shape: (1, 1)"]


@pytest.mark.keras
def test_the_equivalence_test_fails_when_a_block_weight_goes_to_the_wrong_repetition(monkeypatch):
    """Weights reach the right instance of a repeated block: swapping two repetitions' paths shows."""
    from specc.backends import transfer

    report, _ = module_of(RESNET_BASIC)
    honest = transfer.torch_layout

    def swapped(report):
        layout = honest(report)
        return {
            name: type(place)(
                place.module.replace("block.0", "block.X").replace("block.1", "block.0").replace("block.X", "block.1")
                if place.module
                else None,
                place.owner,
                place.local,
            )
            for name, place in layout.items()
        }

    monkeypatch.setattr(transfer, "torch_layout", swapped)
    assert equivalence_difference(report, "swapped", record=False) > 1e-2


# --- what forward and the block classes look like ---------------------------------------------------------


def test_forward_takes_each_input_names_values_after_layers_and_returns_a_tuple_in_output_order():
    source = source_of(TWO_IN_TWO_OUT)
    assert "def forward(self, image: torch.Tensor, meta: torch.Tensor) -> tuple[torch.Tensor, ...]:" in source
    assert "j = torch.cat([f, m], dim=1)" not in source  # values are named after layers, not spec handles
    assert "concatenate = torch.cat([global_max_pooling2d, dense], dim=1)" in source
    assert "return class_head, value_head" in source
    assert "INPUT_SHAPES = ((3, 8, 8), (5,))" in source


def test_a_block_is_one_class_instantiated_per_use_with_the_literals_that_differ_as_parameters():
    source = source_of(BOTTLENECK)
    assert source.count("class Bottleneck(nn.Module):") == 1
    assert "def __init__(self, filters, expanded, strides, in_channels) -> None:" in source
    assert "self.conv_1 = nn.Conv2d(in_channels, filters, 1, stride=strides)" in source
    assert "self.conv2_block1 = Bottleneck(filters=2, expanded=8, strides=1, in_channels=4)" in source
    assert "self.conv3_block1 = Bottleneck(filters=4, expanded=16, strides=2, in_channels=8)" in source
    assert "conv2_block1 = self.conv2_block1(input)" in source


def test_uneven_same_padding_in_one_use_makes_the_padding_a_module_with_its_amounts_a_parameter():
    source = source_of(STRIDED_SAME)
    assert source.count("class Down(nn.Module):") == 1
    assert "self.conv_pad = nn.ZeroPad2d(padding)" in source
    assert "self.first = Down(filters=3, strides=1, padding=1, in_channels=2)" in source
    assert "self.second = Down(filters=4, strides=2, padding=(0, 1, 0, 1), in_channels=3)" in source


def test_repetitions_are_an_nn_sequential_of_instances_each_with_its_input_channels():
    source = source_of(DENSENET)
    assert source.count("class DenseLayer(nn.Module):") == 1
    assert re.search(
        r"self\.block = nn\.Sequential\(\n\s+DenseLayer\(num_features=4\),\n\s+DenseLayer\(num_features=7\)", source
    )
    _, module = module_of(DENSENET)
    assert isinstance(module.MODELS["densenet"]().block[2], module.DenseLayer)


def test_a_block_in_a_block_is_its_own_class_and_the_outer_class_passes_its_parameters_on():
    source = source_of(NESTED)
    assert source.count("class Unit(nn.Module):") == 1 and source.count("class Stage(nn.Module):") == 1
    assert "self.u = nn.Sequential(*(Unit(filters=filters) for _ in range(2)))" in source
    report = check_text(NESTED).reports[0]
    assert torch_layout(report)["s2_u2_1_conv"].module == "s2.u.1.conv_1"


def test_a_flatten_whose_features_reach_a_merge_flattens_in_keras_order():
    source = source_of(FLATTEN_INTO_MERGE)
    assert "self.flatten = FlattenChannelsLast()" in source


def test_identical_repetitions_are_one_generator_of_instances():
    assert "nn.Sequential(*(Basic() for _ in range(2)))" in source_of(RESNET_BASIC)


def test_a_vector_multiplying_a_map_is_given_new_axes_after_the_channels_as_keras_broadcasts():
    source = source_of(SQUEEZE_EXCITE)
    assert "multiply = x * dense_1[:, :, None, None]" in source
    merges = source_of(MERGES)
    assert "sequence[:, :, None]" in merges and "vector[:, :, None, None]" in merges


def test_keras_concat_axes_map_to_pytorch_dims():
    assert [torch_dim(axis, 3) for axis in (-1, 3, 1, 2, -3, -2)] == [1, 1, 2, 3, 2, 3]
    assert [torch_dim(axis, 1) for axis in (-1, 1)] == [1, 1]
    assert [torch_dim(axis, 2) for axis in (-1, 2, 1)] == [1, 1, 2]


@pytest.mark.keras
def test_concat_on_height_and_width_computes_what_keras_computes():
    text = (
        "model m {\n  image = input 4x5x3\n  a = conv 3 1 from image\n  h = concat a image axis=1\n"
        "  w = concat a image axis=-2\n  output h w\n}\n"
    )
    result = check_text(text)
    assert result.ok, result.diagnostics
    assert equivalence_difference(result.reports[0], "concat axes") <= TOLERANCE


def test_block_layer_names_become_attributes_and_locals_with_their_numbers_last():
    assert [python_name(n) for n in ("1_conv", "0_bn", "add", "1", "2_3_x", "conv")] == [
        "conv_1",
        "bn_0",
        "add",
        "layer_1",
        "x_2_3",
        "conv",
    ]
    source = source_of(BOTTLENECK)
    assert "self.conv_0 = nn.Conv2d(in_channels, expanded, 1, stride=strides)" in source
    assert "add = conv_0_1 + bn_3" not in source and "add = bn_0 + bn_3" in source


def test_weights_of_keras_layers_in_blocks_map_to_the_submodules_of_their_use():
    report, module = module_of(BOTTLENECK + DENSENET.replace("model densenet", "model densenet_too"))
    pairs = {(pair.layer, pair.keras_name): pair.torch_name for pair in weight_pairs(report)}
    assert pairs[("conv2_block1_1_conv", "kernel")] == "conv2_block1.conv_1.weight"
    assert pairs[("conv3_block1_0_bn", "moving_variance")] == "conv3_block1.bn_0.running_var"
    state = module.MODELS["resnet_bottleneck"]().state_dict()
    assert set(pairs.values()) == {key for key in state if not key.endswith("num_batches_tracked")}
    dense = check_text(DENSENET).reports[0]
    names = {pair.torch_name for pair in weight_pairs(dense)}
    assert "block.2.conv2d.weight" in names and "block.0.batch_normalization.running_mean" in names


# --- only what reaches an output ----------------------------------------------------------------------------


def test_layers_reaching_no_output_are_not_emitted_as_keras_model_leaves_them_out():
    result = check_text(SEED_AS_WRITTEN)
    assert "W303" in [d.code for d in result.diagnostics]
    report = result.reports[0]
    layout = torch_layout(report)
    unused = [r.layer.name for r in report.layers if r.layer.name not in report.reachable]
    assert len(unused) == 6 and not set(unused) & set(layout)
    source = emit_torch(result.reports, "spec.cnn")
    assert all(f"self.{name} =" not in source for name in unused)
    model = run_module(source, "<t>").MODELS["seed"]()
    assert sum(p.numel() for p in model.parameters()) == report.trainable_params


# --- hostile names ------------------------------------------------------------------------------------------

HOSTILE = """\
block forward(self, nn, conv_1) {
  x = input
  F = conv nn 3 same strides=self name=1_conv
  y = conv conv_1 1 strides=self name=x from x
  z = conv conv_1 1 name=torch from F
  add y z name=forward
}
model keras {
  x = input 6x6x2
  self = input 6x6x2
  inputs = input 6x6x2
  a = add x self inputs name=F
  b = conv 3 1 name=torch from a
  c = conv 3 1 name=nn from b
  d = forward 2 3 3 name=inputs_1 from c
  e = forward 1 2 3 name=forward from d
  f = add e d name=x_1
  output f a
}
"""


@pytest.mark.keras
def test_hostile_names_never_shadow_self_torch_nn_f_or_a_block_parameter():
    result = check_text(HOSTILE)
    errors = [d.message for d in result.diagnostics if d.code.startswith("E")]
    assert not errors, errors
    source = emit_torch(result.reports, "spec.cnn")
    assert "def forward(self, x: torch.Tensor, self_1: torch.Tensor, inputs: torch.Tensor)" in source
    assert "def __init__(self, self_1, nn_1, padding) -> None:" in source
    compile(source, "<hostile>", "exec")
    report = result.reports[0]
    module = run_module(source, "<hostile>")
    assert compare(report, torch_figures(module.MODELS["keras"], report)) == []
    assert equivalence_difference(report, "hostile names") <= TOLERANCE


# --- random graphs ------------------------------------------------------------------------------------------

# Layers that keep a 4x4 map's size, by how they are written after `= ` (each reads one value).
_MAP_LAYERS = (
    "conv {c} 3 same",
    "conv {c} 1 relu",
    "conv {c} 2 same tanh",
    "bn",
    "maxpool 3 strides=1 same",
    "avgpool 2 strides=1 same",
    "dense {c}",
    "activation sigmoid",
)
_MERGE_KINDS = ("add", "subtract", "multiply", "average", "maximum", "minimum")


@st.composite
def random_graphs(draw) -> str:
    """A model of named values on a 4x4 map: each line a layer of one earlier value or a merge of two or three
    (element-wise ones need equal channels, concat any), with one or two outputs."""
    channels = {"image": 3}
    lines = ["  image = input 4x4x3"]
    for index in range(draw(st.integers(2, 7))):
        name = f"v{index}"
        names = list(channels)
        if len(names) > 1 and draw(st.booleans()):
            kind = draw(st.sampled_from((*_MERGE_KINDS, "concat")))
            first = draw(st.sampled_from(names))
            if kind == "concat":
                pool = names
            else:
                pool = [n for n in names if channels[n] == channels[first]]
            count = 2 if kind == "subtract" else draw(st.integers(2, 3))
            operands = [first, *draw(st.lists(st.sampled_from(pool), min_size=count - 1, max_size=count - 1))]
            lines.append(f"  {name} = {kind} {' '.join(operands)}")
            channels[name] = sum(channels[o] for o in operands) if kind == "concat" else channels[first]
            continue
        source = draw(st.sampled_from(names))
        layer = draw(st.sampled_from(_MAP_LAYERS))
        width = draw(st.integers(1, 4))
        lines.append(f"  {name} = {layer.format(c=width)} from {source}")
        channels[name] = width if "{c}" in layer else channels[source]
    values = [n for n in channels if n != "image"]
    outputs = draw(st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True))
    return "model random {\n" + "\n".join(lines) + f"\n  output {' '.join(outputs)}\n}}\n"


@pytest.mark.keras
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(), st.integers(0, 2**16))
def test_random_graph_computes_what_keras_computes(text, seed):
    result = check_text(text)
    assert not [d for d in result.diagnostics if d.code.startswith("E")], (text, result.diagnostics)
    report = result.reports[0]
    module = run_module(emit_torch(result.reports, "spec.cnn"), "<random>")
    assert compare(report, torch_figures(module.MODELS["random"], report)) == [], text
    difference = equivalence_difference(report, "random graph", seed=seed)
    assert difference <= TOLERANCE, f"outputs differ by {difference}\n{text}"


@pytest.mark.keras
def test_weights_copied_into_a_graph_module_reproduce_keras_on_a_second_batch():
    report, _ = module_of(INCEPTION)
    rng = np.random.default_rng(5)
    keras_model, torch_module = build_both(report)
    randomize_keras_weights(keras_model, rng)
    keras_to_torch(keras_model, torch_module, report)
    from specc.backends.transfer import output_difference

    assert output_difference(keras_model, torch_module, report, random_batch(report, rng, size=2)) <= TOLERANCE


@pytest.mark.keras
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(text=graph_specs(), seed=st.integers(0, 2**16))
def test_the_keras_property_tests_random_graphs_that_check_clean_compute_the_same_in_pytorch(text, seed):
    """The graphs tests/test_keras_graphs.py compares with Keras's figures, through the equivalence test too."""
    result = check_text(text)
    assume(result.ok and result.reports[0].complete)
    report = result.reports[0]
    difference = equivalence_difference(report, "random graph (keras strategy)", seed=seed)
    assert difference <= TOLERANCE, f"outputs differ by {difference}\n{text}"
