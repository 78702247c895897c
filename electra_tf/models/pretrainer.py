"""Port of run_pretraining.py `PretrainingModel`: the networks of every variant.

Which sub-networks exist follows the original exactly (spec 4.3):
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
"""

import keras

from electra_tf.config import PretrainingConfig
from electra_tf.layers.heads import DiscriminatorHead, MaskedLMHead
from electra_tf.models.encoder import Encoder

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
        if has_disc:
            self.discriminator = Encoder(disc_config, name="electra")
        shared = None
        if self.discriminator is not None:
            if not config.untied_generator_embeddings:
                shared = self.discriminator.embeddings

        if config.uniform_generator:
            pass
        elif has_disc and config.untied_generator:
            if config.two_tower_generator:
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
        else:
            # Masked-LM only, or the tied generator: one full-size network.
            self.generator = self.discriminator or Encoder(
                disc_config, name="electra"
            )
            self.generator_predictions = self._mlm_head(
                disc_config.hidden_size,
                self.generator,
                "generator_predictions",
            )
        if has_disc:
            self.discriminator_predictions = DiscriminatorHead(
                disc_config.hidden_size,
                disc_config.hidden_act,
                disc_config.initializer_range,
                name="discriminator_predictions",
            )
            self.discriminator_predictions.build()
        self.build()

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

        Both shifts are cyclic, as in the original (spec 4.8).
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

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "config": self.config.to_dict(),
        }
