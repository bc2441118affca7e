"""Reproduction: contrastive learning makes locally dense clusters, supervised learning global ones.

Claim (Zhang, Lu, Xuan 2023, "How does contrastive learning organize images?"): contrastive
learning packs same-class images into many small, locally dense groups; supervised learning makes a
few globally dense clusters. Calinski-Harabasz (CH, global) misses this; RLD (relative local
density, ``analysis.rld``) at small temperature captures it. Because of the local structure a
graph classifier (the label-propagation GCN, ``analysis.gcn_probe``) can do better than a linear
probe with fewer parameters.

Experiment (``rld_gcn.md``, "Experiment reproduce rld"):

1. The authors' six 2-D toy sets (``data.toys.AUTHORS_TOY_SETS``, their generators' shapes and
   parameters) and the project's own six, ``toy_seeds`` draws each, with RLD at ``t = 0.05`` and
   CH, both on the raw coordinates (``normalize=False``, as the authors' code), beside the
   values of the authors' figure (``published``).
2. At each of ``seeds`` seeds, a contrastive model (the trainer, cosine kernel = SimCLR) and a
   supervised model (``train.supervised``: same backbone, augmentation, optimiser and schedule,
   a linear head and cross-entropy) on the same data, ``digits`` by default (``--data SRC`` for
   any trainer source).
3. On the *test split* backbone features of each: RLD at ``ts``, CH, neighbour purity; the three
   probes (linear, weighted kNN, GCN) fitted on the training split's features and scored on the
   test split (the GCN is transductive: its graph holds train and test nodes, only training labels
   are inputs; every probe makes its model choice on a validation part of the training split).
   The authors' purity and probe numbers (CIFAR-10) are shown beside ours with the protocol
   difference.
4. RLD and CH of the test features at saved epochs of both runs of the first seed.

The trained claims are decided on seed-paired differences with a margin of two standard errors
(``claims``); one seed (quick mode) leaves them inconclusive. Project choices where the paper
could not be confirmed (also in the report): the digits backbone (``small_cnn``) and training
length; the GCN graph temperature ``gcn_t = 0.1``; purity compared through its ratio to the best
value the class sizes allow (on 360 test images a class has only ~36 members, so raw purity at
k = 100 is capped near 0.35 for any embedding); the decision rules. The purity part of
``contrastive_locally_dense`` was corrected after the first run (``PURITY_RULE_NOTE``): its
first form was degenerate.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contrastlab.analysis._threads import single_thread
from contrastlab.experiments import ExperimentResult
from contrastlab.experiments.recorded import compare_with_recorded, recorded_run_section
from contrastlab.experiments.rld import compute
from contrastlab.experiments.rld.checks import check
from contrastlab.experiments.rld.claims import RECORDED_FULL_RUN
from contrastlab.experiments.rld.claims import claims as decide
from contrastlab.experiments.rld.report import build_report
from contrastlab.experiments.rld.settings import QUICK, Settings, as_settings
from contrastlab.settings import to_mapping

#: The full settings as a plain mapping, for the runner that still builds settings from one.
DEFAULTS: dict[str, Any] = to_mapping(Settings())


def run(settings: Settings | Mapping[str, Any]) -> ExperimentResult:
    """Check, run the toy sets, train both models at each seed, measure them, decide, report.

    ``settings`` may be a plain mapping (built into :class:`Settings` first).
    """
    settings = as_settings(settings)
    check(settings)
    with single_thread():
        toys = compute.toys(settings)
        with tempfile.TemporaryDirectory(prefix="contrastlab-rld-") as work:
            trained = compute.train_both(settings, Path(work))
        runs = [
            {
                "seed": run["seed"],
                **{n: compute.measure(run[n], settings, run["seed"]) for n in compute.MODELS},
            }
            for run in trained["runs"]
        ]
    claims = decide(toys, runs, settings)
    report = build_report(settings, toys, runs, claims, trained)
    against_full = compare_with_recorded(claims, RECORDED_FULL_RUN)
    recorded_run_section(report, claims, against_full)
    metrics = {
        "toys": {
            family: {
                n: {"rld": v["rld"], "calinski_harabasz": v["calinski_harabasz"]}
                for n, v in sets.items()
            }
            for family, sets in toys.items()
        },
        "toy_seeds": compute.toy_seeds(settings),
        "runs": [
            {"seed": run["seed"], **{n: compute.to_json(run[n]) for n in compute.MODELS}}
            for run in runs
        ],
        "checkpoint_epochs": trained["saves"],
        "recorded_full_run": against_full["recorded"],
        "differs_from_recorded_full": against_full["differs"],
    }
    return ExperimentResult(claims=claims, report=report, metrics=metrics)


__all__ = ["DEFAULTS", "QUICK", "Settings", "check", "run"]
