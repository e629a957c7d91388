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


# The tests marked `cuda` that this machine has no device for: left out of the run, never skipped silently.
_WITHOUT_DEVICE: list[str] = []


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    """Tests that need a CUDA device (no CI machine has one) are deselected where there is none, and the
    summary names how many, so that a run without them is never mistaken for one with them."""
    marked = [item for item in items if item.get_closest_marker("cuda")]
    if not marked or _cuda_available():
        return
    _WITHOUT_DEVICE.extend(item.nodeid for item in marked)
    config.hook.pytest_deselected(items=marked)
    items[:] = [item for item in items if not item.get_closest_marker("cuda")]


def pytest_terminal_summary(terminalreporter):
    """The figure the PyTorch backend's note reports: the largest Keras/PyTorch output difference of the run;
    and the tests left out for want of a CUDA device."""
    import sys

    if _WITHOUT_DEVICE:
        terminalreporter.write_line(
            f"specc: {len(_WITHOUT_DEVICE)} test{'s' * (len(_WITHOUT_DEVICE) != 1)} marked cuda left out: "
            "no CUDA device here (the CPU measurement of tests/test_memory_oracle.py ran)"
        )

    reference = sys.modules.get("torch_reference")
    if reference is None or not reference.DIFFERENCES:
        return
    largest, where = max(reference.DIFFERENCES)
    count = len(reference.DIFFERENCES)
    terminalreporter.write_line(
        f"specc: Keras and PyTorch builds compared on {count} model{'s' * (count != 1)}; "
        f"largest absolute output difference {largest:.3g} ({where}), tolerance {reference.TOLERANCE:g}"
    )
