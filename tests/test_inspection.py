"""The posts behind the numbers: mistakes, reliability, the data at a glance."""

import unicodedata

import numpy as np
import pytest
from PIL import Image

from msa.data.prepared import Pair
from msa.evaluation import inspection, metrics

LABELS = ("negative", "neutral", "positive")


def rows_and_probs():
    probs = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1],
                      [0.3, 0.3, 0.4], [0.1, 0.85, 0.05]])
    labels = ["negative", "negative", "negative", "neutral", "neutral", "positive"]
    rows = [{"guid": f"g{i}", "label": y, "predicted": LABELS[int(p.argmax())]}
            for i, (y, p) in enumerate(zip(labels, probs))]
    return rows, probs


def test_the_surest_mistakes_of_each_true_class_come_first():
    rows, probs = rows_and_probs()
    chosen = inspection.confident_mistakes(rows, probs, per_class=1)
    assert [(r["guid"], p) for r, p in chosen["negative"]] == [("g2", 0.8)]  # over g1 at 0.7
    assert [(r["guid"], p) for r, p in chosen["neutral"]] == [("g3", 0.6)]
    assert [(r["guid"], p) for r, p in chosen["positive"]] == [("g5", 0.85)]
    assert len(inspection.confident_mistakes(rows, probs, per_class=5)["negative"]) == 2


def test_reliability_bins_and_the_calibration_error():
    # two pairs at 0.95, one right; two at 0.55, both right: |0.5-0.95|/2 + |1-0.55|/2
    probs = np.array([[0.95, 0.03, 0.02], [0.95, 0.03, 0.02], [0.55, 0.45, 0.0],
                      [0.0, 0.55, 0.45]])
    y = ["negative", "neutral", "negative", "neutral"]
    table = metrics.reliability(y, probs)
    assert [(b["low"], b["pairs"], b["accuracy"]) for b in table] == [(0.5, 2, 1.0), (0.9, 2, 0.5)]
    assert metrics.expected_calibration_error(y, probs) == pytest.approx(0.45)
    # probabilities that are right as often as they say score 0; 1.0 falls in the last bin
    assert metrics.expected_calibration_error(["negative"], np.array([[1.0, 0, 0]])) == 0


def test_metrics_carry_the_calibration_error_when_given_probabilities():
    rows, probs = rows_and_probs()
    y, pred = [r["label"] for r in rows], [r["predicted"] for r in rows]
    epochs = {f: {"best_epoch": 1, "epochs_run": 1} for f in (0, 1)}
    doc = metrics.summarize("text", y, pred, [0, 1, 0, 1, 0, 1], epochs, probs=probs)
    assert doc["calibration"] == {"ece": pytest.approx(metrics.expected_calibration_error(
        y, probs)), "bins": 10}
    assert "calibration" not in metrics.summarize("text", y, pred, [0, 1, 0, 1, 0, 1], epochs)


def test_the_three_figures_are_drawn_with_and_without_images(tmp_path):
    rows, probs = rows_and_probs()
    image = tmp_path / "a.jpg"
    Image.new("RGB", (300, 200), (200, 30, 30)).save(image)
    pairs = {r["guid"]: Pair(r["guid"], "train", r["label"], "a long post " * 30, str(image))
             for r in rows}
    pairs["g2"] = Pair("g2", "train", "negative", "", str(tmp_path / "gone.jpg"))  # image lost
    inspection.plot_mistakes(rows, probs, pairs, tmp_path / "mistakes.jpg")
    inspection.plot_reliability([r["label"] for r in rows], probs, tmp_path / "calibration.png")
    report = {"guids": {"listed": 9, "skipped": 3},
              "problems": {"missing_image": {"count": 2, "skips_pair": True},
                           "unknown_tag": {"count": 1, "skips_pair": True},
                           "duplicate_post": {"count": 4, "skips_pair": False}}}
    inspection.plot_data(list(pairs.values()) + [Pair("t", "test", None, "x", str(image))],
                         report, tmp_path / "data.png")
    assert (tmp_path / "mistakes.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    for name in ("calibration.png", "data.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    first = (tmp_path / "mistakes.jpg").read_bytes()
    inspection.plot_mistakes(rows, probs, pairs, tmp_path / "mistakes.jpg")
    assert (tmp_path / "mistakes.jpg").read_bytes() == first  # same records, same bytes


def test_a_long_text_is_cut_to_its_lines():
    caption = inspection._caption("word " * 200, width=20, lines=3)
    assert len(caption.splitlines()) == 3 and caption.endswith("...")
    assert inspection._caption("   ") == "(no text)"


def test_emoji_the_font_lacks_are_written_by_name_not_drawn_as_boxes():
    text = inspection.drawable("so good 👍🏽 and 🇺🇸 ❤️ © 今天")
    assert ":thumbs up sign:" in text and ":flag us:" in text
    assert "❤" in text and "©" in text and "今天" in text  # what the font draws stays
    assert "\ufe0f" not in text and "\U0001f3fd" not in text
    assert all(ord(c) in inspection._glyphs() or unicodedata.category(c) not in ("So", "Sk")
               for c in text)
    assert inspection._caption("👍" * 3).startswith(":thumbs up sign:")
    assert " ".join(inspection.drawable("🇫🇷🇩🇪").split()) == ":flag fr: :flag de:"
