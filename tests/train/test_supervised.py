"""The compact supervised trainer: the contrastive run's backbone, cross-entropy, snapshots."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contrastlab.data.sources import DataSplit
from contrastlab.errors import InputError
from contrastlab.train.components import build_kernel, build_model
from contrastlab.train.config import build_config, resolve
from contrastlab.train.supervised import train_supervised
from contrastlab.train.trainer import load_data

from .conftest import TINY


def _config(*extra: str, epochs: int = 3) -> dict:
    return build_config(None, [*TINY, *extra], **{"train.epochs": epochs})


def _blobs(n_per_class: int = 60, dim: int = 6, seed: int = 0) -> DataSplit:
    rng = np.random.default_rng(seed)
    means = 4.0 * np.eye(3, dim)
    x = np.concatenate([rng.normal(m, 1.0, (n_per_class, dim)) for m in means]).astype(np.float32)
    y = np.repeat(np.arange(3), n_per_class)
    order = rng.permutation(len(y))
    x, y = torch.from_numpy(x[order]), torch.from_numpy(y[order])
    return DataSplit("blobs", "vector", x[:150], y[:150], x[150:], y[150:], ("a", "b", "c"))


def test_digits_backbone_matches_the_contrastive_one_and_learns():
    config = _config("train.save_epochs=[1, 3]", "optim.batch_size=128", "optim.lr=0.03")
    data = load_data(config)
    run = train_supervised(config, data)
    # the same architecture as the contrastive model's backbone, from the same config
    cfg = resolve(config, data, "cpu")
    contrastive = build_model(cfg, data.sample_shape, build_kernel("cosine")).backbone
    expected = {k: v.shape for k, v in contrastive.state_dict().items()}
    assert {k: v.shape for k, v in run.backbone.state_dict().items()} == expected
    assert run.head.out_features == 10 and run.head.in_features == 16
    assert [r["epoch"] for r in run.history] == [1, 2, 3]
    assert run.history[-1]["loss"] < run.history[0]["loss"]
    assert run.history[-1]["train_accuracy"] > 0.3  # chance is 0.1
    assert sorted(run.snapshots) == [1, 3]
    final = run.backbone.state_dict()
    assert all(torch.equal(final[k], run.snapshots[3][k]) for k in final)
    features = run.features(data.test_x)
    early = run.features(data.test_x, run.snapshots[1])
    assert features.shape == (len(data.test_x), 16) and features.dtype == np.float32
    assert not np.allclose(features, early)
    assert np.array_equal(run.features(data.test_x), features)  # eval mode: deterministic
    assert run.config.optim.lr == pytest.approx(0.03) and run.seconds > 0


def test_same_seed_same_weights_and_vectors_use_the_mlp():
    data = _blobs()
    config = _config("model.widths=[16]", "optim.batch_size=32", "optim.lr=0.02", epochs=5)
    a = train_supervised(config, data)
    b = train_supervised(config, data)
    assert all(
        torch.equal(v, b.backbone.state_dict()[k]) for k, v in a.backbone.state_dict().items()
    )
    assert a.config.model.backbone == "mlp"
    logits = a.head(torch.from_numpy(a.features(data.test_x)))
    accuracy = float((logits.argmax(dim=1) == data.test_y).float().mean())
    assert accuracy > 0.8  # well-separated blobs


def test_unlabelled_data_and_bad_settings_are_refused():
    data = _blobs()
    unlabelled = DataSplit("u", "vector", data.train_x, None, data.test_x[:0], None)
    with pytest.raises(InputError, match="no training labels"):
        train_supervised(_config(), unlabelled)
    with pytest.raises(InputError, match="save_epochs"):
        train_supervised(_config("train.save_epochs=[9]"), data)
