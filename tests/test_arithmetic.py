"""The arithmetic under the shape rules, as properties over many sizes (Keras agreement is in test_shape_rules)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from specc.arithmetic import explain_window_length, same_padding_amounts, window_output_length

sizes = st.integers(min_value=1, max_value=300)
windows = st.integers(min_value=1, max_value=12)
strides = st.integers(min_value=1, max_value=5)
dilations = st.integers(min_value=1, max_value=4)


@given(sizes, windows, strides, dilations)
def test_same_padding_amounts_make_an_explicit_padding_that_gives_the_same_length(size, window, stride, dilation):
    before, after = same_padding_amounts(size, window, stride, dilation)
    explicit = window_output_length(size, window, stride, (before, after), dilation)
    assert explicit == window_output_length(size, window, stride, "same", dilation) == math.ceil(size / stride)


@given(sizes, windows, strides, dilations)
def test_same_padding_puts_the_odd_zero_at_the_end_as_keras_does(size, window, stride, dilation):
    before, after = same_padding_amounts(size, window, stride, dilation)
    assert after - before in (0, 1)


@given(sizes, windows, strides, dilations)
def test_valid_length_is_the_count_of_window_positions_that_fit(size, window, stride, dilation):
    effective = dilation * (window - 1) + 1
    positions = len(range(0, size - effective + 1, stride)) if size >= effective else 0
    assert max(window_output_length(size, window, stride, "valid", dilation), 0) == positions


def test_the_working_for_same_padding_names_the_zeros_on_each_side():
    assert explain_window_length("height", 7, 4, 2, "same") == "height: ceil(7 / 2) = 4 (zeros: 1 top, 2 bottom)"
    assert explain_window_length("width", 28, 3, 1, "valid") == "width: floor((28 - 3) / 1) + 1 = 26"
    assert explain_window_length("width", 9, 3, 1, "valid", 2) == (
        "width: floor((9 - 5) / 1) + 1 = 5 (dilated window 2*(3-1) + 1 = 5)"
    )
    assert explain_window_length("height", 5, 3, 2, (1, 1)) == "height: floor((5 + 2 - 3) / 2) + 1 = 3"


@given(sizes, windows, strides, dilations, st.sampled_from(["valid", "same", (0, 1), (2, 2)]))
def test_the_working_ends_with_the_length_the_rule_computes(size, window, stride, dilation, padding):
    length = window_output_length(size, window, stride, padding, dilation)
    assert f"= {length}" in explain_window_length("height", size, window, stride, padding, dilation)
