"""A trained run folder opened again: its configuration, data, model and transforms.

A run folder written by :func:`contrastlab.train.trainer.train` holds ``config.yaml`` (the fully
resolved configuration), ``checkpoint.pt`` (the final weights) and, when asked for, model-only
snapshots ``snapshots/epoch_NNNN.pt``. :func:`load_run` rebuilds from them what every reader of a
run needs (the ``embed`` command, the experiments that train and then measure): the data the
configuration names, the kernel, the model with the trained weights in evaluation mode, and the
deterministic evaluation transform. Everything that shapes the model is in ``config.yaml``, so the
rebuilt model computes the same features as the one that was trained.

Example:
    >>> from contrastlab.train.runs import embed, load_run
    >>> run = load_run("runs/digits")  # doctest: +SKIP
    >>> features, labels = embed(run, "test")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from contrastlab.data.sources import DataSplit
from contrastlab.devices import resolve_device
from contrastlab.errors import InputError
from contrastlab.files import atomic_write
from contrastlab.kernels import Kernel
from contrastlab.models import ContrastiveModel
from contrastlab.train.sections import RunConfig

Split = Literal["train", "test", "all"]


@dataclass(frozen=True)
class Run:
    """A trained run, ready to embed data.

    Attributes:
        folder: the run folder.
        checkpoint: the weights file the model was loaded from.
        config: the run's resolved configuration (``config.yaml`` over the defaults).
        data: the data the run's model embeds (the run's own unless another was asked for).
        kernel: the kernel that shaped the projector's end (``loss.kernel``).
        model: backbone and projector with the trained weights, in evaluation mode, on the CPU.
        eval_transform: the deterministic transform applied before the backbone at evaluation.
    """

    folder: Path
    checkpoint: Path
    config: RunConfig
    data: DataSplit
    kernel: Kernel
    model: ContrastiveModel
    eval_transform: nn.Module

    @property
    def backbone(self) -> nn.Module:
        """The trained backbone (inputs -> features ``h``)."""
        return self.model.backbone

    @property
    def projector(self) -> nn.Module:
        """The trained projector head (features ``h`` -> outputs ``z``)."""
        return self.model.projector

    def augment(self) -> nn.Module:
        """The run's training augmentation (one call draws one random view of a batch)."""
        from contrastlab.train.components import build_transforms

        is_image = self.data.kind == "image"
        feature_std = None if is_image else self.data.train_x.float().std(dim=0).clamp_min(1e-8)
        return build_transforms(self.config, is_image, feature_std)[0]

    def untrained_model(self) -> ContrastiveModel:
        """A freshly initialised model of the run's architecture (from torch's current RNG)."""
        from contrastlab.train.components import build_model

        model = build_model(self.config, self.data.sample_shape, self.kernel)
        return model.eval()


def load_run(
    folder: str | Path,
    checkpoint: str | Path | None = None,
    *,
    data: str | DataSplit | None = None,
) -> Run:
    """Open a run folder written by ``contrastlab train``.

    Args:
        folder: the run folder (``config.yaml``, ``checkpoint.pt``).
        checkpoint: another weights file of the run (e.g. ``snapshots/epoch_0010.pt``) instead
            of its final ``checkpoint.pt``.
        data: another data source to embed (a source name such as ``"npz:PATH"``, or data
            already loaded, to reuse them across checkpoints); default the run's own.

    Raises:
        InputError: no such folder, a missing or corrupt ``config.yaml`` or checkpoint, or data
            whose samples do not fit the run's model.
    """
    from contrastlab.train.checkpoint import load_checkpoint
    from contrastlab.train.components import build_kernel, build_model, build_transforms
    from contrastlab.train.config import CONFIG_FILE_NAME, load_config_file, resolve
    from contrastlab.train.sections import train_config
    from contrastlab.train.trainer import CHECKPOINT, load_data

    run_dir = Path(folder)
    if not run_dir.exists():
        raise InputError(f"run folder {run_dir} not found")
    if not run_dir.is_dir():
        raise InputError(
            f"run folder {run_dir} is a file, not a folder written by contrastlab train"
        )
    saved = load_config_file(run_dir / CONFIG_FILE_NAME)
    weights = Path(checkpoint) if checkpoint is not None else run_dir / CHECKPOINT
    state = load_checkpoint(weights)
    if isinstance(data, str):
        saved = {**saved, "data": {**saved.get("data", {}), "source": data}}
    given = train_config(saved)
    split = data if isinstance(data, DataSplit) else load_data(given)
    # config.yaml is resolved already; resolving again only fills what an older run left auto
    config = resolve(given, split, given.train.device if given.train.device != "auto" else "cpu")
    kernel = build_kernel(config.loss.kernel, config.model.projector_dim)
    model = build_model(config, split.sample_shape, kernel)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as err:
        raise InputError(
            f"data {split.name} (samples {tuple(split.sample_shape)}) do not fit the run's model"
            f"{_trained_shape(state.get('model', {}))}: {_first_mismatch(err)}"
        ) from err
    _, eval_transform = build_transforms(config, split.kind == "image")
    return Run(run_dir, weights, config, split, kernel, model.eval(), eval_transform)


def embed(
    run: Run,
    split: Split = "all",
    batch_size: int = 512,
    device: torch.device | str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Backbone features and labels of the run's data.

    Args:
        run: from :func:`load_run`.
        split: ``"train"``, ``"test"`` or ``"all"`` (train then test).
        batch_size: samples per forward pass.
        device: where the forward passes run; ``None``: CUDA when available, else the CPU.
            The backbone goes back to the CPU afterwards; features always come back as NumPy.

    Returns:
        ``(features, labels)``: float32 ``(n, feature_dim)`` and int64 ``(n,)``, ``-1`` where
        the data are unlabelled.
    """
    if split not in ("train", "test", "all"):
        raise InputError(f"split must be train, test or all, got {split!r}")
    target = resolve_device(device)
    data = run.data
    parts = {"train": [(data.train_x, data.train_y)], "test": [(data.test_x, data.test_y)]}
    chosen = parts["train"] + parts["test"] if split == "all" else parts[split]
    features, labels = [], []
    run.backbone.to(target)
    run.eval_transform.to(target)
    try:
        with torch.no_grad():
            for x, y in chosen:
                if len(x) == 0:
                    continue
                features.append(_features(run, x, target, batch_size))
                labels.append(y.numpy() if y is not None else np.full(len(x), -1, dtype=np.int64))
    finally:
        run.backbone.to("cpu")
        run.eval_transform.to("cpu")
    if not features:
        return np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=np.int64)
    return np.concatenate(features), np.concatenate(labels)


def _features(run: Run, x: Tensor, device: torch.device, batch_size: int) -> np.ndarray:
    from contrastlab.train.evaluate import extract_features

    return extract_features(run.backbone, x, run.eval_transform, device, batch_size)


def features_and_outputs(
    run: Run, inputs: Tensor, batch_size: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Backbone features ``h`` of ``inputs`` and the projector output as the kernel sees it,
    ``kernel.prepare(z)`` (on the unit sphere for cosine, as it is for Student-t / Cauchy)."""
    return model_outputs(run.model, run.eval_transform, run.kernel, inputs, batch_size)


@torch.no_grad()
def model_outputs(
    model: nn.Module, transform: nn.Module, kernel: Kernel, inputs: Tensor, batch_size: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """``(h, kernel.prepare(z))`` of ``model(transform(inputs))`` in evaluation mode, float32."""
    model.eval()
    features, outputs = [], []
    for start in range(0, len(inputs), batch_size):
        h, z = model(transform(inputs[start : start + batch_size]))
        features.append(h.float())
        outputs.append(kernel.prepare(z.float()))
    return torch.cat(features).numpy(), torch.cat(outputs).numpy()


def _first_mismatch(err: Exception) -> str:
    """The first specific line of ``load_state_dict``'s error (its first line names no tensor)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [repr(err)]
    return next((line for line in lines[1:] if "mismatch" in line or "key" in line), lines[0])


def _trained_shape(model_state: Any) -> str:
    if not isinstance(model_state, dict):
        return ""
    first = next((v for k, v in model_state.items() if str(k).endswith("weight")), None)
    return f" (first layer {tuple(first.shape)})" if first is not None else ""


def save_features(
    folder: str | Path, out: str | Path, *, data: str | None = None, split: Split = "all"
) -> tuple[np.ndarray, np.ndarray]:
    """Embed ``split`` of the run's data (or of ``data``) and save ``features`` and ``labels``
    to the ``.npz`` file ``out`` (checked before any work); returns them.

    Raises:
        InputError: ``out`` not ending in ``.npz``, an existing folder, or below a file; and
            as :func:`load_run`.
    """
    from contrastlab.report import check_output_folder

    target = Path(out)
    if target.suffix != ".npz":
        raise InputError(f"--out must name an .npz file, got {target}")
    if target.is_dir():
        raise InputError(f"--out {target} is an existing folder, not an .npz file")
    check_output_folder(target.parent)
    features, labels = embed(load_run(folder, data=data), split)
    atomic_write(target, lambda handle: np.savez(handle, features=features, labels=labels))
    return features, labels
