"""The lowering stage (specc.lower): layer kinds, parameters and values get their meaning, with
E2xx diagnostics for what does not fit, normalised values and generated layer names."""

from __future__ import annotations

import pytest

from specc.diagnostics import Diagnostic, Span
from specc.ir import Model
from specc.layers import LAYER_KINDS
from specc.lower import lower
from specc.parse import parse
from specc.pipeline import check_text


def lowered(text: str) -> tuple[list[Model], list[Diagnostic]]:
    tree, syntax_errors = parse(text)
    assert syntax_errors == [], [(d.code, d.span, d.message) for d in syntax_errors]
    spec, diagnostics = lower(tree)
    return list(spec.models), diagnostics


def in_model(*lines: str, input_line: str = "input 28x28x1") -> str:
    """A model whose line 2 is the input and whose line 3 onwards are `lines`."""
    body = "".join(f"  {line}\n" for line in ((input_line,) if input_line else ()) + lines)
    return "model m {\n" + body + "}\n"


def one_layer(line: str, input_line: str = "input 28x28x1"):
    models, diagnostics = lowered(in_model(line, input_line=input_line))
    assert diagnostics == [], [(d.code, d.span, d.message, d.hint) for d in diagnostics]
    (layer,) = models[0].layers
    return layer


def diagnostics_of(*lines: str, input_line: str = "input 28x28x1") -> list[Diagnostic]:
    return lowered(in_model(*lines, input_line=input_line))[1]


def only_diagnostic(*lines: str, input_line: str = "input 28x28x1") -> Diagnostic:
    diagnostics = diagnostics_of(*lines, input_line=input_line)
    assert len(diagnostics) == 1, [(d.code, d.span, d.message) for d in diagnostics]
    return diagnostics[0]


# --- E201 unknown layer kind --------------------------------------------------------------------


def test_unknown_layer_kind_is_e201_on_the_kind_with_a_did_you_mean_hint():
    diagnostic = only_diagnostic("maxpol 2x2")
    assert diagnostic.code == "E201"
    assert diagnostic.span == Span(3, 3, 3, 9)
    assert diagnostic.message == "unknown layer kind `maxpol`"
    assert diagnostic.hint == "did you mean `maxpool`?"


@pytest.mark.parametrize(
    ("typo", "meant"), [("cnov", "conv"), ("flaten", "flatten"), ("dropuot", "dropout"), ("Dens", "dense")]
)
def test_unknown_layer_kind_hint_names_the_closest_kind(typo, meant):
    diagnostic = only_diagnostic(f"{typo} 3")
    assert diagnostic.code == "E201"
    assert diagnostic.hint == f"did you mean `{meant}`?"


@pytest.mark.parametrize("kind", ["zzzzzzzz", "vgg16", "Embedding"])
def test_unknown_layer_kind_far_from_any_kind_gets_no_guess_but_the_list_of_kinds(kind):
    diagnostic = only_diagnostic(f"{kind} 3")
    assert diagnostic.code == "E201"
    assert diagnostic.fixes == ()
    listed = ", ".join(cls.spellings[0] for cls in LAYER_KINDS)
    assert diagnostic.hint == f"specc's layer kinds: {listed} (Keras class names such as `Conv2D` work too)"


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("maxpooling", "maxpool"),
        ("avgpooling", "avgpool"),
        ("averagepooling", "avgpool"),
        ("globalaveragepooling", "global_avgpool"),
        ("batchnormalisation", "batchnorm"),
        ("zeropadding", "zeropad"),
        ("convolution2d", "conv"),
    ],
)
def test_a_did_you_mean_names_the_canonical_spelling_of_the_kind_it_matches(typo, meant):
    diagnostic = only_diagnostic(f"{typo} 2")
    assert diagnostic.code == "E201"
    assert diagnostic.hint == f"did you mean `{meant}`?"
    assert [fix.new_text for fix in diagnostic.fixes] == [meant]


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("Conv2d 8 3", "Conv2D"),
        ("CONV 8 3", "conv"),
        ("Conv 8 3", "conv"),
        ("DENSE 3", "dense"),
        ("maxPooling2D 2", "MaxPooling2D"),
        ("MAXPOOL 2", "maxpool"),
        ("Batchnorm", "batchnorm"),
        ("FLATTEN", "flatten"),
        ("DropOut 0.5", "Dropout"),
    ],
)
def test_a_kind_in_an_undocumented_case_is_e201_naming_the_documented_spelling(written, meant):
    diagnostic = only_diagnostic(written)
    kind = written.split()[0]
    assert (diagnostic.code, diagnostic.message) == ("E201", f"unknown layer kind `{kind}`")
    assert diagnostic.hint == f"did you mean `{meant}`? (layer kinds are case-sensitive)"
    assert [(fix.span, fix.new_text) for fix in diagnostic.fixes] == [(Span(3, 3, 3, 3 + len(kind)), meant)]


def test_a_keras_call_with_a_kind_in_an_undocumented_case_gets_the_whole_line_rewritten():
    diagnostic = only_diagnostic("Conv2d(32, 3)")
    assert (diagnostic.code, diagnostic.hint) == ("E201", "a layer line is not a Python call: write `conv 32 3`")
    assert [(fix.span, fix.new_text) for fix in diagnostic.fixes] == [(Span(3, 3, 3, 16), "conv 32 3")]


def test_input_in_an_undocumented_case_is_e201_and_still_read_as_the_input():
    checked = check_text("model m {\n  INPUT 28x28x1\n  conv 8 3\n}\n")
    (diagnostic,) = checked.diagnostics
    assert (diagnostic.code, diagnostic.hint) == ("E201", "did you mean `input`? (layer kinds are case-sensitive)")
    assert checked.reports[0].model.input_shape == (28, 28, 1)


def test_input_written_as_the_keras_class_is_the_input():
    models, diagnostics = lowered("model m {\n  Input 28x28x1\n  flatten\n}\n")
    assert diagnostics == []
    assert models[0].input_shape == (28, 28, 1)


# --- E202 unknown parameter ---------------------------------------------------------------------


def test_unknown_parameter_stride_is_e202_on_the_key_with_a_hint_naming_strides():
    diagnostic = only_diagnostic("conv 32 3x3 stride=2")
    assert diagnostic.code == "E202"
    assert diagnostic.span == Span(3, 15, 3, 21)
    assert diagnostic.message == "conv has no parameter `stride`"
    assert "strides" in diagnostic.hint


def test_unknown_parameter_with_no_close_match_lists_what_the_layer_takes():
    diagnostic = only_diagnostic("dropout 0.5 zzzzzz=1")
    assert diagnostic.code == "E202"
    assert diagnostic.hint == "dropout takes: rate"


def test_a_parameter_of_another_layer_kind_is_e202():
    diagnostic = only_diagnostic("dense 10 filters=3")
    assert (diagnostic.code, diagnostic.span.column) == ("E202", 12)


def test_input_with_a_keyword_other_than_shape_is_e202():
    diagnostic = only_diagnostic("flatten", input_line="input 28x28x1 channels=3")
    assert (diagnostic.code, diagnostic.span) == ("E202", Span(2, 17, 2, 25))


# --- E203 wrong type ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "column", "expected"),
    [
        ("conv 3.5 3x3", 8, "filters expects an integer, got 3.5"),
        ('conv filters="32" kernel=3x3', 16, 'filters expects an integer, got "32"'),
        ("dense 1e5", 9, "units expects an integer, got 1e5"),
        (
            "conv 8 3x3x3",
            10,
            "kernel_size expects an integer or a height x width pair such as 3x3 or (3, 5), got 3x3x3",
        ),
        ("conv 8 3 use_bias=1", 21, "use_bias expects true or false, got 1"),
        ("dropout rate=half", 16, "rate expects a number, got half"),
        ("dense units=(1, 2)", 15, "units expects an integer, got (1, 2)"),
        ("conv 8 3 padding=(1, 2, 3)", 20, None),
    ],
)
def test_a_value_of_the_wrong_form_is_e203_at_the_value(line, column, expected):
    diagnostic = only_diagnostic(line)
    assert diagnostic.code == "E203"
    assert (diagnostic.span.line, diagnostic.span.column) == (3, column)
    if expected is not None:
        assert diagnostic.message == expected


def test_an_activation_keras_does_not_know_given_by_keyword_is_e203():
    diagnostic = only_diagnostic("conv 8 3 activation=RELU")
    assert (diagnostic.code, diagnostic.span.column) == ("E203", 23)
    assert "RELU" in diagnostic.message


def test_an_input_shape_that_is_not_sizes_is_e203():
    diagnostic = only_diagnostic("flatten", input_line='input "28x28x1"')
    assert (diagnostic.code, diagnostic.span) == ("E203", Span(2, 9, 2, 18))


# --- E204 out of range --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        ("conv filters=0 kernel=3", 16, "filters must be greater than 0, got 0"),
        ("conv -3 3x3", 8, "filters must be greater than 0, got -3"),
        ("dropout 1.0", 11, "rate must be less than 1, got 1.0"),
        ("dropout rate=-0.1", 16, "rate must be at least 0, got -0.1"),
        (f"conv {10**30} 3x3", 8, f"filters must be at most 2147483647, got {10**30}"),
        ("batchnorm epsilon=1e999", 21, "epsilon must be a finite number, got 1e999"),
        ("batchnorm epsilon=0", 21, "epsilon must be greater than 0, got 0"),
        ("batchnorm momentum=1.5", 22, "momentum must be at most 1, got 1.5"),
        ("conv 8 3x0", 10, "kernel_size must be greater than 0, got 3x0"),
        ("dense 2147483648", 9, "units must be at most 2147483647, got 2147483648"),
    ],
)
def test_a_value_out_of_range_is_e204_at_the_value_with_the_limit_in_the_message(line, column, message):
    diagnostic = only_diagnostic(line)
    assert diagnostic.code == "E204"
    assert (diagnostic.span.line, diagnostic.span.column) == (3, column)
    assert diagnostic.message == message


def test_an_input_size_of_zero_is_e204():
    diagnostic = only_diagnostic("flatten", input_line="input 0x0x0")
    assert (diagnostic.code, diagnostic.span) == ("E204", Span(2, 9, 2, 14))
    assert "between 1 and 2147483647" in diagnostic.message


def test_strides_of_zero_give_one_e204_not_one_per_axis():
    diagnostics = diagnostics_of("conv 8 3 strides=0")
    assert [d.code for d in diagnostics] == ["E204"]


def test_a_negative_zeropad_amount_gives_one_e204():
    diagnostics = diagnostics_of("zeropad -1")
    assert [d.code for d in diagnostics] == ["E204"]


def test_a_negative_conv_padding_gives_one_diagnostic():
    diagnostics = diagnostics_of("conv 8 3 padding=-1")
    assert len(diagnostics) == 1
    assert diagnostics[0].code == "E204"


# --- E205 missing argument ----------------------------------------------------------------------


def test_a_missing_required_argument_is_e205_on_the_kind():
    diagnostic = only_diagnostic("dense")
    assert (diagnostic.code, diagnostic.span) == ("E205", Span(3, 3, 3, 8))
    assert diagnostic.message == "dense needs units"
    assert diagnostic.hint == "write it as `dense <units>`"


def test_conv_without_arguments_names_both_missing_arguments():
    diagnostic = only_diagnostic("conv")
    assert diagnostic.code == "E205"
    assert diagnostic.message == "conv needs filters, kernel_size"
    assert diagnostic.hint == "write it as `conv <filters> <kernel_size>`"


def test_input_without_a_shape_is_e205():
    diagnostic = only_diagnostic("flatten", input_line="input")
    assert (diagnostic.code, diagnostic.span) == ("E205", Span(2, 3, 2, 8))


def test_the_missing_kernel_hint_keeps_the_filters_in_place():
    diagnostic = only_diagnostic("conv 32")
    assert diagnostic.code == "E205"
    assert "`conv <kernel_size>`" not in diagnostic.hint


@pytest.mark.parametrize(
    "line", ["conv 32 kernal_size=3x3", "conv 32 kernal=3", "conv 32 3x3 strides=2 filter=8", "dense unit=4"]
)
def test_a_misspelt_required_argument_is_one_e202_and_not_also_missing(line):
    (diagnostic,) = diagnostics_of(line)
    assert diagnostic.code == "E202"
    assert diagnostic.hint.startswith("did you mean")


def test_a_wrong_bare_activation_is_reported_once():
    diagnostics = diagnostics_of("activation foo")
    assert [d.code for d in diagnostics] == ["E207"]


# --- E206 duplicate argument --------------------------------------------------------------------


def test_an_argument_given_twice_is_e206_on_the_second():
    diagnostic = only_diagnostic("conv 32 3x3 filters=16")
    assert (diagnostic.code, diagnostic.span) == ("E206", Span(3, 15, 3, 25))
    assert diagnostic.message == "`filters` is given more than once"


def test_a_short_form_and_its_long_form_count_as_the_same_argument():
    diagnostic = only_diagnostic("conv 8 kernel=3 kernel_size=3")
    assert diagnostic.code == "E206"
    assert "kernel_size" in diagnostic.message


def test_two_activations_are_e206():
    diagnostic = only_diagnostic("dense 10 relu softmax")
    assert (diagnostic.code, diagnostic.span.column) == ("E206", 17)


# --- E207 unknown bare word ---------------------------------------------------------------------


def test_an_unknown_bare_word_is_e207_with_a_did_you_mean_hint():
    diagnostic = only_diagnostic("conv 32 3x3 rleu")
    assert (diagnostic.code, diagnostic.span) == ("E207", Span(3, 15, 3, 19))
    assert diagnostic.hint == "did you mean `relu`?"


def test_a_padding_typo_on_a_pool_is_e207_naming_the_padding_mode():
    diagnostic = only_diagnostic("maxpool 2x2 smae")
    assert diagnostic.code == "E207"
    assert diagnostic.hint == "did you mean `same`?"


def test_a_bare_word_on_a_layer_without_word_arguments_is_e207():
    diagnostic = only_diagnostic("dropout 0.5 relu")
    assert diagnostic.code == "E207"
    assert diagnostic.message == "dropout takes no bare word here, got `relu`"
    assert "rate=..." in diagnostic.hint


def test_a_bare_word_on_flatten_hints_that_flatten_takes_no_arguments():
    diagnostic = only_diagnostic("flatten relu")
    assert diagnostic.code == "E207"
    assert diagnostic.hint == "flatten takes no arguments"


# --- E208 too many positional arguments ---------------------------------------------------------


def test_a_third_positional_argument_to_conv_is_e208_at_that_argument():
    diagnostic = only_diagnostic("conv 32 3x3 2")
    assert (diagnostic.code, diagnostic.span) == ("E208", Span(3, 15, 3, 16))
    assert "too many positional arguments for conv" in diagnostic.message
    assert "strides=" in diagnostic.hint


def test_a_positional_argument_to_flatten_is_e208():
    diagnostic = only_diagnostic("flatten 3")
    assert (diagnostic.code, diagnostic.span.column) == ("E208", 11)
    assert diagnostic.hint == "flatten takes no positional arguments"


def test_input_with_two_shapes_is_e208_on_the_second():
    diagnostic = only_diagnostic("flatten", input_line="input 28x28x1 3x3")
    assert (diagnostic.code, diagnostic.span) == ("E208", Span(2, 17, 2, 20))


# --- E209 / E210 input --------------------------------------------------------------------------


def test_a_model_without_input_is_e209_on_the_model_name():
    diagnostic = only_diagnostic("conv 8 3", input_line="")
    assert (diagnostic.code, diagnostic.span) == ("E209", Span(1, 7, 1, 8))
    assert "`m`" in diagnostic.message
    assert "input 28x28x1" in diagnostic.hint


def test_an_empty_model_has_no_input():
    _, diagnostics = lowered("model empty {}")
    assert [(d.code, d.span.line, d.span.column) for d in diagnostics] == [("E209", 1, 7)]


def test_a_layer_before_any_input_has_nothing_to_read_e216_and_the_input_after_it_counts():
    diagnostics = diagnostics_of("flatten", "input 28x28x1", input_line="")
    assert sorted((d.code, d.span.line, d.span.column) for d in diagnostics) == [("E216", 2, 3)]


def test_a_second_input_line_is_e210_on_its_kind():
    diagnostic = only_diagnostic("input 28x28x1", "flatten")
    assert (diagnostic.code, diagnostic.span) == ("E210", Span(3, 3, 3, 8))
    assert diagnostic.hint == "name each input, `image = input 224x224x3`, and read it with `from image`"


# --- E211 / E212 names --------------------------------------------------------------------------


def test_two_models_with_one_name_is_e211_on_the_second_name():
    _, diagnostics = lowered("model m {\n  input 2x2x1\n  flatten\n}\nmodel m {\n  input 2x2x1\n  flatten\n}\n")
    assert [(d.code, d.span) for d in diagnostics] == [("E211", Span(5, 7, 5, 8))]
    assert diagnostics[0].message == "a model named `m` is already defined"


def test_two_layers_with_one_name_is_e211_on_the_second_name():
    diagnostic = only_diagnostic("flatten name=f", "dense 3 name=f")
    assert (diagnostic.code, diagnostic.span) == ("E211", Span(4, 16, 4, 17))


def test_a_layer_name_equal_to_another_models_layer_name_is_fine():
    _, diagnostics = lowered("model a {\n input 4\n dense 2 name=d\n}\nmodel b {\n input 4\n dense 2 name=d\n}\n")
    assert diagnostics == []


def test_a_layer_name_with_a_space_is_e212_on_the_string():
    diagnostic = only_diagnostic('conv 32 3x3 name="a b"')
    assert (diagnostic.code, diagnostic.span) == ("E212", Span(3, 20, 3, 25))
    assert "'a b'" in diagnostic.message


@pytest.mark.parametrize("name", ['""', '"1abc"', '"a-b"', '"caf\u00e9"'])
def test_names_that_are_not_ascii_identifiers_are_e212(name):
    assert only_diagnostic(f"flatten name={name}").code == "E212"


# --- E213 strides with dilation -----------------------------------------------------------------


def test_strides_with_dilation_is_e213_on_the_strides():
    diagnostic = only_diagnostic("conv 32 3x3 strides=2 dilation=2")
    assert (diagnostic.code, diagnostic.span) == ("E213", Span(3, 23, 3, 24))
    assert "dilation" in diagnostic.hint


def test_strides_with_dilation_one_is_fine():
    layer = one_layer("conv 32 3x3 strides=2 dilation_rate=1")
    assert (layer.strides, layer.dilation_rate) == ((2, 2), (1, 1))


# --- several errors in one run ------------------------------------------------------------------


def test_every_error_of_a_file_is_reported_in_one_run():
    text = (
        "model a {\n"  # 1
        "  input 28x28x1\n"  # 2
        "  maxpol 2x2\n"  # 3 E201
        "  conv 32 3x3 stride=2\n"  # 4 E202
        "  conv 3.5 3x3\n"  # 5 E203
        "  dropout 1.0\n"  # 6 E204
        "  dense\n"  # 7 E205
        "  conv 8 3 filters=4\n"  # 8 E206
        "  conv 8 3 rleu\n"  # 9 E207
        "  conv 8 3 3\n"  # 10 E208
        "  input 2x2x1\n"  # 11 E210
        "  flatten name=f\n"  # 12
        "  dense 3 name=f\n"  # 13 E211
        '  dense 3 name="a b"\n'  # 14 E212
        "  conv 8 3 strides=2 dilation=2\n"  # 15 E213
        "  dense 10\n"  # 16
        "}\n"
        "model b {\n"  # 18
        "  dense 10\n"  # 19 (E209 on line 18)
        "}\n"
    )
    checked = check_text(text)
    found = [(d.code, d.span.line) for d in checked.diagnostics]
    assert found == [
        ("E201", 3),
        ("E202", 4),
        ("E203", 5),
        ("E204", 6),
        ("E205", 7),
        ("E206", 8),
        ("E207", 9),
        ("E208", 10),
        ("E210", 11),
        ("E211", 13),
        ("E212", 14),
        ("E213", 15),
        ("E209", 18),
    ]
    assert not checked.ok


# --- normalisation ------------------------------------------------------------------------------


def test_a_single_kernel_size_becomes_a_square_pair():
    assert one_layer("conv 8 3").kernel_size == (3, 3)


def test_kernel_sizes_as_size_and_as_tuple_are_the_same_pair():
    assert one_layer("conv 8 3x5").kernel_size == (3, 5)
    assert one_layer("conv 8 (3, 5)").kernel_size == (3, 5)


def test_conv_defaults_follow_keras():
    layer = one_layer("conv 8 3")
    assert (layer.strides, layer.padding, layer.dilation_rate, layer.activation, layer.use_bias) == (
        (1, 1),
        "valid",
        (1, 1),
        "linear",
        True,
    )


@pytest.mark.parametrize("kind", ["maxpool", "avgpool", "minpool"])
def test_pool_strides_default_to_the_pool_size(kind):
    layer = one_layer(f"{kind} 3x2")
    assert (layer.pool_size, layer.strides) == ((3, 2), (3, 2))


def test_pool_strides_given_explicitly_are_kept():
    layer = one_layer("maxpool 3 strides=1")
    assert (layer.pool_size, layer.strides) == ((3, 3), (1, 1))


def test_a_pool_without_a_size_defaults_to_two_by_two_with_matching_strides():
    layer = one_layer("maxpool")
    assert (layer.pool_size, layer.strides) == ((2, 2), (2, 2))


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("1", ((1, 1), (1, 1))),
        ("(1, 2)", ((1, 1), (2, 2))),
        ("1x2", ((1, 1), (2, 2))),
        ("((1, 2), (3, 4))", ((1, 2), (3, 4))),
        ("0", ((0, 0), (0, 0))),
    ],
)
def test_explicit_conv_padding_normalises_to_top_bottom_left_right(written, normalised):
    assert one_layer(f"conv 8 3 padding={written}").padding == normalised


@pytest.mark.parametrize(
    ("written", "normalised"),
    [("1", ((1, 1), (1, 1))), ("(1, 2)", ((1, 1), (2, 2))), ("((0, 1), (2, 3))", ((0, 1), (2, 3)))],
)
def test_zeropad_padding_normalises_the_same_way(written, normalised):
    assert one_layer(f"zeropad {written}").padding == normalised


def test_padding_modes_are_case_insensitive_and_lower_cased():
    assert one_layer("conv 8 3 padding=SAME").padding == "same"
    assert one_layer("conv 8 3 Valid").padding == "valid"


def test_bare_words_fill_activation_and_padding():
    layer = one_layer("conv 8 3 same relu")
    assert (layer.padding, layer.activation) == ("same", "relu")


def test_booleans_are_true_and_false_in_any_case():
    assert one_layer("conv 8 3 use_bias=False").use_bias is False
    assert one_layer("batchnorm center=TRUE scale=false").scale is False


def test_numbers_for_float_parameters_accept_integers_and_exponents():
    assert one_layer("dropout 0").rate == 0.0
    assert one_layer("batchnorm epsilon=1e-5 momentum=1").epsilon == pytest.approx(1e-5)


def test_input_shape_accepts_size_tuple_single_number_and_shape_keyword():
    for line, shape in [
        ("input 28x28x1", (28, 28, 1)),
        ("input (4, 4, 2)", (4, 4, 2)),
        ("input 16", (16,)),
        ("input shape=2x3x4", (2, 3, 4)),
    ]:
        models, diagnostics = lowered(in_model("flatten", input_line=line))
        assert diagnostics == []
        assert models[0].input_shape == shape


# --- generated names ----------------------------------------------------------------------------


def test_generated_names_are_keras_names_the_first_unnumbered_then_counted_per_kind():
    models, _ = lowered(in_model("conv 8 3", "conv 8 3", "maxpool", "flatten", "dense 10", "dense 2"))
    assert [layer.name for layer in models[0].layers] == [
        "conv2d",
        "conv2d_1",
        "max_pooling2d",
        "flatten",
        "dense",
        "dense_1",
    ]


def test_an_explicit_name_is_not_reused_by_a_generated_one_even_when_written_later():
    models, diagnostics = lowered(
        in_model("dense 4", "dense 3 name=dense_1", "dense 2", 'dense 1 name="dense_3"', "dense 1")
    )
    assert diagnostics == []
    assert [layer.name for layer in models[0].layers] == ["dense", "dense_1", "dense_2", "dense_3", "dense_4"]


def test_generated_names_restart_in_each_model():
    models, _ = lowered("model a {\n input 4\n dense 2\n}\nmodel b {\n input 4\n dense 2\n}\n")
    assert [m.layers[0].name for m in models] == ["dense", "dense"]


def test_spellings_of_one_kind_share_a_counter():
    models, _ = lowered(in_model("conv 8 3", "conv2d 8 3", "Conv2D 8 3"))
    assert [layer.name for layer in models[0].layers] == ["conv2d", "conv2d_1", "conv2d_2"]


# --- short forms and Keras class names ----------------------------------------------------------


def test_short_parameter_forms_stand_for_the_keras_names():
    conv = one_layer("conv 8 kernel=5 dilation=2 bias=false")
    assert (conv.kernel_size, conv.dilation_rate, conv.use_bias) == ((5, 5), (2, 2), False)
    pool = one_layer("maxpool pool=3")
    assert (pool.pool_size, pool.strides) == ((3, 3), (3, 3))


def test_an_unknown_short_form_hint_offers_the_short_forms_too():
    diagnostic = only_diagnostic("conv 8 3 kernal=3")
    assert diagnostic.code == "E202"
    assert diagnostic.hint in ("did you mean `kernel`?", "did you mean `kernel_size`?")


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("Conv2D 8 3", "conv2d"),
        ("MaxPooling2D 2", "maxpool2d"),
        ("AveragePooling2D 2", "avgpool2d"),
        ("GlobalAveragePooling2D", "global_avgpool2d"),
        ("GlobalMaxPooling2D", "global_maxpool2d"),
        ("ZeroPadding2D 1", "zeropad2d"),
        ("BatchNormalization", "batchnorm"),
        ("Dropout 0.5", "dropout"),
        ("Flatten", "flatten"),
        ("Dense 3", "dense"),
        ("Activation relu", "activation"),
        ("conv2d 8 3", "conv2d"),
        ("maxpool2d 2", "maxpool2d"),
        ("fc 3", "dense"),
        ("bn", "batchnorm"),
    ],
)
def test_keras_class_names_and_aliases_are_accepted_as_kinds(written, kind):
    assert one_layer(written).kind == kind


# --- W302 and the chain of layers after a line that failed to lower -----------------------------


def test_a_model_with_only_an_input_line_gets_w302_on_its_name():
    diagnostic = only_diagnostic(input_line="input 28x28x1")
    assert (diagnostic.code, diagnostic.span) == ("W302", Span(1, 7, 1, 8))


def test_a_model_whose_only_layer_failed_to_lower_gets_no_w302():
    assert [d.code for d in diagnostics_of("conv 32 3x3 stride=2")] == ["E202"]


def test_shapes_are_not_inferred_past_a_layer_that_failed_to_lower():
    checked = check_text(in_model("flatten 3", "dense 10"))
    assert [d.code for d in checked.diagnostics] == ["E208"]  # no W301 from dense seeing 28x28x1
    (report,) = checked.reports
    assert report.complete is False
    assert report.output_shape is None


# --- Keras habits get hints that say how specc writes the same thing -----------------------------


def test_input_shape_on_a_layer_hints_at_the_input_line():
    diagnostic = only_diagnostic("conv 32 3x3 input_shape=(28, 28, 1)")
    assert diagnostic.code == "E202"
    assert "`input 28x28x1`" in diagnostic.hint


def test_a_one_value_tuple_hints_to_drop_the_parentheses():
    diagnostic = only_diagnostic("dropout (0.25)")
    assert (diagnostic.code, diagnostic.span) == ("E203", Span(3, 11, 3, 17))
    assert "write the value alone" in diagnostic.hint


@pytest.mark.parametrize(
    ("line", "meant"),
    [
        ("MaxPooling2D((2, 2))", "maxpool 2x2"),
        ("MaxPooling2D(2)", "maxpool 2"),
        ("Dropout(0.5)", "dropout 0.5"),
        ("dropout(0.25)", "dropout 0.25"),
        ("Dense(10)", "dense 10"),
        ("AveragePooling2D((3, 3))", "avgpool 3x3"),
        ('Activation("relu")', "activation relu"),
    ],
)
def test_a_keras_call_that_parses_gets_the_spec_line_it_means_as_hint_and_fix(line, meant):
    diagnostic = only_diagnostic(line)
    assert diagnostic.code == "E203"
    assert diagnostic.hint == f"a layer line is not a Python call: write `{meant}`"
    assert [(fix.span, fix.new_text) for fix in diagnostic.fixes] == [(Span(3, 3, 3, 3 + len(line)), meant)]
    one_layer(meant)  # the suggested line lowers cleanly


@pytest.mark.parametrize(
    ("line", "hint", "replacement"),
    [
        ('conv 32 3x3 padding="same"', "write it without quotes: `padding=same`", "same"),
        ('maxpool 2x2 padding="valid"', "write it without quotes: `padding=valid`", "valid"),
        ('conv 8 3 use_bias="false"', "write it without quotes: `use_bias=false`", "false"),
        ('conv 8 3 bias="true"', "write it without quotes: `bias=true`", "true"),
        ('maxpool 2x2 "same"', "write it without quotes: `same`", "same"),
        ('dense 3 "relu"', "write it without quotes: `relu`", "relu"),
    ],
)
def test_a_quoted_word_where_a_word_is_expected_is_e203_with_a_hint_to_drop_the_quotes(line, hint, replacement):
    diagnostic = only_diagnostic(line)
    assert diagnostic.code == "E203"
    assert diagnostic.hint == hint
    assert [fix.new_text for fix in diagnostic.fixes] == [replacement]
    assert line[diagnostic.span.column - 3 : diagnostic.span.end_column - 3] == f'"{replacement}"'


def test_a_quoted_string_that_is_no_word_the_parameter_takes_gets_no_unquoting_hint():
    diagnostic = only_diagnostic('conv 8 3 padding="nonsense"')
    assert diagnostic.code == "E203"
    assert diagnostic.hint is None


def test_an_activation_in_the_wrong_case_is_e203_with_the_keras_name_as_hint():
    diagnostic = only_diagnostic("conv 8 3 activation=ReLU")
    assert diagnostic.code == "E203"
    assert diagnostic.hint == "did you mean `relu`?"


def test_a_quoted_activation_is_e203_with_a_hint_to_drop_the_quotes_as_a_quoted_padding_is():
    """Quoted words are refused alike, whichever parameter takes them: `activation="softmax"` as `padding="same"`."""
    diagnostic = only_diagnostic('dense 10 activation="softmax"')
    assert diagnostic.code == "E203"
    assert diagnostic.hint == "write it without quotes: `activation=softmax`"
    assert [fix.new_text for fix in diagnostic.fixes] == ["softmax"]


def test_a_quoted_misspelt_activation_gets_the_closest_activation_as_its_fix():
    diagnostic = only_diagnostic('conv 8 3 activation="rellu"')
    assert diagnostic.code == "E203"
    assert diagnostic.hint == "did you mean `relu`?"
    assert [fix.new_text for fix in diagnostic.fixes] == ["relu"]


def test_layer_validators_take_spans_as_instances_without_building_a_span_schema_per_kind():
    """Span's dataclass schema, built field by field for `span` and `argument_spans` of every layer kind, was half
    of each kind's first validation; an instance check accepts and refuses what the dataclass schema did."""
    from pydantic import ValidationError

    from specc.layers import Dense

    span = Span(line=1, column=1, end_line=1, end_column=6)
    dense = Dense(name="d", span=span, units=3, argument_spans={"units": span})
    assert dense.span is span and dense.argument_spans["units"] is span
    assert "'dataclass" not in repr(Dense.__pydantic_core_schema__)
    with pytest.raises(ValidationError, match="instance of Span"):
        Dense(name="d", span={"line": 1, "column": 1, "end_line": 1, "end_column": 6}, units=3)
