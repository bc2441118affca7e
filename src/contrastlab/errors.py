"""The one exception type that marks bad user input.

``InputError`` is a ``ValueError`` so API users can catch either; the command line turns it (and
any ``ValueError`` or missing file) into a one-line message and exit code 2.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: a missing file, a wrong shape, an unknown name, a bad parameter value."""
