"""Harness of the bad-input suites: run a CLI on a broken input and assert
that it fails with one clear stderr line and leaves every file as it was."""

import hashlib
import os
import re
import subprocess
import sys

ROOT = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
)


# TensorFlow's C++ start-up lines, printed before absl logging is set up,
# so TF_CPP_MIN_LOG_LEVEL cannot silence them (CUDA probing, oneDNN).
TF_STARTUP_LOG = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog|"
    r"[IWE]\d{4} \d\d:\d\d:[\d.]+ +\d+ \w+\.cc:\d+\])"
)


def snapshot(*folders):
    """{path: sha256} of every file under `folders` (missing ones skipped)."""
    files = {}
    for folder in folders:
        for parent, _, names in os.walk(folder):
            for name in names:
                path = os.path.join(parent, name)
                with open(path, "rb") as f:
                    files[path] = hashlib.sha256(f.read()).hexdigest()
    return files


def run_cli(args, cwd=None, env=None, timeout=600):
    """Runs `python args...` from the repository root (scripts or `-m`)."""
    full_env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_clear_failure(args, expect, keep=(), cwd=None, env=None, status=2):
    """Runs the CLI and asserts: exit `status`, stderr is one line that
    contains every string of `expect` (case-insensitive) and no traceback,
    and no file under the folders `keep` was changed, added or deleted.

    Returns the error line.
    """
    if isinstance(expect, str):
        expect = [expect]
    before = snapshot(*keep)
    result = run_cli(args, cwd=cwd, env=env)
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and not TF_STARTUP_LOG.match(line)
    ]
    report = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == status, report
    assert "Traceback" not in result.stderr, report
    assert len(lines) == 1, report
    line = lines[0]
    assert line.startswith("error: "), report
    for text in expect:
        assert text.lower() in line.lower(), f"{text!r} not in {line!r}"
    assert snapshot(*keep) == before, f"files changed by: {args}"
    return line
