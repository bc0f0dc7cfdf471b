"""The gallery of the posts behind a difference: drawn from the posts' images and texts, CJK
text in a font that has it, emoji by name."""

import numpy as np
import pytest
from PIL import Image

from msa.data.prepared import Pair
from msa.experiments import gallery, stability

from conftest import write_image
from test_stability import GOLD, seeds


def test_the_gallery_draws_fixes_and_breaks_with_their_images_and_texts(tmp_path):
    wrong = [["neutral", "positive", "negative"][["negative", "neutral", "positive"].index(x)]
             for x in GOLD]
    base, other = seeds(wrong[:3] + GOLD[3:], wrong[:3] + GOLD[3:]), seeds(GOLD, GOLD)
    fixes, breaks = stability.fixes_and_breaks(base, other)
    assert len(fixes) == 3 and len(breaks) == 0
    posts = {}
    for i, guid in enumerate(base.guids):
        write_image(tmp_path / f"{guid}.jpg", colour=(30 * i, 90, 160))
        posts[guid] = Pair(guid, "train", GOLD[i], f"post {guid} 今天天气很好 \U0001F44D",
                           str(tmp_path / f"{guid}.jpg"))
    path = tmp_path / "cmp-other-posts.jpg"
    gallery.plot("base", "other", base, other, fixes, breaks, posts, path)
    with Image.open(path) as image:
        assert image.format == "JPEG" and image.width > 1000
        # the posts' images are drawn: the figure is not all white and black
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)
        assert np.any(np.abs(pixels[:, 0] - pixels[:, 2]) > 60)


def test_cjk_text_is_drawn_in_a_font_that_has_it_and_emoji_by_name():
    text = "今天天气很好 좋아요 ありがとう \U0001F44D"
    if len(gallery.font_family()) < 2:
        pytest.skip("no CJK font installed here (Debian: apt-get install fonts-wqy-microhei; "
                    ".ci/run installs it)")
    assert gallery.undrawable(text) == ""
    assert "thumbs up sign" in gallery._caption(text)
