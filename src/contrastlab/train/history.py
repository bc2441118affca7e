"""``metrics.jsonl``: one JSON record per epoch, appended as training goes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one epoch's record."""
    with path.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def write_history(path: Path, history: list[dict[str, Any]]) -> None:
    """Rewrite the file with ``history`` (on resume: the records up to the checkpoint)."""
    path.write_text("".join(json.dumps(r) + "\n" for r in history))


def read_history(path: Path, upto_epoch: int) -> list[dict[str, Any]]:
    """Records of epochs up to the checkpoint (a run killed after logging an epoch but before
    its checkpoint wrote one record too many)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by the kill
        if record.get("epoch", 0) <= upto_epoch:
            records.append(record)
    return records
