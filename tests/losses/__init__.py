"""Tests of ``contrastlab.losses`` against float64 NumPy references written from ``losses.md``."""
