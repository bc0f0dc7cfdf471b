import pytest

from msa.evaluation import metrics


def test_summary_per_fold_pooled_per_class_and_baseline():
    y_true = ["positive", "positive", "negative", "neutral", "positive", "negative"]
    y_pred = ["positive", "negative", "negative", "neutral", "positive", "positive"]
    folds = [0, 0, 0, 1, 1, 1]
    epochs = {0: {"best_epoch": 2, "epochs_run": 5}, 1: {"best_epoch": 1, "epochs_run": 4}}
    result = metrics.summarize("text", y_true, y_pred, folds, epochs)
    assert result["mode"] == "text"
    assert result["accuracy"]["pooled"] == pytest.approx(4 / 6)
    assert result["accuracy"]["mean"] == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert result["accuracy"]["std"] == pytest.approx(0.0)
    assert result["per_class"]["neutral"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0,
                                              "support": 1}
    assert result["per_class"]["positive"]["recall"] == pytest.approx(2 / 3)
    assert result["folds"]["1"]["epochs_run"] == 4
    assert result["pairs"] == 6
    # fold 0 predicts the majority of fold 1 and vice versa
    baseline = result["majority_baseline"]
    assert 0 <= baseline["accuracy"] <= 1 and baseline["label"] in y_true


def test_majority_baseline_uses_the_other_folds():
    y_true = ["a", "a", "b", "b", "b", "b"]
    folds = [0, 0, 0, 1, 1, 1]
    # fold 0's training folds are all "b"; fold 1's are two "a" and one "b"
    baseline = metrics.majority_baseline(y_true, folds)
    assert baseline["accuracy"] == pytest.approx(1 / 6)
