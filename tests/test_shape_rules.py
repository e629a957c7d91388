"""specc's shape rules against real Keras, hard case by hard case, then a seeded random sweep.

Each table row is a one-layer (or few-layer) spec with the output shape written out by hand,
so the table documents the rule; every row is also built with Keras (tests/keras_reference.py)
and must agree layer by layer in shape, trainable and non-trainable parameters.
"""

from __future__ import annotations

import functools
import random

import pytest

from specc.diagnostics import Severity
from specc.layers import ACTIVATIONS
from specc.pipeline import check_text

from keras_reference import assert_keras_refuses, assert_matches_keras, keras_layer_refuses


def spec(input_shape: str, *lines: str) -> str:
    """A one-model spec: `model m {` is line 1, `input` line 2, the first layer line 3."""
    return "model m {\n  input " + input_shape + "\n" + "".join(f"  {line}\n" for line in lines) + "}\n"


def check_rule(input_shape: str, line: str, shape: tuple[int, ...], params: tuple[int, int] | None = None):
    """The layer's output shape (and trainable, non-trainable params) are as written, and Keras agrees."""
    checked = assert_matches_keras(spec(input_shape, line))
    last = checked.reports[0].layers[-1].inference
    assert last.output_shape == shape, f"{line!r} on {input_shape}: specc gives {last.output_shape}, table says {shape}"
    if params is not None:
        assert (last.trainable_params, last.non_trainable_params) == params
    return checked


def codes(checked) -> list[str]:
    return [d.code for d in checked.diagnostics]


# --- 'same' padding: output is ceil(N / S) whatever the window -------------------------------

SAME_WITH_STRIDE = [
    ("7x7x1", "conv 2 3x3 strides=2 same", (4, 4, 2)),
    ("9x9x1", "conv 2 3x3 strides=2 same", (5, 5, 2)),
    ("11x11x1", "conv 2 3x3 strides=2 same", (6, 6, 2)),
    ("7x7x1", "conv 2 3x3 strides=3 same", (3, 3, 2)),
    ("9x9x1", "conv 2 3x3 strides=3 same", (3, 3, 2)),
    ("11x11x1", "conv 2 3x3 strides=3 same", (4, 4, 2)),
    ("7x9x1", "conv 2 5x5 strides=(2,3) padding=same", (4, 3, 2)),
    ("11x7x2", "maxpool 3 strides=2 same", (6, 4, 2)),
    ("9x11x1", "maxpool 2 strides=3 padding=same", (3, 4, 1)),
]


@pytest.mark.keras
@pytest.mark.parametrize("input_shape, line, shape", SAME_WITH_STRIDE)
def test_same_padding_with_stride_two_or_three_rounds_up_on_odd_sizes(input_shape, line, shape):
    check_rule(input_shape, line, shape)


# --- even kernels: 'same' keeps N (extra zero at the end), 'valid' loses K-1 -----------------

EVEN_KERNELS = [
    ("8x8x1", "conv 2 2x2", (7, 7, 2)),
    ("8x8x1", "conv 2 2x2 same", (8, 8, 2)),
    ("9x9x1", "conv 2 4x4", (6, 6, 2)),
    ("9x9x1", "conv 2 4x4 same", (9, 9, 2)),
    ("9x9x1", "conv 2 4x4 strides=2", (3, 3, 2)),
    ("9x9x1", "conv 2 4x4 strides=2 same", (5, 5, 2)),
    ("8x8x1", "conv 2 4x4 strides=2 same", (4, 4, 2)),
    ("7x7x1", "maxpool 4 strides=1", (4, 4, 1)),
]


@pytest.mark.keras
@pytest.mark.parametrize("input_shape, line, shape", EVEN_KERNELS)
def test_even_kernels_keep_the_size_with_same_and_lose_kernel_minus_one_with_valid(input_shape, line, shape):
    check_rule(input_shape, line, shape)


# --- dilation: the effective window is D*(K-1)+1 ----------------------------------------------

DILATION = [
    ("10x10x1", "conv 2 3x3 dilation=2", (6, 6, 2)),
    ("10x10x1", "conv 2 3x3 dilation=3", (4, 4, 2)),
    ("10x10x1", "conv 2 3x3 dilation=2 same", (10, 10, 2)),
    ("10x10x1", "conv 2 3x3 dilation=3 same", (10, 10, 2)),
    ("12x9x1", "conv 2 3x3 dilation_rate=(2,3)", (8, 3, 2)),
    ("9x9x1", "conv 2 2x2 dilation=3", (6, 6, 2)),
    ("7x7x1", "conv 2 3x3 dilation=3", (1, 1, 2)),
]


@pytest.mark.keras
@pytest.mark.parametrize("input_shape, line, shape", DILATION)
def test_dilation_widens_the_window_to_d_times_k_minus_one_plus_one(input_shape, line, shape):
    check_rule(input_shape, line, shape)


# --- pools that do not divide their input drop the remainder -----------------------------------

NON_DIVIDING_POOLS = [
    ("5x5x1", "maxpool 2", (2, 2, 1)),
    ("5x5x3", "avgpool 2", (2, 2, 3)),
    ("5x5x1", "minpool 2", (2, 2, 1)),
    ("5x5x1", "maxpool 3 strides=2", (2, 2, 1)),
    ("7x7x1", "maxpool 3 strides=2", (3, 3, 1)),
    ("8x8x1", "maxpool 3 strides=2", (3, 3, 1)),
    ("5x5x1", "maxpool 2 same", (3, 3, 1)),
]


@pytest.mark.keras
@pytest.mark.parametrize("input_shape, line, shape", NON_DIVIDING_POOLS)
def test_pools_that_do_not_divide_the_input_drop_the_remainder_unless_same(input_shape, line, shape):
    check_rule(input_shape, line, shape)


# --- non-square kernels, strides and inputs: each axis on its own ------------------------------

NON_SQUARE = [
    ("28x17x1", "conv 4 1x7", (28, 11, 4), (1 * 7 * 1 * 4 + 4, 0)),
    ("28x17x1", "conv 4 3x5", (26, 13, 4), (3 * 5 * 1 * 4 + 4, 0)),
    ("28x17x1", "conv 4 kernel=(3,5) strides=(2,1) same", (14, 17, 4), (64, 0)),
    ("28x17x2", "conv 4 7x1 strides=(1,2)", (22, 9, 4), (7 * 1 * 2 * 4 + 4, 0)),
    ("28x17x2", "maxpool 2x3", (14, 5, 2), (0, 0)),
    ("28x17x1", "avgpool 3x2 strides=(2,1)", (13, 16, 1), (0, 0)),
]


@pytest.mark.keras
@pytest.mark.parametrize("input_shape, line, shape, params", NON_SQUARE)
def test_non_square_kernels_strides_and_inputs_work_per_axis(input_shape, line, shape, params):
    check_rule(input_shape, line, shape, params)


# --- explicit conv padding: zeros added, then a 'valid' window ---------------------------------

EXPLICIT_CONV_PADDING = [
    ("28x17x1", "conv 4 3x3 padding=1", (28, 17, 4)),
    ("28x17x1", "conv 4 3x3 padding=(1,2)", (28, 19, 4)),
    ("28x17x1", "conv 4 3x3 padding=((0,1),(2,0))", (27, 17, 4)),
    ("7x7x1", "conv 4 3x3 strides=2 padding=1", (4, 4, 4)),
    ("5x5x1", "conv 4 5x5 padding=2", (5, 5, 4)),
    ("4x4x1", "conv 4 3x3 padding=0", (2, 2, 4)),
    ("6x6x1", "conv 4 3x3 dilation=2 padding=(2,1)", (6, 4, 4)),
]


@pytest.mark.keras
@pytest.mark.parametrize("input_shape, line, shape", EXPLICIT_CONV_PADDING)
def test_explicit_conv_padding_adds_zeros_before_a_valid_window(input_shape, line, shape):
    check_rule(input_shape, line, shape, (3 * 3 * 1 * 4 + 4, 0) if "3x3" in line else None)


ZEROPAD_FORMS = [
    ("5x7x2", "zeropad", (7, 9, 2)),
    ("5x7x2", "zeropad 2", (9, 11, 2)),
    ("5x7x2", "zeropad (1,2)", (7, 11, 2)),
    ("5x7x2", "zeropad ((0,1),(2,0))", (6, 9, 2)),
    ("5x7x2", "zeropad2d padding=((3,0),(0,0))", (8, 7, 2)),
    ("5x7x2", "zeropadding2d 0", (5, 7, 2)),
]


@pytest.mark.keras
@pytest.mark.parametrize("input_shape, line, shape", ZEROPAD_FORMS)
def test_zeropad_forms_p_pair_and_top_bottom_left_right_add_to_each_side(input_shape, line, shape):
    check_rule(input_shape, line, shape, (0, 0))


# --- avg and min pooling, with 'same' and strides other than the pool size ---------------------

POOLS_WITH_OTHER_STRIDES = [
    ("7x7x2", "avgpool 3 strides=2 same", (4, 4, 2)),
    ("5x5x1", "avgpool 2 strides=1", (4, 4, 1)),
    ("3x3x1", "avgpool 5 same", (1, 1, 1)),
    ("5x5x1", "minpool 3 strides=1 same", (5, 5, 1)),
    ("8x8x1", "minpool 2 strides=3", (3, 3, 1)),
    ("9x9x3", "min_pool 3 strides=2 same", (5, 5, 3)),
    ("5x5x1", "maxpool strides=1", (4, 4, 1)),
]


@pytest.mark.keras
@pytest.mark.parametrize("input_shape, line, shape", POOLS_WITH_OTHER_STRIDES)
def test_avg_and_min_pools_follow_the_window_rule_with_same_and_any_strides(input_shape, line, shape):
    check_rule(input_shape, line, shape, (0, 0))


GLOBAL_POOLS = [
    ("7x5x3", "global_avgpool", (3,)),
    ("7x5x3", "global_maxpool", (3,)),
    ("1x1x4", "globalaveragepooling2d", (4,)),
]


@pytest.mark.keras
@pytest.mark.parametrize("input_shape, line, shape", GLOBAL_POOLS)
def test_global_pools_leave_one_value_per_channel(input_shape, line, shape):
    check_rule(input_shape, line, shape, (0, 0))


# --- parameters: batchnorm flags, use_bias, dense on a feature map -----------------------------

BATCHNORM = [
    ("4x4x8", "batchnorm", (4, 4, 8), (16, 16)),
    ("4x4x8", "batchnorm center=false", (4, 4, 8), (8, 16)),
    ("4x4x8", "batchnorm scale=false", (4, 4, 8), (8, 16)),
    ("4x4x8", "batchnorm center=false scale=false", (4, 4, 8), (0, 16)),
    ("10", "bn epsilon=0.01 momentum=0.9", (10,), (20, 20)),
]


@pytest.mark.keras
@pytest.mark.parametrize("input_shape, line, shape, params", BATCHNORM)
def test_batchnorm_trains_gamma_and_beta_unless_turned_off_and_always_keeps_two_moving_stats(
    input_shape, line, shape, params
):
    check_rule(input_shape, line, shape, params)


NO_BIAS = [
    ("5x5x2", "conv 4 3x3", (3, 3, 4), (3 * 3 * 2 * 4 + 4, 0)),
    ("5x5x2", "conv 4 3x3 bias=false", (3, 3, 4), (3 * 3 * 2 * 4, 0)),
    ("5x5x2", "conv 4 3x3 use_bias=false padding=same", (5, 5, 4), (72, 0)),
    ("6", "dense 3", (3,), (6 * 3 + 3, 0)),
    ("6", "dense 3 use_bias=false", (3,), (6 * 3, 0)),
]


@pytest.mark.keras
@pytest.mark.parametrize("input_shape, line, shape, params", NO_BIAS)
def test_use_bias_false_drops_one_parameter_per_filter_or_unit(input_shape, line, shape, params):
    check_rule(input_shape, line, shape, params)


DENSE_ON_LAST_AXIS = [
    ("4x5x3", "dense 7", (4, 5, 7), (3 * 7 + 7, 0), True),
    ("4x5x3", "dense 7 relu bias=false", (4, 5, 7), (3 * 7, 0), True),
    ("10x3", "fc 2", (10, 2), (3 * 2 + 2, 0), True),
    ("12", "dense 7", (7,), (12 * 7 + 7, 0), False),
]


@pytest.mark.keras
@pytest.mark.parametrize("input_shape, line, shape, params, warned", DENSE_ON_LAST_AXIS)
def test_dense_acts_on_the_last_axis_and_warns_w301_on_a_feature_map(input_shape, line, shape, params, warned):
    checked = check_rule(input_shape, line, shape, params)
    assert ("W301" in codes(checked)) is warned
    if warned:
        assert [d.span.line for d in checked.diagnostics if d.code == "W301"] == [3]


SHAPE_KEEPING = [
    ("6x6x3", "dropout 0.5", (6, 6, 3)),
    ("6x6x3", "activation relu", (6, 6, 3)),
    ("6x6x3", "flatten", (108,)),
    ("10", "flatten", (10,)),
]


@pytest.mark.keras
@pytest.mark.parametrize("input_shape, line, shape", SHAPE_KEEPING)
def test_dropout_activation_and_flatten_have_no_parameters_and_flatten_multiplies_out(input_shape, line, shape):
    check_rule(input_shape, line, shape, (0, 0))


@pytest.mark.keras
def test_every_activation_specc_accepts_is_a_keras_activation_that_keeps_the_shape():
    lines = [f"activation {name}" for name in ACTIVATIONS] + [f"dense 3 {name}" for name in ACTIVATIONS]
    checked = assert_matches_keras(spec("3x3x2", "flatten", *lines))
    assert checked.reports[0].output_shape == (3,)


# --- what specc rejects, Keras refuses too ------------------------------------------------------

SIZE_NOT_POSITIVE = [
    pytest.param("5x5x1", ["conv 2 7x7"], 3, id="kernel-larger-than-input"),
    pytest.param("28x2x1", ["conv 2 1x3"], 3, id="kernel-wider-than-input-in-width-only"),
    pytest.param("6x6x1", ["conv 2 3x3 dilation=3"], 3, id="dilated-kernel-larger-than-input"),
    pytest.param("3x3x1", ["conv 2 5x5 padding=((0,1),(0,1))"], 3, id="explicit-padding-too-small"),
    pytest.param("8x8x1", ["conv 4 3x3", "maxpool", "conv 4 3x3", "conv 4 3x3"], 6, id="conv-stack-shrinks-to-zero"),
    pytest.param(
        "9x9x1",
        ["conv 2 3x3 strides=2", "conv 2 3x3 strides=2", "conv 2 3x3"],
        5,
        id="strided-stack-shrinks-below-kernel",
    ),
    pytest.param("8x8x1", ["maxpool", "maxpool", "maxpool", "maxpool"], 6, id="pools-halve-to-nothing"),
    pytest.param("1x1x3", ["maxpool"], 3, id="maxpool-on-1x1"),
    pytest.param("2x2x1", ["avgpool 3"], 3, id="avgpool-window-larger-than-input"),
    pytest.param("1x4x1", ["minpool 2"], 3, id="minpool-on-a-single-row"),
]


@pytest.mark.keras
@pytest.mark.parametrize("input_shape, lines, line", SIZE_NOT_POSITIVE)
def test_size_not_positive_is_e301_at_the_layer_line_and_keras_refuses_the_same_layer(input_shape, lines, line):
    checked = assert_keras_refuses(spec(input_shape, *lines), "E301")
    assert [(d.code, d.span.line) for d in checked.diagnostics if d.severity is Severity.ERROR] == [("E301", line)]


WRONG_RANK = [
    pytest.param("6x6x1", ["flatten", "conv 2 3x3"], 4, id="conv-after-flatten"),
    pytest.param("6x6x1", ["global_maxpool", "maxpool"], 4, id="pool-after-global-pool"),
    pytest.param("10", ["zeropad"], 3, id="zeropad-on-a-vector"),
]


@pytest.mark.keras
@pytest.mark.parametrize("input_shape, lines, line", WRONG_RANK)
def test_2d_layer_on_a_vector_is_e302_and_keras_refuses_it(input_shape, lines, line):
    checked = assert_keras_refuses(spec(input_shape, *lines), "E302")
    assert [(d.code, d.span.line) for d in checked.diagnostics if d.severity is Severity.ERROR] == [("E302", line)]


@pytest.mark.parametrize("layers", [["conv 8 3x3"], ["dense 4", "maxpool"], ["zeropad 1"]])
def test_a_2d_layer_after_an_input_without_channels_hints_at_the_channel_axis_and_points_at_the_input(layers):
    checked = check_text(spec("28x28", *layers))
    (error,) = [d for d in checked.diagnostics if d.severity is Severity.ERROR]
    assert (error.code, error.span.line) == ("E302", 2 + len(layers))
    assert error.hint == (
        "the model's input, 28x28, has no channel axis: write `input 28x28x1` (or `input 28x28x3` for colour images)"
    )
    assert [(n.span.line, n.span.column, n.message) for n in error.notes] == [(2, 3, "the input is 28x28 here")]
    assert [(f.span.line, f.span.column, f.span.end_column, f.new_text) for f in error.fixes] == [
        (2, 3, 14, "input 28x28x1")
    ]


def test_a_2d_layer_after_flatten_keeps_the_flatten_hint_without_a_note():
    checked = check_text(spec("28x28x1", "flatten", "conv 2 3x3"))
    (error,) = checked.diagnostics
    assert error.hint == "2-D layers come before `flatten`; the input is written `input HxWxC`"
    assert error.notes == ()


STRIDES_WITH_DILATION = [
    ("conv 2 3x3 strides=2 dilation=2", (2, 2), (2, 2)),
    ("conv 2 3x3 strides=(1,2) dilation=(2,1)", (1, 2), (2, 1)),
    ("conv 2 3x3 strides=3 dilation_rate=2 same", (3, 3), (2, 2)),
]


@pytest.mark.keras
@pytest.mark.parametrize("line, strides, dilation", STRIDES_WITH_DILATION)
def test_strides_with_dilation_is_e213_and_keras_refuses_to_construct_the_conv(line, strides, dilation):
    checked = check_text(spec("16x16x1", line))
    assert [(d.code, d.span.line) for d in checked.diagnostics] == [("E213", 3)]
    error = keras_layer_refuses("Conv2D", filters=2, kernel_size=3, strides=strides, dilation_rate=dilation)
    assert error is not None, f"Keras accepted Conv2D(strides={strides}, dilation_rate={dilation})"
    assert "dilation_rate" in str(error)


# --- seeded random sweep ------------------------------------------------------------------------

SWEEP_SEED = 20261123
SWEEP_SIZE = 300


def _pair(rng: random.Random, h: int, w: int) -> str:
    """A height x width pair in one of the ways a spec may write it."""
    if h == w and rng.random() < 0.6:
        return str(h)
    return f"{h}x{w}" if rng.random() < 0.6 else f"({h}, {w})"


def _dims(rng: random.Random, low: int, high: int, square: float = 0.6) -> tuple[int, int]:
    h = rng.randint(low, high)
    return (h, h) if rng.random() < square else (h, rng.randint(low, high))


def _explicit_padding(rng: random.Random) -> str:
    form = rng.randrange(3)
    if form == 0:
        return str(rng.randint(0, 2))
    if form == 1:
        return f"({rng.randint(0, 2)}, {rng.randint(0, 2)})"
    top, bottom, left, right = (rng.randint(0, 2) for _ in range(4))
    return f"(({top}, {bottom}), ({left}, {right}))"


def _activation(rng: random.Random) -> list[str]:
    roll = rng.random()
    if roll < 0.4:
        return []
    name = rng.choice(("relu", "tanh", "sigmoid", "softmax", "gelu", "linear"))
    return [name] if roll < 0.8 else [f"activation={name}"]


def _conv(rng: random.Random) -> str:
    filters, kernel = rng.randint(1, 4), _dims(rng, 1, 5)
    if rng.random() < 0.5:
        words = [rng.choice(("conv", "conv2d")), str(filters), _pair(rng, *kernel)]
    else:
        words = ["conv", f"filters={filters}", f"{rng.choice(('kernel_size', 'kernel'))}={_pair(rng, *kernel)}"]
    roll = rng.random()
    if roll < 0.35:  # strides > 1 on at least one axis, never with dilation
        strides = _dims(rng, 1, 3)
        if strides == (1, 1):
            strides = (2, 2)
        words.append(f"strides={_pair(rng, *strides)}")
    elif roll < 0.6:
        dilation = _dims(rng, 1, 3)
        words.append(f"{rng.choice(('dilation', 'dilation_rate'))}={_pair(rng, *dilation)}")
    padding = rng.random()
    if padding < 0.3:
        words.append(rng.choice(("same", "padding=same")))
    elif padding < 0.45:
        words.append(rng.choice(("valid", "padding=valid")))
    elif padding < 0.7:
        words.append(f"padding={_explicit_padding(rng)}")
    words += _activation(rng)
    if rng.random() < 0.15:
        words.append(rng.choice(("bias=false", "use_bias=false")))
    return " ".join(words)


def _pool(rng: random.Random) -> str:
    words = [rng.choice(("maxpool", "max_pool", "avgpool", "averagepooling2d", "minpool", "min_pool"))]
    if rng.random() < 0.8:
        words.append(_pair(rng, *_dims(rng, 1, 4, square=0.7)))
    if rng.random() < 0.4:
        words.append(f"strides={_pair(rng, *_dims(rng, 1, 3, square=0.7))}")
    if rng.random() < 0.35:
        words.append(rng.choice(("same", "valid", "padding=same")))
    return " ".join(words)


def _zeropad(rng: random.Random) -> str:
    return "zeropad" if rng.random() < 0.25 else f"zeropad {_explicit_padding(rng)}"


def _batchnorm(rng: random.Random) -> str:
    words = [rng.choice(("batchnorm", "bn"))]
    if rng.random() < 0.3:
        words.append("center=false")
    if rng.random() < 0.3:
        words.append("scale=false")
    if rng.random() < 0.2:
        words.append("epsilon=1e-5 momentum=0.9")
    return " ".join(words)


def _dense(rng: random.Random) -> str:
    words = [rng.choice(("dense", "fc")), str(rng.randint(1, 8)), *_activation(rng)]
    if rng.random() < 0.15:
        words.append("use_bias=false")
    return " ".join(words)


FEATURE_MAP_LAYERS = {  # kind: (weight, generator, output is still a feature map)
    "conv": (30, _conv, True),
    "pool": (20, _pool, True),
    "zeropad": (6, _zeropad, True),
    "batchnorm": (6, _batchnorm, True),
    "dropout": (3, lambda rng: f"dropout {rng.choice((0.1, 0.25, 0.5))}", True),
    "activation": (3, lambda rng: f"activation {rng.choice(('relu', 'tanh'))}", True),
    "dense": (2, _dense, True),
    "flatten": (6, lambda rng: "flatten", False),
    "global": (4, lambda rng: rng.choice(("global_avgpool", "global_maxpool")), False),
}
VECTOR_LAYERS = {
    "dense": (8, _dense),
    "batchnorm": (2, _batchnorm),
    "dropout": (1, lambda rng: "dropout 0.5"),
    "activation": (1, lambda rng: "activation relu"),
    "flatten": (1, lambda rng: "flatten"),
}


def generate_spec(rng: random.Random, index: int) -> str:
    """A random chain of 1-6 layers on an input of 1..20 x 1..20 x 1..4 that never changes rank wrongly."""
    lines, feature_map = [], True
    for _ in range(rng.randint(1, 6)):
        if feature_map:
            kind = rng.choices(list(FEATURE_MAP_LAYERS), [w for w, _, _ in FEATURE_MAP_LAYERS.values()])[0]
            _, make, feature_map = FEATURE_MAP_LAYERS[kind]
        else:
            kind = rng.choices(list(VECTOR_LAYERS), [w for w, _ in VECTOR_LAYERS.values()])[0]
            make = VECTOR_LAYERS[kind][1]
        lines.append(make(rng))
    height, width, channels = rng.randint(1, 20), rng.randint(1, 20), rng.randint(1, 4)
    return (
        f"model sweep{index} {{\n  input {height}x{width}x{channels}\n"
        + "".join(f"  {line}\n" for line in lines)
        + "}\n"
    )


@functools.cache
def sweep() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The generated specs split by specc's verdict: (checks clean, rejected with E301)."""
    rng = random.Random(SWEEP_SEED)
    clean, rejected = [], []
    for index in range(SWEEP_SIZE):
        text = generate_spec(rng, index)
        checked = check_text(text)
        errors = {d.code for d in checked.diagnostics if d.severity is Severity.ERROR}
        # The teacher's lints (W4xx: a dropout right before the output...) say nothing about shapes.
        warnings = {d.code for d in checked.diagnostics if d.severity is Severity.WARNING and d.code[:2] != "W4"}
        assert errors <= {"E301"} and warnings <= {"W301"}, f"generator wrote a spec with {errors | warnings}:\n{text}"
        (rejected if errors else clean).append(text)
    return tuple(clean), tuple(rejected)


def test_sweep_is_seeded_and_covers_both_accepted_and_e301_specs():
    clean, rejected = sweep()
    assert len(clean) + len(rejected) == SWEEP_SIZE
    assert len(clean) >= 150 and len(rejected) >= 30, (len(clean), len(rejected))
    assert sweep.__wrapped__() == (clean, rejected), "the sweep must be the same on every run"


def _run_all(specs, check) -> None:
    failures = []
    for text in specs:
        try:
            check(text)
        except (AssertionError, ValueError) as failure:
            failures.append(f"{failure}\n{text}")
    assert not failures, f"{len(failures)} of {len(specs)} generated specs disagree with Keras:\n\n" + "\n\n".join(
        failures[:5]
    )


@pytest.mark.keras
def test_every_generated_spec_specc_accepts_matches_keras_layer_by_layer():
    clean, _ = sweep()
    _run_all(clean, assert_matches_keras)


@pytest.mark.keras
def test_every_generated_spec_specc_rejects_with_e301_is_refused_by_keras_at_the_same_layer():
    _, rejected = sweep()
    _run_all(rejected, assert_keras_refuses)


# --- tensors no framework can allocate: E303 (the limit itself is checked against torch in test_torch_backend) ---


def test_weights_no_framework_can_allocate_are_e303_naming_the_figure_and_the_limit():
    # torch.nn.Linear(30_000_000_000, 2147483647) raises "Storage size calculation overflowed".
    checked = check_text(spec("100000x100000x3", "flatten", "dense 2147483647"))
    (diagnostic,) = checked.diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.severity) == ("E303", 4, Severity.ERROR)
    assert "would have 64,424,509,410,000,000,000 elements" in diagnostic.message
    assert "at most 2,305,843,009,213,693,951 (2**61 - 1)" in diagnostic.message


@pytest.mark.parametrize(
    ("units", "flagged"),
    [(1073741824, False), (1073741825, True)],  # 2147483647 * units: 2**61 - 2**30, then 2**61 + 2**30 - 1
)
def test_dense_weights_are_e303_just_above_the_limit_and_not_below(units, flagged):
    checked = check_text(spec("2147483647", f"dense {units}"))
    assert codes(checked) == (["E303"] if flagged else [])


@pytest.mark.parametrize(
    ("filters", "flagged"), [(1, False), (2, True)]
)  # 2147483647 * 1073741824 * filters values for one example
def test_an_output_no_framework_can_allocate_is_e303_at_its_layer(filters, flagged):
    checked = check_text(spec("2147483647x1073741824x1", f"conv {filters} 1"))
    assert [(d.code, d.span.line) for d in checked.diagnostics] == ([("E303", 3)] if flagged else [])
    assert not flagged or "the output of conv `conv2d`, 2147483647x1073741824x2 for one example" in (
        checked.diagnostics[0].message
    )


def test_an_input_no_framework_can_allocate_is_e303_at_the_input_line():
    checked = check_text(spec("2147483647x2147483647x3", "global_avgpool"))
    assert [(d.code, d.span.line) for d in checked.diagnostics] == [("E303", 2)]
