"""Fine-tuning entry point (issue: fine-tuning; not landed yet)."""

import sys

if __name__ == "__main__":
    sys.exit(
        "run_finetuning.py: fine-tuning has not landed yet in this checkout; "
        "only the model, configs and checkpoint loading are available."
    )
