"""Pre-training entry point (issue: pre-training; not landed yet)."""

import sys

if __name__ == "__main__":
    sys.exit(
        "run_pretraining.py: pre-training has not landed yet in this checkout; "
        "only the model, configs and checkpoint loading are available."
    )
