"""Pytest setup: quiet TensorFlow logs and the `slow` marker."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "slow: end-to-end test (CI runs it; deselect with -m 'not slow')",
    )


def pytest_sessionfinish(session, exitstatus):
    """Frees what the tests left alive (models, tf.data iterators held by
    pytest's kept tracebacks) while the interpreter still runs, and keeps
    the exit status for `pytest_unconfigure`."""
    import gc

    gc.collect()
    session.config._electra_exit_status = int(exitstatus)


def pytest_unconfigure(config):
    """Exits with pytest's status once everything is reported: a tf.data
    iterator still referenced at interpreter shutdown can deadlock
    TensorFlow's teardown (its thread pool waits on a thread that never
    finishes), which would hang the run after its last line."""
    status = getattr(config, "_electra_exit_status", None)
    if status is not None:
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
