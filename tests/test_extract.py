import os

import numpy as np
import pytest
import torch

from msa import precision
from msa.features import backbones, encoders, extract, store
from msa.errors import MsaError
from msa.training.model import TextTop
from msa.params import AugmentParams, FeaturizeParams


def test_cache_shapes_and_order(demo_features):
    pairs, cache = demo_features
    labelled = [p for p in pairs if p.split == "train"]
    assert cache.guids == [p.guid for p in pairs]
    assert cache.texts == [p.text for p in pairs]
    assert cache.text.shape == (len(pairs), 384)
    assert cache.image.shape == (len(pairs), 1280)
    assert cache.image_views.shape == (len(labelled), 2, 1280)
    assert np.isfinite(cache.text).all() and np.isfinite(cache.image_views).all()
    # augmented views differ from the clean view and from each other
    rows = cache.rows([p.guid for p in labelled])
    assert not np.allclose(cache.image_views[:, 0], cache.image[rows])
    assert not np.allclose(cache.image_views[:, 0], cache.image_views[:, 1])


def encode_texts(texts, params, top_layers=0):
    """featurize's text side alone, with the tower the params name."""
    tower = encoders.text_tower(extract.encoder_identity(params, top_layers))
    return extract.encode_texts(texts, tower, params, show_progress=False,
                                top_layers=top_layers)


def test_mean_pooling_ignores_padding():
    params = FeaturizeParams()
    short = "good"
    alone, _, _ = encode_texts([short], params)
    padded, _, _ = encode_texts([short, "a much longer post " * 10], params)
    np.testing.assert_allclose(alone[0], padded[0], atol=1e-5)
    cls, _, _ = encode_texts([short], FeaturizeParams(text_pooling="cls"))
    assert not np.allclose(cls[0], alone[0])


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_cached_token_states_through_the_pretrained_top_layers_give_the_pooled_features(pooling):
    texts = ["good", "a much longer post " * 10, "so sad today :("]
    params = FeaturizeParams(text_pooling=pooling)
    pooled, tokens, top = encode_texts(texts, params, top_layers=2)
    assert list(tokens.lengths) == [3, 42, 7] and tokens.values.dtype == np.float16
    assert "_name_or_path" not in top["config"]  # the cache must not depend on the install path
    text_top = TextTop(top["config"], 2, pooling, bf16=False)
    text_top.layers.load_state_dict(top["state_dict"])
    text_top.eval()
    with torch.no_grad():
        again = text_top(*tokens.batch(np.array([1, 0, 2]))).numpy()
    # float16 storage of the states is the only difference
    np.testing.assert_allclose(again, pooled[[1, 0, 2]], atol=2e-2)
    cosine = (again * pooled[[1, 0, 2]]).sum(1) / np.linalg.norm(again, axis=1) / np.linalg.norm(
        pooled[[1, 0, 2]], axis=1)
    assert cosine.min() > 0.999


def test_tuned_layers_need_a_bert_family_encoder_with_that_many_layers():
    from types import SimpleNamespace
    mpnet = SimpleNamespace(config=SimpleNamespace(model_type="mpnet", num_hidden_layers=12))
    with pytest.raises(MsaError, match=r"^train.text_tuning: top under train.regime heads .* "
                                       r"x is a 'mpnet' model: tune its top layers under "
                                       "train.regime finetune"):
        extract._top_layers(mpnet, "x", 2)
    with pytest.raises(MsaError, match="train.text_top_layers: 7 is not allowed; .* 6 layers"):
        encode_texts(["x"], FeaturizeParams(), top_layers=7)


def test_clean_view_does_not_depend_on_augmentation_or_batching(demo_features):
    pairs, cache = demo_features
    subset = pairs[:5] + [p for p in pairs if p.split == "test"][:3]
    other = extract.featurize(subset, FeaturizeParams(image_batch_size=3),
                               AugmentParams(enabled=False, hflip_p=1.0, seed=5),
                               show_progress=False)
    rows = cache.rows(other.guids)
    np.testing.assert_allclose(other.image, cache.image[rows], atol=1e-5)
    np.testing.assert_allclose(other.text, cache.text[rows], atol=1e-5)
    assert other.image_views.shape[1] == 0


def test_bf16_features_match_fp32_within_tolerance(demo_features):
    pairs, cache = demo_features
    subset = pairs[:8]
    fast = extract.featurize(subset, FeaturizeParams(), AugmentParams(enabled=False), "bf16",
                              show_progress=False)
    assert fast.produced_by.precision == "bf16" and cache.produced_by.precision == "fp32"
    rows = cache.rows(fast.guids)
    for name in ("text", "image"):
        a, b = getattr(fast, name), getattr(cache, name)[rows]
        cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        assert cosine.min() > 0.99, name


def test_featurize_is_deterministic_and_round_trips(demo_features, tmp_path):
    pairs, cache = demo_features
    subset = [p for p in pairs if p.split == "train"][:6]
    params, aug = FeaturizeParams(), AugmentParams(views=2)
    first = extract.featurize(subset, params, aug, show_progress=False, top_layers=2)
    second = extract.featurize(subset, params, aug, show_progress=False, top_layers=2)
    np.testing.assert_array_equal(first.image_views, second.image_views)
    np.testing.assert_array_equal(first.text, second.text)
    store.save(first, tmp_path / "cache")
    np.testing.assert_array_equal(first.text_tokens.values, second.text_tokens.values)
    loaded = store.load(tmp_path / "cache")
    assert loaded.guids == first.guids and loaded.encoders == first.encoders
    assert loaded.produced_by == first.produced_by == precision.provenance("fp32")
    assert loaded.texts == [p.text for p in subset]
    np.testing.assert_array_equal(loaded.image_views, first.image_views)
    np.testing.assert_array_equal(loaded.text_tokens.values, first.text_tokens.values)
    np.testing.assert_array_equal(loaded.text_tokens.offsets, first.text_tokens.offsets)
    for key, value in first.text_top["state_dict"].items():
        assert torch.equal(loaded.text_top["state_dict"][key], value)
    # a frozen-text cache written over it leaves no stale token states behind
    frozen = extract.featurize(subset, FeaturizeParams(), aug, show_progress=False)
    store.save(frozen, tmp_path / "cache")
    reloaded = store.load(tmp_path / "cache")
    assert reloaded.text_tokens is None and reloaded.text_top is None
    assert reloaded.encoders.text_tuned_layers == 0


def test_image_batch_size_follows_the_precision_unless_set():
    assert extract.image_batch_size(FeaturizeParams(), "bf16") == 32
    assert extract.image_batch_size(FeaturizeParams(), "fp32") == 8
    assert extract.image_batch_size(FeaturizeParams(image_batch_size=5), "bf16") == 5


@pytest.mark.parametrize("dtype, folds", [("fp32", True), ("bf16", False)])
def test_batch_norms_are_folded_only_in_fp32(demo_features, monkeypatch, dtype, folds):
    pairs, _ = demo_features
    calls = []
    real = backbones.fold_batch_norms
    monkeypatch.setattr(backbones, "fold_batch_norms",
                        lambda *args: calls.append(args) or real(*args))
    model, spec = encoders.image_encoder(extract.encoder_identity(FeaturizeParams()))
    extract.encode_images([pairs[0].image], [pairs[0].guid], [0], model, spec,
                          FeaturizeParams(), AugmentParams(enabled=False), dtype,
                          show_progress=False)
    assert bool(calls) == folds


def test_a_hub_text_model_records_the_revision_it_resolved_to(tiny_bert, demo_root, tmp_path):
    """A hub name served from the local Hugging Face cache (laid out as the hub lays it): the
    features say which commit they came from."""
    import shutil
    import subprocess
    import sys

    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--tiny-bert"
    shutil.copytree(tiny_bert, repo / "snapshots" / sha)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    image = next((demo_root / "data").glob("*.jpg"))
    script = (
        "from msa.data.prepared import Pair\n"
        "from msa.features import extract\n"
        "from msa.params import AugmentParams, FeaturizeParams\n"
        f"pairs = [Pair('1', 'test', None, 'a post', {str(image)!r})]\n"
        "params = FeaturizeParams(text_model='someone/tiny-bert',\n"
        "                         image_model='mobilenetv3_small_050', image_weights='random')\n"
        "cache = extract.featurize(pairs, params, AugmentParams(enabled=False), show_progress=False)\n"
        "print(cache.produced_by.revisions)\n")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == repr({"text_model": f"someone/tiny-bert@{sha}"})


def test_a_roberta_familys_top_layers_run_on_their_cached_states_as_bert_layers(tiny_roberta):
    texts = ["what a wonderful day", "so sad and angry", "bus schedule for line four"]
    params = FeaturizeParams(text_model=str(tiny_roberta))
    pooled, tokens, top = encode_texts(texts, params, top_layers=1)
    text_top = TextTop(top["config"], 1, "mean", bf16=False)
    text_top.layers.load_state_dict(top["state_dict"])
    text_top.eval()
    with torch.no_grad():
        again = text_top(*tokens.batch(np.arange(3))).numpy()
    np.testing.assert_allclose(again, pooled, atol=2e-2)  # float16 storage of the states


@pytest.mark.parametrize("family", ["convnext", "swin"])
def test_a_vision_checkpoints_features_train_heads_and_predict(demo_root, tiny_vision, family,
                                                               tmp_path):
    """The heads regime on a transformers vision checkpoint's features: featurize (clean and
    augmented views), the cache on disk, a cross-validated head, its saved models predicting."""
    from msa.data import reading
    from msa.evaluation import predict
    from msa.training import checkpoints
    from synthetic import PARAMS, folds_for, train_cross_validated

    pairs, _ = reading.prepare(demo_root, show_progress=False)
    labelled = [p for p in pairs if p.split == "train"][:24]
    params = FeaturizeParams(image_model=str(tiny_vision(family)))
    cache = extract.featurize(labelled, params, AugmentParams(views=2), show_progress=False)
    model, spec = encoders.image_encoder(extract.encoder_identity(params))
    assert cache.image.shape == (24, spec.dim) and cache.image_views.shape == (24, 2, spec.dim)
    assert np.isfinite(cache.image).all() and not np.allclose(cache.image_views[:, 0],
                                                               cache.image)
    store.save(cache, tmp_path / "features")
    cache = store.load(tmp_path / "features")
    assert cache.encoders.image_model == str(tiny_vision(family))
    results = train_cross_validated(cache, folds_for(cache, 2), "image",
                                    PARAMS.__class__(**{**PARAMS.__dict__, "epochs": 2,
                                                        "early_stopping": "none"}),
                                    seed=0, show_progress=False)
    checkpoints.save_models(results, "image", cache.encoders, tmp_path / "models", "heads")
    models, summary = predict.load_models(tmp_path / "models")
    probs = predict.ensemble_proba(models, summary, labelled[:4], lambda: cache)
    assert probs.shape == (4, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)


@pytest.mark.parametrize("family, text_dim, image_dim", [
    ("tiny_siglip", 32, 32), ("tiny_roberta", 32, 1024)])
def test_a_checkpoints_towers_featurize_train_and_predict_as_msa_predict_does(
        demo_root, request, tmp_path, family, text_dim, image_dim):
    """SigLIP's both towers from one checkpoint, a RoBERTa's text beside a timm image model:
    the features, a cross-validated head, and its models predicting new posts from features
    their own encoders make (as `msa predict` does) as they predict from the cache."""
    from conftest import TINY_IMAGE_MODEL
    from msa.data import reading
    from msa.evaluation import predict
    from msa.training import checkpoints
    from synthetic import PARAMS, train_cross_validated

    folder = str(request.getfixturevalue(family))
    image = TINY_IMAGE_MODEL if family == "tiny_roberta" else {"image_model": folder}
    params = FeaturizeParams(text_model=folder, **image)
    pairs, _ = reading.prepare(demo_root, show_progress=False)
    labelled = [p for p in pairs if p.split == "train"][:24]
    new = [p for p in pairs if p.split == "test"][:6]
    cache = extract.featurize(labelled + new, params, AugmentParams(views=1),
                              show_progress=False)
    store.save(cache, tmp_path / "features")
    cache = store.load(tmp_path / "features")
    assert cache.encoders.text_model == folder
    assert cache.text.shape[1] == text_dim and cache.image.shape[1] == image_dim
    folds = {p.guid: i % 2 for i, p in enumerate(labelled)}
    results = train_cross_validated(cache, folds, "multimodal", PARAMS.__class__(
        **{**PARAMS.__dict__, "epochs": 2, "early_stopping": "none"}), seed=0,
        show_progress=False)
    checkpoints.save_models(results, "multimodal", cache.encoders, tmp_path / "models", "heads")
    models, summary = predict.load_models(tmp_path / "models")
    from_cache = predict.ensemble_proba(models, summary, new, lambda: cache)
    own = summary.encoders
    fresh = predict.ensemble_proba(models, summary, new, lambda: extract.featurize(
        new, own.featurize_params(FeaturizeParams()), AugmentParams(enabled=False),
        show_progress=False, top_layers=own.text_tuned_layers))
    assert from_cache.shape == (6, 3)
    np.testing.assert_allclose(fresh, from_cache, atol=1e-4)
