import numpy as np

from msa.features import augment
from msa.features.backbones import ImageSpec
from msa.params import AugmentParams

SPEC = ImageSpec(64, 0.875, (0.5,) * 3, (0.5,) * 3, "bicubic", 8)


def _image(seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(90, 120, 3), dtype=np.uint8)


def test_eval_view_is_deterministic_normalised_and_matches_timms_transform(tmp_path):
    import torch
    from PIL import Image
    from torchvision.transforms import v2 as T

    pipeline = augment.eval_pipeline(SPEC)
    a, b = pipeline(_image()), pipeline(_image())
    assert a.shape == (3, 64, 64)
    np.testing.assert_array_equal(a, b)
    assert -1.0001 <= a.min() and a.max() <= 1.0001
    # the reference: PIL resize of the short side, centre crop, normalise (timm's eval transform)
    Image.fromarray(_image()).save(tmp_path / "x.png")
    reference = T.Compose([T.Resize(augment.resize_size(SPEC),
                                    interpolation=T.InterpolationMode.BICUBIC),
                           T.CenterCrop(64), T.ToImage(), T.ToDtype(torch.float32, scale=True),
                           T.Normalize(SPEC.mean, SPEC.std)])
    expected = reference(Image.open(tmp_path / "x.png").convert("RGB")).numpy()
    ours = pipeline(augment.load_rgb(str(tmp_path / "x.png"), augment.resize_size(SPEC)))
    np.testing.assert_allclose(ours, expected, atol=1e-6)


def test_train_views_are_random_but_reproducible_from_the_seed():
    params = AugmentParams(hflip_p=1.0, blur_p=1.0, grid_distortion_p=1.0, color_jitter_p=1.0)
    first = augment.train_pipeline(SPEC, params, seed=7)
    views = [first(image=_image())["image"] for _ in range(2)]
    assert views[0].shape == (64, 64, 3)
    assert not np.array_equal(views[0], views[1])
    again = augment.train_pipeline(SPEC, params, seed=7)
    np.testing.assert_array_equal(again(image=_image())["image"], views[0])
    clean = augment.eval_pipeline(SPEC)(_image())
    assert clean.shape == augment.to_chw(views[0]).shape
    assert not np.allclose(clean, augment.to_chw(views[0]))


def test_load_rgb_converts_and_resizes_the_short_side(tmp_path):
    from conftest import write_image

    path = tmp_path / "grey.jpg"
    write_image(path, size=(400, 300), mode="L")
    image = augment.load_rgb(str(path), short_side=73)
    assert image.shape == (73, 97, 3)
    write_image(path, size=(1, 1))
    assert augment.load_rgb(str(path), short_side=20).shape == (20, 20, 3)
    assert augment.to_chw(image).shape == (3, 73, 97)
