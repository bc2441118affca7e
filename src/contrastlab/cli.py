"""The ``contrastlab`` command line: parses arguments and calls the library, nothing else.

Each command lives in ``contrastlab.commands.<name>`` and provides ``add_arguments(parser)``
and ``run(args) -> int``; the module docstring's first line is its help text. Bad input
(``ValueError``, missing files) ends with a one-line message on stderr and exit code 2; set
``CONTRASTLAB_DEBUG=1`` to see the traceback instead. A run stopped on purpose
(:class:`~contrastlab.errors.RunStopped`) is one line too, with its own exit code: 75 when
preempted by SIGTERM or SIGINT (a checkpoint at the current step was saved; ``--resume``
continues), 3 when the loss or the embeddings became non-finite (the last good checkpoint is
kept).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence

from contrastlab.errors import RunStopped
from contrastlab.files import OutputError

# name -> (module, one-line help). Only the module of the command being run is imported, so
# `contrastlab --help` and usage errors answer without loading torch.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("contrastlab.commands.demo", "the main job: three kernels trained on digits, report"),
    "train": ("contrastlab.commands.train", "train a contrastive model with any kernel"),
    "embed": ("contrastlab.commands.embed", "backbone features of a dataset from a trained run"),
    "analyze": ("contrastlab.commands.analyze", "diagnostics (RLD, purity, probes) of embeddings"),
    "embed2d": ("contrastlab.commands.embed2d", "a 2-D map of a dataset, beside t-SNE"),
    "reproduce": ("contrastlab.commands.reproduce", "check a paper's claims with numbers"),
    "bench": ("contrastlab.commands.bench", "benchmarks: ratios measured in one run"),
}

USER_ERRORS = (
    ValueError,
    OutputError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors already; keep its message to one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _available(module_name: str) -> bool:
    return importlib.util.find_spec(module_name) is not None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported to add its arguments."""
    parser = _Parser(
        prog="contrastlab", description="Kernel InfoNCE losses, contrastive training, diagnostics."
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    for name, (module_name, doc) in COMMANDS.items():
        if not _available(module_name):  # command not part of this build
            continue
        command_parser = sub.add_parser(name, help=doc, description=doc)
        if name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser)
            command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in arguments if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(arguments)
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
    except RunStopped as err:  # preempted or diverged: the message says what was kept
        sys.stderr.write(f"contrastlab {args.command}: {err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
