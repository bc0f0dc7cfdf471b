"""Transformers image checkpoints as image encoders: a hub name or a local folder of a vision
model the field hands over (ViT, DeiT, DINOv2, ConvNeXt, Swin, BEiT and the rest of
transformers' image-model families), or a CLIP or SigLIP checkpoint's vision tower
(msa.features.vision_language). Each reads its pixels as its own image processor says: size,
centre crop or crop_pct, interpolation, mean and std (`processor_spec`).

A vision model's vector is its class token's final state where its family has one (ViT, DeiT,
DINOv2: its own pooler, an untrained layer in most checkpoints, is left out), else its pooled
output (ConvNeXt, Swin, BEiT: their pooling and final norm).
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import torch
from msa.errors import MsaError
from msa.features.backbones import ImageSpec
from msa.features.towers import PooledVision

CLASS_TOKEN_FAMILIES = ("vit", "deit", "dinov2", "dinov2_with_registers", "vit_msn", "vit_mae")
_RESAMPLE = {2: "bilinear", 3: "bicubic"}  # PIL's numbers, as processors store them


def is_checkpoint(name: str) -> bool:
    """Whether an image_model names a transformers checkpoint (a folder, or a hub name
    'org/model') rather than a timm architecture."""
    return Path(name).is_dir() or (
        "/" in name and not name.startswith("hf-hub:") and not Path(name).exists())


def is_vision_family(config) -> bool:
    """Whether transformers reads a checkpoint of this config as an image model."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_MAPPING_NAMES

    return getattr(config, "model_type", None) in MODEL_FOR_IMAGE_MAPPING_NAMES


def load(source: str, config, pretrained):
    """The vision model alone (transformers' AutoModel: a classifier checkpoint gives its
    backbone), without a pooler it will not read, through `pretrained(build)`."""
    from transformers import AutoModel

    kind = AutoModel._model_mapping[type(config)]
    extra = ({"add_pooling_layer": False} if config.model_type in CLASS_TOKEN_FAMILIES
             and "add_pooling_layer" in inspect.signature(kind.__init__).parameters else {})
    return pretrained(lambda local: AutoModel.from_pretrained(
        source, local_files_only=local, **extra)).float().eval()


def vision_tower(model, processor, name: str) -> tuple[PooledVision, ImageSpec]:
    """(the vision model's tower, its ImageSpec), its width found by reading one blank image;
    a model that gives no pooled output and has no class token is one line."""
    tower = PooledVision(model, model.config.model_type in CLASS_TOKEN_FAMILIES).eval()
    spec = processor_spec(processor, 0)
    with torch.inference_mode():
        outputs = model(pixel_values=torch.zeros(1, 3, spec.input_size, spec.input_size))
    if not tower.class_token and getattr(outputs, "pooler_output", None) is None:
        raise MsaError(f"featurize.image_model: {name} is a {model.config.model_type} "
                       "checkpoint that gives no pooled output; msa reads a vision model's "
                       "pooled output or its class token")
    return tower, dataclasses.replace(spec, dim=tower.read(outputs).shape[-1])


def processor_spec(processor, dim: int) -> ImageSpec:
    """How a checkpoint's image processor prepares its pixels, as an ImageSpec: resized by the
    shorter side then centre-cropped (CLIP, DINOv2; ConvNeXt's crop_pct below 384 pixels), or
    squashed to a square, then centre-cropped where the processor crops (ViT, Swin, BEiT,
    SigLIP; DeiT)."""
    size = processor.size
    crops = getattr(processor, "do_center_crop", False)
    crop = getattr(processor, "crop_size", None) if crops else None
    if "shortest_edge" in size:
        edge = size["shortest_edge"]
        if crop:
            input_size, crop_pct, squash = crop["height"], crop["height"] / edge, False
        elif getattr(processor, "crop_pct", None):  # ConvNeXt's: cropped below 384, else warped
            input_size, squash = edge, edge >= 384
            crop_pct = 1.0 if squash else processor.crop_pct
        else:  # the shorter side alone: centre-cropped to a square, as batches need
            input_size, crop_pct, squash = edge, 1.0, False
    else:
        side = size["height"]
        input_size = crop["height"] if crop else side
        crop_pct, squash = input_size / side, True
    normalise = getattr(processor, "do_normalize", True)
    mean = tuple(processor.image_mean) if normalise else (0.0, 0.0, 0.0)
    std = tuple(processor.image_std) if normalise else (1.0, 1.0, 1.0)
    return ImageSpec(input_size, crop_pct, mean, std,
                     _RESAMPLE.get(int(processor.resample), "bicubic"), dim, squash=squash)
