"""Result files written atomically, with the permissions the user's umask asks for.

Every result file (``checkpoint.pt``, ``metrics.json``, ``metrics.jsonl``, ``report.html``,
``config.yaml``, feature ``.npz`` files) goes through :func:`atomic_write`: the bytes are
written to a temporary file in the target's folder, flushed to disk (``fsync``), given the mode
a plain ``open()`` would have given (``0o666 & ~umask``: 0644 under the usual umask 022, so a
colleague or a web server can read a shared run folder; a temporary file alone would be 0600),
and renamed over the target. A reader never sees half a file, and a failed write (a full disk,
a read-only folder, a file size limit) removes the temporary file, leaves the previous version
of the target as it was and raises :class:`OutputError` with one line naming the file and the
cause.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

_UMASK_LOCK = threading.Lock()


class OutputError(OSError):
    """A result file could not be written (full disk, read-only folder, ...); the previous
    version of the file is intact. The command line shows it as one line with exit code 2."""


def file_mode() -> int:
    """The mode a new file gets from ``open()`` under the current umask: ``0o666 & ~umask``."""
    with _UMASK_LOCK:  # the umask can only be read by setting it
        mask = os.umask(0)
        os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | os.PathLike[str], data: bytes | Callable[[BinaryIO], None]) -> Path:
    """Write ``data`` (bytes, or a function writing to a binary handle) to ``path`` atomically.

    Args:
        path: the target file; its folder is created when missing.
        data: the content, or ``writer(handle)`` for large objects (``torch.save``,
            ``np.savez``) that stream into the handle.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OutputError: the folder cannot be created or the file cannot be written; the previous
            file at ``path`` (if any) is unchanged.
    """
    target = Path(path)
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            else:
                data(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except OSError as err:
        _remove(tmp)
        cause = err.strerror or str(err) or type(err).__name__
        raise OutputError(
            f"cannot write {target}: {cause} (the previous {target.name}, if any, is kept)"
        ) from err
    except BaseException:
        _remove(tmp)
        raise
    return target


def _remove(tmp: str | None) -> None:
    if tmp is not None:
        try:
            os.unlink(tmp)
        except OSError:
            pass  # never written, or the folder itself is gone
