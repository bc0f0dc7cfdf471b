"""Image views: albumentations training views, and the one clean view for evaluation.

Both start from the same decoded, resized image and end in the encoder's own normalisation,
so a view differs from the clean one only by the augmentations. Validation and test features
always come from `eval_pipeline`. `ImageViews` draws them for both regimes: draw d of a post's
image is seeded by (augment.seed, the post's id, d), so it is the same picture whatever batch,
worker, process, fold or regime asks for it, and whatever other posts the data holds (featurize
caches draws 1..augment.views; finetune draws the epoch's).
"""

from __future__ import annotations

import hashlib

import albumentations as A
import cv2
import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2 as T

from msa.features.backbones import ImageSpec
from msa.params import AugmentParams

_INTERPOLATION = {"bicubic": cv2.INTER_CUBIC, "bilinear": cv2.INTER_LINEAR}


def resize_size(spec: ImageSpec) -> int:
    """Shorter side before the centre crop (timm's crop_pct convention), or a squashed image's
    sides before it (timm's crop_mode squash, DeiT's processor); rounded down as timm and the
    processors round it, past the float error of a crop_pct written as crop / side."""
    return int(spec.input_size / spec.crop_pct + 1e-6)


class CleanView:
    """The clean view: timm's evaluation transform after `load_rgb` (centre crop, normalise).

    torchvision's crop is used so the pixels match timm's reference transform exactly.
    """

    def __init__(self, spec: ImageSpec):
        self.transform = T.Compose([
            T.CenterCrop(spec.input_size), T.ToDtype(torch.float32, scale=True),
            T.Normalize(spec.mean, spec.std),
        ])

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self.transform(torch.from_numpy(to_chw(image))).numpy()


def eval_pipeline(spec: ImageSpec) -> CleanView:
    return CleanView(spec)


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


def load_rgb(path: str, short_side: int, interpolation: str = "bicubic",
             squash: bool = False) -> np.ndarray:
    """Decode to RGB and resize (antialiased, as timm's eval transform) to `short_side`, or
    `squash`ed to a square of that side whatever its shape.

    Every view starts from this image, so training views and the clean view see the same
    pixels, and the clean view equals timm's reference preprocessing (or the checkpoint's own).
    """
    with Image.open(path) as image:
        image = image.convert("RGB")
        width, height = image.size
        if squash:
            size = (short_side, short_side)
        elif width <= height:
            size = (short_side, max(1, int(short_side * height / width)))
        else:
            size = (max(1, int(short_side * width / height)), short_side)
        resample = Image.BICUBIC if interpolation == "bicubic" else Image.BILINEAR
        return np.asarray(image.resize(size, resample))


def to_chw(image: np.ndarray) -> np.ndarray:
    """HWC -> contiguous CHW, keeping the dtype (uint8 pixels, or float32 after Normalize)."""
    return np.ascontiguousarray(image.transpose(2, 0, 1))


def view_seed(seed: int, guid: str, draw: int) -> int:
    """The seed of draw `draw` of post `guid`'s image."""
    key = int.from_bytes(hashlib.sha256(guid.encode("utf-8")).digest()[:8], "big")
    return int(np.random.SeedSequence([seed, key, draw]).generate_state(1)[0])


class ImageViews:
    """A post's image decoded once (`load`), then its clean view and, with `augment`, its
    augmented draws: CHW float32 arrays the encoder takes."""

    def __init__(self, spec: ImageSpec, augment: AugmentParams | None = None):
        self.spec = spec
        self.clean = eval_pipeline(spec)
        self.augment = train_pipeline(spec, augment, augment.seed) if augment else None
        self.seed = augment.seed if augment else 0

    def load(self, path: str) -> np.ndarray:
        return load_rgb(path, resize_size(self.spec), self.spec.interpolation, self.spec.squash)

    def draw(self, image: np.ndarray, guid: str, draw: int) -> np.ndarray:
        self.augment.set_random_seed(view_seed(self.seed, guid, draw))
        return to_chw(self.augment(image=image)["image"])
