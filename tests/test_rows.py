"""The row guard: what one row raises is a recorded skip; only whole files stop a run."""

import pytest

from msa.data import rows
from msa.errors import MsaError
from msa.data.posts import Candidate, Report


class Numbers(rows.Layout):
    """A toy layout, one id a row: a new layout gets the guard by being a Layout."""

    def __init__(self, lines, fail_after=None):
        self.lines, self.fail_after = lines, fail_after

    def rows(self):
        for number, line in enumerate(self.lines, start=1):
            if number == self.fail_after:
                raise OSError("the disk went away")
            yield f"n.txt:{number}", line

    def read_row(self, row, line):
        if line == "parse-error":
            raise ValueError("cannot parse\nthis")  # before an id is read: its file:line
        if not row.name(line.split(":")[0]):
            return None
        label = line.split(":")[1] if line.count(":") == 2 else "positive"
        row.claim("train", None if line.endswith(":skip") else label)
        if line.endswith(":open-error"):
            raise OSError(36, "File name too long")  # after: the id it named
        if line.endswith(":skip"):
            row.skip("unknown_tag")
            return None
        return Candidate(row.guid, "train", label, None)

    source = "n.txt"


def test_what_a_row_raises_is_a_skip_under_its_id_or_its_line():
    report = Report()
    found = rows.read_layout(Numbers(["b", "parse-error", "a", "c:open-error", "../d", "e:skip",
                                      "b"]), report)
    assert [c.guid for c in found] == ["b", "a"]  # settled after the guard: b once
    assert report.problems["duplicate_guid"] == ["b"]
    assert report.problems["unreadable_row"] == ["n.txt:2", "c"]
    assert report.reasons["unreadable_row"] == {
        "n.txt:2": "ValueError: cannot parse this",
        "c": "OSError: [Errno 36] File name too long"}
    assert report.problems["invalid_guid"] == ["../d"]
    assert report.problems["unknown_tag"] == ["e"]
    assert report.listed == {"a", "b", "c", "../d", "e"}


def test_a_repeated_id_is_kept_only_where_every_row_gives_it_one_accepted_label():
    report = Report()
    found = rows.read_layout(Numbers(["a:positive:x", "b:positive:x", "a:negative:x",
                                      "c:neutral:x", "b:skip", "c:neutral:x", "d:skip"]), report)
    assert [(c.guid, c.label) for c in found] == [("c", "neutral")]
    assert report.problems["conflicting_labels"] == ["a", "b"]  # b: its other row's label refused
    assert report.problems["duplicate_guid"] == ["c"]
    assert report.problems["unknown_tag"] == ["b", "d"]


def test_a_post_to_predict_is_never_trained_on():
    class Lists(Numbers):
        def read_row(self, row, line):
            guid, split, label = line.split(":")
            row.name(guid)
            row.claim(split, label or None)
            return Candidate(guid, split, label or None, None) if label or split == "test" \
                else None

    report = Report()
    found = rows.read_layout(Lists(["a:train:positive", "a:test:", "b:train:negative",
                                    "b:train:positive", "b:test:", "c:test:", "c:test:"]), report)
    assert [(c.guid, c.split, c.label) for c in found] == [
        ("a", "test", None), ("b", "test", None), ("c", "test", None)]
    assert report.problems["guid_in_both_lists"] == ["a"]
    assert report.problems["conflicting_labels"] == ["b"]
    assert report.problems["duplicate_guid"] == ["c"]


def test_a_layout_that_names_no_post_is_one_line_naming_its_files():
    with pytest.raises(MsaError, match=r"^n.txt: no post named \(no row beyond a header\)$"):
        rows.read_layout(Numbers([]), Report())


def test_a_row_source_that_fails_is_one_line_naming_the_last_row_read():
    with pytest.raises(MsaError, match=r"^rows after n.txt:1 cannot be read \(OSError: the disk "):
        rows.read_layout(Numbers(["a", "b"], fail_after=2), Report())


def test_an_msa_error_in_a_row_is_not_swallowed():
    def read(row, raw):
        raise MsaError("whole file")

    with pytest.raises(MsaError, match="whole file"):
        rows.guarded(Report(), [("f:1", "x")], read, "unreadable_row")


@pytest.mark.parametrize("guid, plain", [("a-1_B", True), ("1\n", False), ("", False),
                                         ("a.b", False), ("é", False)])
def test_only_plain_names_name_files(guid, plain):
    report = Report()
    row = rows.Row(report, "f:1")
    assert row.name(guid) is plain
    assert report.problems["invalid_guid"] == ([] if plain else [guid])


def test_lines_are_numbered_as_editors_number_them():
    assert rows.lines("a\r\nb\rc\n\n  \nd\x0ce\u2028f\x85") == [
        (1, "a"), (2, "b"), (3, "c"), (6, "d\x0ce\u2028f\x85")]


def test_inside_refuses_what_leaves_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "img").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    (root / "link").symlink_to(tmp_path / "out")
    assert rows.inside(root, root / "img", "../img/a.jpg") == (root / "img" / "a.jpg").resolve()
    for relative in ("", "../../out/a.jpg", str(tmp_path / "out" / "a.jpg"), "../link/a.jpg"):
        assert rows.inside(root, root / "img", relative) is None


def test_read_text_says_in_one_line_why_a_file_cannot_be_read(tmp_path):
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfhello")
    assert rows.read_text(tmp_path / "bom.txt", "list") == "hello"
    (tmp_path / "bin.txt").write_bytes(b"\xff\xd8")
    with pytest.raises(MsaError, match="bin.txt: not a text file"):
        rows.read_text(tmp_path / "bin.txt", "list")
    with pytest.raises(MsaError, match="absent.txt: list not found"):
        rows.read_text(tmp_path / "absent.txt", "list")
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(MsaError, match="folder.txt: list not found"):
        rows.read_text(tmp_path / "folder.txt", "list")
