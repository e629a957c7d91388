"""Writes lose nothing: a file is replaced whole or not at all, and a file specc did not generate is kept."""

from __future__ import annotations

import os
import stat

import pytest

from specc.write import GENERATED_MARK, WouldOverwrite, was_generated_by_specc, write_atomically, write_generated


def test_write_atomically_creates_the_file_with_exactly_the_text(tmp_path):
    target = tmp_path / "out.py"
    write_atomically(target, "a\nb\r\nc")
    assert target.read_bytes() == b"a\nb\r\nc"


def test_a_failed_rename_leaves_the_old_file_whole_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "out.py"
    target.write_text("old contents\n")

    def refuse(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        write_atomically(target, "new contents\n")
    assert target.read_text() == "old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.py"]


def test_replacing_a_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "out.py"
    target.write_text("old\n")
    target.chmod(0o750)
    write_atomically(target, "new\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o750


def test_only_a_file_that_starts_with_the_mark_counts_as_generated(tmp_path):
    ours, theirs, missing = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    ours.write_text(f"{GENERATED_MARK} 0.1.0 from a.cnn\nimport keras\n")
    theirs.write_text(f"import keras\n{GENERATED_MARK}\n")
    assert was_generated_by_specc(ours)
    assert not was_generated_by_specc(theirs)
    assert not was_generated_by_specc(missing)


def test_write_generated_refuses_a_users_file_unless_forced(tmp_path):
    target = tmp_path / "model.py"
    target.write_text("# mine\n")
    with pytest.raises(WouldOverwrite):
        write_generated(target, f"{GENERATED_MARK}\n")
    assert target.read_text() == "# mine\n"
    write_generated(target, f"{GENERATED_MARK}\n", force=True)
    assert target.read_text() == f"{GENERATED_MARK}\n"
