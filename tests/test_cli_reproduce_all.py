"""``contrastlab reproduce all --quick`` with every one of the six experiments, as a user runs it
(no experiment map patched), at tiny settings given through ``--set`` and ``--data``.

A key goes to every experiment that has it (``epochs`` to rld, sne and kernels; ``steps`` to
spectral, gmm and clusters; ``kernels`` to spectral and kernels, hence a list both accept), so
one list of overrides makes all six run in seconds.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from contrastlab.cli import main
from contrastlab.specs import kernel_spec

EXPERIMENTS = ("spectral", "gmm", "clusters", "rld", "sne", "kernels")
TRAINED_ON_DATA = ("clusters", "rld", "sne", "kernels")
# The claim ids the project's interface spec lists ("stable across versions"), per experiment.
CLAIM_IDS = {
    "spectral": {
        "identity_exact", "gaussian_aligns_with_spectral", "infonce_matches_spectral_clustering",
        "infonce_tracks_spectral_across_regimes", "minibatch_approaches_full_batch",
        "clip_matches_bipartite_svd",
    },
    "gmm": {
        "isotropic_all_recover_fisher", "anisotropic_infonce_recovers_fisher",
        "anisotropic_pca_fails", "noisy_infonce_within_fisher", "clip_within_fisher",
        "coupled_infonce_recovers_fisher", "real_features_infonce_matches_lda",
    },
    "clusters": {"close_sets_preserved", "far_sets_split_with_capacity",
                 "disjoint_close_sets_preserved"},
    "rld": {"toy_rld_values", "contrastive_locally_dense", "gcn_versus_linear",
            "authors_toy_values_match"},
    "sne": {"kl_identity", "student_t_low_dim_gain", "embed2d_versus_tsne"},
    "kernels": {"kernel_comparison"},
}  # fmt: skip
TINY = [
    # spectral (k, steps, dim and kernels shared with others)
    "k=3", "m=6", "steps=15", "log_every=5", "bipartite_steps=10", "regime_p=1",
    "regime_ratios=[0.2, 0.6]", "regime_steps=10", "minibatch_sizes=[2, 4, 8]",
    "minibatch_steps=10",
    "kernels=[gaussian, cosine, kernel_sum]",  # spectral needs gaussian, kernels cosine + a mixture
    # gmm
    "dim=8", "batch_size=64", "n_fit=200", "n_eval=60", "sweep_anisotropy=[1, 100]",
    "sweep_dim=[8]", "sweep_noise=[0, 0.5]", "sweep_samples=[40]", "clip_dims=[6, 8]",
    "clip_noise=[0]", "clip_anisotropy_diagnostic=[1]", "sweep_coupling=[60]", "real_steps=5",
    "real_width=16",
    # clusters, with its real-data section on --data
    "clusters=2", "sets_per_cluster=4", "ratios=[0.1, 1.0]", "capacities=[linear]",
    "negatives=[1, all]", "rows=16", "views_per_source=3", "data_epochs=1", "data_samples=40",
    "data_views=2",
    # rld, sne and kernels train on --data
    "epochs=1", "checkpoints=[1]", "toy_points=40", "gcn_epochs=15",
    'train_overrides=["model.widths=[8, 16]", "model.projector_hidden=32", '
    '"model.projector_dim=16"]',
    "map_epochs=1", "dims=[2, 8]", "tsne_iterations=30", "identity_batches=2",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_reproduce_all_quick_runs_all_six_experiments(tmp_path: Path, capsys) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    pick = np.random.default_rng(0).permutation(len(digits.target))[:200]
    images = np.round(digits.images[pick] * 255 / 16).astype(np.uint8)
    np.savez(tmp_path / "tiny.npz", images=images, labels=digits.target[pick])
    source = f"npz:{tmp_path / 'tiny.npz'}"
    out = tmp_path / "all"
    sets = [x for s in [*TINY, f"runs_dir={tmp_path / 'runs'}"] for x in ("--set", s)]
    assert main(["reproduce", "all", "--quick", "--out", str(out), "--data", source, *sets]) == 0
    printed = capsys.readouterr().out

    index = json.loads((out / "metrics.json").read_text())
    assert index["experiment"] == "all" and index["quick"] is True
    assert list(index["experiments"]) == list(EXPERIMENTS) == list(index["claims"])
    assert index["seconds"] > 0
    page = (out / "report.html").read_text()
    for name in EXPERIMENTS:
        own = json.loads((out / name / "metrics.json").read_text())
        assert own["experiment"] == name and own["quick"] is True
        assert "Verdicts" in (out / name / "report.html").read_text()
        assert f'<a href="{name}/report.html">{name}</a>' in page
        # --data went to the experiments that train on data, and only to them
        assert own["settings"].get("data") == (source if name in TRAINED_ON_DATA else None)
        claims = own["claims"]
        assert claims and index["claims"][name] == claims
        entry = index["experiments"][name]
        assert "error" not in entry and entry["total"] == len(claims)
        assert entry["supported"] == sum(c["supported"] for c in claims)
        assert 0 < entry["seconds"] <= index["seconds"]
        for claim in claims:
            assert {"id", "statement", "supported", "rule", "evidence"} <= set(claim)
            assert claim["id"] in CLAIM_IDS[name]
            assert isinstance(claim["supported"], bool)
            assert claim["statement"].strip() and claim["rule"].strip()
            assert claim["evidence"] and all(
                v is None or isinstance(v, (int, float)) for v in claim["evidence"].values()
            )
            if claim.get("conclusive", True):
                verdict = "supported" if claim["supported"] else "NOT supported"
            else:
                verdict = f"inconclusive ({claim['reason']})"
            assert f"[{name}] {claim['id']}: {verdict}" in printed
            assert claim["id"] in page
    # the --set overrides reached each experiment that has the key (QUICK values underneath)
    settings = {
        n: json.loads((out / n / "metrics.json").read_text())["settings"] for n in EXPERIMENTS
    }
    same = [kernel_spec(k) for k in settings["kernels"]["kernels"]]  # canonical specs of both
    assert [kernel_spec(k) for k in settings["spectral"]["kernels"]] == same
    assert (
        settings["spectral"]["steps"] == settings["gmm"]["steps"] == settings["clusters"]["steps"]
    )
    assert settings["rld"]["epochs"] == settings["sne"]["epochs"] == settings["kernels"]["epochs"]
    assert settings["spectral"]["steps"] == 15 and settings["kernels"]["epochs"] == 1
    for name in ("gmm", "sne"):  # no --set seeds: each keeps its own QUICK value
        quick = importlib.import_module(f"contrastlab.experiments.{name}").QUICK
        assert settings[name]["seeds"] == quick["seeds"]
    assert (tmp_path / "runs").is_dir()  # the kernels runs went where runs_dir said
