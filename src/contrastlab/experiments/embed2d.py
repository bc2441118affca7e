"""A parametric 2-D map of a dataset by contrastive learning with the Cauchy kernel, beside t-SNE.

Recipe (after t-SimCNE, Boehm, Berens and Kobak 2023): stage 1 trains backbone + projector with
the Cauchy kernel ``log K = -log1p(||z - z'||^2 / s)`` (``s = 1``; the setting ``kernel``, a kernel
spec off the unit sphere: ``cauchy`` or ``student_t``) in 128 output dimensions;
stage 2 builds the same model with a 2-d output, copies every stage-1 tensor whose name and shape
match (``model.init_from``: the backbone and the projector's hidden layer; the last linear layer
and the output BatchNorm start fresh) and trains it again with the same kernel. The map of a
sample is the projector's 2-d output in evaluation mode.

Project choice (documented, differs from t-SimCNE): t-SimCNE trains the new 2-d layer alone for
a while, then the whole network. The trainer here has no frozen-layer schedule, so stage 2 trains
everything from the start; its learning-rate warm-up (the first tenth of the epochs) keeps the
early steps of the fresh layer small.

Evaluation: kNN accuracy in 2-D, Euclidean distance, ``k = 15`` majority vote (scikit-learn
``KNeighborsClassifier``), fitted on the 2-d points of the training split and scored on the test
split. t-SNE (openTSNE, an optional dependency) gets the same protocol: fitted on the training
split's raw inputs (pixels in [0, 1], flattened; PCA to 50 dimensions first when there are more,
the usual t-SNE preprocessing), the test split placed by openTSNE's ``transform`` (out-of-sample,
like the network's map). Wall times are measured on one thread for both.

Measured while building this (digits, 20 + 20 epochs, seed 0, busy machine; kept as found, no
default was changed after it): 2-D kNN 0.597 with s = 1 and batch 256, 0.581 with s = 0.1,
0.606 with s = 0.01, 0.600 with batch 64; openTSNE 0.961. The projector's final
``BatchNorm1d(affine=False)`` fixes the map's scale, so ``s`` sets the kernel's width relative to
it, but the gap to t-SNE did not close with it: at this CPU budget (about a hundred optimiser
steps per stage, where t-SimCNE trains for hundreds of epochs) the map is far from converged.
Budget, measured afterwards (digits, s = 1, seed 0): 40 + 40 epochs 0.653, 150 + 150 epochs
0.811 (200 s on one thread). The command keeps 40 + 40 (about a minute); the full
``reproduce sne`` uses 150 + 150.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor, nn

from contrastlab.analysis.neighbours import euclidean_knn_accuracy
from contrastlab.errors import InputError
from contrastlab.experiments._kernel_settings import spec_normaliser, spec_text
from contrastlab.settings import from_mapping, parse_override, setting, to_mapping, with_overrides


@dataclass(frozen=True)
class MapSettings:
    """The map's own settings (the trainer's come as ``--set`` overrides)."""

    stage1_epochs: int = setting(40, low=1, doc="128-d training")
    stage2_epochs: int = setting(40, low=1, doc="2-d training, warm-started from stage 1")
    kernel: dict[str, Any] = setting(
        {"name": "cauchy", "s": 1.0},
        normalise=spec_normaliser("kernel"),
        doc="t-SimCNE's Cauchy kernel; any kernel spec off the unit sphere",
    )
    batch_size: int = setting(256, low=1)
    knn_k: int = setting(15, low=1)
    tsne: bool = setting(True)
    tsne_perplexity: float = setting(30.0, above=0)
    tsne_iterations: int = setting(500, low=1, doc="after openTSNE's 250 exaggeration ones")
    seed: int = setting(0, low=0)


MAPS_FILE = "maps.npz"
TSNE_PCA_DIMS = 50
STAGES = ("stage1_128d", "stage2_2d")


def map_settings(settings: MapSettings | Mapping[str, Any] | None = None) -> MapSettings:
    """``settings`` as checked :class:`MapSettings` (a mapping: keys of it to change).

    Raises:
        InputError: an unknown key, a value out of range, a kernel on the unit sphere.
    """
    if not isinstance(settings, MapSettings):
        known = [f.name for f in fields(MapSettings)]
        for key in settings or {}:
            if key not in known:
                raise InputError(f"unknown embed2d setting {key!r} (known: {', '.join(known)})")
        settings = from_mapping(MapSettings, settings)
    check(settings)
    return settings


def check(settings: MapSettings) -> None:
    """The kernel must leave the map in the plane: a kernel that L2-normalises would put every
    2-d point on the unit circle.

    Raises:
        InputError: naming ``kernel``.
    """
    from contrastlab.specs import build_kernel

    if build_kernel(settings.kernel).normalization != "none":
        raise InputError(
            f"kernel: a 2-D map needs a kernel off the unit sphere (cauchy, student_t), "
            f"got {spec_text(settings.kernel)}"
        )


def embed_2d(
    data_source: str,
    out_dir: str | Path,
    settings: MapSettings | Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Train the two-stage map, compute 2-D kNN accuracy, run t-SNE beside it.

    Args:
        data_source: a data source spec (``digits``, ``npz:PATH``, ...); must be labelled.
        out_dir: folder for the two run folders (``stage1_128d``, ``stage2_2d``) and
            ``maps.npz`` (2-d points and labels of both methods).
        settings: :class:`MapSettings`, or a mapping of its keys to change.
        overrides: training ``--set`` strings (``optim.lr=0.001``) applied to both stages over
            the map's own choices; the keys of :data:`OWN_TRAINING_KEYS` are refused.
        log: one-line progress messages.

    Returns:
        JSON-ready metrics: ``contrastive`` (``knn_2d``, ``seconds``, per stage), ``tsne``
        (``ran``, ``knn_2d``, ``seconds`` or ``note``), ``data``, ``train_size``, ``test_size``.

    Raises:
        InputError: a bad setting or override, an ``out_dir`` that is a file, unlabelled or
            unreadable data; all before any training.
    """
    from contrastlab.report import check_output_folder
    from contrastlab.train.trainer import load_data

    opts = map_settings(settings)
    _check_overrides(overrides)
    out = check_output_folder(out_dir)
    configs = stage_configs(data_source, opts, overrides, out)
    # Read the data once before training, so a bad source or unlabelled data fail at once.
    if not load_data(configs[STAGES[0]]).labelled:
        raise InputError(f"data {data_source}: the 2-D map's kNN accuracy needs labels")
    stages = _train_stages(configs, out, log)
    contrastive, maps, data = _contrastive_map(out / STAGES[1], opts.knn_k)
    contrastive["seconds"] += sum(s["seconds"] for s in stages.values())
    contrastive["stages"] = stages
    tsne = _tsne_block(data, opts, maps, log)
    np.savez(out / MAPS_FILE, allow_pickle=False, **maps)
    return {
        "data": data.name,
        "train_size": len(maps["train_labels"]),
        "test_size": len(maps["test_labels"]),
        "knn_k": opts.knn_k,
        "settings": to_mapping(opts),
        "contrastive": contrastive,
        "tsne": tsne,
    }


def stage_configs(
    data_source: str, opts: MapSettings, overrides: Sequence[str], out: Path
) -> dict[str, dict[str, Any]]:
    """The trainer configuration of each stage: the map's choices as the ``base``, the user's
    ``overrides`` over them (the keys the map owns are refused before, by ``embed_2d``)."""
    from contrastlab.train.config import build_config

    configs = {}
    for name in STAGES:
        two_d = name == STAGES[1]
        base = {
            "data": {"source": data_source},
            "loss": {"kernel": dict(opts.kernel)},
            "optim": {"batch_size": opts.batch_size},
            "train": {
                "epochs": opts.stage2_epochs if two_d else opts.stage1_epochs,
                "seed": opts.seed,
                "threads": 1,
                "progress": False,
            },
            "model": {
                "projector_dim": 2 if two_d else 128,
                "init_from": str(out / STAGES[0]) if two_d else None,
            },
            "eval": {"raw_baseline": False, "linear_probe": False},
            "monitor": {"online_probe": False},
        }
        configs[name] = build_config(None, overrides, base=base)
    return configs


def _train_stages(
    configs: dict[str, dict[str, Any]], out: Path, log: Callable[[str], None]
) -> dict[str, dict[str, Any]]:
    from contrastlab.train.trainer import train

    stages: dict[str, dict[str, Any]] = {}
    for name, config in configs.items():
        log(f"[embed2d] {name}: training")
        metrics = train(config, out / name, log=_prefixed(log, f"[{name}] "))
        stages[name] = {
            "seconds": metrics["seconds"],
            "epochs": metrics["epochs"],
            "backbone_knn_top1_k20": metrics["final"]["knn_top1_k20"],
        }
    return stages


def _contrastive_map(run_dir: Path, k: int) -> tuple[dict[str, Any], dict[str, np.ndarray], Any]:
    """The 2-d outputs of the trained map for both splits, their kNN accuracy, the data."""
    from contrastlab.train import runs

    started = time.perf_counter()
    run = runs.load_run(run_dir)
    data = run.data
    _, train_map = runs.features_and_outputs(run, data.train_x)
    _, test_map = runs.features_and_outputs(run, data.test_x)
    seconds = time.perf_counter() - started
    train_y, test_y = data.train_y.numpy(), data.test_y.numpy()
    contrastive = {
        "knn_2d": euclidean_knn_accuracy(train_map, train_y, test_map, test_y, k),
        "seconds": seconds,
    }
    maps = {
        "contrastive_train": train_map,
        "contrastive_test": test_map,
        "train_labels": train_y,
        "test_labels": test_y,
    }
    return contrastive, maps, data


def _prefixed(log: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    return lambda text: log(f"{prefix}{text}")


# Training settings the map sets itself in both stages, and what to change instead; a --set of
# one of them would otherwise silently replace the map's own setting (or the data argument).
OWN_TRAINING_KEYS: dict[str, str] = {
    "data.source": "the data source argument (--data)",
    "loss.kernel": "kernel (the map's own setting)",
    "optim.batch_size": "batch_size",
    "train.seed": "seed",
    "train.epochs": "stage1_epochs and stage2_epochs",
    "model.projector_dim": "nothing: the stages are 128-d and 2-d by design",
    "model.init_from": "nothing: stage 2 starts from stage 1 by design",
}


def _check_overrides(overrides: Sequence[str]) -> None:
    for text in overrides:
        key = parse_override(text)[0]
        owned = next((k for k in OWN_TRAINING_KEYS if key == k or key.startswith(f"{k}.")), None)
        if owned is not None:
            raise InputError(f"--set {key}: set by embed2d itself; use {OWN_TRAINING_KEYS[owned]}")


def _tsne_block(
    data: Any, opts: MapSettings, maps: dict[str, np.ndarray], log: Callable[[str], None]
) -> dict[str, Any]:
    if not opts.tsne:
        return {"ran": False, "note": "t-SNE switched off (tsne=false)"}
    try:
        import openTSNE  # noqa: F401
    except ImportError:
        note = "openTSNE is not installed (optional extra): t-SNE comparison skipped"
        log(f"[embed2d] {note}")
        return {"ran": False, "note": note}
    from contrastlab.train.evaluate import raw_inputs

    log("[embed2d] t-SNE (openTSNE) on the raw inputs")
    started = time.perf_counter()
    train_tsne, test_tsne = tsne_map(
        raw_inputs(data.train_x),
        raw_inputs(data.test_x),
        perplexity=opts.tsne_perplexity,
        iterations=opts.tsne_iterations,
        seed=opts.seed,
    )
    seconds = time.perf_counter() - started
    maps.update(tsne_train=train_tsne, tsne_test=test_tsne)
    knn = euclidean_knn_accuracy(
        train_tsne, maps["train_labels"], test_tsne, maps["test_labels"], opts.knn_k
    )
    return {"ran": True, "knn_2d": knn, "seconds": seconds}


def tsne_map(
    train: np.ndarray, test: np.ndarray, perplexity: float, iterations: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """openTSNE on ``train`` (one thread, PCA initialisation), ``test`` placed by ``transform``.

    Inputs with more than 50 columns are first reduced by a PCA fitted on ``train``.
    """
    from openTSNE import TSNE
    from sklearn.decomposition import PCA

    if train.shape[1] > TSNE_PCA_DIMS:
        pca = PCA(TSNE_PCA_DIMS, random_state=seed).fit(train)
        train, test = pca.transform(train), pca.transform(test)
    perplexity = min(perplexity, (len(train) - 1) / 3)  # openTSNE needs 3 * perplexity < n
    embedding = TSNE(perplexity=perplexity, n_iter=iterations, n_jobs=1, random_state=seed).fit(
        np.ascontiguousarray(train, dtype=np.float64)
    )
    placed = embedding.transform(np.ascontiguousarray(test, dtype=np.float64))
    return np.asarray(embedding, dtype=np.float32), np.asarray(placed, dtype=np.float32)


def load_run(run_dir: Path) -> tuple[nn.Module, nn.Module, Any, Any]:
    """The trained model (eval mode), eval transform, kernel and data of a run folder
    (:func:`contrastlab.train.runs.load_run` as a tuple, for callers not yet moved to it)."""
    from contrastlab.train import runs

    run = runs.load_run(run_dir)
    return run.model, run.eval_transform, run.kernel, run.data


def features_and_outputs(
    model: nn.Module, transform: nn.Module, kernel: Any, inputs: Tensor, batch_size: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Backbone features ``h`` and the projector output as the kernel sees it
    (:func:`contrastlab.train.runs.model_outputs`, for callers not yet moved to a ``Run``)."""
    from contrastlab.train.runs import model_outputs

    return model_outputs(model, transform, kernel, inputs, batch_size)


def load_maps(out_dir: str | Path) -> dict[str, np.ndarray]:
    """The arrays :func:`embed_2d` saved in ``out_dir/maps.npz``."""
    with np.load(Path(out_dir) / MAPS_FILE) as archive:
        return {key: archive[key] for key in archive.files}


def maps_figure(metrics: Mapping[str, Any], maps: Mapping[str, np.ndarray]) -> Any:
    """The contrastive map and (when it ran) the t-SNE map side by side, test points drawn
    darker over the training points, coloured by label."""
    from contrastlab.experiments._common import figure

    panels = [("contrastive", "Cauchy-kernel network (t-SimCNE recipe)")]
    if metrics["tsne"]["ran"]:
        panels.append(("tsne", "t-SNE (openTSNE)"))
    fig, axes = figure(4.6, 4.6, ncols=len(panels))
    labels = np.concatenate([maps["train_labels"], maps["test_labels"]])
    classes, codes = np.unique(labels, return_inverse=True)
    cmap, colours = ("tab10", 10) if len(classes) <= 10 else ("tab20", 20)
    n_train = len(maps["train_labels"])
    for ax, (key, title) in zip(axes[0], panels, strict=True):
        for part, (points, size, alpha) in enumerate(
            [(maps[f"{key}_train"], 4, 0.5), (maps[f"{key}_test"], 8, 1.0)]
        ):
            part_codes = codes[:n_train] if part == 0 else codes[n_train:]
            ax.scatter(
                points[:, 0],
                points[:, 1],
                c=part_codes % colours,
                cmap=cmap,
                vmin=0,
                vmax=colours - 1,
                s=size,
                alpha=alpha,
                linewidths=0,
            )
        block = metrics[key]
        ax.set_title(
            f"{title}\n2-D kNN (k={metrics['knn_k']}) {block['knn_2d']:.3f}, "
            f"{block['seconds']:.0f} s",
            fontsize=9,
        )
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


DESCRIPTION = (
    "Data: {data} ({train_size} training, {test_size} test samples). Stage 1 trains backbone and "
    "projector with the kernel {kernel} (t-SimCNE's Cauchy kernel log K = -log(1 + |z - z'|^2 "
    "/ s) by default) in 128 output dimensions for {stage1_epochs} epochs; stage 2 replaces the "
    "last projector layer by a fresh 2-d one, keeps every other trained weight, and trains the "
    "whole network for {stage2_epochs} epochs with the same kernel (t-SimCNE first trains the "
    "new layer alone; this project trains everything at once, with a learning-rate warm-up). "
    "The map of a sample is the network's 2-d output. t-SNE (openTSNE, perplexity "
    "{tsne_perplexity}) is fitted on the training samples' raw inputs and places the test "
    "samples with its out-of-sample transform, so both methods are scored the same way: kNN "
    "accuracy in 2-D (Euclidean, k = {knn_k}, majority vote) of test points against training "
    "points. Times are wall-clock seconds on one thread (network: both training stages plus "
    "mapping; t-SNE: fit plus transform)."
)


def report_embed2d(report: Any, metrics: Mapping[str, Any], maps: Mapping[str, np.ndarray]) -> None:
    """Add the description, the comparison table and the two scatter plots to ``report``."""
    opts = metrics["settings"]
    report.text(
        DESCRIPTION.format(
            data=metrics["data"],
            train_size=metrics["train_size"],
            test_size=metrics["test_size"],
            kernel=spec_text(opts["kernel"]),
            stage1_epochs=opts["stage1_epochs"],
            stage2_epochs=opts["stage2_epochs"],
            tsne_perplexity=opts["tsne_perplexity"],
            knn_k=metrics["knn_k"],
        )
    )
    contrastive = metrics["contrastive"]
    rows = [["contrastive (2-d output)", contrastive["knn_2d"], contrastive["seconds"]]]
    tsne = metrics["tsne"]
    if tsne["ran"]:
        rows.append(["t-SNE (openTSNE)", tsne["knn_2d"], tsne["seconds"]])
    report.table(["map", "2-D kNN accuracy (test)", "wall seconds"], rows, title="2-D maps")
    if not tsne["ran"]:
        report.text(f"t-SNE was not run: {tsne['note']}.")
    report.figure(
        maps_figure(metrics, maps),
        "2-D maps coloured by label: small faint points are the training split, larger ones "
        "the test split.",
    )


def make_map(
    data_source: str,
    out_dir: str | Path,
    overrides: Sequence[str] = (),
    epochs: int | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """What ``contrastlab embed2d`` does: the map, then ``report.html`` and ``metrics.json``.

    Args:
        overrides: ``key=value`` strings; a key whose first part is a :class:`MapSettings` field
            (``knn_k``, ``kernel.s``) sets the map, any other (``optim.lr``) both trainings.
        epochs: both stages' epochs (``--epochs``), applied after ``overrides``.

    Returns:
        The metrics written.
    """
    from contrastlab.report import Report

    if epochs is not None and epochs < 1:
        raise InputError(f"--epochs must be >= 1, got {epochs}")
    own_keys = {f.name for f in fields(MapSettings)}
    own = [o for o in overrides if parse_override(o)[0].split(".")[0] in own_keys]
    training = [o for o in overrides if o not in own]
    settings = with_overrides(MapSettings(), own)
    if epochs is not None:
        settings = replace(settings, stage1_epochs=epochs, stage2_epochs=epochs)
    out = Path(out_dir)
    metrics = embed_2d(data_source, out, settings, training, log)
    report = Report(f"contrastlab embed2d: a 2-D map of {metrics['data']} beside t-SNE")
    report_embed2d(report, metrics, load_maps(out))
    report.save(out, metrics)
    return metrics


def summary_lines(metrics: Mapping[str, Any], out_dir: str | Path) -> list[str]:
    """The lines ``contrastlab embed2d`` prints: both 2-D kNN accuracies and the report."""
    contrastive, tsne = metrics["contrastive"], metrics["tsne"]
    lines = [f"contrastive 2-D kNN {contrastive['knn_2d']:.4f} ({contrastive['seconds']:.0f} s)"]
    if tsne["ran"]:
        lines.append(f"t-SNE       2-D kNN {tsne['knn_2d']:.4f} ({tsne['seconds']:.0f} s)")
    else:
        lines.append(f"t-SNE skipped: {tsne['note']}")
    lines.append(f"report: {Path(out_dir) / 'report.html'}")
    return lines
