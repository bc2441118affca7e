"""The KL-equals-InfoNCE identity against a float64 reference, and ``reproduce sne`` end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from contrastlab import kernels
from contrastlab.cli import main
from contrastlab.experiments.sne.compute import corrupt
from contrastlab.experiments.sne.identity import check_identity


def _reference_infonce_and_kl(z1: np.ndarray, z2: np.ndarray, t: float) -> tuple[float, float]:
    """Written from the formulas with loops: NT-Xent, and KL(P || Q) over the off-diagonal cells
    with P_ij = 1/N on positives and Q_ij = softmax_j(cos_ij / t) / N."""
    z = np.concatenate([z1, z2])
    n, b = len(z), len(z1)
    unit = z / np.sqrt((z**2).sum(axis=1, keepdims=True))
    loss, kl = 0.0, 0.0
    for i in range(n):
        positive = (i + b) % n
        logits = {j: float(unit[i] @ unit[j]) / t for j in range(n) if j != i}
        top = max(logits.values())
        log_norm = top + math.log(sum(math.exp(v - top) for v in logits.values()))
        loss += (log_norm - logits[positive]) / n
        q = math.exp(logits[positive] - log_norm) / n
        kl += (1.0 / n) * math.log((1.0 / n) / q)
    return loss, kl


@pytest.mark.parametrize("t", [0.2, 0.5])
def test_kl_identity_matches_reference_at_1e_10(t):
    rng = np.random.default_rng(3)
    z1 = rng.normal(size=(12, 5))
    z2 = z1 + 0.5 * rng.normal(size=(12, 5))
    reference_loss, reference_kl = _reference_infonce_and_kl(z1, z2, t)
    assert abs(reference_kl - reference_loss) / reference_loss < 1e-10  # the derivation itself
    from contrastlab import losses

    loss = float(losses.KernelInfoNCE(kernels.Cosine(t=t))(torch.tensor(z1), torch.tensor(z2)))
    assert abs(loss - reference_loss) / reference_loss < 1e-10


@pytest.mark.parametrize(
    "kernel", [kernels.Cosine(t=0.2), kernels.StudentT(nu=5.0, s=1.0), kernels.Cauchy(s=1.0)]
)
def test_check_identity_both_constants(kernel):
    check = check_identity(kernel, batch_pairs=16, dim=6, seed=1)
    assert check.residual_joint < 1e-10
    # The conditional form differs from the joint one by exactly log(1 / 2B).
    assert abs(check.kl_conditional - (check.kl_joint + math.log(1 / 32))) < 1e-10
    assert check.residual_conditional < 1e-10


def test_check_identity_agrees_with_reference_kl():
    rng = np.random.default_rng(7)  # check_identity's own draw, repeated
    z1 = rng.normal(size=(10, 4))
    z2 = z1 + rng.normal(scale=0.5, size=(10, 4))
    _, reference_kl = _reference_infonce_and_kl(z1, z2, 0.2)
    check = check_identity(kernels.Cosine(t=0.2), batch_pairs=10, dim=4, seed=7)
    assert abs(check.kl_joint - reference_kl) / reference_kl < 1e-10


def test_corrupt_blurs_noises_and_clips():
    images = torch.zeros(3, 1, 8, 8, dtype=torch.uint8)
    images[:, :, 4, 4] = 255
    blurred = corrupt(images, blur=0.8, noise=0.0, seed=0, reference=images)
    assert blurred.dtype == torch.float32
    assert 0.0 < blurred[0, 0, 4, 4] < 1.0 and blurred[0, 0, 4, 5] > 0.0  # mass spread out
    torch.testing.assert_close(blurred.sum(dim=(2, 3)), torch.ones(3, 1), atol=1e-5, rtol=0)
    noisy = corrupt(images, blur=0.0, noise=0.3, seed=0, reference=images)
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0 and noisy.std() > 0.05
    again = corrupt(images, blur=0.0, noise=0.3, seed=0, reference=images)
    torch.testing.assert_close(noisy, again)  # the shifted set is fixed by its seed


TINY = [
    "--set", "epochs=1", "--set", "map_epochs=1", "--set", "dims=[2, 8]",
    "--set", "batch_size=64", "--set", "tsne_iterations=30", "--set", "identity_batches=2",
    "--set", "nu_values=[1, 5]", "--set", "toy_points=20", "--set", "toy_epochs=2",
]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory):
    from sklearn.datasets import load_digits

    digits = load_digits()
    pick = np.random.default_rng(0).permutation(len(digits.target))[:200]
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    images = (digits.images[pick] * 255 / 16).astype(np.uint8)
    np.savez(path, images=images, labels=digits.target[pick])
    return path


def test_reproduce_sne_tiny(tmp_path, tiny_npz, capsys):
    out = tmp_path / "sne"
    code = main(["reproduce", "sne", "--quick", "--out", str(out), "--data", f"npz:{tiny_npz}",
                 *TINY])  # fmt: skip
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    claims = {c["id"]: c for c in metrics["claims"]}
    assert list(claims) == ["kl_identity", "student_t_low_dim_gain", "embed2d_versus_tsne"]
    assert claims["kl_identity"]["supported"] is True
    assert claims["kl_identity"]["evidence"]["max_rel_residual_joint"] < 1e-10
    low = claims["student_t_low_dim_gain"]
    assert {f"gain_knn_{p}_d{d}" for p in ("id", "shift") for d in (2, 8)} <= set(low["evidence"])
    assert low["conclusive"] is False  # one seed: no spread to decide by
    assert claims["embed2d_versus_tsne"]["source"].startswith("t-SimCNE")
    # the nu sweep: nu = 5 reused from the dimension sweep at d = 2, nu = 1 trained
    assert [(r["nu"], r["dim"]) for r in metrics["nu_sweep"]] == [(1.0, 2), (5.0, 2)]
    reused = next(r for r in metrics["sweep"] if r["kernel"] == "student_t" and r["dim"] == 2)
    assert metrics["nu_sweep"][1]["output_knn_id"] == reused["output_knn_id"]
    assert [r["augment"] for r in metrics["augmentations"]] == ["noise", "mixup"]
    comparison = metrics["augmentation_comparison"]
    noise, mixup = metrics["augmentations"]
    assert comparison["linear_top1.gain"] == pytest.approx(
        mixup["linear_top1"] - noise["linear_top1"], abs=1e-12
    )
    toy = metrics["gaussian_toy"]
    assert 0.0 <= toy["alignment"] <= 4.0 and toy["uniformity"] <= 0.0
    assert toy["largest_share"] >= 0.2 >= toy["smallest_share"]
    assert {"knn_2d_contrastive", "knn_2d_tsne"} <= set(claims["embed2d_versus_tsne"]["evidence"])
    assert len(metrics["sweep"]) == 4  # 2 dims x 2 kernels x 1 seed
    for row in metrics["sweep"]:
        for key in ("output_knn_id", "output_knn_shift", "backbone_linear_shift"):
            assert 0.0 <= row[key] <= 1.0
    assert metrics["embed2d"]["tsne"]["ran"] is True
    html = (out / "report.html").read_text()
    assert "t-SNE" in html and html.count("<img") >= 4
    for heading in (
        "nu at low dimension",
        "Gaussian noise against mixup",
        "five clusters",
        "6. t-SimCNE",
    ):
        assert heading in html


def test_reproduce_sne_bad_setting(tmp_path, capsys):
    code = main(["reproduce", "sne", "--out", str(tmp_path), "--set", "dims=[0, 2]"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "dims" in err


@pytest.mark.parametrize(
    "override, message",
    [
        ("sweep_kernels=[cosine, 'laplacian:t=0.5']", "sweep_kernels: the claim compares"),
        ("sweep_kernels=[cosine, sinc]", "sweep_kernels: unknown ['sinc']"),
        ("map_kernel=cosine", "map_kernel: a 2-D map needs a kernel off the unit sphere"),
        ("identity_batch_pairs=1", "identity_batch_pairs"),
        ("dims=[]", "dims"),
    ],
)
def test_reproduce_sne_refuses_settings_before_any_work(tmp_path, capsys, override, message):
    assert main(["reproduce", "sne", "--quick", "--out", str(tmp_path), "--set", override]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not any(tmp_path.iterdir())


def test_sweep_kernels_reach_the_trainer_as_specs():
    from contrastlab.experiments.sne.compute import map_settings, sweep_config
    from contrastlab.experiments.sne.settings import Settings
    from contrastlab.settings import from_mapping

    settings = from_mapping(
        Settings,
        {"sweep_kernels": ["student_t:s=0.5", "cosine"], "map_kernel": "cauchy:s=0.1"},
    )
    student_t, cosine = settings.sweep_kernels
    assert student_t == {"name": "student_t", "nu": 5.0, "s": 0.5}
    assert cosine == {"name": "cosine", "t": 0.2}
    config = sweep_config(settings, student_t, dim=8, seed=2)
    assert config["loss"]["kernel"] == student_t and config["model"]["projector_dim"] == 8
    assert config["train"]["seed"] == 2 and config["train"]["epochs"] == settings.epochs
    assert map_settings(settings).kernel == {"name": "cauchy", "s": 0.1}
    from contrastlab.experiments.embed2d import MapSettings

    tuned = MapSettings()  # the map's batch and rate go together, whatever the sweep's batch
    small_sweep = from_mapping(Settings, {"batch_size": 64})
    assert (map_settings(small_sweep).batch_size, map_settings(small_sweep).lr) == (
        tuned.batch_size,
        tuned.lr,
    )
