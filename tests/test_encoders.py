"""The encoder families: which tower a name gives, read as its checkpoint reads, loaded from a
packaged alias, a local folder or the hub's cache, never downloaded here."""

import pytest
import torch

from msa.errors import MsaError
from msa.features import encoders
from msa.features.extract import encoder_identity
from msa.params import FeaturizeParams


def identity(**featurize):
    return encoder_identity(FeaturizeParams(**featurize))


def test_packaged_text_encoder_loads_offline():
    tower = encoders.text_tower(identity())
    with torch.inference_mode():
        hidden = tower.encoder(**tower.tokenize(["a happy day"])).last_hidden_state
    assert hidden.shape[-1] == 384 and torch.isfinite(hidden).all()


def test_text_encoder_from_a_local_folder(tmp_path):
    source = encoders.resolve_text_model("all-MiniLM-L6-v2")
    tower = encoders.text_tower(identity(text_model=source))
    assert tower.encoder.config.hidden_size == 384


def test_unknown_text_encoder_says_how_to_pass_a_path():
    with pytest.raises(MsaError, match="featurize.text_model: 'no-such-org/no-such-model' could "
                                       "not be found locally; pass it as a local model folder"):
        encoders.text_tower(identity(text_model="no-such-org/no-such-model"))


@pytest.mark.parametrize("family, kind, dim", [
    ("tiny_roberta", "AutoText", 32), ("tiny_distilbert", "AutoText", 32),
    ("tiny_clip", "ClipText", 16), ("tiny_siglip", "SiglipText", 32)])
def test_each_text_family_gives_one_vector_a_text_from_the_inputs_its_model_takes(
        request, family, kind, dim):
    folder = request.getfixturevalue(family)
    tower = encoders.text_tower(identity(text_model=str(folder)))
    assert type(tower).__name__ == kind and tower.dim == dim
    inputs = tower.tokenize(["a happy day", "so sad and angry right now"])
    # a BERT tokenizer hands DistilBERT token_type_ids its forward does not take: left out
    assert set(inputs) <= tower.reader.accepts and "token_type_ids" not in inputs
    with torch.inference_mode():
        vectors = tower(**inputs)
    assert vectors.shape == (2, dim) and torch.isfinite(vectors).all()


def test_clip_and_siglip_text_read_as_their_checkpoints_do(tiny_clip, tiny_siglip):
    clip = encoders.text_tower(identity(text_model=str(tiny_clip)))
    assert clip.reader.max_length == 77 and clip.reader.padding == "longest"  # CLIP's 77 tokens
    siglip = encoders.text_tower(identity(text_model=str(tiny_siglip), text_max_length=8))
    assert siglip.reader.padding == "max_length" and siglip.reader.max_length == 8
    assert siglip.tokenize(["a", "so sad and angry right now"])["input_ids"].shape == (2, 8)
    assert encoders.text_tower(identity(text_model=str(tiny_siglip))).reader.max_length == 16
    pooled = encoders.text_tower(identity(text_model=str(tiny_clip), embedding="pooled"))
    assert pooled.dim == 32 and pooled.projection is None


@pytest.mark.parametrize("family, dim, squash", [("tiny_clip", 16, False),
                                                 ("tiny_siglip", 32, True)])
def test_a_vision_tower_comes_with_its_processors_preprocessing(request, tmp_path, family, dim,
                                                                squash):
    import numpy as np
    from PIL import Image
    from transformers import AutoImageProcessor

    from msa.features.augment import ImageViews

    folder = request.getfixturevalue(family)
    model, spec = encoders.image_encoder(identity(image_model=str(folder)))
    assert (spec.dim, spec.input_size, spec.squash) == (dim, 32, squash)
    image = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "x.png")
    views = ImageViews(spec)
    ours = views.clean(views.load(str(tmp_path / "x.png")))
    theirs = AutoImageProcessor.from_pretrained(folder, use_fast=False)(
        Image.open(tmp_path / "x.png"), return_tensors="np")["pixel_values"][0]
    np.testing.assert_allclose(ours, theirs, atol=2e-2)  # PIL resampling of one pixel's rounding
    with torch.inference_mode():
        vectors = model(torch.from_numpy(ours)[None])
    assert vectors.shape == (1, dim)


def test_one_checkpoint_gives_both_towers_loaded_once(tiny_clip, monkeypatch):
    from msa.features import vision_language

    loads = []
    real = vision_language.load
    monkeypatch.setattr(vision_language, "load", lambda *a: loads.append(a[0]) or real(*a))
    text, (image, spec) = encoders.towers(identity(text_model=str(tiny_clip),
                                                   image_model=str(tiny_clip)))
    assert loads == [str(tiny_clip)]
    assert text.dim == spec.dim == 16


def test_a_wrong_combination_is_one_line_naming_the_key(tiny_clip, tiny_roberta, tmp_path):
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from tiny_models import TOWER

    vision_only = tmp_path / "vision-only"
    CLIPVisionModelWithProjection(CLIPVisionConfig(**TOWER, image_size=32, patch_size=8,
                                                   projection_dim=16)).save_pretrained(vision_only)
    cases = [
        (identity(text_model=str(vision_only)),
         r"^featurize.text_model: .*vision-only is a clip_vision_model checkpoint without a text "
         r"tower$"),
        (identity(image_model=str(tiny_roberta)),
         r"^featurize.image_model: .* is a roberta checkpoint; a transformers image encoder "
         "must be a CLIP or SigLIP one"),
        (identity(text_model=str(tiny_clip), text_pooling="cls"),
         r"^featurize.text_pooling: 'cls' is never read: .* a clip checkpoint"),
        (identity(embedding="pooled"), r"^featurize.embedding: 'pooled' is never read: neither "),
        (identity(image_model=str(tiny_clip), image_weights="w.pt"),
         r"^featurize.image_weights: 'w.pt' is never read: .* a checkpoint with its own weights"),
    ]
    for ident, message in cases:
        with pytest.raises(MsaError, match=message) as error:
            encoders.towers(ident)
        assert "\n" not in str(error.value)
