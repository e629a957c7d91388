"""Writes lose nothing: a file is replaced whole or not at all, and a file specc did not generate is kept;
only regular files are written, links are written through, and no temporary file outlives its write."""

from __future__ import annotations

import errno
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading

import pytest

from specc.write import (
    GENERATED_MARK,
    IsTheInput,
    NotARegularFile,
    WouldOverwrite,
    was_generated_by_specc,
    write_atomically,
    write_generated,
)


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


# --- the input is never the output ----------------------------------------------------------------


def test_write_generated_never_replaces_its_input_even_forced_and_even_when_it_starts_with_the_mark(tmp_path):
    spec = tmp_path / "spec.cnn"
    spec.write_text(f"{GENERATED_MARK} look-alike\nmodel m {{\n  input 4\n}}\n")
    before = spec.read_bytes()
    symlink, hard_link = tmp_path / "symlink.py", tmp_path / "hard.py"
    symlink.symlink_to(spec.name)
    os.link(spec, hard_link)
    for target in (spec, symlink, hard_link):
        for force in (False, True):
            with pytest.raises(IsTheInput):
                write_generated(target, f"{GENERATED_MARK}\n", force=force, inputs=[spec])
    assert spec.read_bytes() == before


# --- only regular files ---------------------------------------------------------------------------


def test_write_generated_refuses_a_socket_even_forced_and_leaves_it_a_socket(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a socket's path must be short
    server = socket.socket(socket.AF_UNIX)
    server.bind("out.py")
    try:
        with pytest.raises(NotARegularFile, match="a socket"):
            write_generated(tmp_path / "out.py", f"{GENERATED_MARK}\n", force=True)
        with pytest.raises(NotARegularFile):
            write_atomically(tmp_path / "out.py", "text\n")
        assert stat.S_ISSOCK(os.lstat(tmp_path / "out.py").st_mode)
    finally:
        server.close()


def test_a_fifo_is_refused_without_being_opened(tmp_path):
    fifo = tmp_path / "out.py"
    os.mkfifo(fifo)
    results = []

    def attempt():
        results.append(was_generated_by_specc(fifo))
        for force in (False, True):
            try:
                write_generated(fifo, f"{GENERATED_MARK}\n", force=force)
            except Exception as error:  # noqa: BLE001 - recorded and checked below
                results.append(type(error))

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(20)
    hung = thread.is_alive()
    if hung:  # a reader blocked in open() is let go by a writer opening the other end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(20)
    assert not hung, "the FIFO was opened for reading"
    assert results == [False, NotARegularFile, NotARegularFile]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


# --- links are written through --------------------------------------------------------------------


def test_writing_through_a_symlink_rewrites_the_file_it_points_to_and_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    real, link = tmp_path / "real" / "out.py", tmp_path / "out.py"
    real.write_text(f"{GENERATED_MARK} old\n")
    link.symlink_to(real)
    write_generated(link, f"{GENERATED_MARK} new\n")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == f"{GENERATED_MARK} new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.py", "real"]


def test_writing_a_hard_linked_file_keeps_the_link_so_every_name_sees_the_new_text(tmp_path):
    first, second = tmp_path / "a.cnn", tmp_path / "b.cnn"
    first.write_text("a longer old text\n" * 3)
    os.link(first, second)
    for text in ("short\n", "a much longer new text than before\n" * 5):
        write_atomically(second, text)
        assert first.read_text() == second.read_text() == text
        assert os.stat(first).st_nlink == 2 and os.path.samefile(first, second)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.cnn", "b.cnn"]


def test_a_failed_in_place_write_to_a_hard_linked_file_puts_the_old_text_back(tmp_path, monkeypatch):
    first, second = tmp_path / "a.cnn", tmp_path / "b.cnn"
    first.write_text("old text\n")
    os.link(first, second)
    real_pwrite = os.pwrite
    calls = []

    def fill_the_disk(handle, data, offset):
        calls.append(offset)
        if len(calls) == 1:  # the new text goes half in, then the disk is full; the old text fits back
            return real_pwrite(handle, data[:4], offset)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(handle, data, offset)

    monkeypatch.setattr(os, "pwrite", fill_the_disk)
    with pytest.raises(OSError, match="No space"):
        write_atomically(second, "a new text that is longer\n")
    assert first.read_text() == second.read_text() == "old text\n"
    assert os.stat(first).st_nlink == 2


# --- temporary files --------------------------------------------------------------------------------

# Writes `new` over argv[1] with an fsync that never ends, after saying so on stdout.
SLOW_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from specc.write import write_atomically

    def fsync(handle):
        print("writing", flush=True)
        time.sleep(120)

    os.fsync = fsync
    write_atomically(Path(sys.argv[1]), "new")
    """
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_write_ended_by_sigterm_or_sigint_leaves_no_temporary_file_and_the_old_file_whole(tmp_path, signum):
    target = tmp_path / "out.py"
    target.write_text("old")
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert child.stdout.readline() == "writing\n", child.stderr.read()
        assert len(list(tmp_path.iterdir())) == 2, "the temporary file is there while the write runs"
        child.send_signal(signum)
        child.wait(timeout=60)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signum, child.stderr.read()
    assert [p.name for p in tmp_path.iterdir()] == ["out.py"]
    assert target.read_text() == "old"


def test_the_next_write_removes_a_dead_writers_temporary_file_but_not_a_live_writers_or_anyone_elses(tmp_path):
    target = tmp_path / "out.py"
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    dead = tmp_path / f".out.py.specc-{dead_pid}-0a1b2c3d.tmp"
    live = tmp_path / f".out.py.specc-{os.getpid()}-0a1b2c3d.tmp"
    other_target = tmp_path / f".other.py.specc-{dead_pid}-0a1b2c3d.tmp"
    not_ours = tmp_path / ".out.py.x1y2z3.tmp"
    for path in (dead, live, other_target, not_ours):
        path.write_text("partial")
    write_generated(target, f"{GENERATED_MARK}\n")
    assert not dead.exists()
    assert live.exists() and other_target.exists() and not_ours.exists()
    assert target.read_text() == f"{GENERATED_MARK}\n"
