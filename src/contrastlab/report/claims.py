"""Claims of a reproduction: a statement, its evidence numbers and the rule that decides it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Claim:
    """One checked claim.

    Args:
        id: stable identifier (see the spec's ``interfaces.md``).
        statement: the claim in words, as the paper makes it.
        supported: the verdict, computed from ``evidence`` by ``rule``.
        evidence: the numbers the verdict is computed from.
        rule: the decision rule in words, e.g. ``"max residual < 1e-9"``.
        conclusive: False when the setting cannot decide the claim (a ceiling or floor effect,
            too few seeds for the effect asked); an inconclusive claim is never supported.
        reason: why the claim is inconclusive (required when ``conclusive`` is False).
        source: whose statement this is when it is not the paper's own, e.g.
            ``"implementation check"``, ``"project's extrapolation"``,
            ``"t-SimCNE (Boehm et al. 2023)"``; empty for the paper's claim.

    Raises:
        ValueError: an inconclusive claim marked supported, or without a reason.
    """

    id: str
    statement: str
    supported: bool
    evidence: Mapping[str, float] = field(default_factory=dict)
    rule: str = ""
    conclusive: bool = True
    reason: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if not self.conclusive and self.supported:
            raise ValueError(f"claim {self.id}: an inconclusive claim cannot be supported")
        if not self.conclusive and not self.reason:
            raise ValueError(f"claim {self.id}: an inconclusive claim needs its reason")

    @property
    def verdict(self) -> str:
        """``"supported"``, ``"not supported"`` or ``"inconclusive"``."""
        return verdict_of(self.supported, self.conclusive)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "statement": self.statement,
            "supported": bool(self.supported),
            "conclusive": bool(self.conclusive),
            "reason": self.reason,
            "source": self.source,
            "evidence": {k: float(v) for k, v in self.evidence.items()},
            "rule": self.rule,
        }


def verdict_of(supported: bool, conclusive: bool = True) -> str:
    """The three-state verdict: ``"inconclusive"`` whenever ``conclusive`` is False."""
    if not conclusive:
        return "inconclusive"
    return "supported" if supported else "not supported"


def claims_table(claims: list[Claim]) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows for ``Report.table``: each claim, its three-state verdict and its rule."""
    columns = ["claim", "verdict", "rule", "evidence"]
    rows = [
        [
            c.id + (f" ({c.source})" if c.source else ""),
            c.verdict + (f": {c.reason}" if c.reason else ""),
            c.rule,
            ", ".join(f"{k}={v:.4g}" for k, v in c.evidence.items()),
        ]
        for c in claims
    ]
    return columns, rows
