"""Pre-training: data building and reading, evaluation and the run
(`runner.run(config)` trains or evaluates as run_pretraining.py). The model
and its masking are in models/."""
