"""The README's specs and commands: every spec it shows checks clean, and CI runs its test command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from specc.pipeline import check_text

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SPEC_BLOCKS = re.findall(r"```cnn\n(.*?)```", README, flags=re.DOTALL)
SHELL_BLOCKS = re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)


def test_readme_shows_specs():
    assert len(SPEC_BLOCKS) >= 2


# A spec followed at once by a text block shows what specc says about it; every other spec checks clean.
SPECS_WITH_OUTPUT = dict(re.findall(r"```cnn\n((?:(?!```).)*)```\n\n```text\n(.*?)```", README, flags=re.DOTALL))


@pytest.mark.parametrize("spec", SPEC_BLOCKS, ids=[f"spec{i + 1}" for i in range(len(SPEC_BLOCKS))])
def test_every_readme_spec_checks_without_diagnostics_unless_the_readme_shows_them(spec):
    from specc.render import format_diagnostic

    checked = check_text(spec)
    assert all(report.complete for report in checked.reports)
    if spec not in SPECS_WITH_OUTPUT:
        assert checked.diagnostics == []
        return
    printed = "\n".join(format_diagnostic("seed.cnn", spec.splitlines(), d) for d in checked.diagnostics)
    assert printed == SPECS_WITH_OUTPUT[spec].rstrip("\n")
    assert checked.ok


def test_readme_mnist_spec_has_the_keras_parameter_count():
    checked = check_text(SPEC_BLOCKS[0])
    assert checked.reports[0].total_params == 93_322


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_test_one():
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [
        line
        for block in re.findall(r"```sh\n(.*?)```", quick_start, flags=re.DOTALL)
        for line in block.strip().splitlines()
    ]
    assert len(commands) == 2
    install_and_check, install_and_test = commands
    assert "specc check examples/" in install_and_check
    ci_script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert install_and_test.replace("pip install", "python -m pip install -q") in ci_script


def test_readme_diagnostic_example_matches_what_specc_prints():
    """The text block under Diagnostics is real output for the spec it quotes."""
    from specc.render import format_diagnostic

    block = README.split("## Diagnostics", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    spec = "model m {\n  input 28x28x1\n  conv 32 3x3 relu stride=2\n  maxpol 2x2\n}\n"
    checked = check_text(spec)
    printed = "\n".join(format_diagnostic("bad.cnn", spec.splitlines(), d) for d in checked.diagnostics)
    assert printed == block.rstrip("\n")


@pytest.mark.parametrize("spec", SPEC_BLOCKS, ids=[f"spec{i + 1}" for i in range(len(SPEC_BLOCKS))])
def test_every_readme_spec_is_in_the_layout_specc_fmt_writes(spec):
    from specc.fmt import format_text

    assert format_text(spec) == (spec, [])


def test_readme_documents_every_spelling_of_every_layer_kind():
    """Kinds are case-sensitive, so each accepted spelling must be one a reader can find."""
    from specc.layers import KIND_BY_SPELLING, LAYER_KINDS

    spellings = {*KIND_BY_SPELLING, *(cls.keras_class for cls in LAYER_KINDS)}
    assert sorted(s for s in spellings if f"`{s}`" not in README) == []
