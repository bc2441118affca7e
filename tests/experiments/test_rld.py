"""``reproduce rld`` end to end at tiny sizes, and the pieces its rules rest on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from contrastlab import analysis
from contrastlab.cli import main
from contrastlab.experiments.rld.claims import purity_fall as _purity_fall
from contrastlab.experiments.rld.compute import purity_ceiling as _purity_ceiling
from contrastlab.report import verdict_of

CLAIM_IDS = [
    "toy_rld_values",
    "contrastive_locally_dense",
    "gcn_versus_linear",
    "authors_toy_values_match",
]
TINY = [
    "--set",
    "epochs=2",
    "--set",
    "checkpoints=[1, 2]",
    "--set",
    "toy_points=40",
    "--set",
    "toy_seeds=2",
    "--set",
    "gcn_epochs=15",
    "--set",
    "batch_size=128",
    "--set",
    'train_overrides=["model.widths=[8, 16]", "model.projector_hidden=32", '
    '"model.projector_dim=16"]',
]


def _check_metrics(metrics: dict, seeds: list[int]) -> None:
    assert [c["id"] for c in metrics["claims"]] == CLAIM_IDS
    claims = {c["id"]: c for c in metrics["claims"]}
    for claim in claims.values():
        assert claim["rule"] and claim["evidence"] and isinstance(claim["supported"], bool)
    assert set(metrics["toys"]) == {"authors", "project"}
    assert list(metrics["toys"]["authors"]) == [
        "uniform", "rings", "lines", "tiny_blobs", "segments", "gaussian_blobs"
    ]  # fmt: skip
    assert set(metrics["toys"]["project"]) == {
        "uniform_square", "rings", "lines", "tiny_blobs", "random_segments", "gaussian_blobs"
    }  # fmt: skip
    assert metrics["toy_seeds"] == [0, 1]
    for family in metrics["toys"].values():
        for toy in family.values():
            assert len(toy["rld"]) == 2 and len(toy["calinski_harabasz"]) == 2
    assert [run["seed"] for run in metrics["runs"]] == seeds
    for run in metrics["runs"]:
        for model in (run["contrastive"], run["supervised"]):
            assert set(model["rld"]) == {"1.0", "0.5", "0.2", "0.1"}
            assert set(model["probes"]) == {"linear", "knn", "gcn"}
            assert set(model["checkpoints"]) == {"1", "2"}
            assert model["checkpoints"]["2"]["rld"] == pytest.approx(list(model["rld"].values()))
            assert model["checkpoints"]["2"]["calinski_harabasz"] == pytest.approx(
                model["calinski_harabasz"]
            )
    # the evidence is read from the right model, probe and seed (the rules themselves are
    # tested on constructed evidence in test_rld_claims.py)
    gains = [
        run["contrastive"]["probes"]["gcn"]["accuracy"]
        - run["contrastive"]["probes"]["linear"]["accuracy"]
        for run in metrics["runs"]
    ]
    gcn = claims["gcn_versus_linear"]["evidence"]
    assert gcn["mean_gain"] == pytest.approx(np.mean(gains), abs=1e-12)
    first = metrics["runs"][0]["contrastive"]["probes"]
    assert gcn["linear_params"] == first["linear"]["params"]
    assert gcn["gcn_params"] == first["gcn"]["params"]
    local = claims["contrastive_locally_dense"]["evidence"]
    ch = [
        np.log(run["supervised"]["calinski_harabasz"])
        - np.log(run["contrastive"]["calinski_harabasz"])
        for run in metrics["runs"]
    ]
    assert local["global_mean"] == pytest.approx(np.mean(ch), abs=1e-12)
    assert local["seeds"] == len(seeds)
    toy = claims["toy_rld_values"]["evidence"]
    uniform = metrics["toys"]["authors"]["uniform"]["rld"]
    assert toy["worst_abs_rld_uniform"] == pytest.approx(max(abs(v) for v in uniform))
    # 40 points per class are not the authors' setting
    assert claims["authors_toy_values_match"]["conclusive"] is False


def test_reproduce_rld_on_digits_end_to_end(tmp_path, capsys):
    out = tmp_path / "rld"
    assert main(["reproduce", "rld", "--quick", "--out", str(out), *TINY, "--set", "seeds=2"]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["experiment"] == "rld" and metrics["settings"]["data"] == "digits"
    assert metrics["checkpoint_epochs"] == [1, 2]
    _check_metrics(metrics, seeds=[0, 1])
    for claim_id in CLAIM_IDS:
        assert claim_id in printed
    # the two seeds are two trainings, not one run twice
    runs = metrics["runs"]
    assert runs[0]["contrastive"]["rld"] != runs[1]["contrastive"]["rld"]
    toy = {c["id"]: c for c in metrics["claims"]}["toy_rld_values"]
    # structureless labels: RLD about 0; one blob per class: near its 0.8 bound
    assert toy["evidence"]["worst_abs_rld_uniform"] < 0.1
    assert toy["evidence"]["lowest_rld_gaussian_blobs"] > 0.6
    con = runs[0]["contrastive"]
    assert con["test_size"] == 360 and con["dim"] == 16
    assert set(con["purity"]) == {"1", "10", "100", "359"}  # 500 and 1000 capped at N - 1
    assert con["relative_purity"]["359"] == pytest.approx(1.0)
    html = (out / "report.html").read_text()
    for heading in ("Toy sets", "Neighbour label purity", "Probes", "Across training", "Verdicts"):
        assert heading in html
    for theirs in ("0.8574", "0.8643", "0.873", "0.9903", "9577", "1.218e+04", "knn.ipynb"):
        assert theirs in html  # the authors' numbers beside ours, with their source
    assert "Protocol difference" in html
    assert "recorded full run" in html
    recorded = metrics["recorded_full_run"]
    assert set(recorded["verdicts"]) == set(CLAIM_IDS)
    # the tiny run's verdicts beside the recorded ones: differs lists exactly the changed ones
    verdicts = {c["id"]: verdict_of(c["supported"], c["conclusive"]) for c in metrics["claims"]}
    assert metrics["differs_from_recorded_full"] == [
        i for i in CLAIM_IDS if verdicts[i] != recorded["verdicts"][i]
    ]
    assert html.count("data:image/png;base64") == 5  # 2 toy grids, RLD, purity, checkpoints


def test_reproduce_rld_takes_another_data_source(tmp_path):
    rng = np.random.default_rng(0)
    means = 5.0 * np.eye(4, 12)
    features = np.concatenate([rng.normal(m, 1.0, (50, 12)) for m in means]).astype(np.float32)
    labels = np.repeat(np.arange(4), 50)
    np.savez(tmp_path / "blobs.npz", features=features, labels=labels)
    out = tmp_path / "rld"
    source = f"npz:{tmp_path / 'blobs.npz'}"
    args = ["reproduce", "rld", "--quick", "--out", str(out), "--data", source, *TINY]
    assert main([*args, "--set", "checkpoints=[1]"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["data"] == source
    assert metrics["checkpoint_epochs"] == [1, 2]  # the final epoch is always measured
    (run,) = metrics["runs"]  # quick mode: one seed
    assert run["supervised"]["test_size"] == 40
    assert set(run["contrastive"]["checkpoints"]) == {"1", "2"}
    claims = {c["id"]: c for c in metrics["claims"]}
    for claim_id in ("contrastive_locally_dense", "gcn_versus_linear"):
        assert claims[claim_id]["conclusive"] is False
        assert "one seed" in claims[claim_id]["reason"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("epochs=0", "epochs"),
        ("ts=[]", "ts"),
        ("ts=[1, -0.1]", "ts"),
        ("purity_ks=[0]", "purity_ks"),
        ("gcn_t=0", "gcn_t"),
        ("train_overrides=model.widths", "train_overrides"),
    ],
)
def test_reproduce_rld_bad_settings(tmp_path, capsys, override, message):
    code = main(["reproduce", "rld", "--quick", "--out", str(tmp_path), "--set", override])
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "metrics.json").exists()


def test_purity_ceiling_is_reached_by_perfectly_separated_classes():
    # unequal classes far apart: every neighbour list fills with the own class first
    rng = np.random.default_rng(1)
    sizes = (5, 12, 30)
    X = np.concatenate(
        [rng.normal(0, 0.01, (n, 3)) + 10 * np.eye(3)[c] for c, n in enumerate(sizes)]
    )
    y = np.repeat(np.arange(3), sizes)
    ks = [1, 4, 11, 20, 46]
    ceiling = _purity_ceiling(y, ks)
    # reference from the formula: mean over points of min(1, (n_c - 1) / k)
    for k in ks:
        expected = sum(n * min(1.0, (n - 1) / k) for n in sizes) / sum(sizes)
        assert ceiling[k] == pytest.approx(expected, abs=1e-12)
    assert analysis.neighbour_purity(X, y, ks) == pytest.approx(ceiling, abs=1e-12)
    # at k = N - 1 any embedding reaches the ceiling, so the fall ignores that k
    shuffled = rng.permutation(y)
    assert analysis.neighbour_purity(X, shuffled, [46])[46] == pytest.approx(
        _purity_ceiling(shuffled, [46])[46]
    )
    fall = _purity_fall({"relative_purity": {1: 0.9, 20: 0.6, 46: 1.0}, "test_size": 47})
    assert fall == pytest.approx(0.3)


def test_user_train_overrides_win_over_the_experiments_own_choices():
    from contrastlab.experiments.rld.compute import train_config
    from contrastlab.experiments.rld.settings import Settings
    from contrastlab.settings import from_mapping

    mine = ["loss.kernel.t=0.3", "train.epochs=3", "optim.batch_size=32"]
    settings = from_mapping(Settings, {"train_overrides": mine, "checkpoints": [1, 2, 5]})
    config = train_config(settings)
    assert config["loss"]["kernel"] == {"name": "cosine", "t": 0.3}
    assert config["train"]["epochs"] == 3 and config["optim"]["batch_size"] == 32
    assert config["train"]["save_epochs"] == [1, 2, 3]  # the checkpoints the run reaches
    # without overrides the experiment's own settings reach the trainer
    own = train_config(from_mapping(Settings, {"kernel": "laplacian:t=0.7", "epochs": 4}))
    assert own["loss"]["kernel"] == {"name": "laplacian", "t": 0.7}
    assert own["train"]["epochs"] == 4 and own["train"]["save_epochs"] == [1, 4]
    assert own["monitor"]["knn"] is False and own["train"]["threads"] == 1
    assert own["train"]["time_budget"] is None  # fixed length: nothing timed, same on any machine


def test_settings_round_trip_and_the_quick_settings_pass_the_checks():
    from contrastlab.experiments import rld
    from contrastlab.settings import from_mapping, to_mapping

    full = rld.Settings()
    assert from_mapping(rld.Settings, to_mapping(full)) == full  # defaults are canonical
    assert rld.DEFAULTS == to_mapping(full)
    quick = from_mapping(rld.Settings, {**to_mapping(full), **rld.QUICK})
    rld.check(full)
    rld.check(quick)
    assert quick.epochs == 40 and quick.checkpoints == (1, 5, 10, 20, 40)
    assert (quick.seeds, quick.toy_seeds) == (1, 10) and (full.seeds, full.toy_seeds) == (3, 20)
    assert full.kernel == {"name": "cosine", "t": 0.2} and full.ts == (1.0, 0.5, 0.2, 0.1)


@pytest.mark.parametrize(
    "override, message",
    [
        ("gcn_t=0", "rld: gcn_t must be > 0"),
        ("purity_ks=[]", "rld: purity_ks: must be a non-empty list"),
        ("sweep_kernels=[cosine]", "sne: sweep_kernels: the claim compares"),
        ("map_kernel=gaussian", "sne: map_kernel: a 2-D map needs a kernel off the unit sphere"),
        ('train_overrides=["optim.no_such=1"]', "rld: train_overrides: unknown setting 'optim.no"),
    ],
)
def test_reproduce_all_finds_a_bad_trained_experiment_setting_before_any_work(
    tmp_path, capsys, override, message
):
    assert main(["reproduce", "all", "--quick", "--out", str(tmp_path), "--set", override]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_run_takes_a_settings_instance():
    from contrastlab.experiments import rld

    settings = rld.Settings(
        epochs=2,
        checkpoints=(1,),
        toy_points=40,
        toy_seeds=2,
        gcn_epochs=15,
        batch_size=128,
        purity_ks=(1, 10),
        train_overrides=("model.widths=[8, 16]", "model.projector_dim=16"),
    )
    result = rld.run(settings)
    assert [c.id for c in result.claims] == CLAIM_IDS
    assert result.metrics["checkpoint_epochs"] == [1, 2]
    assert result.metrics["runs"][0]["contrastive"]["dim"] == 16  # the user's override reached it
