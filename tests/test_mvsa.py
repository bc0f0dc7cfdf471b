import pytest

from msa.data import mvsa, reading
from msa.errors import MsaError
from msa.params import DataParams
from conftest import write_image


def _problems(report):
    return {name: item["guids"] for name, item in report["problems"].items() if item["count"]}


def make_mvsa(root, rows, header=None, files=None):
    """An MVSA folder: labelResultAll.txt from `rows` (id, "text,image" cells...), and an image
    and text for every id (or those in `files`)."""
    annotators = len(rows[0]) - 1 if rows else 1
    header = header or "ID\t" + "\t".join(["text,image"] * annotators)
    lines = [header, *("\t".join(row) for row in rows)]
    (root / "data").mkdir(parents=True, exist_ok=True)
    for k, guid in enumerate(files if files is not None else [r[0] for r in rows]):
        write_image(root / "data" / f"{guid}.jpg", colour=(30 * k % 255, 80, 120))
        (root / "data" / f"{guid}.txt").write_text(f"post {guid}", encoding="utf-8")
    (root / mvsa.LABEL_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("text, image, label", [
    ("positive", "positive", "positive"),   # both agree: that label
    ("negative", "negative", "negative"),
    ("neutral", "neutral", "neutral"),
    ("neutral", "positive", "positive"),    # one neutral: the other one
    ("negative", "neutral", "negative"),
    ("positive", "negative", None),         # positive against negative: dropped
    ("negative", "positive", None),
])
def test_post_label_rule(text, image, label):
    assert mvsa.post_label(text, image) == label


@pytest.mark.parametrize("votes, label", [
    (["positive"], "positive"),                           # Single: the one annotator
    (["positive", "positive", "negative"], "positive"),   # two of three
    (["neutral", "neutral", "neutral"], "neutral"),
    (["positive", "negative", "neutral"], None),          # no majority
])
def test_majority_of_annotators(votes, label):
    assert mvsa.majority(votes) == label


def _prepare(root, layout="mvsa_multiple", **kwargs):
    return reading.prepare(root, DataParams(format=layout, **kwargs), show_progress=False)


def test_multiple_every_case_of_the_rule_and_every_bad_row(tmp_path):
    rows = [
        ["1", "positive,positive", "positive,neutral", "negative,positive"],  # text, image pos
        ["2", "neutral,negative", "neutral,negative", "positive,negative"],   # neutral + neg
        ["3", "positive,negative", "positive,negative", "positive,negative"], # pos vs neg
        ["4", "positive,neutral", "negative,neutral", "neutral,neutral"],     # text: no majority
        ["5", "neutral,neutral", "neutral,neutral", "neutral,positive"],      # both neutral
        ["6", "positive,happy", "positive,positive", "positive,positive"],    # unknown label
        ["7", "positive,positive", "positive"],                               # malformed
        ["8", "positive,positive", "positive,positive", "positive,positive"],  # no files
        ["../9", "positive,positive", "positive,positive", "positive,positive"],
        ["1", "negative,negative", "negative,negative", "negative,negative"],  # id again,
        ["2", "neutral,negative", "negative,negative", "neutral,negative"],     # other label;
    ]                                                                            # same label
    root = make_mvsa(tmp_path, rows, files=["1", "2", "3", "4", "5", "6"])
    (root / "ids.txt").write_text("5\n3\n", encoding="utf-8")  # 3: dropped, so not predicted
    pairs, report = _prepare(root, test_list="ids.txt")
    labels = {p.guid: p.label or "(test)" for p in pairs}
    # An id again with another label: neither row is believed (was: the first kept).
    assert labels == {"2": "negative", "5": "(test)"}
    problems = _problems(report)
    assert problems == {"conflicting_modalities": ["3"], "no_majority": ["4"],
                        "unknown_tag": ["6"], "malformed_row": ["labelResultAll.txt:8"],
                        "missing_text": ["8"], "invalid_guid": ["../9"],
                        "conflicting_labels": ["1"], "duplicate_guid": ["2"]}
    assert report["guids"]["unaccounted"] == []
    assert report["guids"]["listed"] == report["guids"]["usable"] + report["guids"]["skipped"]


def test_single_reads_one_annotator_and_the_rule_decides(tmp_path):
    rows = [["1", "neutral,positive"], ["2", "negative,positive"], ["3", "negative,negative"],
            ["4", "neutral,neutral"]]
    root = make_mvsa(tmp_path, rows)
    (root / "test_ids.txt").write_text("4\n2\n", encoding="utf-8")
    pairs, report = _prepare(root, "mvsa_single", test_list="test_ids.txt")
    assert [(p.guid, p.split, p.label) for p in pairs] == [
        ("1", "train", "positive"), ("3", "train", "negative"), ("4", "test", None)]
    assert _problems(report) == {"conflicting_modalities": ["2"]}


def test_header_that_names_the_wrong_number_of_annotators_is_one_line(tmp_path):
    root = make_mvsa(tmp_path, [["1", "positive,positive"]])
    with pytest.raises(MsaError, match="names 1 annotators; data.format mvsa_multiple has 3"):
        _prepare(root)
    (root / mvsa.LABEL_FILE).unlink()
    with pytest.raises(MsaError, match="label file not found"):
        _prepare(root, "mvsa_single")


def test_test_list_naming_an_unknown_id_is_an_error(tmp_path):
    root = make_mvsa(tmp_path, [["1", "positive,positive"], ["2", "negative,negative"]])
    (root / "ids.txt").write_text("1\n77\n", encoding="utf-8")
    with pytest.raises(MsaError, match="1 ids not in labelResultAll.txt, first '77'"):
        _prepare(root, "mvsa_single", test_list="ids.txt")


def test_test_fraction_is_stratified_and_follows_its_seed(tmp_path):
    labels = ["positive"] * 30 + ["negative"] * 20 + ["neutral"] * 10
    rows = [[str(k), f"{label},{label}"] for k, label in enumerate(labels)]
    root = make_mvsa(tmp_path, rows)
    pairs, report = _prepare(root, "mvsa_single", test_fraction=0.2, test_seed=0)
    test = {p.guid for p in pairs if p.split == "test"}
    assert len(test) == 12 and report["pairs"]["test"] == 12
    held_out = [labels[int(g)] for g in test]
    assert (held_out.count("positive"), held_out.count("negative"), held_out.count("neutral")) \
        == (6, 4, 2)
    again, _ = _prepare(root, "mvsa_single", test_fraction=0.2, test_seed=0)
    other, _ = _prepare(root, "mvsa_single", test_fraction=0.2, test_seed=1)
    assert {p.guid for p in again if p.split == "test"} == test
    assert {p.guid for p in other if p.split == "test"} != test


def test_annotator_cells_read_case_and_spaces_aside_as_lab5_tags_are(tmp_path):
    rows = [["1", " Positive , NEUTRAL "], ["2", "negative ,negative"], ["3", "positive"]]
    root = make_mvsa(tmp_path, rows)
    (root / "ids.txt").write_text("2\n", encoding="utf-8")
    pairs, report = _prepare(root, "mvsa_single", test_list="ids.txt")
    assert [(p.guid, p.split, p.label) for p in pairs] == [("1", "train", "positive"),
                                                           ("2", "test", None)]
    assert _problems(report) == {"malformed_row": ["labelResultAll.txt:4"]}


def test_a_folder_without_data_says_so(tmp_path):
    root = make_mvsa(tmp_path, [[str(k), "positive,positive"] for k in range(30)])
    for path in (root / "data").iterdir():
        path.unlink()
    (root / "data").rmdir()
    with pytest.raises(MsaError, match=r"/data: folder not found \(the MVSA layouts keep posts "):
        _prepare(root, "mvsa_single")


def test_an_id_too_long_for_a_file_name_is_a_skip_with_its_reason(tmp_path):
    long_id = "7" * 300
    root = make_mvsa(tmp_path, [["1", "positive,positive"], ["2", "negative,negative"],
                                [long_id, "positive,positive"]], files=["1", "2"])
    (root / "ids.txt").write_text("2\n", encoding="utf-8")
    pairs, report = _prepare(root, "mvsa_single", test_list="ids.txt")
    assert [p.guid for p in pairs] == ["1", "2"]
    assert report["problems"]["unreadable_post"]["guids"] == [long_id]
    assert "File name too long" in report["problems"]["unreadable_post"]["reasons"][long_id]
    assert report["guids"]["unaccounted"] == []


@pytest.mark.parametrize("test_list, message", [
    ("../ids.txt", r"^data.test_list: '../ids.txt' leaves data.root$"),
    ("ids\0.txt", r"^data.test_list: 'ids\\x00.txt' names no file \(ValueError: embedded null"),
    ("latin1.txt", r"latin1.txt: not a text file"),
])
def test_a_test_list_outside_the_folder_or_unreadable_is_one_line(tmp_path, test_list, message):
    root = make_mvsa(tmp_path / "root", [["1", "positive,positive"]])
    (tmp_path / "ids.txt").write_text("1\n", encoding="utf-8")
    (root / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(MsaError, match=message):
        _prepare(root, "mvsa_single", test_list=test_list)


def test_for_prediction_every_usable_post_stays_unsplit(tmp_path):
    rows = [["1", "neutral,positive"], ["2", "negative,positive"], ["3", "negative,negative"]]
    root = make_mvsa(tmp_path, rows)
    pairs, report = reading.prepare(root, DataParams(format="mvsa_single"), show_progress=False,
                                    for_prediction=True)
    assert [p.guid for p in pairs] == ["1", "3"]  # 2: conflicting_modalities, reported
    assert report["problems"]["conflicting_modalities"]["guids"] == ["2"]


def test_a_label_file_without_rows_is_one_line_naming_it(tmp_path):
    root = make_mvsa(tmp_path, [], header="ID\ttext,image")
    with pytest.raises(MsaError, match=r"labelResultAll.txt: no post named"):
        _prepare(root, "mvsa_single")
