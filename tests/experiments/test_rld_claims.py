"""The three claim rules of ``reproduce rld`` on constructed measurements, both ways.

Thresholds (fixed before any result): |RLD(uniform)| < 0.05, RLD of the Gaussian and of the
tiny blobs > 0.5, CH(tiny) / CH(Gaussian) < 0.1; the locality ratio's denominator floored at
1e-3; the purity fall from k = 1 to the largest k below N - 1; GCN accuracy >= linear's with
fewer parameters.
"""

from __future__ import annotations

import pytest

from contrastlab.analysis.probes import ProbeResult
from contrastlab.experiments.rld import claims as rld

from .claim_checks import above, assert_claim, below


def _toys(uniform: float = 0.01, blobs: float = 0.7, tiny: float = 0.6, tiny_ch: float = 1.0):
    """The toy measurements; CH of the Gaussian blobs is 10, so CH ratio = ``tiny_ch`` / 10."""
    toys = {
        "uniform_square": {"rld": uniform, "calinski_harabasz": 3.0},
        "tiny_blobs": {"rld": tiny, "calinski_harabasz": tiny_ch},
        "gaussian_blobs": {"rld": blobs, "calinski_harabasz": 10.0},
    }
    for name in ("rings", "lines", "random_segments"):  # not part of the rule
        toys[name] = {"rld": -1.0, "calinski_harabasz": 1e6}
    return toys


@pytest.mark.parametrize(
    "values, supported",
    [
        ({"uniform": below(0.05), "blobs": above(0.5), "tiny": above(0.5)}, True),
        ({"uniform": -below(0.05), "tiny_ch": below(1.0)}, True),  # ratio just under 0.1
        ({"uniform": 0.05}, False),
        ({"uniform": -0.05}, False),  # the absolute value counts
        ({"blobs": 0.5}, False),
        ({"tiny": 0.5}, False),
        ({"tiny_ch": 1.0}, False),  # CH ratio exactly 0.1
    ],
)
def test_toy_rld_values(values, supported):
    toys = _toys(**{"tiny_ch": 0.5, **values})
    claim = rld.toy_claim(toys)
    assert_claim(
        claim,
        id="toy_rld_values",
        supported=supported,
        evidence={
            "rld_uniform_square": toys["uniform_square"]["rld"],
            "rld_gaussian_blobs": toys["gaussian_blobs"]["rld"],
            "rld_tiny_blobs": toys["tiny_blobs"]["rld"],
            "ch_tiny_over_gaussian_blobs": toys["tiny_blobs"]["calinski_harabasz"] / 10.0,
        },
        rule_mentions=("< 0.05", "> 0.5", "< 0.1"),
    )


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


# contrastive: purity fall 0.9 - 0.6 = 0.3, locality 0.6 / 0.2 = 3
CONTRASTIVE = {"ch": 20.0, "rld_small": 0.6, "rld_large": 0.2, "purity_1": 0.9, "purity_358": 0.6}
# supervised: purity fall 0.1, locality 1.2
SUPERVISED = {"ch": 40.0, "rld_small": 0.6, "rld_large": 0.5, "purity_1": 0.9, "purity_358": 0.8}


@pytest.mark.parametrize(
    "con, sup, supported",
    [
        ({}, {"ch": above(20.0)}, True),  # each part strict, each just met
        ({}, {"ch": 20.0}, False),  # CH equal: global density not higher for supervised
        ({}, {"purity_358": 0.6}, False),  # purity falls equal (0.3 each)
        ({}, {"rld_large": 0.2}, False),  # locality equal (3 each)
        ({"purity_358": 0.9}, {}, False),  # contrastive purity does not fall
        ({"rld_small": 0.2}, {}, False),  # contrastive locality 1
    ],
)
def test_contrastive_locally_dense_needs_all_three_parts(con, sup, supported):
    con_m, sup_m = _model(**{**CONTRASTIVE, **con}), _model(**{**SUPERVISED, **sup})
    claim = rld.locally_dense_claim(con_m, sup_m)
    c, s = {**CONTRASTIVE, **con}, {**SUPERVISED, **sup}
    assert_claim(
        claim,
        id="contrastive_locally_dense",
        supported=supported,
        evidence={
            "ch_contrastive": c["ch"],
            "ch_supervised": s["ch"],
            "relative_purity_fall_contrastive": c["purity_1"] - c["purity_358"],
            "relative_purity_fall_supervised": s["purity_1"] - s["purity_358"],
            "rld_locality_contrastive": c["rld_small"] / c["rld_large"],
            "rld_locality_supervised": s["rld_small"] / s["rld_large"],
        },
        rule_mentions=("floored at 0.001", "k=1", "below N-1"),
    )


@pytest.mark.parametrize("rld_large, denominator", [(-0.05, 1e-3), (0.0005, 1e-3), (0.002, 0.002)])
def test_locality_denominator_is_floored_at_1e_3(rld_large, denominator):
    m = _model(10.0, 0.6, rld_large, 0.9, 0.6)
    claim = rld.locally_dense_claim(m, _model(**SUPERVISED))
    assert claim.evidence["rld_locality_contrastive"] == pytest.approx(0.6 / denominator)


def test_purity_fall_without_a_k_below_n_minus_1_is_zero_for_both():
    con, sup = _model(**CONTRASTIVE), _model(**SUPERVISED)
    for m in (con, sup):
        m["relative_purity"] = {359: 1.0}
    claim = rld.locally_dense_claim(con, sup)
    assert claim.supported is False
    assert claim.evidence["relative_purity_fall_contrastive"] == 0.0
    assert claim.evidence["relative_purity_fall_supervised"] == 0.0


def _probe(name: str, accuracy: float, params: int) -> ProbeResult:
    return ProbeResult(accuracy=accuracy, val_accuracy=0.5, params=params, name=name)


@pytest.mark.parametrize(
    "gcn_accuracy, gcn_params, supported",
    [
        (0.95, 649, True),  # accuracy equal (inclusive), one parameter fewer
        (below(0.95), 100, False),
        (1.0, 650, False),  # as many parameters
    ],
)
def test_gcn_versus_linear(gcn_accuracy, gcn_params, supported):
    claim = rld.gcn_claim(_probe("linear", 0.95, 650), _probe("gcn", gcn_accuracy, gcn_params))
    assert_claim(
        claim,
        id="gcn_versus_linear",
        supported=supported,
        evidence={
            "gcn_accuracy": gcn_accuracy,
            "linear_accuracy": 0.95,
            "gcn_params": gcn_params,
            "linear_params": 650,
        },
        rule_mentions=("GCN accuracy >= linear accuracy", "GCN parameters < linear parameters"),
    )


def test_purity_fall_starts_at_k_1_as_the_rule_says():
    con, sup = _model(**CONTRASTIVE), _model(**SUPERVISED)
    # without k = 1 (purity_ks set without it) the rule's fall is not defined: part not met,
    # where starting at the smallest k measured (10) would give falls -0.1 and -0.3
    for m in (con, sup):
        del m["relative_purity"][1]
    claim = rld.locally_dense_claim(con, sup)
    assert claim.supported is False
    assert claim.evidence["relative_purity_fall_contrastive"] == 0.0
    assert claim.evidence["relative_purity_fall_supervised"] == 0.0
