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


def test_a_draw_is_the_same_picture_in_both_regimes_whatever_else_the_data_holds(tmp_path):
    """One seeding scheme: draw d of a post's image is seeded by (augment.seed, its id, d), so
    featurize's cached draw d is the finetune regime's epoch-d view, and neither moves with the
    post's place among the others."""
    import torch
    from PIL import Image

    from msa.data.prepared import Pair
    from msa.features import extract
    from msa.training.end_to_end import PairImages

    for k in range(2):
        Image.fromarray(_image(k)).save(tmp_path / f"{k}.png")
    params = AugmentParams(views=3)
    cached = extract._ImageViews([str(tmp_path / "0.png")], ["p0"], [3], SPEC, params)[0]
    later = extract._ImageViews([str(tmp_path / "1.png"), str(tmp_path / "0.png")],
                                ["p1", "p0"], [3, 3], SPEC, params)[1]
    torch.testing.assert_close(cached, later, rtol=0, atol=0)
    epochs = PairImages([Pair("p0", "train", "positive", "", str(tmp_path / "0.png"))], SPEC,
                        params)
    for draw in (1, 2, 3):
        torch.testing.assert_close(epochs[(draw, 0)][3], cached[draw], rtol=0, atol=0)
    assert not torch.equal(cached[1], cached[2])
    other_seed = extract._ImageViews([str(tmp_path / "0.png")], ["p0"], [3], SPEC,
                                     AugmentParams(views=3, seed=1))[0]
    assert not torch.equal(other_seed[1], cached[1])
    torch.testing.assert_close(other_seed[0], cached[0], rtol=0, atol=0)  # the clean view
