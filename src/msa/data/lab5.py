"""The lab5 layout: `train.txt` (guid,tag), `test_without_label.txt` (guid,null), and
`data/{guid}.jpg|txt`."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from msa import LABELS
from msa.errors import MsaError
from msa.data.posts import GUID_PATTERN, Candidate, Report, label_of
from msa.data.rows import Layout, Row, lines, read_text, reason

TRAIN_LIST = "train.txt"
TEST_LIST = "test_without_label.txt"


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
            return self._candidate(row.guid, "test", None)
        tag = label_of(cells[line.tag_col])
        if tag not in LABELS:
            row.skip("unknown_tag")
            return None
        return self._candidate(row.guid, "train", tag)

    def settle(self, candidates: list[Candidate], report: Report) -> list[Candidate]:
        """One label a train guid (duplicates noted, conflicts skipped), one entry a test guid,
        and a guid in both lists kept for prediction only."""
        tags_by_guid: dict[str, list[str]] = defaultdict(list)
        for candidate in candidates:
            if candidate.split == "train":
                tags_by_guid[candidate.guid].append(candidate.label)
        labels = {}
        for guid, tags in tags_by_guid.items():
            if len(set(tags)) > 1:
                report.add("conflicting_labels", guid)
            else:
                if len(tags) > 1:
                    report.add("duplicate_guid", guid)
                labels[guid] = tags[0]
        test_guids: list[str] = []
        for candidate in candidates:
            if candidate.split != "test":
                continue
            if candidate.guid in test_guids:
                report.add("duplicate_guid", candidate.guid)
            else:
                test_guids.append(candidate.guid)
        for guid in test_guids:
            if guid in labels:
                # Kept for prediction; dropped from training so no fold sees its own test pair.
                report.add("guid_in_both_lists", guid)
                del labels[guid]
        return ([self._candidate(g, "train", label) for g, label in labels.items()]
                + [self._candidate(g, "test", None) for g in test_guids])

    def _candidate(self, guid: str, split: str, label: str | None) -> Candidate:
        return Candidate(guid, split, label, self.data_dir / f"{guid}.jpg",
                         self.data_dir / f"{guid}.txt")
