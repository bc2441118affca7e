"""``contrastlab reproduce all``: every experiment, the index report, the claim summary, the
routing of ``--set`` and what happens when one experiment fails. The ``EXPERIMENTS`` map is
restricted to real experiments at tiny settings to keep the runs short."""

from __future__ import annotations

import json

import pytest

from contrastlab import experiments
from contrastlab.cli import main
from contrastlab.errors import InputError
from contrastlab.experiments import runner

SMALL = {
    "spectral": experiments.EXPERIMENTS["spectral"],
    "gmm": experiments.EXPERIMENTS["gmm"],
}
# Keys are routed to the experiments that have them: k, steps and seeds go to both,
# m, log_every, bipartite_*, regime_* and minibatch_* to spectral only, the rest to gmm only.
TINY = [
    "k=3",
    "steps=15",
    "seeds=2",
    "m=6",
    "log_every=5",
    "bipartite_steps=10",
    "regime_p=1",
    "regime_ratios=[0.2, 0.6]",
    "regime_steps=10",
    "minibatch_sizes=[2, 4, 8]",
    "minibatch_steps=10",
    "kernels=[gaussian]",
    "dim=8",
    "batch_size=32",
    "n_fit=200",
    "n_eval=60",
    "sweep_anisotropy=[1, 100]",
    "sweep_dim=[8]",
    "sweep_noise=[0]",
    "sweep_samples=[40]",
    "clip_dims=[6, 8]",
    "clip_noise=[0]",
    "clip_anisotropy_diagnostic=[1]",
    "sweep_coupling=[60]",
    "real_steps=5",
    "real_width=16",
]


def _args(out, *extra: str) -> list[str]:
    sets = [x for s in TINY for x in ("--set", s)]
    return ["reproduce", "all", "--quick", "--out", str(out), *sets, *extra]


def test_all_runs_every_experiment_and_writes_the_index(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("contrastlab.experiments.runner.EXPERIMENTS", SMALL)
    assert main(_args(tmp_path)) == 0
    printed = capsys.readouterr().out
    assert "[spectral] identity_exact:" in printed and "[gmm] clip_within_fisher:" in printed
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["experiment"] == "all" and list(metrics["experiments"]) == ["spectral", "gmm"]
    for name in SMALL:
        own = json.loads((tmp_path / name / "metrics.json").read_text())
        assert metrics["claims"][name] == own["claims"]
        entry = metrics["experiments"][name]
        assert "error" not in entry and entry["total"] == len(own["claims"]) > 0
        assert entry["supported"] == sum(c["supported"] for c in own["claims"])
        assert 0 < entry["seconds"] <= metrics["seconds"]
    # --set went only where the key exists, with the quick settings underneath.
    spectral = json.loads((tmp_path / "spectral" / "metrics.json").read_text())["settings"]
    gmm = json.loads((tmp_path / "gmm" / "metrics.json").read_text())["settings"]
    assert spectral["m"] == 6 and spectral["kernels"] == [{"name": "gaussian", "t": 0.4}]
    assert "n_fit" not in spectral
    assert gmm["dim"] == 8 and gmm["steps"] == 15 and "m" not in gmm
    page = (tmp_path / "report.html").read_text()
    assert '<a href="spectral/report.html">spectral</a>' in page
    assert '<a href="gmm/report.html">gmm</a>' in page
    for claim_id in ("infonce_matches_spectral_clustering", "anisotropic_pca_fails"):
        assert claim_id in page


def test_a_failing_experiment_is_recorded_and_the_others_still_run(tmp_path, monkeypatch, capsys):
    broken = {
        "kernels": experiments.EXPERIMENTS["kernels"],  # fails at run time: its data are missing
        "absent": "contrastlab.experiments.no_such_module",  # not in this build
        "spectral": SMALL["spectral"],
    }
    monkeypatch.setattr("contrastlab.experiments.runner.EXPERIMENTS", broken)
    sets = ["--set", "k=3", "--set", "m=6", "--set", "steps=10", "--set", "seeds=2"]
    sets += ["--set", "regime_p=1", "--set", "regime_steps=5", "--set", "minibatch_steps=5"]
    missing = tmp_path / "missing.npz"
    args = ["reproduce", "all", "--quick", "--out", str(tmp_path), "--data", f"npz:{missing}"]
    assert main([*args, *sets, "--set", "bipartite=false"]) == 1
    err = capsys.readouterr().err
    assert "[kernels] FAILED" in err and "missing.npz" in err and "[absent] FAILED" in err
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert "missing.npz" in metrics["experiments"]["kernels"]["error"]
    assert "not available" in metrics["experiments"]["absent"]["error"]
    assert "error" not in metrics["experiments"]["spectral"]
    assert list(metrics["claims"]) == ["spectral"]
    page = (tmp_path / "report.html").read_text()
    assert '<a href="spectral/report.html">' in page and 'href="kernels/' not in page


@pytest.mark.parametrize(
    "override, message",
    [
        ("no_such_setting=1", "--set no_such_setting: no experiment has this setting"),
        ("steps=many", "spectral: steps: expected a whole number"),
        ("kernels=[gaussian]", "kernels: kernels: the claim needs cosine and at least one of"),
        ("novalue", "--set expects key=value"),
    ],
)
def test_bad_overrides_stop_all_before_any_work(tmp_path, capsys, override, message):
    assert main(["reproduce", "all", "--quick", "--out", str(tmp_path), "--set", override]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not any(tmp_path.iterdir())  # nothing ran, nothing written


@pytest.mark.parametrize(
    "override, words",
    [
        ("epochs=-1", ("rld:", "epochs")),  # rld is the fourth experiment to run
        ("kernels=[gaussian, no_such_kernel]", ("spectral:", "no_such_kernel")),
        ("pq=[[1.5, 0]]", ("spectral:", "pq: p and q must be probabilities")),
    ],
)
def test_all_checks_every_experiment_before_any_work(tmp_path, capsys, override, words):
    """A value only a later experiment's own check rejects stops ``all`` before the first runs."""
    assert main(["reproduce", "all", "--quick", "--out", str(tmp_path), "--set", override]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and all(word in lines[0] for word in words)
    assert not any(tmp_path.iterdir())


def test_single_experiment_keeps_the_data_rule(tmp_path, capsys):
    code = main(["reproduce", "spectral", "--out", str(tmp_path), "--data", "digits"])
    assert code == 2
    assert "does not take --data" in capsys.readouterr().err


def test_settings_for_builds_defaults_quick_data_and_overrides_in_that_order():
    from contrastlab.experiments import clusters, gmm

    full = runner.settings_for("gmm")
    assert full == gmm.Settings() and full.seeds == 5
    quick = runner.settings_for("gmm", quick=True, overrides=["seeds=2", "kernel.t=0.3"])
    assert isinstance(quick, gmm.Settings)
    assert quick.steps == gmm.QUICK["steps"] and quick.seeds == 2  # an override beats QUICK
    assert quick.kernel == {"name": "cosine", "t": 0.3}  # a key inside the kernel spec
    with_data = runner.settings_for("clusters", quick=True, data="digits")
    assert with_data.data == "digits" and with_data.steps == clusters.QUICK["steps"]
    with pytest.raises(InputError, match="unknown setting 'n_fit'"):
        runner.settings_for("clusters", overrides=["n_fit=3"])
    with pytest.raises(InputError, match="does not take --data"):
        runner.settings_for("gmm", data="digits")
    with pytest.raises(InputError, match="unknown experiment 'nope'"):
        runner.settings_for("nope")
