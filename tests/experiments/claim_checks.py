"""Shared checks for the claim-rule tests: a claim's verdict, evidence and rule text.

The rules are tested on constructed evidence, one input just inside and one just outside each
threshold. ``below`` and ``above`` give the neighbouring floats, so that ``>=`` against ``>``
(and ``<=`` against ``<``) is told apart at the threshold itself. The thresholds are written
out as numbers in the tests (the values fixed before any result was seen), never read from the
module under test, so that a changed threshold fails a test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest

from contrastlab.report import Claim


def below(x: float) -> float:
    """The largest float smaller than ``x``."""
    return math.nextafter(x, -math.inf)


def above(x: float) -> float:
    """The smallest float larger than ``x``."""
    return math.nextafter(x, math.inf)


def assert_claim(
    claim: Claim,
    *,
    id: str,
    supported: bool,
    evidence: Mapping[str, float],
    rule_mentions: tuple[str, ...] = (),
) -> None:
    """The claim has this id, exactly this verdict and evidence, a statement, and a rule text
    that names each of ``rule_mentions`` (the thresholds it applies)."""
    assert claim.id == id
    assert claim.supported is supported
    assert dict(claim.evidence) == pytest.approx(dict(evidence), rel=1e-12, abs=0.0)
    assert isinstance(claim.statement, str) and len(claim.statement) > 20
    for text in rule_mentions:
        assert text in claim.rule, (text, claim.rule)
