"""The Keras backend on graphs: networks with branches, merges and blocks are emitted in the functional API,
each block as one function called once per use, and the models Keras builds from that code equal the checker
layer by layer (output shape, trainable and non-trainable counts) and in their totals; where Keras refuses a
merge, specc reports E304 at the same layer. A property test does the same on random graphs."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from specc.backends.keras import emit_keras
from specc.diagnostics import Severity
from specc.pipeline import check_text

from cli_helpers import invoke
from graph_strategies import graph_specs
from keras_reference import (
    KerasRefused,
    assert_figures_equal,
    assert_keras_refuses,
    assert_matches_keras,
    keras_model_figures,
)

GRAPHS = Path(__file__).resolve().parent / "graphs"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

RESNET_BASIC = """
block basic(filters) {
  x = input
  conv filters 3x3 same use_bias=false name=1_conv
  batchnorm name=1_bn
  activation relu name=1_relu
  conv filters 3x3 same use_bias=false name=2_conv
  y = batchnorm name=2_bn
  add x y name=add
  activation relu name=out
}
model resnet_basic {
  input 16x16x8
  conv2 = basic 8 name=conv2_block repeat=2
  conv3 = basic 8 name=conv3_block1
}
"""

# ResNet50's stack: the first block of a stage projects its shortcut (strides and 4 x filters), the others add
# their input as it is.
RESNET_BOTTLENECK = """
block projected(filters, wide, strides=1) {
  x = input
  shortcut = conv wide 1 strides=strides name=0_conv
  shortcut = batchnorm epsilon=1.001e-5 name=0_bn from shortcut
  conv filters 1 strides=strides name=1_conv from x
  batchnorm epsilon=1.001e-5 name=1_bn
  activation relu name=1_relu
  conv filters 3 same name=2_conv
  batchnorm epsilon=1.001e-5 name=2_bn
  activation relu name=2_relu
  conv wide 1 name=3_conv
  y = batchnorm epsilon=1.001e-5 name=3_bn
  add shortcut y name=add
  activation relu name=out
}
block identity(filters, wide) {
  x = input
  conv filters 1 name=1_conv
  batchnorm epsilon=1.001e-5 name=1_bn
  activation relu name=1_relu
  conv filters 3 same name=2_conv
  batchnorm epsilon=1.001e-5 name=2_bn
  activation relu name=2_relu
  conv wide 1 name=3_conv
  y = batchnorm epsilon=1.001e-5 name=3_bn
  add x y name=add
  activation relu name=out
}
block stage(filters, wide, strides) {
  projected filters wide strides name=block1
  identity filters wide name=block2
  identity filters wide name=block3
}
model bottleneck {
  input 32x32x16
  stage 8 32 1 name=conv2
  stage 16 64 2 name=conv3
  global_avgpool
  dense 10 softmax
}
"""

INCEPTION = """
block inception(f1, f3r, f3, f5r, f5, fp) {
  x = input
  b1 = conv f1 1 relu name=branch1 from x
  b3 = conv f3r 1 relu name=branch3_reduce from x
  b3 = conv f3 3 same relu name=branch3 from b3
  b5 = conv f5r 1 relu name=branch5_reduce from x
  b5 = conv f5 5 same relu name=branch5 from b5
  bp = maxpool 3 strides=1 same name=pool from x
  bp = conv fp 1 relu name=pool_proj from bp
  concat b1 b3 b5 bp name=output
}
model inception {
  input 28x28x32
  inception 16 24 32 4 8 8 name=inception_3a
  inception 32 32 48 8 24 16 name=inception_3b
  maxpool 3 strides=2 same
  global_avgpool
  dense 10
}
"""

DENSENET = """
block dense_layer(growth, width) {
  x = input
  batchnorm epsilon=1.001e-5 name=0_bn
  activation relu name=0_relu
  conv width 1 use_bias=false name=1_conv
  batchnorm epsilon=1.001e-5 name=1_bn
  activation relu name=1_relu
  y = conv growth 3 same use_bias=false name=2_conv
  concat x y name=concat
}
model densenet {
  input 16x16x16
  dense_layer 8 32 name=conv2_block repeat=4
  batchnorm name=pool2_bn
  conv 24 1 use_bias=false name=pool2_conv
  avgpool 2 name=pool2_pool
  dense_layer 8 32 name=conv3_block repeat=2
}
"""

# TODO(depthwise): the 3x3 stage is a depthwise convolution in MobileNetV2; once the `depthwise` kind is on
# main, write `depthwise 3 same use_bias=false name=depthwise` instead of the plain conv stand-in.
MOBILENET_DEPTHWISE_STAND_IN = "conv expanded 3 same use_bias=false name=depthwise"
MOBILENET = f"""
block inverted(expanded, out) {{
  x = input
  conv expanded 1 use_bias=false name=expand
  batchnorm epsilon=1e-3 momentum=0.999 name=expand_BN
  activation relu6 name=expand_relu
  {MOBILENET_DEPTHWISE_STAND_IN}
  batchnorm epsilon=1e-3 momentum=0.999 name=depthwise_BN
  activation relu6 name=depthwise_relu
  conv out 1 use_bias=false name=project
  y = batchnorm epsilon=1e-3 momentum=0.999 name=project_BN
  add x y name=add
}}
model mobilenet_like {{
  input 12x12x16
  inverted 96 16 name=block_1
  inverted 96 16 name=block_2
}}
"""

# Squeeze and excitation: the global pool's vector of C scales the HxWxC map (Keras broadcasts it).
SQUEEZE_EXCITE = """
block se(channels, squeezed) {
  x = input
  s = global_avgpool name=squeeze from x
  s = dense squeezed relu name=reduce from s
  s = dense channels sigmoid name=expand from s
  multiply x s name=excite
}
model squeeze_excite {
  input 8x8x16
  conv 32 3 same relu
  se 32 8 name=se_1
  conv 32 3 same relu
  se 32 4 name=se_2
}
"""

# U-Net of depth 3. TODO(upsample): the decoder grows its map back with zero padding, a stand-in with the
# shape of upsampling; once `upsample` is on main, write `upsample 2` in UNET_UP instead.
UNET_UP = "zeropad pad"
UNET = f"""
block down(filters) {{
  x = input
  conv filters 3 same relu name=conv1
  conv filters 3 same relu name=conv2
}}
block up(filters, pad) {{
  x = input
  skip = input
  u = {UNET_UP} name=up from x
  u = conv filters 2 same name=up_conv from u
  m = concat skip u name=merge
  conv filters 3 same relu name=conv1 from m
  conv filters 3 same relu name=conv2
}}
model unet {{
  image = input 32x32x1
  d1 = down 8 name=enc1 from image
  p1 = maxpool 2 from d1
  d2 = down 16 name=enc2 from p1
  p2 = maxpool 2 from d2
  d3 = down 32 name=enc3 from p2
  p3 = maxpool 2 from d3
  b = down 64 name=bottom from p3
  u3 = up 32 2 name=dec3 from b, d3
  u2 = up 16 4 name=dec2 from u3, d2
  u1 = up 8 8 name=dec1 from u2, d1
  conv 2 1 softmax name=mask from u1
}}
"""

TWO_INPUTS_TWO_OUTPUTS = """
model two_heads {
  image = input 16x16x3
  meta = input 8
  f = conv 8 3 same relu from image
  f = global_avgpool from f
  m = dense 8 relu from meta
  joined = concat f m
  label = dense 5 softmax name=label from joined
  score = dense 1 name=score from joined
  output label score
}
"""

HAND_WRITTEN = {
    "resnet_basic": RESNET_BASIC,
    "resnet_bottleneck": RESNET_BOTTLENECK,
    "inception": INCEPTION,
    "densenet": DENSENET,
    "mobilenet_like": MOBILENET,
    "squeeze_excite": SQUEEZE_EXCITE,
    "unet": UNET,
    "two_inputs_two_outputs": TWO_INPUTS_TWO_OUTPUTS,
}


def _constructed_layers(source: str) -> int:
    """How many Keras layers the source constructs (`layers.X(...)` calls), wherever they stand."""
    return len(re.findall(r"\blayers\.[A-Z]\w*\(", source))


@pytest.mark.keras
@pytest.mark.parametrize("text", HAND_WRITTEN.values(), ids=HAND_WRITTEN.keys())
def test_hand_written_graph_builds_with_keras_and_every_layer_equals_the_checker(text):
    assert_matches_keras(text)


@pytest.mark.parametrize("text", HAND_WRITTEN.values(), ids=HAND_WRITTEN.keys())
def test_each_block_is_one_function_defined_once_and_never_unrolled(text):
    checked = check_text(text)
    (report,) = checked.reports
    source = emit_keras(checked.reports, "spec.cnn")
    blocks = {use.block for use in report.model.block_uses}
    functions = [node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)]
    for block in blocks:
        assert functions.count(block) == 1, f"block `{block}`: functions {functions}"
    if blocks:
        # Every use shares its block's code: fewer constructors are written than layers are built.
        assert _constructed_layers(source) < len(report.model.layers)


def test_graph_modules_pass_ruff_with_the_projects_rules(tmp_path):
    for name, text in HAND_WRITTEN.items():
        source = emit_keras(check_text(text).reports, f"{name}.cnn")
        (tmp_path / f"{name}_keras.py").write_text(source, encoding="utf-8")
    rules = ["--isolated", "--select", "E,F,W,I,B,UP", "--line-length", "120"]
    command = [sys.executable, "-m", "ruff", "check", *rules, str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.keras
def test_build_verify_passes_on_graphs(tmp_path):
    for name, text in HAND_WRITTEN.items():
        spec = tmp_path / f"{name}.cnn"
        spec.write_text(text, encoding="utf-8")
        result = invoke("build", spec, "--backend", "keras", "--verify")
        assert result.exit_code == 0, result.output
        assert "every shape and count as checked" in result.stderr


def test_a_stack_reads_as_one_chain_of_x_and_a_branch_point_gets_its_own_name():
    checked = check_text(RESNET_BASIC)
    source = emit_keras(checked.reports, "spec.cnn")
    assert "def basic(inputs, name):" in source
    assert "x = layers.Add(name=name + '_add')([inputs, x])" in source
    assert "for i in range(1, 3):" in source and "name='conv2_block' + str(i)" in source
    assert "x = basic(x, name='conv3_block1')" in source


def test_arguments_that_differ_between_uses_become_the_functions_parameters_named_after_the_blocks():
    checked = check_text(RESNET_BOTTLENECK)
    source = emit_keras(checked.reports, "spec.cnn")
    assert "def projected(inputs, filters, wide, strides, name):" in source
    # strides=1 is left out of a Conv2D call; the use that leaves it out passes Keras's default.
    assert "strides=strides" in source
    assert "def stage(x, filters, wide, strides, name):" in source
    assert "x = stage(inputs, filters=8, wide=32, strides=(1, 1), name='conv2')" in source
    assert "x = identity(x, filters=filters, wide=wide, name=name + '_block3')" in source


def test_a_repeated_use_whose_name_ends_in_a_digit_numbers_after_an_underscore():
    text = RESNET_BASIC.replace("name=conv2_block repeat=2", "name=stage2 repeat=3")
    source = emit_keras(check_text(text).reports, "spec.cnn")
    assert "for i in range(1, 4):" in source and "name='stage2_' + str(i)" in source


def test_multiple_inputs_and_outputs_are_lists_in_the_irs_order():
    source = emit_keras(check_text(TWO_INPUTS_TWO_OUTPUTS).reports, "spec.cnn")
    assert "image = keras.Input(shape=(16, 16, 3), name='image')" in source
    assert "meta = keras.Input(shape=(8,), name='meta')" in source
    assert "return keras.Model([image, meta], [label, x], name='two_heads')" in source


# --- the seed: the course notes' functional model ------------------------------------------------


@pytest.mark.keras
def test_the_seed_fixed_builds_with_keras_with_1_679_082_parameters():
    checked = assert_matches_keras((EXAMPLES / "seed_functional.cnn").read_text(encoding="utf-8"))
    (report,) = checked.reports
    assert report.total_params == keras_model_figures(report).total_params == 1_679_082


@pytest.mark.keras
def test_the_seed_as_written_warns_w303_and_builds_without_its_unused_branch():
    checked = check_text((GRAPHS / "seed_as_written.cnn").read_text(encoding="utf-8"))
    assert checked.ok and [d.code for d in checked.diagnostics] == ["W303"]
    (report,) = checked.reports
    source = emit_keras(checked.reports, "seed_as_written.cnn")
    assert "# Lines 6-11 of seed_as_written.cnn reach no output (W303), so they are not built." in source
    figures = keras_model_figures(report)
    assert_figures_equal(report, figures)
    assert len(figures.layers) == len(report.counted) < len(report.layers)


# --- what Keras refuses, specc reports at the same layer ------------------------------------------

REFUSED = {
    "add_of_other_channels": "model m {\n  x = input 8x8x4\n  y = conv 8 3 same from x\n  add x y\n}\n",
    "add_of_other_sizes": "model m {\n  x = input 8x8x4\n  y = maxpool 2 from x\n  add x y name=sum\n}\n",
    "concat_of_other_sizes": "model m {\n  x = input 8x8x4\n  y = conv 4 3 from x\n  concat x y\n}\n",
    "in_a_block": RESNET_BASIC.replace(
        "conv filters 3x3 same use_bias=false name=2_conv", "conv 4 3x3 same name=2_conv"
    ),
    "second_use_of_a_block": RESNET_BASIC.replace(
        "conv3 = basic 8 name=conv3_block1", "conv3 = basic 8 name=conv3_block1\n  conv 4 1\n  basic 8"
    ).replace("conv filters 3x3 same use_bias=false name=1_conv", "conv 8 3x3 same use_bias=false name=1_conv"),
}


@pytest.mark.keras
@pytest.mark.parametrize("text", REFUSED.values(), ids=REFUSED.keys())
def test_keras_refuses_a_merge_of_shapes_that_do_not_fit_where_specc_reports_e304(text):
    assert_keras_refuses(text, "E304")


# --- random graphs ---------------------------------------------------------------------------------


@pytest.mark.keras
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=graph_specs())
def test_random_graph_builds_as_checked_or_keras_refuses_it_at_the_layer_specc_blames(text):
    checked = check_text(text)
    (report,) = checked.reports
    errors = [d for d in checked.diagnostics if d.severity is Severity.ERROR]
    inferred = {ours.layer.name for ours in report.layers}
    failed = [layer for layer in report.model.layers if layer.name not in inferred and layer.name in report.reachable]
    try:
        figures = keras_model_figures(report)
    except KerasRefused as refusal:
        assert failed, f"specc accepts what Keras refuses: {refusal}\n{text}"
        assert refusal.layer_name == failed[0].name, f"{refusal}; specc blames `{failed[0].name}`\n{text}"
        assert any(d.span.line == failed[0].span.line for d in errors), text
        return
    assert not failed, f"specc rejects `{failed[0].name}` but Keras builds it\n{text}"
    # A layer that fails but reaches no output is built by neither; what reaches the outputs is all known.
    assert_figures_equal(replace(report, complete=True), figures)


VARIANTS = """
block b(p) {
  conv 4 3 padding=p name=c
  batchnorm name=bn
}
model m {
  input 12x12x4
  b 0 name=one
  b 1 name=two
  b 1 name=three
}
"""


def test_uses_of_a_block_that_emit_other_layers_get_a_variant_function_each_shared_by_its_uses():
    source = emit_keras(check_text(VARIANTS).reports, "spec.cnn")
    assert "def b(x, name):" in source and "def b_variant2(x, name):" in source
    assert "x = b_variant2(x, name='two')" in source and "x = b_variant2(x, name='three')" in source


@pytest.mark.keras
def test_variant_functions_build_as_checked():
    assert_matches_keras(VARIANTS)
