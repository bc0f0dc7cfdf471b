"""The heads regime: the network's head trained on cached features."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from msa import LABELS
from msa.errors import MsaError
from msa.training import heads
from synthetic import (PARAMS, TUNED, folds_for, synthetic_features, synthetic_token_features,
                       train_fold)


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


def test_tuned_text_layers_learn_from_token_states_and_move_from_pretrained():
    cache = synthetic_token_features()
    result = train_fold(cache, folds_for(cache), 0, "text", TUNED, seed=0)
    assert result.config.text_tuned_layers == 2
    truth = [LABELS.index(cache.labels[int(g)]) for g in result.val_guids]
    assert np.mean(result.val_probs.argmax(1) == truth) > 0.8
    moved = [not torch.equal(result.state[f"text_top.layers.{k}"], v)
             for k, v in cache.text_top["state_dict"].items()]
    assert all(moved)


def test_tuned_text_layers_train_at_the_text_encoders_rate():
    cache = synthetic_token_features(n=60)
    params = replace(TUNED, epochs=2, text_encoder_lr=1e-12, weight_decay=0.0)
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
