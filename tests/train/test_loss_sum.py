"""Training with ``loss_sum`` (separate softmaxes, losses.LossSum) through the trainer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from contrastlab import kernels, losses
from contrastlab.errors import InputError
from contrastlab.train.components import build_kernel, build_loss
from contrastlab.train.config import build_config
from contrastlab.train.trainer import train

from .conftest import TINY


def test_loss_sum_spec_builds_the_weighted_sum_of_separate_losses():
    spec = {"name": "loss_sum", "terms": [["laplacian:t=0.5", 0.3], ["gaussian:t=0.4", 0.7]]}
    loss = build_loss(spec, embed_dim=8)
    gen = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 8, generator=gen), torch.randn(6, 8, generator=gen)
    expected = 0.3 * losses.KernelInfoNCE(kernels.Laplacian(0.5))(
        z1, z2
    ) + 0.7 * losses.KernelInfoNCE(kernels.Gaussian(0.4))(z1, z2)
    torch.testing.assert_close(loss(z1, z2), expected)
    # the model only needs the shared normalisation: the first term's kernel
    assert isinstance(build_kernel(spec), kernels.Laplacian)
    default = build_loss("loss_sum")
    assert [(type(k), w) for k, w in default.terms] == [
        (kernels.Exponential, 0.5),
        (kernels.Gaussian, 0.5),
    ]


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"name": "loss_sum", "terms": []}, "terms"),
        ({"name": "loss_sum", "terms": [["cosine", 0]]}, "weight"),
        ({"name": "loss_sum", "terms": [["cosine", 1], ["student_t", 1]]}, "normalisation"),
        ({"name": "loss_sum", "lambda": 0.5}, "unknown keys"),
    ],
)
def test_bad_loss_sum_specs_are_input_errors(spec, message):
    with pytest.raises(InputError, match=message):
        build_loss(spec)


def test_trainer_runs_loss_sum(tmp_path: Path):
    sets = [*TINY, "eval.raw_baseline=false", "eval.linear_probe=false", "monitor.knn=false"]
    config = build_config(None, sets, **{"loss.kernel": "loss_sum", "train.epochs": 1})
    metrics = train(config, tmp_path / "run", log=lambda _: None)
    assert metrics["kernel"].startswith("0.5 L(") and " + 0.5 L(" in metrics["kernel"]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in metrics["history"])
