"""The two-stage Cauchy 2-D map and its t-SNE comparison at a tiny size."""

from __future__ import annotations

import numpy as np
import pytest

from contrastlab.analysis.neighbours import euclidean_knn_accuracy
from contrastlab.errors import InputError
from contrastlab.experiments.embed2d import embed_2d, load_maps


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory):
    from sklearn.datasets import load_digits

    digits = load_digits()
    pick = np.random.default_rng(1).permutation(len(digits.target))[:160]
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    np.savez(path, images=(digits.images[pick] * 255 / 16).astype(np.uint8),
             labels=digits.target[pick])  # fmt: skip
    return path


def test_embed_2d_tiny(tmp_path, tiny_npz):
    settings = {"stage1_epochs": 1, "stage2_epochs": 1, "batch_size": 64, "tsne_iterations": 30}
    messages: list[str] = []
    metrics = embed_2d(f"npz:{tiny_npz}", tmp_path, settings, ["optim.lr=0.002"], messages.append)
    assert (tmp_path / "stage1_128d" / "checkpoint.pt").is_file()
    # Stage 2 is warm-started: only the resized last layer and its BatchNorm start fresh.
    init = next(m for m in messages if "initialised from" in m)
    assert "projector.net.3.weight" in init and "backbone" not in init.split("fresh:")[1]
    maps = load_maps(tmp_path)
    assert maps["contrastive_train"].shape == (metrics["train_size"], 2)
    assert maps["tsne_test"].shape == (metrics["test_size"], 2)
    assert np.isfinite(maps["contrastive_test"]).all()
    recomputed = euclidean_knn_accuracy(
        maps["contrastive_train"], maps["train_labels"], maps["contrastive_test"],
        maps["test_labels"], metrics["knn_k"],
    )  # fmt: skip
    assert metrics["contrastive"]["knn_2d"] == recomputed
    assert metrics["tsne"]["ran"] and 0.0 <= metrics["tsne"]["knn_2d"] <= 1.0
    assert metrics["tsne"]["seconds"] > 0 and metrics["contrastive"]["seconds"] > 0


def test_embed_2d_without_opentsne_skips(tmp_path, tiny_npz, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "openTSNE", None)  # makes the import fail
    settings = {"stage1_epochs": 1, "stage2_epochs": 1, "batch_size": 64}
    metrics = embed_2d(f"npz:{tiny_npz}", tmp_path, settings)
    assert metrics["tsne"]["ran"] is False and "openTSNE" in metrics["tsne"]["note"]
    assert "tsne_train" not in load_maps(tmp_path)


def test_embed_2d_rejects_bad_settings(tmp_path):
    with pytest.raises(InputError, match="knn_k"):
        embed_2d("digits", tmp_path, {"knn_k": 0})
    with pytest.raises(InputError, match="unknown embed2d setting"):
        embed_2d("digits", tmp_path, {"perplexity": 5})


def test_stage_configs_carry_the_maps_kernel_spec_under_the_users_training_settings(tmp_path):
    from contrastlab.experiments.embed2d import MapSettings, stage_configs
    from contrastlab.settings import with_overrides

    opts = with_overrides(MapSettings(), ["kernel.s=0.5", "stage2_epochs=3", "batch_size=32"])
    configs = stage_configs("digits", opts, ["optim.lr=0.01", "train.threads=2"], tmp_path)
    first, second = configs["stage1_128d"], configs["stage2_2d"]
    for config in (first, second):
        assert config["loss"]["kernel"] == {"name": "cauchy", "s": 0.5}
        assert config["optim"]["lr"] == 0.01 and config["optim"]["batch_size"] == 32
        assert config["train"]["threads"] == 2  # the user's word over the map's one thread
    assert first["model"]["projector_dim"] == 128 and first["model"]["init_from"] is None
    assert second["model"]["projector_dim"] == 2 and second["train"]["epochs"] == 3
    assert second["model"]["init_from"] == str(tmp_path / "stage1_128d")
    assert first["train"]["epochs"] == 40


def test_embed_2d_refuses_a_kernel_on_the_sphere_and_owned_training_keys(tmp_path):
    with pytest.raises(InputError, match="kernel: a 2-D map needs a kernel off the unit sphere"):
        embed_2d("digits", tmp_path, {"kernel": "cosine:t=0.2"})
    with pytest.raises(InputError, match="--set loss.kernel.s: set by embed2d itself"):
        embed_2d("digits", tmp_path, {}, ["loss.kernel.s=0.3"])
    assert not any(tmp_path.iterdir())
