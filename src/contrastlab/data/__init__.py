"""Data sources, augmentation and synthetic generators."""
