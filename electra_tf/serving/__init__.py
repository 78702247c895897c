"""Serving: SavedModel export with in-graph tokenization, and pipelines."""
