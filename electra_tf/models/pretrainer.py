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

`compute_losses` is the objective (run_pretraining.py: PretrainingModel):
dynamic masking, the generator's masked-LM (or Electric's cloze) loss, Gumbel sampling of fake
tokens, replaced-token labels and the discriminator's loss, weighted into
`total_loss`. `train_step`/`test_step` serve `fit()`; the scripts use
`electra_tf.training.loop`.
"""

import math

import keras
import tensorflow as tf

from electra_tf import tokenization
from electra_tf.config import PretrainingConfig
from electra_tf.layers.heads import DiscriminatorHead, MaskedLMHead
from electra_tf.models.encoder import Encoder
from electra_tf.optimization import clip_by_global_norm
from electra_tf.pretraining import masking

# Legend: B batch, L sequence length, N predictions, H hidden size,
# Hg generator hidden size, V vocab size.


def gather_positions(sequence, positions):
    """[B, L(, D)] gathered at [B, N] -> [B, N(, D)] (pretrain_helpers)."""
    ops = keras.ops
    positions = ops.cast(positions, "int32")
    if len(sequence.shape) == 2:
        return ops.take_along_axis(sequence, positions, axis=1)
    return ops.take_along_axis(sequence, positions[:, :, None], axis=1)


def encoder_inputs(input_ids, input_mask, segment_ids):
    return {
        "input_ids": input_ids,
        "input_mask": input_mask,
        "segment_ids": segment_ids,
    }


def softmax_output(logits, targets, weights):
    """Port of `get_softmax_output`: weighted mean of -log p(target).

    Returns dict of `loss` (Σ w·nll / (Σ w + 1e-6) over the batch),
    `per_example_loss` (the nll per slot, as the original names it) and
    `preds` (argmax ids).
    """
    log_probs = tf.nn.log_softmax(logits)  # [B, N, V]
    nll = -tf.gather(log_probs, targets, batch_dims=2)  # [B, N]
    loss = tf.reduce_sum(weights * nll) / (tf.reduce_sum(weights) + 1e-6)
    preds = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return {"loss": loss, "per_example_loss": nll, "preds": preds}


# Keys of the stateless seeds (with `config.seed`) of each random draw.
_SEED_PURPOSES = {
    (True, "mask"): 1,
    (True, "sample"): 2,
    (False, "mask"): 3,
    (False, "sample"): 4,
}


@keras.saving.register_keras_serializable(package="electra_tf")
class ElectraPretrainer(keras.Model):
    """Generator and discriminator of ELECTRA pre-training.

    Args:
        config: a `PretrainingConfig` (or its dict); the networks follow its
            model size, overrides, generator settings and objective.

    Attributes (None where the variant has no such part): `discriminator`,
    `generator` (the same object as `discriminator` when tied),
    `generator_ltr`/`generator_rtl` (two-tower), `generator_predictions`,
    `cloze_predictions`, `discriminator_predictions`.

    `inference(input_ids, input_mask, segment_ids, gen_input_ids,
    masked_lm_positions)` runs both networks without dropout on given inputs.
    `compute_losses(features, step)` runs the pre-training objective on a
    batch of `input_ids`, `input_mask`, `segment_ids` [B, L]; the ids of
    [CLS], [SEP] and [MASK] come from `config.vocab_file`.
    """

    def __init__(self, config, **kwargs):
        kwargs.setdefault("name", "electra_pretrainer")
        super().__init__(**kwargs)
        if not isinstance(config, PretrainingConfig):
            config = PretrainingConfig.from_dict(config)
        self.config = config
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
        """Generator sequence output and MLM logits at the masked positions.

        `inputs`: dict of `input_ids` (with `[MASK]`s; for two towers the
        unmasked ids), `input_mask`, `segment_ids` [B, L].
        Returns dict of `sequence_output` [B, L, Hg] (absent for the uniform
        generator) and `logits` [B, N, V].
        """
        ops = keras.ops
        if self.config.uniform_generator:
            batch, n = ops.shape(masked_lm_positions)[0], ops.shape(
                masked_lm_positions
            )[1]
            return {"logits": ops.zeros((batch, n, self.config.vocab_size))}
        if self.generator_ltr is not None:
            sequence_output = self.two_tower_sequence_output(inputs, training)
            head, table = self.cloze_predictions, self.generator_ltr
        else:
            sequence_output = self.generator(inputs, training=training)[
                "sequence_output"
            ]
            head, table = self.generator_predictions, self.generator
        hidden = gather_positions(sequence_output, masked_lm_positions)
        return {
            "sequence_output": sequence_output,
            "logits": head(hidden, table.embedding_table),  # [B, N, V]
        }

    def two_tower_sequence_output(self, inputs, training=False):
        """Electric's [B, L, 2Hg]: left tower shifted right, right tower left.

        Both shifts are cyclic, as in the original
        (run_pretraining.py: TwoTowerClozeTransformer).
        """
        ops = keras.ops
        ltr = self.generator_ltr(inputs, training=training)["sequence_output"]
        rtl = self.generator_rtl(inputs, training=training)["sequence_output"]
        ltr = ops.roll(ltr, 1, axis=1)
        rtl = ops.roll(rtl, -1, axis=1)
        return ops.concatenate([ltr, rtl], axis=-1)

    def discriminator_outputs(self, inputs, training=False):
        """Discriminator `embedding_output`, `sequence_output`, `logits` [B, L]."""
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
        `gen_sequence_output` and, with a discriminator,
        `disc_embedding_output`, `disc_sequence_output`, `disc_logits`.
        """
        gen = self.generator_outputs(
            encoder_inputs(gen_input_ids, input_mask, segment_ids),
            masked_lm_positions,
        )
        result = {"gen_" + k: v for k, v in gen.items()}
        if self.discriminator_predictions is not None:
            disc = self.discriminator_outputs(
                encoder_inputs(input_ids, input_mask, segment_ids)
            )
            result.update({"disc_" + k: v for k, v in disc.items()})
        return result

    def call(self, inputs, training=False):
        return self.inference(**inputs)

    @classmethod
    def from_pretrained(cls, path, hparams=None):
        """The pre-trainer at `path`: our checkpoints, original TF1
        ones (pass their `hparams`) or Hugging Face folders."""
        # Imported on use: the checkpoint module builds models.
        from electra_tf import checkpoints

        return checkpoints.load_pretrainer(path, hparams)

    def save_pretrained(self, path, format="hf", vocab_file=None):
        """Writes this model as `format` ('hf', 'original', 'ours')."""
        from electra_tf import checkpoints

        return checkpoints.save_model(self, path, format, vocab_file)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "config": self.config.to_dict(),
        }

    # ----- the pre-training objective ---------------------------------

    @property
    def special_ids(self):
        """(cls_id, sep_id, mask_id) read from `config.vocab_file` once."""
        if getattr(self, "_special_ids", None) is None:
            path = self.config.vocab_file
            if not path or not tf.io.gfile.exists(path):
                raise FileNotFoundError(
                    f"Vocab file '{path}' not found: pre-training needs it "
                    "for the ids of [CLS], [SEP] and [MASK]. Set the "
                    "`vocab_file` hparam or put vocab.txt in the data dir."
                )
            vocab = tokenization.load_vocab(path)
            tokenization.check_vocab(vocab, path)
            if len(vocab) > self.config.vocab_size:
                raise ValueError(
                    f"Vocab file '{path}' has {len(vocab)} tokens but "
                    f"vocab_size is {self.config.vocab_size}; set the "
                    "`vocab_size` hparam to at least the vocab's size."
                )
            self._special_ids = tuple(
                vocab[t] for t in ("[CLS]", "[SEP]", "[MASK]")
            )
        return self._special_ids

    def example_seeds(self, batch_size, step, purpose):
        """int64 [B, 2]: one stateless seed per example of the global batch.

        The seed is (config.seed, purpose) and the example's index in the
        run: step x global batch + the replica's offset + row. A resumed run
        thus draws the same masks, and they do not depend on how the global
        batch is split across replicas.
        """
        context = tf.distribute.get_replica_context()
        replica = 0 if context is None else context.replica_id_in_sync_group
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        batch = tf.cast(batch_size, tf.int64)
        first = (
            tf.cast(step, tf.int64) * replicas + tf.cast(replica, tf.int64)
        ) * batch
        counter = first + tf.range(batch, dtype=tf.int64)  # [B]
        key = tf.constant(self.config.seed * 8 + purpose, tf.int64)
        key = tf.fill([batch], key)
        return tf.stack([key, counter], axis=1)  # [B, 2]

    def _generator_logits(self, inputs, masked, training):
        """MLM logits [B, N, V] (float32) and, for two towers, the cloze."""
        positions = masked["masked_lm_positions"]
        if self.cloze_predictions is None:
            gen_inputs = encoder_inputs(
                masked["input_ids"],
                inputs["input_mask"],
                inputs["segment_ids"],
            )
            logits = self.generator_outputs(gen_inputs, positions, training)
            return tf.cast(logits["logits"], tf.float32), None
        # Electric: both towers read the unmasked inputs; the cloze head
        # scores every position against the original ids.
        sequence_output = self.two_tower_sequence_output(inputs, training)
        cloze_logits = self.cloze_predictions(
            sequence_output, self.generator_ltr.embedding_table
        )
        cloze_logits = tf.cast(cloze_logits, tf.float32)  # [B, L, V]
        weights = tf.cast(
            masking.candidates_mask(
                inputs["input_ids"], inputs["input_mask"], self.special_ids
            ),
            tf.float32,
        )  # [B, L]
        cloze = softmax_output(cloze_logits, inputs["input_ids"], weights)
        cloze["logits"] = cloze_logits
        mlm_logits = masking.gather_positions(cloze_logits, positions)
        return mlm_logits, cloze

    def _fake_inputs(self, masked, mlm_logits, seeds):
        """Port of `_get_fake_data`: sampled ids put in, and their labels."""
        cfg = self.config
        original_ids = masking.unmask(masked)  # [B, L]
        disallow = None
        if cfg.disallow_correct:
            disallow = tf.one_hot(masked["masked_lm_ids"], cfg.vocab_size)
        if cfg.temperature != 1.0:
            mlm_logits = mlm_logits / cfg.temperature
        sampled_tokids = masking.sample_ids(
            mlm_logits, seeds, disallow
        )  # [B, N]
        updated_ids, updated_mask = masking.scatter_update(
            original_ids, sampled_tokids, masked["masked_lm_positions"]
        )
        if cfg.electric_objective:
            labels = updated_mask  # every replaced position counts as fake
        else:
            changed = tf.not_equal(updated_ids, original_ids)
            changed = tf.cast(changed, tf.int32)
            labels = updated_mask * changed  # [B, L]
        return updated_ids, labels, sampled_tokids

    def _discriminator_loss(self, inputs, fake_ids, labels, cloze, training):
        """Port of `_get_discriminator_output` (with Electric's NCE terms)."""
        disc_inputs = encoder_inputs(
            fake_ids, inputs["input_mask"], inputs["segment_ids"]
        )
        logits = self.discriminator_outputs(disc_inputs, training)["logits"]
        logits = tf.cast(logits, tf.float32)  # [B, L]
        if self.config.electric_objective:
            log_q = tf.gather(
                tf.nn.log_softmax(cloze["logits"]), fake_ids, batch_dims=2
            )  # [B, L]
            mask_prob = self.config.mask_prob
            logits += tf.stop_gradient(log_q)
            logits += math.log(mask_prob / (1.0 - mask_prob))
        weights = tf.cast(inputs["input_mask"], tf.float32)
        losses = weights * tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.cast(labels, tf.float32), logits=logits
        )  # [B, L]
        per_example = tf.reduce_sum(losses, -1) / (
            1e-6 + tf.reduce_sum(weights, -1)
        )
        return {
            "loss": tf.reduce_sum(losses) / (1e-6 + tf.reduce_sum(weights)),
            "per_example_loss": per_example,  # [B]
            "probs": tf.sigmoid(logits),
            # round((sign(logit) + 1) / 2): 1 iff the logit is positive
            "preds": tf.cast(logits > 0, tf.int32),
            "labels": labels,
        }

    def compute_losses(self, features, step=0, training=True):
        """The pre-training objective on one batch
        (run_pretraining.py: PretrainingModel).

        Args:
            features: dict of `input_ids`, `input_mask`, `segment_ids`
                int [B, L] (unmasked: masking happens here, per step).
            step: the global step; with `config.seed` it keys the random
                draws of every example.
            training: dropout on, and the training seed stream.

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
        cfg = self.config
        inputs = {
            k: tf.cast(features[k], tf.int32)
            for k in ("input_ids", "input_mask", "segment_ids")
        }
        batch_size = tf.shape(inputs["input_ids"])[0]
        cls_id, sep_id, mask_id = self.special_ids
        masked = masking.mask(
            inputs,
            cfg.mask_prob,
            cfg.max_predictions_per_seq,
            cls_id,
            sep_id,
            mask_id,
            self.example_seeds(
                batch_size, step, _SEED_PURPOSES[training, "mask"]
            ),
            without_replacement=cfg.mask_without_replacement,
        )
        if cfg.uniform_generator:
            n = cfg.max_predictions_per_seq
            mlm_logits = tf.zeros([batch_size, n, cfg.vocab_size])
            cloze = None
        else:
            mlm_logits, cloze = self._generator_logits(inputs, masked, training)
        mlm = softmax_output(
            mlm_logits, masked["masked_lm_ids"], masked["masked_lm_weights"]
        )
        generator_loss = (cloze or mlm)["loss"]
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
        seeds = self.example_seeds(
            batch_size, step, _SEED_PURPOSES[training, "sample"]
        )
        fake_ids, labels, sampled_tokids = self._fake_inputs(
            masked, mlm_logits, seeds
        )
        disc = self._discriminator_loss(
            inputs, fake_ids, labels, cloze, training
        )
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

    def _loss_scalars(self, outputs):
        keys = ("total_loss", "generator_loss", "discriminator_loss")
        return {k: outputs[k] for k in keys if k in outputs}

    def train_step(self, data):
        """One `fit()` step: the original's loss, clip at 1.0, apply.

        Loss and clipping are per replica; the optimizer sums the replicas'
        gradients, so each is scaled by 1 / replicas (an average).
        """
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            outputs = self.compute_losses(data, self.optimizer.iterations)
            loss = outputs["total_loss"]
            scaled_loss = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled_loss, variables)
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            scale = self.optimizer.dynamic_scale
            grads = [g if g is None else g / scale for g in grads]
        else:
            scale = 1.0
        grads, _ = clip_by_global_norm(grads, 1.0)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        grads = [None if g is None else g * (scale / replicas) for g in grads]
        self.optimizer.apply(grads, variables)
        return self._loss_scalars(outputs)

    def test_step(self, data):
        outputs = self.compute_losses(
            data, self.optimizer.iterations, training=False
        )
        return self._loss_scalars(outputs)
