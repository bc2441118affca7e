"""What ``--resume`` may change, and the check that nothing else changed.

A resumed run trains with its folder's ``config.yaml``. Settings the user gives with
``--resume`` (flags, ``--set`` keys, the keys of a ``--config`` file) are compared with it:

* keys under :data:`RESUMABLE` may change and are taken over: ``train.epochs`` (extend a run),
  ``train.threads``, ``train.progress``, ``train.device``, ``train.compile``, how often
  checkpoints are written (``train.checkpoint_every``, ``train.checkpoint_every_steps``), the
  monitors (``monitor.*``) and the final evaluation (``eval.*``): they change where and how a
  run is watched, not what it learns;
* any other key (the data, augmentation, model, loss and kernel, optimiser and schedule, seed,
  AMP) given with a value other than the saved one stops the resume with
  :class:`~contrastlab.errors.InputError` naming every differing key with both values, because
  the checkpoint's weights and optimiser state belong to the saved settings. ``auto`` values
  are not compared (the saved file holds what they resolved to).
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from contrastlab.errors import InputError
from contrastlab.settings import AUTO, parse_override
from contrastlab.train.config import load_config_file

#: Dotted keys (or sections) that may differ on ``--resume``; the given values are used.
RESUMABLE = (
    "train.epochs",
    "train.threads",
    "train.progress",
    "train.device",
    "train.compile",
    "train.checkpoint_every",
    "train.checkpoint_every_steps",
    "monitor",
    "eval",
)

_LEAF_MAPPINGS = ("loss.kernel",)  # values that are mappings, compared whole


def leaves(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The dotted keys of a nested configuration with their values (``loss.kernel`` whole)."""
    found: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and dotted not in _LEAF_MAPPINGS:
            found.update(leaves(value, f"{dotted}."))
        else:
            found[dotted] = value
    return found


def _covers(given_key: str, leaf: str) -> bool:
    """A given key names ``leaf``: the leaf itself, a section above it, or a key below it
    (``loss.kernel.t`` changes ``loss.kernel``)."""
    return leaf == given_key or leaf.startswith(f"{given_key}.") or given_key.startswith(f"{leaf}.")


def _resumable(leaf: str) -> bool:
    return any(leaf == key or leaf.startswith(f"{key}.") for key in RESUMABLE)


def resume_settings(
    saved: Mapping[str, Any], given: Mapping[str, Any], given_keys: Collection[str], where: str
) -> dict[str, Any]:
    """The configuration a resumed run trains with: ``saved`` with the given values of the
    :data:`RESUMABLE` keys the user gave.

    Args:
        saved: the run folder's ``config.yaml`` (resolved).
        given: the configuration built from what the user gave (defaults filled in).
        given_keys: the dotted keys the user gave explicitly (only these are compared).
        where: the run folder, for the message.

    Raises:
        InputError: a given key outside :data:`RESUMABLE` differs from the saved value; the
            message names every such key with the saved and the given value.
    """
    result = copy.deepcopy(dict(saved))
    saved_leaves, differing = leaves(saved), []
    for leaf, value in leaves(given).items():
        if value == AUTO or not any(_covers(key, leaf) for key in given_keys):
            continue
        if _resumable(leaf):
            section, _, name = leaf.partition(".")
            result.setdefault(section, {})[name] = value
        elif leaf not in saved_leaves or saved_leaves[leaf] != value:
            differing.append(f"{leaf} (saved {saved_leaves.get(leaf)!r}, given {value!r})")
    if differing:
        raise InputError(
            f"--resume: {where} was trained with other settings: {'; '.join(differing)}; "
            "only epochs, threads, device, checkpoint intervals, monitors and eval may change "
            "(start a new --out to train with these)"
        )
    return result


def given_keys(
    config_file: str | Path | None, overrides: Iterable[str], flags: Mapping[str, Any]
) -> list[str]:
    """The dotted keys a user gave: every leaf of the ``--config`` file, each ``--set`` key and
    each flag's key whose value is not ``None``."""
    keys = list(leaves(load_config_file(config_file))) if config_file is not None else []
    keys += [parse_override(text)[0] for text in overrides]
    keys += [key for key, value in flags.items() if value is not None]
    return keys
