"""Test helper: run the `specc` command line in-process, as a user would type it."""

from __future__ import annotations

from typer.testing import CliRunner

from specc.cli import app


def invoke(*args: object, input: bytes | None = None):
    """The result of `specc ARGS...` (paths may be given as Path), with stdin from `input`."""
    return CliRunner().invoke(app, [str(a) for a in args], input=input)
