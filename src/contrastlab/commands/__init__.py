"""Command-line commands, one module each (see ``contrastlab.cli``)."""
