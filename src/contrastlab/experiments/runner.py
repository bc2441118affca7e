"""Run the reproductions: build and check their settings, run them, write their folders.

An experiment is a module (or package) of ``EXPERIMENTS`` exposing ``Settings`` (a frozen
settings dataclass of :mod:`contrastlab.settings`), ``QUICK`` (the overrides of ``--quick``),
``check(settings)`` (cross-field checks) and ``run(settings) -> ExperimentResult``. Its settings
are built in one way only, here::

    settings = with_overrides(from_mapping(Settings, {**QUICK (if quick), "data": data}), overrides)
    check(settings)

so an unknown key, a value out of range and a cross-field error all stop before any work.
(Experiments still in the older form, ``DEFAULTS``/``QUICK`` dicts and an optional ``check``, are
run too: their settings are the plain dict with the overrides applied, checked by their
``check`` or ``_check``.)

:func:`run_all` (``reproduce all``) runs every experiment in order into ``OUT/<name>/`` and
writes the index (:func:`contrastlab.report.index.index_report`). Its rules:

* ``--set key=value`` goes to the experiments whose settings have the top-level ``key``; a key
  that no experiment has is an error. The settings of every experiment are built and checked
  before any experiment runs, so a bad value for the last one stops the command at once.
* ``--data`` goes to the experiments that train on a data source (settings with ``data``).
* An experiment that fails while running (any exception, or a module missing from this build) is
  recorded in the index and in ``metrics.json`` under ``error``; the others still run.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from contrastlab.errors import InputError
from contrastlab.experiments import EXPERIMENTS
from contrastlab.report import claims_table, verdict_of
from contrastlab.report.index import index_report
from contrastlab.settings import (
    apply_overrides,
    from_mapping,
    parse_override,
    to_mapping,
    with_overrides,
)

__all__ = [
    "Prepared",
    "load_experiment",
    "prepare",
    "prepare_all",
    "run_all",
    "run_one",
    "run_prepared",
    "settings_for",
]


@dataclass(frozen=True)
class Prepared:
    """An experiment ready to run: its name, module and checked settings."""

    name: str
    module: ModuleType
    settings: Any


def load_experiment(name: str) -> ModuleType:
    """The module of experiment ``name`` (a key of ``EXPERIMENTS``).

    Raises:
        InputError: an unknown name, or a module absent from this build.
    """
    if name not in EXPERIMENTS:
        raise InputError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}, all")
    try:
        return importlib.import_module(EXPERIMENTS[name])
    except ModuleNotFoundError as err:
        if err.name == EXPERIMENTS[name]:
            raise InputError(f"experiment {name!r} is not available in this build") from err
        raise


def _keys(module: ModuleType) -> set[str]:
    """The top-level settings keys of an experiment."""
    if hasattr(module, "Settings"):
        return {f.name for f in dataclasses.fields(module.Settings) if f.init}
    return set(module.DEFAULTS)


def prepare(
    name: str,
    module: ModuleType,
    quick: bool = False,
    overrides: Iterable[str] = (),
    data: str | None = None,
) -> Prepared:
    """Build and check the settings of one experiment: defaults, ``QUICK``, ``data``, overrides.

    Raises:
        InputError: ``data`` for an experiment that takes none, a malformed override, an unknown
            key, a value out of range, or what the experiment's ``check`` rejects.
    """
    if data is not None and "data" not in _keys(module):
        raise InputError(f"experiment {name!r} does not take --data (its data are generated)")
    base: dict[str, Any] = dict(module.QUICK) if quick else {}
    if data is not None:
        base["data"] = data
    settings: Any
    if hasattr(module, "Settings"):
        settings = with_overrides(from_mapping(module.Settings, base), overrides)
    else:  # the older form: plain dicts
        settings = apply_overrides({**module.DEFAULTS, **base}, overrides)
    # The older form's checks may be private (``_check``); they are pure and cheap.
    check = getattr(module, "check", None) or getattr(module, "_check", None)
    if check is not None:
        check(settings)
    return Prepared(name, module, settings)


def settings_for(
    name: str, quick: bool = False, overrides: Sequence[str] = (), data: str | None = None
) -> Any:
    """The checked settings of experiment ``name``, built as ``reproduce NAME`` builds them."""
    return prepare(name, load_experiment(name), quick, overrides, data).settings


def _describe(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


def prepare_all(
    names: Sequence[str], quick: bool, overrides: Sequence[str], data: str | None
) -> tuple[list[Prepared], dict[str, str]]:
    """Settings of every experiment (``--set`` routed by top-level key) and those not loadable.

    Raises:
        InputError: a malformed override, a key no loadable experiment has, or a bad value for
            any experiment (the message starts with the experiment's name).
    """
    modules: dict[str, ModuleType] = {}
    missing: dict[str, str] = {}
    for name in names:
        try:
            modules[name] = load_experiment(name)
        except Exception as err:  # a broken or absent module is reported, not fatal
            missing[name] = _describe(err)
    keys = {name: _keys(module) for name, module in modules.items()}
    routed: dict[str, list[str]] = {name: [] for name in modules}
    for text in overrides:
        top = parse_override(text)[0].split(".")[0]
        takers = [name for name, have in keys.items() if top in have]
        if not takers:
            raise InputError(f"--set {top}: no experiment has this setting")
        for name in takers:
            routed[name].append(text)
    plan = []
    for name, module in modules.items():
        takes_data = data if "data" in keys[name] else None
        try:
            plan.append(prepare(name, module, quick, routed[name], takes_data))
        except ValueError as err:  # InputError, or a kernel spec's own ValueError
            raise InputError(f"{name}: {err}") from err
    return plan, missing


QUICK_VERDICTS = (
    "indicative: quick mode runs fewer seeds and smaller settings than full mode, which decides; "
    "the experiment's report lists where the two are known to differ"
)


def run_prepared(prepared: Prepared, out: Path, quick: bool) -> dict[str, Any]:
    """Run one prepared experiment, append verdicts and settings to its report, write both."""
    start = time.perf_counter()
    result = prepared.module.run(prepared.settings)
    seconds = time.perf_counter() - start
    settings = to_mapping(prepared.settings)
    metrics = {
        "experiment": prepared.name,
        "quick": quick,
        "settings": settings,
        "seconds": seconds,
        "claims": [c.to_json() for c in result.claims],
        **result.metrics,
    }
    if quick:
        metrics.setdefault("verdicts", QUICK_VERDICTS)
    report = result.report
    report.heading("Verdicts")
    if quick:
        report.text(QUICK_VERDICTS)
    columns, rows = claims_table(result.claims)
    report.table(columns, rows)
    report.heading("Settings")
    report.code("\n".join(f"{k}: {v}" for k, v in settings.items()))
    report.text(f"Run time: {seconds:.1f} s. Quick mode: {quick}.")
    report.save(out, metrics)
    return metrics


def print_claims(name: str, claims: Iterable[dict[str, Any]]) -> None:
    """One line per claim on stdout: ``[name] id: supported``, ``NOT supported`` or
    ``inconclusive (reason)``."""
    for claim in claims:
        verdict = verdict_of(claim["supported"], claim.get("conclusive", True))
        if verdict == "not supported":
            verdict = "NOT supported"
        elif verdict == "inconclusive":
            verdict += f" ({claim.get('reason', '')})"
        print(f"[{name}] {claim['id']}: {verdict}", flush=True)


def run_one(
    name: str,
    out: Path,
    quick: bool = False,
    overrides: Sequence[str] = (),
    data: str | None = None,
) -> dict[str, Any]:
    """Run experiment ``name`` into ``out`` and print its verdicts; returns the metrics written."""
    metrics = run_prepared(prepare(name, load_experiment(name), quick, overrides, data), out, quick)
    print_claims(name, metrics["claims"])
    return metrics


def _run_entry(prepared: Prepared, out: Path, quick: bool) -> tuple[dict[str, Any], list[Any]]:
    """Run one experiment of ``all``: its index entry and its claims (empty on failure)."""
    begin = time.perf_counter()
    entry: dict[str, Any] = {"seconds": 0.0, "supported": 0, "total": 0}
    claims: list[Any] = []
    try:
        metrics = run_prepared(prepared, out / prepared.name, quick)
    except Exception as err:  # record and go on: one failure must not lose the rest
        entry["error"] = _describe(err)
    else:
        claims = metrics["claims"]
        entry["supported"] = sum(bool(c["supported"]) for c in claims)
        entry["inconclusive"] = sum(not c.get("conclusive", True) for c in claims)
        entry["total"] = len(claims)
        print_claims(prepared.name, claims)
    entry["seconds"] = time.perf_counter() - begin
    return entry, claims


def run_all(
    out: Path, quick: bool = False, overrides: Sequence[str] = (), data: str | None = None
) -> dict[str, Any]:
    """Run every experiment into ``out/<name>`` and write the index; returns its metrics.

    Raises:
        InputError: any experiment's settings are bad (before anything runs).
    """
    started = time.perf_counter()
    names = list(EXPERIMENTS)
    plan, missing = prepare_all(names, quick, overrides, data)
    prepared = {p.name: p for p in plan}
    claims: dict[str, list[Any]] = {}
    summary: dict[str, dict[str, Any]] = {}
    for name in names:
        if name in missing:
            entry: dict[str, Any] = {"seconds": 0.0, "supported": 0, "total": 0}
            entry["error"] = missing[name]
        else:
            entry, found = _run_entry(prepared[name], out, quick)
            if "error" not in entry:
                claims[name] = found
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
    index_report(out, result).save(out, result)
    return result
