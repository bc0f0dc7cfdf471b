import json

import pytest

from msa import data
from msa.errors import MsaError
from msa.params import DataParams, ManifestColumns
from conftest import write_image


def _problems(report):
    return {name: item["guids"] for name, item in report["problems"].items() if item["count"]}


def _prepare(root, **kwargs):
    return data.prepare(root, DataParams(format="manifest", **kwargs), show_progress=False)


def _files(root, guids):
    for k, guid in enumerate(guids):
        write_image(root / "img" / f"{guid}.jpg", colour=(25 * k % 255, 60, 90))
        (root / "txt").mkdir(exist_ok=True)
        (root / "txt" / f"{guid}.txt").write_text(f"file text {guid}", encoding="utf-8")


def test_csv_rows_text_inline_or_by_path_labels_and_splits(tmp_path):
    _files(tmp_path, ["a", "b", "c", "d", "e"])
    (tmp_path / "posts.csv").write_text(
        "id,text,text_path,image_path,label,split\n"
        "a,inline words,,img/a.jpg,Positive,\n"       # inline text, label read case-blind
        "b,,txt/b.txt,img/b.jpg,negative,\n"          # text from its file
        "c,,txt/c.txt,img/c.jpg,,\n"                  # no label: a post to predict
        "d,both given,txt/d.txt,img/d.jpg,neutral,test\n"  # split says test: label dropped
        "e,,,img/e.jpg,neutral,\n",                   # an empty text, kept and noted
        encoding="utf-8")
    pairs, report = _prepare(tmp_path)
    assert [(p.guid, p.split, p.label, p.text) for p in pairs] == [
        ("a", "train", "positive", "inline words"), ("b", "train", "negative", "file text b"),
        ("c", "test", None, "file text c"), ("d", "test", None, "both given"),
        ("e", "train", "neutral", "")]
    assert _problems(report) == {"empty_text": ["e"]}
    assert report["text_encodings"] == {"inline": 3, "utf-8": 2}


def test_every_bad_row_is_a_recorded_skip(tmp_path):
    _files(tmp_path, ["a", "b", "c", "d", "e", "f", "g"])
    (tmp_path / "posts.csv").write_text(
        "id,text,image_path,label,split\n"
        "a,ok,img/a.jpg,positive,\n"
        "b,ok,img/b.jpg,,train\n"                # train without a label
        "c,ok,img/c.jpg,happy,\n"                # unknown label
        "d,ok,../outside.jpg,positive,\n"        # leaves the data folder
        "e,ok,img/e.jpg,positive,later\n"        # unknown split
        "f,ok,img/missing.jpg,positive,\n"       # no such image
        "g,ok,,positive,\n"                      # no image path
        "h/x,ok,img/a.jpg,positive,\n"           # id that is not a plain name
        "a,again,img/a.jpg,negative,\n"          # id again
        "i,ok,img/a.jpg,positive,,extra\n",      # one cell too many
        encoding="utf-8")
    pairs, report = _prepare(tmp_path)
    assert [p.guid for p in pairs] == ["a"]
    assert _problems(report) == {
        "missing_label": ["b"], "unknown_tag": ["c"], "path_outside_root": ["d"],
        "malformed_row": ["posts.csv:6", "posts.csv:11"], "missing_image": ["g", "f"],
        "invalid_guid": ["h/x"], "duplicate_guid": ["a"]}
    assert report["guids"]["unaccounted"] == []


def test_jsonl_with_its_own_column_names(tmp_path):
    _files(tmp_path, ["1", "2"])
    lines = [json.dumps({"post": 1, "body": "hello", "picture": "img/1.jpg", "y": "positive"}),
             "{not json",
             json.dumps({"post": 2, "body": "bye", "picture": "img/2.jpg", "y": None})]
    (tmp_path / "posts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    columns = ManifestColumns(id="post", text="body", image_path="picture", label="y")
    pairs, report = _prepare(tmp_path, manifest_file="posts.jsonl", columns=columns)
    assert [(p.guid, p.split, p.label, p.text) for p in pairs] == [
        ("1", "train", "positive", "hello"), ("2", "test", None, "bye")]
    assert _problems(report) == {"malformed_row": ["posts.jsonl:2"]}


@pytest.mark.parametrize("name, content, message", [
    ("posts.csv", "id,text,label\n1,x,positive\n", "no column 'image_path'"),
    ("posts.csv", "id,image_path,label\n1,a.jpg,positive\n", "neither a 'text' nor"),
    ("posts.tsv", "id\n", "neither .csv nor .jsonl"),
    ("absent.csv", None, "manifest not found"),
])
def test_a_table_that_cannot_be_read_is_one_line(tmp_path, name, content, message):
    if content is not None:
        (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(MsaError, match=message):
        _prepare(tmp_path, manifest_file=name)


def test_a_table_outside_the_data_folder_is_refused(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "posts.csv").write_text("id,text,image_path,label\n", encoding="utf-8")
    with pytest.raises(MsaError, match="leaves data.root"):
        _prepare(tmp_path / "root", manifest_file="../posts.csv")
