"""contrastlab: kernel InfoNCE losses, contrastive training and diagnostics.

Submodules are imported on demand (``from contrastlab import kernels, losses, analysis``), so
importing the package itself is cheap and pulls in no optional dependency.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
