from dataclasses import replace

import numpy as np
import pytest
import torch

from msa import LABELS, epoch_log
from msa.evaluation import records
from msa.training import driver, heads, lexical
from msa.errors import MsaError
from msa.features.store import FeatureSet
from msa.params import TrainParams


def synthetic_texts(index, rng):
    """Filler words, and a handle that names the label for 70% of the posts (else a random one)."""
    filler = ["the", "a", "day", "photo", "new", "look", "today", "http"]
    handles = [f"@{x}fan" for x in LABELS]
    return [" ".join([*rng.choice(filler, 4),
                      handles[i if rng.random() < 0.7 else rng.integers(len(LABELS))]])
            for i in index]


def synthetic_features(n=150, seed=0, views=2):
    """Text carries the label; image carries it more weakly. Classes are imbalanced."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(LABELS, size=n, p=[0.3, 0.15, 0.55])
    index = np.array([LABELS.index(x) for x in labels])
    text = rng.normal(size=(n, 10)).astype(np.float32)
    text[np.arange(n), index] += 3.0
    image = rng.normal(size=(n, 14)).astype(np.float32)
    image[np.arange(n), index] += 1.5
    image_views = (image[:, None, :] + rng.normal(scale=0.3, size=(n, views, 14))).astype(np.float32)
    guids = [str(i) for i in range(n)]
    return FeatureSet(guids, ["train"] * n, list(labels), text, image, image_views, {"x": 1},
                      texts=synthetic_texts(index, rng))


def train_fold(cache, folds, fold, mode, params, seed, dtype="fp32", on_epoch=None):
    """One fold of the heads regime on the cross-validation driver."""
    return driver.train_fold(heads.Heads(cache, mode, params, seed, dtype), folds, fold, on_epoch)


def train_cross_validated(cache, folds, mode, params, seed, dtype="fp32", show_progress=True,
                          on_epoch=None):
    return driver.cross_validate(heads.Heads(cache, mode, params, seed, dtype), folds,
                                 show_progress, on_epoch)


def folds_for(cache, k=3):
    return {g: i % k for i, g in enumerate(cache.guids)}


# The network alone (the lexical blend has tests of its own below).
PARAMS = TrainParams(epochs=30, batch_size=16, lr=3e-3, patience=4, hidden_dim=16,
                     image_hidden_dim=16, attention_heads=4, monitor="val_loss",
                     early_stopping="holdout", lexical_weight=0.0)


def test_training_learns_and_restores_the_best_epoch():
    cache = synthetic_features()
    result = train_fold(cache, folds_for(cache), 0, "multimodal", PARAMS, seed=0)
    truth = [cache.labels[int(g)] for g in result.val_guids]
    predicted = [LABELS[i] for i in result.val_probs.argmax(1)]
    accuracy = np.mean([a == b for a, b in zip(truth, predicted)])
    assert accuracy > 0.85
    best = result.log[result.best_epoch - 1]
    assert best["stop_score"] == min(row["stop_score"] for row in result.log)
    assert accuracy == pytest.approx(best["val_accuracy"])
    assert result.epochs_run == len(result.log)
    assert [row["epoch"] for row in result.log] == list(range(1, result.epochs_run + 1))


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


def test_gradients_are_clipped_after_backward(monkeypatch):
    seen = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(parameters, max_norm, *args, **kwargs):
        parameters = list(parameters)
        seen.append(all(p.grad is not None for p in parameters if p.requires_grad))
        return real(parameters, max_norm, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    cache = synthetic_features(n=60)
    train_fold(cache, folds_for(cache), 0, "image",
               replace(PARAMS, epochs=2), seed=0)
    assert seen and all(seen)


def test_warmup_then_cosine_schedule_is_logged():
    cache = synthetic_features(n=60)
    params = replace(PARAMS, epochs=10, patience=100, warmup_ratio=0.3)
    result = train_fold(cache, folds_for(cache), 0, "text", params, seed=0)
    lrs = [row["lr"] for row in result.log]
    peak = int(np.argmax(lrs))
    assert lrs[0] == 0.0 and 0 < peak < len(lrs) - 1
    assert all(x <= y for x, y in zip(lrs[:peak], lrs[1:peak + 1]))
    assert all(x >= y for x, y in zip(lrs[peak:], lrs[peak + 1:]))


def test_balanced_and_tempered_class_weights():
    labels = np.array([0, 0, 0, 2, 2, 1])
    balanced = driver.class_weights(labels, 1.0)
    assert balanced[1] > balanced[2] > balanced[0]
    np.testing.assert_allclose(balanced.numpy(), [6 / 9, 6 / 3, 6 / 6], rtol=1e-6)
    np.testing.assert_allclose(driver.class_weights(labels, 0.5).numpy(),
                               np.sqrt(balanced.numpy()), rtol=1e-6)
    assert driver.class_weights(labels, 0.0) is None


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


def synthetic_token_features(n=120, seed=0, dim=32):
    """Token states that carry the label in every token; a tiny randomly initialised BERT on top."""
    from transformers import BertConfig

    from msa.features.store import TokenStates
    from msa.training.model import TextTop

    rng = np.random.default_rng(seed)
    cache = synthetic_features(n=n, seed=seed)
    index = np.array([LABELS.index(x) for x in cache.labels])
    lengths = rng.integers(3, 12, size=n)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    values = rng.normal(scale=0.5, size=(offsets[-1], dim))
    values[np.arange(offsets[-1]), np.repeat(index, lengths)] += 2.0
    config = BertConfig(hidden_size=dim, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64).to_dict()
    torch.manual_seed(seed)
    pretrained = TextTop(config, 2, "mean", bf16=False).layers.state_dict()
    cache.text = np.zeros((n, dim), dtype=np.float32)  # the frozen pooled features are unused
    cache.text_tokens = TokenStates(values.astype(np.float16), offsets)
    cache.text_top = {"config": config, "state_dict": pretrained}
    cache.encoders = {"text_tuned_layers": 2, "text_pooling": "mean"}
    return cache


TUNED = replace(PARAMS, epochs=12, text_lr=1e-3)


def test_tuned_text_layers_learn_from_token_states_and_move_from_pretrained():
    cache = synthetic_token_features()
    result = train_fold(cache, folds_for(cache), 0, "text", TUNED, seed=0)
    assert result.config.text_tuned_layers == 2
    truth = [LABELS.index(cache.labels[int(g)]) for g in result.val_guids]
    assert np.mean(result.val_probs.argmax(1) == truth) > 0.8
    moved = [not torch.equal(result.state[f"text_top.layers.{k}"], v)
             for k, v in cache.text_top["state_dict"].items()]
    assert all(moved)


def test_tuned_text_layers_train_at_text_lr():
    cache = synthetic_token_features(n=60)
    params = replace(TUNED, epochs=2, text_lr=1e-12, weight_decay=0.0)
    result = train_fold(cache, folds_for(cache), 0, "multimodal", params, seed=0)
    for key, value in cache.text_top["state_dict"].items():
        torch.testing.assert_close(result.state[f"text_top.layers.{key}"], value,
                                   atol=1e-6, rtol=0)
    head = result.state["classifier.3.weight"]
    fresh = heads.build_model(cache, "multimodal", params)
    assert not torch.allclose(head, fresh.state_dict()["classifier.3.weight"])


def test_tuned_text_is_deterministic_and_image_mode_ignores_it():
    cache = synthetic_token_features(n=60)
    params = replace(TUNED, epochs=3)
    a = train_fold(cache, folds_for(cache), 1, "multimodal", params, seed=0)
    b = train_fold(cache, folds_for(cache), 1, "multimodal", params, seed=0)
    np.testing.assert_array_equal(a.val_probs, b.val_probs)
    image = train_fold(cache, folds_for(cache), 1, "image", params, seed=0)
    assert image.config.text_tuned_layers == 0
    assert not any(k.startswith("text") for k in image.state)


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


def test_image_mode_never_reads_the_text():
    cache = synthetic_features(n=60)
    cache.texts = None
    result = train_fold(cache, folds_for(cache), 0, "image",
                        replace(PARAMS, epochs=2, lexical_weight=0.5), seed=0)
    assert result.lexical is None and result.lexical_weight == 0.0


def test_a_cache_without_texts_is_a_clear_error_when_the_lexical_model_needs_them():
    cache = synthetic_features(n=60)
    cache.texts = None
    with pytest.raises(MsaError, match="hold no texts.*rerun featurize"):
        train_fold(cache, folds_for(cache), 0, "text",
                   replace(PARAMS, epochs=1, lexical_weight=0.5), seed=0)


def test_length_bucketed_batches_cover_every_row_once_with_less_padding():
    lengths = np.random.default_rng(0).integers(1, 100, size=1000)
    generator = torch.Generator().manual_seed(0)
    bucketed = heads._epoch_batches(1000, 32, generator, lengths)
    plain = heads._epoch_batches(1000, 32, generator, None)
    for batches in (bucketed, plain):
        assert sorted(torch.cat(batches).tolist()) == list(range(1000))

    def padding(batches):
        return sum(int(lengths[b.numpy()].max()) * len(b) - int(lengths[b.numpy()].sum())
                   for b in batches)

    assert padding(bucketed) < padding(plain) / 4


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
