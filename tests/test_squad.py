"""SQuAD / MRQA reading, doc-stride features and decoding on tiny files."""

import json

import numpy as np
import pytest

from electra_tf import errors
from electra_tf.finetuning import preprocessing
from electra_tf.finetuning import qa_features
from electra_tf.finetuning import qa_metrics

from finetuning_helpers import ID, make_config, write_mrqa, write_squad

CONTEXT = "The leader was John Smith (1895-1943).  He went to Paris"


def _qa(qid, question, answer=None, start=None, impossible=False):
    answers = [] if answer is None else [{"text": answer, "answer_start": start}]
    return {
        "id": qid,
        "question": question,
        "answers": answers,
        "is_impossible": impossible,
    }


def _train_task(tmp_path, **hparams):
    qas = [
        _qa("q1", "What year was John Smith born?", "1895", CONTEXT.index("1895")),
        _qa("q2", "Who is she?", impossible=True),
        # the text at the offset is "went", not "Paris": skipped and counted
        _qa("q3", "Where?", "Paris", CONTEXT.index("went")),
        _qa("q4", "Where?", "Paris", len(CONTEXT) - 2),
    ]
    write_squad(tmp_path, "squad", "train", [{"context": CONTEXT, "qas": qas}])
    config = make_config(tmp_path, task_names=["squad"], **hparams)
    return preprocessing.get_tasks(config)[0]


def _ids(text):
    return [ID[t] for t in text.split()]


def test_reading_and_answer_failures(tmp_path, caplog):
    task = _train_task(tmp_path)
    examples = task.get_examples("train")
    assert [e.qas_id for e in examples] == ["q1", "q2"]
    assert task.example_failures["train"] == 2
    assert "skipped 2 question(s)" in caplog.text
    q1, q2 = examples
    assert q1.doc_tokens == [
        "The", "leader", "was", "John", "Smith", "(1895-1943).",
        "He", "went", "to", "Paris",
    ]
    assert (q1.start_position, q1.end_position, q1.is_impossible) == (5, 5, False)
    assert (q2.start_position, q2.end_position, q2.is_impossible) == (-1, -1, True)
    assert task.get_examples("train") is examples  # cached: stable eids


def test_doc_stride_features(tmp_path):
    task = _train_task(tmp_path, max_seq_length=24, doc_stride=4)
    q1, q2 = task.get_examples("train")
    features = task.featurize(q1, True)
    # 15 sub-tokens, 14 per window: windows start at 0 and 4.
    assert len(features) == 2
    doc = "the [UNK] was john smith ( 1895 - 1943 ) . he went to paris"
    query = "[CLS] what year was john smith born ? [SEP]"
    first, second = features
    assert first["input_ids"] == _ids(query + " " + " ".join(doc.split()[:14]) + " [SEP]")
    assert first["segment_ids"] == [0] * 9 + [1] * 15
    assert first["input_mask"] == [1] * 24
    # "1895" (sub-token 6, tightened from the word "(1895-1943).") sits
    # at 6 + 9 in the first window and 6 - 4 + 9 in the second.
    assert (first["squad_start_positions"], first["squad_end_positions"]) == (15, 15)
    assert (second["squad_start_positions"], second["squad_end_positions"]) == (11, 11)
    assert (first["squad_eid"], second["squad_eid"]) == (0, 1)
    assert second["input_ids"][:21] == _ids(query + " " + " ".join(doc.split()[4:]) + " [SEP]")
    assert second["input_mask"] == [1] * 21 + [0] * 3
    assert first["squad_is_impossible"] == 0

    evals = task.featurize(q1, False, for_eval=True)
    assert "squad_start_positions" not in evals[0]
    assert evals[0]["squad_token_to_orig_map"][15] == 5
    assert evals[1]["squad_token_to_orig_map"][9] == 4
    # "1895" has most context in the first window, "he" (sub-token 11) in
    # the second.
    assert evals[0]["squad_token_is_max_context"][15]
    assert not evals[1]["squad_token_is_max_context"][11]
    assert not evals[0]["squad_token_is_max_context"][20]
    assert evals[1]["squad_token_is_max_context"][16]

    (impossible,) = task.featurize(q2, True)[:1]
    assert impossible["squad_eid"] == 1000
    assert (
        impossible["squad_start_positions"],
        impossible["squad_end_positions"],
        impossible["squad_is_impossible"],
    ) == (0, 0, 1)


def test_out_of_span_window_points_at_cls(tmp_path):
    task = _train_task(tmp_path, max_seq_length=16, doc_stride=3)
    features = task.featurize(task.get_examples("train")[0], True)
    # 6 doc tokens per window: starts 0, 3, 6, 9; "1895" is token 6.
    positions = [
        (f["squad_start_positions"], f["squad_end_positions"]) for f in features
    ]
    assert positions == [(0, 0), (12, 12), (9, 9), (0, 0)]
    assert all(f["squad_is_impossible"] == 0 for f in features)


def test_max_context_and_improve_span():
    spans = [qa_features.DocSpan(0, 5), qa_features.DocSpan(3, 5), qa_features.DocSpan(6, 5)]
    # "bought" (7): span B has left 4 / right 0, span C left 1 / right 3.
    assert qa_features._check_is_max_context(spans, 2, 7)
    assert not qa_features._check_is_max_context(spans, 1, 7)

    class Tok:
        def tokenize(self, text):
            return text.lower().split()

    doc = ["(", "1895", "-", "1943", ")"]
    assert qa_features._improve_answer_span(doc, 0, 4, Tok(), "1895") == (1, 1)
    assert qa_features._improve_answer_span(doc, 0, 4, Tok(), "1900") == (0, 4)


def test_get_final_text():
    assert qa_metrics.get_final_text("steve smith", "Steve Smith's", True) == "Steve Smith"
    assert qa_metrics.get_final_text("cafe", "Café au lait", True) == "Café"
    assert qa_metrics.get_final_text("1990 .", "1990.", True) == "1990."
    assert qa_metrics.get_final_text("xyz", "Steve", True) == "Steve"


DEV_CONTEXT = "the broncos won in 1990."


def _dev_task(tmp_path, name="squad", **hparams):
    qas = [
        {"id": "q1", "question": "who won?", "answers": [
            {"text": "the broncos", "answer_start": 0},
            {"text": "broncos", "answer_start": 4},
        ]},
        {"id": "q2", "question": "who won?", "answers": [], "is_impossible": True},
    ]
    write_squad(tmp_path, name, "dev", [{"context": DEV_CONTEXT, "qas": qas}])
    hparams.setdefault("max_seq_length", 16)
    config = make_config(tmp_path, task_names=[name], **hparams)
    return config, preprocessing.get_tasks(config)[0]


def _joint(eid, starts, start_lp, ends, end_lp, answerable=0.0, length=16):
    return {
        "eid": eid,
        "start_logits": np.zeros(length),
        "end_logits": np.zeros(length),
        "answerable_logit": answerable,
        "start_top_log_probs": np.array(start_lp),
        "start_top_index": np.array(starts),
        "end_top_log_probs": np.array(end_lp),
        "end_top_index": np.array(ends),
        "loss": 0.0,
    }


def test_joint_decoding_and_squad_v2_scores(tmp_path):
    config, task = _dev_task(tmp_path)
    (feature,) = task.featurize(task.get_examples("dev")[0], False, for_eval=True)
    # [CLS] who won ? [SEP] the broncos won in 1990 . [SEP]
    assert feature["squad_token_to_orig_map"] == {5: 0, 6: 1, 7: 2, 8: 3, 9: 4, 10: 4}
    scorer = task.get_scorer("dev")
    scorer.update(_joint(
        0, [6, 0, 11], [-0.1, -2.0, -3.0],
        [[6, 7, 5], [0, 0, 0], [11, 11, 11]],
        [[-0.5, -0.2, -1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        answerable=-3.0,
    ))
    scorer.update(_joint(
        1000, [9, 5, 5], [-0.1, -0.2, -0.3],
        [[10, 5, 5], [9, 5, 5], [5, 5, 5]],
        [[-0.1, -9.0, -9.0], [-0.3, -9.0, -9.0], [-9.0, -9.0, -9.0]],
        answerable=1.5,
    ))
    results = dict(scorer.get_results())
    with open(config.qa_preds_file("squad")) as f:
        assert json.load(f) == {"q1": "broncos won", "q2": "1990."}
    with open(config.qa_na_file("squad")) as f:
        assert json.load(f) == {"q1": -3.0, "q2": 1.5}
    with open(qa_metrics.nbest_file(config, "squad")) as f:
        nbest = json.load(f)
    # q1: (6, 7) scores -0.3, (6, 6) -0.6; invalid: start 0, end < start,
    # the final [SEP] (11) is not a passage token.
    assert [e["text"] for e in nbest["q1"]] == ["broncos won", "broncos"]
    p = np.exp([-0.3, -0.6]) / np.exp([-0.3, -0.6]).sum()
    assert [e["probability"] for e in nbest["q1"]] == pytest.approx(p)
    assert nbest["q1"][0]["start_logit"] == pytest.approx(-0.1)
    assert nbest["q1"][0]["end_logit"] == pytest.approx(-0.2)
    # q2: (9, 10) "1990 ." -> "1990." at -0.2, (5, 9) at -0.5, (5, 5) at
    # -9.2 (its repeat at -9.3 is dropped).
    assert [e["text"] for e in nbest["q2"]] == [
        "1990.",
        "the broncos won in 1990",
        "the",
    ]
    # q1 kept (null odds -3 <= -2.75): "broncos won" vs "broncos": F1 2/3;
    # q2 null odds 1.5 > -2.75: "no answer", correct.
    assert results["exact"] == 50.0
    assert results["f1"] == pytest.approx(100 * (2 / 3 + 1) / 2)
    assert results["HasAns_f1"] == pytest.approx(200 / 3)
    assert results["NoAns_exact"] == 100.0
    assert results["best_f1"] == pytest.approx(100 * (2 / 3 + 1) / 2)
    assert results["best_f1_thresh"] == -3.0
    with open(config.qa_eval_file("squad")) as f:
        assert json.load(f)["exact"] == 50.0


def test_independent_decoding_and_squad_v1(tmp_path):
    qas = [
        {"id": "q1", "question": "who won?", "answers": [
            {"text": "the broncos", "answer_start": 0}]},
        {"id": "q2", "question": "who won?", "answers": [
            {"text": "1990", "answer_start": 19}]},
    ]
    write_squad(
        tmp_path, "squadv1", "dev", [{"context": DEV_CONTEXT, "qas": qas}], "1.1"
    )
    config = make_config(
        tmp_path, task_names=["squadv1"], max_seq_length=16,
        joint_prediction=False, n_best_size=2,
    )
    (task,) = preprocessing.get_tasks(config)
    start = np.full(16, -5.0)
    end = np.full(16, -5.0)
    start[[6, 5]] = [3.0, 1.0]
    end[[6, 7]] = [0.5, 2.0]
    scorer = task.get_scorer("dev")
    for eid in (0, 1000):
        out = _joint(eid, [], [], [], [])
        out.update(start_logits=start, end_logits=end)
        scorer.update(out)
    results = dict(scorer.get_results())
    with open(config.qa_preds_file("squadv1")) as f:
        assert json.load(f) == {"q1": "broncos won", "q2": "broncos won"}
    with open(qa_metrics.nbest_file(config, "squadv1")) as f:
        nbest = json.load(f)["q1"]
    # best starts {6, 5} x best ends {7, 6}: (6,7) 5, (6,6) 3.5, (5,7) 3.
    assert [e["text"] for e in nbest] == ["broncos won", "broncos"]
    assert [e["start_logit"] + e["end_logit"] for e in nbest] == [5.0, 3.5]
    # q1 "broncos won" vs "the broncos": F1 2/3; q2 vs "1990": 0.
    assert results == {"exact_match": 0.0, "f1": pytest.approx(100 / 3)}


def test_mrqa_reading_and_scoring(tmp_path):
    context = "the broncos won in 1990."
    paragraph = {
        "context": context,
        "qas": [
            {
                "qid": "m1",
                "question": "who won?",
                "answers": ["broncos", "the broncos"],
                "detected_answers": [
                    {"text": "broncos", "char_spans": [[4, 10]], "token_spans": [[1, 1]]}
                ],
            },
            {
                "qid": "m2",
                "question": "when?",
                "answers": ["1990"],
                "detected_answers": [
                    {"text": "1990", "char_spans": [[19, 22]], "token_spans": [[4, 4]]}
                ],
            },
        ],
    }
    write_mrqa(tmp_path, "newsqa", "train", [paragraph])
    write_mrqa(tmp_path, "newsqa", "dev", [paragraph])
    config = make_config(tmp_path, task_names=["newsqa"], max_seq_length=16)
    (task,) = preprocessing.get_tasks(config)
    train = task.get_examples("train")
    assert [(e.qid, e.start_position, e.end_position) for e in train] == [
        ("m1", 1, 1),
        ("m2", 4, 4),
    ]
    (feature,) = task.featurize(train[1], True)
    # [CLS] when ? [SEP] the broncos won in 1990 . [SEP]: "1990" is at 8.
    assert (feature["newsqa_start_positions"], feature["newsqa_end_positions"]) == (8, 8)
    scorer = task.get_scorer("dev")
    scorer.update(_joint(0, [5], [-0.1], [[6]], [[-0.1]]))
    scorer.update(_joint(1000, [8], [-0.1], [[9]], [[-0.1]]))
    results = dict(scorer.get_results())
    with open(config.qa_preds_file("newsqa")) as f:
        assert json.load(f) == {"m1": "the broncos", "m2": "1990."}
    assert results == {"exact_match": 100.0, "f1": 100.0}


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"data": [', r"dev.json is not valid JSON \(Expecting value at line 1 column 11\)"),
        ('{"version": "2.0"}', r"dev.json: 'data' is missing, not a list"),
        ('{"data": [{"paragraphs": {}}]}', r"dev.json: data\[0\]: 'paragraphs' is a dict, not a list"),
        ('{"data": [{"paragraphs": [{"context": 3, "qas": []}]}]}',
         r"dev.json: data\[0\].paragraphs\[0\]: 'context' is a int, not a string"),
        ('{"data": [{"paragraphs": [{"context": "c", "qas": [{"question": "q?"}]}]}]}',
         r"dev.json: data\[0\].paragraphs\[0\].qas\[0\]: 'id' is missing, not a string"),
        ('{"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "a", "question": "q?", "answers": [{"answer_start": 0}]}]}]}]}',
         r"qas\[0\]: 'text' is missing, not a string; fix the file \(SQuAD files are"),
    ],
)
def test_bad_squad_files_name_file_position_and_format(tmp_path, text, expected):
    path = write_squad(tmp_path, "squad", "dev", [])
    with open(path, "w") as f:
        f.write(text)
    config = make_config(tmp_path, task_names=["squad"], do_train=False, init_checkpoint="x")
    with pytest.raises(errors.DataError, match=expected):
        preprocessing.check_inputs(config, preprocessing.get_tasks(config))


def test_bad_mrqa_lines_and_squad_train_answers(tmp_path):
    path = write_mrqa(tmp_path, "newsqa", "dev", [{"context": "c", "qas": []}])
    with open(path, "a") as f:
        f.write('{"context": "c", "qas": [}\n')
    config = make_config(tmp_path, task_names=["newsqa"], do_train=False, init_checkpoint="x")
    with pytest.raises(errors.DataError, match=r"newsqa/dev.jsonl line 3 is not valid JSON"):
        preprocessing.check_inputs(config, preprocessing.get_tasks(config))
    qa = _qa("q1", "Who?", "John", CONTEXT.index("John"))
    qa["answers"][0]["answer_start"] = "15"
    write_squad(tmp_path, "squad", "train", [{"context": CONTEXT, "qas": [qa]}])
    config = make_config(tmp_path, task_names=["squad"], do_eval=False)
    with pytest.raises(errors.DataError, match=r"train.json: data\[0\].paragraphs\[0\].qas\[0\]: 'answer_start' is a str, not an integer"):
        preprocessing.check_inputs(config, preprocessing.get_tasks(config))
