"""Port of run_pretraining.py `PretrainingModel`: networks and objective.

Which sub-networks exist follows the original exactly
(run_pretraining.py: PretrainingModel.__init__):
- ELECTRA: generator `generator` (shares `electra/embeddings` unless
  `untied_generator_embeddings`) + `generator_predictions`, discriminator
  `electra` + `discriminator_predictions`;
- tied generator (`untied_generator` false) and masked-LM only: one full-size
  `electra` network that the generator (and discriminator) use;
- Electric / `two_tower_generator`: `generator_ltr`, `generator_rtl` and
  `cloze_predictions`;
- `uniform_generator`: no generator variables.
Every variable is created at construction, so its `.path` is the original
checkpoint name.

`compute_losses` is the objective, in forward order: mask
(`models/masking.py`) -> generator -> sample fake tokens -> discriminator ->
losses (`models/pretraining_losses.py`). `train_step` runs the training
loop's own per-replica step (electra_tf.training.loop), so `fit()` trains
as the scripts do.

Example:
    >>> config = PretrainingConfig.from_hparams("doc", "/tmp", {
    ...     "vocab_size": 30, "embedding_size": 8,
    ...     "generator_hidden_size": 0.5, "max_predictions_per_seq": 2,
    ...     "model_hparam_overrides": {"hidden_size": 16,
    ...         "num_hidden_layers": 1, "num_attention_heads": 2,
    ...         "intermediate_size": 32, "max_position_embeddings": 8}})
    >>> model = ElectraPretrainer(config, SpecialIds(cls=2, sep=3, mask=4))
    >>> ids = tf.constant([[2, 9, 10, 11, 12, 3, 0, 0]])
    >>> out = model.compute_losses({"input_ids": ids,
    ...     "input_mask": tf.cast(ids > 0, tf.int32),
    ...     "segment_ids": 0 * ids}, step=0, training=False)
    >>> out["masked_lm_positions"].shape, out["disc_probs"].shape
    (TensorShape([1, 2]), TensorShape([1, 8]))
"""

import keras
import tensorflow as tf

from electra_tf.config import PretrainingConfig
from electra_tf.errors import ConfigError
from electra_tf.layers.heads import DiscriminatorHead, MaskedLMHead
from electra_tf.models import masking
from electra_tf.models import pretraining_losses as losses
from electra_tf.models.encoder import Encoder
from electra_tf.models.pretrained import PretrainedMixin
from electra_tf.tokenization import SpecialIds
from electra_tf.training.loop import make_replica_step

# Legend: B batch, L sequence length, N max predictions per sequence
# (`max_predictions_per_seq`), V vocab size, H discriminator hidden size,
# Hg generator hidden size (2 Hg for Electric's two towers).

LOSS_KEYS = ("total_loss", "generator_loss", "discriminator_loss")


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraPretrainer(PretrainedMixin, keras.Model):
    """Generator and discriminator of ELECTRA pre-training.

    Args:
        config: a `PretrainingConfig` (or its dict); the networks follow its
            model size, overrides, generator settings and objective.
        special_ids: `tokenization.SpecialIds` (or a (cls, sep, mask)
            triple) of the vocab, e.g. `tokenization.special_ids(
            config.vocab_file, config.vocab_size)`; masking never picks
            these tokens. Only `compute_losses` needs them.

    Attributes (None where the variant has no such part): `discriminator`,
    `generator` (the same object as `discriminator` when tied),
    `generator_ltr`/`generator_rtl` (two-tower), `generator_predictions`,
    `cloze_predictions`, `discriminator_predictions`.

    `inference(input_ids, input_mask, segment_ids, gen_input_ids,
    masked_lm_positions)` runs both networks without dropout on given inputs.
    `compute_losses(features, step)` runs the pre-training objective on a
    batch of `input_ids`, `input_mask`, `segment_ids` [B, L].
    """

    _checkpoint_loader = "load_pretrainer"

    def __init__(self, config, special_ids=None, **kwargs):
        kwargs.setdefault("name", "electra_pretrainer")
        super().__init__(**kwargs)
        if not isinstance(config, PretrainingConfig):
            config = PretrainingConfig.from_dict(config)
        self.config = config
        self.special_ids = None
        if special_ids is not None:
            self.special_ids = SpecialIds(*special_ids)
        disc_config = config.disc_config()
        gen_config = config.generator_config()
        has_disc = config.electra_objective or config.electric_objective
        self.discriminator = None
        self.generator = None
        self.generator_ltr = None
        self.generator_rtl = None
        self.generator_predictions = None
        self.cloze_predictions = None
        self.discriminator_predictions = None

        # The discriminator is built first so that the shared embeddings
        # live under `electra/embeddings`, as in the original.
        shared = None
        if has_disc:
            self.discriminator = Encoder(disc_config, name="electra")
            if not config.untied_generator_embeddings:
                shared = self.discriminator.embeddings

        if not config.uniform_generator:
            self._build_generator(disc_config, gen_config, shared, has_disc)
        if has_disc:
            self.discriminator_predictions = DiscriminatorHead(
                disc_config.hidden_size,
                disc_config.hidden_act,
                disc_config.initializer_range,
                name="discriminator_predictions",
            )
            self.discriminator_predictions.build()
        self.build()

    def _build_generator(self, disc_config, gen_config, shared, has_disc):
        """The generator networks and MLM head of the variant
        (run_pretraining.py: PretrainingModel.__init__)."""
        if has_disc and self.config.untied_generator:
            if self.config.two_tower_generator:
                self.generator_ltr = Encoder(
                    gen_config, shared, causal="ltr", name="generator_ltr"
                )
                self.generator_rtl = Encoder(
                    gen_config, shared, causal="rtl", name="generator_rtl"
                )
                self.cloze_predictions = self._mlm_head(
                    2 * gen_config.hidden_size,
                    self.generator_ltr,
                    "cloze_predictions",
                )
            else:
                self.generator = Encoder(gen_config, shared, name="generator")
                self.generator_predictions = self._mlm_head(
                    gen_config.hidden_size,
                    self.generator,
                    "generator_predictions",
                )
            return
        # Masked-LM only, or the tied generator: one full-size network.
        self.generator = self.discriminator or Encoder(
            disc_config, name="electra"
        )
        self.generator_predictions = self._mlm_head(
            disc_config.hidden_size, self.generator, "generator_predictions"
        )

    def _mlm_head(self, input_size, encoder, name):
        cfg = encoder.config
        head = MaskedLMHead(
            input_size=input_size,
            embedding_size=encoder.embeddings.embedding_size,
            vocab_size=cfg.vocab_size,
            hidden_act=cfg.hidden_act,
            initializer_range=cfg.initializer_range,
            name=name,
        )
        head.build()
        return head

    def build(self, input_shape=None):
        pass  # every part is built at construction (see module docstring)

    def generator_outputs(self, inputs, masked_lm_positions, training=False):
        """The generator's MLM logits at the masked positions.

        `inputs`: dict of `input_ids` (with `[MASK]`s; Electric's two towers
        read the unmasked ids), `input_mask`, `segment_ids` [B, L].
        Returns dict of `logits` [B, N, V], `sequence_output` [B, L, Hg] (not
        for the uniform generator) and, for two towers, `cloze_logits`
        [B, L, V] (every position scored).
        """
        if self.config.uniform_generator:
            shape = tf.shape(masked_lm_positions)
            return {
                "logits": tf.zeros([shape[0], shape[1], self.config.vocab_size])
            }
        if self.cloze_predictions is not None:
            # Electric: the left tower shifted right, the right tower left,
            # both cyclically (run_pretraining.py: TwoTowerClozeTransformer).
            ltr = self.generator_ltr(inputs, training=training)
            rtl = self.generator_rtl(inputs, training=training)
            sequence_output = tf.concat(
                [
                    tf.roll(ltr["sequence_output"], 1, axis=1),
                    tf.roll(rtl["sequence_output"], -1, axis=1),
                ],
                axis=-1,
            )  # [B, L, 2Hg]
            cloze_logits = self.cloze_predictions(
                sequence_output, self.generator_ltr.embedding_table
            )  # [B, L, V]
            return {
                "sequence_output": sequence_output,
                "cloze_logits": cloze_logits,
                "logits": masking.gather_positions(
                    cloze_logits, masked_lm_positions
                ),  # [B, N, V]
            }
        sequence_output = self.generator(inputs, training=training)[
            "sequence_output"
        ]  # [B, L, Hg]
        hidden = masking.gather_positions(
            sequence_output, masked_lm_positions
        )  # [B, N, Hg]
        return {
            "sequence_output": sequence_output,
            "logits": self.generator_predictions(
                hidden, self.generator.embedding_table
            ),  # [B, N, V]
        }

    def discriminator_outputs(self, inputs, training=False):
        """Discriminator `embedding_output`, `sequence_output` [B, L, H] and
        replaced-token `logits` [B, L]."""
        outputs = self.discriminator(inputs, training=training)
        return {
            "embedding_output": outputs["embedding_output"],
            "sequence_output": outputs["sequence_output"],
            "logits": self.discriminator_predictions(
                outputs["sequence_output"]
            ),
        }

    def inference(
        self,
        input_ids,
        input_mask,
        segment_ids,
        gen_input_ids,
        masked_lm_positions,
    ):
        """Both networks, dropout off, on given (already masked) inputs.

        Returns the keys of the original-parity fixture: `gen_logits`,
        `gen_sequence_output` (and, for two towers, `gen_cloze_logits`) and,
        with a discriminator, `disc_embedding_output`,
        `disc_sequence_output`, `disc_logits`.
        """
        inputs = {"input_mask": input_mask, "segment_ids": segment_ids}
        gen = self.generator_outputs(
            dict(inputs, input_ids=gen_input_ids), masked_lm_positions
        )
        result = {"gen_" + k: v for k, v in gen.items()}
        if self.discriminator_predictions is not None:
            disc = self.discriminator_outputs(dict(inputs, input_ids=input_ids))
            result.update({"disc_" + k: v for k, v in disc.items()})
        return result

    def call(self, inputs, training=False):
        return self.inference(**inputs)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "config": self.config.to_dict(),
            "special_ids": self.special_ids,
        }

    # ----- the pre-training objective ---------------------------------

    def compute_losses(self, features, step=0, training=True):
        """The pre-training objective on one batch
        (run_pretraining.py: PretrainingModel).

        Args:
            features: dict of `input_ids`, `input_mask`, `segment_ids`
                int [B, L] (unmasked: masking happens here, per step).
            step: the global step; with `config.seed` it keys the random
                draws of every example.
            training: dropout on, and the training seed streams.

        Returns:
            dict of scalars `total_loss`, `generator_loss` (masked-LM or
            cloze loss) and, with a discriminator, `discriminator_loss`;
            and the tensors of the original's eval metrics:
            `masked_input_ids`, `masked_lm_positions`, `masked_lm_ids`,
            `masked_lm_weights`, `masked_lm_preds`, `mlm_loss` [B, N],
            `input_mask` and, with a discriminator, `sampled_tokids` [B, N],
            `fake_input_ids`, `disc_labels`, `disc_probs`, `disc_preds`
            [B, L], `disc_loss` [B].
        """
        if self.special_ids is None:
            raise ConfigError(
                "This ElectraPretrainer has no special_ids, which masking "
                "needs; build it with special_ids=electra_tf.tokenization."
                "special_ids(config.vocab_file, config.vocab_size)."
            )
        cfg = self.config
        inputs = {
            k: tf.cast(features[k], tf.int32)
            for k in ("input_ids", "input_mask", "segment_ids")
        }  # [B, L] each
        batch_size = tf.shape(inputs["input_ids"])[0]
        streams = "train_" if training else "eval_"

        # Mask (pretrain_helpers.py: mask).
        masked = masking.mask(
            inputs,
            cfg.mask_prob,
            cfg.max_predictions_per_seq,
            cls_id=self.special_ids.cls,
            sep_id=self.special_ids.sep,
            mask_id=self.special_ids.mask,
            seeds=masking.example_seeds(
                cfg.seed, batch_size, step, streams + "masking"
            ),
            without_replacement=cfg.mask_without_replacement,
        )  # input_ids [B, L]; masked_lm_positions, _ids, _weights [B, N]

        # Generator: the masked ids in; Electric's towers read the originals.
        two_towers = self.cloze_predictions is not None
        gen_ids = (inputs if two_towers else masked)["input_ids"]  # [B, L]
        gen = self.generator_outputs(
            dict(inputs, input_ids=gen_ids),
            masked["masked_lm_positions"],
            training,
        )
        mlm_logits = tf.cast(gen["logits"], tf.float32)  # [B, N, V]
        mlm = losses.softmax_output(
            mlm_logits, masked["masked_lm_ids"], masked["masked_lm_weights"]
        )
        cloze_logits = None
        generator_loss = mlm["loss"]
        if two_towers:
            cloze_logits = tf.cast(gen["cloze_logits"], tf.float32)  # [B, L, V]
            generator_loss = losses.cloze_output(
                cloze_logits, inputs, self.special_ids
            )["loss"]
        outputs = {
            "generator_loss": generator_loss,
            "total_loss": cfg.gen_weight * generator_loss,
            "masked_input_ids": masked["input_ids"],
            "masked_lm_positions": masked["masked_lm_positions"],
            "masked_lm_ids": masked["masked_lm_ids"],
            "masked_lm_weights": masked["masked_lm_weights"],
            "masked_lm_preds": mlm["preds"],
            "mlm_loss": mlm["per_example_loss"],
            "input_mask": inputs["input_mask"],
        }
        if self.discriminator is None:
            return outputs

        # Sample fake tokens (run_pretraining.py: _get_fake_data).
        fake_ids, labels, sampled_tokids = masking.fake_data(
            masked,
            mlm_logits,
            masking.example_seeds(
                cfg.seed, batch_size, step, streams + "sampling"
            ),
            disallow_correct=cfg.disallow_correct,
            temperature=cfg.temperature,
            every_sample_fake=cfg.electric_objective,
        )  # [B, L], [B, L], [B, N]

        # Discriminator and its loss.
        disc_inputs = dict(inputs, input_ids=fake_ids)
        logits = self.discriminator_outputs(disc_inputs, training)["logits"]
        logits = tf.cast(logits, tf.float32)  # [B, L]
        if cfg.electric_objective:
            logits = losses.electric_logits(
                logits, cloze_logits, fake_ids, cfg.mask_prob
            )
        disc = losses.discriminator_output(logits, labels, inputs["input_mask"])
        outputs.update(
            discriminator_loss=disc["loss"],
            total_loss=outputs["total_loss"] + cfg.disc_weight * disc["loss"],
            sampled_tokids=sampled_tokids,
            fake_input_ids=fake_ids,
            disc_labels=labels,
            disc_probs=disc["probs"],
            disc_preds=disc["preds"],
            disc_loss=disc["per_example_loss"],
        )
        return outputs

    # ----- fit() ------------------------------------------------------

    def train_step(self, data):
        """One `fit()` step: the scripts' per-replica step
        (`training.loop.make_replica_step`: clip at 1.0, float16 overflow
        skipped on every replica, replicas averaged)."""

        def loss_fn(batch, step):
            outputs = self.compute_losses(batch, step)
            return dict(_losses(outputs), loss=outputs["total_loss"])

        step = make_replica_step(self, self.optimizer, loss_fn)
        return _losses(step(data))

    def test_step(self, data):
        outputs = self.compute_losses(
            data, self.optimizer.iterations, training=False
        )
        return _losses(outputs)


def _losses(outputs):
    """The loss scalars of `compute_losses` outputs, as `fit()` logs them."""
    return {k: outputs[k] for k in LOSS_KEYS if k in outputs}
