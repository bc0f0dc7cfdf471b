"""On the real lab5 folder, when it is there: prepare over all of it, the pipeline on a subset."""

import csv

import numpy as np
import pytest

from msa import LABELS
from msa.data import folds, reading
from msa.evaluation import metrics, predict
from msa.features import extract
from msa.training import checkpoints
from msa.params import AugmentParams, FeaturizeParams, TrainParams
from conftest import LAB5
from synthetic import train_cross_validated

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not (LAB5 / "train.txt").is_file(), reason=f"no lab5 data at {LAB5}"),
]


def test_prepare_accounts_for_every_real_pair():
    pairs, report = reading.prepare(LAB5, show_progress=False)
    assert report["guids"]["listed"] == 3501 + 511
    assert report["guids"]["unaccounted"] == []
    assert report["guids"]["usable"] + report["guids"]["skipped"] == 3501 + 511
    assert report["pairs"]["train"]["total"] + report["pairs"]["test"] == len(pairs)
    assert report["pairs"]["train"]["total"] <= 3501 and report["pairs"]["test"] <= 511
    assert report["text_encodings"]["gb18030"] > 0  # lab5 mixes encodings


def _subset(tmp_path, per_class=12, n_test=6):
    """A stratified subset of lab5, linked (not copied) into a folder of its own."""
    with (LAB5 / "train.txt").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    chosen = [r for label in LABELS for r in [x for x in rows if x["tag"] == label][:per_class]]
    with (LAB5 / "test_without_label.txt").open(encoding="utf-8") as handle:
        tests = [r["guid"] for r in csv.DictReader(handle)][:n_test]
    root = tmp_path / "subset"
    (root / "data").mkdir(parents=True)
    for guid in [r["guid"] for r in chosen] + tests:
        for ext in ("txt", "jpg"):
            (root / "data" / f"{guid}.{ext}").symlink_to(LAB5 / "data" / f"{guid}.{ext}")
    (root / "train.txt").write_text(
        "guid,tag\n" + "".join(f"{r['guid']},{r['tag']}\n" for r in chosen), encoding="utf-8")
    (root / "test_without_label.txt").write_text(
        "guid,tag\n" + "".join(f"{g},null\n" for g in tests), encoding="utf-8")
    return root


def test_pipeline_on_a_stratified_subset(tmp_path):
    root = _subset(tmp_path)
    pairs, report = reading.prepare(root, show_progress=False)
    assert report["guids"]["listed"] == 42
    assignment = folds.assign_folds(pairs, n_splits=3, seed=0)
    cache = extract.featurize(pairs, FeaturizeParams(), AugmentParams(views=1),
                               show_progress=False)
    results = train_cross_validated(cache, assignment, "multimodal", TrainParams(epochs=3),
                                    seed=0, show_progress=False)
    y_true = [cache.labels[cache.guids.index(g)] for r in results for g in r.val_guids]
    y_pred = [LABELS[int(i)] for r in results for i in r.val_probs.argmax(1)]
    fold_of = [r.fold for r in results for _ in r.val_guids]
    summary = metrics.summarize("multimodal", y_true, y_pred, fold_of,
                                {r.fold: {"best_epoch": r.best_epoch, "epochs_run": r.epochs_run}
                                 for r in results})
    assert summary["pairs"] == sum(1 for p in pairs if p.split == "train")
    test_pairs = [p for p in pairs if p.split == "test"]
    models_dir = tmp_path / "models"
    checkpoints.save_models(results, "multimodal", cache.encoders, models_dir, "heads")
    models, index = predict.load_models(models_dir)
    probs = predict.ensemble_proba(models, index, test_pairs, lambda: cache)
    assert probs.shape == (len(test_pairs), 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
