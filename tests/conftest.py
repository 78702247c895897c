"""Pytest setup: quiet TensorFlow logs, the `slow` marker, and the check
that no tf.data iterator outlives the test module that made it."""

import functools
import gc
import os
import sys
import weakref

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# (weak reference to an eager tf.data iterator's resource handle, the test
# that made it), for every iterator made since the last module check.
_ITERATORS = []
_current_test = [None]


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "slow: end-to-end test (CI runs it; deselect with -m 'not slow')",
    )
    _track_iterators()


def _track_iterators():
    """Records every eager tf.data iterator made from now on. Its resource
    handle is what is tracked, not the Python iterator: a traced graph that
    captured the handle keeps the iterator running after the Python object
    is gone, and an iterator still alive at interpreter exit can hang the
    process there (its thread pool's teardown waits forever)."""
    from tensorflow.python.data.ops import iterator_ops
    from tensorflow.python.framework import ops

    init = iterator_ops.OwnedIterator.__init__

    @functools.wraps(init)
    def tracked_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        handle = self._iterator_resource
        if isinstance(handle, ops.EagerTensor):  # not one traced in a graph
            _ITERATORS.append((weakref.ref(handle), _current_test[0]))

    iterator_ops.OwnedIterator.__init__ = tracked_init


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _current_test[0] = item.nodeid


@pytest.fixture(autouse=True, scope="module")
def _no_iterator_outlives_its_module():
    """Fails the module if a tf.data iterator it made is still alive once
    it ends. Collects garbage only when one is (a collection per test
    would cost minutes over the suite)."""
    yield
    if any(ref() is not None for ref, _ in _ITERATORS):
        # pytest keeps the last failure's traceback for post-mortem
        # debugging; its frames would keep that test's iterators alive.
        sys.last_type = sys.last_value = sys.last_traceback = None
        gc.collect()
    alive = sorted({test for ref, test in _ITERATORS if ref() is not None})
    _ITERATORS.clear()
    if alive:
        pytest.fail(
            "tf.data iterators made by these tests are still alive after "
            f"garbage collection: {', '.join(map(str, alive))}. Release "
            "them where they are made (a tf.function must take an iterator "
            "as an argument, not capture it)."
        )


def pytest_sessionfinish(session, exitstatus):
    """Every module has been checked for live tf.data iterators; what the
    run leaves (mostly traced graphs that TensorFlow's custom-gradient
    registry keeps reachable) needs no garbage collection, which would
    only slow the exit by seconds: pytest collects five times before it
    exits, Python once more."""
    gc.freeze()
