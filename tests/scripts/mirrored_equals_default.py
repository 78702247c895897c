"""One training step of the tiny pretrainer under MirroredStrategy over two
logical CPUs equals the step under the default strategy:
`mirrored_equals_default.py DATA_DIR CLIP_NORM`."""

import os
import sys

from logical_cpus import use_logical_cpus

use_logical_cpus(2)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from electra_tf.models.pretrainer import ElectraPretrainer  # noqa: E402
from electra_tf.optimization import create_optimizer  # noqa: E402
from electra_tf.tokenization import special_ids  # noqa: E402
from electra_tf.training import loop  # noqa: E402
from electra_tf.training.distribution import DistributedInput  # noqa: E402
from helpers import tiny_config  # noqa: E402
from pretraining_helpers import random_examples  # noqa: E402

data_dir, clip_norm = sys.argv[1], float(sys.argv[2])
# full rows: every replica's local batch has the same number of tokens
rows = random_examples(8, 16, seed=5, min_tokens=13)
data = {
    k: np.array(v, np.int32)
    for k, v in zip(("input_ids", "input_mask", "segment_ids"), zip(*rows))
}
data["input_mask"][:] = 1
config = tiny_config(
    data_dir, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
)
initial = None
results = {}
for name in ("default", "mirrored"):
    strategy = (
        tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        if name == "mirrored"
        else tf.distribute.get_strategy()
    )
    with strategy.scope():
        model = ElectraPretrainer(config, special_ids(config.vocab_file))
        optimizer = create_optimizer(1e-3, 10, weight_decay_rate=0.01)
        optimizer.build(model.trainable_variables)
    if initial is None:
        initial = [v.numpy() for v in model.weights]
    for v, value in zip(model.weights, initial):
        v.assign(value)
    optimizer.iterations.assign(3)  # a step with a non-zero learning rate
    iterator = DistributedInput(
        strategy,
        lambda context: tf.data.Dataset.from_tensor_slices(data)
        .repeat()
        .batch(context.get_per_replica_batch_size(8)),
    )

    def loss_fn(batch, step):
        return {"loss": model.compute_losses(batch, step)["total_loss"]}

    run = loop.make_train_function(
        strategy, model, optimizer, loss_fn, clip_norm=clip_norm
    )
    out = run(iterator, 1)
    results[name] = (
        [v.numpy() for v in model.weights],
        float(out["loss"]),
        float(out["grad_norm"]),
    )
    print(name, strategy.num_replicas_in_sync, results[name][1:])
(wd, ld, nd), (wm, lm, nm) = results["default"], results["mirrored"]
assert abs(ld - lm) < 1e-5, (ld, lm)
diff = max(float(np.max(np.abs(a - b))) for a, b in zip(wd, wm))
moved = max(float(np.max(np.abs(a - b))) for a, b in zip(wd, initial))
print("max weight difference", diff, "largest update", moved)
assert diff < 1e-5 and moved > 1e-4
