import json

import pytest

from msa import files
from msa.data import prepared, reading
from msa.errors import MsaError
from conftest import make_lab5, write_image


def _problems(report):
    return {name: item["guids"] for name, item in report["problems"].items() if item["count"]}


def test_decode_text_tries_utf8_then_gb18030_then_replaces():
    assert reading.decode_text("héllo 你好".encode("utf-8")) == ("héllo 你好", "utf-8", 0)
    assert reading.decode_text("你好 world".encode("gbk")) == ("你好 world", "gb18030", 0)
    assert reading.decode_text("\ufeffbom text\r\n".encode("utf-8")) == ("bom text", "utf-8", 0)
    text, encoding, replaced = reading.decode_text(b"ok \xff\xff\xff\xff end")
    assert encoding == "replaced" and replaced >= 1 and text.startswith("ok")


def test_clean_folder_gives_every_pair(tmp_path):
    root = make_lab5(tmp_path, {"1": "positive", "2": "negative", "3": "neutral"}, ["4", "5"])
    pairs, report = reading.prepare(root, show_progress=False)
    assert [p.guid for p in pairs] == ["1", "2", "3", "4", "5"]
    assert [p.split for p in pairs] == ["train"] * 3 + ["test"] * 2
    assert report["pairs"]["train"] == {"negative": 1, "neutral": 1, "positive": 1, "total": 3}
    assert report["pairs"]["test"] == 2
    assert report["guids"] == {"listed": 5, "usable": 5, "skipped": 0, "unaccounted": []}
    assert _problems(report) == {}


def test_file_problems_are_recorded(tmp_path):
    root = make_lab5(tmp_path, {str(g): "positive" for g in range(1, 7)}, ["7"],
                     texts={"5": b"", "6": "你好".encode("gbk")})
    (root / "data" / "1.jpg").unlink()                             # missing image
    (root / "data" / "2.txt").unlink()                             # missing text
    (root / "data" / "3.jpg").write_bytes(b"")                     # zero-byte image
    full = (root / "data" / "4.jpg").read_bytes()
    (root / "data" / "4.jpg").write_bytes(full[: len(full) // 2])  # truncated JPEG
    pairs, report = reading.prepare(root, show_progress=False)
    problems = _problems(report)
    assert problems["missing_image"] == ["1"]
    assert problems["missing_text"] == ["2"]
    assert problems["unreadable_image"] == ["3", "4"]
    assert problems["empty_text"] == ["5"]
    assert {p.guid for p in pairs} == {"5", "6", "7"}
    assert report["text_encodings"] == {"gb18030": 1, "utf-8": 2}
    assert report["guids"] == {"listed": 7, "usable": 3, "skipped": 4, "unaccounted": []}


def test_list_problems_are_recorded_and_every_guid_accounted_for(tmp_path):
    lines = [
        "1,positive",
        "2,Positive ", "2,positive",        # duplicate with the same tag after cleanup
        "3,positive", "3,negative",         # conflicting labels
        "4,happy",                          # unknown tag
        "5,null",                           # null in train
        "6,negative",                       # also in the test list
        "../etc/passwd,positive",           # would escape the data folder
        "7,positive,extra",                 # malformed row
        "",                                 # blank line
        "8,  NEUTRAL  ",
    ]
    root = make_lab5(tmp_path, {str(g): "positive" for g in range(1, 9)}, ["6", "9"],
                     train_lines=lines)
    pairs, report = reading.prepare(root, show_progress=False)
    problems = _problems(report)
    assert problems["duplicate_guid"] == ["2"]
    assert problems["conflicting_labels"] == ["3"]
    assert problems["unknown_tag"] == ["4", "5"]
    assert problems["guid_in_both_lists"] == ["6"]
    assert problems["invalid_guid"] == ["../etc/passwd"]
    assert problems["malformed_row"] == ["train.txt:11"]
    by_guid = {p.guid: p for p in pairs}
    assert set(by_guid) == {"1", "2", "6", "8", "9"}
    assert by_guid["6"].split == "test" and by_guid["8"].label == "neutral"
    assert report["guids"]["unaccounted"] == []
    assert report["guids"]["usable"] + report["guids"]["skipped"] == report["guids"]["listed"]


def test_identical_posts_are_kept_and_noted_with_their_labels(tmp_path):
    train = {"1": "positive", "2": "negative", "3": "neutral", "4": "neutral", "5": "positive"}
    same = "the same words"
    root = make_lab5(tmp_path, train, ["6"],
                     texts={g: same for g in ("1", "2", "4", "5", "6")} | {"3": "other words"})
    images = root / "data"
    for guid in ("2", "3", "6"):  # 1, 2 and 6 repeat one post; 3 shares only the image
        (images / f"{guid}.jpg").write_bytes((images / "1.jpg").read_bytes())
    (images / "5.jpg").write_bytes((images / "4.jpg").read_bytes())  # 4, 5: another post
    pairs, report = reading.prepare(root, show_progress=False)
    problems = _problems(report)
    assert len(pairs) == 6
    assert problems["duplicate_post"] == ["1", "2", "6", "4", "5"]
    assert problems["duplicate_post_label_differs"] == ["1", "2", "4", "5"]
    assert report["duplicate_posts"] == {"groups": 2, "groups_with_differing_labels": 2}
    write_image(images / "2.jpg", colour=(1, 2, 3))
    (images / "5.txt").write_text("different words", encoding="utf-8")
    _, report = reading.prepare(root, show_progress=False)
    assert _problems(report)["duplicate_post"] == ["1", "6"]
    assert report["duplicate_posts"] == {"groups": 1, "groups_with_differing_labels": 0}


def test_invalid_guid_is_never_opened(tmp_path, monkeypatch):
    root = make_lab5(tmp_path, {"1": "positive"}, [], train_lines=["1,positive", "/abs/x,negative"])
    opened = []
    real_check = reading.check_image
    monkeypatch.setattr(reading, "check_image", lambda path: opened.append(path) or real_check(path))
    reading.prepare(root, show_progress=False)
    assert all("abs" not in str(p) for p in opened)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "CMYK", "I;16"])
def test_image_modes_convert_to_rgb(tmp_path, mode):
    path = tmp_path / "x.jpg"
    write_image(path, mode=mode, fmt="PNG" if mode in ("P", "RGBA", "I;16") else "JPEG")
    assert reading.check_image(path) is None


def test_bad_list_header_is_an_error_naming_file_and_line(tmp_path):
    root = make_lab5(tmp_path, {"1": "positive"}, [])
    (root / "train.txt").write_text("\n\nid;label\n1;positive\n", encoding="utf-8")
    with pytest.raises(MsaError, match=r"train.txt:3: expected a header line"):
        reading.prepare(root, show_progress=False)


def test_headerless_list_is_read(tmp_path):
    root = make_lab5(tmp_path, {"1": "positive", "2": "negative"}, [])
    (root / "train.txt").write_text("1,positive\n2,negative\n", encoding="utf-8")
    pairs, _ = reading.prepare(root, show_progress=False)
    assert [p.label for p in pairs] == ["positive", "negative"]


def test_missing_folders_are_clear_errors(tmp_path):
    with pytest.raises(MsaError, match=r"^data.root: .*absent not found; `msa demo-data "):
        reading.prepare(tmp_path / "absent", show_progress=False)
    (tmp_path / "train.txt").write_text("guid,tag\n", encoding="utf-8")
    with pytest.raises(MsaError, match=r"data.*folder not found"):
        reading.prepare(tmp_path, show_progress=False)


def test_manifest_round_trip(tmp_path):
    root = make_lab5(tmp_path / "lab5", {"1": "positive"}, ["2"], texts={"1": "ü, \"quoted\"\nline"})
    pairs, report = reading.prepare(root, show_progress=False)
    prepared.write(pairs, tmp_path / "m.jsonl")
    assert prepared.read(tmp_path / "m.jsonl") == pairs
    files.write_json(tmp_path / "r.json", report)
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8")) == report


def test_a_guid_too_long_for_a_file_name_is_a_skip_with_its_reason(tmp_path):
    long_guid = "g" * 300  # a plain name, longer than any file name may be
    root = make_lab5(tmp_path, {"1": "positive"}, [], test_lines=[f"{long_guid},null"])
    pairs, report = reading.prepare(root, show_progress=False)
    assert [p.guid for p in pairs] == ["1"]
    unreadable = report["problems"]["unreadable_post"]
    assert unreadable["guids"] == [long_guid] and unreadable["skips_pair"]
    assert "File name too long" in unreadable["reasons"][long_guid]
    assert report["guids"] == {"listed": 2, "usable": 1, "skipped": 1, "unaccounted": []}


def test_a_list_line_past_the_csv_modules_limit_is_a_skip(tmp_path):
    root = make_lab5(tmp_path, {"1": "positive"}, [],
                     train_lines=["1,positive", "2," + "x" * 200_000, "3,negative"])
    pairs, report = reading.prepare(root, show_progress=False)
    assert [p.guid for p in pairs] == ["1"]
    assert report["problems"]["unreadable_row"]["guids"] == ["train.txt:3"]
    assert "field larger than field limit" in report["problems"]["unreadable_row"]["reasons"][
        "train.txt:3"]
    assert report["problems"]["missing_text"]["guids"] == ["3"]


def test_an_unreadable_image_records_why(tmp_path):
    root = make_lab5(tmp_path, {"1": "positive", "2": "negative"}, [])
    (root / "data" / "2.jpg").write_bytes(b"not an image")
    _, report = reading.prepare(root, show_progress=False)
    assert report["problems"]["unreadable_image"]["reasons"] == {
        "2": "UnidentifiedImageError: cannot identify image file "
             f"'{root / 'data' / '2.jpg'}'"}


def test_lines_break_where_editors_break_them(tmp_path):
    # a form feed or U+2028 inside a line is not a line break, \r alone is
    root = make_lab5(tmp_path, {"1": "positive", "2": "negative", "3": "neutral"}, [])
    (root / "train.txt").write_text("guid,tag\r1,positive\x0c\n2,negative\u2028x\r\n3,neutral\n",
                                    encoding="utf-8", newline="")
    pairs, report = reading.prepare(root, show_progress=False)
    assert [(p.guid, p.label) for p in pairs] == [("1", "positive"), ("3", "neutral")]
    assert report["problems"]["unknown_tag"]["guids"] == ["2"]  # its tag: 'negative\u2028x'


def test_lists_without_a_row_are_one_line_naming_them(tmp_path):
    root = make_lab5(tmp_path, {}, [])
    with pytest.raises(MsaError, match=r"train.txt and .*test_without_label.txt: no post named"):
        reading.prepare(root, show_progress=False)


def test_the_data_report_is_written_and_read_in_one_place(tmp_path):
    from msa.data import posts

    (tmp_path / "train.txt").write_text("guid,tag\n1,positive\n", encoding="utf-8")
    (tmp_path / "test_without_label.txt").write_text("guid,tag\n", encoding="utf-8")
    (tmp_path / "data").mkdir()
    _, report = reading.prepare(tmp_path, show_progress=False)
    assert report["problems"]["missing_text"]["count"] == 1  # a report with something in it
    posts.write_report(report, tmp_path / "out" / "data.json")
    assert posts.read_report(tmp_path / "out" / "data.json") == report
    with pytest.raises(MsaError, match=r"absent.json: no data report here \(run the prepare"):
        posts.read_report(tmp_path / "absent.json")
