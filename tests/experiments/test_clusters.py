"""The compact trainer of ``reproduce clusters`` and the experiment end to end (tiny sizes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from contrastlab import losses
from contrastlab.analysis._threads import single_thread
from contrastlab.cli import main
from contrastlab.data.intertwined import make_intertwined_clusters
from contrastlab.errors import InputError
from contrastlab.experiments.clusters_training import (
    grouped_clip_loss,
    negatives_per_anchor,
    train_encoder,
)
from contrastlab.kernels import Cosine
from contrastlab.models.encoders import build_encoder, capacity_parameters


def _reference_loss(a: np.ndarray, b: np.ndarray, t: float, group: int) -> float:
    """The symmetric grouped InfoNCE written from the formula, float64 NumPy."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    total, count = 0.0, 0
    for start in range(0, len(a), group):
        ga, gb = a[start : start + group], b[start : start + group]
        logits = ga @ gb.T / t
        for i in range(group):
            for row in (logits[i], logits[:, i]):  # a_i against all b_j, b_i against all a_j
                total += 0.5 * (-row[i] + np.log(np.exp(row).sum()))
            count += 1
    return total / count


@pytest.mark.parametrize("group", [2, 4, 12])
def test_grouped_loss_matches_formula_and_clip_loss(group):
    gen = torch.Generator().manual_seed(group)
    a = torch.randn(12, 6, generator=gen, dtype=torch.float64)
    b = torch.randn(12, 6, generator=gen, dtype=torch.float64)
    kernel = Cosine(t=0.3)
    value = float(grouped_clip_loss(a, b, kernel, group))
    assert value == pytest.approx(_reference_loss(a.numpy(), b.numpy(), 0.3, group), rel=1e-10)
    clip = losses.KernelCLIPLoss(kernel=kernel)
    per_group = [float(clip(a[s : s + group], b[s : s + group])) for s in range(0, 12, group)]
    assert value == pytest.approx(np.mean(per_group), rel=1e-10)


def test_grouped_loss_rejects_ragged_groups():
    with pytest.raises(InputError, match="G \\* 5"):
        grouped_clip_loss(torch.randn(12, 3), torch.randn(12, 3), Cosine(), 5)


def test_negatives_and_capacities():
    assert negatives_per_anchor("all", 10) == 9
    assert negatives_per_anchor(4, 10) == 4
    for bad in (0, 10, "some", True):
        with pytest.raises(InputError, match="negatives"):
            negatives_per_anchor(bad, 10)
    sizes = [capacity_parameters(c, 8, 4) for c in ("linear", "mlp-16x1", "mlp-32x2")]
    assert sizes == [8 * 4 + 4, 8 * 16 + 16 + 16 * 4 + 4, 8 * 32 + 32 + 32 * 32 + 32 + 32 * 4 + 4]
    with pytest.raises(InputError, match="capacity"):
        build_encoder("mlp-0x2", 8, 4)


def test_training_is_deterministic_and_lowers_the_loss():
    data = make_intertwined_clusters(2, 4, radius=1.0, spacing=4.0, separation=3.0, dim=8)
    with single_thread():
        runs = [
            train_encoder(data, "mlp-16x1", 3, Cosine(t=0.5), out_dim=4, steps=40, rows=32, seed=1)
            for _ in range(2)
        ]
    assert runs[0].losses == runs[1].losses
    assert runs[0].negatives == 3
    assert np.mean(runs[0].losses[-5:]) < np.mean(runs[0].losses[:5])
    X = data.views(2, np.random.default_rng(0))[0]
    np.testing.assert_array_equal(runs[0].embed(X), runs[1].embed(X))


TINY = [
    "--set", "clusters=2",
    "--set", "sets_per_cluster=4",
    "--set", "dim=8",
    "--set", "ratios=[0.1, 0.3, 1.0]",
    "--set", "capacities=[linear, mlp-16x1]",
    "--set", "negatives=[1, all]",
    "--set", "steps=15",
    "--set", "rows=16",
    "--set", "views_per_source=3",
    "--set", "seeds=3",
]  # fmt: skip


def test_reproduce_clusters_end_to_end(tmp_path):
    assert main(["reproduce", "clusters", "--quick", "--out", str(tmp_path), *TINY]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["experiment"] == "clusters"
    assert [c["id"] for c in metrics["claims"]] == [
        "close_sets_preserved",
        "disjoint_close_sets_preserved",
        "far_sets_split_with_capacity",
    ]
    for claim in metrics["claims"]:
        assert isinstance(claim["supported"], bool) and claim["rule"] and claim["evidence"]
        assert claim["conclusive"] is True and claim["evidence"]["seeds"] == 3
    assert "extrapolation" in metrics["claims"][2]["source"]
    grid = metrics["grid"]
    assert len(grid) == 3 * 2 * 2 * 3  # ratios x capacities x m x seeds (one temperature)
    assert sorted({p["seed"] for p in grid}) == [0, 1, 2]
    point = grid[0]
    for key in ("seed", "ratio", "capacity", "m", "t", "kmeans_nmi", "centroid_accuracy"):
        assert key in point
    assert "intertwining_gap" in point and "final_loss" in point
    assert {p["m"] for p in grid} == {1, 7}  # "all" = every other of the 8 sources
    # seeds differ: the same cell gives different numbers on different seeds
    cell = [
        p["final_loss"] for p in grid if (p["ratio"], p["capacity"], p["m"]) == (1.0, "linear", 1)
    ]
    assert len(set(cell)) == 3
    assert len(metrics["untrained"]) == 3 * 2 * 3
    assert metrics["data"] is None and metrics["real_data"] is None
    close, disjoint = metrics["claims"][0]["evidence"], metrics["claims"][1]["evidence"]
    assert close["cells"] == 2 * 2  # r/delta 1: both capacities, both m
    assert disjoint["cells"] == 1  # r/delta 0.3, the low capacity (linear), finite m only
    assert metrics["rule_constants"]["overlap_point"] == 0.5
    assert "differs_from_recorded_full" in metrics and "recorded_full_run" in metrics
    html = (tmp_path / "report.html").read_text()
    assert "operational version" in html and "Phase diagrams" in html
    assert "recorded full run" in html and "Rule history" in html


def test_reproduce_clusters_with_real_data(tmp_path):
    args = ["reproduce", "clusters", "--quick", "--data", "digits", "--out", str(tmp_path)]
    tiny_data = ["--set", "data_epochs=1", "--set", "data_samples=40", "--set", "data_views=2"]
    one_point = ["--set", "ratios=[1.0]", "--set", "capacities=[linear]", "--set", "negatives=[1]"]
    assert main([*args, *TINY, *one_point, *tiny_data]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["data"] == "digits" and metrics["settings"]["data"] == "digits"
    real = metrics["real_data"]
    assert real["samples"] == 40 and real["views"] == 2 and real["epochs"] == 1
    for name in ("trained", "untrained"):
        assert 0.0 <= real[name]["kmeans_nmi"] <= 1.0 and real[name]["intertwining_gap"] > 0
    assert "Real data: digits" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(
    "setting, words",
    [
        ("ratios=[0]", "ratios"),
        ("negatives=[100]", "negatives"),
        ("separation=1.5", "separation"),
        ("capacities=[resnet]", "capacity"),
        ("views_per_source=1", "views_per_source"),
        ("grid_kernels=[gaussian]", "grid_kernels: the grid varies the cosine kernel"),
        ("grid_kernels=[cosine, 'cosine:t=0.2']", "grid_kernels: one kernel per temperature"),
        ("grid_kernels=[cosine:t=-1]", "grid_kernels"),
    ],
)
def test_bad_settings_exit_2(tmp_path, capsys, setting, words):
    args = ["reproduce", "clusters", "--quick", "--out", str(tmp_path), *TINY]
    assert main([*args, "--set", setting]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err
