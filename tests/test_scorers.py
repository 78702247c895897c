"""Scorers against hand-computed values (finetune/scorer.py,
finetune/classification/classification_metrics.py,
finetune/tagging/tagging_metrics.py, finetune/qa/squad_official_eval.py,
squad_official_eval_v1.py and mrqa_official_eval.py)."""

import doctest
import math

import numpy as np
import pytest

from electra_tf.finetuning import chunking, scorers, squad_eval


def _feed(scorer, labels, preds, losses, key="label_ids"):
    for label, pred, loss in zip(labels, preds, losses):
        scorer.update({key: label, "predictions": pred, "loss": loss})
    return dict(scorer.get_results())


def test_accuracy_scorer():
    results = _feed(
        scorers.AccuracyScorer(), [0, 1, 1, 2], [0, 1, 0, 2], [1.0, 2.0, 3.0, 6.0]
    )
    assert results == {"accuracy": 75.0, "loss": 3.0}


def test_mcc_binary_and_multiclass():
    y_true = [1, 1, 1, 0, 0, 0, 1, 0]
    y_pred = [1, 0, 1, 0, 1, 0, 1, 0]
    # TP 3, TN 3, FP 1, FN 1: (9 - 1) / sqrt(4 * 4 * 4 * 4) = 0.5
    assert scorers.matthews_corrcoef(y_true, y_pred) == pytest.approx(0.5)
    # 3 classes: trace 4, t_sum = p_sum = [2, 2, 2], n 6:
    # (4 * 6 - 12) / sqrt((36 - 12) * (36 - 12)) = 0.5
    assert scorers.matthews_corrcoef(
        [0, 1, 2, 0, 1, 2], [0, 1, 1, 0, 2, 2]
    ) == pytest.approx(0.5)
    # Perfectly wrong binary predictions: -1.
    assert scorers.matthews_corrcoef([0, 1, 0, 1], [1, 0, 1, 0]) == -1.0
    # Constant predictions: undefined, reported as 0 (as scikit-learn).
    assert scorers.matthews_corrcoef([0, 1, 1], [1, 1, 1]) == 0.0
    results = _feed(scorers.MCCScorer(), y_true, y_pred, [0.5] * 8)
    assert results == {"mcc": pytest.approx(50.0), "loss": 0.5}


def test_pearson_spearman_mse():
    # dx = [-1.5, -.5, .5, 1.5], dy = [-3, -1, 0, 4]: 11 / sqrt(5 * 26)
    assert scorers.pearson([1, 2, 3, 4], [2, 4, 5, 9]) == pytest.approx(
        11 / math.sqrt(130)
    )
    np.testing.assert_array_equal(
        scorers.rankdata([10, 20, 20, 5, 20]), [2.0, 4.0, 4.0, 1.0, 4.0]
    )
    # ranks [1, 2.5, 2.5, 4] vs [1, 3, 2, 4]: 4.5 / sqrt(4.5 * 5)
    assert scorers.spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(
        4.5 / math.sqrt(22.5)
    )
    assert math.isnan(scorers.pearson([1, 1, 1], [1, 2, 3]))
    results = _feed(
        scorers.RegressionScorer(),
        [0.2, 0.4, 0.6, 0.8],
        [0.1, 0.4, 0.7, 0.6],
        [0.01, 0.0, 0.01, 0.04],
        key="targets",
    )
    # dx = [-.3, -.1, .1, .3]; dy = [-.35, -.05, .25, .15]
    expected_r = 0.18 / math.sqrt(0.2 * 0.21)
    assert results["pearson"] == pytest.approx(100 * expected_r)
    # ranks [1, 2, 3, 4] vs [1, 2, 4, 3]: 4 / 5
    assert results["spearman"] == pytest.approx(80.0)
    assert results["mse"] == pytest.approx((0.01 + 0 + 0.01 + 0.04) / 4)
    assert results["loss"] == pytest.approx(0.015)


def test_scorer_caches_and_formats():
    scorer = scorers.AccuracyScorer()
    _feed(scorer, [1, 0], [1, 1], [1.0, 3.0])
    assert scorer.results_str() == "accuracy: 50.00 - loss: 2.00"
    assert scorer.get_results("dev_") == [("dev_accuracy", 50.0), ("dev_loss", 2.0)]


def test_empty_split_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        scorers.accuracy([], [])
    with pytest.raises(ValueError, match="empty"):
        scorers.pearson([], [])


def test_span_labels_and_tags():
    get = scorers.get_span_labels
    assert get(["B-NP", "E-NP", "O", "S-VP", "S-NP"]) == [
        (0, 1, "NP"),
        (3, 3, "VP"),
        (4, 4, "NP"),
    ]
    assert get(["I-NP", "I-NP", "O"]) == [(0, 1, "NP")]
    # A type change inside I- tags does not close the span; its type is
    # that of the last tag.
    assert get(["B-NP", "I-NP", "I-VP", "O"]) == [(0, 2, "VP")]
    assert get(["B-NP", "B-NP"]) == [(0, 0, "NP"), (1, 1, "NP")]
    assert get(["O", "I-NP"]) == [(1, 1, "NP")]
    assert get(["E-NP", "S-VP"]) == [(0, 0, "NP"), (1, 1, "VP")]
    assert get([3, 0, 1], {0: "B-NP", 1: "I-NP", 3: "O"}) == [(1, 2, "NP")]
    with pytest.raises(ValueError, match="NP"):
        get(["NP"])
    spans = [(0, 1, "NP"), (3, 3, "VP")]
    assert chunking.get_tags(spans, 5, "BIOES") == [
        "B-NP",
        "E-NP",
        "O",
        "S-VP",
        "O",
    ]
    assert chunking.get_tags(spans, 5, "BIO") == [
        "B-NP",
        "I-NP",
        "O",
        "B-VP",
        "O",
    ]


def test_entity_level_f1_and_loss_counted_once():
    mapping = {"B-NP": 0, "E-NP": 1, "I-NP": 2, "O": 3, "S-NP": 4, "S-VP": 5}
    scorer = scorers.EntityLevelF1Scorer(mapping)
    # gold (0,1,NP) (3,3,VP) (4,4,NP); predicted (0,1,NP) (3,3,NP).
    scorer.update(
        {
            "labels": np.array([0, 1, 3, 5, 4, 0, 0]),
            "predictions": np.array([0, 1, 3, 4, 3, 5, 5]),
            "labels_mask": np.array([1, 1, 1, 1, 1, 0, 0], np.float32),
            "loss": np.float32(2.5),
        }
    )
    results = dict(scorer.get_results())
    assert results["precision"] == 50.0
    assert results["recall"] == pytest.approx(100.0 / 3)
    assert results["f1"] == pytest.approx(40.0)
    # 2.5 over 5 words (the original reports 1.0: the loss added twice).
    assert results["loss"] == pytest.approx(0.5)


def test_normalize_answer():
    assert squad_eval.normalize_answer("The  Quick, brown fox!") == "quick brown fox"
    assert squad_eval.normalize_answer("an apple a day") == "apple day"
    assert squad_eval.normalize_answer("Theater") == "theater"
    assert squad_eval.normalize_answer("U.S.A.\t\n") == "usa"
    assert squad_eval.normalize_answer(" a ") == ""


def test_squad_token_f1_both_versions():
    # gold [cat, sat], pred [cat, sat, down]: P 2/3, R 1
    assert squad_eval.compute_f1("the cat sat", "cat sat down") == pytest.approx(0.8)
    assert squad_eval.f1_score("cat sat down", "the cat sat") == pytest.approx(0.8)
    # v2: two empty answers agree; v1 gives 0 F1 but an exact match.
    assert squad_eval.compute_f1("", "") == 1.0
    assert squad_eval.compute_f1("", "x") == 0.0
    assert squad_eval.f1_score("", "") == 0.0
    assert squad_eval.exact_match_score("", "the")
    # repeated tokens count with multiplicity: common = {x: 1}, P 1/3, R 1/2
    assert squad_eval.f1_score("x x y", "x z") == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))


def _squad(qas):
    return [{"title": "t", "paragraphs": [{"context": "c", "qas": qas}]}]


def _qa(qid, *answers):
    return {"id": qid, "question": "q", "answers": [{"text": a} for a in answers]}


def test_squad_v1_official():
    dataset = _squad(
        [
            _qa("q1", "Denver Broncos", "Broncos"),
            _qa("q2", "late 1990s"),
            _qa("q3", "x"),
        ]
    )
    result = squad_eval.squad_v1_evaluate(dataset, {"q1": "Broncos.", "q2": "the 1990s"})
    # q1 exact; q2 F1 2/3 (P 1, R 1/2); q3 missing = 0.
    assert result["exact_match"] == pytest.approx(100.0 / 3)
    assert result["f1"] == pytest.approx(100.0 * (1 + 2 / 3) / 3)


def test_mrqa_official_skips_unanswered():
    answers = {"a": ["Paris", "paris france"], "b": ["1990"], "c": ["x"]}
    preds = {"a": "Paris, France", "b": "in 1990"}
    result = squad_eval.mrqa_evaluate(answers, preds, skip_no_answer=True)
    assert result["exact_match"] == 50.0
    assert result["f1"] == pytest.approx(100.0 * (1 + 2 / 3) / 2)
    result = squad_eval.mrqa_evaluate(answers, preds, skip_no_answer=False)
    assert result["exact_match"] == pytest.approx(100.0 / 3)


def test_squad_v2_official_with_threshold_search():
    dataset = _squad(
        [
            _qa("q1", "Denver Broncos", "Broncos"),
            _qa("q2", "in the late 1990s"),
            _qa("q3"),
            _qa("q4"),
            # the only gold normalises to "" so it is dropped: gold = [""]
            _qa("q5", "The"),
        ]
    )
    preds = {"q1": "the Denver Broncos", "q2": "1990s", "q3": "", "q4": "Paris", "q5": ""}
    na = {"q1": -5.0, "q2": -1.0, "q3": 3.0, "q4": 0.5, "q5": -3.0}
    out = squad_eval.squad_v2_evaluate(dataset, preds, na, na_prob_thresh=-2.75)
    # Above the threshold: q2 (-> wrong, it has an answer), q3, q4 (-> right).
    assert out["exact"] == 80.0 and out["f1"] == 80.0 and out["total"] == 5
    assert out["HasAns_exact"] == pytest.approx(200.0 / 3)
    assert out["HasAns_total"] == 3
    assert out["NoAns_exact"] == 100.0 and out["NoAns_f1"] == 100.0
    assert out["NoAns_total"] == 2
    # Sweep (sorted q1, q5, q2, q4, q3) from 2 no-answer points:
    # exact 3, 4, 4, 3, 3 -> best 4 at -3; f1 3, 4, 4.5, 3.5, 3.5 -> 4.5 at -1.
    assert out["best_exact"] == 80.0 and out["best_exact_thresh"] == -3.0
    assert out["best_f1"] == 90.0 and out["best_f1_thresh"] == -1.0
    assert sorted(out) == sorted(
        [
            "exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total",
            "NoAns_exact", "NoAns_f1", "NoAns_total", "best_exact",
            "best_exact_thresh", "best_f1", "best_f1_thresh",
        ]
    )
    # Without null odds: raw scores, no best_* keys.
    raw = squad_eval.squad_v2_evaluate(dataset, preds)
    assert raw["exact"] == 60.0 and raw["f1"] == 70.0 and "best_f1" not in raw
    with pytest.raises(ValueError, match="Missing prediction for question q5"):
        squad_eval.squad_v2_evaluate(dataset, {k: preds[k] for k in list(preds)[:4]})


def test_docstring_examples():
    from electra_tf.finetuning import qa_metrics

    for module in (scorers, squad_eval, qa_metrics):
        result = doctest.testmod(module)
        assert result.attempted >= 1 and result.failed == 0, module.__name__
