"""Output edge of the check path: checked files as one SARIF 2.1.0 log, for code-scanning tools such as GitHub's.

Imported only by `specc check --format sarif`. Every code of the catalogue is a rule, in the
catalogue's order, so a rule's index is stable for a given specc version. specc's spans carry
over unchanged: SARIF lines and columns count from 1 and a region's endColumn is one past its
last character, as in specc; columns count Unicode code points, which the run declares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from specc import __version__
from specc.diagnostics import CODES, Code, Diagnostic, Fix, Severity, Span
from specc.pipeline import CheckedSource

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning"}
_RULE_INDEX = {code: index for index, code in enumerate(CODES)}


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


def _region(span: Span) -> dict[str, int]:
    """A SARIF region: the same numbers as the span, since both count from 1 and end one past the last column."""
    return {"startLine": span.line, "startColumn": span.column, "endLine": span.end_line, "endColumn": span.end_column}


def _fix(fix: Fix, location: dict[str, Any]) -> dict[str, Any]:
    """A diagnostic's structured fix as a SARIF fix: one replacement (an empty region inserts, empty text deletes)."""
    return {
        "description": {"text": fix.title},
        "artifactChanges": [
            {
                "artifactLocation": location,
                "replacements": [{"deletedRegion": _region(fix.span), "insertedContent": {"text": fix.new_text}}],
            }
        ],
    }


def result(diagnostic: Diagnostic, location: dict[str, Any]) -> dict[str, Any]:
    """The SARIF result of one diagnostic; the hint follows the message on its own line and in properties,
    and each note is a related location."""
    text = diagnostic.message + (f"\nhint: {diagnostic.hint}" if diagnostic.hint else "")
    record: dict[str, Any] = {
        "ruleId": diagnostic.code,
        "ruleIndex": _RULE_INDEX[diagnostic.code],
        "level": _LEVELS[diagnostic.severity],
        "message": {"text": text},
        "locations": [{"physicalLocation": {"artifactLocation": location, "region": _region(diagnostic.span)}}],
    }
    if diagnostic.notes:
        record["relatedLocations"] = [
            {
                "id": index,
                "physicalLocation": {"artifactLocation": location, "region": _region(note.span)},
                "message": {"text": note.message},
            }
            for index, note in enumerate(diagnostic.notes)
        ]
    if diagnostic.fixes:
        record["fixes"] = [_fix(fix, location) for fix in diagnostic.fixes]
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
        sarif_results.extend(result(diagnostic, location) for diagnostic in checked.diagnostics)
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
