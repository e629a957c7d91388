"""`specc check --format gcc` and `--format sarif`: one parsable line per diagnostic, and SARIF 2.1.0 logs
that the official schema accepts, with every code a rule and spans carried over unchanged."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from specc import __version__
from specc.cli import app
from specc.diagnostics import CODES, Diagnostic, Span
from specc.pipeline import check_bytes, check_text
from specc.render import format_gcc
from specc.sarif import sarif_log

from cli_helpers import invoke

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
BAD = Path(__file__).resolve().parent / "bad"
EXPECTED = json.loads((BAD / "expected.json").read_text(encoding="utf-8"))
FIXTURES = sorted(name for name in EXPECTED if not name.startswith("_"))

# The official OASIS schema (a copy of ../shared/schemas/, so that a bare clone validates too);
# SPECC_SARIF_SCHEMA may name another copy.
SARIF_SCHEMA = Path(
    os.environ.get("SPECC_SARIF_SCHEMA", Path(__file__).resolve().parent / "schemas" / "sarif-schema-2.1.0.json")
)

BAD_SPEC = "model b {\n  input 28x28x1\n  conv 32 3x3 stride=2\n  maxpol 2x2\n  flatten\n}\n"
WARNING_SPEC = "model w {\n  input 8x8x3\n  dense 4\n}\n"

# What a gcc-style problem matcher (GitHub's, Vim's errorformat, Emacs's compilation mode) expects.
GCC_LINE = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): (?P<severity>error|warning): "
    r"(?P<message>.+) \[(?P<code>[EW]\d{3})\]$"
)
# gcc's follow-up line for a second place a diagnostic is about; it has no code, so that matcher leaves it out.
GCC_NOTE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): note: (?P<message>.+)$")


# --- gcc ----------------------------------------------------------------------------------------


def test_gcc_prints_one_line_per_diagnostic_with_the_code_last_and_the_hint_joined_to_the_message(write):
    path = write("bad.cnn", BAD_SPEC)
    result = invoke("check", "--format", "gcc", path)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:3:15: error: conv has no parameter `stride`; did you mean `strides`? [E202]",
        f"{path}:4:3: error: unknown layer kind `maxpol`; did you mean `maxpool`? [E201]",
    ]
    assert result.stderr == ""


def test_gcc_on_a_clean_file_prints_nothing_and_exits_0():
    result = invoke("check", "--format", "gcc", EXAMPLES / "mnist.cnn")
    assert result.exit_code == 0, result.output
    assert result.output == ""


def test_gcc_warnings_only_exit_0(write):
    path = write("warn.cnn", WARNING_SPEC)
    result = invoke("check", "-f", "gcc", path)
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{path}:3:3: warning: dense on a 8x8x3 input")
    assert line.endswith(" [W301]")


def test_gcc_over_every_fixture_at_once_matches_the_expected_codes_and_positions():
    paths = [BAD / name for name in FIXTURES]
    result = invoke("check", "--format", "gcc", *paths)
    assert result.exit_code == 1
    found: dict[str, list[list[object]]] = {}
    lines = result.stdout.splitlines()
    for index, line in enumerate(lines):
        if GCC_NOTE.match(line) and index and (GCC_LINE.match(lines[index - 1]) or GCC_NOTE.match(lines[index - 1])):
            continue
        match = GCC_LINE.match(line)
        assert match, f"not a gcc-style line: {line!r}"
        assert match["severity"] == CODES[match["code"]].severity.value
        found.setdefault(Path(match["file"]).name, []).append([match["code"], int(match["line"]), int(match["column"])])
    assert found == {name: EXPECTED[name]["diagnostics"] for name in FIXTURES}


def test_gcc_prints_a_note_line_after_its_diagnostic_for_an_unclosed_block(write):
    path = write("open.cnn", "model m {\n  input 28x28x1\n  conv 8 3\n")
    result = invoke("check", "--format", "gcc", path)
    assert result.exit_code == 1
    error, note = result.stdout.splitlines()
    assert GCC_LINE.match(error)["code"] == "E103"
    assert note == f"{path}:1:9: note: the block of model `m` opened here is not closed"
    assert GCC_LINE.match(note) is None


def test_gcc_keeps_a_diagnostic_on_one_line_and_drops_a_hint_that_would_break_it():
    diagnostic = Diagnostic("E207", "unknown word `a\nb`\tafter\x1b[31m", Span(2, 4, 2, 7), hint="first line\nsecond")
    line = format_gcc("dir/we\nird.cnn", diagnostic)
    assert "\n" not in line and "\t" not in line and "\x1b" not in line
    assert line == r"dir/we\nird.cnn:2:4: error: unknown word `a\nb`\tafter\x1b[31m [E207]"


def test_gcc_uses_the_path_as_given_and_the_span_start():
    diagnostic = Diagnostic("W302", "model `m` has no layers", Span(5, 7, 5, 8))
    assert format_gcc("specs/a b.cnn", diagnostic) == "specs/a b.cnn:5:7: warning: model `m` has no layers [W302]"


# --- SARIF --------------------------------------------------------------------------------------


def _schema_validator():
    """A validator for the official SARIF 2.1.0 schema, with uri formats checked even without rfc3987;
    None, with the reason, where jsonschema or the schema file is missing."""
    try:
        import jsonschema
    except ImportError:
        return None, "jsonschema is not installed (a test dependency: pip install -e '.[test]')"
    if not SARIF_SCHEMA.is_file():
        return None, f"the official SARIF 2.1.0 schema is not at {SARIF_SCHEMA} (set SPECC_SARIF_SCHEMA to a copy)"
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    formats = jsonschema.FormatChecker()

    @formats.checks("uri", raises=ValueError)
    def is_uri(value: object) -> bool:
        return not isinstance(value, str) or (bool(urlsplit(value).scheme) and is_uri_reference(value))

    @formats.checks("uri-reference", raises=ValueError)
    def is_uri_reference(value: object) -> bool:
        return not isinstance(value, str) or not re.search(r"[\s\x00-\x1f\\]", value)

    return cls(schema, format_checker=formats), None


@pytest.fixture(scope="module")
def validator():
    """The schema validator, or None: then the tests check everything but the schema, and
    test_the_official_schema_is_at_hand says why it was left out."""
    return _schema_validator()[0]


def test_the_official_schema_is_at_hand():
    found, reason = _schema_validator()
    if found is None:
        pytest.skip(f"SARIF logs are not validated against the schema: {reason}")


def assert_valid(validator, log: dict) -> None:
    if validator is None:
        return
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def sarif_from_cli(*paths: object) -> tuple[int, dict]:
    result = invoke("check", "--format", "sarif", *paths)
    assert result.stderr == ""
    return result.exit_code, json.loads(result.stdout)


def test_sarif_of_every_fixture_in_one_run_is_valid_and_has_each_expected_result(validator, monkeypatch):
    monkeypatch.chdir(REPO)
    paths = [Path("tests", "bad", name) for name in FIXTURES]
    exit_code, log = sarif_from_cli(*paths)
    assert exit_code == 1
    assert_valid(validator, log)
    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    uris = [artifact["location"]["uri"] for artifact in run["artifacts"]]
    assert uris == [f"tests/bad/{name}" for name in FIXTURES]
    found: dict[str, list[list[object]]] = {}
    for sarif_result in run["results"]:
        [location] = sarif_result["locations"]
        physical = location["physicalLocation"]
        artifact = run["artifacts"][physical["artifactLocation"]["index"]]
        assert artifact["location"]["uri"] == physical["artifactLocation"]["uri"]
        region = physical["region"]
        name = physical["artifactLocation"]["uri"].rsplit("/", 1)[1]
        found.setdefault(name, []).append([sarif_result["ruleId"], region["startLine"], region["startColumn"]])
    assert found == {name: EXPECTED[name]["diagnostics"] for name in FIXTURES if EXPECTED[name]["diagnostics"]}


def test_sarif_driver_lists_every_code_as_a_rule_in_catalogue_order(validator):
    log = sarif_log([("mnist.cnn", check_bytes((EXAMPLES / "mnist.cnn").read_bytes()))])
    assert_valid(validator, log)
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "specc"
    assert driver["version"] == __version__
    assert [rule["id"] for rule in driver["rules"]] == list(CODES)
    for rule, code in zip(driver["rules"], CODES.values(), strict=True):
        assert rule["name"] == code.title
        assert rule["fullDescription"]["text"] == code.help
        assert rule["help"]["text"] == code.help
        assert rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] == code.severity.value


def test_sarif_information_uri_is_the_project_home_page_when_packaging_names_one():
    from importlib import metadata

    urls = metadata.metadata("specc").get_all("Project-URL") or []
    driver = sarif_log([])["runs"][0]["tool"]["driver"]
    homes = [u.partition(",")[2].strip() for u in urls if u.partition(",")[0].strip().lower() in ("homepage", "home")]
    if homes:
        assert driver["informationUri"] == homes[0]
    if "informationUri" in driver:
        assert urlsplit(driver["informationUri"]).scheme == "https"


def test_sarif_of_a_clean_file_is_a_valid_log_with_no_results_and_exit_0(validator, monkeypatch):
    monkeypatch.chdir(REPO)
    exit_code, log = sarif_from_cli(Path("examples", "mnist.cnn"), Path("examples", "tour.cnn"))
    assert exit_code == 0
    assert_valid(validator, log)
    [run] = log["runs"]
    assert run["results"] == []
    assert [a["location"]["uri"] for a in run["artifacts"]] == ["examples/mnist.cnn", "examples/tour.cnn"]


def test_sarif_with_no_files_at_all_is_still_valid(validator):
    log = sarif_log([])
    assert_valid(validator, log)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["artifacts"] == []


def test_sarif_warnings_only_exit_0_with_warning_level_results(validator, write, monkeypatch, tmp_path):
    write("warn.cnn", WARNING_SPEC)
    monkeypatch.chdir(tmp_path)
    exit_code, log = sarif_from_cli("warn.cnn")
    assert exit_code == 0
    assert_valid(validator, log)
    [sarif_result] = log["runs"][0]["results"]
    assert (sarif_result["ruleId"], sarif_result["level"]) == ("W301", "warning")
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert rules[sarif_result["ruleIndex"]]["id"] == "W301"


def test_sarif_regions_are_specc_spans_unchanged_and_results_name_their_rule(validator, write, monkeypatch, tmp_path):
    path = write("bad.cnn", BAD_SPEC)
    monkeypatch.chdir(tmp_path)
    exit_code, log = sarif_from_cli("bad.cnn")
    assert exit_code == 1
    assert_valid(validator, log)
    [run] = log["runs"]
    assert run["columnKind"] == "unicodeCodePoints"
    checked = check_bytes(path.read_bytes())
    assert len(run["results"]) == len(checked.diagnostics) == 2
    for sarif_result, diagnostic in zip(run["results"], checked.diagnostics, strict=True):
        assert sarif_result["ruleId"] == diagnostic.code
        assert run["tool"]["driver"]["rules"][sarif_result["ruleIndex"]]["id"] == diagnostic.code
        assert sarif_result["level"] == "error"
        assert sarif_result["message"]["text"] == f"{diagnostic.message}\nhint: {diagnostic.hint}"
        location = sarif_result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"] == {"uri": "bad.cnn", "uriBaseId": "%SRCROOT%", "index": 0}
        span = diagnostic.span
        assert location["region"] == {
            "startLine": span.line,
            "startColumn": span.column,
            "endLine": span.end_line,
            "endColumn": span.end_column,
        }
    # The E202 region covers exactly `stride` (line 3, columns 15 to 20 inclusive: endColumn 21).
    assert run["results"][0]["locations"][0]["physicalLocation"]["region"]["endColumn"] == 21


def apply_fix(text: str, fix: dict) -> str:
    """The text after a SARIF fix's replacements, applied from the last to the first (as an editor would)."""
    lines = text.split("\n")

    def offset(line: int, column: int) -> int:
        return sum(len(before) + 1 for before in lines[: line - 1]) + column - 1

    replacements = [r for change in fix["artifactChanges"] for r in change["replacements"]]
    for replacement in sorted(
        replacements, key=lambda r: (r["deletedRegion"]["startLine"], r["deletedRegion"]["startColumn"]), reverse=True
    ):
        region = replacement["deletedRegion"]
        start = offset(region["startLine"], region["startColumn"])
        end = offset(region["endLine"], region["endColumn"])
        text = text[:start] + replacement["insertedContent"]["text"] + text[end:]
    return text


@pytest.mark.parametrize(
    ("spec", "code", "fixed"),
    [
        (BAD_SPEC, "E202", "conv 32 3x3 strides=2"),
        (BAD_SPEC, "E201", "maxpool 2x2"),
        ("model m {\n  input 8x8x3\n  conv 8 3x3 relu7\n  flatten\n}\n", "E207", "conv 8 3x3 relu\n"),
        ("model m {\n  input 8x8x3\n  dense 4 activation=sigmod\n}\n", "E203", "activation=sigmoid"),
        ("model m {\n  input 8x8x3\n  conv 8 3x3 filters=4\n  flatten\n}\n", "E206", "  conv 8 3x3\n"),
        (WARNING_SPEC, "W301", "  input 8x8x3\n  flatten\n  dense 4\n"),
        ("model m { input 8x8x3; dense 4 }\n", "W301", "input 8x8x3; flatten; dense 4"),
        ('model m {\n  input 8x8x3\n  conv 8 3x3 padding="same"\n}\n', "E203", "conv 8 3x3 padding=same\n"),
        ("model m {\n  input 8x8x3\n  MaxPooling2D((2, 2))\n}\n", "E203", "  maxpool 2x2\n"),
        ("model m {\n  input 8x8x3\n  Conv2d 8 3\n}\n", "E201", "  Conv2D 8 3\n"),
        ("model m {\n  input 8x8\n  conv 8 3\n}\n", "E302", "  input 8x8x1\n"),
    ],
)
def test_a_diagnostic_fix_becomes_a_sarif_fix_that_removes_the_diagnostic(validator, spec, code, fixed):
    checked = check_text(spec)
    log = sarif_log([("m.cnn", checked)])
    assert_valid(validator, log)
    [with_fix] = [r for r in log["runs"][0]["results"] if r["ruleId"] == code]
    [diagnostic] = [d for d in checked.diagnostics if d.code == code]
    [fix] = with_fix["fixes"]
    assert fix["description"]["text"] == diagnostic.fixes[0].title
    assert fix["artifactChanges"][0]["artifactLocation"] == {"uri": "m.cnn", "uriBaseId": "%SRCROOT%", "index": 0}
    repaired = apply_fix(spec, fix)
    assert fixed in repaired
    assert code not in [d.code for d in check_text(repaired).diagnostics]


@pytest.mark.parametrize(
    ("spec", "region", "message"),
    [
        ("model m {\n  input 28x28x1\n  conv 8 3\n", (1, 9, 1, 10), "the block of model `m` opened here is not closed"),
        ("model m {\n  input 28x28\n  conv 8 3\n}\n", (2, 3, 2, 14), "the input is 28x28 here"),
    ],
)
def test_a_note_becomes_a_sarif_related_location(validator, spec, region, message):
    log = sarif_log([("m.cnn", check_text(spec))])
    assert_valid(validator, log)
    [sarif_result] = log["runs"][0]["results"]
    start_line, start_column, end_line, end_column = region
    assert sarif_result["relatedLocations"] == [
        {
            "id": 0,
            "physicalLocation": {
                "artifactLocation": {"uri": "m.cnn", "uriBaseId": "%SRCROOT%", "index": 0},
                "region": {
                    "startLine": start_line,
                    "startColumn": start_column,
                    "endLine": end_line,
                    "endColumn": end_column,
                },
            },
            "message": {"text": message},
        }
    ]


def test_a_hint_without_a_fix_stays_advice():
    checked = check_text("model m {\n  input 8x8x3 channels=3\n  dense 4\n}\n")
    [sarif_result] = [r for r in sarif_log([("m.cnn", checked)])["runs"][0]["results"] if r["ruleId"] == "E202"]
    assert "fixes" not in sarif_result
    assert sarif_result["properties"]["hint"] == "write the shape alone: `input 28x28x1`"


def test_sarif_paths_absolute_inside_the_working_directory_become_relative_and_outside_file_uris(
    validator, write, monkeypatch, tmp_path
):
    inside = write("bad.cnn", BAD_SPEC)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    log = sarif_log([(str(inside), check_text(BAD_SPEC)), ("sub/../bad.cnn", check_text(BAD_SPEC))])
    assert_valid(validator, log)
    assert log["runs"][0]["artifacts"][0]["location"] == {"uri": "bad.cnn", "uriBaseId": "%SRCROOT%"}
    monkeypatch.chdir(tmp_path / "sub")
    log = sarif_log([(str(inside), check_text(BAD_SPEC)), ("a dir/x#1.cnn", check_text(BAD_SPEC))])
    assert_valid(validator, log)
    assert log["runs"][0]["artifacts"][0]["location"] == {"uri": inside.resolve().as_uri()}
    assert log["runs"][0]["artifacts"][1]["location"]["uri"] == "a%20dir/x%231.cnn"


def test_sarif_of_a_file_that_is_not_text_is_valid(validator, write, monkeypatch, tmp_path):
    write("binary.cnn", b"model m {\n  input \xff\xfe 28x28x1\n}\n")
    monkeypatch.chdir(tmp_path)
    exit_code, log = sarif_from_cli("binary.cnn")
    assert exit_code == 1
    assert_valid(validator, log)
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["E100"]


def test_sarif_output_is_deterministic(monkeypatch):
    monkeypatch.chdir(REPO)
    paths = [Path("tests", "bad", name) for name in FIXTURES]
    assert invoke("check", "-f", "sarif", *paths).stdout == invoke("check", "-f", "sarif", *paths).stdout


def test_check_start_up_imports_neither_sarif_nor_jsonschema():
    code = "import sys, specc.cli; print(sorted(m for m in sys.modules if m in ('specc.sarif', 'jsonschema')))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_the_schema_check_is_not_vacuous(validator):
    if validator is None:
        pytest.skip("no schema to check with; see test_the_official_schema_is_at_hand")
    log = sarif_log([("bad.cnn", check_text(BAD_SPEC))])
    del log["version"]
    assert list(validator.iter_errors(log))
    log = sarif_log([("bad.cnn", check_text(BAD_SPEC))])
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startColumn"] = 0
    assert list(validator.iter_errors(log))
    log = sarif_log([("bad.cnn", check_text(BAD_SPEC))])
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert list(validator.iter_errors(log))


# --- notes of graphs: a block's call sites and a merge's operands, in every format ----------------

# (spec, the error's code and position, each note's position and a word its message must have).
GRAPH_NOTES = {
    "a shape error inside a block used twice": (
        "block down(f) {\n  conv f 3x3\n  conv f 7x7\n}\n"
        "model m {\n  image = input 8x8x3\n  a = down 4 from image\n  b = down 4 from image\n  s = add a b\n}\n",
        ("E301", 3, 10),
        [(7, 3, "`down_1`")],
    ),
    "a shape error inside a block inside a block": (
        "block inner(f) {\n  conv f 9x9\n}\nblock outer(f) {\n  conv f 3x3 same\n  inner f\n}\n"
        "model m {\n  image = input 8x8x3\n  outer 4\n}\n",
        ("E301", 2, 10),
        [(6, 3, "`outer_1_inner_1`"), (10, 3, "`outer_1`")],
    ),
    "a merge whose operands do not fit": (
        # Layers named as their values, so the notes read the same whichever name they give.
        "model m {\n  image = input 8x8x3\n  a = conv 4 3x3 name=a from image\n  b = conv 8 3x3 name=b from image\n"
        "  s = add a b\n  dense 2\n}\n",
        ("E304", 5, 3),
        [(3, 3, "6x6x4"), (4, 3, "6x6x8")],
    ),
}


def graph_notes_case(name: str, write) -> tuple[Path, str, tuple, list, Diagnostic]:
    spec, error, notes = GRAPH_NOTES[name]
    [diagnostic] = check_text(spec).diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == error
    # A block used twice may fail at both uses: the first use's note comes first, and every note is a call site.
    assert [(n.span.line, n.span.column) for n in diagnostic.notes[: len(notes)]] == [n[:2] for n in notes]
    for note, (_, _, word) in zip(diagnostic.notes, notes, strict=False):
        assert word in note.message
    return write("graph.cnn", spec), spec, error, notes, diagnostic


@pytest.mark.parametrize("case", list(GRAPH_NOTES))
def test_text_shows_each_note_of_a_graph_error_with_its_source_line_and_caret(case, write):
    path, spec, _, _, diagnostic = graph_notes_case(case, write)
    result = invoke("check", path)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    source = spec.split("\n")
    for note in diagnostic.notes:
        at = lines.index(f"{path}:{note.span.line}:{note.span.column}: note: {note.message}")
        gutter = " " * len(str(note.span.line))
        assert lines[at + 1] == f"{gutter} |"
        assert lines[at + 2] == f"{note.span.line} | {source[note.span.line - 1]}"
        caret = lines[at + 3]
        assert caret.startswith(f"{gutter} | ") and caret.index("^") == len(f"{gutter} | ") + note.span.column - 1


@pytest.mark.parametrize("case", list(GRAPH_NOTES))
def test_gcc_prints_a_note_line_for_each_call_site_or_operand_after_its_error(case, write):
    path, _, (code, line, column), _, diagnostic = graph_notes_case(case, write)
    result = invoke("check", "--format", "gcc", path)
    error, *notes = result.stdout.splitlines()
    assert GCC_LINE.match(error)["code"] == code and error.startswith(f"{path}:{line}:{column}: error: ")
    assert notes == [f"{path}:{n.span.line}:{n.span.column}: note: {n.message}" for n in diagnostic.notes]
    assert all(GCC_NOTE.match(note) and not GCC_LINE.match(note) for note in notes)


@pytest.mark.parametrize("case", list(GRAPH_NOTES))
def test_json_lists_each_note_of_a_graph_error_with_its_position(case, write):
    path, _, (code, line, column), _, diagnostic = graph_notes_case(case, write)
    (file,) = json.loads(invoke("check", "--format", "json", path).stdout)["files"]
    [record] = file["diagnostics"]
    assert (record["code"], record["line"], record["column"]) == (code, line, column)
    assert record["notes"] == [
        {
            "message": n.message,
            "line": n.span.line,
            "column": n.span.column,
            "end_line": n.span.end_line,
            "end_column": n.span.end_column,
        }
        for n in diagnostic.notes
    ]


@pytest.mark.parametrize("case", list(GRAPH_NOTES))
def test_sarif_makes_each_note_of_a_graph_error_a_related_location(case, validator, write, monkeypatch, tmp_path):
    path, _, (code, line, column), _, diagnostic = graph_notes_case(case, write)
    monkeypatch.chdir(tmp_path)
    exit_code, log = sarif_from_cli(path.name)
    assert exit_code == 1
    assert_valid(validator, log)
    [sarif_result] = log["runs"][0]["results"]
    assert sarif_result["ruleId"] == code
    assert sarif_result["locations"][0]["physicalLocation"]["region"]["startLine"] == line
    related = [
        (r["id"], r["physicalLocation"]["region"]["startLine"], r["physicalLocation"]["region"]["startColumn"])
        for r in sarif_result["relatedLocations"]
    ]
    assert related == [(index, n.span.line, n.span.column) for index, n in enumerate(diagnostic.notes)]
    assert [r["message"]["text"] for r in sarif_result["relatedLocations"]] == [n.message for n in diagnostic.notes]


# --- the JSON document and its schema -----------------------------------------------------------

CHECK_SCHEMA = Path(__file__).resolve().parent / "schemas" / "specc-check.schema.json"

GRAPH_SPEC = """block basic(filters) {
  x = input
  y = conv filters 3x3 same relu name=1_conv
  z = conv filters 3x3 same name=2_conv
  add x z name=add
}

model g {
  image = input 8x8x4
  meta = input 4
  c = conv 4 3x3 same from image
  t = basic 4 name=stage repeat=2 from c
  u = conv 2 1x1 from image
  f = flatten from t
  logits = dense 3 from f
  side = dense 2 from meta
  output logits side
}
"""


@pytest.fixture(scope="module")
def check_validator():
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a test dependency: pip install -e '.[test]'")
    schema = json.loads(CHECK_SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def json_document(*paths: object) -> dict:
    return json.loads(invoke("check", "--format", "json", *paths).stdout)


def test_the_json_of_every_example_fixture_and_graph_follows_the_documented_schema(check_validator, write):
    graph = write("graph.cnn", GRAPH_SPEC)
    for name, spec in GRAPH_NOTES.items():
        write(f"{name.replace(' ', '_')}.cnn", spec[0])
    paths = [*sorted(EXAMPLES.glob("*.cnn")), *(BAD / name for name in FIXTURES), graph, *graph.parent.glob("a_*.cnn")]
    document = json_document(*paths)
    assert len(document["files"]) == len(paths) > len(FIXTURES)
    assert_valid(check_validator, document)
    models = [model for file in document["files"] for model in file["models"]]
    # What the schema's optional and nullable parts allow is met at least once.
    assert any(len(model["inputs"]) > 1 for model in models)
    assert any(model["block_uses"] for model in models)
    assert any(not layer["counted"] for model in models for layer in model["layers"])
    assert any(model["output_shapes"] is None for model in models)
    assert any("notes" in d for file in document["files"] for d in file["diagnostics"])


def test_the_json_schema_refuses_what_specc_does_not_print(check_validator, write):
    def broken(change) -> dict:
        document = json_document(write("graph.cnn", GRAPH_SPEC))
        change(document["files"][0]["models"][0])
        return document

    for change in [
        lambda model: model.pop("outputs"),
        lambda model: model["layers"][0].update(undocumented=1),
        lambda model: model["layers"][0].update(counted="yes"),
        lambda model: model["inputs"][0].update(input_shape=None),
        lambda model: model["block_uses"][0].update(parent=3),
    ]:
        assert list(check_validator.iter_errors(broken(change)))


def test_docs_ci_describes_every_field_of_the_json_schema():
    ci = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    section = ci[ci.index("## The JSON document") :]
    schema = json.loads(CHECK_SCHEMA.read_text(encoding="utf-8"))
    fields = set(schema["properties"])
    for definition in schema["$defs"].values():
        fields |= set(definition.get("properties", {}))
        fields |= set(definition.get("properties", {}).get("inputs", {}).get("items", {}).get("properties", {}))
    missing = sorted(field for field in fields if f"`{field}`" not in section)
    assert missing == []


# --- pre-commit ---------------------------------------------------------------------------------


def test_pre_commit_hooks_run_specc_commands_that_exist_on_cnn_files():
    yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read .pre-commit-hooks.yaml")
    import typer.main

    hooks = {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    assert set(hooks) == {"specc-check", "specc-fmt"}
    commands = {command.name for command in typer.main.get_command(app).commands.values()}
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert re.search(hook["files"], "models/mnist.cnn") and not re.search(hook["files"], "mnist.cnn.py")
        program, command, *_ = hook["entry"].split()
        assert program == "specc" and command in commands
    assert hooks["specc-fmt"]["args"] == ["--check"]


def test_the_gcc_note_sample_in_docs_ci_is_what_specc_prints():
    ci = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```text\n(.*?)```", ci, flags=re.DOTALL) if "open.cnn:1:9: note: " in b]
    checked = check_text("model m {\n  input 28x28x1\n  conv 8 3x3\n  flatten\n")
    assert "\n".join(format_gcc("specs/open.cnn", d) for d in checked.diagnostics) == block.rstrip("\n")


def test_the_gcc_notes_of_graphs_sample_in_docs_ci_is_what_specc_prints_where_it_is_not_elided():
    ci = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```text\n(.*?)```", ci, flags=re.DOTALL) if "used here as" in b]
    used_twice, _, _ = GRAPH_NOTES["a shape error inside a block used twice"]
    operands, _, _ = GRAPH_NOTES["a merge whose operands do not fit"]
    printed = [
        format_gcc(path, d)
        for path, spec in (("specs/blocks.cnn", used_twice), ("specs/merge.cnn", operands))
        for d in check_text(spec).diagnostics
    ]
    # `...` in the sample stands for the rest of a long message.
    for shown, line in zip(block.rstrip("\n").split("\n"), "\n".join(printed).split("\n"), strict=True):
        assert re.fullmatch(re.escape(shown).replace(re.escape("..."), ".*"), line), (shown, line)
