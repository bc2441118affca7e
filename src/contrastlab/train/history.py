"""``metrics.jsonl``: one JSON record per epoch, the whole file rewritten atomically each epoch
(a failed write keeps the previous file; a reader never sees a line cut short)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contrastlab.files import atomic_write


def write_history(path: Path, history: list[dict[str, Any]]) -> None:
    """Write ``history`` (one line per epoch) atomically to ``path``."""
    atomic_write(path, "".join(json.dumps(r) + "\n" for r in history).encode())


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
            continue  # a line cut short (files written by older versions, which appended)
        if record.get("epoch", 0) <= upto_epoch:
            records.append(record)
    return records
