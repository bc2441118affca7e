"""The claim rules of ``reproduce rld``: each verdict a pure function of the measurements.

``toys``: family -> name -> {"rld": [one per draw], "calinski_harabasz": [...]}
(``compute.toys``); ``runs``: one ``{"seed", "contrastive", "supervised"}`` per seed, each model's
measurements {"calinski_harabasz", "rld": {t: value}, "relative_purity": {k: value},
"test_size", "probes": {"linear", "gcn", ...: ``analysis.ProbeResult``}} (``compute.measure``).

Across seeds a part is decided by seed-paired differences ``d_s`` (the two models, or the two
probes, of one seed share data, seed and settings): its margin is ``mean(d) - 2 SE`` with
``SE = sd(d) / sqrt(S)`` (sample sd, ``S`` seeds); a part is met when that margin is > 0, i.e.
when the mean difference lies beyond twice its standard error. One seed has no spread: the
trained claims are then inconclusive (quick mode).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from contrastlab.experiments.rld.published import AUTHORS_TOYS
from contrastlab.report import Claim

# Decision rules, fixed before any result was seen (one later correction: PURITY_RULE_NOTE;
# issue 14 made the trained claims several-seed rules and added authors_toy_values_match, all
# fixed before the several-seed runs).
# toy_rld_values: the paper's figure: Gaussian blobs and tiny blobs both locally dense (high RLD),
# uniform labels without structure (RLD about 0), and CH ranking tiny blobs far below the blobs;
# on every draw of the authors' shapes.
TOY_UNIFORM_ABS_MAX = 0.05
TOY_HIGH_RLD_MIN = 0.5  # of the 0.8 upper bound for 5 balanced classes
TOY_CH_RATIO_MAX = 0.1  # CH(tiny_blobs) / CH(gaussian_blobs)
# authors_toy_values_match: the authors' figure is one draw, so each value must lie in the
# prediction interval of our draws: |theirs - mean(ours)| <= floor + TOL_SD sd(ours) sqrt(1 + 1/S)
# (RLD as it is, CH on a log scale). The floors cover the two decimals the authors printed.
TOY_RLD_FLOOR = 0.01
TOY_LOG_CH_FLOOR = math.log(1.05)
TOY_TOL_SD = 4.0  # with 12 values and 20 draws: about 1% false mismatch for identical shapes
TOY_POINTS, TOY_T = 300, 0.05  # the authors' setting; any other makes the claim inconclusive
# Added after a check run with toy_seeds = 2 (not the defaults) gave "not supported": two
# draws had put the segments' CH close together, a tolerance of 0.2 log units and theirs 5
# tolerances away. Below 10 draws the sd is too rough for the interval (for identical shapes a
# false mismatch among the 12 values: about 4% at 10 draws, 18% at 5): inconclusive.
TOY_MIN_DRAWS = 10
# contrastive_locally_dense and gcn_versus_linear: margins in standard errors of the seed mean.
MARGIN_SE = 2.0
RLD_FLOOR = 1e-3  # denominator floor of the locality ratio RLD(smallest t) / RLD(largest t)
# gcn_versus_linear: the smallest gain the rule must be able to see (one accuracy point): a
# linear probe above 1 - MIN_GAIN leaves no room (ceiling), a 2 SE wider than it hides it.
MIN_GAIN = 0.01
# Changed after the first run (documented in the report): the purity part first compared the
# fall of relative purity from k = 1 to the largest k, which the cap at N - 1 makes k = N - 1,
# where relative purity is identically 1; the rule could then never favour the contrastive model.
PURITY_RULE_NOTE = (
    "Rule change after the first run: the purity part first used the largest k of the curve, "
    "which the cap makes k = N - 1; there relative purity is 1 for every embedding by "
    "construction, so the part only compared purity at k = 1 (first quick run, digits, seed 0, "
    "40 epochs: falls -0.028 contrastive and -0.003 supervised, part not met). It now uses the "
    "largest k below N - 1 (100 on digits); nothing else was changed."
)
ONE_SEED = "one seed: no seed spread to weigh the differences against (quick mode)"

# The verdicts of the last full run with the defaults (``reproduce rld`` without --quick),
# from its metrics.json: 3 seeds x 200 epochs on digits, 20 toy draws, on 2 shared CPU cores.
RECORDED_FULL_RUN: dict[str, Any] | None = {
    "verdicts": {
        "toy_rld_values": "supported",
        "contrastive_locally_dense": "supported",
        "gcn_versus_linear": "not supported",
        "authors_toy_values_match": "supported",
    },
    "seconds": 1762.7,
    "when": "2026-12-02, commit a8e476c",
}


def locality(m: dict[str, Any]) -> float:
    """RLD at the smallest t over RLD at the largest t, the denominator floored at RLD_FLOOR."""
    ts = sorted(m["rld"])
    return m["rld"][ts[0]] / max(m["rld"][ts[-1]], RLD_FLOOR)


def purity_fall(m: dict[str, Any]) -> float:
    """Relative purity at k = 1 minus that at the largest k below N - 1 (0 without k = 1).

    At k = N - 1 every point's neighbours are all other points, so relative purity is 1 for any
    embedding; that k cannot tell embeddings apart and is left out (see PURITY_RULE_NOTE).
    Without k = 1 among the measured ks the fall of the rule is not defined: 0 for both models,
    so the part is not met.
    """
    ks = sorted(k for k in m["relative_purity"] if k < m["test_size"] - 1)
    if 1 not in ks:
        return 0.0
    return m["relative_purity"][1] - m["relative_purity"][ks[-1]]


def paired(differences: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error ``sd / sqrt(S)`` (sample sd) of seed-paired differences; the
    standard error is ``nan`` for one seed."""
    d = np.asarray(differences, dtype=np.float64)
    se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else math.nan
    return float(d.mean()), se


def met(differences: Sequence[float]) -> bool:
    """The part's margin ``mean - MARGIN_SE * SE`` is > 0 (False for one seed)."""
    mean, se = paired(differences)
    return len(differences) > 1 and mean - MARGIN_SE * se > 0


def toy_claim(toys: dict[str, dict[str, Any]]) -> Claim:
    """``toy_rld_values`` on every draw of the authors' shapes: |RLD(uniform)| <
    ``TOY_UNIFORM_ABS_MAX``, RLD of the Gaussian and the tiny blobs > ``TOY_HIGH_RLD_MIN``,
    CH(tiny) / CH(Gaussian) < ``TOY_CH_RATIO_MAX`` (``toys``: the ``"authors"`` family)."""
    uniform, tiny, blobs = (toys[n] for n in ("uniform", "tiny_blobs", "gaussian_blobs"))
    ratios = np.asarray(tiny["calinski_harabasz"]) / np.asarray(blobs["calinski_harabasz"])
    evidence = {
        "worst_abs_rld_uniform": float(np.max(np.abs(uniform["rld"]))),
        "lowest_rld_gaussian_blobs": float(np.min(blobs["rld"])),
        "lowest_rld_tiny_blobs": float(np.min(tiny["rld"])),
        "highest_ch_tiny_over_gaussian_blobs": float(np.max(ratios)),
        "draws": float(len(ratios)),
    }
    toy_ok = (
        evidence["worst_abs_rld_uniform"] < TOY_UNIFORM_ABS_MAX
        and evidence["lowest_rld_gaussian_blobs"] > TOY_HIGH_RLD_MIN
        and evidence["lowest_rld_tiny_blobs"] > TOY_HIGH_RLD_MIN
        and evidence["highest_ch_tiny_over_gaussian_blobs"] < TOY_CH_RATIO_MAX
    )
    return Claim(
        "toy_rld_values",
        "On the 2-D toy sets RLD is about 0 for structureless labels and high for locally "
        "dense classes, including tiny scattered blobs that the global CH score ranks low.",
        toy_ok,
        evidence,
        f"on every draw of the authors' shapes: |RLD(uniform)| < {TOY_UNIFORM_ABS_MAX}, "
        f"RLD(gaussian blobs) > {TOY_HIGH_RLD_MIN}, RLD(tiny blobs) > {TOY_HIGH_RLD_MIN}, "
        f"CH(tiny)/CH(gaussian) < {TOY_CH_RATIO_MAX}",
    )


def toy_match(theirs: float, ours: Sequence[float], floor: float) -> tuple[float, float]:
    """``(|theirs - mean(ours)|, floor + TOY_TOL_SD sd(ours) sqrt(1 + 1/S))``: the gap and
    the tolerance of one value (``ours``: S >= 2 draws)."""
    values = np.asarray(ours, dtype=np.float64)
    spread = TOY_TOL_SD * values.std(ddof=1) * math.sqrt(1.0 + 1.0 / values.size)
    return abs(theirs - float(values.mean())), floor + float(spread)


def authors_toy_claim(toys: dict[str, dict[str, Any]], points: int, t: float) -> Claim:
    """``authors_toy_values_match``: each of the authors' twelve figure values (RLD and CH of
    six toys, ``published.AUTHORS_TOYS``) within its tolerance of our draws of their shapes
    (``toy_match``; CH on a log scale). Inconclusive unless ``points`` per class and ``t`` are
    the authors' 300 and 0.05, and with fewer than ``TOY_MIN_DRAWS`` draws."""
    evidence: dict[str, float] = {}
    for name, (rld_theirs, ch_theirs) in AUTHORS_TOYS.items():
        ours = toys[name]
        gap, tol = toy_match(rld_theirs, ours["rld"], TOY_RLD_FLOOR)
        evidence[f"rld_gap_over_tolerance_{name}"] = gap / tol
        log_ch = np.log(ours["calinski_harabasz"])
        gap, tol = toy_match(math.log(ch_theirs), log_ch, TOY_LOG_CH_FLOOR)
        evidence[f"log_ch_gap_over_tolerance_{name}"] = gap / tol
    draws = len(toys["uniform"]["rld"])
    evidence["draws"] = float(draws)
    reason = ""
    if points != TOY_POINTS or t != TOY_T:
        reason = (
            f"toy_points = {points}, toy_t = {t}: the authors' values are for "
            f"{TOY_POINTS} points per class at t = {TOY_T}"
        )
    elif draws < TOY_MIN_DRAWS:
        reason = f"{draws} draws: the interval needs >= {TOY_MIN_DRAWS} (toy_seeds)"
    return Claim(
        "authors_toy_values_match",
        "The authors' toy generators, written here, give the RLD and CH values of the "
        "authors' figure.",
        not reason and all(v <= 1.0 for k, v in evidence.items() if k != "draws"),
        evidence,
        "each of the 12 values of the authors' figure (RLD at t = 0.05 and CH of six toys) "
        "within the prediction interval of our S draws: |theirs - mean(ours)| <= "
        f"{TOY_RLD_FLOOR} + {TOY_TOL_SD:g} sd(ours) sqrt(1 + 1/S) for RLD, the same on log CH "
        f"with floor log(1.05); only at the authors' {TOY_POINTS} points per class, "
        f"t = {TOY_T}, and S >= {TOY_MIN_DRAWS}",
        conclusive=not reason,
        reason=reason,
        source="implementation check against the authors' notebook",
    )


def density_parts(runs: Sequence[dict[str, Any]]) -> dict[str, list[float]]:
    """Per seed, the three seed-paired differences of ``contrastive_locally_dense``:
    ``global``: log CH(supervised) - log CH(contrastive); ``purity``: purity fall contrastive
    - supervised; ``locality``: locality contrastive - supervised. Each > 0 favours the claim."""
    parts: dict[str, list[float]] = {"global": [], "purity": [], "locality": []}
    for run in runs:
        con, sup = run["contrastive"], run["supervised"]
        parts["global"].append(
            math.log(sup["calinski_harabasz"]) - math.log(con["calinski_harabasz"])
        )
        parts["purity"].append(purity_fall(con) - purity_fall(sup))
        parts["locality"].append(locality(con) - locality(sup))
    return parts


def locally_dense_claim(runs: Sequence[dict[str, Any]]) -> Claim:
    """``contrastive_locally_dense``: all three parts of ``density_parts`` met (mean beyond
    ``MARGIN_SE`` standard errors over the seeds); inconclusive with one seed."""
    parts = density_parts(runs)
    evidence: dict[str, float] = {"seeds": float(len(runs))}
    for name, values in parts.items():
        mean, se = paired(values)
        evidence[f"{name}_mean"] = mean
        evidence[f"{name}_margin"] = mean - MARGIN_SE * se
    several = len(runs) > 1
    return Claim(
        "contrastive_locally_dense",
        "Contrastive learning makes locally dense clusters, supervised learning globally "
        "dense ones.",
        several and all(met(values) for values in parts.values()),
        evidence,
        "seed-paired differences, each part met when mean - 2 SE > 0 over the seeds, all three "
        "required: global: log CH(supervised) - log CH(contrastive); purity: the fall of "
        "relative purity (purity / best possible) from k=1 to the largest k below N-1, "
        "contrastive minus supervised; locality: RLD(smallest t) / RLD(largest t) (denominator "
        f"floored at {RLD_FLOOR}), contrastive minus supervised; >= 2 seeds",
        conclusive=several,
        reason="" if several else ONE_SEED,
    )


def gcn_claim(runs: Sequence[dict[str, Any]]) -> Claim:
    """``gcn_versus_linear`` on the contrastive features: per seed ``d = acc(GCN) -
    acc(linear)``. Supported: mean(d) - 2 SE > 0 and fewer GCN parameters on every seed.
    Otherwise not supported when the GCN is worse beyond 2 SE or has as many parameters;
    inconclusive with one seed, when the linear probe is above ``1 - MIN_GAIN`` (ceiling) or
    2 SE > ``MIN_GAIN`` (too few seeds for a one-point gain); else not supported (a tie)."""
    probes = [run["contrastive"]["probes"] for run in runs]
    gains = [p["gcn"].accuracy - p["linear"].accuracy for p in probes]
    mean, se = paired(gains)
    linear = float(np.mean([p["linear"].accuracy for p in probes]))
    fewer = all(p["gcn"].params < p["linear"].params for p in probes)
    supported = len(gains) > 1 and mean - MARGIN_SE * se > 0 and fewer
    reason = ""
    if len(gains) < 2:
        reason = ONE_SEED
    elif not supported and fewer and mean + MARGIN_SE * se >= 0:
        if linear > 1.0 - MIN_GAIN:
            reason = f"ceiling: the linear probe's {linear:.4f} leaves under {MIN_GAIN} to gain"
        elif MARGIN_SE * se > MIN_GAIN:
            reason = f"2 SE = {MARGIN_SE * se:.4f} > {MIN_GAIN}: too few seeds for a 1-point gain"
    return Claim(
        "gcn_versus_linear",
        "A GCN on the neighbourhood graph classifies contrastive features better than a "
        "linear probe, with fewer parameters.",
        supported,
        {
            "seeds": float(len(gains)),
            "mean_gain": mean,
            "gain_margin": mean - MARGIN_SE * se,
            "mean_linear_accuracy": linear,
            "gcn_params": float(probes[0]["gcn"].params),
            "linear_params": float(probes[0]["linear"].params),
        },
        "on the contrastive test features, per seed gain = GCN accuracy - linear accuracy: "
        "supported when mean gain - 2 SE > 0 and GCN parameters < linear parameters on every "
        "seed; a tie is not support: inconclusive with one seed, when linear accuracy > "
        f"{1 - MIN_GAIN:g} (ceiling) or 2 SE > {MIN_GAIN} (too few seeds), else not supported",
        conclusive=not reason,
        reason=reason,
    )


def claims(
    toys: dict[str, dict[str, Any]], runs: Sequence[dict[str, Any]], settings: Any
) -> list[Claim]:
    """The four claims of the experiment, in their report order (``toys`` from
    ``compute.toys``, ``settings`` for the toy setting the authors' values need)."""
    return [
        toy_claim(toys["authors"]),
        locally_dense_claim(runs),
        gcn_claim(runs),
        authors_toy_claim(toys["authors"], settings.toy_points, settings.toy_t),
    ]
