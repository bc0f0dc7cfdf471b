"""The cross-validation driver: folds, the hold-out, the stopping rules, refit, the lexical
blend and the records, run here through the heads regime."""

from dataclasses import replace

import numpy as np
import pytest

from msa import LABELS, epoch_log
from msa.errors import MsaError
from msa.evaluation import records
from msa.training import driver, heads, lexical
from synthetic import PARAMS, folds_for, synthetic_features, train_cross_validated, train_fold


def test_monitoring_macro_f1_restores_its_first_best_epoch():
    cache = synthetic_features()
    params = replace(PARAMS, monitor="val_macro_f1", early_stopping="fold")
    result = train_fold(cache, folds_for(cache), 2, "multimodal", params, seed=0)
    scores = [row["val_macro_f1"] for row in result.log]
    assert [row["stop_score"] for row in result.log] == scores
    assert result.best_epoch == scores.index(max(scores)) + 1


def _with_fold_0_relabelled():
    """(features, folds, the same features with fold 0's labels drawn at random)."""
    cache = synthetic_features()
    folds = folds_for(cache)
    relabelled = synthetic_features()
    rng = np.random.default_rng(1)
    for i, g in enumerate(relabelled.guids):
        if folds[g] == 0:
            relabelled.labels[i] = LABELS[rng.integers(len(LABELS))]
    return cache, folds, relabelled


def test_the_reported_fold_never_chooses_the_epoch_under_holdout():
    """Relabelling the reported fold changes its scores, not the model (holdout); with `fold`
    stopping it changes which epoch is kept."""
    cache, folds, relabelled = _with_fold_0_relabelled()
    params = replace(PARAMS, epochs=12, patience=12)
    a = train_fold(cache, folds, 0, "multimodal", params, seed=0)
    b = train_fold(relabelled, folds, 0, "multimodal", params, seed=0)
    assert a.best_epoch == b.best_epoch
    np.testing.assert_array_equal(a.val_probs, b.val_probs)
    assert [r["val_loss"] for r in a.log] != [r["val_loss"] for r in b.log]
    fold_params = replace(PARAMS, epochs=12, patience=12, early_stopping="fold")
    c = train_fold(cache, folds, 0, "multimodal", fold_params, seed=0)
    d = train_fold(relabelled, folds, 0, "multimodal", fold_params, seed=0)
    assert c.best_epoch != d.best_epoch


def test_holdout_is_stratified_and_kept_out_of_training():
    cache = synthetic_features()
    label_of = dict(zip(cache.guids, cache.labels))
    train_guids = [g for g, f in folds_for(cache).items() if f != 0]
    fifth = replace(PARAMS, holdout_fraction=0.2)
    fit, stop = driver.split_for_stopping(train_guids, label_of, fifth, 0)
    assert sorted(fit + stop) == sorted(train_guids) and not set(fit) & set(stop)
    assert len(stop) == pytest.approx(0.2 * len(train_guids), abs=1)
    share = {x: np.mean([label_of[g] == x for g in stop]) for x in LABELS}
    overall = {x: np.mean([label_of[g] == x for g in train_guids]) for x in LABELS}
    assert all(abs(share[x] - overall[x]) < 0.05 for x in LABELS)
    no_holdout = replace(PARAMS, early_stopping="none")
    assert driver.split_for_stopping(train_guids, label_of, no_holdout, 0) == (train_guids, [])


def test_small_data_holds_out_one_pair_per_class_and_a_lone_class_is_a_clear_error():
    cache = synthetic_features(n=12)
    label_of = {g: LABELS[i % 3] for i, g in enumerate(cache.guids)}
    fit, stop = driver.split_for_stopping(cache.guids, label_of, PARAMS, seed=0)
    assert sorted(label_of[g] for g in stop) == sorted(LABELS) and len(fit) == 9
    for g in cache.guids[4::3]:  # one pair left of the second class
        label_of[g] = LABELS[0]
    with pytest.raises(MsaError,
                       match="train.early_stopping: cannot hold out 3 of 12.*early_stopping: none$"):
        driver.split_for_stopping(cache.guids, label_of, PARAMS, seed=0)


def test_no_early_stopping_keeps_the_last_epoch():
    cache = synthetic_features()
    result = train_fold(cache, folds_for(cache), 0, "text",
                        replace(PARAMS, epochs=6, patience=1, early_stopping="none"), seed=0)
    assert result.epochs_run == result.best_epoch == 6
    assert all(np.isnan(row["stop_score"]) for row in result.log)


def test_early_stopping_waits_patience_epochs_after_the_best():
    cache = synthetic_features()
    params = replace(PARAMS, epochs=200, patience=3)
    result = train_fold(cache, folds_for(cache), 1, "text", params, seed=0)
    assert result.epochs_run < 200
    assert result.epochs_run == result.best_epoch + 3


def test_same_seed_same_result_other_seed_other_result():
    cache = synthetic_features()
    a = train_fold(cache, folds_for(cache), 0, "multimodal", PARAMS, seed=0)
    b = train_fold(cache, folds_for(cache), 0, "multimodal", PARAMS, seed=0)
    c = train_fold(cache, folds_for(cache), 0, "multimodal", PARAMS, seed=1)
    np.testing.assert_array_equal(a.val_probs, b.val_probs)
    assert a.log == b.log
    assert not np.array_equal(a.val_probs, c.val_probs)


def test_cross_validation_writes_logs_and_oof_for_every_pair(tmp_path):
    cache = synthetic_features(n=90)
    results = train_cross_validated(cache, folds_for(cache), "multimodal",
                                    replace(PARAMS, epochs=3),
                                          seed=0, show_progress=False)
    records.write_oof(driver.oof_rows(results, dict(zip(cache.guids, cache.labels))), tmp_path / "oof.csv")
    records.write_train_log(driver.train_log(results), tmp_path / "log.csv")
    oof = records.read_oof(tmp_path / "oof.csv")
    assert sorted(r["guid"] for r in oof) == sorted(cache.guids)
    assert all(abs(sum(float(r[f"prob_{x}"]) for x in LABELS) - 1) < 1e-4 for r in oof)
    log = records.read_train_log(tmp_path / "log.csv")
    assert {row["fold"] for row in log} == {0, 1, 2}
    assert set(log[0]) == set(epoch_log.COLUMNS)
    records.write_summary(tmp_path / "training.json", "multimodal", driver.fold_epochs(results),
                          {"train": {"precision": "fp32"}})
    summary = records.read_summary(tmp_path / "training.json")
    assert summary["folds"] == {r.fold: {"best_epoch": 3, "epochs_run": 3} for r in results}
    assert summary["produced_by"]["train"]["precision"] == "fp32"


@pytest.mark.parametrize("mode", ["text", "multimodal"])
def test_the_lexical_model_is_fitted_on_the_training_folds_and_blended(mode):
    cache = synthetic_features(n=90)
    folds = folds_for(cache)
    params = replace(PARAMS, epochs=3)
    alone = train_fold(cache, folds, 0, mode, params, seed=0)
    blended = train_fold(cache, folds, 0, mode, replace(params, lexical_weight=0.4), seed=0)
    assert alone.lexical is None and blended.lexical_weight == 0.4
    assert alone.log == blended.log  # the network and its epoch choice are untouched
    lexical_probs = lexical.predict_proba(blended.lexical,
                                          cache.texts_of(cache.rows(blended.val_guids)))
    np.testing.assert_allclose(blended.val_probs, 0.6 * alone.val_probs + 0.4 * lexical_probs,
                               atol=1e-6)
    # Relabelling the reported fold leaves the lexical model as it was: it never saw that fold.
    relabelled = synthetic_features(n=90)
    relabelled.labels = [LABELS[0] if folds[g] == 0 else x
                         for g, x in zip(relabelled.guids, relabelled.labels)]
    again = train_fold(relabelled, folds, 0, mode, replace(params, lexical_weight=0.4),
                       seed=0)
    np.testing.assert_array_equal(again.val_probs, blended.val_probs)


def test_early_stopping_counts_epochs_without_improvement():
    loss = driver.EarlyStopping("val_loss", patience=2)
    assert [loss.improved(v) for v in (1.0, 0.8, 0.8, 0.9)] == [True, True, False, False]
    assert loss.stop and loss.best == 0.8
    accuracy = driver.EarlyStopping("val_accuracy", patience=2)
    assert [accuracy.improved(v) for v in (0.5, 0.4, 0.6)] == [True, False, True]
    assert not accuracy.stop  # an improvement starts the wait again


def test_refit_fits_every_training_pair_for_the_epochs_the_holdout_chose(monkeypatch):
    cache = synthetic_features()
    folds = folds_for(cache)
    params = replace(PARAMS, epochs=12, patience=2, early_stopping="refit", monitor="val_accuracy")
    calls, schedules = [], []
    real_fit, real_schedule = driver.fit, heads.optimizer_and_schedule

    def recording_fit(*args):
        calls.append(args)
        return real_fit(*args)

    def recording_schedule(*args):
        optimizer, scheduler = real_schedule(*args)
        schedules.append((args[3], scheduler))
        return optimizer, scheduler

    monkeypatch.setattr(driver, "fit", recording_fit)
    monkeypatch.setattr(heads, "optimizer_and_schedule", recording_schedule)
    result = train_fold(cache, folds, 0, "multimodal", params, seed=0)
    # the choosing run's schedule spans train.epochs; the refit's the epochs chosen, and ends
    # annealed to a rate of zero
    assert [epochs for epochs, _ in schedules] == [params.epochs, result.best_epoch]
    assert result.best_epoch < params.epochs and schedules[1][1].get_last_lr()[0] == 0.0
    assert schedules[0][1].get_last_lr()[0] > 0.0
    holdout = train_fold(cache, folds, 0, "multimodal",
                         replace(params, early_stopping="holdout"), seed=0)
    (choosing, refit), train_guids = calls[:2], [g for g, f in folds.items() if f != 0]
    # the choosing run is the holdout rule's run: same log, same epoch chosen
    assert result.log == holdout.log and result.best_epoch == holdout.best_epoch
    assert result.epochs_run == holdout.epochs_run == len(result.log)
    choosing, refit = choosing[1], refit[1]  # fit(regime, phase, ...)
    assert sorted(refit.fit_guids) == sorted(train_guids) and refit.stop_guids == []  # no hold-out
    assert refit.chooser == "none" and refit.epochs == result.best_epoch
    assert len(choosing.fit_guids) < len(train_guids)
    assert not np.array_equal(result.val_probs, holdout.val_probs)


def test_the_reported_fold_never_chooses_under_refit():
    cache, folds, relabelled = _with_fold_0_relabelled()
    params = replace(PARAMS, epochs=10, patience=3, early_stopping="refit")
    a = train_fold(cache, folds, 0, "multimodal", params, seed=0)
    b = train_fold(relabelled, folds, 0, "multimodal", params, seed=0)
    assert a.best_epoch == b.best_epoch
    np.testing.assert_array_equal(a.val_probs, b.val_probs)
