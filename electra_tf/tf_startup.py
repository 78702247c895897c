"""Imports TensorFlow without its C++ start-up lines on stderr.

TensorFlow 2.21 logs oneDNN and CUDA-stub notices through absl before its
log level applies, so TF_CPP_MIN_LOG_LEVEL cannot hide them; they would
bury the one-line errors of the command-line tools. `import_quietly()`
sends file descriptor 2 to a temporary file while TensorFlow loads and
replays it only if the import fails.
"""

import os
import sys
import tempfile


def import_quietly():
    """Imports (and returns) `tensorflow`, keeping start-up lines off stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            import tensorflow
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tensorflow
