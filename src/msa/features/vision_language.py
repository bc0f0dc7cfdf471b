"""CLIP and SigLIP checkpoints, through transformers' own classes: a hub name or a local folder
holding both towers (CLIPModel, SiglipModel) or one (CLIPVisionModelWithProjection,
SiglipTextModel, ...). Each tower reads as its checkpoint does: the text tower with the
checkpoint's tokenizer and maximum length (77 tokens for CLIP, 64 padded for SigLIP), the image
tower with its processor's size, crop, interpolation, mean and std. `featurize.embedding`
chooses what a tower gives: its projected embedding (the space the two towers share) or its
pooled state before the projection.
"""

from __future__ import annotations

from msa.errors import MsaError
from msa.features.image_checkpoints import processor_spec
from msa.features.towers import ClipText, SiglipText, TextTower, VisionTower

FAMILIES = ("clip", "siglip")


def family(config) -> str | None:
    """"clip" or "siglip" for a checkpoint of either (one tower or both), else None."""
    kind = getattr(config, "model_type", "").split("_")[0]
    return kind if kind in FAMILIES else None


def load(source: str, pretrained):
    """The whole checkpoint, in the class it was saved as (its towers and projections), through
    `pretrained(load)` (msa.features.backbones: the local cache, then the hub)."""
    import transformers

    def build(local_only: bool):
        config = transformers.AutoConfig.from_pretrained(source, local_files_only=local_only)
        saved_as = next((getattr(transformers, name) for name in config.architectures or []
                         if hasattr(transformers, name)), transformers.AutoModel)
        return saved_as.from_pretrained(source, local_files_only=local_only)

    return pretrained(build).float().eval()


def tower(model, which: str, key: str, name: str):
    """The checkpoint's "text" or "vision" tower, or a one-line error naming `key` where it has
    none (a one-tower checkpoint asked for the other)."""
    encoder = getattr(model, f"{which}_model", None)
    if encoder is None:
        raise MsaError(f"{key}: {name} is a {model.config.model_type} checkpoint without a "
                       f"{which} tower")
    return encoder


def text_tower(model, tokenizer, name: str, max_length: int, embedding: str) -> TextTower:
    """The checkpoint's text tower, reading at most `max_length` tokens and no more than its
    position embeddings allow."""
    encoder = tower(model, "text", "featurize.text_model", name)
    limit = min(max_length, encoder.config.max_position_embeddings)
    if family(model.config) == "siglip":
        return SiglipText(tokenizer, encoder, limit, projected=embedding == "projected")
    projection = getattr(model, "text_projection", None)
    if embedding == "projected" and projection is None:
        raise MsaError(f"featurize.embedding: {name} has no text projection; use pooled")
    return ClipText(tokenizer, encoder, limit, projection if embedding == "projected" else None)


def image_tower(model, processor, name: str, embedding: str):
    """(the checkpoint's vision tower, its ImageSpec from the checkpoint's processor)."""
    encoder = tower(model, "vision", "featurize.image_model", name)
    projection = getattr(model, "visual_projection", None) if embedding == "projected" else None
    if embedding == "projected" and family(model.config) == "clip" and projection is None:
        raise MsaError(f"featurize.embedding: {name} has no visual projection; use pooled")
    dim = (projection.out_features if projection is not None
           else encoder.config.hidden_size)
    return VisionTower(encoder, projection), processor_spec(processor, dim)
