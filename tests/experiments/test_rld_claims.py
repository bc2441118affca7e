"""The four claim rules of ``reproduce rld`` on constructed measurements, both ways.

Thresholds (fixed before any result): toys: |RLD(uniform)| < 0.05, RLD of the Gaussian and of
the tiny blobs > 0.5, CH(tiny) / CH(Gaussian) < 0.1 on every draw; the authors' twelve figure
values within ``floor + 4 sd sqrt(1 + 1/S)`` of the mean of our S draws (floor 0.01 for RLD,
log 1.05 for log CH), only at 300 points and t = 0.05; trained claims: seed-paired differences
met when ``mean - 2 SE > 0`` (``SE = sd / sqrt(S)``, sample sd), one seed inconclusive; the GCN
a one-point ceiling and spread. Numbers are written out here, never read from the module.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from contrastlab.analysis.probes import ProbeResult
from contrastlab.experiments.rld import claims as rld

from .claim_checks import above, assert_claim, below

THEIRS = {  # the authors' figure (cluster example.ipynb, cell 3): RLD, CH
    "uniform": (-0.01, 1.72),
    "rings": (0.75, 1.05),
    "lines": (0.74, 0.44),
    "tiny_blobs": (0.72, 13.17),
    "segments": (0.78, 9577.40),
    "gaussian_blobs": (0.79, 12178.58),
}


def _draws(uniform=(0.01,), blobs=(0.7,), tiny=(0.6,), tiny_ch=(1.0,)):
    """Toy measurements per draw; CH of the Gaussian blobs is 10 on every draw."""
    n = len(tiny_ch)
    toys = {
        "uniform": {"rld": list(uniform), "calinski_harabasz": [3.0] * n},
        "tiny_blobs": {"rld": list(tiny), "calinski_harabasz": list(tiny_ch)},
        "gaussian_blobs": {"rld": list(blobs), "calinski_harabasz": [10.0] * n},
    }
    for name in ("rings", "lines", "segments"):  # not part of the rule
        toys[name] = {"rld": [-1.0] * n, "calinski_harabasz": [1e6] * n}
    return toys


@pytest.mark.parametrize(
    "values, supported",
    [
        ({"uniform": [below(0.05)], "blobs": [above(0.5)], "tiny": [above(0.5)]}, True),
        ({"uniform": [-below(0.05)], "tiny_ch": [below(1.0)]}, True),  # ratio just under 0.1
        ({"uniform": [0.05]}, False),
        ({"uniform": [-0.05]}, False),  # the absolute value counts
        ({"blobs": [0.5]}, False),
        ({"tiny": [0.5]}, False),
        ({"tiny_ch": [1.0]}, False),  # CH ratio exactly 0.1
    ],
)
def test_toy_rld_values(values, supported):
    toys = _draws(**{"tiny_ch": [0.5], **values})
    claim = rld.toy_claim(toys)
    assert_claim(
        claim,
        id="toy_rld_values",
        supported=supported,
        evidence={
            "worst_abs_rld_uniform": abs(toys["uniform"]["rld"][0]),
            "lowest_rld_gaussian_blobs": toys["gaussian_blobs"]["rld"][0],
            "lowest_rld_tiny_blobs": toys["tiny_blobs"]["rld"][0],
            "highest_ch_tiny_over_gaussian_blobs": toys["tiny_blobs"]["calinski_harabasz"][0]
            / 10.0,
            "draws": 1.0,
        },
        rule_mentions=("< 0.05", "> 0.5", "< 0.1", "every draw"),
    )


@pytest.mark.parametrize(
    "values",
    [
        {"uniform": [0.0, -0.06, 0.0]},
        {"blobs": [0.7, 0.7, 0.49]},
        {"tiny": [0.49, 0.7, 0.7]},
        {"tiny_ch": [0.5, 1.5, 0.5]},
    ],
)
def test_toy_rld_values_fails_on_one_bad_draw_among_good_ones(values):
    base = {"uniform": [0.0] * 3, "blobs": [0.7] * 3, "tiny": [0.7] * 3, "tiny_ch": [0.5] * 3}
    claim = rld.toy_claim(_draws(**{**base, **values}))
    assert claim.supported is False and claim.evidence["draws"] == 3.0


def _authors_draws(shift: dict[str, tuple[float, float]] | None = None, n: int = 10) -> dict:
    """``n`` draws per toy around the authors' values: RLD a -/+ 0.01 and CH c / 1.1, c * 1.1,
    alternating (mean a, geometric mean c); ``shift`` moves the mean of one toy's draws (RLD by
    adding, CH by multiplying)."""
    toys = {}
    signs = np.resize([-1.0, 1.0], n)
    for name, (r, c) in THEIRS.items():
        dr, fc = (shift or {}).get(name, (0.0, 1.0))
        toys[name] = {
            "rld": list(r + dr + 0.01 * signs),
            "calinski_harabasz": list(c * fc * 1.1**signs),
        }
    return toys


# ten draws of -/+ x: sd = x sqrt(10 / 9); sqrt(1 + 1/10)
SD_FACTOR = math.sqrt(10 / 9) * math.sqrt(1.1)
RLD_TOL = 0.01 + 4 * 0.01 * SD_FACTOR
LOG_CH_TOL = math.log(1.05) + 4 * math.log(1.1) * SD_FACTOR


@pytest.mark.parametrize(
    "shift, supported, worst",
    [
        ({}, True, ("rld_gap_over_tolerance_rings", 0.0)),
        ({"segments": (0.999 * RLD_TOL, 1.0)}, True, ("rld_gap_over_tolerance_segments", 0.999)),
        ({"segments": (1.001 * RLD_TOL, 1.0)}, False, ("rld_gap_over_tolerance_segments", 1.001)),
        ({"uniform": (-1.001 * RLD_TOL, 1.0)}, False, ("rld_gap_over_tolerance_uniform", 1.001)),
        (
            {"lines": (0.0, math.exp(0.999 * LOG_CH_TOL))},
            True,
            ("log_ch_gap_over_tolerance_lines", 0.999),
        ),
        (
            {"gaussian_blobs": (0.0, math.exp(-1.001 * LOG_CH_TOL))},
            False,
            ("log_ch_gap_over_tolerance_gaussian_blobs", 1.001),
        ),
    ],
)
def test_authors_toy_values_match_at_the_stated_tolerance(shift, supported, worst):
    claim = rld.authors_toy_claim(_authors_draws(shift), points=300, t=0.05)
    assert claim.id == "authors_toy_values_match" and claim.conclusive
    assert claim.supported is supported
    key, ratio = worst
    assert claim.evidence[key] == pytest.approx(ratio, abs=1e-6)
    assert claim.evidence["draws"] == 10.0
    assert len(claim.evidence) == 13
    assert claim.source  # an implementation check, not the paper's statement
    for text in ("0.01 + 4 sd(ours) sqrt(1 + 1/S)", "log(1.05)", "300", "t = 0.05", "S >= 10"):
        assert text in claim.rule


def test_authors_toy_values_match_with_a_wider_spread_of_ours():
    # the tolerance grows with our spread: theirs 0.1 above a mean whose draws spread 0.05
    toys = _authors_draws()
    toys["rings"]["rld"] = list(0.75 + 0.1 + 0.05 * np.resize([-1.0, 1.0, 0.0], 12))
    toys["rings"]["calinski_harabasz"] = list(1.05 * 1.1 ** np.resize([-1.0, 1.0], 12))
    claim = rld.authors_toy_claim(toys, points=300, t=0.05)
    spread = np.resize([-0.05, 0.05, 0.0], 12)
    tol = 0.01 + 4 * np.std(spread, ddof=1) * math.sqrt(1 + 1 / 12)
    assert claim.evidence["rld_gap_over_tolerance_rings"] == pytest.approx(0.1 / tol)
    assert claim.supported is True


@pytest.mark.parametrize("draws, verdict", [(9, "inconclusive"), (10, "supported")])
def test_authors_toy_values_match_needs_ten_draws(draws, verdict):
    claim = rld.authors_toy_claim(_authors_draws(n=draws), points=300, t=0.05)
    assert claim.verdict == verdict
    assert ("9 draws" in claim.reason) == (draws == 9)


@pytest.mark.parametrize("points, t", [(299, 0.05), (40, 0.05), (300, 0.1)])
def test_authors_toy_values_match_is_inconclusive_off_the_authors_setting(points, t):
    claim = rld.authors_toy_claim(_authors_draws(), points=points, t=t)
    assert claim.verdict == "inconclusive" and claim.supported is False
    assert str(points) in claim.reason and "300" in claim.reason


N = 360  # test-set size: relative purity at k = N - 1 = 359 is 1 for any embedding


def _model(ch: float, rld_small: float, rld_large: float, purity_1: float, purity_358: float):
    """One model's measurements. RLD at t = 1 (largest), 0.5 and 0.1 (smallest), listed out of
    order; relative purity at k = 1, 10, 358 (the largest k below N - 1) and 359 (= N - 1)."""
    return {
        "calinski_harabasz": ch,
        "rld": {0.5: 0.3, 1.0: rld_large, 0.1: rld_small},
        "relative_purity": {10: 0.5, 359: 1.0, 1: purity_1, 358: purity_358},
        "test_size": N,
    }


def _runs(global_d, purity_d, locality_d):
    """Seed runs whose three part differences are exactly the given per-seed values:
    CH 1 against exp(g), purity falls f against 0, locality 1 + l against 1."""
    runs = []
    for g, f, lo in zip(global_d, purity_d, locality_d):
        con = _model(1.0, 1.0 + lo, 1.0, 0.9, 0.9 - f)
        sup = _model(math.exp(g), 0.5, 0.5, 0.9, 0.9)
        runs.append({"seed": len(runs), "contrastive": con, "supervised": sup})
    return runs


GOOD = [1.0, 2.0, 3.0]  # mean 2, SE 1 / sqrt(3): margin 0.845


@pytest.mark.parametrize(
    "parts, supported",
    [
        ((GOOD, GOOD, GOOD), True),
        (([1.0, 2.99], [1.0, 2.99], [1.0, 2.99]), True),  # two seeds: margin 0.005
        (([1.0, 3.0], GOOD[:2], GOOD[:2]), False),  # margin 2 - 2 * 1 = 0: not > 0
        (([-1.0, 2.0, 5.0], GOOD, GOOD), False),  # mean 2 > 0, margin 2 - 2 sqrt(3) < 0
        ((GOOD, [-1.0, 2.0, 5.0], GOOD), False),
        ((GOOD, GOOD, [-1.0, 2.0, 5.0]), False),
        ((GOOD, GOOD, [-1.0, -2.0, -3.0]), False),  # contradicted
        ((GOOD, [0.0, 0.0, 0.0], GOOD), False),  # a tie with no spread is not met
    ],
)
def test_contrastive_locally_dense_needs_all_three_margins(parts, supported):
    claim = rld.locally_dense_claim(_runs(*parts))
    assert claim.id == "contrastive_locally_dense" and claim.conclusive
    assert claim.supported is supported
    for name, values in zip(("global", "purity", "locality"), parts):
        d = np.asarray(values)
        se = d.std(ddof=1) / math.sqrt(d.size)  # the reference of the rule's margin
        assert claim.evidence[f"{name}_mean"] == pytest.approx(d.mean(), abs=1e-12)
        assert claim.evidence[f"{name}_margin"] == pytest.approx(d.mean() - 2 * se, abs=1e-12)
    assert claim.evidence["seeds"] == float(len(parts[0]))
    for text in ("mean - 2 SE > 0", "floored at 0.001", "k=1", "below N-1", "log CH"):
        assert text in claim.rule


def test_contrastive_locally_dense_with_one_seed_is_inconclusive():
    claim = rld.locally_dense_claim(_runs([5.0], [5.0], [5.0]))
    assert claim.verdict == "inconclusive" and "one seed" in claim.reason
    assert claim.evidence["global_mean"] == pytest.approx(5.0)


@pytest.mark.parametrize("rld_large, denominator", [(-0.05, 1e-3), (0.0005, 1e-3), (0.002, 0.002)])
def test_locality_denominator_is_floored_at_1e_3(rld_large, denominator):
    m = _model(10.0, 0.6, rld_large, 0.9, 0.6)
    assert rld.locality(m) == pytest.approx(0.6 / denominator)


def test_purity_fall_without_k_1_is_zero():
    m = _model(10.0, 0.6, 0.2, 0.9, 0.6)
    assert rld.purity_fall(m) == pytest.approx(0.3)
    # without k = 1 (purity_ks set without it) the rule's fall is not defined: 0, where
    # starting at the smallest k measured (10) would give 0.5 - 0.6 = -0.1
    del m["relative_purity"][1]
    assert rld.purity_fall(m) == 0.0
    m["relative_purity"] = {359: 1.0}  # no k below N - 1
    assert rld.purity_fall(m) == 0.0


def _probe_runs(linear, gcn, linear_params=1290, gcn_params=652):
    """Seed runs with these contrastive-feature probe accuracies."""
    return [
        {
            "seed": i,
            "contrastive": {
                "probes": {
                    "linear": ProbeResult(a, 0.5, linear_params, name="linear"),
                    "gcn": ProbeResult(g, 0.5, gcn_params, name="gcn"),
                }
            },
        }
        for i, (a, g) in enumerate(zip(linear, gcn))
    ]


@pytest.mark.parametrize(
    "linear, gains, verdict, reason",
    [
        ([0.9] * 3, [0.02, 0.03, 0.025], "supported", ""),
        ([0.9] * 2, [0.01, 0.0299], "supported", ""),  # margin 0.0001 > 0
        ([0.9] * 3, [0.0, 0.0, 0.0], "not supported", ""),  # a tie is not support
        ([0.9] * 3, [0.004, -0.004, 0.0], "not supported", ""),  # a tie inside a small spread
        ([0.9] * 3, [-0.02, -0.03, -0.025], "not supported", ""),  # worse beyond the spread
        ([0.995] * 3, [-0.02, -0.03, -0.025], "not supported", ""),  # worse, even at ceiling
        ([0.995] * 3, [0.0, 0.0, 0.0], "inconclusive", "ceiling"),
        ([above(0.99)] * 2, [0.0, 0.0], "inconclusive", "ceiling"),
        ([0.99] * 2, [0.0, 0.0], "not supported", ""),  # exactly 0.99 leaves one point
        ([0.9] * 3, [0.05, -0.03, 0.04], "inconclusive", "too few seeds"),  # 2 SE = 0.05
        ([0.9] * 2, [0.01, 0.03], "inconclusive", "too few seeds"),  # margin 0, 2 SE = 0.02
        ([0.9], [0.05], "inconclusive", "one seed"),
    ],
)
def test_gcn_versus_linear(linear, gains, verdict, reason):
    gcn = [a + g for a, g in zip(linear, gains)]
    claim = rld.gcn_claim(_probe_runs(linear, gcn))
    assert claim.id == "gcn_versus_linear"
    assert claim.verdict == verdict, claim.reason
    assert reason in claim.reason and bool(reason) == bool(claim.reason)
    d = np.asarray(gcn) - np.asarray(linear)
    assert claim.evidence["mean_gain"] == pytest.approx(d.mean(), abs=1e-12)
    if d.size > 1:
        margin = d.mean() - 2 * d.std(ddof=1) / math.sqrt(d.size)
        assert claim.evidence["gain_margin"] == pytest.approx(margin, abs=1e-12)
    assert claim.evidence["mean_linear_accuracy"] == pytest.approx(np.mean(linear))
    for text in ("mean gain - 2 SE > 0", "a tie is not support", "0.99", "0.01"):
        assert text in claim.rule


@pytest.mark.parametrize("gcn_params", [1290, 2000])
def test_gcn_versus_linear_needs_fewer_parameters(gcn_params):
    claim = rld.gcn_claim(_probe_runs([0.9] * 3, [0.95] * 3, gcn_params=gcn_params))
    assert claim.verdict == "not supported" and claim.conclusive


def test_claims_come_in_the_interface_order():
    class Settings:
        toy_points, toy_t = 300, 0.05

    toys = {"authors": {**_draws(), **_authors_draws()}}
    runs = _runs(GOOD, GOOD, GOOD)
    for run, probes in zip(runs, _probe_runs([0.9] * 3, [0.95] * 3)):
        run["contrastive"]["probes"] = probes["contrastive"]["probes"]
    ids = [c.id for c in rld.claims(toys, runs, Settings())]
    assert ids == [
        "toy_rld_values", "contrastive_locally_dense", "gcn_versus_linear",
        "authors_toy_values_match",
    ]  # fmt: skip


@pytest.mark.slow
def test_the_authors_generators_match_their_figure_and_the_projects_do_not():
    """Real draws (the quick mode's 10 per toy, 300 points, t = 0.05) through the real RLD and
    CH: the authors' shapes meet the rule, the project's own shapes (other objects) do not."""
    from contrastlab.analysis._threads import single_thread
    from contrastlab.experiments.rld.compute import toys
    from contrastlab.experiments.rld.settings import Settings

    with single_thread():
        measured = toys(Settings(toy_seeds=10))
    claim = rld.authors_toy_claim(measured["authors"], points=300, t=0.05)
    assert claim.verdict == "supported", claim.evidence
    project = {
        authors: measured["project"][mine]
        for mine, authors in (
            ("uniform_square", "uniform"), ("rings", "rings"), ("lines", "lines"),
            ("tiny_blobs", "tiny_blobs"), ("random_segments", "segments"),
            ("gaussian_blobs", "gaussian_blobs"),
        )
    }  # fmt: skip
    other = rld.authors_toy_claim(project, points=300, t=0.05)
    assert other.verdict == "not supported"
    # the project's 15 short segments per class: CH about 20 against the authors' 9577
    assert other.evidence["log_ch_gap_over_tolerance_segments"] > 1
