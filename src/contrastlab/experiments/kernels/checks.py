"""The kernels experiment's settings check: what the ranges cannot say, and that the work it asks
for can be set up (run before any work, so ``reproduce all`` stops at once)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contrastlab.errors import InputError
from contrastlab.experiments.kernels.compute import run_config
from contrastlab.experiments.kernels.settings import (
    MIXTURES,
    SCALES,
    Settings,
    as_settings,
    full_scale,
    names,
)


def check(settings: Settings | Mapping[str, Any]) -> None:
    """Check the settings before any training (``reproduce all`` calls this first).

    Raises:
        InputError: a kernel list without the claim's kernels or with a name twice, seeds < 2
            (the rule needs a spread), a bad scale, or CIFAR on a CPU without ``scale=full``.
    """
    settings = as_settings(settings)
    listed = names(settings)
    if "cosine" not in listed or not any(m in listed for m in MIXTURES):
        raise InputError("kernels: the claim needs cosine and at least one of kernel_sum, concat")
    twice = sorted({n for n in listed if listed.count(n) > 1})
    if twice:
        raise InputError(f"kernels: each kernel name once (they label the runs), {twice} twice")
    if settings.seeds < 2:
        raise InputError(f"seeds: must be a whole number >= 2, got {settings.seeds!r}")
    if settings.scale not in SCALES:
        raise InputError(f"scale: must be auto, cpu or full, got {settings.scale!r}")
    full = full_scale(settings)
    for spec in settings.kernels:  # the configurations build (overrides, concat widths)
        try:
            run_config(settings, spec, settings.seed, full)
        except InputError as err:
            message = str(err)
            if not message.startswith(("kernels", "configs", "train_overrides")):
                message = f"train_overrides: {message}"
            raise InputError(message) from err
