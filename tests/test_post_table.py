import json

import pytest

from msa import files
from msa.data import reading
from msa.errors import MsaError
from msa.params import DataParams, ManifestColumns
from conftest import write_image


def _problems(report):
    return {name: item["guids"] for name, item in report["problems"].items() if item["count"]}


def _prepare(root, **kwargs):
    return reading.prepare(root, DataParams(format="manifest", **kwargs), show_progress=False)


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
        "a,again,img/a.jpg,negative,\n"          # id again, another label
        "i,ok,img/a.jpg,positive,,extra\n",      # one cell too many
        encoding="utf-8")
    pairs, report = _prepare(tmp_path)
    assert [p.guid for p in pairs] == []  # a: neither of its labels believed (was: the first)
    assert _problems(report) == {
        "missing_label": ["b"], "unknown_tag": ["c"], "path_outside_root": ["d"],
        "malformed_row": ["posts.csv:6", "posts.csv:11"], "missing_image": ["g", "f"],
        "invalid_guid": ["h/x"], "conflicting_labels": ["a"]}
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


# Rows that once ended prepare with a traceback (found by hand and by tests/test_fuzz_layouts.py):
# each is now a recorded skip with its reason, or a kept post.
LONG = "n" * 300  # longer than a file name may be


@pytest.mark.parametrize("row, problem, item, reason", [
    ("1,hi,a\0.jpg,positive", "unreadable_row", "1", "ValueError: embedded null byte"),
    (f"1,hi,{LONG}.jpg,positive", "unreadable_post", "1", "File name too long"),
    (f"1,hi,{'/'.join([LONG] * 20)}.jpg,positive", "unreadable_post", "1", "File name too long"),
])
def test_a_path_no_file_system_takes_is_a_skip_with_its_reason(tmp_path, row, problem, item,
                                                                reason):
    _files(tmp_path, ["2"])
    (tmp_path / "posts.csv").write_text(f"id,text,image_path,label\n{row}\n"
                                        "2,ok,img/2.jpg,negative\n", encoding="utf-8")
    pairs, report = _prepare(tmp_path)
    assert [p.guid for p in pairs] == ["2"]
    assert report["problems"][problem]["guids"] == [item]
    assert reason in report["problems"][problem]["reasons"][item]
    assert report["guids"]["unaccounted"] == []


def test_a_text_path_too_long_for_the_file_system_is_a_skip(tmp_path):
    _files(tmp_path, ["1"])
    (tmp_path / "posts.csv").write_text(f"id,text_path,image_path,label\n1,{LONG}.txt,img/1.jpg,"
                                        "positive\n", encoding="utf-8")
    pairs, report = _prepare(tmp_path)
    assert pairs == [] and report["problems"]["unreadable_post"]["guids"] == ["1"]


def test_a_cell_past_the_csv_modules_limit_is_read_whole(tmp_path):
    _files(tmp_path, ["1", "2"])
    words = "word " * 40_000  # 200,000 characters; csv's default limit is 131,072
    (tmp_path / "posts.csv").write_text(f"id,text,image_path,label\n1,{words},img/1.jpg,positive\n"
                                        "2,ok,img/2.jpg,negative\n", encoding="utf-8")
    pairs, report = _prepare(tmp_path)
    assert [(p.guid, len(p.text)) for p in pairs] == [("1", len(words.strip())), ("2", 2)]


def test_a_column_named_twice_is_one_line(tmp_path):
    (tmp_path / "posts.csv").write_text("id,id,text,image_path,label\n1,2,x,a.jpg,positive\n",
                                        encoding="utf-8")
    with pytest.raises(MsaError, match=r"posts.csv:1: column 'id' appears 2 times"):
        _prepare(tmp_path)


@pytest.mark.parametrize("line, problem, reason", [
    ('{"id": ' + "9" * 5000 + "}", "unreadable_row", "Exceeds the limit (4300 digits)"),
    ("[" * 100_000, "unreadable_row", "RecursionError"),
    ('{"id": "3", "id": "4", "image_path": "img/1.jpg", "text": "x", "label": "positive"}',
     "malformed_row", None),
])
def test_json_lines_pythons_parser_refuses_are_skips(tmp_path, line, problem, reason):
    _files(tmp_path, ["1"])
    good = json.dumps({"id": 1, "text": "hi", "image_path": "img/1.jpg", "label": "positive"})
    (tmp_path / "posts.jsonl").write_text(f"{good}\n{line}\n", encoding="utf-8")
    pairs, report = _prepare(tmp_path, manifest_file="posts.jsonl")
    assert [p.guid for p in pairs] == ["1"]
    assert report["problems"][problem]["guids"] == ["posts.jsonl:2"]
    if reason:
        assert reason in report["problems"][problem]["reasons"]["posts.jsonl:2"]


def test_lone_surrogates_from_json_escapes(tmp_path):
    _files(tmp_path, ["1", "2"])
    lines = [
        '{"id": "1", "text": "hi \\ud800", "image_path": "img/1.jpg", "label": "positive"}',
        '{"id": "2", "text": "x", "image_path": "img/\\ud800.jpg", "label": "positive"}',
        '{"id": "\\ud800", "text": "x", "image_path": "img/1.jpg", "label": "positive"}',
        '{"id": "4", "text": "line\\u2028separator\\u0085end", "image_path": "img/2.jpg"}',
    ]
    (tmp_path / "posts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pairs, report = _prepare(tmp_path, manifest_file="posts.jsonl")
    # a surrogate in the text is replaced, as an undecodable byte in a text file would be
    assert [(p.guid, p.text) for p in pairs] == [("1", "hi \ufffd"),
                                                  ("4", "line\u2028separator\u0085end")]
    assert report["problems"]["replaced_characters"]["guids"] == ["1"]
    # no file name holds one; an id with one is not a plain name
    assert report["problems"]["unreadable_row"]["guids"] == ["2"]
    assert report["problems"]["invalid_guid"]["guids"] == ["\ud800"]
    # the report still writes as UTF-8 JSON, and reads back the same
    files.write_json(tmp_path / "r.json", report)
    assert json.loads((tmp_path / "r.json").read_bytes().decode("utf-8")) == report


def test_labels_and_splits_read_case_and_spaces_aside(tmp_path):
    _files(tmp_path, ["1", "2"])
    (tmp_path / "posts.csv").write_text("id,text,image_path,label,split\n"
                                        "1,x,img/1.jpg, NEUTRAL , Train \n"
                                        "2,y,img/2.jpg,Positive,\tTEST\n", encoding="utf-8")
    pairs, _ = _prepare(tmp_path)
    assert [(p.guid, p.split, p.label) for p in pairs] == [("1", "train", "neutral"),
                                                           ("2", "test", None)]


def test_a_table_of_posts_to_predict_needs_no_label_column(tmp_path):
    _files(tmp_path, ["a", "b"])
    (tmp_path / "new.csv").write_text("id,text,image_path\na,x,img/a.jpg\nb,y,img/b.jpg\n",
                                      encoding="utf-8")
    with pytest.raises(MsaError, match="no column 'label'"):
        _prepare(tmp_path, manifest_file="new.csv")
    pairs, _ = reading.prepare(tmp_path, DataParams(format="manifest", manifest_file="new.csv"),
                               show_progress=False, for_prediction=True)
    assert [(p.guid, p.split, p.label) for p in pairs] == [("a", "test", None), ("b", "test", None)]


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_an_id_on_several_rows_is_kept_once_where_they_agree_and_never_where_they_differ(
        tmp_path, suffix):
    _files(tmp_path, ["a", "b", "c", "d"])
    rows = [("a", "positive", ""), ("b", "positive", ""), ("a", "negative", ""),
            ("b", " Positive", ""), ("c", "neutral", ""), ("c", "happy", ""),
            ("d", "negative", ""), ("d", "", "test")]
    if suffix == "csv":
        body = "id,text,image_path,label,split\n" + "".join(
            f"{g},t,img/{g}.jpg,{label},{split}\n" for g, label, split in rows)
    else:
        body = "".join(json.dumps({"id": g, "text": "t", "image_path": f"img/{g}.jpg",
                                   "label": label, "split": split}) + "\n"
                       for g, label, split in rows)
    (tmp_path / f"posts.{suffix}").write_text(body, encoding="utf-8")
    pairs, report = _prepare(tmp_path, manifest_file=f"posts.{suffix}")
    assert [(p.guid, p.split, p.label) for p in pairs] == [("b", "train", "positive"),
                                                           ("d", "test", None)]
    assert _problems(report) == {"conflicting_labels": ["a", "c"], "unknown_tag": ["c"],
                                 "duplicate_guid": ["b"], "guid_in_both_lists": ["d"]}


@pytest.mark.parametrize("suffix, content", [("csv", "id,text,image_path,label\n"),
                                             ("csv", ""), ("jsonl", ""), ("jsonl", "\n\n")])
def test_a_table_without_rows_is_one_line_naming_it(tmp_path, suffix, content):
    (tmp_path / f"posts.{suffix}").write_text(content, encoding="utf-8")
    with pytest.raises(MsaError, match=rf"posts.{suffix}: no post named \(no row beyond a "
                                       r"header\)$"):
        _prepare(tmp_path, manifest_file=f"posts.{suffix}")


def test_a_table_with_other_column_names_says_every_one_missing_at_once(tmp_path):
    """One run, not four: every column the table lacks, the columns it has, the keys to set."""
    (tmp_path / "posts.csv").write_text("post,caption,picture,sentiment\n1,x,a.jpg,positive\n",
                                        encoding="utf-8")
    with pytest.raises(MsaError) as error:
        _prepare(tmp_path)
    message = str(error.value)
    for part in ("'id' (data.columns.id)", "'image_path' (data.columns.image_path)",
                 "'label' (data.columns.label)", "neither a 'text' nor a 'text_path' column",
                 "its columns are 'caption', 'picture', 'post', 'sentiment'"):
        assert part in message, message
    assert "\n" not in message
    columns = ManifestColumns(id="post", text="caption", image_path="picture", label="sentiment")
    _files(tmp_path, ["1"])
    (tmp_path / "posts.csv").write_text("post,caption,picture,sentiment\n1,x,img/1.jpg,positive\n",
                                        encoding="utf-8")
    pairs, _ = _prepare(tmp_path, columns=columns)
    assert [(p.guid, p.text, p.label) for p in pairs] == [("1", "x", "positive")]
