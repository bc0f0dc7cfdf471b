"""The lab5 layout: `train.txt` (guid,tag), `test_without_label.txt` (guid,null), and
`data/{guid}.jpg|txt`."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from msa import LABELS
from msa.errors import MsaError
from msa.posts import GUID_PATTERN, Candidate, Report

TRAIN_LIST = "train.txt"
TEST_LIST = "test_without_label.txt"


@dataclass
class Row:
    guid: str
    tag: str
    where: str  # "file:line", for messages


def read_list(path: Path, report: Report) -> list[Row]:
    """Parse one list file; rows that cannot be read become `malformed_row` problems."""
    if not path.is_file():
        raise MsaError(f"{path}: list file not found")
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MsaError(f"{path}: not a text file (not valid UTF-8)") from None
    lines = [(n, line) for n, line in enumerate(content.splitlines(), start=1) if line.strip()]
    if not lines:
        return []
    first_no, first = lines[0]
    header = [cell.strip().lower() for cell in next(csv.reader([first]))]
    if "guid" in header:
        if "tag" not in header:
            raise MsaError(f"{path}:{first_no}: header has no 'tag' column (expected 'guid,tag')")
        guid_col, tag_col, width = header.index("guid"), header.index("tag"), len(header)
        body = lines[1:]
    elif len(header) == 2 and GUID_PATTERN.match(header[0]):
        guid_col, tag_col, width = 0, 1, 2  # a list without a header line
        body = lines
    else:
        raise MsaError(f"{path}:{first_no}: expected a header line 'guid,tag', got {first!r}")
    rows = []
    for number, line in body:
        where = f"{path.name}:{number}"
        cells = [cell.strip() for cell in next(csv.reader([line]))]
        if len(cells) != width or not cells[guid_col]:
            report.add("malformed_row", where)
            continue
        rows.append(Row(cells[guid_col], cells[tag_col].lower(), where))
    return rows


def _labelled_rows(rows: list[Row], report: Report) -> dict[str, str]:
    """guid -> label for the train list, settling duplicates, conflicts and unknown tags."""
    tags_by_guid: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row.tag not in LABELS:
            report.add("unknown_tag", row.guid)
            continue
        tags_by_guid[row.guid].append(row.tag)
    labels = {}
    for guid, tags in tags_by_guid.items():
        if len(set(tags)) > 1:
            report.add("conflicting_labels", guid)
        else:
            if len(tags) > 1:
                report.add("duplicate_guid", guid)
            labels[guid] = tags[0]
    return labels


def candidates(root: Path, report: Report, train_list: str | Path | None = None,
               test_list: str | Path | None = None) -> list[Candidate]:
    """The lists default to the lab5 names inside `root`; `train_list=""` reads no labelled list
    (prediction on a list of one's own)."""
    data_dir = root / "data"
    if not data_dir.is_dir():
        raise MsaError(f"{data_dir}: folder not found (the lab5 layout keeps pairs in ROOT/data/)")
    train_list = root / TRAIN_LIST if train_list is None else train_list
    test_list = root / TEST_LIST if test_list is None else test_list
    train_rows = read_list(Path(train_list), report) if train_list != "" else []
    test_rows = read_list(Path(test_list), report)
    report.listed |= {r.guid for r in train_rows + test_rows}

    labels = _labelled_rows([r for r in train_rows if report.valid_guid(r.guid)], report)
    test_guids: list[str] = []
    for row in test_rows:
        if not report.valid_guid(row.guid):
            continue
        if row.guid in test_guids:
            report.add("duplicate_guid", row.guid)
        else:
            test_guids.append(row.guid)
    for guid in test_guids:
        if guid in labels:
            # Kept for prediction; dropped from training so no fold sees its own test pair.
            report.add("guid_in_both_lists", guid)
            del labels[guid]
    named = [(g, "train", labels[g]) for g in labels] + [(g, "test", None) for g in test_guids]
    return [Candidate(g, split, label, data_dir / f"{g}.jpg", data_dir / f"{g}.txt")
            for g, split, label in named]
