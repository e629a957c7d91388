"""`specc fmt` (specc.fmt.format_text and the CLI command): one canonical layout, idempotent, the IR before
and after equal (spans left out), every comment kept on its line, and no input that makes it raise."""

from __future__ import annotations

import errno
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specc import syntax
from specc.fmt import format_text
from specc.lower import lower
from specc.parse import parse
from specc.pipeline import check_text

from cli_helpers import invoke

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_TEXTS = {p.name: p.read_text(encoding="utf-8") for p in sorted((REPO / "examples").glob("*.cnn"))}

PROPERTIES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def formatted(text: str) -> str:
    result, diagnostics = format_text(text)
    assert diagnostics == [], [(d.code, d.span, d.message) for d in diagnostics]
    assert result is not None
    return result


# Lowering names the value of a line that failed `?LINE:COLUMN:N`; only the count N means anything.
_UNKNOWN_VALUE = re.compile(r"\?\d+:\d+:(\d+)")


def _without_spans(value):
    """A dumped IR without its positions: spans left out, and the positions in unknown values' names."""
    if isinstance(value, dict):
        return {_without_spans(k): _without_spans(v) for k, v in value.items() if "span" not in k}
    if isinstance(value, list | tuple):
        return [_without_spans(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_without_spans(v) for v in value)
    if isinstance(value, str):
        return _UNKNOWN_VALUE.sub(r"?\1", value)
    return value


def meaning(text: str) -> tuple[dict, list[str]]:
    """What a spec means: its lowered IR with every span left out, and the codes that lowering and checking report."""
    tree, _ = parse(text)
    spec, _ = lower(tree)
    return _without_spans(spec.model_dump()), sorted(d.code for d in check_text(text).diagnostics)


def comment_places(text: str) -> list[tuple[str, str | None]]:
    """Each comment's text (less trailing whitespace) and the code it follows on its line: the statement
    (kind and its arguments' count), `model NAME {` or the closing `}`; None for a comment alone on its line."""
    tree, diagnostics = parse(text)
    assert diagnostics == []
    ends: dict[int, list[tuple[tuple[int, int], str]]] = {}
    for model in tree.models:
        assert model.open_span is not None
        ends.setdefault(model.open_span.line, []).append(((model.open_span.column,), f"model {model.name} {{"))
        for statement in model.statements:
            place = f"{statement.kind}/{len(statement.arguments)}"
            ends.setdefault(statement.span.end_line, []).append(((statement.span.end_column,), place))
        ends.setdefault(model.span.end_line, []).append(((model.span.end_column,), f"}} of {model.name}"))
    places = []
    for comment in tree.comments:
        before = [place for (column,), place in ends.get(comment.span.line, []) if column <= comment.span.column]
        places.append((comment.text.rstrip(), before[-1] if before else None))
    return places


def assert_canonical_layout(text: str) -> None:
    """The layout rules that hold for any formatted text, whatever it came from."""
    if text == "":
        return
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "\r\n" not in text
    lines = text.split("\n")[:-1]
    assert lines[0] != ""
    assert "\n\n\n" not in text
    depth = 0
    for number, line in enumerate(lines):
        if line == "":
            assert lines[number - 1] and not lines[number - 1].startswith("model "), "blank line at a body's start"
            assert lines[number + 1] != "}", "blank line at a body's end"
            continue
        assert line == line.rstrip(), f"trailing whitespace in {line!r}"
        if line.startswith(("model ", "block ")):
            header = r"(model \w+|block \w+(\(\w.*\))?) \{"
            assert depth == 0 and re.match(header + r"( (model|block)\b.*)?(  #.*)?\Z", line), line
            if number:
                assert lines[number - 1] == "" or lines[number - 1].startswith("#"), "a model follows a blank line"
            depth = 1
        elif line.startswith("}"):
            assert depth == 1 and re.match(r"\}(  #.*)?\Z", line), line
            if number + 1 < len(lines):
                assert lines[number + 1] == "", "one blank line after each model"
            depth = 0
        elif depth == 2 and line.startswith("  }"):
            # The end of a model's training section.
            assert re.match(r"  \}(  #.*)?\Z", line), line
            depth = 1
        elif depth == 2:
            assert line.startswith("    ") and not line[4].isspace(), f"setting not indented by four spaces: {line!r}"
        elif depth == 1:
            assert line.startswith("  ") and not line[2].isspace(), f"body line not indented by two spaces: {line!r}"
            if re.match(r"  train \{(  #.*)?\Z", line):
                depth = 2
        else:
            assert line.startswith("#"), f"only comments stand outside models: {line!r}"


def assert_formats_faithfully(text: str) -> str:
    """format_text of a text that parses: canonical, idempotent, same meaning, same comments in the same places."""
    result = formatted(text)
    assert_canonical_layout(result)
    assert formatted(result) == result, "formatting is not idempotent"
    assert meaning(result) == meaning(text)
    assert comment_places(result) == comment_places(text)
    return result


# --- the layout, rule by rule -------------------------------------------------------------------

LAYOUT_CASES = [
    pytest.param("model m {\n  input 4\n}\n", "model m {\n  input 4\n}\n", id="canonical-is-left-alone"),
    pytest.param("model   m{input 4}", "model m {\n  input 4\n}\n", id="header-on-its-own-line"),
    pytest.param("model m {\n\tinput 4\n      flatten\n}\n", "model m {\n  input 4\n  flatten\n}\n", id="indent-two"),
    pytest.param(
        "model m { input 4; flatten ;dense 2;; }", "model m {\n  input 4\n  flatten\n  dense 2\n}\n", id="split-semis"
    ),
    pytest.param(
        "model m {\n  conv 8 \\\n     3x3 \\\n  relu\n}\n", "model m {\n  conv 8 3x3 relu\n}\n", id="join-continuation"
    ),
    pytest.param(
        "model m {\n  conv   8\t3x3 \f relu   strides = 2\n}\n",
        "model m {\n  conv 8 3x3 relu strides=2\n}\n",
        id="single-spaces-and-key=value",
    ),
    pytest.param(
        "model m {\n  conv 8 (3,3) padding=( ( 1,2 ),(3 , 4), )\n}\n",
        "model m {\n  conv 8 (3, 3) padding=((1, 2), (3, 4))\n}\n",
        id="tuples",
    ),
    pytest.param(
        "model m {\n  dropout (0.5,)\n}\n", "model m {\n  dropout (0.5)\n}\n", id="one-value-tuple-loses-its-comma"
    ),
    pytest.param(
        'model m {\n  Conv2D filters=+08 kernel=3x3 dilation=1 bias=False name="a\\"b\\\\"\n  dense 1e1 .50\n}\n',
        'model m {\n  Conv2D filters=+08 kernel=3x3 dilation=1 bias=False name="a\\"b\\\\"\n  dense 1e1 .50\n}\n',
        id="spelling-kept",
    ),
    pytest.param(
        "\n\n\nmodel m {\n\n\n  input 4\n\n\n\n  flatten\n\n\n}\n\n\n",
        "model m {\n  input 4\n\n  flatten\n}\n",
        id="blank-lines",
    ),
    pytest.param(
        "model a { input 4 } model b {\n  input 4\n}\n\n\n\nmodel c {}",
        "model a {\n  input 4\n}\n\nmodel b {\n  input 4\n}\n\nmodel c {\n}\n",
        id="one-blank-line-between-models",
    ),
    pytest.param("model m {\r\n  input 4\r\n}\r\n", "model m {\n  input 4\n}\n", id="crlf-to-lf"),
    pytest.param("model m {\n  input 4\n}", "model m {\n  input 4\n}\n", id="final-newline-added"),
    pytest.param(
        "model m {\n  x=input 4\n  y   =dense 2 from   x ,x\n  add  x   y\n  output y \\\n x\n}\n",
        "model m {\n  x = input 4\n  y = dense 2 from x, x\n  add x y\n  output y x\n}\n",
        id="targets-from-merges-and-output",
    ),
    pytest.param(
        "model m {\n  input 4\n  dense from input 2 name=d\n}\n",
        "model m {\n  input 4\n  dense 2 name=d from input\n}\n",
        id="from-goes-last",
    ),
    pytest.param(
        "block   basic ( filters ,strides = 1, pad=( 1,2 ), ){y = conv filters 3x3 strides=strides name=1_conv}",
        "block basic(filters, strides=1, pad=(1, 2)) {\n  y = conv filters 3x3 strides=strides name=1_conv\n}\n",
        id="block-header-with-parameters-and-defaults",
    ),
    pytest.param(
        "block b() {x = input}\nmodel m {}",
        "block b {\n  x = input\n}\n\nmodel m {\n}\n",
        id="block-without-parameters",
    ),
    pytest.param(
        "model m { model = dense 2; dense 3 }\nblock b { block 2 }",
        "model m { model = dense 2\n  dense 3\n}\n\nblock b { block 2\n}\n",
        id="keywords-first-after-the-brace-stay-there",
    ),
    pytest.param("", "", id="empty"),
    pytest.param(" \n\t\n \r\n", "", id="only-whitespace"),
    pytest.param(";;\n;", "", id="only-semicolons"),
]


@pytest.mark.parametrize(("text", "expected"), LAYOUT_CASES)
def test_format_text_writes_the_canonical_layout(text, expected):
    assert format_text(text) == (expected, [])
    assert format_text(expected) == (expected, [])


COMMENT_CASES = [
    pytest.param(
        "# top\n\n\n# second\nmodel m {   # header\n  # first line\n  input 4       # trailing\n}   # closing\n#end",
        "# top\n\n# second\nmodel m {  # header\n  # first line\n  input 4  # trailing\n}  # closing\n\n#end\n",
        id="every-place",
    ),
    pytest.param(
        "model m { input 4; flatten  # after flatten\n}",
        "model m {\n  input 4\n  flatten  # after flatten\n}\n",
        id="trailing-follows-the-last-statement-of-a-split-line",
    ),
    pytest.param(
        "model m { input 4  # after input\n  flatten }  # after brace",
        "model m {\n  input 4  # after input\n  flatten\n}  # after brace\n",
        id="statement-and-brace-on-one-line",
    ),
    pytest.param(
        "model m {\n  input 4\n  ; # after a lone semicolon\n}\n",
        "model m {\n  input 4\n  # after a lone semicolon\n}\n",
        id="no-code-before-it-makes-a-full-line-comment",
    ),
    pytest.param(
        "model m {\n  conv 8 \\\n    3x3  # on the continued line\n}\n",
        "model m {\n  conv 8 3x3  # on the continued line\n}\n",
        id="continuation",
    ),
    pytest.param(
        'model m {\n  dense 2 name="#not a comment; }"  #   a comment \t \n}\n',
        'model m {\n  dense 2 name="#not a comment; }"  #   a comment\n}\n',
        id="hash-in-a-string-and-trailing-whitespace",
    ),
    pytest.param(
        "model a {\n  input 4\n}\n# about b\nmodel b {\n  input 4\n}\n",
        "model a {\n  input 4\n}\n\n# about b\nmodel b {\n  input 4\n}\n",
        id="between-models",
    ),
    pytest.param("#\n   #x\r\n", "#\n#x\n", id="only-comments"),
]


@pytest.mark.parametrize(("text", "expected"), COMMENT_CASES)
def test_format_text_keeps_every_comment_on_its_line(text, expected):
    assert format_text(text) == (expected, [])
    assert comment_places(expected) == comment_places(text)
    assert format_text(expected) == (expected, [])


@pytest.mark.parametrize("name", sorted(EXAMPLE_TEXTS))
def test_every_example_formats_faithfully(name):
    assert_formats_faithfully(EXAMPLE_TEXTS[name])


def test_every_example_is_already_in_the_canonical_layout():
    for name, text in EXAMPLE_TEXTS.items():
        assert formatted(text) == text, f"examples/{name} is not formatted; run specc fmt on it"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "model m {\n  input 4 # a\n  dense 10 softmax # b\n  flatten    # c\n}\n",
            "model m {\n  input 4           # a\n  dense 10 softmax  # b\n  flatten           # c\n}\n",
            id="a-run-aligns-two-spaces-after-its-longest-code",
        ),
        pytest.param(
            "model m {\n  input 4 # a\n  dense 10\n  flatten # c\n  dense 100 relu # d\n}\n",
            "model m {\n  input 4  # a\n  dense 10\n  flatten         # c\n  dense 100 relu  # d\n}\n",
            id="a-line-without-a-comment-ends-the-run",
        ),
        pytest.param(
            "model m {\n  input 4 # a\n\n  dense 100 relu # d\n}\n",
            "model m {\n  input 4  # a\n\n  dense 100 relu  # d\n}\n",
            id="a-blank-line-ends-the-run",
        ),
        pytest.param(
            "model m { # top\n  input 28x28x1 # in\n} # end\n",
            "model m {  # top\n  input 28x28x1  # in\n}  # end\n",
            id="lines-at-another-depth-are-not-aligned-with-the-body",
        ),
    ],
)
def test_trailing_comments_of_consecutive_lines_start_in_one_column(text, expected):
    assert formatted(text) == expected
    assert_formats_faithfully(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("model m {\n  input 4\n  kaboom 3 x=1\n}\n", id="unknown-kind"),
        pytest.param("model m {\n  input 28x28x1\n  conv -3 0x0 stride=2 relu relu\n}\n", id="bad-values"),
        pytest.param("model m {\n  input 2x2x1\n  conv 8 5x5\n  maxpool 9\n}\n", id="shape-errors"),
        pytest.param("model m {\n  conv 8 3\n  input 4\n}\n\nmodel m {\n}\n", id="misplaced-input-duplicate-model"),
        pytest.param("model model { model model=model  # c\n  input 4 model\n}\n", id="the-keyword-as-names"),
    ],
)
def test_specs_with_semantic_errors_still_format(text):
    _, codes = meaning(text)
    assert codes, "the case should have errors"
    assert assert_formats_faithfully(text) == text


@pytest.mark.parametrize(
    ("text", "code"),
    [
        pytest.param("model m {\n  conv 8 3x3 (\n}\n", "E102", id="open-tuple"),
        pytest.param("model m {\n  input 4\n", "E103", id="unclosed-model"),
        pytest.param("model m {\n  input 4 @\n}\n", "E101", id="bad-character"),
        pytest.param("conv 8\n", "E102", id="layer-outside-model"),
        pytest.param("\ufeffmodel m {\n}\n", "E101", id="bom-inside-the-text"),
    ],
)
def test_text_with_a_syntax_error_is_not_formatted(text, code):
    result, diagnostics = format_text(text)
    assert result is None
    assert code in [d.code for d in diagnostics]
    assert all(d.code in ("E101", "E102", "E103") for d in diagnostics)


def test_format_text_of_ten_thousand_layers_and_a_megabyte_comment_is_quick_and_whole():
    text = "#" + "x" * 1_000_000 + "\nmodel m { input 4; " + "dense 4 relu; " * 10_000 + "}"
    result = formatted(text)
    assert result.count("\n  dense 4 relu") == 10_000
    assert result.startswith("#" + "x" * 1_000_000 + "\nmodel m {\n  input 4\n")


# --- generated specs ----------------------------------------------------------------------------

GAP = st.sampled_from([" ", "  ", "\t", " \f ", " \\\n  ", " \\\r\n\t"])
OPTIONAL_GAP = st.one_of(st.just(""), GAP)
COMMENT = st.one_of(
    st.sampled_from(["#", "# a comment", "#;{}()=", '# "quoted', "#\tx  ", "# # twice", "#\\"]),
    st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=12).map("#".__add__),
)
NUMBER = st.sampled_from(["0", "3", "8", "32", "+4", "-1", "-0", "0.5", ".25", "1.", "1e3", "2E-2", "0.50", "007"])
SIZE = st.sampled_from(["3x3", "2x2", "1x1", "28x28x1", "4x4x3", "0x3", "3x1"])
VALUE_NAME = st.sampled_from(["x", "y", "image", "b_1", "from_x", "input", "output", "basic"])
WORD = st.one_of(
    st.sampled_from(["relu", "softmax", "same", "valid", "true", "false", "True", "foo", "tall", "model", "x"]),
    VALUE_NAME,
    st.sampled_from(["1_conv", "2_", "10_a_b"]),  # LABEL: digits, an underscore, then a name
)
STRING = st.sampled_from(['"a"', '""', '"a b"', '"#x"', '"\\"q\\""', '"\\\\"', '"{;}"', '"\\t"'])
SCALAR = st.one_of(NUMBER, SIZE, WORD, STRING)
KIND = st.sampled_from(
    ["input", "conv", "Conv2D", "maxpool", "avgpool", "minpool", "dense", "flatten", "dropout", "batchnorm"]
    + ["zeropad", "activation", "global_avgpool", "MaxPooling2D", "kaboom", "Model"]
    + ["add", "concat", "subtract", "Add", "output", "basic", "from"]
)
KEY = st.sampled_from(
    ["filters", "kernel_size", "kernel", "strides", "padding", "activation", "name", "use_bias", "bias", "rate"]
    + ["dilation", "dilation_rate", "pool", "pool_size", "units", "momentum", "epsilon", "nope", "model"]
    + ["axis", "repeat", "filters", "block", "from_x"]
)


@st.composite
def tuples(draw, item=SCALAR) -> str:
    items = draw(st.lists(item, min_size=1, max_size=3))
    out = "(" + draw(OPTIONAL_GAP)
    for index, value in enumerate(items):
        if index:
            out += draw(OPTIONAL_GAP) + "," + draw(OPTIONAL_GAP)
        out += value
    if draw(st.booleans()):
        out += draw(OPTIONAL_GAP) + ","
    return out + draw(OPTIONAL_GAP) + ")"


VALUE = st.one_of(SCALAR, SCALAR, tuples(), tuples(tuples()))


@st.composite
def statements(draw, kind=KIND, target=VALUE_NAME, named: bool | None = None) -> str:
    """`[target =] kind arguments [from a, b]`: a value's name (now and then, or as `named` says) and the
    values read, now and then."""
    out = ""
    if named if named is not None else draw(st.integers(min_value=0, max_value=2)) == 0:
        out += draw(target) + draw(OPTIONAL_GAP) + "=" + draw(OPTIONAL_GAP)
    out += draw(kind)
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        out += draw(GAP)
        if draw(st.booleans()):
            out += draw(KEY) + draw(OPTIONAL_GAP) + "=" + draw(OPTIONAL_GAP)
        out += draw(VALUE)
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        sources = draw(st.lists(VALUE_NAME, min_size=1, max_size=3))
        out += draw(GAP) + "from" + draw(GAP) + (draw(OPTIONAL_GAP) + "," + draw(OPTIONAL_GAP)).join(sources)
    return out


@st.composite
def block_headers(draw) -> str:
    """`block NAME(a, b=1) {`, or `block NAME {`, spaced anyhow."""
    out = "block" + draw(GAP) + draw(st.sampled_from(["basic", "b", "model", "from_x"])) + draw(OPTIONAL_GAP)
    parameters = draw(st.lists(st.sampled_from(["filters", "strides", "x", "model", "a_1"]), max_size=3))
    if parameters:
        written = []
        for name in parameters:
            if draw(st.booleans()):
                name += draw(OPTIONAL_GAP) + "=" + draw(OPTIONAL_GAP) + draw(VALUE)
            written.append(name)
        comma = draw(OPTIONAL_GAP) + "," + draw(OPTIONAL_GAP)
        out += "(" + draw(OPTIONAL_GAP) + comma.join(written)
        out += (comma if draw(st.booleans()) else "") + draw(OPTIONAL_GAP) + ")" + draw(OPTIONAL_GAP)
    return out + "{"


END_OF_STATEMENT = st.sampled_from(["\n", "\n", "\n", ";", " ; ", ";\n", "\n\n", "\n\n\n", "\r\n", "\n \t\n", ";;"])


MODEL_HEADER = st.tuples(st.just("model"), GAP, st.sampled_from(["m", "net_1", "model", "A"]), OPTIONAL_GAP).map(
    lambda parts: "".join(parts) + "{"
)


@st.composite
def models(draw, header=MODEL_HEADER) -> str:
    out = draw(header)
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        # `model` and `block` start a statement only right after `{` (at the start of a line they open a model)
        keyword = st.sampled_from(["model", "block"])
        first = st.one_of(statements(kind=keyword, named=False), statements(target=keyword, named=True))
        out += draw(OPTIONAL_GAP) + draw(first) + draw(END_OF_STATEMENT)
    else:
        out += draw(st.sampled_from(["", " ", "\n", "\n\n"]))
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        out += draw(st.sampled_from(["", "  ", "\t"]))
        if draw(st.integers(min_value=0, max_value=4)) == 0:
            out += draw(COMMENT) + "\n"
            continue
        out += draw(statements())
        if draw(st.integers(min_value=0, max_value=3)) == 0:
            out += draw(OPTIONAL_GAP) + draw(st.sampled_from(["", ";"])) + draw(OPTIONAL_GAP) + draw(COMMENT) + "\n"
        else:
            out += draw(END_OF_STATEMENT)
    out += draw(st.sampled_from(["", " ", "\n"])) + "}"
    if draw(st.booleans()):
        out += draw(OPTIONAL_GAP) + draw(COMMENT) + draw(st.sampled_from(["\n", "\r\n"]))
    return out


@st.composite
def spec_files(draw) -> str:
    parts = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        parts.append(
            draw(st.one_of(models(), models(), models(header=block_headers()), COMMENT.map(lambda c: c + "\n")))
        )
        parts.append(draw(st.sampled_from(["\n", " ", "\n\n", "\n\n\n", ";", "\r\n", "\n  \n"])))
    return "".join(parts)


@PROPERTIES
@given(spec_files())
def test_generated_specs_format_faithfully(text):
    tree, diagnostics = parse(text)
    assert diagnostics == [], "the generator writes only text that parses"
    assert_formats_faithfully(text)


@PROPERTIES
@given(spec_files())
def test_formatting_changes_only_whitespace_semicolons_and_tuple_commas(text):
    result = formatted(text)
    # Outside comments and strings, the same characters in the same order, less layout.
    layout = re.compile(r'("(?:[^"\\\n]|\\.)*")|(#[^\n]*)|[\s;,\\]')

    def tokens(source: str) -> str:
        return layout.sub(lambda m: m.group(1) or (m.group(2) or "").rstrip() or "", source)

    assert tokens(result) == tokens(text)


# --- any input whatsoever -----------------------------------------------------------------------

SPEC_WORDS = st.sampled_from(
    ["model m {", "}", "input 28x28x1", "conv 8 3", "dense 10", "flatten", "relu", "strides=2", "name=a", "(", ")"]
    + [",", ";", "\n", "\r\n", "=", "\\\n", "#", "# c\n", '"s"', '"#"', "\f", "\t", "model", "{", "((1, 2), (3, 4))"]
)


@st.composite
def mutated_examples(draw) -> str:
    text = draw(st.sampled_from(sorted(EXAMPLE_TEXTS.values())))
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        position = draw(st.integers(min_value=0, max_value=len(text)))
        if draw(st.booleans()):
            text = text[:position] + draw(st.one_of(SPEC_WORDS, st.characters())) + text[position:]
        else:
            text = text[:position] + text[position + draw(st.integers(min_value=1, max_value=10)) :]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=500),
        st.lists(SPEC_WORDS, max_size=40).map(" ".join),
        st.lists(SPEC_WORDS, max_size=40).map("".join),
        mutated_examples(),
    )
)
def test_any_text_formats_faithfully_or_gives_syntax_errors_without_raising(text):
    result, diagnostics = format_text(text)
    if result is None:
        assert diagnostics and all(d.code in ("E101", "E102", "E103") for d in diagnostics)
        return
    assert diagnostics == []
    assert_formats_faithfully(text)


# --- the command line ---------------------------------------------------------------------------

MESSY = "model m { input 28x28x1; conv 8 3x3   relu   # the only conv\n flatten ; dense 10 }"
TIDY = "model m {\n  input 28x28x1\n  conv 8 3x3 relu  # the only conv\n  flatten\n  dense 10\n}\n"
BROKEN = "model m {\n  input 28x28x1\n  conv 8 = 3\n}\n"


def test_cli_fmt_rewrites_a_file_in_place_and_says_so(write):
    path = write("messy.cnn", MESSY)
    result = invoke("fmt", path)
    assert result.exit_code == 0, result.output
    assert path.read_bytes() == TIDY.encode()
    assert f"reformatted {path}" in result.stdout


def test_cli_fmt_leaves_a_tidy_file_untouched_and_silent(write):
    path = write("tidy.cnn", TIDY)
    before = path.stat().st_mtime_ns
    result = invoke("fmt", path)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert path.read_bytes() == TIDY.encode() and path.stat().st_mtime_ns == before


def test_cli_fmt_check_exits_1_and_changes_nothing_when_a_file_would_be_reformatted(write):
    messy, tidy = write("messy.cnn", MESSY), write("tidy.cnn", TIDY)
    result = invoke("fmt", "--check", messy, tidy)
    assert result.exit_code == 1
    assert f"would reformat {messy}" in result.stdout and str(tidy) not in result.stdout
    assert messy.read_bytes() == MESSY.encode()


def test_cli_fmt_check_exits_0_when_every_file_is_canonical(write):
    result = invoke("fmt", "--check", write("a.cnn", TIDY), write("b.cnn", formatted(EXAMPLE_TEXTS["tour.cnn"])))
    assert result.exit_code == 0, result.output


def test_cli_fmt_dash_reads_stdin_and_writes_stdout(write):
    result = invoke("fmt", "-", input=MESSY.encode())
    assert result.exit_code == 0, result.output
    assert result.stdout == TIDY


def test_cli_fmt_check_dash_exits_1_when_stdin_would_change_and_writes_nothing(write):
    changed = invoke("fmt", "--check", "-", input=MESSY.encode())
    assert changed.exit_code == 1 and changed.stdout == ""
    unchanged = invoke("fmt", "--check", "-", input=TIDY.encode())
    assert unchanged.exit_code == 0 and unchanged.stdout == ""


def test_cli_fmt_check_counts_a_bom_alone_as_a_change(write):
    path = write("bom.cnn", b"\xef\xbb\xbf" + TIDY.encode())
    result = invoke("fmt", "--check", path)
    assert result.exit_code == 1 and f"would reformat {path}" in result.stdout
    assert invoke("fmt", path).exit_code == 0
    assert path.read_bytes() == TIDY.encode()


def test_cli_fmt_leaves_a_file_with_syntax_errors_untouched_exits_1_and_reports_on_stderr(write):
    broken, messy = write("broken.cnn", BROKEN), write("messy.cnn", MESSY)
    result = invoke("fmt", broken, messy)
    assert result.exit_code == 1
    assert broken.read_bytes() == BROKEN.encode()
    assert f"{broken}:3:10: error[E102]" in result.stderr
    assert f"specc: {broken} has syntax errors; it was left as it is" in result.stderr
    assert "error[" not in result.stdout
    assert messy.read_bytes() == TIDY.encode(), "the other files are still formatted"


def test_cli_fmt_of_bytes_that_are_not_text_reports_e100_and_writes_nothing(write):
    path = write("latin1.cnn", "# caf\u00e9\n".encode("latin-1") + TIDY.encode())
    result = invoke("fmt", path)
    assert result.exit_code == 1
    assert "error[E100]" in result.stderr
    assert path.read_bytes() == "# caf\u00e9\n".encode("latin-1") + TIDY.encode()


def test_cli_fmt_drops_a_bom_and_crlf(write):
    path = write("bom.cnn", b"\xef\xbb\xbf" + TIDY.replace("\n", "\r\n").encode())
    assert invoke("fmt", path).exit_code == 0
    assert path.read_bytes() == TIDY.encode()


def test_cli_fmt_of_a_missing_file_is_a_usage_error(tmp_path):
    assert invoke("fmt", tmp_path / "nowhere.cnn").exit_code == 2


@pytest.mark.parametrize(
    "error", [OSError(errno.ENOSPC, "No space left on device"), PermissionError(errno.EACCES, "Permission denied")]
)
def test_cli_fmt_that_cannot_write_a_file_exits_2_says_so_and_leaves_it_whole(write, monkeypatch, error):
    messy, other = write("messy.cnn", MESSY), write("other.cnn", MESSY)

    def refuse(source, target):
        if Path(target).name == "messy.cnn":
            raise error
        return os.rename(source, target)

    monkeypatch.setattr(os, "replace", refuse)
    result = invoke("fmt", messy, other)
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert f"specc: error: cannot write {messy}: {error.strerror}" in result.stderr
    assert messy.read_bytes() == MESSY.encode()
    assert other.read_bytes() == TIDY.encode(), "the other files are still formatted"
    assert sorted(p.name for p in messy.parent.iterdir()) == ["messy.cnn", "other.cnn"]


def test_cli_fmt_through_a_symlink_formats_the_spec_it_points_to_and_keeps_the_link(write):
    spec = write("spec.cnn", MESSY)
    link = spec.with_name("link.cnn")
    link.symlink_to(spec.name)
    assert invoke("fmt", link).exit_code == 0
    assert link.is_symlink()
    assert spec.read_bytes() == TIDY.encode()


def test_cli_fmt_of_a_hard_linked_spec_formats_every_name_and_keeps_the_link_count(write):
    spec = write("spec.cnn", MESSY)
    other_name = spec.with_name("other.cnn")
    os.link(spec, other_name)
    assert invoke("fmt", other_name).exit_code == 0
    assert spec.read_bytes() == other_name.read_bytes() == TIDY.encode()
    assert os.stat(spec).st_nlink == 2


def test_cli_fmt_of_a_fifo_that_would_change_is_a_usage_error_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "spec.cnn"
    os.mkfifo(fifo)
    child = subprocess.Popen([sys.executable, "-m", "specc", "fmt", str(fifo)], stderr=subprocess.PIPE, text=True)
    try:
        with open(fifo, "w", encoding="utf-8") as writer:
            writer.write(MESSY)
        assert child.wait(timeout=120) == 2
    finally:
        child.kill()
        child.wait()
    assert f"cannot write {fifo}: it is a FIFO; specc writes only regular files" in child.stderr.read()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_python_m_specc_fmt_dash_formats_stdin_in_a_real_process():
    result = subprocess.run(
        [sys.executable, "-m", "specc", "fmt", "-"], input=MESSY.encode(), capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == TIDY.encode()


def test_syntax_tree_keeps_comments_in_order_and_the_raw_text_of_strings():
    tree, _ = parse('# a\r\nmodel m {  # b\n  dense 2 name="x\\ty"  # c\n}\n')
    assert [c.text for c in tree.comments] == ["# a", "# b", "# c"]
    assert [(c.span.line, c.span.column) for c in tree.comments] == [(1, 1), (2, 12), (3, 24)]
    (value,) = [a.value for a in tree.models[0].statements[0].arguments if a.key == "name"]
    assert isinstance(value, syntax.String) and value.text == "x\ty" and value.raw == '"x\\ty"'
    assert tree.models[0].open_span is not None and tree.models[0].open_span.column == 9


def test_the_example_in_docs_fmt_md_formats_to_the_text_it_shows():
    before, after = re.findall(r"```cnn\n(.*?)```", (REPO / "docs" / "fmt.md").read_text(encoding="utf-8"), re.S)
    assert format_text(before) == (after, [])
    assert_formats_faithfully(before)
