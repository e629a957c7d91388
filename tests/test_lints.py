"""Check stage, lints (specc.lints): each W40x fires on its fixture, stays quiet on the examples, and is
silenced by `# specc: ignore[...]` on its line; errors are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from specc.pipeline import check_text

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "bad"
LINT_CODES = [f"W40{n}" for n in range(1, 8)]
# Findings in examples/ to be fixed there (W407 fires on cifar10, mnist_batchnorm and seed_functional once they
# gain a training section: a flatten of a 4x4x64 or 7x7x64 map into dense holds most of their parameters).
KNOWN_EXAMPLE_FINDINGS: dict[str, list[tuple[str, int]]] = {}


def lints(text: str) -> list[tuple[str, int]]:
    return [(d.code, d.span.line) for d in check_text(text).diagnostics if d.code in LINT_CODES]


@pytest.mark.parametrize("code", LINT_CODES)
def test_each_lint_fires_on_its_fixture_and_nothing_else_does(code):
    (fixture,) = BAD.glob(f"{code.lower()}_*.cnn")
    found = lints(fixture.read_text())
    assert found and {c for c, _ in found} == {code}
    diagnostic = next(d for d in check_text(fixture.read_text()).diagnostics if d.code == code)
    assert diagnostic.hint and diagnostic.severity.name == "WARNING"


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.cnn")), ids=lambda p: p.name)
def test_the_examples_give_no_lint_but_the_known_findings(example):
    assert lints(example.read_text()) == KNOWN_EXAMPLE_FINDINGS.get(example.name, [])


SOFTMAX_INSIDE = "model m {\n  input 8x8x3\n  global_avgpool\n  dense 16 softmax%s\n  dense 10 softmax\n}\n"


@pytest.mark.parametrize("comment", ["  # specc: ignore[W402]", "  # specc: ignore", "  # specc: ignore[W401, W402]"])
def test_a_comment_on_the_line_silences_the_warning(comment):
    assert lints(SOFTMAX_INSIDE % "") == [("W402", 4)]
    assert lints(SOFTMAX_INSIDE % comment) == []


def test_a_comment_naming_another_code_does_not_silence():
    assert lints(SOFTMAX_INSIDE % "  # specc: ignore[W403]") == [("W402", 4)]


def test_errors_are_not_silenced():
    text = "model m {\n  input 8x8x3\n  conv 8 9x9  # specc: ignore\n}\n"
    assert [d.code for d in check_text(text).diagnostics] == ["E301"]


def test_a_from_logits_loss_after_softmax_is_w401():
    loss = "loss sparse_categorical_crossentropy from_logits=true"
    text = f"model m {{\n  input 4\n  dense 3 softmax\n  train {{\n    {loss}\n  }}\n}}\n"
    assert lints(text) == [("W401", 5)]


def test_a_probability_loss_without_softmax_is_w401():
    text = "model m {\n  input 4\n  dense 3\n  train {\n    loss categorical_crossentropy\n  }\n}\n"
    assert lints(text) == [("W401", 5)]


def test_binary_crossentropy_on_ten_softmax_units_is_w401():
    text = "model m {\n  input 4\n  dense 10 softmax\n  train {\n    loss binary_crossentropy\n  }\n}\n"
    assert lints(text) == [("W401", 5)]


def test_w407_is_quiet_on_a_model_without_a_training_section():
    text = (BAD / "w407_dense_holds_most_parameters.cnn").read_text()
    assert lints(text[: text.index("  train {")] + "}\n") == []


def test_w407_shows_the_parameters_global_pooling_would_save():
    (diagnostic,) = [d for d in check_text((BAD / "w407_dense_holds_most_parameters.cnn").read_text()).diagnostics]
    # flatten of 6x6x8 into dense 64: 288*64 + 64 = 18,496; after global pooling 8*64 + 64 = 576.
    assert "18,496" in diagnostic.message and "576" in diagnostic.hint and "17,920" in diagnostic.hint
