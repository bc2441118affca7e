"""``python -m contrastlab``: the command line (also what ``torchrun -m contrastlab`` starts)."""

from __future__ import annotations

from contrastlab.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
