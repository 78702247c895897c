"""Errors that bad input causes, and the one-line report the CLIs give them.

A user's mistake (a bad hparam, a corrupt shard, a checkpoint of another
model, an output that already exists) raises a subclass of `InputError`
whose message names the problem and the fix. The command-line entry points
run through `run_cli`, which prints such an error as one line on stderr and
exits with status 2; any other exception is a bug and keeps its traceback.

>>> try:
...     raise ConfigError("learning_rate is -1; use a value > 0")
... except ValueError as e:
...     print(one_line(e))
learning_rate is -1; use a value > 0
"""

import sys


class InputError(Exception):
    """Bad input: the message says what is wrong and how to fix it."""


class ConfigError(InputError, ValueError):
    """A hyperparameter or flag has a wrong name, type or value."""


class DataError(InputError, ValueError):
    """Input data (corpus, TFRecords, task files) is unreadable or invalid."""


class CheckpointError(InputError, ValueError):
    """A checkpoint or model folder is missing, corrupt or of another model."""


class OutputExistsError(InputError, FileExistsError):
    """An output path exists and the user did not ask to replace it."""


class MissingInputError(InputError, FileNotFoundError):
    """A file or directory the run needs does not exist."""


def one_line(error):
    """The error's message folded onto one line (lists joined by '; ')."""
    parts = [p.strip() for p in str(error).splitlines() if p.strip()]
    return "; ".join(parts) or type(error).__name__


def run_cli(main, *args, **kwargs):
    """Calls `main`; an `InputError` becomes one stderr line and exit 2."""
    try:
        return main(*args, **kwargs)
    except InputError as e:
        print(f"error: {one_line(e)}", file=sys.stderr, flush=True)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr, flush=True)
        sys.exit(130)
