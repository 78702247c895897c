"""Checkpoint formats: the one place that reads and writes them."""
