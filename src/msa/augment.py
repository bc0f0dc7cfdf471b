"""The albumentations pipelines: random training views, and the one clean view for evaluation.

Both end in the encoder's own normalisation, so a view differs from the clean one only by the
augmentations. Validation and test features always come from `eval_pipeline`.
"""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
from PIL import Image

from msa.backbones import ImageSpec
from msa.params import AugmentParams

_INTERPOLATION = {"bicubic": cv2.INTER_CUBIC, "bilinear": cv2.INTER_LINEAR}


def resize_size(spec: ImageSpec) -> int:
    """Shorter side before the centre crop (timm's crop_pct convention)."""
    return int(round(spec.input_size / spec.crop_pct))


def eval_pipeline(spec: ImageSpec) -> A.Compose:
    interpolation = _INTERPOLATION[spec.interpolation]
    return A.Compose(
        [
            A.SmallestMaxSize(max_size=resize_size(spec), interpolation=interpolation),
            A.CenterCrop(spec.input_size, spec.input_size),
            A.Normalize(mean=spec.mean, std=spec.std, max_pixel_value=255.0),
        ]
    )


def train_pipeline(spec: ImageSpec, params: AugmentParams, seed: int) -> A.Compose:
    interpolation = _INTERPOLATION[spec.interpolation]
    jitter = params.color_jitter_strength
    return A.Compose(
        [
            A.RandomResizedCrop(
                size=(spec.input_size, spec.input_size),
                scale=(params.crop_scale_min, 1.0),
                interpolation=interpolation,
            ),
            A.HorizontalFlip(p=params.hflip_p),
            A.GaussianBlur(blur_limit=(3, 7), p=params.blur_p),
            A.GridDistortion(p=params.grid_distortion_p),
            A.ColorJitter(
                brightness=jitter, contrast=jitter, saturation=jitter, hue=jitter / 4,
                p=params.color_jitter_p,
            ),
            A.Normalize(mean=spec.mean, std=spec.std, max_pixel_value=255.0),
        ],
        seed=seed,
    )


def load_rgb(path: str, min_side: int) -> np.ndarray:
    """Decode to RGB, letting JPEG decode at a reduced scale that still covers `min_side`."""
    with Image.open(path) as image:
        image.draft("RGB", (min_side, min_side))
        return np.asarray(image.convert("RGB"))


def to_chw(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)
