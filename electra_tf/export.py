"""`python -m electra_tf.export --model-dir DIR --output DIR [--kind ...]`:
SavedModel export (see electra_tf/serving/export.py and README, "Export
and serve")."""

from electra_tf.errors import run_cli
from electra_tf.serving.export import export, main

__all__ = ["export", "main"]

if __name__ == "__main__":
    run_cli(main)
