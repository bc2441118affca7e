"""Result files: atomic, with the umask's permissions, and a failed write keeps the old file."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from contrastlab.files import OutputError, atomic_write, file_mode


@pytest.fixture
def umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask")
@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_files_get_the_mode_open_would_give(tmp_path: Path, mask: int, expected: int) -> None:
    os.umask(mask)
    assert file_mode() == expected
    assert os.umask(mask) == mask  # reading the umask left it as it was
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # what open() gives: the reference
    written = atomic_write(tmp_path / "sub" / "atomic.txt", b"data")
    assert written.read_bytes() == b"data"
    assert _mode(written) == _mode(plain) == expected
    overwritten = atomic_write(written, lambda handle: handle.write(b"new"))
    assert overwritten.read_bytes() == b"new" and _mode(overwritten) == expected


def test_a_failed_write_keeps_the_previous_file_and_says_why(tmp_path: Path) -> None:
    target = atomic_write(tmp_path / "metrics.json", b'{"old": 1}')

    def disk_full(handle: BinaryIO) -> None:
        handle.write(b'{"new": ')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OutputError) as caught:
        atomic_write(target, disk_full)
    message = str(caught.value)
    assert str(target) in message and "No space left on device" in message
    assert "\n" not in message and "previous metrics.json" in message
    assert target.read_bytes() == b'{"old": 1}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # no temporary left


def test_other_errors_pass_through_and_leave_nothing(tmp_path: Path) -> None:
    def bug(handle: BinaryIO) -> None:
        raise KeyError("not an I/O problem")

    with pytest.raises(KeyError):
        atomic_write(tmp_path / "x.bin", bug)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_created_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(OutputError, match="cannot write"):
        atomic_write(tmp_path / "file" / "report.html", b"<html>")
