"""Backbones and projector heads."""
