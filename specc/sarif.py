"""Output edge of the check path: checked files as one SARIF 2.1.0 log, for code-scanning tools such as GitHub's.

Imported only by `specc check --format sarif`. Every code of the catalogue is a rule, in the
catalogue's order, so a rule's index is stable for a given specc version. specc's spans carry
over unchanged: SARIF lines and columns count from 1 and a region's endColumn is one past its
last character, as in specc; columns count Unicode code points, which the run declares.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from specc import __version__
from specc.diagnostics import CODES, Code, Diagnostic, Severity
from specc.pipeline import CheckedSource

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning"}
_RULE_INDEX = {code: index for index, code in enumerate(CODES)}

# A hint that names one replacement for the word under the caret ("did you mean `strides`?") becomes
# a SARIF fix; any other hint stays advice in the message.
_SUGGESTION = re.compile(r"did you mean `([^`\n]+)`\?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _information_uri() -> str | None:
    """The project's home page as packaging metadata records it (pyproject's [project.urls]), if it does."""
    from importlib import metadata

    try:
        urls = metadata.metadata("specc").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("homepage", "home", "repository", "source") and url.strip():
            return url.strip()
    return None


def _sentence(title: str) -> str:
    """`unknown-layer` -> `Unknown layer.`"""
    words = title.replace("-", " ")
    return words[:1].upper() + words[1:] + "."


def rule(code: Code) -> dict[str, Any]:
    """The reportingDescriptor of one catalogue code: id, name, descriptions, help and default level."""
    return {
        "id": code.id,
        "name": code.title,
        "shortDescription": {"text": _sentence(code.title)},
        "fullDescription": {"text": code.help},
        "help": {"text": code.help, "markdown": f"**{code.id} {code.title}**: {code.help}"},
        "defaultConfiguration": {"level": _LEVELS[code.severity]},
        "properties": {"tags": ["correctness" if code.severity is Severity.ERROR else "maintainability"]},
    }


def artifact_uri(path: str) -> tuple[str, str | None]:
    """The artifactLocation uri and uriBaseId for a checked path.

    Paths relative to the working directory stay relative, under %SRCROOT% (code scanning resolves them
    against the repository root, where CI runs); absolute paths inside it are made relative; other
    absolute paths become file: URIs.
    """
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            candidate = candidate.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            return candidate.resolve().as_uri(), None
    return quote(candidate.as_posix(), safe="/-._~"), "%SRCROOT%"


def _region(diagnostic: Diagnostic) -> dict[str, int]:
    span = diagnostic.span
    return {
        "startLine": span.line,
        "startColumn": span.column,
        "endLine": span.end_line,
        "endColumn": max(span.end_column, span.column + 1) if span.end_line == span.line else span.end_column,
    }


def _fix(diagnostic: Diagnostic, lines: list[str], location: dict[str, Any]) -> dict[str, Any] | None:
    """A replacement for the word under the caret when the hint suggests exactly one, else None."""
    match = _SUGGESTION.fullmatch(diagnostic.hint or "")
    span = diagnostic.span
    if match is None or span.end_line != span.line or not 1 <= span.line <= len(lines):
        return None
    written = lines[span.line - 1][span.column - 1 : span.end_column - 1]
    if not _WORD.fullmatch(written):
        return None
    return {
        "description": {"text": f"Replace `{written}` with `{match.group(1)}`"},
        "artifactChanges": [
            {
                "artifactLocation": location,
                "replacements": [
                    {"deletedRegion": _region(diagnostic), "insertedContent": {"text": match.group(1)}},
                ],
            }
        ],
    }


def result(diagnostic: Diagnostic, location: dict[str, Any], lines: list[str]) -> dict[str, Any]:
    """The SARIF result of one diagnostic; the hint follows the message on its own line and in properties."""
    text = diagnostic.message + (f"\nhint: {diagnostic.hint}" if diagnostic.hint else "")
    record: dict[str, Any] = {
        "ruleId": diagnostic.code,
        "ruleIndex": _RULE_INDEX[diagnostic.code],
        "level": _LEVELS[diagnostic.severity],
        "message": {"text": text},
        "locations": [{"physicalLocation": {"artifactLocation": location, "region": _region(diagnostic)}}],
    }
    fix = _fix(diagnostic, lines, location)
    if fix is not None:
        record["fixes"] = [fix]
    if diagnostic.hint:
        record["properties"] = {"hint": diagnostic.hint}
    return record


def sarif_log(results: list[tuple[str, CheckedSource]]) -> dict[str, Any]:
    """One SARIF 2.1.0 log with one run for the checked files: (path as given, checked source) pairs.

    Every checked file is listed as an artifact, clean ones too; a clean run has an empty results list.
    """
    artifacts: list[dict[str, Any]] = []
    sarif_results: list[dict[str, Any]] = []
    for path, checked in results:
        uri, base = artifact_uri(path)
        location: dict[str, Any] = {"uri": uri}
        if base is not None:
            location["uriBaseId"] = base
        location["index"] = len(artifacts)
        artifacts.append({"location": {k: v for k, v in location.items() if k != "index"}, "sourceLanguage": "cnn"})
        lines = checked.lines
        sarif_results.extend(result(diagnostic, location, lines) for diagnostic in checked.diagnostics)
    driver: dict[str, Any] = {"name": "specc", "version": __version__, "semanticVersion": __version__}
    information_uri = _information_uri()
    if information_uri is not None:
        driver["informationUri"] = information_uri
    driver["rules"] = [rule(code) for code in CODES.values()]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "invocations": [{"executionSuccessful": True}],
                "columnKind": "unicodeCodePoints",
                "artifacts": artifacts,
                "results": sarif_results,
            }
        ],
    }
