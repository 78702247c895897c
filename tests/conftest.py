"""Pytest setup: quiet TensorFlow logs and the `slow` marker."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "slow: end-to-end test (CI runs it; deselect with -m 'not slow')",
    )
