"""Calls SavedModel signatures importing only tensorflow and
tensorflow_text: `call_saved_model.py REQUESTS RESULTS`, both pickles.
REQUESTS: (key, export dir, signature, inputs) with strings base64-encoded;
RESULTS: {key: {output: array}, "modules": electra_tf modules imported}."""

import base64
import pickle
import sys

import tensorflow as tf
import tensorflow_text  # noqa: F401 (registers the tokenizer ops)

with open(sys.argv[1], "rb") as f:
    requests = pickle.load(f)
results = {}
loaded = {}
for key, directory, signature, inputs in requests:
    if directory not in loaded:
        loaded[directory] = tf.saved_model.load(directory)
    fn = loaded[directory].signatures[signature]
    args = {}
    for name, value in inputs.items():
        if isinstance(value[0], str):
            value = [base64.b64decode(v) for v in value]
            args[name] = tf.constant(value, tf.string)
        else:
            args[name] = tf.constant(value, tf.int32)
    results[key] = {k: v.numpy() for k, v in fn(**args).items()}
results["modules"] = sorted(
    m for m in sys.modules if m.split(".")[0] in ("electra_tf", "keras_hub")
)
with open(sys.argv[2], "wb") as f:
    pickle.dump(results, f)
