import numpy as np

from msa import augment
from msa.backbones import ImageSpec
from msa.params import AugmentParams

SPEC = ImageSpec(64, 0.875, (0.5,) * 3, (0.5,) * 3, "bicubic", 8)


def _image(seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(90, 120, 3), dtype=np.uint8)


def test_eval_view_is_deterministic_and_normalised():
    pipeline = augment.eval_pipeline(SPEC)
    a, b = pipeline(image=_image())["image"], pipeline(image=_image())["image"]
    assert a.shape == (64, 64, 3)
    np.testing.assert_array_equal(a, b)
    assert -1.0001 <= a.min() and a.max() <= 1.0001


def test_train_views_are_random_but_reproducible_from_the_seed():
    params = AugmentParams(hflip_p=1.0, blur_p=1.0, grid_distortion_p=1.0, color_jitter_p=1.0)
    first = augment.train_pipeline(SPEC, params, seed=7)
    views = [first(image=_image())["image"] for _ in range(2)]
    assert views[0].shape == (64, 64, 3)
    assert not np.array_equal(views[0], views[1])
    again = augment.train_pipeline(SPEC, params, seed=7)
    np.testing.assert_array_equal(again(image=_image())["image"], views[0])
    clean = augment.eval_pipeline(SPEC)(image=_image())["image"]
    assert not np.array_equal(clean, views[0])


def test_load_rgb_converts_and_keeps_the_short_side(tmp_path):
    from conftest import write_image

    path = tmp_path / "grey.jpg"
    write_image(path, size=(400, 300), mode="L")
    image = augment.load_rgb(str(path), min_side=73)
    assert image.ndim == 3 and image.shape[2] == 3
    assert min(image.shape[:2]) >= 73
    assert augment.to_chw(image).shape == (3, *image.shape[:2])
