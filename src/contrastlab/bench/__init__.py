"""Benchmarks behind ``contrastlab bench NAME``: each reports ratios timed in one process."""
