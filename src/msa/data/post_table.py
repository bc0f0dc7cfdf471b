"""A plain table of posts: a CSV or JSONL file (`data.manifest_file`) in the data folder.

One row per post: an id, the text inline or a text file's path, an image path (paths relative to
the table's folder, never leaving the data folder), a label (empty for a post to predict) and an
optional split (`train` / `test`, over the label's say). Column names come from `data.columns`.
An id on several rows is settled as in every layout (`rows.settle`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
from pathlib import Path

from msa import LABELS
from msa.errors import MsaError
from msa.params import ManifestColumns
from msa.data.posts import Candidate, label_of
from msa.data.rows import Layout, Row, inside, lines, read_text

SPLITS = ("train", "test")
DEMO_FILES = "images"


class _RepeatedKey(ValueError):
    pass


def _object_without_repeats(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _RepeatedKey
    return dict(pairs)


def _csv_records(content: str) -> list[tuple[int, list[str]]]:
    """(last line of the record, cells) for every record. A cell may be as long as the file:
    the csv module's default limit (128 KiB) would otherwise end the read in mid-file."""
    limit = csv.field_size_limit(sys.maxsize)
    try:
        reader = csv.reader(io.StringIO(content, newline=""))
        return [(reader.line_num, record) for record in reader]
    finally:
        csv.field_size_limit(limit)


def _cell(row: dict, column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


class PostTable(Layout):
    def __init__(self, root: Path, manifest_file: str, columns: ManifestColumns,
                 labels_required: bool = True):
        self.root, self.columns, self.labels_required = root, columns, labels_required
        self.path = root / manifest_file
        if self.path.suffix.lower() not in (".csv", ".jsonl"):
            raise MsaError(f"data.manifest_file: {manifest_file!r} is neither .csv nor .jsonl")
        if not self.path.is_file():
            raise MsaError(f"{self.path}: manifest not found (data.manifest_file, inside "
                           "data.root)")
        if inside(root, root, manifest_file) is None:
            raise MsaError(f"data.manifest_file: {manifest_file!r} leaves data.root")
        self.jsonl = self.path.suffix.lower() == ".jsonl"
        self.present: set[str] = set()  # every column some readable row has
        self.source = str(self.path)

    def rows(self):
        content = read_text(self.path, "manifest")
        name = self.path.name
        if self.jsonl:
            for number, line in lines(content):
                yield f"{name}:{number}", line
            # A JSONL table says its columns row by row: checked once every row is read.
            if self.present:
                self._check_columns()
            return
        records = [(n, cells) for n, cells in _csv_records(content) if cells]
        if not records:
            return
        header = records[0][1]
        for column in set(dataclasses.astuple(self.columns)):
            if header.count(column) > 1:
                raise MsaError(f"{self.path}:{records[0][0]}: column {column!r} appears "
                               f"{header.count(column)} times")
        self.present = set(header)
        self._check_columns()
        for number, cells in records[1:]:
            yield f"{name}:{number}", (dict(zip(header, cells)) if len(cells) == len(header)
                                       else None)

    def _check_columns(self) -> None:
        """Every column the table lacks, in one line: with the columns it has and the
        data.columns keys that would name them."""
        columns = self.columns
        needed = ["id", "image_path", *["label"] * self.labels_required]
        lacking = [f"{getattr(columns, key)!r} (data.columns.{key})" for key in needed
                   if getattr(columns, key) not in self.present]
        if columns.text not in self.present and columns.text_path not in self.present:
            lacking.append(f"neither a {columns.text!r} nor a {columns.text_path!r} column "
                           "(data.columns.text, data.columns.text_path)")
        if lacking:
            has = ", ".join(repr(c) for c in sorted(self.present)) or "none"
            raise MsaError(f"{self.path}: no column {'; '.join(lacking)}; its columns are {has}: "
                           "set those data.columns keys to the names it uses")

    def read_row(self, row: Row, raw) -> Candidate | None:
        if self.jsonl:
            try:
                raw = json.loads(raw, object_pairs_hook=_object_without_repeats)
            except (json.JSONDecodeError, _RepeatedKey):
                raw = None
            if isinstance(raw, dict):
                self.present |= set(raw)
            else:
                raw = None
        if raw is None:
            row.skip("malformed_row")
            return None
        return self._post(row, raw)

    def _post(self, row: Row, fields: dict) -> Candidate | None:
        columns = self.columns
        guid = _cell(fields, columns.id)
        split = label_of(_cell(fields, columns.split))
        label = label_of(_cell(fields, columns.label))
        if not guid or (split and split not in SPLITS):
            row.skip("malformed_row")
            return None
        if not row.name(guid):
            return None
        split = split or ("train" if label else "test")
        row.claim(split, label if label in LABELS else None)
        if split == "train" and not label:
            row.skip("missing_label")
            return None
        if split == "train" and label not in LABELS:
            row.skip("unknown_tag")
            return None
        image_file, text_file = _cell(fields, columns.image_path), _cell(fields, columns.text_path)
        inline = _cell(fields, columns.text)
        if not image_file:
            row.skip("missing_image")
            return None
        base = self.path.parent
        image = inside(self.root, base, image_file)
        text_path = inside(self.root, base, text_file) if text_file and not inline else None
        if image is None or (text_file and not inline and text_path is None):
            row.skip("path_outside_root")
            return None
        # Inline text wins; an empty cell with no file to read is an empty text, kept and noted.
        text = inline if inline or (columns.text in fields and not text_file) else None
        return Candidate(guid, split, label if split == "train" else None, image, text_path, text)


def open_layout(name: str, root: Path, data, for_prediction: bool = False,
                predict_list: str | Path | None = None) -> PostTable:
    """A table to predict needs no label column."""
    if predict_list:
        raise MsaError(f"--input: a list file is for the lab5 layout; {name} names its posts "
                       "itself")
    return PostTable(root, data.manifest_file, data.columns, labels_required=not for_prediction)


def write_demo(name: str, root: Path, posts: list, n_labelled: int, rng) -> None:
    """posts.csv: every other post's text inline (read back from its file, which goes), the
    rest by path; the first `n_labelled` posts labelled, the rest to predict."""
    folder = root / DEMO_FILES
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["id", "text", "text_path", "image_path", "label"])
    for k, post in enumerate(posts):
        text_file = folder / f"{post.guid}.txt"
        inline = rng.random() < 0.5
        text = ""
        if inline:
            raw = text_file.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("gb18030")
            text_file.unlink()
        writer.writerow([post.guid, text, "" if inline else f"{DEMO_FILES}/{post.guid}.txt",
                         f"{DEMO_FILES}/{post.guid}.jpg", post.label if k < n_labelled else ""])
    (root / "posts.csv").write_text(table.getvalue(), encoding="utf-8")
