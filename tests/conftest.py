"""Shared pytest setup: the `slow` marker and the fixtures location."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))

# Reference data made by running the original code; override with
# ELECTRA_TF_FIXTURES to run the tests from another checkout.
FIXTURES_DIR = os.environ.get(
    "ELECTRA_TF_FIXTURES",
    os.path.join(HERE, os.pardir, os.pardir, "shared", "fixtures"),
)


def fixture_path(*parts):
    """Path under the fixtures folder; skips the test, saying why, if absent."""
    path = os.path.join(FIXTURES_DIR, *parts)
    if not os.path.exists(path):
        pytest.skip(
            f"fixture {path} not found; set ELECTRA_TF_FIXTURES to the "
            "shared/fixtures folder"
        )
    return path


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: end-to-end test (runs in CI; deselect with -m 'not slow')"
    )
