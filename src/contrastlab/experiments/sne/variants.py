"""The parts of ``reproduce sne`` beside its claims: the Student-t tail sweep (nu) at a low
feature dimension, and the domain-agnostic augmentations on vector data (Gaussian noise against
mixup), both seed-paired and reported with their spread, not decided by a rule of their own.

* nu sweep: ``student_t:nu=NU,s=S`` (S the sweep's Student-t scale) at ``nu_dim``, every seed,
  scored like the dimension sweep (``compute.evaluate_run``); nu = 1 is the Cauchy kernel and
  large nu approaches the Gaussian, so the sweep shows whether heavier tails help at low dimension.
* augmentations: the sweep's cosine kernel on vectors (the MLP backbone, 128-d output) trained
  twice per seed, once with Gaussian noise only (``augment_noise`` times each feature's spread)
  and once with mixup only (a share ``U(0, augment_mixup)`` of a random partner), scored by the
  trainer's final kNN (k = 20) and linear probe. The SNE paper reads both as choices of the input
  similarity P (noise: P from Euclidean distance; mixup: P along the segments between samples).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from contrastlab.experiments._common import progress
from contrastlab.experiments._paired import paired_gain
from contrastlab.experiments.sne.compute import evaluate_run, sweep_config
from contrastlab.experiments.sne.settings import Settings

AUGMENTATIONS = ("noise", "mixup")


def nu_sweep(settings: Settings, sweep: list[dict[str, Any]], work: Path) -> list[dict[str, Any]]:
    """Rows ``{"nu", "dim", "seed", scores...}``; the dimension sweep's own Student-t runs are
    reused where their nu and dimension match."""
    from contrastlab.train.trainer import train

    spec = next(dict(s) for s in settings.sweep_kernels if s["name"] == "student_t")
    rows = [
        {**r, "nu": spec["nu"]}
        for r in sweep
        if r["kernel"] == "student_t" and r["dim"] == settings.nu_dim
    ]
    todo = [
        (nu, seed)
        for nu in settings.nu_values
        for seed in range(settings.seeds)
        if not any(r["nu"] == nu and r["seed"] == seed for r in rows)
    ]
    with progress(len(todo), "sne nu sweep") as advance:
        for nu, seed in todo:
            run_dir = work / f"student_t_nu{nu:g}_d{settings.nu_dim}_seed{seed}"
            kernel = {**spec, "nu": float(nu)}
            trained = train(
                sweep_config(settings, kernel, settings.nu_dim, seed), run_dir, log=lambda _: None
            )
            scores = evaluate_run(run_dir, settings, seed)
            rows.append(
                {"kernel": "student_t", "nu": float(nu), "dim": settings.nu_dim, "seed": seed,
                 "seconds": trained["seconds"], **scores}
            )  # fmt: skip
            advance()
    return sorted(rows, key=lambda r: (r["nu"], r["seed"]))


def vector_source(settings: Settings, work: Path) -> str:
    """The data source of the augmentation comparison: digits written as 64-d vectors (pixel
    values / 16), or the user's ``npz:PATH``."""
    if settings.augment_data != "digits":
        return settings.augment_data
    from sklearn.datasets import load_digits

    digits = load_digits()
    path = work / "digits_vectors.npz"
    np.savez(path, features=(digits.data / 16.0).astype(np.float32), labels=digits.target)
    return f"npz:{path}"


def augmentation_runs(settings: Settings, work: Path) -> list[dict[str, Any]]:
    """Rows ``{"augment", "seed", "knn_top1_k20", "linear_top1", "seconds"}``: noise only and
    mixup only, the same seeds, everything else equal."""
    from contrastlab.train.config import build_config
    from contrastlab.train.trainer import train

    source = vector_source(settings, work)
    cosine = next(dict(s) for s in settings.sweep_kernels if s["name"] == "cosine")
    shapes = {"noise": (settings.augment_noise, 0.0), "mixup": (0.0, settings.augment_mixup)}
    rows = []
    with progress(len(shapes) * settings.seeds, "sne augmentations") as advance:
        for seed in range(settings.seeds):
            for name, (noise, mixup) in shapes.items():
                base = {
                    "data": {"source": source},
                    "loss": {"kernel": cosine},
                    "augment": {"noise": noise, "mixup": mixup},
                    "optim": {"batch_size": settings.batch_size},
                    "train": {"epochs": settings.epochs, "seed": seed, "threads": 1,
                              "progress": False, "time_budget": None},
                    "eval": {"raw_baseline": False},
                    "monitor": {"knn": False, "online_probe": False},
                }  # fmt: skip
                config = build_config(None, base=base)
                result = train(config, work / f"vectors_{name}_seed{seed}", log=lambda _: None)
                final = result["final"]
                rows.append(
                    {"augment": name, "seed": seed, "seconds": float(result["seconds"]),
                     **{k: float(final[k]) for k in ("knn_top1_k20", "linear_top1")}}
                )  # fmt: skip
                advance()
    return rows


def augmentation_comparison(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Mixup minus noise, seed-paired, for kNN (k = 20) and the linear probe: gain, standard
    error, one-sided p of "mixup > noise" (``experiments._paired``)."""
    out: dict[str, float] = {}
    for key in ("knn_top1_k20", "linear_top1"):
        values = {a: {r["seed"]: r[key] for r in rows if r["augment"] == a} for a in AUGMENTATIONS}
        seeds = sorted(set(values["noise"]) & set(values["mixup"]))
        test = paired_gain([values["mixup"][s] for s in seeds], [values["noise"][s] for s in seeds])
        out.update(
            {
                f"{key}.noise": float(np.mean([values["noise"][s] for s in seeds])),
                f"{key}.mixup": float(np.mean([values["mixup"][s] for s in seeds])),
                f"{key}.gain": test.gain,
                f"{key}.standard_error": test.standard_error,
                f"{key}.p_mixup_better": test.p_value,
            }
        )
    out["seeds"] = float(len(rows) // len(AUGMENTATIONS))
    return out
