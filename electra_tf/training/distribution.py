"""The tf.distribute strategy for a run: default, mirrored, multi_worker, tpu.

Replaces the original's TPUEstimator setup (`use_tpu`, `tpu_name`,
`tpu_zone`, `gcp_project`, `num_tpu_cores`) and adds multi-GPU and
multi-machine data parallelism. The only module that configures
tf.distribute; call `get_strategy` before building any model or dataset.
"""

import contextlib
import json
import os

import keras
import tensorflow as tf

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")


def _tf_config_workers():
    """Number of machines named in the TF_CONFIG environment variable."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 0
    try:
        cluster = json.loads(raw).get("cluster", {})
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}).") from None
    return sum(len(cluster.get(k, [])) for k in ("chief", "worker"))


def resolve_strategy_name(name, use_tpu=False):
    """What "auto" means here: tpu if `use_tpu`, multi_worker if TF_CONFIG
    names several machines, mirrored with several GPUs, else default.

    >>> resolve_strategy_name("auto", use_tpu=True)
    'tpu'
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"Unknown distribution_strategy '{name}'; use one of "
            f"{', '.join(STRATEGIES)}."
        )
    if name != "auto":
        return name
    if use_tpu:
        return "tpu"
    if _tf_config_workers() > 1:
        return "multi_worker"
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return "mirrored"
    return "default"


def _tpu_strategy(tpu_name, tpu_zone, gcp_project, num_tpu_cores):
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        tpu=tpu_name, zone=tpu_zone, project=gcp_project
    )
    tf.config.experimental_connect_to_cluster(resolver)
    topology = tf.tpu.experimental.initialize_tpu_system(resolver)
    assignment = None
    if num_tpu_cores and num_tpu_cores < topology.num_tasks * (
        topology.num_tpus_per_task
    ):
        # As the original's `num_shards`: use exactly num_tpu_cores cores.
        assignment = tf.tpu.experimental.DeviceAssignment.build(
            topology, num_replicas=num_tpu_cores
        )
    return tf.distribute.TPUStrategy(
        resolver, experimental_device_assignment=assignment
    )


def get_strategy(
    name="auto",
    use_tpu=False,
    tpu_name=None,
    tpu_zone=None,
    gcp_project=None,
    num_tpu_cores=None,
):
    """Returns the tf.distribute.Strategy named `name` (see STRATEGIES).

    multi_worker reads the cluster from TF_CONFIG (every machine runs the
    same command); tpu connects to `tpu_name` (a name, grpc:// address or
    None for a local TPU VM).
    """
    name = resolve_strategy_name(name, use_tpu)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError(
                "distribution_strategy 'multi_worker' needs the TF_CONFIG "
                "environment variable describing the cluster and this "
                "machine's task, e.g. '{\"cluster\": {\"worker\": [\"host1:"
                "2222\", \"host2:2222\"]}, \"task\": {\"type\": \"worker\", "
                "\"index\": 0}}'."
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    return _tpu_strategy(tpu_name, tpu_zone, gcp_project, num_tpu_cores)


def strategy_from_config(config):
    """`get_strategy` from a config's `distribution_strategy` and TPU hparams."""
    return get_strategy(
        config.distribution_strategy,
        config.use_tpu,
        config.tpu_name,
        config.tpu_zone,
        config.gcp_project,
        config.num_tpu_cores,
    )


def has_amx_bf16(cpuinfo=None):
    """True when the CPU has AMX bfloat16 matmul units (Intel Sapphire Rapids
    and later): Linux's /proc/cpuinfo lists the `amx_bf16` flag. `cpuinfo`
    is that file's text (read when None); False where there is none.

    >>> has_amx_bf16("flags\t: fpu avx512_bf16 amx_bf16 amx_tile")
    True
    >>> has_amx_bf16("flags\t: fpu avx512_bf16")
    False
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            return False
    return any(
        "amx_bf16" in line.split(":", 1)[-1].split()
        for line in cpuinfo.splitlines()
        if line.startswith("flags")
    )


def resolve_precision(name, cpuinfo=None, accelerators=None):
    """(policy, why) for the `mixed_precision` hparam: "auto" is
    mixed_bfloat16 on a CPU with AMX bfloat16 matmuls and no GPU or TPU
    (`accelerators`: their number, listed when None), else float32; any
    other value is kept.

    >>> resolve_precision("auto", "flags : amx_bf16", accelerators=0)[0]
    'mixed_bfloat16'
    >>> resolve_precision("float32", "flags : amx_bf16", accelerators=0)
    ('float32', 'set in the config')
    """
    if name != "auto":
        return name, "set in the config"
    if accelerators is None:
        accelerators = sum(
            len(tf.config.list_logical_devices(kind)) for kind in ("GPU", "TPU")
        )
    if accelerators:
        return "float32", "auto: a GPU or TPU is attached"
    if has_amx_bf16(cpuinfo):
        return "mixed_bfloat16", "auto: this CPU has AMX bfloat16 matmuls"
    return "float32", "auto: this CPU has no AMX bfloat16 matmuls"


def precision_line(name, why):
    """The run log's line saying which precision runs and why.

    >>> precision_line("float32", "auto: this CPU has no AMX bfloat16 matmuls")
    'mixed_precision: float32 (auto: this CPU has no AMX bfloat16 matmuls)'
    """
    if why.startswith("auto: this CPU has AMX"):
        why += '; set "mixed_precision": "float32" to opt out'
    return f"mixed_precision: {name} ({why})"


@contextlib.contextmanager
def precision_policy(name):
    """Sets the Keras mixed-precision policy for a run, restored after."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def is_chief(strategy):
    """True on the machine that writes checkpoints, summaries and results."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    cluster = resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and "chief" not in cluster


def worker_index(strategy):
    """This machine's index among the input pipelines (0 on one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return 0
    return int(resolver.task_id) + (
        1 if resolver.task_type == "worker"
        and "chief" in resolver.cluster_spec().as_dict() else 0
    )


class DistributedInput:
    """Per-replica batches from this machine's own input pipeline.

    `dataset_fn(input_context)` builds the pipeline of this machine (one per
    machine, yielding per-replica batches); `next(inputs)` takes one batch
    per local replica and hands them out in replica order, as
    `distribute_datasets_from_function` does. Unlike tf.distribute's
    distributed iterators, `inputs.iterator` can be checkpointed, so a
    resumed run continues at the same example on every machine.

    A tf.function takes `inputs` apart (`__tf_flatten__`): its iterator is
    an input of the traced graph, not a capture. A graph that captured it
    would keep the iterator (and its prefetch threads) alive as long as the
    graph lives, and TensorFlow never frees a graph that used
    `tf.custom_gradient` (our GELU): the gradient registry keeps it
    (tensorflow/tensorflow#27492). Such an iterator is only destroyed at
    interpreter exit, where its thread pool's teardown can hang.
    """

    def __init__(self, strategy, dataset_fn):
        self.strategy = strategy
        replicas = strategy.num_replicas_in_sync
        try:
            self.local_replicas = len(strategy.extended.worker_devices)
        except RuntimeError:  # the default strategy lists no devices
            self.local_replicas = 1
        context = tf.distribute.InputContext(
            num_input_pipelines=replicas // self.local_replicas,
            input_pipeline_id=worker_index(strategy),
            num_replicas_in_sync=replicas,
        )
        self.iterator = iter(dataset_fn(context))

    def __tf_flatten__(self):
        """(metadata, components) for tf.nest and tf.function."""
        return (self.strategy, self.local_replicas), (self.iterator,)

    @classmethod
    def __tf_unflatten__(cls, metadata, components):
        """The inputs over `components`' iterator (a traced one in a graph)."""
        inputs = cls.__new__(cls)
        inputs.strategy, inputs.local_replicas = metadata
        (inputs.iterator,) = components
        return inputs

    def __iter__(self):
        return self

    def __next__(self):
        batches = [next(self.iterator) for _ in range(self.local_replicas)]
        return self.strategy.experimental_distribute_values_from_function(
            lambda ctx: batches[ctx.replica_id_in_sync_group % len(batches)]
        )


def check_global_batch(global_batch_size, strategy, what="train_batch_size"):
    """Raises unless the global batch splits evenly across the replicas."""
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise ValueError(
            f"{what} {global_batch_size} is not divisible by the "
            f"{replicas} replicas of the {type(strategy).__name__}; use a "
            f"multiple of {replicas} (the global batch is split evenly)."
        )
