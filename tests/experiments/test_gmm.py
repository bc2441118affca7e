"""The linear-encoder trainers and the ``reproduce gmm`` experiment end to end (tiny sizes)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from contrastlab import analysis
from contrastlab.cli import main
from contrastlab.data.gmm import make_gmm, make_paired_gmm
from contrastlab.experiments.free_embedding import train_linear_clip, train_linear_infonce
from contrastlab.kernels import InnerProduct


def test_linear_infonce_finds_fisher_subspace_isotropic():
    g = make_gmm(k=3, dim=6, separation=6.0, seed=0)
    F = analysis.fisher_subspace(g.means, g.covariance)
    random_level = analysis.captured_fraction(np.random.default_rng(0).standard_normal((6, 2)), F)
    result = train_linear_infonce(
        lambda n, rng: g.positive_pairs(n, rng)[:2], 6, 2, steps=60, batch_size=64, lr=0.05
    )
    assert result.weights[0].shape == (2, 6)
    assert np.mean(result.losses[-10:]) < np.mean(result.losses[:10])
    assert analysis.captured_fraction(result.weights[0].T, F) > max(0.8, random_level)


def test_linear_clip_trains_two_encoders():
    pg = make_paired_gmm(k=3, dim_a=5, dim_b=7, separation=6.0, seed=1)
    result = train_linear_clip(
        lambda n, rng: pg.pairs(n, rng)[:2], 5, 7, 2, steps=60, batch_size=64, lr=0.05
    )
    A_a, A_b = result.weights
    assert A_a.shape == (2, 5) and A_b.shape == (2, 7)
    assert np.mean(result.losses[-10:]) < np.mean(result.losses[:10])


def test_inner_product_kernel_is_unnormalised():
    import torch

    a, b = torch.randn(4, 3), torch.randn(5, 3)
    kernel = InnerProduct(t=0.5)
    torch.testing.assert_close(kernel.logits(a, b), a @ b.T / 0.5)
    assert kernel.prepare(a) is a


TINY = [
    "--set",
    "k=3",
    "--set",
    "dim=8",
    "--set",
    "steps=15",
    "--set",
    "batch_size=32",
    "--set",
    "seeds=2",
    "--set",
    "n_fit=200",
    "--set",
    "n_eval=60",
    "--set",
    "sweep_anisotropy=[1, 100]",
    "--set",
    "sweep_dim=[8]",
    "--set",
    "sweep_noise=[0, 0.5]",
    "--set",
    "sweep_samples=[40]",
    "--set",
    "sweep_coupling=[0, 60]",
    "--set",
    "real_steps=5",
    "--set",
    "real_width=16",
    "--set",
    "clip_dims=[6, 8]",
    "--set",
    "clip_noise=[0]",
    "--set",
    "clip_anisotropy_diagnostic=[1]",
]
CLAIM_IDS = [
    "isotropic_all_recover_fisher",
    "anisotropic_infonce_recovers_fisher",
    "anisotropic_pca_fails",
    "noisy_infonce_within_fisher",
    "clip_within_fisher",
    "coupled_infonce_recovers_fisher",
    "real_features_infonce_matches_lda",
]


def test_reproduce_gmm_quick_end_to_end(tmp_path, capsys):
    out = tmp_path / "gmm"
    assert main(["reproduce", "gmm", "--quick", "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["experiment"] == "gmm" and metrics["settings"]["dim"] == 8
    assert [c["id"] for c in metrics["claims"]] == CLAIM_IDS
    for claim in metrics["claims"]:
        assert claim["rule"] and claim["evidence"] and isinstance(claim["supported"], bool)
        assert claim["id"] in printed
    # two seeds: the claims that need three say so instead of deciding
    by_id = {c["id"]: c for c in metrics["claims"]}
    for name in ("coupled_infonce_recovers_fisher", "real_features_infonce_matches_lda"):
        assert by_id[name]["conclusive"] is False and "2 seeds" in by_id[name]["reason"]
    sweeps = metrics["sweeps"]
    assert [e["value"] for e in sweeps["anisotropy"]] == [1.0, 100.0]
    top = sweeps["anisotropy"][-1]
    # Exact facts of the construction, true at any training budget:
    assert top["oracle"]["captured_fraction"][0] == pytest.approx(1.0)
    assert top["pca"]["captured_fraction"][0] < 0.2  # PCA picks the high-variance directions
    coupled = sweeps["coupling"][-1]
    assert coupled["value"] == 60.0 and coupled["oracle"]["captured_fraction"][0] == pytest.approx(
        1.0
    )
    assert len(coupled["mean_span"]["captured_fraction"]) == 2  # the baseline at every point
    assert [e["value"] for e in sweeps["samples"]] == [40.0]
    real = metrics["real"]
    assert real["seeds"] == 2 and real["lda"]["captured_lda"][0] == pytest.approx(1.0)
    assert len(top["infonce"]["captured_fraction"]) == 2  # (mean, sd) over seeds
    assert [(e["anisotropy"], e["in_rule"]) for e in metrics["clip"]] == [
        (100.0, True),
        (1.0, False),
    ]
    assert "differs_from_recorded_full" in metrics and "recorded_full_run" in metrics
    html = (out / "report.html").read_text()
    assert "Fisher subspace" in html and "data:image/png;base64" in html
    assert "recorded full run" in html and "Real features: digits" in html


@pytest.mark.parametrize(
    "override, message",
    [
        ("k=1", "k"),
        ("kernel=gaussian", "kernel: must be one of cosine, inner_product"),
        ("sweep_noise=[2]", "noise"),
        ("sweep_samples=[3]", "sweep_samples"),
        ("clip_dims=[4]", "clip_dims"),
        ("rank=30", "rank: must be in [1, dim]"),
        ("kernel=cosine:t=0", "kernel"),
    ],
)
def test_reproduce_gmm_bad_settings(tmp_path, capsys, override, message):
    code = main(["reproduce", "gmm", "--quick", "--out", str(tmp_path), "--set", override])
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "metrics.json").exists()


def test_fisher_encoders_beat_random_ones_on_the_clip_loss():
    from contrastlab import kernels
    from contrastlab.experiments.gmm.compute import clip_losses

    pg = make_paired_gmm(k=3, dim_a=6, dim_b=8, separation=6.0, anisotropy=10.0, seed=2)
    rng = np.random.default_rng(0)
    random_weights = [rng.standard_normal((2, 6)), rng.standard_normal((2, 8))]
    random_loss, fisher_loss = clip_losses(
        pg, random_weights, kernels.Cosine(0.2), 0.0, 64, rng, batches=5
    )
    assert fisher_loss < np.log(64) < random_loss


def test_clip_preconditioner_whitens_and_is_symmetric():
    from contrastlab.experiments.gmm.compute import inverse_sqrt_covariance

    rng = np.random.default_rng(3)
    x = (
        rng.standard_normal((5000, 6))
        @ np.diag([10.0, 3.0, 1.0, 1.0, 0.5, 0.1])
        @ np.linalg.qr(rng.standard_normal((6, 6)))[0]
    )
    W = inverse_sqrt_covariance(x)
    np.testing.assert_allclose(W, W.T, atol=1e-12)
    np.testing.assert_allclose(W @ np.cov(x, rowvar=False) @ W, np.eye(6), atol=1e-9)


def _pca_entry(value: float, anisotropy: float, coupling: float) -> dict:
    """A sweep entry with PCA's, the mean span's and a random subspace's captured fraction of F
    measured on a sample of the generator (InfoNCE, not trained here, is set to the oracle)."""
    from contrastlab.analysis import mean_span_subspace, pca_subspace

    g = make_gmm(k=4, dim=20, separation=4.0, anisotropy=anisotropy, seed=3, coupling=coupling)
    F = analysis.fisher_subspace(g.means, g.covariance)
    rng = np.random.default_rng(0)
    X, y = g.sample(4000, rng)
    scores = {
        "pca": analysis.captured_fraction(pca_subspace(X, 3), F),
        "mean_span": analysis.captured_fraction(mean_span_subspace(X, y), F),
        "random": np.mean(
            [analysis.captured_fraction(rng.standard_normal((20, 3)), F) for _ in range(50)]
        ),
        "infonce": 1.0,
    }
    return {
        "value": value,
        "seeds": 1,
        **{m: {"captured_fraction": (v, 0.0)} for m, v in scores.items()},
    }


def test_anisotropic_pca_fails_can_fail_on_the_coupled_generator():
    """Uncoupled, PCA's top directions are orthogonal to F by construction; coupled, they are
    not, and the rule reads a measurement: it holds at 60 degrees and anisotropy 100 (F turns
    away from the high-variance directions) and fails at 85 degrees and anisotropy 10, where
    the high-variance directions are nearly the class directions."""
    from contrastlab.experiments.gmm.claims import pca_fails_claim

    uncoupled = [_pca_entry(100.0, 100.0, 0.0)]
    assert uncoupled[0]["pca"]["captured_fraction"][0] < 1e-3
    held = pca_fails_claim(uncoupled, [_pca_entry(60.0, 100.0, 60.0)], 60.0)
    failed = pca_fails_claim(uncoupled, [_pca_entry(85.0, 10.0, 85.0)], 85.0)
    assert held.conclusive and held.supported
    assert failed.conclusive and not failed.supported
    assert (
        failed.evidence["captured_pca@coupling=85"]
        > 0.5
        > failed.evidence["captured_random@coupling=85"] + 0.1
    )


def test_digits_features_are_the_standardised_pixels_or_a_fixed_relu_layer():
    """The documented formula, with scikit-learn's StandardScaler as the reference scaler."""
    from sklearn.preprocessing import StandardScaler

    from contrastlab.data.sources import load_digits
    from contrastlab.experiments.gmm.real import digits_features

    data = load_digits(test_fraction=0.3, split_seed=1)
    train = data.train_x.reshape(len(data.train_x), -1).double().numpy() / 255.0
    test = data.test_x.reshape(len(data.test_x), -1).double().numpy() / 255.0
    keep = train.std(axis=0) > 1e-8
    scaler = StandardScaler().fit(train[:, keep])
    Z, Ze = scaler.transform(train[:, keep]), scaler.transform(test[:, keep])

    X, y, Xe, ye = digits_features(0, split_seed=1)
    np.testing.assert_allclose(X, Z, atol=1e-9)
    np.testing.assert_allclose(Xe, Ze, atol=1e-9)
    np.testing.assert_array_equal(y, data.train_y.numpy())
    np.testing.assert_array_equal(ye, data.test_y.numpy())

    rng = np.random.default_rng(0)  # relu(z W + b), W ~ N(0, 1/64), b ~ N(0, 1), drawn once
    W, b = rng.standard_normal((64, 32)) / 8.0, rng.standard_normal(32)
    hidden, hidden_test = np.maximum(Z @ W[keep] + b, 0), np.maximum(Ze @ W[keep] + b, 0)
    used = hidden.std(axis=0) > 1e-8
    scaler = StandardScaler().fit(hidden[:, used])
    relu, _, relu_test, _ = digits_features(32, split_seed=1)
    np.testing.assert_allclose(relu, scaler.transform(hidden[:, used]), atol=1e-9)
    np.testing.assert_allclose(relu_test, scaler.transform(hidden_test[:, used]), atol=1e-9)


def test_sweeps_place_the_finite_samples_at_the_coupled_point():
    from contrastlab.experiments.gmm.compute import _sweeps
    from contrastlab.experiments.gmm.settings import Settings

    settings = Settings(coupling_angle=45.0, sweep_coupling=(0.0, 45.0), sweep_samples=(50, 500))
    sweeps = _sweeps(settings)
    # (anisotropy, dim, noise, samples, coupling) of each point
    assert [p for _, p in sweeps["samples"]] == [
        (100.0, 20, 0.0, 50, 45.0),
        (100.0, 20, 0.0, 500, 45.0),
    ]
    assert [p for _, p in sweeps["coupling"]] == [
        (100.0, 20, 0.0, None, 0.0),
        (100.0, 20, 0.0, None, 45.0),
    ]
    for name in ("anisotropy", "dim", "noise"):
        assert {p[4] for _, p in sweeps[name]} == {0.0}, name  # the uncoupled generator


def test_the_coupled_point_separates_lda_from_the_mean_span():
    """One sweep point as compute runs it (InfoNCE barely trained: only the baselines are read).
    At 60 degrees the mean span keeps about cos^2(60 deg) = 0.25 of F while LDA finds F; the
    same point uncoupled has both at F."""
    from contrastlab.experiments.gmm.compute import _point
    from contrastlab.experiments.gmm.settings import Settings

    settings = Settings(steps=1, batch_size=8, n_fit=4000, n_eval=50)
    coupled = _point(settings, 100.0, 20, 0.0, None, 60.0, seed=0)
    uncoupled = _point(settings, 100.0, 20, 0.0, None, 0.0, seed=0)
    assert coupled["oracle"]["captured_fraction"] == pytest.approx(1.0)
    assert coupled["lda"]["captured_fraction"] > 0.95
    assert 0.15 < coupled["mean_span"]["captured_fraction"] < 0.4
    assert uncoupled["mean_span"]["captured_fraction"] > 0.9
    assert uncoupled["lda"]["captured_fraction"] > 0.95
