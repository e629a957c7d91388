"""specc's receptive fields (specc.figures) against what the PyTorch build really sees: an impulse test.

Each spec is built with the PyTorch backend, with every weight positive (1/fan-in) and every bias 0 (in float32:
the products of a few such weights stay far above its smallest number), and fed one example per input pixel, that
pixel 1 and the others 0. With positive weights and no biases, an output position is non-zero exactly when some
path of taps joins it to the lit pixel, so the pixels that make an output position non-zero are the ones it sees.
Per axis, for an output position whose whole field lies in the input:
  - the measured extent (last pixel seen - first + 1) is specc's `size`;
  - the first pixel it sees is specc's `start + position * jump`, so that neighbouring positions' first pixels are
    `jump` apart (the field's first and last pixels are always seen: every layer's first tap, and every last one,
    join them, whatever holes dilation or a stride larger than the window leave in between).
The written stacks check also that output position 0 first sees specc's start clipped at 0.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from specc.figures import model_figures
from specc.pipeline import check_text

from emitted_torch import emitted_module

pytestmark = pytest.mark.torch


def checked_report(text: str):
    result = check_text(text)
    errors = [f"{d.code} {d.message}" for d in result.diagnostics if d.code.startswith("E")]
    assert not errors, (text, errors)
    (report,) = result.reports
    return report


def seen_pixels(report) -> np.ndarray:
    """seen[row, column, out_row, out_column]: whether the output position changes when that input pixel is lit,
    in the PyTorch build of the report's model with positive weights (the pixel lit in every channel)."""
    module = emitted_module(report)
    with torch.no_grad():
        for submodule in module.modules():
            weight = getattr(submodule, "weight", None)
            if isinstance(weight, torch.Tensor):
                weight.fill_(1.0 / weight[0].numel())
            bias = getattr(submodule, "bias", None)
            if isinstance(bias, torch.Tensor):
                bias.zero_()
        height, width, channels = report.model.inputs[0].shape
        impulses = torch.eye(height * width, dtype=torch.float32).reshape(height * width, 1, height, width)
        output = module(impulses.expand(-1, channels, -1, -1).contiguous())
    seen = (output > 0).any(dim=1).numpy()
    return seen.reshape(height, width, *seen.shape[1:])


def seen_along(seen: np.ndarray, axis: int, position: tuple[int, int]) -> np.ndarray:
    """The input rows (axis 0) or columns (axis 1) seen by one output position, in order."""
    pixels = seen[:, :, position[0], position[1]]
    return np.flatnonzero(pixels.any(axis=1 - axis))


def field_of(report):
    """specc's receptive field of the model's (first) output."""
    return model_figures(report).layers[report.model.outputs[0]].receptive_field


def inside(field, axis: int, position: int, length: int) -> bool:
    first = field.start[axis] + position * field.jump[axis]
    return first >= 0 and first + field.size[axis] - 1 <= length - 1


def check_against_impulses(text: str, written: bool = True) -> None:
    """Every claim of the module docstring, for the spec's output; `written` adds output position 0's clipped
    start (for the random stacks, see random_stacks, that check does not hold: padding can cut a path)."""
    report = checked_report(text)
    field = field_of(report)
    assert field is not None and not field.whole
    seen = seen_pixels(report)
    input_shape = report.model.inputs[0].shape
    out_height, out_width = seen.shape[2:]
    central = (out_height // 2, out_width // 2)
    for axis in (0, 1):
        length = input_shape[axis]
        middle = central[axis]
        assert inside(field, axis, middle, length), f"the test's input is too small to hold a whole field: {field}"
        rows = seen_along(seen, axis, central)
        where = f"axis {'height' if axis == 0 else 'width'}, specc {field}\n{text}"
        assert rows[-1] - rows[0] + 1 == field.size[axis], where
        assert rows[0] == field.start[axis] + middle * field.jump[axis], where
        neighbour = list(central)
        neighbour[axis] += 1
        if neighbour[axis] < (out_height, out_width)[axis] and inside(field, axis, neighbour[axis], length):
            assert seen_along(seen, axis, tuple(neighbour))[0] - rows[0] == field.jump[axis], where
        if written:
            first = list(central)
            first[axis] = 0
            assert seen_along(seen, axis, tuple(first))[0] == max(0, field.start[axis]), where


WRITTEN_STACKS = {
    "strided_valid": "conv 2 3 strides=2\nconv 2 3 strides=2\nconv 1 3",
    "same_strided_even_kernel": "conv 2 4 strides=2 same\nconv 2 2 same\nconv 1 3 strides=2 same",
    "dilated": "conv 2 3 dilation=2 same\nconv 2 3 dilation=3\nconv 1 3 same",
    "max_and_avg_pools": "conv 2 3 same\nmaxpool 3 strides=2 same\nconv 2 3\navgpool 2\nconv 1 1",
    "avg_pool_same": "avgpool 3 strides=2 same\nmaxpool 2 strides=1\nconv 1 3",
    "zero_padding": "zeropad ((2, 0), (1, 3))\nconv 2 3 strides=2\nzeropad 1\nconv 1 3",
    "tall_and_wide_kernels": "conv 2 (5, 1) same\nconv 2 (1, 3) strides=(1, 2)\nmaxpool (2, 3) strides=(2, 1)",
    "depthwise_and_separable": "depthwise 3 strides=2 same\nseparable 2 3 dilation=2 same\nconv 1 1",
}


@pytest.mark.parametrize("name", WRITTEN_STACKS)
def test_a_written_stack_sees_what_specc_says_it_sees(name):
    body = "\n".join(f"  {line}" for line in WRITTEN_STACKS[name].splitlines())
    check_against_impulses(f"model {name} {{\n  input 31x27x2\n{body}\n}}\n")


def test_a_merge_of_two_paths_sees_the_larger_field():
    """The residual path of 1 pixel and the convolutions' 5 reach one add: the add sees 5, as specc says."""
    text = """\
model residual {
  x = input 17x15x1
  a = conv 2 3 same from x
  a = conv 1 3 same
  b = conv 1 1 from x
  add a b
}
"""
    check_against_impulses(text)
    assert field_of(checked_report(text)).size == (5, 5)


def test_a_concat_of_paths_with_different_fields_sees_the_larger():
    text = """\
model branches {
  x = input 20x20x1
  a = conv 1 5 dilation=2 same from x
  b = maxpool 3 strides=1 same from x
  c = concat a b
  conv 1 1
}
"""
    check_against_impulses(text)
    assert field_of(checked_report(text)).size == (9, 9)


_RANDOM_LAYERS = (
    "conv 2 {k} same",
    "conv 2 {k}",
    "conv 2 {k} strides=2 same",
    "conv 2 {k} strides=2",
    "conv 2 3 dilation=2 same",
    "conv 2 (3, 1) same",
    "maxpool {k} strides={s}",
    "maxpool {k} strides={s} same",
    "avgpool {k} strides={s} same",
    "avgpool 2",
    "zeropad ((1, 0), (0, 2))",
    "depthwise {k} same",
)


@st.composite
def random_stacks(draw) -> str:
    """A stack of one to four windowed layers on a 29x25x1 input."""
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        layer = draw(st.sampled_from(_RANDOM_LAYERS))
        lines.append("  " + layer.format(k=draw(st.integers(1, 4)), s=draw(st.integers(1, 3))))
    return "model random {\n  input 29x25x1\n" + "\n".join(lines) + "\n  conv 1 1\n}\n"


@settings(max_examples=15, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(random_stacks())
def test_a_random_stack_sees_what_specc_says_it_sees(text):
    result = check_text(text)
    assume(result.ok and result.reports[0].complete)
    report = result.reports[0]
    field = field_of(report)
    height, width = report.output_shape[:2]
    assume(all(inside(field, axis, (height, width)[axis] // 2, (29, 25)[axis]) for axis in (0, 1)))
    check_against_impulses(text, written=False)


OFFSET_MERGE = """\
model offset {
  x = input 16x16x1
  a = conv 1 3 same from x
  b = zeropad ((2, 0), (2, 0)) from x
  b = crop ((0, 2), (0, 2))
  add a b
}
"""


def test_a_merge_of_offset_fields_sees_their_union():
    """The convolution sees pixels i-1..i+1, the padded-then-cropped path pixel i-2 alone: the add sees i-2..i+1."""
    check_against_impulses(OFFSET_MERGE)
