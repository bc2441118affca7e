"""The Cauchy 2-D map (t-SimCNE's phases, neighbour pairs) and its t-SNE comparison, tiny size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from contrastlab.analysis.neighbours import euclidean_knn_accuracy
from contrastlab.errors import InputError
from contrastlab.experiments import embed2d_fit as fit
from contrastlab.experiments.embed2d import (
    MapSettings,
    build_fit,
    embed_2d,
    load_maps,
    save_maps,
)

TINY = {"stage1_epochs": 1, "head_epochs": 1, "stage2_epochs": 1, "batch_size": 64}


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # as embed_2d's default; a shared CPU makes more threads slower
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory):
    from sklearn.datasets import load_digits

    digits = load_digits()
    pick = np.random.default_rng(1).permutation(len(digits.target))[:160]
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    np.savez(path, images=(digits.images[pick] * 255 / 16).astype(np.uint8),
             labels=digits.target[pick])  # fmt: skip
    return path


@pytest.fixture(scope="module")
def tiny_data(tiny_npz):
    from contrastlab.data.sources import load_source

    return load_source(f"npz:{tiny_npz}")


def test_embed_2d_tiny(tmp_path, tiny_npz):
    messages: list[str] = []
    settings = {**TINY, "tsne_iterations": 30, "neighbours": 5}
    metrics = embed_2d(f"npz:{tiny_npz}", tmp_path, settings, messages.append)
    assert list(metrics["contrastive"]["phases"]) == ["stage1_128d", "head_2d", "all_2d"]
    assert any(m.startswith("[head_2d] epoch 1/1") for m in messages)
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
    metrics = embed_2d(f"npz:{tiny_npz}", tmp_path, {**TINY, "head_epochs": 0})
    assert metrics["tsne"]["ran"] is False and "openTSNE" in metrics["tsne"]["note"]
    assert list(metrics["contrastive"]["phases"]) == ["stage1_128d", "all_2d"]
    assert "tsne_train" not in load_maps(tmp_path)


def test_embed_2d_rejects_bad_settings_before_any_work(tmp_path):
    with pytest.raises(InputError, match="knn_k"):
        embed_2d("digits", tmp_path, {"knn_k": 0})
    with pytest.raises(InputError, match="unknown embed2d setting"):
        embed_2d("digits", tmp_path, {"perplexity": 5})
    for crop_min in (0, 1.5):
        with pytest.raises(InputError, match="crop_min"):
            embed_2d("digits", tmp_path, {"crop_min": crop_min})
    with pytest.raises(InputError, match="kernel: a 2-D map needs a kernel off the unit sphere"):
        embed_2d("digits", tmp_path, {"kernel": "cosine:t=0.2"})
    assert not any(tmp_path.iterdir())


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before: dict[str, torch.Tensor], module: nn.Module) -> set[str]:
    return {k for k, v in module.state_dict().items() if not torch.equal(v, before[k])}


def test_head_phase_freezes_everything_before_the_new_output_layer(tiny_data):
    """t-SimCNE's middle phase: weights and BatchNorm statistics of the backbone and the hidden
    layer stay exactly as stage 1 left them; only the fresh 2-d layer learns. The last phase then
    trains the body again."""
    torch.manual_seed(0)
    model, trainer, _ = build_fit(tiny_data, MapSettings(batch_size=32, neighbours=3), print)
    trainer.run(model, fit.Phase("stage1_128d", 1, 0.01))
    model.shrink()
    body, out = _state(model.body()), _state(model.out)
    trainer.run(model, fit.Phase("head_2d", 2, 0.01, frozen_body=True))
    assert _changed(body, model.body()) == set()
    assert _changed(out, model.out) == {"weight", "bias"}
    trainer.run(model, fit.Phase("all_2d", 1, 0.01))
    changed = _changed(body, model.body())
    assert "0.blocks.0.0.weight" in changed and "1.0.weight" in changed  # backbone, hidden
    assert "1.1.running_mean" in changed  # BatchNorm back in training mode
    assert all(p.requires_grad for p in model.parameters())


def test_the_map_is_a_free_linear_output_warm_started_from_stage_1(tiny_data):
    """No BatchNorm (or anything) after the 2-d layer: the network's output is exactly
    ``W h + b`` of the hidden layer's output, and shrinking keeps every other trained tensor."""
    torch.manual_seed(0)
    model, _, transform = build_fit(tiny_data, MapSettings(), print)
    body = _state(model.body())
    model.shrink()
    assert _changed(body, model.body()) == set()
    assert isinstance(model.out, nn.Linear) and model.out.out_features == 2
    order: list[nn.Module] = []
    for m in model.modules():
        if not list(m.children()):
            m.register_forward_hook(lambda mod, i, o: order.append(mod))
    points = fit.outputs(model, transform, tiny_data.train_x)
    assert order[-1] is model.out
    assert not any(isinstance(m, nn.BatchNorm1d) and m.num_features == 2 for m in model.modules())
    model.eval()
    with torch.no_grad():
        hidden = model.hidden(model.backbone(transform(tiny_data.train_x)))
        expected = hidden @ model.out.weight.T + model.out.bias
    np.testing.assert_allclose(points, expected.numpy(), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        model.out.weight.mul_(100.0)  # a scale a BatchNorm after the layer would undo
        model.out.bias.zero_()
    scaled = fit.outputs(model, transform, tiny_data.train_x)
    np.testing.assert_allclose(scaled.std(axis=0), 100 * points.std(axis=0), rtol=1e-4)


def test_neighbour_graph_matches_a_float64_brute_force():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5)).astype(np.float32)
    graph = fit.neighbour_graph(x, 4)
    d = ((x[:, None, :].astype(np.float64) - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    expected = np.argsort(d, axis=1)[:, :4]
    np.testing.assert_array_equal(graph, expected)


def test_pair_batches_draw_partners_among_the_anchors_neighbours():
    rng = np.random.default_rng(0)
    graph = np.stack([rng.choice(np.delete(np.arange(50), i), 3, replace=False)
                      for i in range(50)])  # fmt: skip
    generator = torch.Generator().manual_seed(0)
    seen = np.zeros_like(graph, dtype=bool)
    for _ in range(20):
        batches = list(fit.pair_batches(50, 16, graph, generator))
        assert len(batches) == 3  # 50 // 16, the short batch dropped
        anchors = torch.cat([a for a, _ in batches]).numpy()
        assert len(set(anchors)) == len(anchors) == 48
        for a, p in batches:
            hit = graph[a.numpy()] == p.numpy()[:, None]
            assert hit.any(axis=1).all()  # each partner is one of its anchor's neighbours
            seen[a.numpy()] |= hit
    assert seen.mean() > 0.9  # every neighbour gets drawn, not just the nearest
    for a, p in fit.pair_batches(50, 16, None, generator):
        assert torch.equal(a, p)  # no graph: the partner is the anchor (two augmentations)
    assert [len(a) for a, _ in fit.pair_batches(10, 16, None, generator)] == [10]


def test_build_fit_pairs_by_the_input_space_graph_only_when_asked(tiny_data):
    from contrastlab.train.evaluate import raw_inputs

    _, trainer, _ = build_fit(tiny_data, MapSettings(neighbours=4), print)
    pixels = raw_inputs(tiny_data.train_x)
    assert trainer.graph is not None and trainer.graph.shape == (len(pixels), 4)
    np.testing.assert_array_equal(trainer.graph, fit.neighbour_graph(pixels, 4))
    assert build_fit(tiny_data, MapSettings(neighbours=0), print)[1].graph is None


def test_image_crops_cover_crop_min_to_all_of_the_image_and_the_rest_is_the_preset(tiny_data):
    from contrastlab.data.augment import PRESETS

    for crop_min in (0.5, 0.9):
        augment = build_fit(tiny_data, MapSettings(crop_min=crop_min), print)[1].augment
        assert augment.settings.crop_scale == (crop_min, 1.0)
        assert augment.settings.rotation == PRESETS["small_gray"].rotation
        assert augment.settings.hflip == 0.0  # a flipped digit is another symbol


def test_a_maps_file_that_fails_part_way_keeps_the_previous_one(tmp_path):
    first = {"contrastive_train": np.arange(6.0).reshape(3, 2), "train_labels": np.arange(3)}
    save_maps(tmp_path, first)
    before = (tmp_path / "maps.npz").read_bytes()
    # The first array is written, then the object array is refused mid-way through the archive.
    broken = {"contrastive_train": np.zeros((3, 2)), "labels": np.array([{}, 1], dtype=object)}
    with pytest.raises(ValueError, match="allow_pickle"):
        save_maps(tmp_path, broken)
    assert (tmp_path / "maps.npz").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maps.npz"]  # no temporary left
    np.testing.assert_array_equal(
        load_maps(tmp_path)["contrastive_train"], first["contrastive_train"]
    )
