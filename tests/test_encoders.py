"""The encoder families: which tower a name gives, read as its checkpoint reads, loaded from a
packaged alias, a local folder or the hub's cache, never downloaded here."""

import pytest
import torch

from msa.errors import MsaError
from msa.features import encoders
from msa.features.extract import encoder_identity
from msa.params import FeaturizeParams
from tiny_models import VISION_FAMILIES


def identity(**featurize):
    return encoder_identity(FeaturizeParams(**featurize))


def ours_and_the_processors(folder, spec, tmp_path, shape):
    """A random image of `shape` (height, width, 3) as msa's clean view makes it for `spec`,
    and as the checkpoint's own (slow) image processor does."""
    import numpy as np
    from PIL import Image
    from transformers import AutoImageProcessor

    from msa.features.augment import ImageViews

    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "x.png")
    views = ImageViews(spec)
    ours = views.clean(views.load(str(tmp_path / "x.png")))
    theirs = AutoImageProcessor.from_pretrained(folder, use_fast=False)(
        Image.open(tmp_path / "x.png"), return_tensors="np")["pixel_values"][0]
    return ours, theirs


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

    folder = request.getfixturevalue(family)
    model, spec = encoders.image_encoder(identity(image_model=str(folder)))
    assert (spec.dim, spec.input_size, spec.squash) == (dim, 32, squash)
    ours, theirs = ours_and_the_processors(folder, spec, tmp_path, (48, 48, 3))
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


@pytest.mark.parametrize("family", VISION_FAMILIES)
def test_a_vision_checkpoint_is_an_image_encoder_read_as_its_processor_reads(
        tiny_vision, tmp_path, family):
    import numpy as np

    from msa.features.towers import PooledVision

    folder = tiny_vision(family)
    model, spec = encoders.image_encoder(identity(image_model=str(folder)))
    assert isinstance(model, PooledVision) and spec.input_size == 32
    # its classifier (the field hands most of them over as classifiers) and any pooler msa does
    # not read are left out: every weight of the encoder came from the checkpoint
    assert not hasattr(model.encoder, "classifier") and getattr(model.encoder, "pooler",
                                                                 None) is None or family in (
        "convnext", "swin", "beit")
    ours, theirs = ours_and_the_processors(folder, spec, tmp_path, (48, 64, 3))
    np.testing.assert_allclose(ours, theirs, atol=2e-2)  # size, crop, resampling, mean, std
    with torch.inference_mode():
        vectors = model(torch.from_numpy(np.stack([ours, ours * 0.5])))
        outputs = model.encoder(pixel_values=torch.from_numpy(ours)[None])
    assert vectors.shape == (2, spec.dim) and torch.isfinite(vectors).all()
    expected = (outputs.last_hidden_state[:, 0] if family in ("vit", "deit", "dinov2")
                else outputs.pooler_output.flatten(1))
    torch.testing.assert_close(vectors[:1], expected)


def test_a_text_encoder_reads_no_more_tokens_than_its_positions(tiny_roberta, tiny_bert):
    # tiny RoBERTa: 130 positions, two of them below its padding index
    tower = encoders.text_tower(identity(text_model=str(tiny_roberta), text_max_length=512))
    assert tower.reader.max_length == 128
    inputs = tower.tokenize(["so sad " * 400])
    assert inputs["input_ids"].shape == (1, 128)
    with torch.inference_mode():
        assert torch.isfinite(tower(**inputs)).all()
    assert encoders.text_tower(identity(text_model=str(tiny_roberta),
                                        text_max_length=20)).reader.max_length == 20
    bert = encoders.text_tower(identity(text_model=str(tiny_bert), text_max_length=10_000))
    assert bert.reader.max_length == bert.encoder.config.max_position_embeddings


def _broken(source, target, spoil):
    import shutil

    shutil.copytree(source, target)
    spoil(target)
    return str(target)


def test_a_wrong_or_broken_checkpoint_is_one_line_naming_the_key_and_the_cause(
        tiny_vision, tiny_roberta, tmp_path):
    vit = tiny_vision("vit")
    corrupt_weights = _broken(vit, tmp_path / "corrupt", lambda f: (
        f / "model.safetensors").write_bytes(b"not a safetensors file"))
    corrupt_text = _broken(tiny_roberta, tmp_path / "corrupt-text", lambda f: (
        f / "model.safetensors").write_bytes(b"\0" * 64))
    no_tokenizer = _broken(tiny_roberta, tmp_path / "no-tokenizer", lambda f: [
        (f / name).unlink() for name in ("vocab.json", "merges.txt", "tokenizer.json")])
    bad_config = _broken(vit, tmp_path / "bad-config", lambda f: (
        f / "config.json").write_text("{ not json"))
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        ("text_model", str(vit), r"^featurize.text_model: .* is a vit checkpoint, not a text "
                                 r"encoder \(it reads no tokens\)$"),
        ("image_model", str(tiny_roberta), r"^featurize.image_model: .* is a roberta checkpoint, "
                                           r"not an image model; use a transformers vision "),
        ("image_model", corrupt_weights, r"^featurize.image_model: .*corrupt: its checkpoint "
                                         r"cannot be read \(\w+: .+\)$"),
        ("text_model", corrupt_text, r"^featurize.text_model: .*corrupt-text: its checkpoint "
                                     r"cannot be read \(\w+: .+\)$"),
        ("text_model", no_tokenizer, r"^featurize.text_model: .*no-tokenizer: its tokenizer "
                                     r"cannot be read \(\w+"),
        ("image_model", bad_config, r"^featurize.image_model: .*bad-config: its config cannot "
                                    r"be read \(\w+: .+\)$"),
        # transformers alone would take this one for an MPT checkpoint, by its name
        ("image_model", str(empty), r"^featurize.image_model: .*empty: its config cannot be "
                                    r"read \(the folder holds no config.json\)$"),
        ("text_model", str(empty), r"^featurize.text_model: .*empty: its config cannot be "
                                   r"read \(the folder holds no config.json\)$"),
    ]
    for key, value, message in cases:
        with pytest.raises(MsaError, match=message) as error:
            encoders.towers(identity(**{key: value}))
        assert "\n" not in str(error.value) and "not found" not in str(error.value)


def test_a_capped_text_length_is_said_in_the_record(tiny_roberta, tiny_bert):
    roberta = encoders.text_tower(identity(text_model=str(tiny_roberta), text_max_length=512))
    assert encoders.resolved(identity(text_model=str(tiny_roberta), text_max_length=512),
                             roberta, None) == {"text_tokens_read": 128}
    bert = encoders.text_tower(identity(text_model=str(tiny_bert)))
    assert encoders.resolved(identity(text_model=str(tiny_bert)), bert, None) == {}
