"""Check stage, the arithmetic under every shape rule: pure functions of integers, Keras semantics.

Each function returns the size Keras computes, which may be zero or negative; deciding that
such a size is an error is the caller's job, since the caller knows which layer to blame.
"""

from __future__ import annotations

import math

# An explicit padding amount for one axis: (before, after), top/bottom or left/right.
AxisPadding = tuple[int, int]


def window_output_length(size: int, window: int, stride: int, padding: str | AxisPadding, dilation: int = 1) -> int:
    """Output length along one axis of a sliding window (convolution or pooling).

    With the effective window E = D*(F-1) + 1 for window F and dilation D:
      'valid':          floor((N - E) / S) + 1
      'same':           ceil(N / S)  (Keras pads E-1 in total, the odd one at the end)
      (before, after):  floor((N + before + after - E) / S) + 1
    """
    effective = dilation * (window - 1) + 1
    if padding == "same":
        return math.ceil(size / stride)
    before, after = (0, 0) if padding == "valid" else padding
    return (size + before + after - effective) // stride + 1


def same_padding_amounts(size: int, window: int, stride: int, dilation: int = 1) -> AxisPadding:
    """The (before, after) zeros Keras's 'same' adds on one axis; the odd extra one goes after.

    total = max((ceil(N/S) - 1)*S + E - N, 0), before = total // 2, after = total - before.
    """
    effective = dilation * (window - 1) + 1
    total = max((math.ceil(size / stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def explain_window_length(
    axis: str, size: int, window: int, stride: int, padding: str | AxisPadding, dilation: int = 1
) -> str:
    """The formula of window_output_length written out with this axis's numbers, for people."""
    result = window_output_length(size, window, stride, padding, dilation)
    if padding == "same":
        before, after = same_padding_amounts(size, window, stride, dilation)
        sides = ("top", "bottom") if axis == "height" else ("left", "right")
        return f"{axis}: ceil({size} / {stride}) = {result} (zeros: {before} {sides[0]}, {after} {sides[1]})"
    before, after = (0, 0) if padding == "valid" else padding
    padded = f"{size} + {before + after}" if before + after else f"{size}"
    effective = dilation * (window - 1) + 1
    working = f"{axis}: floor(({padded} - {effective}) / {stride}) + 1 = {result}"
    if dilation != 1:
        working += f" (dilated window {dilation}*({window}-1) + 1 = {effective})"
    return working


def transposed_output_length(
    size: int, window: int, stride: int, padding: str, output_padding: int | None = None, dilation: int = 1
) -> int:
    """Output length along one axis of a transposed convolution, as Keras computes it.

    With the effective window E = D*(F-1) + 1 for window F and dilation D, and output_padding P:
      'valid', no P:  (N - 1)*S + max(E, S)
      'valid', P:     (N - 1)*S + E + P
      'same', no P:   N*S
      'same', P:      (N - 1)*S + (E mod 2) + P
    """
    effective = dilation * (window - 1) + 1
    if padding == "valid":
        extra = max(effective, stride) if output_padding is None else effective + output_padding
        return (size - 1) * stride + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + effective % 2 + output_padding


def transposed_cropping(
    size: int, window: int, stride: int, padding: str, output_padding: int | None = None, dilation: int = 1
) -> AxisPadding:
    """(before, after): how much of the full transposed output, (N - 1)*S + E long, Keras leaves out on each side.

    With O = transposed_output_length(...), TensorFlow cuts total = max((N - 1)*S + E - O, 0), the odd one
    after: before = total // 2, after = (N - 1)*S + E - O - before. A negative `after` means O reaches that
    many positions past the full output, where no kernel tap lands and only the bias is added.
    """
    effective = dilation * (window - 1) + 1
    full = (size - 1) * stride + effective
    output = transposed_output_length(size, window, stride, padding, output_padding, dilation)
    before = max(full - output, 0) // 2
    return before, full - output - before
