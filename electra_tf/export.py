"""`python -m electra_tf.export --model-dir DIR --output DIR [--kind ...]`:
SavedModel export (see electra_tf/serving/export.py and README, "Export
and serve")."""

from electra_tf import cli, errors


def main(argv=None):
    """The export CLI; TensorFlow loads after its start-up lines are muted."""
    cli.import_tensorflow_quietly()
    from electra_tf.serving import export

    return export.main(argv)


if __name__ == "__main__":
    errors.run_cli(main)
