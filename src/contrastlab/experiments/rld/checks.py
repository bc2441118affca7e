"""The rld experiment's settings check: what the ranges cannot say, and that the work it asks
for can be set up (run before any work, so ``reproduce all`` stops at once)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contrastlab.errors import InputError
from contrastlab.experiments.rld.compute import train_config
from contrastlab.experiments.rld.settings import Settings, as_settings


def check(settings: Settings | Mapping[str, Any]) -> None:
    """What the ranges cannot say: the lists must not be empty, and the trainer configuration
    must build with the ``train_overrides`` (a typo there stops before any work).

    Raises:
        InputError: one line naming the key.
    """
    settings = as_settings(settings)
    for key in ("ts", "purity_ks", "checkpoints"):
        if not getattr(settings, key):
            raise InputError(f"{key}: must be a non-empty list")
    try:
        train_config(settings)
    except InputError as err:
        message = str(err)
        if "train_overrides" not in message:
            message = f"train_overrides: {message}"
        raise InputError(message) from err
