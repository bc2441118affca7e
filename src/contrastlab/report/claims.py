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
    """

    id: str
    statement: str
    supported: bool
    evidence: Mapping[str, float] = field(default_factory=dict)
    rule: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "statement": self.statement,
            "supported": bool(self.supported),
            "evidence": {k: float(v) for k, v in self.evidence.items()},
            "rule": self.rule,
        }


def claims_table(claims: list[Claim]) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows for ``Report.table`` listing each claim, its verdict and its rule."""
    columns = ["claim", "supported", "rule", "evidence"]
    rows = [
        [
            c.id,
            c.supported,
            c.rule,
            ", ".join(f"{k}={v:.4g}" for k, v in c.evidence.items()),
        ]
        for c in claims
    ]
    return columns, rows
