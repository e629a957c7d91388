"""Emission of what the zoo's MobileNetV2 needs: `zeropad correct_pad=3x3` pads by amounts that depend on the
input, as keras.applications' correct_pad does, and the modules both backends emit must pad by those amounts.
The emitters write the amounts `ZeroPad2D.padding_for(input_shape)` gives at each use.
"""

from __future__ import annotations

import pytest

from specc.backends.torch import emit_torch
from specc.backends.torch_verify import compare, torch_figures
from specc.backends.verify import run_module
from specc.pipeline import check_text

from keras_reference import assert_matches_keras

# Two uses of one block whose padding differs: an odd width pads 1 on the left, an even size 0 at the top or left.
CORRECT_PAD = """
block down(filters) {
  zeropad correct_pad=3x3 name=pad
  depthwise 3x3 strides=2 valid use_bias=false name=depthwise
  conv filters 1x1 name=project
}

model correct_pads {
  input 16x15x3
  down 8 name=block_1
  down 8 name=block_2
}
"""


def test_correct_pad_checks_to_keras_applications_amounts_per_use():
    (report,) = check_text(CORRECT_PAD).reports
    shapes = {layer.layer.name: layer.inference.output_shape for layer in report.layers}
    assert shapes["block_1_pad"] == (17, 17, 3)  # ((0, 1), (1, 1)) around 16x15
    assert shapes["block_2_pad"] == (9, 9, 8)  # ((0, 1), (0, 1)) around 8x8
    assert shapes["block_2_depthwise"] == (4, 4, 8)


@pytest.mark.keras
def test_correct_pad_builds_in_keras_as_checked():
    assert_matches_keras(CORRECT_PAD)


def test_correct_pad_builds_in_pytorch_as_checked():
    pytest.importorskip("torch")
    (report,) = check_text(CORRECT_PAD).reports
    module = run_module(emit_torch([report], "spec.cnn"), "<generated torch>")
    assert compare(report, torch_figures(module.MODELS[report.model.name], report)) == []
