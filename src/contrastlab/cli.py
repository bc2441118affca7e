"""The ``contrastlab`` command line: parses arguments and calls the library, nothing else.

Each command lives in ``contrastlab.commands.<name>`` and provides ``add_arguments(parser)``
and ``run(args) -> int``; the module docstring's first line is its help text. Bad input
(``ValueError``, missing files) ends with a one-line message on stderr and exit code 2; set
``CONTRASTLAB_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

COMMANDS: dict[str, str] = {
    "demo": "contrastlab.commands.demo",
    "train": "contrastlab.commands.train",
    "embed": "contrastlab.commands.embed",
    "analyze": "contrastlab.commands.analyze",
    "embed2d": "contrastlab.commands.embed2d",
    "reproduce": "contrastlab.commands.reproduce",
    "bench": "contrastlab.commands.bench",
}

USER_ERRORS = (
    ValueError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep its message to one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with one sub-command per available command module."""
    parser = _Parser(
        prog="contrastlab",
        description="Kernel InfoNCE losses, contrastive training and diagnostics.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:  # command not part of this build
                continue
            raise
        doc = (module.__doc__ or name).strip().splitlines()[0]
        command_parser = sub.add_parser(name, help=doc, description=doc)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from contrastlab import __version__

        print(__version__)
        return 0
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except USER_ERRORS as err:
        if os.environ.get("CONTRASTLAB_DEBUG"):
            raise
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        if isinstance(err, OSError) and err.filename and str(err.filename) not in message:
            message = f"{message}: {err.filename}"
        sys.stderr.write(f"contrastlab {args.command}: error: {message}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
