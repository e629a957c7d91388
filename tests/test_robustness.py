"""No input at all makes specc raise: random bytes and text, mutated examples, the command line on
random files, deep nesting, long lines and huge models all end in diagnostics or a clean result,
and the command line exits 0 or 1."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from specc.cli import app
from specc.diagnostics import CODES, Severity
from specc.pipeline import CheckedSource, check_bytes, check_text
from specc.render import file_record, format_diagnostic

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_TEXTS = {p.name: p.read_text(encoding="utf-8") for p in sorted((REPO / "examples").glob("*.cnn"))}

FUZZ = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
CLI_FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def assert_well_formed(checked: CheckedSource, data: bytes | None = None) -> None:
    """A result is either clean or carries an error diagnostic, every diagnostic is a catalogued code at a
    sane span inside the file, and both output forms can be produced from it."""
    assert isinstance(checked, CheckedSource)
    lines = checked.text.splitlines()
    # E100 leaves no text behind; its position is then counted in the raw file.
    source = checked.text if data is None or checked.text else data.decode("utf-8", errors="replace")
    for diagnostic in checked.diagnostics:
        assert diagnostic.code in CODES
        span = diagnostic.span
        assert span.line >= 1 and span.column >= 1, diagnostic
        assert (span.end_line, span.end_column) > (span.line, span.column), diagnostic
        assert span.line <= source.count("\n") + 1, diagnostic
        text = format_diagnostic("spec.cnn", lines, diagnostic)
        assert f"spec.cnn:{span.line}:{span.column}: {diagnostic.severity.value}[{diagnostic.code}]: " in text
    has_error = any(d.severity is Severity.ERROR for d in checked.diagnostics)
    assert checked.ok is not has_error
    if checked.ok:
        assert checked.spec.models, "a clean result must hold at least one model"
        assert all(report.complete and report.output_shape is not None for report in checked.reports)
    json.dumps(file_record("spec.cnn", checked))


# --- (a) arbitrary bytes and text ---------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2000))
def test_check_bytes_never_raises_on_arbitrary_bytes(data):
    assert_well_formed(check_bytes(data), data)


@FUZZ
@given(st.text(max_size=2000))
def test_check_text_never_raises_on_arbitrary_text(text):
    assert_well_formed(check_text(text))


@FUZZ
@given(st.text(max_size=2000))
def test_check_bytes_never_raises_on_arbitrary_text_encoded_as_utf8(text):
    data = text.encode("utf-8")
    assert_well_formed(check_bytes(data), data)


SPEC_ALPHABET = st.sampled_from(list('model{}();,=x#"\\\n\r\t 0123456789.-+eE_abcdefghijklmnopqrstuvwxyz'))
SPEC_WORDS = st.sampled_from(
    [
        "model m {",
        "}",
        "input 28x28x1",
        "input",
        "conv",
        "conv 8 3",
        "dense 10",
        "flatten",
        "maxpool 2x2",
        "avgpool",
        "dropout 0.5",
        "batchnorm",
        "zeropad 1",
        "activation relu",
        "global_avgpool",
        "relu",
        "same",
        "valid",
        "strides=2",
        "dilation=2",
        "padding=((1, 2), (3, 4))",
        "padding=(1, 2)",
        "name=a",
        'name="x y"',
        "use_bias=false",
        "pool=3",
        "kernel=5",
        "(",
        ")",
        ",",
        ";",
        "\n",
        "=",
        "1e999",
        "-1",
        "0",
        "3x0",
    ]
)


@FUZZ
@given(st.lists(st.one_of(SPEC_WORDS, st.text(SPEC_ALPHABET, max_size=4)), max_size=60).map(" ".join))
def test_check_text_never_raises_on_spec_like_word_soup(text):
    assert_well_formed(check_text(text))


# --- (b) mutated examples -----------------------------------------------------------------------

LOOK_ALIKES = [
    "\u0430",  # Cyrillic a
    "\u0435",  # Cyrillic e
    "\u0445",  # Cyrillic x, as in 28х28
    "\u00d7",  # multiplication sign, as in 28×28
    "\uff58",  # fullwidth x
    "\uff1d",  # fullwidth =
    "\uff08",
    "\uff09",  # fullwidth parentheses
    "\u2212",  # minus sign
    "\u00a0",  # no-break space
    "\u200b",  # zero-width space
    "\ufeff",  # BOM inside the text
    "\u2028",  # line separator
    "\u201c",
    "\u201d",  # curly quotes
    "\uff1b",  # fullwidth semicolon
    "\x0b",
    "\x0c",
    "\x1c",
    "\x85",
    "\r",
]
INSERTIONS = st.one_of(
    st.sampled_from(LOOK_ALIKES),
    st.sampled_from(list('{}()[],;=x#"\\\n\t -+.e') + ["\r\n", "\\\n", "((", "))", "x0", "0x", "1e999", "-0"]),
    st.characters(),
    # Huge numbers: 10**30 and the like, written out. Numbers past Python's 4,300-digit int/str
    # limit have tests of their own below; keeping these shorter keeps the examples quick.
    st.integers(min_value=10**18, max_value=10**400).map(str),
    st.sampled_from([str(10**30), str(2**31), str(2**31 - 1), "9" * 100]),
)


@st.composite
def mutated_examples(draw) -> bytes:
    text = draw(st.sampled_from(sorted(EXAMPLE_TEXTS.values())))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        operation = draw(
            st.sampled_from(["insert", "delete", "replace", "duplicate_line", "delete_line", "swap_tokens"])
        )
        position = draw(st.integers(min_value=0, max_value=len(text)))
        if operation == "insert":
            text = text[:position] + draw(INSERTIONS) + text[position:]
        elif operation == "delete":
            text = text[:position] + text[position + draw(st.integers(min_value=1, max_value=20)) :]
        elif operation == "replace":
            text = text[:position] + draw(INSERTIONS) + text[position + 1 :]
        elif operation in ("duplicate_line", "delete_line"):
            lines = text.split("\n")
            index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            if operation == "duplicate_line":
                lines.insert(draw(st.integers(min_value=0, max_value=len(lines))), lines[index])
            else:
                del lines[index]
            text = "\n".join(lines)
        else:
            tokens = re.split(r"(\s+)", text)
            words = [i for i, token in enumerate(tokens) if token and not token.isspace()]
            if len(words) >= 2:
                i, j = draw(st.lists(st.sampled_from(words), min_size=2, max_size=2, unique=True))
                tokens[i], tokens[j] = tokens[j], tokens[i]
                text = "".join(tokens)
    # A lone surrogate (st.characters draws them) has no UTF-8 encoding; its surrogatepass bytes are what a file
    # written by a careless encoder holds, and must end in a diagnostic like any undecodable bytes.
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):  # random bytes, anywhere
        position = draw(st.integers(min_value=0, max_value=len(data)))
        data = data[:position] + draw(st.binary(min_size=1, max_size=4)) + data[position:]
    return data


@FUZZ
@given(mutated_examples())
def test_check_bytes_never_raises_on_mutated_examples(data):
    assert_well_formed(check_bytes(data), data)


@pytest.mark.parametrize("name", sorted(EXAMPLE_TEXTS))
def test_the_unmutated_examples_check_clean(name):
    checked = check_text(EXAMPLE_TEXTS[name])
    assert checked.ok and checked.diagnostics == []


# --- (c) the command line on random files -------------------------------------------------------


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "spec.cnn"


def _assert_cli_ends_cleanly(path: Path, data: bytes, *extra: str) -> None:
    path.write_bytes(data)
    result = CliRunner().invoke(app, ["check", *extra, str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1)
    checked = check_bytes(data)
    assert result.exit_code == (0 if checked.ok else 1)
    if "--format" in extra:
        document = json.loads(result.stdout)
        assert len(document["files"][0]["diagnostics"]) == len(checked.diagnostics)
    else:
        for diagnostic in checked.diagnostics:
            position = f"{path}:{diagnostic.span.line}:{diagnostic.span.column}"
            assert f"{position}: {diagnostic.severity.value}[{diagnostic.code}]" in result.stdout


@CLI_FUZZ
@given(
    data=st.one_of(mutated_examples(), st.binary(max_size=500), st.text(max_size=500).map(lambda t: t.encode("utf-8")))
)
def test_cli_check_exits_0_or_1_without_an_exception_on_any_file(spec_file, data):
    _assert_cli_ends_cleanly(spec_file, data)


@CLI_FUZZ
@given(data=mutated_examples())
def test_cli_check_json_exits_0_or_1_with_one_json_document_on_any_file(spec_file, data):
    _assert_cli_ends_cleanly(spec_file, data, "--format", "json")


# --- (d) deep, long and large inputs ------------------------------------------------------------


def _model(*lines: str) -> str:
    return "model m {\n  input 28x28x1\n" + "".join(f"  {line}\n" for line in lines) + "}\n"


def test_deeply_nested_parentheses_are_a_syntax_error_not_a_recursion_error():
    checked = check_text(_model("conv 8 " + "(" * 10_000 + "3" + ")" * 10_000))
    assert_well_formed(checked)
    assert "E102" in [d.code for d in checked.diagnostics]


def test_ten_thousand_unclosed_model_blocks_are_one_syntax_error():
    checked = check_text("model m {" * 10_000)
    assert [d.code for d in checked.diagnostics] == ["E102"]


def test_a_model_of_ten_thousand_layers_checks_clean_with_every_layer_reported():
    checked = check_text(_model("flatten", *["dense 4 relu"] * 10_000))
    assert checked.ok, checked.diagnostics[:3]
    (report,) = checked.reports
    assert len(report.layers) == 10_001
    assert report.layers[-1].layer.name == "dense_9999"
    assert report.output_shape == (4,)


def test_ten_thousand_conv_layers_with_same_padding_keep_the_shape():
    checked = check_text(_model(*["conv 1 1 same"] * 10_000))
    assert checked.ok
    assert checked.reports[0].output_shape == (28, 28, 1)


def test_a_thousand_models_with_one_name_give_an_e211_each():
    checked = check_text("model m {\n  input 4\n  dense 2\n}\n" * 1_000)
    assert [d.code for d in checked.diagnostics] == ["E211"] * 999


def test_a_megabyte_line_of_garbage_is_one_e101():
    checked = check_text(_model("flatten", "@" * 1_000_000))
    assert [d.code for d in checked.diagnostics] == ["E101"]
    assert_well_formed(checked)


def test_a_megabyte_comment_and_a_megabyte_string_are_fine():
    checked = check_text("#" + "x" * 1_000_000 + "\n" + _model('flatten name="' + "y " * 500_000 + '"'))
    assert [d.code for d in checked.diagnostics] == ["E212"]


def test_a_line_of_twenty_thousand_arguments_is_checked_without_error_from_python():
    checked = check_text(_model("conv 8 3 " + "relu " * 20_000))
    assert {d.code for d in checked.diagnostics} == {"E206"}


def test_a_thousand_broken_lines_stop_at_twenty_syntax_errors():
    checked = check_text(_model(*["conv = 3"] * 1_000))
    assert [d.code for d in checked.diagnostics] == ["E102"] * 20


def test_recovering_from_many_broken_lines_parses_the_text_once(monkeypatch):
    """Each broken line used to cost a parse of the whole text from its start (issue 11: 20 broken lines in
    20,000 layers took 5x as long as none); now the parse goes on from the start of the broken line."""
    import specc.parse

    starts = []
    real = specc.parse._parser()

    class Counting:
        def __getattr__(self, name):
            if name in ("parse", "parse_interactive"):
                starts.append(name)
            return getattr(real, name)

    monkeypatch.setattr(specc.parse, "_parser", lambda: Counting())
    checked = check_text(_model(*["conv 8 3 relu", "conv = 3"] * 19, "flatten", "dense 10"))
    assert [d.code for d in checked.diagnostics] == ["E102"] * 19
    assert len(checked.spec.models[0].layers) == 21
    assert len(starts) == 1


def test_checking_a_large_spec_runs_no_cycle_collection_and_leaves_the_collector_as_it_was():
    """The objects a check builds hold no cycles; full collections over them made time grow faster than the spec."""
    import gc

    collections = []

    def count(phase, info):
        collections.append(info["generation"]) if phase == "start" else None

    text = _model(*["conv 8 3 same relu", "batchnorm"] * 5_000, "flatten", "dense 10")
    gc.collect()  # the suite's own garbage, and the text's, must not be collected during the check
    gc.callbacks.append(count)
    try:
        check_text(text)
    finally:
        gc.callbacks.remove(count)
    # At most the young collection that the first allocation after the pause sets off.
    assert collections in ([], [0]), collections
    assert gc.isenabled()


def test_a_shape_of_many_large_extents_checks_without_overflow():
    checked = check_text(
        _model("flatten", "dense 2147483647", "dense 2147483647").replace("28x28x1", "2147483647x2147483647x3")
    )
    assert_well_formed(checked)


def test_a_very_long_tuple_is_an_e203_not_a_crash():
    checked = check_text(_model("conv 8 (" + "3, " * 20_000 + ")"))
    assert [d.code for d in checked.diagnostics] == ["E203"]


# --- nasty inputs, one by one -------------------------------------------------------------------

VALID = "model m {\n  input 28x28x1\n  conv 8 3x3 relu\n  flatten\n  dense 10\n}\n"

NASTY: list[tuple[str, bytes, list[str] | None]] = [
    # (id, file contents, the codes reported in order, or None for "some error")
    ("empty", b"", ["E104"]),
    ("only-comments", b"# one\n# two\n", ["E104"]),
    ("only-whitespace", b"  \n\t\n   \n", ["E104"]),
    ("only-a-bom", b"\xef\xbb\xbf", ["E104"]),
    ("model-keyword-alone", b"model", ["E103"]),
    ("model-unclosed", b"model m {", ["E103"]),
    ("closing-brace-alone", b"}", ["E102"]),
    ("nul-bytes", b"\x00\x00\x00", ["E100"]),
    ("nul-inside-a-valid-spec", VALID.replace("flatten", "flat\x00ten").encode(), ["E100"]),
    ("invalid-utf8", b"model m {\n  input 28x28x1 \xe9\n}\n", ["E100"]),
    ("latin1-comment", "# caf\u00e9\n".encode("latin-1") + VALID.encode(), ["E100"]),
    ("utf16", VALID.encode("utf-16"), ["E100"]),
    ("two-boms", b"\xef\xbb\xbf\xef\xbb\xbf" + VALID.encode(), ["E101"]),
    ("lone-cr-line-endings", VALID.replace("\n", "\r").encode(), None),
    ("no-break-space", VALID.replace("conv 8", "conv\u00a08").encode(), ["E101"]),
    ("conv-3x3x3x3", _model("conv 3x3x3x3").encode(), ["E205", "E203"]),
    ("input-0x0x0", b"model m {\n  input 0x0x0\n  flatten\n}\n", ["E204"]),
    ("dense-1e5", _model("flatten", "dense 1e5").encode(), ["E203"]),
    ("filters-as-string", _model('conv filters="32" kernel=3').encode(), ["E203"]),
    ("number-10-to-the-30", _model("flatten", f"dense {10**30}").encode(), ["E204"]),
    ("epsilon-1e999", _model("batchnorm epsilon=1e999").encode(), ["E204"]),
    ("negative-zero-units", _model("flatten", "dense -0").encode(), ["E204"]),
    ("layer-outside-model", b"conv 32 3x3\n", ["E102"]),
    ("unterminated-string", _model("flatten", 'dense 2 name="abc').encode(), ["E101"]),
]


@pytest.mark.parametrize(("contents", "codes"), [pytest.param(c, k, id=i) for i, c, k in NASTY])
def test_a_nasty_input_ends_in_errors_without_raising(contents, codes, tmp_path):
    checked = check_bytes(contents)
    assert_well_formed(checked, contents)
    assert not checked.ok
    if codes is not None:
        assert [d.code for d in checked.diagnostics] == codes
    path = tmp_path / "nasty.cnn"
    path.write_bytes(contents)
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "contents",
    [
        pytest.param(VALID.encode(), id="lf"),
        pytest.param(VALID.replace("\n", "\r\n").encode(), id="crlf"),
        pytest.param(b"\xef\xbb\xbf" + VALID.encode(), id="bom"),
        pytest.param(b"\xef\xbb\xbf" + VALID.replace("\n", "\r\n").encode(), id="bom-crlf"),
        pytest.param(VALID.replace("  ", "\t").encode(), id="tabs"),
        pytest.param(VALID.replace("\n", "\n\n  \t\n").encode(), id="blank-lines"),
        pytest.param(VALID.replace("conv 8 3x3 relu", "conv 8 \\\n    3x3 relu").encode(), id="line-continuation"),
        pytest.param(VALID.replace("\n", " # comment\n").encode(), id="comments-everywhere"),
        pytest.param(VALID.replace("\n  ", "; ").encode(), id="semicolons"),
    ],
)
def test_a_valid_spec_in_any_line_ending_or_layout_checks_clean_with_the_same_result(contents, tmp_path):
    checked = check_bytes(contents)
    assert checked.ok and checked.diagnostics == []
    (report,) = checked.reports
    assert report.output_shape == (10,)
    assert report.total_params == check_text(VALID).reports[0].total_params
    path = tmp_path / "valid.cnn"
    path.write_bytes(contents)
    assert CliRunner().invoke(app, ["check", str(path)]).exit_code == 0


# --- bugs found by these tests ------------------------------------------------------------------

HUGE = "1" * 5_000  # past Python's default 4,300-digit limit on int <-> str conversion


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_model(f"conv {HUGE} 3x3"), id="filters"),
        pytest.param(_model(f"conv 8 ({HUGE}, 3)"), id="tuple-item"),
        pytest.param(_model("flatten").replace("28x28x1", f"{HUGE}x28x1"), id="size"),
        pytest.param(_model("flatten").replace("28x28x1", HUGE), id="input-number"),
    ],
)
def test_an_integer_of_five_thousand_digits_is_e204_not_a_traceback(text):
    checked = check_text(text)
    assert [d.code for d in checked.diagnostics] == ["E204"]


def test_cli_on_a_five_thousand_digit_number_reports_a_diagnostic(tmp_path):
    path = tmp_path / "huge.cnn"
    path.write_text(_model(f"dense {HUGE}"), encoding="utf-8")
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    assert "error[E204]" in result.stdout


def test_flatten_of_an_input_with_hundreds_of_huge_axes_does_not_raise():
    shape = "x".join(["2147483647"] * 480)
    checked = check_text(f"model m {{\n  input {shape}\n  flatten\n}}\n")
    assert_well_formed(checked)


def test_an_invalid_byte_after_a_bom_is_named_with_its_real_offset_and_column():
    (diagnostic,) = check_bytes(b"\xef\xbb\xbfmodel m {\n  input 1x1x1 \xe9\n}\n").diagnostics
    assert diagnostic.code == "E100"
    assert "byte 0xe9 at offset 27" in diagnostic.message
    assert (diagnostic.span.line, diagnostic.span.column) == (2, 15)


def test_cli_check_of_one_long_line_with_twenty_thousand_errors_prints_a_bounded_report(tmp_path):
    """Text output is capped and each quoted line is cut around its caret, so the report stays readable and
    its size does not grow with the line times the number of errors (it used to take minutes)."""
    from specc.cli import MAX_PRINTED_DIAGNOSTICS

    path = tmp_path / "long.cnn"
    path.write_text(_model("conv 8 3 " + "relu " * 20_000), encoding="utf-8")
    # The timeout only guards against a hang; it is not a performance assertion.
    result = subprocess.run(
        [sys.executable, "-m", "specc", "check", str(path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1
    assert result.stdout.count("error[E206]") == MAX_PRINTED_DIAGNOSTICS
    assert f"{19_999 - MAX_PRINTED_DIAGNOSTICS} more diagnostics not shown" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) < 200
