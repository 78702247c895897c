"""Question answering on passages of any length.

Port of the SQuAD evaluation path of the original (finetune/qa/qa_tasks.py
`featurize` with doc stride, finetune/qa/qa_metrics.py candidate filter,
joint beam n-best and `get_final_text`), reusing this package's
`finetuning.squad` and `finetuning.qa_metrics` functions on examples built
from the user's question and passage.
"""

import numpy as np
import tensorflow as tf

from electra_tf.finetuning import qa_metrics
from electra_tf.finetuning import scorers
from electra_tf.finetuning import squad


class _Decoder(qa_metrics.SpanBasedQAScorer):
    """The SQuAD scorer's decoding without its dev files."""

    def __init__(self, config, task):
        scorers.Scorer.__init__(self)
        self._config = config
        self._task = task
        self._name = task.name
        self._split = "pipeline"
        self._v2 = task.v2
        self._all_results = []
        self._eval_examples = []


def _word_char_starts(context):
    """Character offset of each whitespace-separated word of `context`."""
    starts, previous_space = [], True
    for i, c in enumerate(context):
        if squad.is_whitespace(c):
            previous_space = True
        elif previous_space:
            starts.append(i)
            previous_space = False
    return starts


class QuestionAnswerer:
    """Answers (question, context) pairs with a fine-tuned span head.

    Args:
      model: the FinetuningModel; task: its QA task; config: its config.
      batch_size: windows per model call.
    """

    def __init__(self, model, task, config, batch_size=32):
        self.model = model
        self.task = task
        self.config = config
        self.batch_size = batch_size
        self.head = getattr(model, f"{task.name}_head")
        self._predict = tf.function(self._outputs)

    def _outputs(self, input_ids, input_mask, segment_ids):
        inputs = {
            "input_ids": input_ids,
            "input_mask": input_mask,
            "segment_ids": segment_ids,
        }
        enc = self.model.encoder(inputs, training=False)
        return self.head(enc["sequence_output"], input_mask, segment_ids)

    def __call__(self, pairs):
        """Answers for a list of (question, context) pairs."""
        examples, features = [], []
        for i, (question, context) in enumerate(pairs):
            doc_tokens, _ = squad._doc_tokens(context)
            example = squad.QAExample(
                self.task.name, i, str(i), str(i), question, doc_tokens
            )
            examples.append(example)
            features.append(self.task.featurize(example, False, for_eval=True))
        flat = [f for example_features in features for f in example_features]
        decoder = _Decoder(self.config, self.task)
        name = self.task.name
        for begin in range(0, len(flat), self.batch_size):
            batch = flat[begin : begin + self.batch_size]
            arrays = {
                k: tf.constant(np.array([f[k] for f in batch], np.int32))
                for k in ("input_ids", "input_mask", "segment_ids")
            }
            out = {k: v.numpy() for k, v in self._predict(**arrays).items()}
            for row, feature in enumerate(batch):
                result = {k: v[row] for k, v in out.items()}
                result["eid"] = feature[name + "_eid"]
                decoder.update(result)
        by_id = {r.unique_id: r for r in decoder._all_results}
        answers = []
        for example, example_features, (question, context) in zip(
            examples, features, pairs
        ):
            prelim, score_null = decoder._candidates(example_features, by_id)
            nbest = decoder._nbest(example, example_features, prelim)
            answers.append(
                self._answer(
                    example,
                    example_features,
                    prelim,
                    nbest,
                    score_null,
                    question,
                    context,
                )
            )
        return answers

    def _answer(
        self, example, features, prelim, nbest, score_null, question, context
    ):
        config = self.config
        best = nbest[0]
        if self.task.v2:
            best = next((e for e in nbest if e.text), best)
        text = "" if best.text == "empty" and not prelim else best.text
        start = -1
        if text and prelim:
            top = max(prelim, key=lambda p: p.start_logit + p.end_logit)
            feature = features[top.feature_index]
            word = feature[self.task.name + "_token_to_orig_map"][
                top.start_index
            ]
            start = context.find(text, _word_char_starts(context)[word])
            if start < 0:
                start = context.find(text)
        n_query = len(self.task._tokenizer.tokenize(question))
        answer = {
            "answer": text,
            "start": start,
            "end": start + len(text) if start >= 0 else -1,
            "score": float(best.start_logit + best.end_logit),
            "windows": len(features),
            "truncated": n_query > config.max_query_length,
        }
        if self.task.v2:
            if config.answerable_classifier:
                null_odds = float(score_null)
            else:
                null_odds = float(
                    score_null - best.start_logit - best.end_logit
                )
            answer["null_score"] = null_odds
            answer["is_impossible"] = null_odds > config.qa_na_threshold
        return answer
