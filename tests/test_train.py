import numpy as np
import pytest
import torch

from msa import LABELS, train
from msa.features import FeatureSet
from msa.params import TrainParams


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
    return FeatureSet(guids, ["train"] * n, list(labels), text, image, image_views, {"x": 1})


def folds_for(cache, k=3):
    return {g: i % k for i, g in enumerate(cache.guids)}


PARAMS = TrainParams(epochs=30, batch_size=16, lr=3e-3, patience=4, hidden_dim=16,
                     image_hidden_dim=16, attention_heads=4, monitor="val_loss")


def test_training_learns_and_restores_the_best_epoch():
    cache = synthetic_features()
    result = train.train_fold(cache, folds_for(cache), 0, "multimodal", PARAMS, seed=0)
    truth = [cache.labels[int(g)] for g in result.val_guids]
    predicted = [LABELS[i] for i in result.val_probs.argmax(1)]
    accuracy = np.mean([a == b for a, b in zip(truth, predicted)])
    assert accuracy > 0.85
    best = result.log[result.best_epoch - 1]
    assert best["val_loss"] == min(row["val_loss"] for row in result.log)
    assert accuracy == pytest.approx(best["val_accuracy"])
    assert result.epochs_run == len(result.log)
    assert [row["epoch"] for row in result.log] == list(range(1, result.epochs_run + 1))


def test_monitoring_macro_f1_restores_its_first_best_epoch():
    cache = synthetic_features()
    params = TrainParams(**{**PARAMS.__dict__, "monitor": "val_macro_f1"})
    result = train.train_fold(cache, folds_for(cache), 2, "multimodal", params, seed=0)
    scores = [row["val_macro_f1"] for row in result.log]
    assert result.best_epoch == scores.index(max(scores)) + 1


def test_early_stopping_waits_patience_epochs_after_the_best():
    cache = synthetic_features()
    params = TrainParams(**{**PARAMS.__dict__, "epochs": 200, "patience": 3})
    result = train.train_fold(cache, folds_for(cache), 1, "text", params, seed=0)
    assert result.epochs_run < 200
    assert result.epochs_run == result.best_epoch + 3


def test_same_seed_same_result_other_seed_other_result():
    cache = synthetic_features()
    a = train.train_fold(cache, folds_for(cache), 0, "multimodal", PARAMS, seed=0)
    b = train.train_fold(cache, folds_for(cache), 0, "multimodal", PARAMS, seed=0)
    c = train.train_fold(cache, folds_for(cache), 0, "multimodal", PARAMS, seed=1)
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
    train.train_fold(cache, folds_for(cache), 0, "image",
                     TrainParams(**{**PARAMS.__dict__, "epochs": 2}), seed=0)
    assert seen and all(seen)


def test_warmup_then_cosine_schedule_is_logged():
    cache = synthetic_features(n=60)
    params = TrainParams(**{**PARAMS.__dict__, "epochs": 10, "patience": 100, "warmup_ratio": 0.3})
    result = train.train_fold(cache, folds_for(cache), 0, "text", params, seed=0)
    lrs = [row["lr"] for row in result.log]
    peak = int(np.argmax(lrs))
    assert lrs[0] == 0.0 and 0 < peak < len(lrs) - 1
    assert all(x <= y for x, y in zip(lrs[:peak], lrs[1:peak + 1]))
    assert all(x >= y for x, y in zip(lrs[peak:], lrs[peak + 1:]))


def test_balanced_and_tempered_class_weights():
    labels = np.array([0, 0, 0, 2, 2, 1])
    balanced = train.class_weights(labels, 1.0)
    assert balanced[1] > balanced[2] > balanced[0]
    np.testing.assert_allclose(balanced.numpy(), [6 / 9, 6 / 3, 6 / 6], rtol=1e-6)
    np.testing.assert_allclose(train.class_weights(labels, 0.5).numpy(),
                               np.sqrt(balanced.numpy()), rtol=1e-6)
    assert train.class_weights(labels, 0.0) is None


def test_cross_validation_writes_logs_and_oof_for_every_pair(tmp_path):
    cache = synthetic_features(n=90)
    results = train.train_cross_validated(cache, folds_for(cache), "multimodal",
                                          TrainParams(**{**PARAMS.__dict__, "epochs": 3}),
                                          seed=0, show_progress=False)
    train.write_oof(results, cache, tmp_path / "oof.csv")
    train.write_train_log(results, tmp_path / "log.csv")
    oof = train.read_oof(tmp_path / "oof.csv")
    assert sorted(r["guid"] for r in oof) == sorted(cache.guids)
    assert all(abs(sum(float(r[f"prob_{x}"]) for x in LABELS) - 1) < 1e-4 for r in oof)
    log = train.read_train_log(tmp_path / "log.csv")
    assert {row["fold"] for row in log} == {0, 1, 2}
    assert set(log[0]) == set(train.LOG_COLUMNS)
