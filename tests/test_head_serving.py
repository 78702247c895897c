"""Every kind of fine-tuning head in HEAD_KINDS serves: its raw-text and
token-id signatures run on a tiny model in-process, its exported numbers
are the model's own outputs, its label names map its ids and its pipeline
task and result exist. A new kind fails here until it says how it is
served (and SERVED_AS below names what it exports)."""

import numpy as np
import pytest
import tensorflow as tf

from electra_tf.models.finetuner import FinetuningModel
from electra_tf.models.head_kinds import HEAD_KINDS
from electra_tf.serving import pipelines
from electra_tf.serving import signatures
from electra_tf.serving import text_inputs
from electra_tf.tokenization import default_vocab_file

from helpers import tiny_model_config

LABELS = ["B-NP", "O", "S-VP"]
QA_SETTINGS = {
    "max_answer_length": 5,
    "answerable_classifier": True,
    "joint_prediction": True,
    "n_best_size": 3,
}
# Per head type: {exported output: the model output (kind.outputs) it is}.
SERVED_AS = {
    "classification": {"logits": "logits", "label_ids": "predictions"},
    "regression": {"score": "predictions"},
    "span": {
        "start_logits": "start_logits",
        "start_top_index": "start_top_index",
        "end_top_index": "end_top_index",
        "answerable_logit": "answerable_logit",
    },
    "tagging": {"logits": "logits", "tag_ids": "predictions"},
}


class _Task:
    """The label side of a fine-tuning task (glue.py, chunking.py)."""

    label_list = LABELS
    text_pairs = False

    def get_label_mapping(self):
        return {label: i for i, label in enumerate(LABELS)}


def _texts(form):
    rows = {
        "text": ["the cat sat .", "a dog ran"],
        "text_a": ["the cat sat", "a dog"],
        "text_b": ["it was big", ""],
        "question": ["who sat ?", "where"],
        "context": ["john sat on the mat .", "paris is in france ."],
    }
    return {n: tf.constant(rows[n]) for n in signatures.TEXT_INPUTS[form]}


@pytest.mark.parametrize("head_type", sorted(HEAD_KINDS))
def test_every_head_kind_serves_its_model_outputs(head_type):
    kind = HEAD_KINDS[head_type]
    tf.keras.utils.set_random_seed(0)
    spec = {"name": "t", "head_type": head_type, "num_labels": len(LABELS)}
    config = tiny_model_config(vocab_size=30522, max_position_embeddings=32)
    model = FinetuningModel(config, [spec], beam_size=3)
    form = kind.serving_form(_Task())
    endpoint = signatures.Endpoint(
        "task:t",
        form,
        model,
        head=spec,
        labels=kind.label_names(_Task()),
        qa_settings=QA_SETTINGS,
    )
    packer = text_inputs.TextPacker(default_vocab_file(), max_seq_length=24)
    module = signatures.ServingModule(
        [endpoint], packer, default_vocab_file(), jit_compile=False
    )
    functions = module.signatures()
    text_out = functions["serving_default"](**_texts(form))
    ids = {k: text_out[k] for k in signatures.IDS_SPECS}
    if form == "words":
        width = ids["input_ids"].shape[1]
        ids["labeled_positions"] = tf.constant(
            np.tile(np.arange(1, width + 1) % width, [2, 1]), tf.int32
        )
    served = functions["token_ids"](**ids)

    head = getattr(model, f"{spec['name']}_head")
    encoded = model.encoder(
        {k: ids[k] for k in signatures.IDS_SPECS}, training=False
    )
    expected = kind.outputs(head, encoded, ids)
    for name, output in SERVED_AS[head_type].items():
        np.testing.assert_allclose(
            served[name], expected[output], rtol=1e-6, atol=1e-6
        )
    names = np.array([label.encode() for label in LABELS], object)
    for ids_name, names_name in kind.label_outputs.items():
        np.testing.assert_array_equal(
            served[names_name].numpy(), names[served[ids_name].numpy()]
        )

    assert kind in pipelines.TASKS[kind.pipeline_task]
    if form == "qa":
        # Its pipeline decodes windows in Python (qa_pipeline.py).
        assert text_out["answer_text"].shape == [2]
        return
    row = {k: v.numpy()[0] for k, v in text_out.items()}
    result = kind.pipeline_result(row)
    if head_type == "classification":
        label = LABELS.index(result["label"])
        assert label == row["label_ids"]
        assert result["score"] == pytest.approx(row["probabilities"][label])
    elif head_type == "regression":
        assert result["score"] == pytest.approx(float(served["score"][0]))
    else:
        assert result["words"] == ["the", "cat", "sat", "."]
        assert set(result["tags"]) <= set(LABELS)
