"""The numbers of ``reproduce rld``: toy sets, the two trained models, their measurements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from contrastlab import analysis
from contrastlab.data.toys import TOY_FAMILIES, make_toy
from contrastlab.errors import InputError
from contrastlab.experiments.rld.settings import Settings

MODELS = ("contrastive", "supervised")


def toy_seeds(settings: Settings) -> list[int]:
    """The seeds of the toy draws: ``seed, seed + 1, ..., seed + toy_seeds - 1``."""
    return [settings.seed + i for i in range(settings.toy_seeds)]


def toys(settings: Settings) -> dict[str, dict[str, dict[str, Any]]]:
    """RLD at ``toy_t`` and CH of each toy set of both families, on the raw 2-D coordinates.

    Returns ``family -> name -> {"rld": [one per seed], "calinski_harabasz": [...], "X", "y"}``
    with ``X, y`` the first seed's draw (for the figure); families ``"authors"`` (the authors'
    shapes, ``data.toys.AUTHORS_TOY_SETS``) and ``"project"`` (``PROJECT_TOY_SETS``).
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for family, sets in TOY_FAMILIES.items():
        out[family] = {}
        for name in sets:
            entry: dict[str, Any] = {"rld": [], "calinski_harabasz": []}
            for seed in toy_seeds(settings):
                X, y = make_toy(name, n_per_class=settings.toy_points, seed=seed, family=family)
                entry["rld"].append(
                    analysis.rld(X, y, t=settings.toy_t, normalize=False, compile=False)
                )
                entry["calinski_harabasz"].append(analysis.calinski_harabasz(X, y, normalize=False))
                if "X" not in entry:
                    entry["X"], entry["y"] = X, y
            out[family][name] = entry
    return out


def train_config(settings: Settings) -> dict[str, Any]:
    """The trainer configuration both models share.

    The experiment's own choices form the ``base``; the user's ``train_overrides`` are applied
    over it, so they win. Snapshots are kept at the ``checkpoints`` up to the epochs the
    configuration ends with, and at that last epoch.
    """
    from contrastlab.train.config import build_config

    base = {
        "data": {"source": settings.data},
        "loss": {"kernel": dict(settings.kernel)},
        "optim": {"batch_size": settings.batch_size},
        "train": {
            "epochs": settings.epochs,
            "seed": settings.seed,
            "threads": 1,
            "progress": False,
            "time_budget": None,  # the length is fixed: no timed plan per run
        },
        "eval": {"raw_baseline": False, "linear_probe": False},
        "monitor": {"knn": False, "online_probe": False},
    }
    config = build_config(None, settings.train_overrides, base=base)
    epochs = config["train"]["epochs"]
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise InputError(
            f"train_overrides: train.epochs must be a whole number >= 1, got {epochs!r}"
        )
    config["train"]["save_epochs"] = sorted(
        {e for e in settings.checkpoints if e <= epochs} | {epochs}
    )
    return config


def _embed(
    run_dir: Path, split: str, checkpoint: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Backbone features and labels of one split of a trained run folder."""
    from contrastlab.train.runs import embed, load_run

    return embed(load_run(run_dir, checkpoint), split)


def run_seeds(config: dict[str, Any], settings: Settings) -> list[int]:
    """The training seeds: the configuration's seed (the ``seed`` setting, or the user's
    ``train.seed`` override) and the ``seeds - 1`` after it."""
    first = int(config["train"]["seed"])
    return [first + i for i in range(settings.seeds)]


def train_both(settings: Settings, work: Path) -> dict[str, Any]:
    """Train both models at each seed; per seed the test/train features, labels and
    checkpoint features of each (``"runs"``: one ``{"seed", "contrastive", "supervised"}``
    per seed, the pair of one seed sharing the seed, data and settings)."""
    from contrastlab.train.trainer import load_data

    config = train_config(settings)
    data = load_data(config)
    if not data.labelled:
        raise InputError(f"data {settings.data}: reproduce rld needs labelled train and test")
    runs = []
    for seed in run_seeds(config, settings):
        seeded = {**config, "train": {**config["train"], "seed": seed}}
        runs.append({"seed": seed, **_train_pair(seeded, data, work / f"seed_{seed}")})
    return {
        "runs": runs,
        "saves": config["train"]["save_epochs"],
        "epochs": config["train"]["epochs"],
    }


def _train_pair(config: dict[str, Any], data: Any, work: Path) -> dict[str, Any]:
    """The contrastive and the supervised model of one configuration (one seed)."""
    from contrastlab.train.supervised import train_supervised
    from contrastlab.train.trainer import train

    saves: list[int] = config["train"]["save_epochs"]
    run_dir = work / "contrastive"
    trained = train(config, run_dir, log=lambda _: None)
    contrastive = {
        "train": _embed(run_dir, "train"),
        "test": _embed(run_dir, "test"),
        "checkpoints": {
            e: _embed(run_dir, "test", run_dir / "snapshots" / f"epoch_{e:04d}.pt")[0]
            for e in saves
        },
        "seconds": trained["seconds"],
        "final_loss": trained["history"][-1]["loss"],
    }
    sup = train_supervised(config, data)
    test_y, train_y = data.test_y.numpy(), data.train_y.numpy()
    supervised = {
        "train": (sup.features(data.train_x), train_y),
        "test": (sup.features(data.test_x), test_y),
        "checkpoints": {e: sup.features(data.test_x, sup.snapshots[e]) for e in saves},
        "seconds": sup.seconds,
        "final_loss": sup.history[-1]["loss"],
    }
    return {"contrastive": contrastive, "supervised": supervised}


def purity_ceiling(y: np.ndarray, ks: list[int]) -> dict[int, float]:
    """Best possible purity at each k for these class sizes: mean of min(1, (n_c - 1) / k)."""
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    same = counts[codes] - 1
    return {k: float(np.mean(np.minimum(1.0, same / k))) for k in ks}


def _probes(model: dict[str, Any], settings: Settings, seed: int) -> dict[str, Any]:
    """The linear, kNN and GCN probes, fitted on the training features, scored on the test."""
    (X_train, y_train), (X, y) = model["train"], model["test"]
    return {
        "linear": analysis.linear_probe(X_train, y_train, X, y, seed=seed),
        "knn": analysis.knn_probe(X_train, y_train, X, y, seed=seed),
        "gcn": analysis.gcn_probe(
            X_train, y_train, X, y, seed=seed, t=settings.gcn_t, epochs=settings.gcn_epochs
        ),
    }


def measure(model: dict[str, Any], settings: Settings, seed: int) -> dict[str, Any]:
    """RLD profile, CH, purity and the three probes of one model's features (probes seeded
    with the run's ``seed``)."""
    X, y = model["test"]
    ks = sorted({min(k, len(y) - 1) for k in settings.purity_ks})
    profile = analysis.rld_profile(X, y, list(settings.ts), compile=False)
    purity = analysis.neighbour_purity(X, y, ks)
    ceiling = purity_ceiling(y, ks)
    checkpoints = {
        e: {
            "rld": list(analysis.rld_profile(F, y, profile.ts, compile=False).values),
            "calinski_harabasz": analysis.calinski_harabasz(F, y),
        }
        for e, F in model["checkpoints"].items()
    }
    return {
        "rld": dict(zip(profile.ts, profile.values)),
        "rld_upper_bound": dict(zip(profile.ts, profile.upper_bound)),
        "calinski_harabasz": analysis.calinski_harabasz(X, y),
        "purity": purity,
        "purity_ceiling": ceiling,
        "relative_purity": {k: purity[k] / ceiling[k] for k in ks},
        "probes": _probes(model, settings, seed),
        "checkpoints": checkpoints,
        "seconds": model["seconds"],
        "final_loss": model["final_loss"],
        "test_size": len(y),
        "dim": X.shape[1],
    }


def to_json(m: dict[str, Any]) -> dict[str, Any]:
    """One model's measurements for ``metrics.json``: string keys, probes as their JSON."""
    out = {k: v for k, v in m.items() if k not in ("probes", "checkpoints")}
    out = {
        k: ({str(a): b for a, b in v.items()} if isinstance(v, dict) else v) for k, v in out.items()
    }
    out["probes"] = {name: p.to_json() for name, p in m["probes"].items()}
    out["checkpoints"] = {str(e): v for e, v in m["checkpoints"].items()}
    return out
