"""The numbers of ``reproduce kernels``: one trainer configuration per run, every run, summaries."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contrastlab.experiments._common import mean_sd, progress
from contrastlab.experiments.kernels.claims import SCORES
from contrastlab.experiments.kernels.settings import Settings, _config_folder, names
from contrastlab.specs import loss_spec


def run_config(
    settings: Settings,
    kernel: str | Mapping[str, Any],
    seed: int,
    full: bool,
    raw_baseline: bool = False,
) -> dict[str, Any]:
    """The trainer configuration of one run (the GPU config file at full scale).

    The experiment's choices (data, kernel, seed, epochs, batch size, one thread, monitors off)
    form the ``base`` of :func:`contrastlab.train.config.build_config`; the user's
    ``train_overrides`` are applied over it and win. At full scale the base sits over
    ``configs/cifar10_<name>.yaml`` (the cosine file for a kernel without its own;
    ``cifar10_<name>_resnet50.yaml`` with ``full_model=resnet50``).

    Args:
        kernel: a kernel (or loss_sum) spec in any accepted form; normalised here.
        raw_baseline: also score the raw inputs (the first run only).
    """
    from contrastlab.train.config import build_config

    spec = loss_spec(kernel)
    train: dict[str, Any] = {"seed": seed, "progress": False}
    base: dict[str, Any] = {
        "data": {"source": settings.data},
        "loss": {"kernel": spec},
        "train": train,
        "monitor": {"knn": False, "online_probe": False},
        "eval": {"raw_baseline": raw_baseline},
    }
    if full:
        folder = _config_folder(settings)
        suffix = "" if settings.full_model == "resnet18" else f"_{settings.full_model}"
        own = folder / f"cifar10_{spec['name']}{suffix}.yaml"
        config_file = own if own.is_file() else folder / f"cifar10_cosine{suffix}.yaml"
        if settings.full_epochs is not None:
            train["epochs"] = settings.full_epochs
        return _checked(build_config(config_file, settings.train_overrides, base=base))
    # One thread: on a busy two-core machine a second thread mostly waits (see demo).
    # planning off: the experiment fixes model and length, and a timed plan per run costs
    train.update(epochs=settings.epochs, threads=1, time_budget=None)
    base["optim"] = {"batch_size": settings.batch_size}
    base["model"] = {"backbone": settings.cpu_backbone}
    return _checked(build_config(None, settings.train_overrides, base=base))


def _checked(config: dict[str, Any]) -> dict[str, Any]:
    """``config``, refused when a concat's column split does not cover the projector's output
    (a canonical concat spec carries its split, 64 + 64 for the 128-d default)."""
    from contrastlab.errors import InputError

    spec, width = config["loss"]["kernel"], config["model"]["projector_dim"]
    if isinstance(spec, Mapping) and spec.get("name") == "concat" and "split" in spec:
        if sum(spec["split"]) != width:
            raise InputError(
                f"kernels: concat splits {sum(spec['split'])} columns {list(spec['split'])} "
                f"but model.projector_dim is {width}; give concat a split summing to {width}"
            )
    return config


def _row(result: dict[str, Any], seed: int) -> dict[str, Any]:
    """One run's scores, times and sizes from the trainer's metrics."""
    return {
        "seed": seed,
        **{s: float(result["final"][s]) for s in SCORES},
        "train_seconds": float(sum(r["step_seconds"] for r in result["history"])),
        "seconds": float(result["seconds"]),
        "images_per_second": float(result["images_per_second"]),
        "epochs": int(result["epochs"]),
        "train_size": int(result["train_size"]),
        "test_size": int(result["test_size"]),
        "kernel_repr": str(result["kernel"]),
    }


def train_all(settings: Settings, runs_dir: Path, full: bool) -> dict[str, Any]:
    """Train every kernel with every seed, seed-major (a round of seeds covers every kernel, so
    a stopped run still pairs every kernel with cosine on each seed it completed).

    With ``settings.budget_minutes`` set, a new round starts only while the rounds so far,
    continued at their mean pace, end within the budget; the first round always runs. The
    decision uses only elapsed time, never a score. Returns per-run results, the raw-input
    reference, and ``rounds`` (completed seeds), ``stopped_by_budget``, ``seconds``.
    """
    import time

    seeds = [settings.seed + i for i in range(settings.seeds)]
    specs = dict(zip(names(settings), settings.kernels))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in specs}
    raw: dict[str, float] = {}
    started, stopped = time.perf_counter(), False
    budget = None if settings.budget_minutes is None else 60.0 * settings.budget_minutes
    with progress(len(runs) * len(seeds), "kernels") as tick:
        for done, seed in enumerate(seeds):
            elapsed = time.perf_counter() - started
            if budget is not None and done and elapsed * (done + 1) / done > budget:
                stopped = True
                break
            raw = _train_round(settings, specs, seed, runs_dir, full, runs, first=not done) or raw
            for _ in specs:
                tick()
    return {
        "runs": runs,
        "raw": {k: float(v) for k, v in raw.items()},
        "rounds": len(runs["cosine"]) if "cosine" in runs else 0,
        "stopped_by_budget": stopped,
        "seconds": time.perf_counter() - started,
    }


def _train_round(
    settings: Settings,
    specs: dict[str, Any],
    seed: int,
    runs_dir: Path,
    full: bool,
    runs: dict[str, list[dict[str, Any]]],
    first: bool,
) -> dict[str, float]:
    """One seed of every kernel, appended to ``runs``; the raw-input scores of the first run."""
    from contrastlab.train.trainer import train

    raw: dict[str, float] = {}
    for name, spec in specs.items():
        wanted = settings.raw_baseline and first and not raw
        config = run_config(settings, spec, seed, full, raw_baseline=wanted)
        result = train(config, runs_dir / f"{name}_seed{seed}", log=lambda _: None)
        raw = result.get("raw_pixels", result.get("raw_features", raw))
        runs[name].append(_row(result, seed))
    return raw


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Per kernel: mean and sample standard deviation over seeds of each score and the time."""
    summary: dict[str, dict[str, float]] = {}
    for kernel, rows in runs.items():
        entry: dict[str, float] = {"n": float(len(rows))}
        for key in (*SCORES, "train_seconds", "images_per_second"):
            entry[f"{key}_mean"], entry[f"{key}_sd"] = mean_sd([r[key] for r in rows])
        summary[kernel] = entry
    return summary
