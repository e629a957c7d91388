"""The parse stage (grammars/specc.cnn.lark + specc.parse): what the grammar accepts, the spans it
records, and the syntax diagnostics E101/E102/E103 with one report per broken line."""

from __future__ import annotations

import pytest

from specc import syntax
from specc.diagnostics import Span
from specc.parse import parse


def parse_clean(text: str) -> syntax.SourceFile:
    tree, diagnostics = parse(text)
    assert diagnostics == [], [(d.code, d.span, d.message) for d in diagnostics]
    return tree


def only_model(text: str) -> syntax.ModelBlock:
    tree = parse_clean(text)
    assert len(tree.models) == 1
    return tree.models[0]


def kinds(block: syntax.ModelBlock) -> list[str]:
    return [statement.kind for statement in block.statements]


def codes(text: str) -> list[tuple[str, int, int]]:
    _, diagnostics = parse(text)
    return [(d.code, d.span.line, d.span.column) for d in diagnostics]


# --- what the grammar accepts -------------------------------------------------------------------


def test_comments_are_ignored_on_their_own_lines_and_after_statements():
    block = only_model(
        "# leading comment\n"
        "model m {   # after the brace\n"
        "  # a whole-line comment inside the body\n"
        "  input 28x28x1   # after a statement\n"
        "  flatten#no space before the hash\n"
        "}\n"
        "# trailing comment without newline"
    )
    assert kinds(block) == ["input", "flatten"]


def test_a_file_holding_only_comments_and_blank_lines_parses_to_no_models():
    tree = parse_clean("# one\n\n   \n# two\n")
    assert tree.models == ()


def test_several_models_in_one_file_keep_their_order_and_statements():
    tree = parse_clean(
        "model first {\n  input 4x4x1\n  flatten\n}\n\n"
        "model second {\n  input 8\n  dense 2\n}\n"
        "model third { input 2x2x3 }\n"
    )
    assert [m.name for m in tree.models] == ["first", "second", "third"]
    assert [kinds(m) for m in tree.models] == [["input", "flatten"], ["input", "dense"], ["input"]]


def test_two_models_may_share_a_line_after_a_closing_brace():
    tree = parse_clean("model a { input 1x1x1 } model b { input 1x1x1 }")
    assert [m.name for m in tree.models] == ["a", "b"]


def test_semicolons_separate_statements_like_newlines():
    block = only_model("model m { input 28x28x1; conv 8 3x3 relu; flatten ; dense 10 softmax }")
    assert kinds(block) == ["input", "conv", "flatten", "dense"]


def test_repeated_and_trailing_semicolons_and_blank_lines_are_allowed():
    block = only_model(";;\n\nmodel m {\n\n;; input 2x2x1;;\n\n\n  flatten;\n\n};;\n\n")
    assert kinds(block) == ["input", "flatten"]


def test_an_empty_model_body_parses():
    block = only_model("model m {}")
    assert block.statements == ()


def test_the_last_statement_needs_no_separator_before_the_closing_brace():
    block = only_model("model m {\n  input 2x2x1\n  flatten }")
    assert kinds(block) == ["input", "flatten"]


def test_sizes_are_split_into_integer_dims():
    block = only_model("model m {\n  input 28x28x1\n  maxpool 2x3\n  conv 1 7x7x7x7\n}")
    values = [statement.arguments[-1].value for statement in block.statements]
    assert all(isinstance(v, syntax.Size) for v in values)
    assert [v.dims for v in values] == [(28, 28, 1), (2, 3), (7, 7, 7, 7)]


def test_numbers_keep_their_text_and_know_whether_they_are_integers():
    block = only_model("model m {\n  layer 32 -3 +4 0.25 .5 3. 1e5 2.5E-3\n}")
    numbers = [a.value for a in block.statements[0].arguments]
    assert all(isinstance(n, syntax.Number) for n in numbers)
    assert [n.text for n in numbers] == ["32", "-3", "+4", "0.25", ".5", "3.", "1e5", "2.5E-3"]
    assert [n.is_integer for n in numbers] == [True, True, True, False, False, False, False, False]


def test_bare_words_are_words_and_keyword_arguments_record_their_key():
    statement = only_model("model m {\n  conv 8 3 relu padding=same use_bias=false\n}").statements[0]
    arguments = statement.arguments
    assert [a.key for a in arguments] == [None, None, None, "padding", "use_bias"]
    assert isinstance(arguments[2].value, syntax.Word) and arguments[2].value.text == "relu"
    assert isinstance(arguments[3].value, syntax.Word) and arguments[3].value.text == "same"
    assert arguments[4].value.text == "false"


def test_tuples_allow_one_item_a_trailing_comma_and_mixed_scalars():
    statement = only_model('model m {\n  layer (1,) (1, 2,) (3x3, relu, "s", 0.5)\n}').statements[0]
    tuples = [a.value for a in statement.arguments]
    assert all(isinstance(t, syntax.Tuple) for t in tuples)
    assert [len(t.items) for t in tuples] == [1, 2, 4]
    kinds_of_items = [type(item).__name__ for item in tuples[2].items]
    assert kinds_of_items == ["Size", "Word", "String", "Number"]


def test_nested_tuples_of_tuples_parse_to_tuples_of_tuples():
    statement = only_model("model m {\n  conv 8 3 padding=((1, 2), (3, 4))\n}").statements[0]
    padding = statement.arguments[-1].value
    assert isinstance(padding, syntax.Tuple)
    assert [[item.text for item in inner.items] for inner in padding.items] == [["1", "2"], ["3", "4"]]


def test_tuples_nested_three_levels_deep_are_a_syntax_error_not_a_deep_tree():
    assert codes("model m {\n  conv 8 3 padding=(((1)))\n}") == [("E102", 2, 22)]


def test_strings_are_unquoted_and_unescaped():
    statement = only_model(
        r"model m {" "\n" r'  flatten name="a\"b" other="tab\there" nl="x\ny" plain="c 1"' "\n}"
    ).statements[0]
    assert [a.value.text for a in statement.arguments] == ['a"b', "tab\there", "x\ny", "c 1"]
    assert all(isinstance(a.value, syntax.String) for a in statement.arguments)


def test_a_backslash_at_the_end_of_a_line_continues_the_statement():
    statement = only_model("model m {\n  conv 8 \\\n     3x3 relu\n}").statements[0]
    assert statement.kind == "conv"
    assert [a.value.span.line for a in statement.arguments] == [2, 3, 3]


def test_crlf_line_endings_parse_like_lf():
    lf = parse_clean("model m {\n  input 28x28x1\n  conv 8 3x3\n}\n")
    crlf = parse_clean("model m {\r\n  input 28x28x1\r\n  conv 8 3x3\r\n}\r\n")
    assert [kinds(m) for m in crlf.models] == [kinds(m) for m in lf.models]
    assert crlf.models[0].statements[1].span == lf.models[0].statements[1].span


def test_tabs_and_form_feeds_are_whitespace():
    block = only_model("model\tm\t{\n\tinput\t28x28x1\n\tflatten\f\n}")
    assert kinds(block) == ["input", "flatten"]


def test_the_grammar_knows_no_layer_kinds_so_any_word_parses_as_a_statement():
    block = only_model("model m {\n  input 2x2x1\n  frobnicate 3 banana=7\n}")
    assert kinds(block) == ["input", "frobnicate"]


def test_the_keyword_model_may_be_a_model_name_and_a_value():
    tree = parse_clean("model model {\n  flatten name=model\n}")
    assert tree.models[0].name == "model"
    assert tree.models[0].statements[0].arguments[0].value.text == "model"


# --- spans: 1-based lines and columns, end_column one past the last character -----------------


SPAN_SOURCE = (
    "# header\n"  # line 1
    "model net {\n"  # line 2
    "  input 28x28x1\n"  # line 3
    '  conv 32 (3, 5) name="c1" padding=((1, 2), (3, 4))\n'  # line 4
    "  dense 10 relu; flatten\n"  # line 5
    "}\n"  # line 6
)


@pytest.fixture(scope="module")
def span_model() -> syntax.ModelBlock:
    return only_model(SPAN_SOURCE)


def test_model_block_span_runs_from_the_keyword_to_one_past_the_closing_brace(span_model):
    assert span_model.span == Span(2, 1, 6, 2)
    assert span_model.name_span == Span(2, 7, 2, 10)


def test_layer_kind_and_statement_spans_are_exact(span_model):
    input_line, conv, dense, flatten = span_model.statements
    assert input_line.kind_span == Span(3, 3, 3, 8)
    assert input_line.span == Span(3, 3, 3, 16)
    assert conv.kind_span == Span(4, 3, 4, 7)
    assert conv.span == Span(4, 3, 4, 52)
    assert dense.span == Span(5, 3, 5, 16)
    assert flatten.kind_span == Span(5, 18, 5, 25)


def test_value_spans_are_exact_for_sizes_numbers_tuples_and_strings(span_model):
    input_line, conv, dense, _ = span_model.statements
    assert input_line.arguments[0].value.span == Span(3, 9, 3, 16)  # 28x28x1
    filters, kernel, name, padding = conv.arguments
    assert filters.value.span == Span(4, 8, 4, 10)  # 32
    assert kernel.value.span == Span(4, 11, 4, 17)  # (3, 5)
    assert [item.span for item in kernel.value.items] == [Span(4, 12, 4, 13), Span(4, 15, 4, 16)]
    assert name.value.span == Span(4, 23, 4, 27)  # "c1", quotes included
    assert padding.value.span == Span(4, 36, 4, 52)
    assert padding.value.items[1].span == Span(4, 45, 4, 51)  # (3, 4)
    assert dense.arguments[1].value.span == Span(5, 12, 5, 16)  # relu


def test_keyword_argument_span_covers_key_and_value_and_key_span_covers_the_key(span_model):
    _, conv, _, _ = span_model.statements
    name, padding = conv.arguments[2], conv.arguments[3]
    assert name.key_span == Span(4, 18, 4, 22)
    assert name.span == Span(4, 18, 4, 27)
    assert padding.key_span == Span(4, 28, 4, 35)
    assert padding.span == Span(4, 28, 4, 52)


def test_every_span_slices_the_source_to_exactly_what_was_written(span_model):
    lines = SPAN_SOURCE.split("\n")

    def text_of(span: Span) -> str:
        assert span.line == span.end_line
        return lines[span.line - 1][span.column - 1 : span.end_column - 1]

    _, conv, dense, flatten = span_model.statements
    assert text_of(span_model.name_span) == "net"
    assert text_of(conv.span) == 'conv 32 (3, 5) name="c1" padding=((1, 2), (3, 4))'
    assert [text_of(a.span) for a in conv.arguments] == ["32", "(3, 5)", 'name="c1"', "padding=((1, 2), (3, 4))"]
    assert text_of(dense.span) == "dense 10 relu"
    assert text_of(flatten.span) == "flatten"


def test_spans_count_columns_in_characters_after_tabs_and_non_ascii_comments():
    block = only_model("model m { # ünïcödé\n\tinput\t28x28x1\n}")
    statement = block.statements[0]
    assert statement.kind_span == Span(2, 2, 2, 7)
    assert statement.arguments[0].value.span == Span(2, 8, 2, 15)


# --- syntax errors ------------------------------------------------------------------------------


def test_a_character_no_token_starts_with_is_e101_at_its_position():
    _, diagnostics = parse("model m {\n  input 28x28x1\n  conv 32 3x3 @\n}")
    assert [(d.code, d.span) for d in diagnostics] == [("E101", Span(3, 15, 3, 16))]
    assert "`@`" in diagnostics[0].message


def test_a_non_ascii_look_alike_gets_e101_with_a_look_alike_hint():
    # U+0430 CYRILLIC SMALL LETTER A in place of a Latin `a`.
    _, diagnostics = parse("model m {\n  input 28x28x1\n  m\u0430xpool 2x2\n}")
    assert [(d.code, d.span.line, d.span.column) for d in diagnostics] == [("E101", 3, 4)]
    assert "look-alike" in diagnostics[0].hint


def test_an_unprintable_character_is_shown_escaped_in_the_e101_message():
    _, diagnostics = parse("model m {\n  input 28x28x1\x07\n}")
    assert diagnostics[0].code == "E101"
    assert "'\\x07'" in diagnostics[0].message


def test_an_unexpected_token_is_e102_with_the_token_span_and_what_was_expected():
    _, diagnostics = parse("model m {\n  input 28x28x1\n  conv 8 = 3\n}")
    (diagnostic,) = diagnostics
    assert diagnostic.code == "E102"
    assert diagnostic.span == Span(3, 10, 3, 11)
    assert diagnostic.message.startswith("unexpected `=`; expected ")
    assert "key=value" in diagnostic.message
    assert "strides=2" in diagnostic.hint


def test_a_number_where_a_layer_kind_belongs_is_e102_with_a_hint_about_layer_lines():
    _, diagnostics = parse("model m {\n  input 28x28x1\n  32 conv\n}")
    (diagnostic,) = diagnostics
    assert (diagnostic.code, diagnostic.span) == ("E102", Span(3, 3, 3, 5))
    assert "unexpected `32`; expected" in diagnostic.message
    assert "layer kind" in diagnostic.hint


def test_a_layer_outside_any_model_is_e102_expecting_model():
    _, diagnostics = parse("conv 32 3x3\n")
    (diagnostic,) = diagnostics
    assert (diagnostic.code, diagnostic.span) == ("E102", Span(1, 1, 1, 5))
    assert "expected" in diagnostic.message and "`model`" in diagnostic.message
    assert "model NAME" in diagnostic.hint


def test_a_model_without_a_name_is_e102_expecting_a_name():
    _, diagnostics = parse("model {\n}\n")
    (diagnostic,) = diagnostics
    assert (diagnostic.code, diagnostic.span) == ("E102", Span(1, 7, 1, 8))
    assert diagnostic.message == "unexpected `{`; expected a name"


def test_an_unclosed_tuple_at_the_end_of_a_line_is_e102_at_the_end_of_that_line():
    _, diagnostics = parse("model m {\n  input 28x28x1\n  conv 32 (3, 3\n}")
    (diagnostic,) = diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == ("E102", 3, 16)
    assert diagnostic.message == "unexpected end of line; expected `)` or `,`"


def test_a_stray_closing_brace_is_e102():
    assert codes("}") == [("E102", 1, 1)]
    assert codes("model m {\n  input 2x2x1\n}}") == [("E102", 3, 2)]


def test_an_unclosed_block_is_e103_at_the_end_of_the_file_with_a_hint_to_close_it():
    _, diagnostics = parse("model m {\n  input 28x28x1\n  conv 32 3x3")
    (diagnostic,) = diagnostics
    assert (diagnostic.code, diagnostic.span) == ("E103", Span(3, 14, 3, 15))
    assert diagnostic.message.startswith("unexpected end of file")
    assert "`}`" in diagnostic.message and "`}`" in diagnostic.hint


def test_a_file_ending_with_a_newline_inside_a_block_is_e103_just_after_the_last_text():
    # Not on the empty line after it, which a caret could not be drawn under.
    assert codes("model m {\n  input 28x28x1\n") == [("E103", 2, 16)]


def test_a_file_that_stops_after_the_model_keyword_is_e103_expecting_a_name():
    _, diagnostics = parse("model")
    (diagnostic,) = diagnostics
    assert (diagnostic.code, diagnostic.span) == ("E103", Span(1, 6, 1, 7))
    assert diagnostic.message == "unexpected end of file; expected a name"


def test_recovery_reports_one_error_per_broken_line_and_keeps_the_good_lines():
    text = (
        "model m {\n"  # 1
        "  input 28x28x1\n"  # 2
        "  conv 8 3 $\n"  # 3  E101
        "  conv 8 3x3\n"  # 4
        "  dense 4 = 2\n"  # 5  E102
        "  flatten )\n"  # 6  E102
        "  flatten\n"  # 7
        "  conv 8 3 !\n"  # 8  E101
        "  dense 10\n"  # 9
        "}\n"
    )
    tree, diagnostics = parse(text)
    assert [(d.code, d.span.line, d.span.column) for d in diagnostics] == [
        ("E101", 3, 12),
        ("E102", 5, 11),
        ("E102", 6, 11),
        ("E101", 8, 12),
    ]
    assert kinds(tree.models[0]) == ["input", "conv", "flatten", "dense"]


def test_recovery_across_two_models_reports_errors_in_both():
    text = "model a {\n  input 2x2x1\n  flatten @\n}\nmodel b {\n  input 2x2x1\n  dense = 1\n}\n"
    tree, diagnostics = parse(text)
    assert [(d.code, d.span.line) for d in diagnostics] == [("E101", 3), ("E102", 7)]
    assert [m.name for m in tree.models] == ["a", "b"]


def test_recovery_stops_after_twenty_errors():
    text = "model m {\n  input 28x28x1\n" + "  conv = 3\n" * 50 + "}\n"
    _, diagnostics = parse(text)
    assert len(diagnostics) == 20
    assert [d.span.line for d in diagnostics] == list(range(3, 23))


def test_an_error_on_a_line_with_a_brace_ends_parsing_with_that_single_error():
    _, diagnostics = parse("model m m {\n  input 2x2x1\n  dense = 1\n}\n")
    assert [(d.code, d.span.line, d.span.column) for d in diagnostics] == [("E102", 1, 9)]


def test_a_word_that_merely_starts_with_model_is_not_the_model_keyword():
    _, diagnostics = parse("modelmnist {\n  input 2x2x1\n  flatten\n}\n")
    assert [d.code for d in diagnostics] == ["E102"]


def test_a_number_glued_to_a_word_is_a_syntax_error():
    _, diagnostics = parse("model m {\n  input 28x28x1\n  conv 32relu 3x3\n}\n")
    assert [d.code for d in diagnostics] in (["E101"], ["E102"])


def test_a_missing_value_after_equals_expects_a_value_not_a_keyword_argument():
    _, diagnostics = parse("model m {\n  input 28x28x1\n  conv 32 3x3 strides=\n}")
    (diagnostic,) = diagnostics
    assert diagnostic.code == "E102"
    assert "key=value" not in diagnostic.message


# --- what recovery leaves for the later stages --------------------------------------------------
# A broken line is blanked and parsing starts again; the stages after parsing should not then
# report the blanked line's absence as a problem of its own.


def _pipeline_codes(text: str) -> list[str]:
    from specc.pipeline import check_text

    return [d.code for d in check_text(text).diagnostics]


def test_a_syntax_error_on_the_input_line_does_not_also_report_a_missing_input():
    assert _pipeline_codes("model m {\n  input 4x4x1 @\n  conv 8 3x3\n}\n") == ["E101"]


def test_a_syntax_error_on_the_only_layer_does_not_also_warn_of_an_empty_model():
    assert _pipeline_codes("model m {\n  input 28x28x1\n  conv 8 3 @\n}\n") == ["E101"]


def test_shape_inference_does_not_continue_past_a_line_with_a_syntax_error():
    assert _pipeline_codes("model m {\n  input 4x4x1\n  zeropad 2 @\n  conv 8 5x5\n}\n") == ["E101"]


def test_a_keras_call_written_as_a_layer_line_hints_at_the_specc_form():
    _, diagnostics = parse("model m {\n  input 28x28x1\n  Conv2D(32, (3, 3), activation=relu)\n}\n")
    (diagnostic,) = diagnostics
    assert diagnostic.code == "E102"
    assert "not a Python call" in diagnostic.hint


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ("Dense(64, activation='relu')", "a layer line is not a Python call: write `dense 64 relu`"),
        ("Dense(64, activation=relu)", "a layer line is not a Python call: write `dense 64 relu`"),
        ("Conv2D(32, (3, 3), activation=relu)", "a layer line is not a Python call: write `conv 32 3x3 relu`"),
        (
            "layers.Conv2D(32, (3,3), padding='same', strides=(2, 2)),",
            "a layer line is not a Python call: write `conv 32 3x3 same strides=2x2`",
        ),
        (
            "Conv2D(32, kernel_size=(3, 3), activation='relu', input_shape=(28, 28, 1))",
            "a layer line is not a Python call: write `conv 32 3x3 relu`, "
            "with the input shape on a line of its own at the top: `input 28x28x1`",
        ),
        ("MaxPooling2D(pool_size=(2, 2))", "a layer line is not a Python call: write `maxpool 2x2`"),
        ("Flatten()", "a layer line is not a Python call: write `flatten`"),
        ("Dense(10, 'softmax')", "a layer line is not a Python call: write `dense 10 softmax`"),
        (
            "BatchNormalization(momentum=0.9, center=False)",
            "a layer line is not a Python call: write `batchnorm momentum=0.9 center=false`",
        ),
        (
            "SeparableConv2D(32, (3, 3), padding='same')",
            "a layer line is not a Python call: write `separable 32 3x3 same`",
        ),
        ("ReLU(max_value=6.0)", "a layer line is not a Python call: write `relu max_value=6.0`"),
    ],
)
def test_a_keras_call_of_any_kind_gets_the_spec_line_it_means_as_hint(line, hint):
    _, diagnostics = parse(f"model m {{\n  input 28x28x1\n  {line}\n}}\n")
    (diagnostic,) = diagnostics
    assert diagnostic.code in ("E101", "E102")
    assert diagnostic.hint == hint


def test_the_fix_for_a_keras_call_replaces_the_call_and_keeps_its_indent_and_comment():
    _, diagnostics = parse("model m {\n  input 28x28x1\n    layers.Dense(10, activation='softmax'),  # out\n}\n")
    (diagnostic,) = diagnostics
    (fix,) = diagnostic.fixes
    assert (fix.span, fix.new_text) == (Span(3, 5, 3, 43), "dense 10 softmax")


def test_a_keras_call_holding_the_input_shape_gets_no_fix_since_the_shape_needs_a_line_of_its_own():
    _, diagnostics = parse("model m {\n  Conv2D(8, (3, 3), input_shape=(28, 28, 1))\n}\n")
    (diagnostic,) = diagnostics
    assert "`input 28x28x1`" in diagnostic.hint
    assert diagnostic.fixes == ()


@pytest.mark.parametrize(
    "line",
    [
        "LSTM(32, return_sequences=True)",
        "Dense(units, activation=act())",
        "Dense(4, kernel_regularizer=l2(0.01))",
    ],
)
def test_a_keras_call_with_no_spec_form_gets_the_general_call_hint(line):
    _, diagnostics = parse(f"model m {{\n  input 28x28x1\n  {line}\n}}\n")
    (diagnostic,) = diagnostics
    assert diagnostic.hint == (
        "a layer line is not a Python call: write the kind, then its arguments separated by spaces, "
        "e.g. `conv 32 3x3 activation=relu`"
    )


def test_an_unclosed_block_at_the_end_of_the_file_has_a_note_at_its_opening_brace():
    _, diagnostics = parse("# first\nmodel mnist {\n  input 28x28x1\n  conv 32 3x3\n")
    (diagnostic,) = diagnostics
    assert (diagnostic.code, diagnostic.span) == ("E103", Span(4, 14, 4, 15))
    assert diagnostic.hint == "close the block of model `mnist` with `}`"
    assert [(n.span, n.message) for n in diagnostic.notes] == [
        (Span(2, 13, 2, 14), "the block of model `mnist` opened here is not closed")
    ]


def test_a_model_starting_inside_an_unclosed_block_has_a_note_at_that_blocks_brace():
    _, diagnostics = parse("model a {\n  input 4\n  dense 2\n\nmodel b {\n  input 4\n}\n")
    (diagnostic,) = diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == ("E102", 5, 1)
    assert diagnostic.hint == "close the block of model `a` with `}` before the next model"
    assert [(n.span, n.message) for n in diagnostic.notes] == [
        (Span(1, 9, 1, 10), "the block of model `a` opened here is not closed")
    ]


def test_syntax_errors_inside_a_closed_block_have_no_note():
    _, diagnostics = parse("model m {\n  input 4\n  dense = 2\n}\n")
    assert [d.notes for d in diagnostics] == [()]


def test_a_single_quoted_string_hints_at_double_quotes_or_none():
    _, diagnostics = parse("model m {\n  input 28x28x1\n  conv 32 3x3 padding='same'\n}\n")
    (diagnostic,) = diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == ("E101", 3, 23)
    assert "padding=same" in diagnostic.hint


def test_a_statement_shifted_by_n_lines_equals_the_same_statement_parsed_n_lines_lower():
    line = 'conv 8 (3, 1) padding=((0, 1), (2, 0)) name="c" relu'
    (high,) = parse(f"model m {{\n  {line}\n}}\n")[0].models
    (low,) = parse(f"model m {{\n\n\n\n  {line}\n}}\n")[0].models
    assert high.statements[0].shifted(3) == low.statements[0]
    assert high.statements[0].shifted(3).shifted(-3) == high.statements[0]
    assert high.statements[0].shifted(0) is high.statements[0]


def test_a_moved_statement_compares_hashes_and_prints_as_the_statement_parsed_there():
    line = 'conv 8 (3, 1) padding=((0, 1), (2, 0)) name="c" relu'
    (high,) = parse(f"model m {{\n  {line}\n}}\n")[0].models
    (low,) = parse(f"model m {{\n\n\n\n\n  {line}\n}}\n")[0].models
    moved = high.statements[0].shifted(1).shifted(3)
    assert moved == low.statements[0] and low.statements[0] == moved
    assert [hash(a) for a in moved.arguments] == [hash(a) for a in low.statements[0].arguments]
    assert repr(moved) == repr(low.statements[0])
    assert [a.value.span for a in moved.arguments] == [a.value.span for a in low.statements[0].arguments]


def test_moving_a_moved_argument_again_does_not_chain_moves():
    (model,) = parse("model m {\n  dense 2 name=d\n}\n")[0].models
    once = model.statements[0].shifted(1)
    twice = once.shifted(1)
    assert all(a.__dict__["_source"] is b for a, b in zip(twice.arguments, model.statements[0].arguments, strict=True))
    assert [a.span.line for a in twice.arguments] == [4, 4]
    assert "_source" not in twice.arguments[0].__dict__, "a read argument lets go of the one it was moved from"


def test_a_block_left_open_before_the_next_model_has_a_note_at_its_brace():
    _, diagnostics = parse("block b(n) {\n  dense n\nmodel m {\n  input 4\n}\n")
    (diagnostic,) = diagnostics
    assert (diagnostic.code, diagnostic.span.line) == ("E102", 3)
    assert diagnostic.hint == "close block `b` with `}` before the next model"
    (note,) = diagnostic.notes
    assert (note.span.line, note.span.column, note.message) == (1, 12, "block `b` opened here is not closed")


def test_statements_name_their_value_and_what_they_read_with_spans():
    tree, diagnostics = parse("model m {\n  x = input 8\n  y = dense 4 from x, x name=d\n}\n")
    assert diagnostics == []
    statement = tree.models[0].statements[1]
    assert statement.target.text == "y" and statement.target.span == Span(3, 3, 3, 4)
    assert [(w.text, w.span.column) for w in statement.sources] == [("x", 20), ("x", 23)]
    assert [a.key for a in statement.arguments] == [None, "name"]
    assert statement.span == Span(3, 3, 3, 31)


def test_a_block_header_keeps_its_parameters_and_defaults():
    tree, diagnostics = parse("block basic(filters, strides=1,) {\n  conv filters 3x3\n}\n")
    assert diagnostics == []
    (block,) = tree.models
    assert block.is_block and block.name == "basic"
    assert [(p.name, p.default.text if p.default else None) for p in block.parameters] == [
        ("filters", None),
        ("strides", "1"),
    ]


def test_a_name_part_starting_with_digits_is_a_word_so_blocks_can_name_layers_like_keras_applications():
    tree, diagnostics = parse("block b {\n  conv 8 1x1 name=1_conv\n}\n")
    assert diagnostics == []
    (argument,) = [a for a in tree.models[0].statements[0].arguments if a.key == "name"]
    assert argument.value.text == "1_conv"
