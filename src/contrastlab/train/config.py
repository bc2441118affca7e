"""Training configuration: defaults, YAML files, ``--set`` overrides and the ``auto`` values.

A configuration is a :class:`~contrastlab.train.sections.TrainConfig` (frozen dataclasses, one
per section, each field with its range), written and read as the plain nested mapping of
:data:`DEFAULTS`. Values ``"auto"`` are filled by :func:`resolve` from the data (its size, its
image shape) and the device into a :class:`~contrastlab.train.sections.RunConfig`, with no
``auto`` left, which is written to the run folder as ``config.yaml``.

Precedence (:func:`build_config`): defaults, then the YAML file (a path, or the name of a recipe
shipped with the package, :func:`find_config`), then a caller's ``base`` mapping, then the
dedicated flags (``--data``, ``--kernel``, ``--epochs``, ``--batch-size``), then the ``--set``
overrides in order. A ``--set`` below a flag's key refines it (``--kernel laplacian --set
loss.kernel.t=0.3`` trains the Laplacian kernel at ``t = 0.3``). On the command line
(``strict=True``) a ``--set`` of the very key a flag sets (or of a section above it) must agree
with the flag, else it is an error naming both, so a value the user typed is never dropped in
silence; a library caller's flags (not strict) keep their keys. ``loss.kernel`` is normalised
to its canonical mapping (:func:`contrastlab.specs.loss_spec`) after every step, so a string
shorthand and a mapping name the same kernel and ``--set loss.kernel.t=...`` reaches the
temperature.

Rules for ``auto`` (documented choices, not taken from a paper):

* ``augment.preset``: ``vector`` for vectors; ``small_gray`` for greyscale images up to 64
  pixels; ``cifar`` for colour up to 64; ``imagenet`` above.
* ``model.backbone``: ``mlp`` for vectors, ``small_cnn`` for greyscale up to 64 pixels and,
  on a CPU, for colour up to 64 pixels; ``resnet18`` otherwise (with the CIFAR stem up to 64
  pixels). A fresh run with neither ``model.backbone``, ``model.widths`` nor ``train.epochs``
  given lets :mod:`contrastlab.train.budget` choose the model and the epochs by timing
  candidates against ``train.time_budget`` instead.
* ``optim.name``: ``adamw`` (converges in few steps on the CPU-sized defaults); the GPU recipes
  shipped in ``contrastlab/configs/`` use ``lars``. ``optim.lr``: AdamW 2e-3 * B / 256; SGD and
  LARS 0.3 * B / 256 (SimCLR's linear scaling). ``optim.weight_decay``: 1e-6 for LARS
  (SimCLR), 5e-4 for SGD, 1e-4 for AdamW.
* ``train.epochs``: a budget of about 300,000 augmented pairs for data of at most 64 pixels on
  a CPU (between 10 and 300 epochs; 4,000 MNIST images -> 75 epochs, 1,437 digits -> 200), so a
  default run on a few thousand small images ends within minutes on two cores; 100 epochs on a GPU.
  A trainer's fresh run fills it from ``train.time_budget`` instead
  (:mod:`contrastlab.train.budget`).
* ``train.time_budget``: :data:`CPU_BUDGET_SECONDS` (10 minutes) on a CPU, none on an
  accelerator (the paper recipes); ``null`` turns the budget off.
* ``monitor.every``: about ten monitor points over the run.
* ``model.init_from``: a checkpoint file or run folder whose tensors initialise the model where
  names and shapes match (the rest, e.g. a resized last projector layer, start fresh), for
  warm-starting a run from another one.
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
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from contrastlab.data.augment import channel_stats
from contrastlab.data.sources import DataSplit
from contrastlab.errors import InputError
from contrastlab.settings import AUTO, apply_overrides, parse_override, to_mapping
from contrastlab.train.sections import RunConfig, TrainConfig, run_config, train_config

CONFIG_FILE_NAME = "config.yaml"

#: The plain form of the default :class:`TrainConfig`.
DEFAULTS: dict[str, Any] = to_mapping(TrainConfig())

#: The command-line flag of each dotted key ``build_config`` takes as a flag (for messages).
FLAG_NAMES = {
    "data.source": "--data",
    "loss.kernel": "--kernel",
    "train.epochs": "--epochs",
    "optim.batch_size": "--batch-size",
}

CPU_PAIR_BUDGET = 300_000
CPU_BUDGET_SECONDS = 600.0
RAW_BASELINE_MAX_SAMPLES = 20_000
RAW_BASELINE_MAX_VALUES = 4096


def default_config() -> dict[str, Any]:
    """A fresh copy of :data:`DEFAULTS`."""
    return copy.deepcopy(DEFAULTS)


def merge(base: Mapping[str, Any], update: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base``; unknown keys are an error.

    ``loss.kernel`` is a value, not a section: a new kernel replaces the old one whole.
    """
    result = copy.deepcopy(dict(base))
    for key, value in update.items():
        name = f"{where}{key}"
        if key not in result:
            raise InputError(f"unknown setting {name!r} (known: {', '.join(sorted(result))})")
        if isinstance(result[key], dict) and name != "loss.kernel":
            if not isinstance(value, Mapping):
                raise InputError(f"setting {name!r} must be a mapping, got {value!r}")
            result[key] = merge(result[key], value, f"{name}.")
        else:
            result[key] = copy.deepcopy(value)
    return result


def packaged_configs() -> list[str]:
    """The names of the recipes shipped in ``contrastlab/configs/`` (without ``.yaml``)."""
    folder = resources.files("contrastlab").joinpath("configs")
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def find_config(name_or_path: str | Path) -> Path:
    """The YAML file ``name_or_path`` names: a file that exists, else a recipe shipped with the
    package by name (``"cifar10_cosine"`` or ``"cifar10_cosine.yaml"``).

    Raises:
        InputError: neither; the message lists the shipped recipes.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    name = path.name[: -len(".yaml")] if path.name.endswith(".yaml") else path.name
    if str(name_or_path) == path.name:  # a bare name, not a path with folders
        recipe = resources.files("contrastlab").joinpath("configs").joinpath(f"{name}.yaml")
        if recipe.is_file():
            return Path(str(recipe))
    raise InputError(
        f"config file {name_or_path} not found (nor a shipped recipe: "
        f"{', '.join(packaged_configs())})"
    )


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file (a partial configuration, merged over the defaults)."""
    file = find_config(path)
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
    strict: bool = False,
    **flags: Any,
) -> dict[str, Any]:
    """Defaults, then the YAML file, then ``base``, then flags, then ``--set`` overrides
    (the precedence of the module docstring), checked as a :class:`TrainConfig`.

    Args:
        config_file: optional YAML file, or the name of a shipped recipe.
        overrides: ``key=value`` strings (dotted keys): the user's word, applied after
            ``base`` and the flags; one below a flag's key refines the flag's value.
        base: a nested mapping of settings a caller (an experiment) chooses, e.g.
            ``{"optim": {"batch_size": 64}}``; the user's ``overrides`` still win over it.
        strict: an override of a flag's own key (or of a section above it) must agree with
            the flag, else :class:`InputError` naming both (the command line's rule); when
            false the flag keeps its key.
        flags: dotted keys with values from dedicated command-line flags
            (``{"optim.batch_size": 64}``); ``None`` values are ignored.

    Returns:
        The plain mapping of the configuration (``loss.kernel`` canonical).

    Raises:
        InputError: an unknown key, a bad value, or (``strict``) a ``--set`` that contradicts
            a flag.
    """
    config = default_config()
    if config_file is not None:
        config = _checked(merge(config, load_config_file(config_file)))
    if base is not None:
        config = _checked(merge(config, base))
    given = {key: value for key, value in flags.items() if value is not None}
    for key, value in given.items():
        config = _with_flag(config, key, value)
    for text in overrides:
        updated = _checked(apply_overrides(config, [text]))
        key = parse_override(text)[0]
        for flag, value in given.items():
            if not (flag == key or flag.startswith(f"{key}.")):
                continue
            if strict and _at(updated, flag) != _at(config, flag):
                raise InputError(
                    f"{FLAG_NAMES.get(flag, flag)} {value} and --set {text} disagree on "
                    f"{flag}; give it once"
                )
            updated = _with_flag(updated, flag, value)
        config = updated
    return config


def _with_flag(config: Mapping[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    section, _, name = dotted.partition(".")
    return _checked(merge(config, {section: {name: value}}))


def _checked(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` validated as a :class:`TrainConfig`, in plain form (kernel canonical)."""
    plain: dict[str, Any] = to_mapping(train_config(dict(config)))
    return plain


def _at(config: Mapping[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = node[part]
    return node


def resolve(
    config: TrainConfig | Mapping[str, Any],
    data: DataSplit,
    device_type: str,
    world_size: int = 1,
) -> RunConfig:
    """Fill every ``auto`` value (see the module docstring) and check the values.

    Args:
        config: a configuration (from :func:`build_config`, or a :class:`TrainConfig`).
        data: the loaded data (its sample shape, size and pixel statistics decide the autos).
        device_type: ``"cpu"`` or ``"cuda"`` (or another accelerator type).
        world_size: number of processes (the batch size is the global one).

    Raises:
        InputError: a bad value, a batch size not divisible by ``world_size``, or
            ``train.save_epochs`` outside ``1..train.epochs``.
    """
    cfg: dict[str, Any] = to_mapping(train_config(config))
    sample_shape = tuple(data.sample_shape)
    _resolve_augment_and_model(cfg, data, sample_shape, device_type)
    _resolve_optim(cfg, len(data.train_x), world_size)
    _resolve_length(cfg, sample_shape, len(data.train_x), device_type)
    if cfg["train"]["device"] == AUTO:
        cfg["train"]["device"] = device_type
    if cfg["train"]["time_budget"] == AUTO:
        cfg["train"]["time_budget"] = CPU_BUDGET_SECONDS if device_type == "cpu" else None
    return run_config(cfg)


def _is_small(sample_shape: tuple[int, ...]) -> bool:
    return len(sample_shape) == 3 and max(sample_shape[1:]) <= 64


def _resolve_augment_and_model(
    cfg: dict[str, Any], data: DataSplit, sample_shape: tuple[int, ...], device_type: str
) -> None:
    aug, model = cfg["augment"], cfg["model"]
    is_image = len(sample_shape) == 3
    small, gray = _is_small(sample_shape), is_image and sample_shape[0] == 1
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
    for key in ("mean", "std"):  # vectors: no per-channel normalisation
        aug[key] = None if aug[key] == AUTO else aug[key]
    if model["backbone"] == AUTO:
        cheap = small and (gray or device_type == "cpu")
        model["backbone"] = "mlp" if not is_image else "small_cnn" if cheap else "resnet18"
    if model["cifar_stem"] == AUTO:
        model["cifar_stem"] = bool(small and model["backbone"].startswith("resnet"))


def _resolve_optim(cfg: dict[str, Any], train_size: int, world_size: int) -> None:
    optim = cfg["optim"]
    batch = optim["batch_size"]
    if batch % world_size:
        raise InputError(f"optim.batch_size {batch} is not divisible by the {world_size} processes")
    if batch > train_size:
        batch = optim["batch_size"] = max(world_size, train_size - train_size % world_size)
    if optim["name"] == AUTO:
        optim["name"] = "adamw"
    if optim["lr"] == AUTO:
        optim["lr"] = (2e-3 if optim["name"] == "adamw" else 0.3) * batch / 256
    if optim["weight_decay"] == AUTO:
        optim["weight_decay"] = {"lars": 1e-6, "sgd": 5e-4, "adamw": 1e-4}[optim["name"]]


def _resolve_length(
    cfg: dict[str, Any], sample_shape: tuple[int, ...], train_size: int, device_type: str
) -> None:
    train, optim, monitor, evaluation = (cfg[k] for k in ("train", "optim", "monitor", "eval"))
    is_image = len(sample_shape) == 3
    if train["epochs"] == AUTO:
        if device_type == "cpu" and (_is_small(sample_shape) or not is_image):
            train["epochs"] = int(min(300, max(10, round(CPU_PAIR_BUDGET / train_size))))
        else:
            train["epochs"] = 100
    epochs = train["epochs"]
    if optim["warmup_epochs"] == AUTO:
        optim["warmup_epochs"] = min(10, max(1, epochs // 10))
    if monitor["every"] == AUTO:
        monitor["every"] = max(1, math.ceil(epochs / 10))
    saves = train["save_epochs"]
    if any(not 1 <= e <= epochs for e in saves):
        raise InputError(f"train.save_epochs must list epochs in 1..{epochs}, got {saves!r}")
    train["save_epochs"] = sorted(set(saves))
    if evaluation["raw_baseline"] == AUTO:
        evaluation["raw_baseline"] = (
            train_size <= RAW_BASELINE_MAX_SAMPLES
            and math.prod(sample_shape) <= RAW_BASELINE_MAX_VALUES
        )


def dump(config: TrainConfig | Mapping[str, Any]) -> str:
    """The configuration as YAML text (sections in their usual order)."""
    plain = to_mapping(config) if isinstance(config, TrainConfig) else _plain(config)
    return yaml.safe_dump(plain, sort_keys=False)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
