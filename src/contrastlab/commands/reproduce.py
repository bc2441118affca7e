"""Reproduce a paper's claims and say, with numbers, whether they hold.

``reproduce NAME`` runs one experiment into ``--out``. ``reproduce all`` runs every experiment of
``EXPERIMENTS`` in order into ``OUT/<name>/`` and writes an index ``OUT/report.html`` (one row per
experiment, linking its report, with its run time and claims supported / total, then one table of
every claim) and ``OUT/metrics.json``.

Rules of ``all`` (documented choices):

* ``--set key=value`` applies to the experiments whose settings have the top-level ``key``; a key
  that no experiment has is an error. Every experiment's settings are built and checked against
  the overrides before any experiment runs (and passed to the experiment's ``check(settings)``
  where it has one), so a typo stops the command with exit 2 at once.
* ``--data`` applies to the experiments that train on a data source (settings with ``data``).
* An experiment that fails while running (any exception, including an input error only its own
  checks find, or a module missing from this build) is recorded in the index and in
  ``metrics.json`` under ``error``; the others still run, and the command then exits 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path
from typing import Any

from contrastlab.errors import InputError
from contrastlab.experiments import EXPERIMENTS
from contrastlab.report import Link, Report, claims_table
from contrastlab.settings import apply_overrides, parse_override


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
        help="override a setting (repeatable; with all: applied to the experiments that have it)",
    )


def _load(name: str) -> Any:
    try:
        return importlib.import_module(EXPERIMENTS[name])
    except ModuleNotFoundError as err:
        if err.name == EXPERIMENTS[name]:
            raise InputError(f"experiment {name!r} is not available in this build") from err
        raise


def _base_settings(module: Any, quick: bool) -> dict[str, Any]:
    settings = dict(module.DEFAULTS)
    if quick:
        settings.update(module.QUICK)
    return settings


def prepare_settings(
    name: str, quick: bool, overrides: list[str], data: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """The experiment's module and its settings: defaults, ``QUICK``, ``data``, overrides."""
    module = _load(name)
    settings = _base_settings(module, quick)
    if data is not None:
        if "data" not in settings:
            raise InputError(f"experiment {name!r} does not take --data (its data are generated)")
        settings["data"] = data
    return module, apply_overrides(settings, overrides)


def execute(
    name: str, module: Any, settings: dict[str, Any], out: Path, quick: bool
) -> dict[str, Any]:
    """Run one prepared experiment, append verdicts and settings to its report, write both."""
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


def run_experiment(
    name: str, out: Path, quick: bool, overrides: list[str], data: str | None = None
) -> dict[str, Any]:
    """Run one experiment and write its folder; returns the metrics written.

    ``data`` sets the ``data`` setting of experiments that train on a data source.
    """
    module, settings = prepare_settings(name, quick, overrides, data)
    return execute(name, module, settings, out, quick)


def plan_all(
    names: list[str], quick: bool, overrides: list[str], data: str | None
) -> tuple[dict[str, tuple[Any, dict[str, Any]]], dict[str, str]]:
    """Settings of every experiment (``--set`` routed by top-level key) and those not loadable.

    Raises:
        InputError: a malformed override, a key no loadable experiment has, or a bad value.
    """
    modules: dict[str, Any] = {}
    missing: dict[str, str] = {}
    for name in names:
        try:
            modules[name] = _load(name)
        except Exception as err:  # a broken or absent module is reported, not fatal
            missing[name] = _describe(err)
    bases = {n: _base_settings(m, quick) for n, m in modules.items()}
    routed: dict[str, list[str]] = {n: [] for n in modules}
    for text in overrides:
        top = parse_override(text)[0].split(".")[0]
        takers = [n for n, base in bases.items() if top in base]
        if not takers:
            raise InputError(f"--set {top}: no experiment has this setting")
        for n in takers:
            routed[n].append(text)
    plan: dict[str, tuple[Any, dict[str, Any]]] = {}
    for name, module in modules.items():
        takes_data = data is not None and "data" in bases[name]
        settings = bases[name]
        if takes_data:
            settings["data"] = data
        try:
            plan[name] = (module, apply_overrides(settings, routed[name]))
            if hasattr(module, "check"):  # an experiment's own early checks, before any work
                module.check(plan[name][1])
        except InputError as err:
            raise InputError(f"{name}: {err}") from err
    return plan, missing


def _describe(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


def run_all(
    out: Path, quick: bool, overrides: list[str], data: str | None = None
) -> dict[str, Any]:
    """Run every experiment into ``out/<name>`` and write the index; returns its metrics."""
    started = time.perf_counter()
    names = list(EXPERIMENTS)
    plan, missing = plan_all(names, quick, overrides, data)
    claims: dict[str, list[dict[str, Any]]] = {}
    summary: dict[str, dict[str, Any]] = {}
    for name in names:
        entry: dict[str, Any] = {"seconds": 0.0, "supported": 0, "total": 0}
        if name in missing:
            entry["error"] = missing[name]
        else:
            begin = time.perf_counter()
            try:
                metrics = execute(name, *plan[name], out / name, quick)
            except Exception as err:  # record and go on: one failure must not lose the rest
                entry["error"] = _describe(err)
            else:
                claims[name] = metrics["claims"]
                entry["supported"] = sum(bool(c["supported"]) for c in metrics["claims"])
                entry["total"] = len(metrics["claims"])
                _print_claims(name, metrics["claims"])
            entry["seconds"] = time.perf_counter() - begin
        if "error" in entry:
            print(f"[{name}] FAILED: {entry['error']}", file=sys.stderr, flush=True)
        summary[name] = entry
    result = {
        "experiment": "all",
        "quick": quick,
        "claims": claims,
        "experiments": summary,
        "seconds": time.perf_counter() - started,
    }
    _index_report(out, result).save(out, result)
    return result


def _index_report(out: Path, result: dict[str, Any]) -> Report:
    report = Report("contrastlab: every reproduction")
    report.text(
        f"Each experiment ran with its {'quick' if result['quick'] else 'full'} settings into "
        "its own folder; follow a link for its report (what was done, data, settings, tables, "
        f"figures and verdicts). Total time {result['seconds']:.0f} s."
    )
    rows = []
    for name, entry in result["experiments"].items():
        exists = (out / name / "report.html").is_file() and "error" not in entry
        rows.append(
            [
                Link(name, f"{name}/report.html") if exists else name,
                f"{entry['supported']} / {entry['total']}",
                entry["seconds"],
                entry.get("error", "ok"),
            ]
        )
    report.table(["experiment", "claims supported", "seconds", "status"], rows, "Experiments")
    report.heading("Every claim")
    report.table(
        ["experiment", "claim", "statement", "supported", "rule", "evidence"],
        [
            [
                name,
                c["id"],
                c["statement"],
                bool(c["supported"]),
                c.get("rule", ""),
                ", ".join(f"{k}={v:.4g}" for k, v in c["evidence"].items() if v is not None),
            ]
            for name, claims in result["claims"].items()
            for c in claims
        ],
    )
    return report


def _print_claims(name: str, claims: list[dict[str, Any]]) -> None:
    for claim in claims:
        verdict = "supported" if claim["supported"] else "NOT supported"
        print(f"[{name}] {claim['id']}: {verdict}", flush=True)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.name == "all":
        result = run_all(out, args.quick, args.overrides, args.data)
        failed = [n for n, e in result["experiments"].items() if "error" in e]
        print(f"report: {out / 'report.html'}")
        if failed:
            print(f"failed: {', '.join(failed)}", file=sys.stderr)
            return 1
        return 0
    if args.name not in EXPERIMENTS:
        raise InputError(
            f"unknown experiment {args.name!r}; choose from {', '.join(EXPERIMENTS)}, all"
        )
    metrics = run_experiment(args.name, out, args.quick, args.overrides, args.data)
    _print_claims(args.name, metrics["claims"])
    print(f"report: {out}")
    return 0
