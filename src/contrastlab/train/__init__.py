"""The training loop, its configuration, checkpoints, optimisers and monitors."""
