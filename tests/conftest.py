"""Shared test set-up: Keras, where a test builds it, runs quietly on the TensorFlow backend; and the
`write` fixture, which puts a spec file (text or raw bytes) in the test's own folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Before anything imports keras or tensorflow (tests/keras_reference.py sets them again when it does).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"


@pytest.fixture
def write(tmp_path):
    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return write


def pytest_terminal_summary(terminalreporter):
    """The figure the PyTorch backend's note reports: the largest Keras/PyTorch output difference of the run."""
    import sys

    reference = sys.modules.get("torch_reference")
    if reference is None or not reference.DIFFERENCES:
        return
    largest, where = max(reference.DIFFERENCES)
    count = len(reference.DIFFERENCES)
    terminalreporter.write_line(
        f"specc: Keras and PyTorch builds compared on {count} model{'s' * (count != 1)}; "
        f"largest absolute output difference {largest:.3g} ({where}), tolerance {reference.TOLERANCE:g}"
    )
