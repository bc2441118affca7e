"""The sne experiment's settings check: what the ranges cannot say, and that the work it asks
for can be set up (run before any work, so ``reproduce all`` stops at once)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contrastlab.errors import InputError
from contrastlab.experiments.sne.compute import map_settings
from contrastlab.experiments.sne.settings import SWEEP_NAMES, Settings, as_settings


def check(settings: Settings | Mapping[str, Any]) -> None:
    """What the ranges cannot say: at least one dimension, the sweep's two kernels named
    ``cosine`` and ``student_t`` (the claim compares them), a map kernel off the sphere.

    Raises:
        InputError: one line naming the key.
    """
    settings = as_settings(settings)
    if not settings.dims:
        raise InputError("dims: must list at least one dimension")
    names = sorted(str(spec["name"]) for spec in settings.sweep_kernels)
    if names != sorted(SWEEP_NAMES):
        raise InputError(
            f"sweep_kernels: the claim compares one cosine and one student_t kernel, got {names}"
        )
    if settings.augment_data != "digits" and not settings.augment_data.startswith("npz:"):
        raise InputError(
            f"augment_data: digits or npz:PATH with a 'features' array, got "
            f"{settings.augment_data!r}"
        )
    try:
        map_settings(settings)
    except InputError as err:
        raise InputError(f"map_{err}" if str(err).startswith("kernel") else str(err)) from err
