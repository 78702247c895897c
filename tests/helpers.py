"""Shared test helpers: the fixtures location and common asserts."""

import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

# Reference data made by running the original code; override with
# ELECTRA_TF_FIXTURES to run the tests from another checkout.
FIXTURES_DIR = os.environ.get(
    "ELECTRA_TF_FIXTURES",
    os.path.normpath(os.path.join(HERE, os.pardir, os.pardir, "shared", "fixtures")),
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
