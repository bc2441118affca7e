"""The training loop, its configuration, checkpoints, optimisers and monitors.

Example:
    >>> from contrastlab.train import build_config, train
    >>> config = build_config(None, ["train.epochs=5"], **{"loss.kernel": "student_t:nu=5,s=1"})
    >>> metrics = train(config, "runs/digits-t")  # doctest: +SKIP
    >>> metrics["final"]["knn_top1_k20"]  # doctest: +SKIP

Names load from their submodules on first use, so importing one piece stays light.
"""

from __future__ import annotations

from contrastlab._lazy import lazy_names

_NAMES: dict[str, str] = {
    "train": "trainer",
    "load_data": "trainer",
    "build_config": "config",
    "find_config": "config",
    "TrainConfig": "sections",
    "RunConfig": "sections",
    "load_run": "runs",
    "embed": "runs",
    "Run": "runs",
    "Schedule": "loop",
    "resolve": "config",
    "DEFAULTS": "config",
    "save_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "LARS": "optim",
    "warmup_cosine": "optim",
    "parameter_groups": "optim",
    "extract_features": "evaluate",
    "evaluate_features": "evaluate",
    "evaluate_backbone": "evaluate",
}

__getattr__, __dir__, __all__ = lazy_names(__name__, _NAMES)
