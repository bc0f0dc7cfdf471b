"""Messy lab5 folders: every odd input ends in a defined outcome, and nothing is lost."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from msa.data import folds, reading
from msa.features import extract, store
from msa.errors import WAY_BACK, MsaError
from msa.params import AugmentParams, FeaturizeParams
from conftest import REPO, make_lab5, write_image


def _problems(report):
    return {name: item["guids"] for name, item in report["problems"].items() if item["count"]}


def test_odd_but_valid_files_are_kept_and_featurized(tmp_path):
    labels = {str(g): ("positive", "negative", "neutral")[g % 3] for g in range(1, 13)}
    root = make_lab5(tmp_path, labels, ["13"], texts={
        "1": "\ufeffbom first".encode("utf-8"),
        "2": b"line one\r\nline two\r\n",
        "3": ("word " * 10_000).encode("utf-8"),
        "4": b"",
        "5": "混合 encodings".encode("gb18030"),
        "6": b"\xff\xfe\xfa junk \x81",
    })
    d = root / "data"
    write_image(d / "7.jpg", fmt="PNG")                      # PNG saved as .jpg
    write_image(d / "8.jpg", fmt="GIF", mode="P")            # GIF saved as .jpg
    write_image(d / "9.jpg", fmt="WEBP")                     # WebP saved as .jpg
    write_image(d / "10.jpg", mode="CMYK")                   # CMYK JPEG
    write_image(d / "11.jpg", size=(1, 1))                   # a 1x1 image
    write_image(d / "12.jpg", mode="I;16", fmt="PNG")        # 16-bit greyscale
    write_image(d / "13.jpg", mode="RGBA", fmt="PNG")        # RGBA
    pairs, report = reading.prepare(root, show_progress=False)
    assert len(pairs) == 13 and report["guids"]["skipped"] == 0
    text = {p.guid: p.text for p in pairs}
    assert text["1"] == "bom first"
    assert text["2"] == "line one\r\nline two"
    assert text["4"] == "" and _problems(report)["empty_text"] == ["4"]
    assert text["5"] == "混合 encodings"
    assert _problems(report)["replaced_characters"] == ["6"] and report["replaced_characters"] > 0
    cache = extract.featurize(pairs, FeaturizeParams(text_max_length=32),
                               AugmentParams(views=1), show_progress=False)
    assert np.isfinite(cache.text).all() and np.isfinite(cache.image).all()
    assert np.isfinite(cache.image_views).all()


def test_decompression_bomb_is_skipped(tmp_path, monkeypatch):
    root = make_lab5(tmp_path, {"1": "positive", "2": "negative"}, [])
    write_image(root / "data" / "2.jpg", size=(200, 200))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100)  # 2.jpg is 4x the limit
    pairs, report = reading.prepare(root, show_progress=False)
    assert [p.guid for p in pairs] == ["1"]
    assert _problems(report)["unreadable_image"] == ["2"]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 150 * 150)  # between 1x and 2x: a warning
    assert "decompression-bomb" in reading.check_image(root / "data" / "2.jpg")


def test_list_variants(tmp_path):
    root = make_lab5(tmp_path, {"1": "positive", "abc": "negative", "3": "neutral"}, ["4"])
    (root / "train.txt").write_text("GUID , Tag , source\n1,positive,web\nabc, NEGATIVE ,app\n\n"
                                    "3,neutral\n", encoding="utf-8")
    pairs, report = reading.prepare(root, show_progress=False)
    # header columns found by name; a non-numeric guid with files is fine; 3 lacks a column
    assert {p.guid: p.label for p in pairs if p.split == "train"} == {"1": "positive",
                                                                      "abc": "negative"}
    assert _problems(report)["malformed_row"] == ["train.txt:5"]


def test_guid_with_no_files_and_empty_lists(tmp_path):
    root = make_lab5(tmp_path, {}, [], train_lines=["77,positive"], test_lines=[])
    pairs, report = reading.prepare(root, show_progress=False)
    assert pairs == [] and _problems(report)["missing_text"] == ["77"]
    assert report["guids"] == {"listed": 1, "usable": 0, "skipped": 1, "unaccounted": []}
    with pytest.raises(MsaError, match="no labelled pairs"):
        folds.assign_folds(pairs, 5, 0)
    with pytest.raises(MsaError, match="no usable pairs"):
        extract.featurize(pairs, FeaturizeParams(), AugmentParams(), show_progress=False)


def test_binary_list_file_is_an_error_naming_the_file(tmp_path):
    root = make_lab5(tmp_path, {"1": "positive"}, [])
    (root / "test_without_label.txt").write_bytes(b"\xff\xd8\xff\xe0 not text")
    with pytest.raises(MsaError, match="test_without_label.txt: not a text file"):
        reading.prepare(root, show_progress=False)


@pytest.mark.parametrize("params_text, message", [
    ("mode: audio\n", "error: mode: 'audio' is not allowed; use one of text, image, multimodal"),
    ("fold:\n  n_splits: 1\n", "error: fold.n_splits: 1 is not allowed; use an integer >= 2"),
    ("train:\n  patiense: 3\n", "error: train.patiense: unknown key; did you mean "
                                 "train.patience? the keys here are"),
    ("mode: [unclosed\n", "not valid YAML"),
])
def test_stage_with_a_wrong_param_exits_with_one_line(tmp_path, params_text, message):
    root = make_lab5(tmp_path / "lab5", {"1": "positive"}, [])
    (tmp_path / "params.yaml").write_text(params_text, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(REPO / "stages" / "prepare.py"), "--root", str(root),
         "--manifest", "m.jsonl", "--report", "r.json"],
        cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2
    assert message in result.stderr
    # one line, then the way back to a working state (a stage leaves its outputs removed)
    assert result.stderr.strip().splitlines()[1:] == [WAY_BACK]
    assert len(result.stderr.strip().splitlines()) == 2 and "Traceback" not in result.stderr


def test_predict_stage_refuses_models_from_other_encoders(tmp_path):
    from msa.data import prepared
    from msa.params import TrainParams
    from msa.training import checkpoints
    from synthetic import PARAMS, folds_for, synthetic_features, train_cross_validated

    cache = synthetic_features(n=30)
    results = train_cross_validated(cache, folds_for(cache), "text",
                                    TrainParams(**{**PARAMS.__dict__, "epochs": 1}),
                                    seed=0, show_progress=False)
    checkpoints.save_models(results, "text", cache.encoders.replace(
        text_model="bert-base-uncased"), tmp_path / "models", "heads")
    cache.encoders = cache.encoders.replace(text_model="all-MiniLM-L6-v2")
    store.save(cache, tmp_path / "features")
    prepared.write([prepared.Pair("0", "test", None, "t", "x.jpg")], tmp_path / "manifest.jsonl")
    (tmp_path / "params.yaml").write_bytes((REPO / "params.yaml").read_bytes())
    result = subprocess.run(
        [sys.executable, str(REPO / "stages" / "predict.py"), "--manifest", "manifest.jsonl",
         "--features", "features", "--models", "models", "--out", "p.txt"],
        cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error: the models were trained on features from other "
                                    "encoders (text_model: 'bert-base-uncased' in the models")
    assert result.stderr.strip().splitlines()[1:] == [WAY_BACK]
    assert not (tmp_path / "p.txt").exists()


def test_one_bad_row_of_each_family_leaves_the_prepare_stage_running(tmp_path):
    """A name the file system refuses, a value Python's json module refuses, a byte no path
    holds: each a recorded skip with its reason; the stage ends well and says what it skipped."""
    root = tmp_path / "root"
    for guid in ("1", "2"):
        write_image(root / "img" / f"{guid}.jpg")
    lines = ['{"id": "1", "text": "kept", "image_path": "img/1.jpg", "label": "positive"}',
             '{"id": "2", "text": "x", "image_path": "img/' + "n" * 300 + '.jpg"}',
             '{"id": ' + "9" * 5000 + "}",
             '{"id": "3", "text": "x", "image_path": "img/2.jpg\\u0000"}']
    (root / "posts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "params.yaml").write_text(
        "data:\n  format: manifest\n  manifest_file: posts.jsonl\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(REPO / "stages" / "prepare.py"), "--root", str(root),
         "--manifest", "m.jsonl", "--report", "r.json"],
        cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "prepare: 1 usable pairs of 3 listed, 2 skipped" in result.stdout
    assert "prepare: rows and pairs skipped: unreadable_row 2, unreadable_post 1" in result.stdout
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["problems"]["unreadable_row"]["guids"] == ["posts.jsonl:3", "3"]
    assert report["problems"]["unreadable_post"]["guids"] == ["2"]
