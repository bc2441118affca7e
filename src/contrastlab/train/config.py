"""Training configuration: defaults, YAML files, ``--set`` overrides and the ``auto`` values.

A configuration is a nested dict with the sections of :data:`DEFAULTS`. Values ``"auto"`` are
filled by :func:`resolve` from the data (its size, its image shape) and the device, and the
resolved configuration, with no ``auto`` left, is written to the run folder as ``config.yaml``.

Rules for ``auto`` (documented choices, not taken from a paper):

* ``augment.preset``: ``vector`` for vectors; ``small_gray`` for greyscale images up to 64
  pixels; ``cifar`` for colour up to 64; ``imagenet`` above.
* ``model.backbone``: ``mlp`` for vectors, ``small_cnn`` for greyscale up to 64 pixels,
  ``resnet18`` otherwise (with the CIFAR stem up to 64 pixels).
* ``optim.name``: ``adamw`` (converges in few steps on the CPU-sized defaults); the GPU recipes in
  ``configs/`` use ``lars``. ``optim.lr``: AdamW 2e-3 * B / 256; SGD and LARS 0.3 * B / 256
  (SimCLR's linear scaling). ``optim.weight_decay``: 1e-6 for LARS (SimCLR), 5e-4 for SGD,
  1e-4 for AdamW.
* ``train.epochs``: a budget of about 300,000 augmented pairs for data of at most 64 pixels on
  a CPU (between 10 and 300 epochs; 4,000 MNIST images -> 75 epochs, 1,437 digits -> 200), so a
  default run on a few thousand small images ends within minutes on two cores; 100 epochs on a GPU.
* ``monitor.every``: about ten monitor points over the run.
* ``model.init_from``: a checkpoint file or run folder whose tensors initialise the model where
  names and shapes match (the rest, e.g. a resized last projector layer, start fresh); used by
  ``embed2d``'s second stage (t-SimCNE shrinks a trained 128-d output to 2-d).
* ``train.save_epochs``: epochs after which a model-only snapshot is kept as
  ``snapshots/epoch_NNNN.pt`` (for diagnostics across training); ``[]`` keeps none.
* ``eval.raw_baseline``: the same kNN and linear probe on raw pixels (or raw vectors) beside the
  learned features, when the training set has at most 20,000 samples of at most 4,096 values
  (the probe's grid search on raw inputs grows with both).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from contrastlab.data.augment import channel_stats
from contrastlab.data.sources import DataSplit
from contrastlab.errors import InputError
from contrastlab.settings import apply_overrides

AUTO = "auto"
CONFIG_FILE_NAME = "config.yaml"

DEFAULTS: dict[str, Any] = {
    "data": {
        "source": "digits",
        "root": None,
        "download": True,
        "test_fraction": 0.2,
        "split_seed": 0,
        "image_size": None,
    },
    "augment": {
        "preset": AUTO,
        "crop_scale": None,
        "crop_ratio": None,
        "rotation": None,
        "hflip": None,
        "color_jitter": None,
        "color_jitter_p": None,
        "grayscale_p": None,
        "blur_p": None,
        "solarize_p": None,
        "crop_size": None,
        "noise": 0.1,
        "mixup": 0.0,
        "function": None,
        "mean": AUTO,
        "std": AUTO,
    },
    "model": {
        "backbone": AUTO,
        "cifar_stem": AUTO,
        "widths": None,
        "projector_hidden": 512,
        "projector_dim": 128,
        "projector_layers": 2,
        "sync_batchnorm": False,
        "init_from": None,
    },
    "loss": {"kernel": "cosine", "block_size": None},
    "optim": {
        "name": AUTO,
        "lr": AUTO,
        "batch_size": 256,
        "weight_decay": AUTO,
        "momentum": 0.9,
        "warmup_epochs": AUTO,
        "min_lr_ratio": 0.0,
        "clip_grad": None,
    },
    "train": {
        "epochs": AUTO,
        "seed": 0,
        "device": AUTO,
        "amp": True,
        "compile": False,
        "threads": None,
        "progress": True,
        "checkpoint_every": 1,
        "save_epochs": [],
    },
    "monitor": {
        "every": AUTO,
        "knn": True,
        "online_probe": True,
        "max_train": 10_000,
    },
    "eval": {
        "knn_ks": [20, 200],
        "knn_temperature": 0.1,
        "linear_probe": True,
        "raw_baseline": AUTO,
    },
}

CPU_PAIR_BUDGET = 300_000
RAW_BASELINE_MAX_SAMPLES = 20_000
RAW_BASELINE_MAX_VALUES = 4096


def default_config() -> dict[str, Any]:
    """A fresh copy of :data:`DEFAULTS`."""
    return copy.deepcopy(DEFAULTS)


def merge(base: Mapping[str, Any], update: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base``; unknown keys are an error."""
    result = copy.deepcopy(dict(base))
    for key, value in update.items():
        name = f"{where}{key}"
        if key not in result:
            raise InputError(f"unknown setting {name!r} (known: {', '.join(sorted(result))})")
        if isinstance(result[key], dict):
            if not isinstance(value, Mapping):
                raise InputError(f"setting {name!r} must be a mapping, got {value!r}")
            result[key] = merge(result[key], value, f"{name}.")
        else:
            result[key] = value
    return result


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file (a partial configuration, merged over the defaults)."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"config file {file} not found")
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as err:
        raise InputError(
            f"config file {file}: not valid YAML ({str(err).splitlines()[0]})"
        ) from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(
            f"config file {file}: expected a mapping of sections, got {type(data).__name__}"
        )
    return data


def build_config(
    config_file: str | Path | None = None,
    overrides: Iterable[str] = (),
    *,
    base: Mapping[str, Any] | None = None,
    **flags: Any,
) -> dict[str, Any]:
    """Defaults, then the YAML file, then ``base``, then ``--set`` overrides, then explicit flags.

    Args:
        config_file: optional YAML file.
        overrides: ``key=value`` strings (dotted keys): the user's word, applied after
            ``base``.
        base: a nested mapping of settings a caller (an experiment) chooses, e.g.
            ``{"optim": {"batch_size": 64}}``; the user's ``overrides`` still win over it.
        flags: dotted keys with values from dedicated command-line flags
            (``{"optim.batch_size": 64}``); ``None`` values are ignored.
    """
    config = default_config()
    if config_file is not None:
        config = merge(config, load_config_file(config_file))
    if base is not None:
        config = merge(config, base)
    config = apply_overrides(config, list(overrides))
    for key, value in flags.items():
        if value is not None:
            config = _set(config, key, value)
    return config


def _set(config: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    section, _, key = dotted.partition(".")
    return merge(config, {section: {key: value}})


def resolve(
    config: Mapping[str, Any], data: DataSplit, device_type: str, world_size: int = 1
) -> dict[str, Any]:
    """Fill every ``auto`` value (see the module docstring) and check the values.

    Args:
        config: a configuration (from :func:`build_config`).
        data: the loaded data (its sample shape, size and pixel statistics decide the autos).
        device_type: ``"cpu"`` or ``"cuda"`` (or another accelerator type).
        world_size: number of processes (the batch size is the global one).
    """
    cfg = copy.deepcopy(dict(config))
    sample_shape, train_size = data.sample_shape, len(data.train_x)
    is_image = len(sample_shape) == 3
    small = is_image and max(sample_shape[1:]) <= 64
    gray = is_image and sample_shape[0] == 1
    aug, model, optim, train, monitor = (
        cfg[k] for k in ("augment", "model", "optim", "train", "monitor")
    )

    if aug["preset"] == AUTO:
        aug["preset"] = (
            "vector"
            if not is_image
            else ("small_gray" if gray and small else "cifar" if small else "imagenet")
        )
    if is_image and (aug["mean"] == AUTO or aug["std"] == AUTO):
        mean, std = channel_stats(data.train_x)
        aug["mean"] = mean if aug["mean"] == AUTO else aug["mean"]
        aug["std"] = std if aug["std"] == AUTO else aug["std"]
    if model["backbone"] == AUTO:
        model["backbone"] = "mlp" if not is_image else "small_cnn" if gray and small else "resnet18"
    if model["cifar_stem"] == AUTO:
        model["cifar_stem"] = bool(small and model["backbone"].startswith("resnet"))

    batch = _positive_int(optim["batch_size"], "optim.batch_size")
    if batch % world_size:
        raise InputError(f"optim.batch_size {batch} is not divisible by the {world_size} processes")
    if batch > train_size:
        batch = optim["batch_size"] = max(world_size, train_size - train_size % world_size)
    if optim["name"] == AUTO:
        optim["name"] = "adamw"
    if optim["name"] not in ("sgd", "lars", "adamw"):
        raise InputError(f"optim.name must be sgd, lars or adamw, got {optim['name']!r}")
    if optim["lr"] == AUTO:
        optim["lr"] = (2e-3 if optim["name"] == "adamw" else 0.3) * batch / 256
    if optim["weight_decay"] == AUTO:
        optim["weight_decay"] = {"lars": 1e-6, "sgd": 5e-4, "adamw": 1e-4}[optim["name"]]
    if train["epochs"] == AUTO:
        if device_type == "cpu" and (small or not is_image):
            train["epochs"] = int(min(300, max(10, round(CPU_PAIR_BUDGET / train_size))))
        else:
            train["epochs"] = 100
    epochs = _positive_int(train["epochs"], "train.epochs")
    if optim["warmup_epochs"] == AUTO:
        optim["warmup_epochs"] = min(10, max(1, epochs // 10))
    if monitor["every"] == AUTO:
        monitor["every"] = max(1, math.ceil(epochs / 10))
    _positive_int(monitor["every"], "monitor.every")
    saves = train["save_epochs"] or []
    if not isinstance(saves, (list, tuple)) or any(
        isinstance(e, bool) or not isinstance(e, int) or not 1 <= e <= epochs for e in saves
    ):
        raise InputError(f"train.save_epochs must list epochs in 1..{epochs}, got {saves!r}")
    train["save_epochs"] = sorted(set(saves))
    for name in ("lr", "weight_decay", "momentum"):
        value = optim[name]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise InputError(f"optim.{name} must be a number >= 0, got {value!r}")
    if optim["lr"] <= 0:
        raise InputError(f"optim.lr must be > 0, got {optim['lr']}")
    evaluation = cfg["eval"]
    if evaluation["raw_baseline"] == AUTO:
        evaluation["raw_baseline"] = (
            train_size <= RAW_BASELINE_MAX_SAMPLES
            and math.prod(sample_shape) <= RAW_BASELINE_MAX_VALUES
        )
    if train["device"] == AUTO:
        train["device"] = device_type
    return cfg


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a whole number >= 1, got {value!r}")
    return value


def dump(config: Mapping[str, Any]) -> str:
    """The configuration as YAML text (sections in their usual order)."""
    return yaml.safe_dump(_plain(config), sort_keys=False)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
