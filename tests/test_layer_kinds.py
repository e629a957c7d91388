"""The newer layer kinds (depthwise, separable, conv_transpose, upsample, crop, reshape, rescaling, normalization,
layernorm, relu, keepdims on global pooling): over grids of arguments, odd sizes, strides with 'same' padding and
dilation, specc's shapes and weight counts are what real Keras builds, what Keras refuses specc refuses at the same
layer, and the PyTorch build computes what the Keras build computes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from specc.arithmetic import transposed_output_length
from specc.diagnostics import Severity
from specc.pipeline import check_text

from keras_reference import assert_keras_refuses, assert_matches_keras, keras_module
from torch_reference import TOLERANCE, equivalence_difference


def models(input_shape: str, lines: list[str], prefix: str = "m") -> str:
    """One model per line, each reading an input of `input_shape`, so that every line is checked on its own."""
    return "".join(f"model {prefix}{i} {{\n  input {input_shape}\n  {line}\n}}\n" for i, line in enumerate(lines))


def only_error(text: str):
    errors = [d for d in check_text(text).diagnostics if d.severity is Severity.ERROR]
    assert len(errors) == 1, errors
    return errors[0]


# --- grids of arguments, each line a model of its own -------------------------------------------------------

PADDINGS = ["valid", "same"]

DEPTHWISE = [
    f"depthwise {kernel} strides={strides} padding={padding} depth_multiplier={multiplier}"
    for kernel, strides, padding, multiplier in itertools.product(
        ["3", "2x3"], ["2", "3x2"], [*PADDINGS, "1", "((0, 1), (2, 0))"], ["1", "3"]
    )
] + [
    "depthwise 5",
    "depthwise 5 same",
    "depthwise 1 depth_multiplier=2",
    "depthwise 3 dilation_rate=2 same",
    "depthwise 3x2 dilation_rate=(2, 3) depth_multiplier=2 use_bias=false relu",
    "depthwise 3 strides=2 dilation_rate=2",
]

SEPARABLE = [
    f"separable {filters} {kernel} strides={strides} padding={padding} depth_multiplier={multiplier}"
    for filters, kernel, strides, padding, multiplier in itertools.product(
        ["4"], ["3", "2x3", "5"], ["1", "2", "3x2"], PADDINGS, ["1", "2"]
    )
] + ["separable 5 3 dilation_rate=2 same use_bias=false tanh", "separable 2 1"]


def _transposed_lines() -> list[str]:
    lines = []
    for kernel, strides, padding, extra in itertools.product(
        ["2", "3", "4", "5"], [1, 2, 3], PADDINGS, [None, 0, 1, 2]
    ):
        if extra is not None and extra >= strides:
            continue  # Keras refuses: see the refusal test
        if padding == "same" and extra == 0 and int(kernel) % 2 == 0:
            continue  # TensorFlow refuses to run it: see its own test
        given = "" if extra is None else f" output_padding={extra}"
        lines.append(f"conv_transpose 3 {kernel} strides={strides} padding={padding}{given}")
    return lines


TRANSPOSED = [
    *_transposed_lines(),
    "conv_transpose 2 (2, 3) strides=(2, 3) same output_padding=(1, 0) use_bias=false",
    "conv_transpose 2 3 dilation_rate=2",
    "conv_transpose 2 3 dilation_rate=(2, 1) same",
]

OTHERS = [
    "upsample",
    "upsample 3",
    "upsample 2x3 bilinear",
    "upsample (1, 4) interpolation=nearest",
    "crop 1",
    "crop (2, 0)",
    "crop ((0, 3), (3, 1))",
    "reshape 15x7",
    "reshape (5, -1)",
    "reshape (-1,)",
    "reshape (3, 5, 7, 1)",
    "reshape 105",
    "rescaling 0.5",
    "rescaling 0.00392156862745098 offset=-1",
    "normalization mean=0.5 variance=2",
    "normalization mean=(1, 2, 3) variance=(1, 4, 9)",
    "normalization mean=(1, 2, 3) variance=4",
    "normalization mean=(1,) variance=(1, 4, 9)",
    "layernorm",
    "layernorm epsilon=1e-5 center=false",
    "layernorm scale=false",
    "layernorm center=false scale=false",
    "relu",
    "relu max_value=6",
    "relu max_value=2.5 negative_slope=0.1 threshold=0.5",
    "ReLU negative_slope=0.2",
    "global_avgpool keepdims=true",
    "global_maxpool keepdims=true",
    "global_avgpool keepdims=false",
]


@pytest.mark.keras
@pytest.mark.parametrize(
    ("kind", "lines"),
    [("depthwise", DEPTHWISE), ("separable", SEPARABLE), ("conv_transpose", TRANSPOSED), ("others", OTHERS)],
)
def test_every_line_of_the_grid_has_the_shape_and_weight_counts_keras_builds(kind, lines):
    assert_matches_keras(models("7x5x3", lines))


@pytest.mark.keras
def test_the_kinds_that_take_any_rank_match_keras_on_a_vector_too():
    lines = ["layernorm", "relu max_value=1", "rescaling 2", "normalization mean=(1, 2, 3, 4) variance=2"]
    assert_matches_keras(models("4", lines) + models("3x4", ["layernorm", "reshape (2, 2, -1)"], prefix="n"))


@pytest.mark.keras
def test_a_chain_of_the_new_kinds_matches_keras_layer_by_layer():
    assert_matches_keras(
        "model decoder {\n  input 28x28x1\n  rescaling 0.00392156862745098\n  depthwise 3 same strides=2\n"
        "  separable 8 3 same strides=2 relu\n  conv_transpose 8 3 strides=2 same\n  upsample 2 bilinear\n"
        "  crop ((1, 0), (0, 1))\n  layernorm\n  relu max_value=6\n  global_avgpool keepdims=true\n"
        "  reshape (-1,)\n  dense 4\n}\n"
    )


# --- what Keras refuses, specc refuses, at the same layer ----------------------------------------------------


@pytest.mark.keras
@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("depthwise 9", "E301"),
        ("depthwise 2x6 padding=(0, 0)", "E301"),
        ("separable 4 3x7", "E301"),
        ("crop ((3, 4), (0, 0))", "E301"),
        ("crop (0, 3)", "E301"),
        ("reshape 10x10", "E204"),
        ("reshape (4, -1)", "E204"),
        ("conv_transpose 2 3 strides=2 output_padding=2", "E204"),
        ("conv_transpose 2 3 output_padding=1", "E204"),
    ],
)
def test_what_keras_refuses_specc_refuses_at_the_same_layer(line, code):
    assert_keras_refuses(models("7x5x3", [line]), code)


def test_a_transposed_convolution_with_strides_and_dilation_is_refused_as_keras_refuses_it():
    assert only_error(models("7x5x3", ["conv_transpose 2 3 strides=2 dilation_rate=2"])).code == "E213"


@pytest.mark.keras
def test_same_padding_an_even_kernel_and_output_padding_0_is_refused_as_tensorflow_cannot_run_it():
    error = only_error(models("5x6x3", ["conv_transpose 2 2 strides=2 same output_padding=0"]))
    assert (error.code, error.span.line, error.span.column) == ("E204", 3, 52)
    keras = keras_module()
    layer = keras.layers.Conv2DTranspose(2, 2, strides=2, padding="same", output_padding=0)
    with pytest.raises(Exception, match="Conv2DBackpropInput|Conv2DTranspose"):
        layer(np.zeros((1, 5, 6, 3), "float32"))


@pytest.mark.keras
def test_per_channel_statistics_of_another_length_than_the_channels_are_refused_as_keras_refuses_them():
    error = only_error(models("7x5x3", ["normalization mean=(1, 2) variance=(1, 2)"]))
    assert error.code == "E204"
    keras = keras_module()
    with pytest.raises(Exception, match="[Ii]ncompatible|shape"):
        keras.layers.Normalization(mean=[1.0, 2.0], variance=[1.0, 2.0])(np.zeros((1, 7, 5, 3), "float32"))


@pytest.mark.parametrize(
    ("line", "code", "argument_column"),
    [
        ("reshape (2, -1, -1)", "E203", 11),
        ("reshape 3x0", "E203", 11),
        ("upsample 2 interpolation=bicubic", "E203", 28),
        ("relu max_value=-1", "E204", 18),
        ("relu negative_slope=-0.5", "E204", 23),
        ("normalization mean=1 variance=-1", "E204", 33),
        ("rescaling scale=true", "E203", 19),
        ("depthwise 3 depth_multiplier=0", "E204", 32),
    ],
)
def test_arguments_out_of_the_domain_are_reported_at_the_argument(line, code, argument_column):
    error = only_error(models("7x5x3", [line]))
    assert (error.code, error.span.line, error.span.column) == (code, 3, argument_column)


def test_relu_is_both_a_layer_of_its_own_and_an_activation_word():
    checked = check_text(models("4x4x2", ["relu", "activation relu", "conv 2 1 relu", "ReLU max_value=6"]))
    assert checked.ok
    assert [type(r.model.layers[0]).__name__ for r in checked.reports] == ["ReLU", "ActivationLayer", "Conv2D", "ReLU"]


def test_the_transposed_output_length_is_keras_formula():
    # (N-1)*S + max(E, S) | (N-1)*S + E + P | N*S | (N-1)*S + E%2 + P, as keras.src.backend.common.backend_utils
    assert transposed_output_length(5, 3, 2, "valid") == 11
    assert transposed_output_length(5, 1, 3, "valid") == 15
    assert transposed_output_length(5, 3, 2, "valid", 1) == 12
    assert transposed_output_length(5, 3, 2, "same") == 10
    assert transposed_output_length(5, 4, 3, "same", 2) == 14
    assert transposed_output_length(5, 3, 1, "valid", dilation=2) == 9


# --- PyTorch computes what Keras computes ---------------------------------------------------------------------

EQUIVALENT = [
    *(
        f"conv_transpose 2 {kernel} strides={strides} padding={padding}"
        + ("" if extra is None else f" output_padding={extra}")
        for kernel, strides, padding, extra in [
            ("2", 2, "valid", None),
            ("3", 2, "valid", None),
            ("3", 2, "valid", 1),
            ("1", 3, "valid", None),
            ("3", 2, "same", None),
            ("4", 2, "same", None),
            ("3", 3, "same", None),
            ("5", 1, "same", None),
            ("4", 1, "same", None),
            ("3", 2, "same", 0),
            ("3", 2, "same", 1),
            ("4", 3, "same", 1),
            ("5", 3, "same", 2),
            ("(2, 3)", "(2, 3)", "same", "(1, 0)"),
        ]
    ),
    "depthwise 3 strides=2 same depth_multiplier=2 relu",
    "depthwise 2x3 padding=((0, 1), (2, 0)) use_bias=false",
    "depthwise 3 dilation_rate=2 same",
    "separable 4 3 strides=2 same depth_multiplier=2",
    "separable 3 2x3 use_bias=false tanh",
    "upsample 2x3",
    "upsample 3 bilinear",
    "crop ((0, 3), (3, 1))",
    "reshape (5, -1)",
    "rescaling 0.5 offset=-1",
    "normalization mean=(1, 2, 3) variance=(1, 4, 9)",
    "normalization mean=0.5 variance=4",
    "layernorm",
    "layernorm center=false",
    "layernorm scale=false epsilon=1e-5",
    "relu max_value=6",
    "relu max_value=2.5",
    "relu negative_slope=0.1",
    "relu max_value=2.5 negative_slope=0.1 threshold=0.5",
    "global_maxpool keepdims=true",
]


@pytest.mark.keras
@pytest.mark.parametrize("line", EQUIVALENT)
def test_the_pytorch_build_computes_what_the_keras_build_computes(line):
    (report,) = check_text(models("7x5x3", [line])).reports
    difference = equivalence_difference(report, line)
    assert difference <= TOLERANCE, f"{line}: Keras and PyTorch outputs differ by {difference}"


@pytest.mark.keras
def test_layernorm_after_flatten_has_its_weights_copied_in_pytorch_feature_order():
    (report,) = check_text("model m {\n  input 3x2x4\n  flatten\n  layernorm\n  dense 3\n}\n").reports
    assert equivalence_difference(report, "layernorm after flatten") <= TOLERANCE


# Flattened features that a reshape gives a shape again, or that normalization scales one by one, must be in
# Keras's order in PyTorch too: the flatten before them is emitted channels-last, in a stack or a graph.
AFTER_FLATTEN = {
    "reshape": "model m {\n  input 4x4x2\n  flatten\n  reshape 4x8\n}\n",
    "reshape then conv": "model m {\n  input 4x4x2\n  flatten\n  reshape (4, 4, 2)\n  conv 3 3x3\n}\n",
    "per-feature normalization": (
        "model m {\n  input 2x2x3\n  flatten\n  normalization mean=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12) "
        "variance=2\n}\n"
    ),
    "reshape in a graph": "model m {\n  x = input 4x4x2\n  f = flatten\n  r = reshape 4x8 from f\n  output r f\n}\n",
    "flatten read by dense and reshape": (
        "model m {\n  x = input 4x4x2\n  f = flatten\n  d = dense 3 from f\n  r = reshape 4x8 from f\n  output d r\n}\n"
    ),
}


@pytest.mark.keras
@pytest.mark.parametrize("text", AFTER_FLATTEN.values(), ids=AFTER_FLATTEN.keys())
def test_features_flattened_for_a_reshape_or_per_feature_normalization_keep_keras_order_in_pytorch(text):
    checked = check_text(text)
    assert checked.ok, checked.diagnostics
    assert equivalence_difference(checked.reports[0], "after flatten") <= TOLERANCE


def test_scaled_add_of_two_ranks_is_e304_since_its_call_adds_tensors_batch_axis_included():
    result = check_text(
        "model m {\n input 8x8x4\n a = conv 4 1x1\n b = global_avgpool from a\n scaled_add a b scale=0.1\n}\n"
    )
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("E304", 5)]


@pytest.mark.keras
def test_correct_pad_of_a_1x1_window_on_an_even_input_is_e204_as_keras_refuses_negative_padding():
    from keras_reference import keras_module

    result = check_text("model m {\n input 8x8x4\n zeropad correct_pad=1x1\n}\n")
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("E204", 3)]
    keras = keras_module()
    with pytest.raises(ValueError):
        keras.layers.ZeroPadding2D(((-1, 0), (-1, 0)))
