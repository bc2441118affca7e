"""The one exception type that marks bad user input, and the whole-number check that raises it.

``InputError`` is a ``ValueError`` so API users can catch either; the command line turns it (and
any ``ValueError`` or missing file) into a one-line message and exit code 2.
"""

from __future__ import annotations

from numbers import Integral


class InputError(ValueError):
    """Bad user input: a missing file, a wrong shape, an unknown name, a bad parameter value."""


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an ``int``: a whole number (a Python or NumPy integer, any
    ``numbers.Integral`` but a bool) of at least ``minimum``.

    Raises:
        InputError: ``"{name}: must be an integer >= {minimum}, got {value!r}"``.
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise InputError(f"{name}: must be an integer >= {minimum}, got {value!r}")
    return int(value)


class RunStopped(Exception):
    """A run that stopped early on purpose; the command line prints the message as one line and
    exits with :attr:`exit_code`."""

    exit_code = 1


class Preempted(RunStopped):
    """SIGTERM or SIGINT: a checkpoint was saved at the current step; ``--resume`` continues.
    Exit code 75 (``EX_TEMPFAIL``: try again later), which schedulers can requeue on."""

    exit_code = 75


class Diverged(RunStopped):
    """A non-finite loss or embedding; the last good checkpoint is kept. Exit code 3."""

    exit_code = 3
