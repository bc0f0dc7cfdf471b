import json
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, f1_score

from msa.errors import MsaError
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


def test_the_document_is_parted_between_what_compares_experiments_and_its_details(tmp_path):
    y_true = ["positive", "negative", "neutral", "positive"]
    epochs = {0: {"best_epoch": 1, "epochs_run": 2}, 1: {"best_epoch": 2, "epochs_run": 3}}
    document = metrics.summarize("image", y_true, ["positive"] * 4, [0, 0, 1, 1], epochs,
                                 {"train": {"precision": "fp32"}}, np.full((4, 3), 1 / 3))
    metrics.write(document, tmp_path / "metrics.json", tmp_path / "details.json")
    compared = json.loads((tmp_path / "metrics.json").read_text())
    assert list(compared) == ["mode", "accuracy", "macro_f1", "weighted_f1", "calibration"]
    details = json.loads((tmp_path / "details.json").read_text())
    assert set(details) == {"per_class", "majority_baseline", "folds", "pairs", "produced_by"}
    assert metrics.read(tmp_path / "metrics.json", tmp_path / "details.json") == document
    (tmp_path / "details.json").unlink()
    with pytest.raises(MsaError, match="details.json: no metrics here"):
        metrics.read(tmp_path / "metrics.json", tmp_path / "details.json")


def test_details_at_a_revision_are_what_was_committed_there(tmp_path, monkeypatch):
    def git(*args):
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    (tmp_path / "README").write_text("before the file existed\n")
    git("add", "-A")
    git("commit", "-qm", "old")
    old = git("rev-parse", "HEAD")
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/details.json").write_text('{"pairs": 7}')
    git("add", "-A")
    git("commit", "-qm", "new")
    new = git("rev-parse", "HEAD")
    (tmp_path / "metrics/details.json").write_text('{"pairs": 8}')  # not committed
    monkeypatch.chdir(tmp_path)
    assert metrics.details_at(new) == {"pairs": 7}
    assert metrics.details_at(old) == {}


def test_majority_baseline_uses_the_other_folds():
    y_true = ["negative", "negative", "positive", "positive", "positive", "positive"]
    folds = [0, 0, 0, 1, 1, 1]
    # fold 0's training folds are all positive; fold 1's are two negative and one positive
    baseline = metrics.majority_baseline(y_true, folds)
    assert baseline["accuracy"] == pytest.approx(1 / 6)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=60))
def test_the_vectorised_f1s_are_sklearns(pairs):
    y, pred = np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])
    macro = metrics.HEADLINE["macro_f1"].score(y, pred)
    weighted = metrics.HEADLINE["weighted_f1"].score(y, pred)
    present = sorted(set(y) | set(pred))
    # sklearn averages over the classes present; _f1s over all three, absent ones scoring 0
    assert macro * 3 / len(present) == pytest.approx(
        f1_score(y, pred, average="macro", zero_division=0))
    assert weighted == pytest.approx(f1_score(y, pred, average="weighted", zero_division=0))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=400))
def test_every_headline_score_is_sklearns_to_the_bit(pairs):
    """metrics.json's figures are what sklearn gives, so none moved when the scores came here."""
    y, pred = np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])
    sklearn = {"accuracy": accuracy_score(y, pred),
               **{f"{average}_f1": f1_score(y, pred, labels=[0, 1, 2], average=average,
                                            zero_division=0)
                  for average in ("macro", "weighted")}}
    assert set(sklearn) == set(metrics.HEADLINE)
    for name, headline in metrics.HEADLINE.items():
        assert float(headline.score(y, pred)) == sklearn[name], name


def test_headline_scores_vectorise_over_resamples():
    rng = np.random.default_rng(0)
    y, pred = rng.integers(0, 3, (4, 50)), rng.integers(0, 3, (4, 50))
    for headline in metrics.HEADLINE.values():
        together = headline.score(y, pred)
        assert together.shape == (4,)
        assert list(together) == [headline.score(y[i], pred[i]) for i in range(4)]
