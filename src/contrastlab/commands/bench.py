"""Benchmarks that print ratios measured in the same run (loss engine, RLD, augmentation)."""

from __future__ import annotations

import argparse
import importlib

# name -> module providing add_arguments(parser) and run(args) -> int
BENCHMARKS: dict[str, str] = {
    "loss": "contrastlab.bench.loss",
    "rld": "contrastlab.bench.rld",
    "augment": "contrastlab.bench.augment",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="benchmark", required=True, parser_class=type(parser))
    for name, module_name in BENCHMARKS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:
                continue
            raise
        doc = (module.__doc__ or name).strip().splitlines()[0]
        bench_parser = sub.add_parser(name, help=doc, description=doc)
        module.add_arguments(bench_parser)
        bench_parser.set_defaults(_bench_run=module.run)


def run(args: argparse.Namespace) -> int:
    return int(args._bench_run(args) or 0)
