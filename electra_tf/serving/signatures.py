"""What each exported model computes, on token ids and on raw text.

An `Endpoint` pairs a Keras model with its input form (one text, a text
pair, question + context, or words to tag) and turns packed features into
the documented outputs; `ServingModule` turns endpoints into concrete
`tf.function`s with explicit TensorSpecs, so the SavedModel reloads with
tensorflow and tensorflow_text alone.
"""

import functools

import tensorflow as tf

from electra_tf.models.head_kinds import HEAD_KINDS
from electra_tf.serving import qa_decoding

# Legend: B batch, L sequence length, H hidden size, C classes, K top-k,
# W words.

IDS_SPECS = {
    name: tf.TensorSpec([None, None], tf.int32, name=name)
    for name in ("input_ids", "input_mask", "segment_ids")
}
# Outputs [B, L, ...] over the packed positions (cut back from the bucket).
SEQUENCE_OUTPUTS = (
    "sequence_output",
    "replaced_probability",
    "top_ids",
    "top_scores",
)
# The compiled model sees lengths rounded up to a multiple of this.
LENGTH_BUCKET = 32
# Batches of at most this many (bucketed) positions run XLA-compiled: there
# it halves the per-kernel overhead; larger ones save little work and, on
# a busy machine, lose more in XLA's thread hand-offs (benchmarks/
# serving_latency.py: batch 32 slower).
JIT_MAX_TOKENS = 256
TEXT_INPUTS = {
    "text": ("text",),
    "masked": ("text",),
    "pair": ("text_a", "text_b"),
    "qa": ("question", "context"),
    "words": ("text",),
}


class Endpoint:
    """One exported computation.

    Args:
      kind: "discriminator", "generator", "encoder" or "task:<name>".
      form: key of TEXT_INPUTS (how raw text is packed; "masked": a literal
        `[MASK]` is the mask token).
      model: the Keras model (pretrainer, encoder or fine-tuning model).
      head: for tasks, the task spec dict of the FinetuningModel (its
        `head_type` names the kind of head that serves it).
      labels: label names (classification, tagging).
      top_k: fill-mask candidates per `[MASK]`.
      qa_settings: dict of `max_answer_length`, `answerable_classifier`,
        `joint_prediction`, `n_best_size` for QA decoding.
      task, config: the fine-tuning Task and config (for the Python QA
        pipeline, which featurizes with them).
    """

    def __init__(
        self,
        kind,
        form,
        model,
        head=None,
        labels=None,
        top_k=5,
        qa_settings=None,
        task=None,
        config=None,
    ):
        self.kind = kind
        self.form = form
        self.model = model
        self.head = head
        self.head_kind = None if head is None else HEAD_KINDS[head["head_type"]]
        self.labels = None if labels is None else tf.constant(labels)
        self.top_k = top_k
        self.qa_settings = qa_settings
        self.task = task
        self.config = config

    @property
    def extra_id_specs(self):
        if self.form == "words":
            return {
                "labeled_positions": tf.TensorSpec(
                    [None, None], tf.int32, name="labeled_positions"
                )
            }
        return {}

    def __call__(self, features, packer, jit_compile=True):
        """Model outputs for packed int32 features [B, L]; with
        `jit_compile` small batches run XLA-compiled on length buckets."""
        inputs = {
            k: features[k] for k in dict(IDS_SPECS, **self.extra_id_specs)
        }
        if not jit_compile:
            out = self._numbers(inputs)
        else:
            length = tf.shape(features["input_ids"])[1]
            padded = dict(
                inputs, **_pad_to_bucket(features, packer.max_seq_length)
            )
            out = tf.cond(
                tf.size(padded["input_ids"]) <= JIT_MAX_TOKENS,
                lambda: self._compiled(padded),
                lambda: self._numbers(inputs),
            )
            out = {
                k: v[:, :length] if k in SEQUENCE_OUTPUTS else v
                for k, v in out.items()
            }
        ids = features["input_ids"]
        if self.kind == "discriminator":
            out["tokens"] = packer.tokens(ids)
        elif self.kind == "generator":
            out["is_masked"] = tf.equal(ids, packer.mask_id)  # [B, L]
            out["top_tokens"] = packer.tokens(out["top_ids"])
            out["tokens"] = packer.tokens(ids)
        elif self.head_kind is not None:
            for ids_name, names in self.head_kind.label_outputs.items():
                out[names] = tf.gather(self.labels, out[ids_name])
        return out

    @functools.cached_property
    def _compiled(self):
        """The numeric outputs as one XLA-compiled function."""
        # XLA fuses the layer norms, GELU, softmax and head transposes that
        # run as separate small kernels otherwise (a third less work at
        # batch 1); it compiles once per input shape, hence the buckets.
        return tf.function(self._numbers, autograph=False, jit_compile=True)

    def _numbers(self, features):
        inputs = {k: features[k] for k in IDS_SPECS}
        mask = tf.cast(inputs["input_mask"], tf.float32)
        if self.kind == "encoder":
            out = self.model(inputs, training=False)
            return {
                "sequence_output": out["sequence_output"],  # [B, L, H]
                "pooled_output": out["pooled_output"],  # [B, H]
            }
        if self.kind == "discriminator":
            logits = self.model.discriminator_outputs(inputs)["logits"]
            return {"replaced_probability": tf.sigmoid(logits) * mask}
        if self.kind == "generator":
            return self._fill_mask(inputs)
        return self._task(features, inputs)

    def _fill_mask(self, inputs):
        ids = inputs["input_ids"]
        batch, length = tf.shape(ids)[0], tf.shape(ids)[1]
        positions = tf.tile(tf.range(length)[None], [batch, 1])  # [B, L]
        logits = self.model.generator_outputs(inputs, positions)["logits"]
        probs = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
        scores, top_ids = tf.math.top_k(probs, self.top_k)  # [B, L, K]
        return {"top_ids": top_ids, "top_scores": scores}

    def _task(self, features, inputs):
        head = getattr(self.model, f"{self.head['name']}_head")
        encoded = self.model.encoder(inputs, training=False)
        return self.head_kind.served(head, encoded, features)


def _pad_to_bucket(features, max_seq_length):
    """Id features [B, L] zero-padded to L rounded up to LENGTH_BUCKET (at
    most max_seq_length, never shorter than L); with input_mask 0 the extra
    positions change no real token's output."""
    length = tf.shape(features["input_ids"])[1]
    rounded = -(-length // LENGTH_BUCKET) * LENGTH_BUCKET
    bucket = tf.maximum(tf.minimum(rounded, max_seq_length), length)
    padding = [[0, 0], [0, bucket - length]]
    return {k: tf.pad(features[k], padding) for k in IDS_SPECS}


class ServingModule(tf.Module):
    """Holds the models, the packer and the concrete functions to export.

    `signatures()` returns {name: concrete function}: per endpoint a raw-text
    function and a `token_ids` one; the first endpoint's raw-text function
    is `serving_default`. Single-endpoint exports name them `serving_default`
    and `token_ids`; multi-task ones `<task>`, `<task>_token_ids`.
    With `jit_compile` small batches run the model XLA-compiled (compiled
    once per batch size and length bucket, at the first call of it).
    """

    def __init__(self, endpoints, packer, vocab_file, jit_compile=True):
        super().__init__(name="electra_serving")
        self.endpoints = endpoints
        self.jit_compile = jit_compile
        # The raw tf.Variables (not Keras's wrappers), as keras.export does:
        # then TF1-style loaders (saved_model_cli run, TF Serving) restore
        # them too.
        seen = {}
        for endpoint in endpoints:
            for v in endpoint.model.variables:
                seen.setdefault(id(v.value), v.value)
        self.model_variables = list(seen.values())
        self.packer = packer
        self.vocab = tf.saved_model.Asset(vocab_file)
        self._functions = {}

    def _ids_function(self, endpoint):
        specs = dict(IDS_SPECS, **endpoint.extra_id_specs)

        def token_ids(**features):
            out = endpoint(features, self.packer, self.jit_compile)
            return dict(out, **{k: features[k] for k in IDS_SPECS})

        return tf.function(token_ids, autograph=False).get_concrete_function(
            **specs
        )

    def _text_function(self, endpoint):
        names = TEXT_INPUTS[endpoint.form]
        packer, jit_compile = self.packer, self.jit_compile

        def raw_text(**texts):
            texts = [texts[n] for n in names]
            if endpoint.form == "qa":
                features, decode = packer.pack_qa(*texts)
                out = endpoint(features, packer, jit_compile)
                out = qa_decoding.decode(out, decode, endpoint.qa_settings)
            elif endpoint.form == "words":
                features, words = packer.pack_words(*texts)
                out = endpoint(features, packer, jit_compile)
                out = _word_outputs(out, words)
            else:
                features = packer.pack(*texts, masked=endpoint.form == "masked")
                out = endpoint(features, packer, jit_compile)
            out.update({k: features[k] for k in IDS_SPECS})
            out["truncated"] = features["truncated"]
            out.setdefault("tokens", packer.tokens(features["input_ids"]))
            return out

        specs = {n: tf.TensorSpec([None], tf.string, name=n) for n in names}
        return tf.function(raw_text, autograph=False).get_concrete_function(
            **specs
        )

    def signatures(self):
        single = len(self.endpoints) == 1
        result = {}
        for i, endpoint in enumerate(self.endpoints):
            prefix = "" if single else endpoint.kind.split(":")[-1]
            text_name = prefix or "serving_default"
            ids_name = f"{prefix}_token_ids" if prefix else "token_ids"
            result[text_name] = self._text_function(endpoint)
            result[ids_name] = self._ids_function(endpoint)
            if i == 0 and not single:
                result["serving_default"] = result[text_name]
        return result


def _word_outputs(out, words):
    """Tagging outputs per word; words past the truncation get tag ""."""
    width = tf.shape(words["words"])[1]
    tags = out["tags"][:, :width]
    tags = tf.pad(
        tags, [[0, 0], [0, width - tf.shape(tags)[1]]], constant_values=""
    )
    tagged = tf.range(width)[None] < words["num_tagged"][:, None]  # [B, W]
    return {
        "words": words["words"],
        "tags": tf.where(tagged, tags, ""),
        "num_tagged": words["num_tagged"],
    }
