"""The lab5 layout: `train.txt` (guid,tag), `test_without_label.txt` (guid,null), and
`data/{guid}.jpg|txt`. An id in both lists is predicted, never trained on (`rows.settle`)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from msa import LABELS
from msa.errors import MsaError
from msa.data.posts import GUID_PATTERN, Candidate, label_of
from msa.data.rows import Layout, Row, lines, read_text, reason

TRAIN_LIST = "train.txt"
TEST_LIST = "test_without_label.txt"
DEMO_FILES = "data"


@dataclass
class ListLine:
    split: str  # "train" or "test": the list it is in
    text: str
    guid_col: int
    tag_col: int
    width: int


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in next(csv.reader([line]))]


class Lab5(Layout):
    """The lists default to the lab5 names inside `root`; `train_list=""` reads no labelled list
    (prediction on a list of one's own)."""

    def __init__(self, root: Path, train_list: str | Path | None = None,
                 test_list: str | Path | None = None):
        self.data_dir = root / "data"
        if not self.data_dir.is_dir():
            raise MsaError(f"{self.data_dir}: folder not found (the lab5 layout keeps pairs in "
                           "ROOT/data/)")
        self.train_list = root / TRAIN_LIST if train_list is None else train_list
        self.test_list = root / TEST_LIST if test_list is None else test_list
        self.source = " and ".join(str(path) for path in (self.train_list, self.test_list)
                                   if path != "")

    def rows(self):
        if self.train_list != "":
            yield from self._list(Path(self.train_list), "train")
        yield from self._list(Path(self.test_list), "test")

    def _list(self, path: Path, split: str):
        numbered = lines(read_text(path, "list file"))
        if not numbered:
            return
        first_no, first = numbered[0]
        try:
            header = [cell.lower() for cell in _cells(first)]
        except csv.Error as exc:
            raise MsaError(f"{path}:{first_no}: the header line cannot be read ({reason(exc)})"
                           ) from None
        if "guid" in header:
            if "tag" not in header:
                raise MsaError(f"{path}:{first_no}: header has no 'tag' column (expected "
                               "'guid,tag')")
            guid_col, tag_col, width = header.index("guid"), header.index("tag"), len(header)
            numbered = numbered[1:]
        elif len(header) == 2 and GUID_PATTERN.fullmatch(header[0]):
            guid_col, tag_col, width = 0, 1, 2  # a list without a header line
        else:
            raise MsaError(f"{path}:{first_no}: expected a header line 'guid,tag', got "
                           f"{first[:80]!r}")
        for number, text in numbered:
            yield f"{path.name}:{number}", ListLine(split, text, guid_col, tag_col, width)

    def read_row(self, row: Row, line: ListLine) -> Candidate | None:
        cells = _cells(line.text)
        if len(cells) != line.width or not cells[line.guid_col]:
            row.skip("malformed_row")
            return None
        if not row.name(cells[line.guid_col]):
            return None
        if line.split == "test":
            row.claim("test")
            return self._candidate(row.guid, "test", None)
        tag = label_of(cells[line.tag_col])
        row.claim("train", tag if tag in LABELS else None)
        if tag not in LABELS:
            row.skip("unknown_tag")
            return None
        return self._candidate(row.guid, "train", tag)

    def _candidate(self, guid: str, split: str, label: str | None) -> Candidate:
        return Candidate(guid, split, label, self.data_dir / f"{guid}.jpg",
                         self.data_dir / f"{guid}.txt")


def open_layout(name: str, root: Path, data, for_prediction: bool = False,
                predict_list: str | Path | None = None) -> Lab5:
    """`predict_list`: a list of one's own (guid,tag) naming the posts to predict, in place of
    both lists."""
    return Lab5(root, "" if predict_list else None, predict_list)


def write_demo(name: str, root: Path, posts: list, n_labelled: int, rng) -> None:
    """The two lists: the first `n_labelled` posts labelled, the rest to predict."""
    train = "".join(f"{p.guid},{p.label}\n" for p in posts[:n_labelled])
    test = "".join(f"{p.guid},null\n" for p in posts[n_labelled:])
    (root / TRAIN_LIST).write_text("guid,tag\n" + train, encoding="utf-8")
    (root / TEST_LIST).write_text("guid,tag\n" + test, encoding="utf-8")
