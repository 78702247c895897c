"""The original `PretrainingConfig` (configure_pretraining.py)."""

import dataclasses
from typing import Optional

from electra_tf.config.hparams import HparamError
from electra_tf.config.model import get_generator_config
from electra_tf.config.paths import pretraining_paths
from electra_tf.config.run import RunConfig


@dataclasses.dataclass(frozen=True)
class PretrainingConfig(RunConfig):
    """The original `PretrainingConfig` (configure_pretraining.py).

    Build it with
    `PretrainingConfig.from_hparams(model_name, data_dir, hparams)` so that
    the original override order applies; `from_json` reloads a saved config
    as is.

    Example:
      >>> hparams = {"mask_prob": 0.25}
      >>> c = PretrainingConfig.from_hparams("m", "/data", hparams)
      >>> c.max_predictions_per_seq, c.embedding_size, c.model_dir
      (32, 128, '/data/models/m')
    """

    do_train: bool = True
    do_eval: bool = False
    # loss functions
    electra_objective: bool = True
    electric_objective: bool = False
    gen_weight: float = 1.0
    disc_weight: float = 50.0
    mask_prob: float = 0.15
    # optimization
    learning_rate: float = 5e-4
    lr_decay_power: float = 1.0
    weight_decay_rate: float = 0.01
    num_warmup_steps: int = 10000
    # training settings
    iterations_per_loop: int = 200
    save_checkpoints_steps: int = 1000
    num_train_steps: int = 1000000
    num_eval_steps: int = 100
    keep_checkpoint_max: int = 5
    # generator settings
    uniform_generator: bool = False
    two_tower_generator: bool = False
    untied_generator_embeddings: bool = False
    untied_generator: bool = True
    generator_layers: float = 1.0
    generator_hidden_size: float = 0.25
    disallow_correct: bool = False
    temperature: float = 1.0
    # batch sizes
    max_seq_length: int = 128
    max_predictions_per_seq: Optional[int] = None
    train_batch_size: int = 128
    eval_batch_size: int = 128
    # locations (derived from data_dir / model_name unless given)
    pretrain_tfrecords: Optional[str] = None
    vocab_file: Optional[str] = None
    model_dir: Optional[str] = None
    results_txt: Optional[str] = None
    results_pkl: Optional[str] = None
    # additions of this port (README, "Deviations")
    mask_without_replacement: bool = False
    write_original_checkpoint: bool = False
    init_checkpoint: Optional[str] = None

    @classmethod
    def _derive(cls, v, hparams):
        # 1. paths derived from data_dir / model_name
        v.update(pretraining_paths(v["data_dir"], v["model_name"]))
        # 2. user hparams
        v.update(hparams)
        # 3. derived from the user's mask_prob and max_seq_length
        v["max_predictions_per_seq"] = int(
            (v["mask_prob"] + 0.005) * v["max_seq_length"]
        )
        # 4. debug mode
        if v["debug"]:
            v.update(
                train_batch_size=8,
                num_train_steps=20,
                eval_batch_size=4,
                iterations_per_loop=1,
                num_eval_steps=2,
            )
        # 5. model-size defaults (only small's is active in the original)
        if v["model_size"] == "small":
            v["embedding_size"] = 128
        # 6. Electric needs the two-tower generator
        if v["electric_objective"]:
            v["two_tower_generator"] = True
        # 7. (from_hparams) user hparams again, so they beat debug and size
        # defaults. Deviation from reference: max_predictions_per_seq may be
        # passed (the original rejects it as unknown at step 2).

    def validate(self):
        if self.do_train == self.do_eval:
            raise HparamError(
                "Exactly one of do_train or do_eval must be True."
            )
        super().validate()

    def generator_config(self):
        """The generator's transformer config (run_pretraining.py:
        `get_generator_config` and `PretrainingModel.__init__`)."""
        disc = self.disc_config()
        gen = get_generator_config(
            disc, self.generator_hidden_size, self.generator_layers
        )
        if self.untied_generator_embeddings:
            # Own embeddings as wide as the generator: no projection.
            gen = dataclasses.replace(gen, embedding_size=gen.hidden_size)
        return gen
