"""One run per run folder: the lock file ``train.lock``.

A run holds an exclusive ``flock`` on ``train.lock`` in its folder from start to end and writes
its process id, host and start time into it. A second run into the same folder finds the lock
held and stops with :class:`~contrastlab.errors.InputError` naming that process, before it
touches any file. The operating system drops the lock of a process that dies (``SIGKILL``, a
crash, a node lost), so a stale lock is taken over by the next run, which says whose it was. At a
normal end (and on any error) the file is removed.

Only the process of rank 0 (``RANK`` unset or ``0``) takes the lock: the other ranks of a
``torchrun`` job write no files. Taking the lock again in the process that holds it is allowed
(the command line holds it around training and the report); it is released when the outermost
holder ends.

``flock`` is advisory and local to the kernel that grants it; on network file systems Linux maps
it onto NFS byte-range locks, which work across machines on NFSv4.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from contrastlab.errors import InputError
from contrastlab.files import OutputError, file_mode

LOCK_FILE = "train.lock"

_held: dict[Path, int] = {}  # lock path -> how many nested holders in this process


@contextmanager
def run_lock(folder: str | os.PathLike[str], log: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the run folder's lock for the block (the folder is created when missing).

    Args:
        folder: the run folder.
        log: where the line about a stale lock taken over goes.

    Raises:
        InputError: another live process holds the lock; the message names its pid and host.
        OutputError: the lock file cannot be written (a read-only folder).
    """
    if os.environ.get("RANK", "0") != "0":
        yield
        return
    path = (Path(folder) / LOCK_FILE).absolute()
    if path in _held:
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    fd = _acquire(path, log)
    _held[path] = 1
    try:
        yield
    finally:
        del _held[path]
        _release(path, fd)


def _acquire(path: Path, log: Callable[[str], None]) -> int:
    """The descriptor of ``path`` with its exclusive lock, our identity written into it."""
    while True:
        fd = _open(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise InputError(
                f"run folder {path.parent} is in use by {holder}; wait for it to end or "
                "choose another --out"
            ) from None
        if _same_file(fd, path):
            break
        os.close(fd)  # the holder removed the file after we opened it: try the new one
    previous = _read_holder(fd)
    if previous != "an unknown process":
        log(f"taking over the lock of {previous}, which ended without releasing it")
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    identity = {"pid": os.getpid(), "host": socket.gethostname(), "started": started}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(identity) + "\n").encode(), 0)
    return fd


def _open(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, file_mode())
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from err


def _release(path: Path, fd: int) -> None:
    # Remove before unlocking: a process that opened the old file and gets its lock next sees
    # that the path no longer leads to it, and starts over.
    try:
        path.unlink(missing_ok=True)
    finally:
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _read_holder(fd: int) -> str:
    """The process named in the lock file, as words."""
    try:
        text = os.pread(fd, 4096, 0).decode(errors="replace")
        holder = json.loads(text)
        return f"pid {holder['pid']} on {holder['host']} (since {holder['started']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "an unknown process"
