"""The spectral identity and the ``reproduce spectral`` experiment end to end (tiny sizes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from contrastlab import kernels, losses
from contrastlab.cli import main
from contrastlab.experiments.spectral.compute import identity_terms


def _random_targets(n: int, rng: np.random.Generator) -> np.ndarray:
    """Row-stochastic P with zero diagonal from a random weighted graph (not symmetric after
    normalisation, as P generally is not)."""
    W = rng.random((n, n)) * (rng.random((n, n)) < 0.5)
    W = np.triu(W, 1) + np.triu(W, 1).T + 1e-3 * (1 - np.eye(n))  # connected
    return W / W.sum(axis=1, keepdims=True)


def _infonce_reference(Z: np.ndarray, P: np.ndarray, t: float) -> float:
    """H from its definition, numpy float64, loops over rows."""
    n = len(Z)
    total = 0.0
    for i in range(n):
        l = np.array([-np.sum((Z[i] - Z[j]) ** 2) / t for j in range(n)])
        others = np.delete(l, i)
        top = others.max()
        total += -np.sum(np.delete(P[i] * l, i)) + top + np.log(np.sum(np.exp(others - top)))
    return total


def _spectral_form(Z: np.ndarray, P: np.ndarray, t: float) -> float:
    """(2/t) tr(Z^T L(A) Z) + log R from the formulas, numpy float64."""
    A = (P + P.T) / 2
    L = np.diag(A.sum(axis=1)) - A
    n = len(Z)
    log_r = 0.0
    for i in range(n):
        l = np.array([-np.sum((Z[i] - Z[j]) ** 2) / t for j in range(n) if j != i])
        log_r += l.max() + np.log(np.sum(np.exp(l - l.max())))
    return 2 / t * np.trace(Z.T @ L @ Z) + log_r


@pytest.mark.parametrize("seed", range(4))
def test_identity_holds_to_1e_10(seed):
    rng = np.random.default_rng(seed)
    n, d, t = int(rng.integers(5, 30)), int(rng.integers(1, 6)), float(rng.uniform(0.1, 2.0))
    Z = rng.standard_normal((n, d)) * rng.uniform(0.2, 2.0)
    P = _random_targets(n, rng)
    reference = _infonce_reference(Z, P, t)
    spectral = _spectral_form(Z, P, t)
    engine = float(
        losses.soft_target_infonce(torch.from_numpy(Z), torch.from_numpy(P), kernels.Gaussian(t))
    )
    assert abs(reference - spectral) <= 1e-10 * abs(reference)
    assert abs(engine - spectral) <= 1e-10 * abs(reference)
    attraction, log_r = identity_terms(Z, P, t)  # the experiment's own helper
    assert abs(attraction + log_r - spectral) <= 1e-10 * abs(reference)


def test_identity_is_specific_to_the_gaussian_kernel():
    rng = np.random.default_rng(9)
    Z, P = rng.standard_normal((12, 3)), _random_targets(12, rng)
    laplace = float(
        losses.soft_target_infonce(torch.from_numpy(Z), torch.from_numpy(P), kernels.Laplacian(0.5))
    )
    attraction, log_r = identity_terms(Z, P, 0.5)
    assert abs(laplace - attraction - log_r) > 1e-3 * abs(laplace)


TINY = [
    "--set",
    "k=3",
    "--set",
    "m=6",
    "--set",
    "steps=30",
    "--set",
    "log_every=10",
    "--set",
    "seeds=1",
    "--set",
    "bipartite_steps=10",
    "--set",
    "regime_p=1",
    "--set",
    "regime_ratios=[0.2, 0.6]",
    "--set",
    "regime_steps=10",
    "--set",
    "minibatch_sizes=[2, 4, 8, 19]",
    "--set",
    "minibatch_steps=10",
    "--set",
    "kernels=[gaussian, student_t]",
    "--set",
    "regime_kernels=[gaussian, student_t]",
]


def test_reproduce_spectral_quick_end_to_end(tmp_path, capsys):
    out = tmp_path / "spectral"
    assert main(["reproduce", "spectral", "--quick", "--out", str(out), *TINY]) == 0
    assert "identity_exact: supported" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["experiment"] == "spectral" and metrics["quick"] is True
    assert metrics["settings"]["k"] == 3 and metrics["settings"]["kernels"] == [
        {"name": "gaussian", "t": 0.4},  # canonical specs, the library's defaults filled in
        {"name": "student_t", "nu": 5.0, "s": 0.2},
    ]
    ids = [c["id"] for c in metrics["claims"]]
    assert ids == [
        "identity_exact",
        "gaussian_aligns_with_spectral",
        "infonce_matches_spectral_clustering",
        "infonce_tracks_spectral_across_regimes",
        "minibatch_approaches_full_batch",
        "clip_matches_bipartite_svd",
    ]
    assert metrics["claims"][0]["source"].startswith("implementation check")
    # the regime parts: one sweep entry per q / p with its seeds, the mini-batch sizes, CLIP
    sweep = metrics["sweep"]
    assert [pt["ratio"] for pt in sweep] == [0.2, 0.6] and sweep[0]["q"] == pytest.approx(0.2)
    assert all(pt["seeds"] == 3 and len(pt["runs"]) == 3 for pt in sweep)
    for key in ("spectral_nmi", "gaussian_nmi", "gaussian_alignment", "student_t_alignment"):
        assert len(sweep[0][key]) == 2  # (mean, sd)
    for pt in sweep:  # the claim's gap is InfoNCE minus k-means on L(A)'s eigenvectors, per graph
        gaps = [r["gaussian_nmi"] - r["spectral_nmi"] for r in pt["runs"]]
        assert pt["nmi_gap"][0] == pytest.approx(np.mean(gaps), abs=1e-12)
        assert pt["spectral_nmi"][0] == pytest.approx(
            np.mean([r["spectral_nmi"] for r in pt["runs"]])
        )
    assert metrics["minibatch"]["sizes"] == [2, 4, 8] and metrics["minibatch"]["seeds"] == 3
    assert metrics["minibatch"]["skipped_sizes"] == [19]  # more than the n = 18 objects
    assert len(metrics["minibatch"]["alignment_full"]) == 3
    assert set(metrics["bipartite"]) == {"p=1,q=0", "p=0.75,q=0.2"}
    assert metrics["bipartite"]["p=1,q=0"]["seeds"] == 3
    for key in ("alignment_a", "alignment_b", "clip_nmi", "clip_nmi_a", "clip_nmi_b"):
        assert 0 <= metrics["bipartite"]["p=1,q=0"][key][0] <= 1 + 1e-12
    assert 0 < metrics["detection_threshold"] < 1
    assert "differs_from_recorded_full" in metrics and "recorded_full_run" in metrics
    for claim in metrics["claims"]:
        assert claim["rule"] and claim["evidence"] and isinstance(claim["supported"], bool)
    # The identity is a property of the arithmetic, not of training: it holds at any size.
    identity = metrics["claims"][0]
    assert identity["supported"] and identity["evidence"]["max_relative_residual"] < 1e-9
    assert identity["evidence"]["logged_steps"] == 2 * 4  # two (p, q) settings, steps 0..30 by 10
    html = (out / "report.html").read_text()
    assert "The claim" in html and "identity_exact" in html and "data:image/png;base64" in html
    assert "Across regimes" in html and "Kesten-Stigum" in html and "Mini-batches" in html
    assert "skipped because they exceed the n = 18 objects: [19]" in html
    assert "recorded full run" in html


@pytest.mark.parametrize(
    "override, message",
    [
        ("k=1", "k"),
        ("pq=[[1.5, 0]]", "pq: p and q must be probabilities"),
        ("kernels=[laplacian]", "gaussian"),
        ("regime_kernels=[laplacian]", "regime_kernels: must include 'gaussian'"),
        ("regime_ratios=[0.5, 3]", "regime_ratios: q = ratio * regime_p"),
        ("minibatch_sizes=[1000, 500]", "minibatch_sizes: none is at most k * m = 200"),
        ("minibatch_pq=[0.5]", "minibatch_pq"),
        ("nosuchkey=1", "unknown setting"),
    ],
)
def test_reproduce_spectral_bad_settings(tmp_path, capsys, override, message):
    code = main(["reproduce", "spectral", "--quick", "--out", str(tmp_path), "--set", override])
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "metrics.json").exists()
