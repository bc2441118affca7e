"""Reproduce a paper's claims and say, with numbers, whether they hold."""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path
from typing import Any

from contrastlab.errors import InputError
from contrastlab.experiments import EXPERIMENTS
from contrastlab.report import claims_table, write_json
from contrastlab.settings import apply_overrides


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help=f"one of {', '.join(EXPERIMENTS)}, or all")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--quick", action="store_true", help="smaller settings, about a minute")
    parser.add_argument(
        "--data",
        metavar="SRC",
        help="data source for experiments trained on data (clusters, rld, sne, kernels): "
        "digits, npz:PATH, folder:PATH or a torchvision name",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting (repeatable)",
    )


def _load(name: str) -> Any:
    try:
        return importlib.import_module(EXPERIMENTS[name])
    except ModuleNotFoundError as err:
        if err.name == EXPERIMENTS[name]:
            raise InputError(f"experiment {name!r} is not available in this build") from err
        raise


def run_experiment(
    name: str, out: Path, quick: bool, overrides: list[str], data: str | None = None
) -> dict[str, Any]:
    """Run one experiment and write its folder; returns the metrics written.

    ``data`` sets the ``data`` setting of experiments that train on a data source.
    """
    module = _load(name)
    settings = dict(module.DEFAULTS)
    if quick:
        settings.update(module.QUICK)
    if data is not None:
        if "data" not in settings:
            raise InputError(f"experiment {name!r} does not take --data (its data are generated)")
        settings["data"] = data
    settings = apply_overrides(settings, overrides)
    start = time.perf_counter()
    result = module.run(settings)
    seconds = time.perf_counter() - start
    metrics = {
        "experiment": name,
        "quick": quick,
        "settings": settings,
        "seconds": seconds,
        "claims": [c.to_json() for c in result.claims],
        **result.metrics,
    }
    report = result.report
    report.heading("Verdicts")
    columns, rows = claims_table(result.claims)
    report.table(columns, rows)
    report.heading("Settings")
    report.code("\n".join(f"{k}: {v}" for k, v in settings.items()))
    report.text(f"Run time: {seconds:.1f} s. Quick mode: {quick}.")
    report.save(out, metrics)
    return metrics


def _takes_data(name: str) -> bool:
    return "data" in _load(name).DEFAULTS


def run(args: argparse.Namespace) -> int:
    names = list(EXPERIMENTS) if args.name == "all" else [args.name]
    if args.name != "all" and args.name not in EXPERIMENTS:
        raise InputError(
            f"unknown experiment {args.name!r}; choose from {', '.join(EXPERIMENTS)}, all"
        )
    out = Path(args.out)
    summary: dict[str, Any] = {}
    for name in names:
        target = out / name if len(names) > 1 else out
        takes_data = args.data is not None and (len(names) == 1 or _takes_data(name))
        metrics = run_experiment(
            name, target, args.quick, args.overrides, args.data if takes_data else None
        )
        summary[name] = metrics["claims"]
        for claim in metrics["claims"]:
            verdict = "supported" if claim["supported"] else "NOT supported"
            print(f"[{name}] {claim['id']}: {verdict}")
    if len(names) > 1:
        write_json(out / "metrics.json", {"experiment": "all", "claims": summary})
    print(f"report: {out}")
    return 0
