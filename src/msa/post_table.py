"""A plain table of posts: a CSV or JSONL file (`data.manifest_file`) in the data folder.

One row per post: an id, the text inline or a text file's path, an image path (paths relative to
the table's folder, never leaving the data folder), a label (empty for a post to predict) and an
optional split (`train` / `test`, over the label's say). Column names come from `data.columns`.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from msa import LABELS
from msa.errors import MsaError
from msa.params import ManifestColumns
from msa.posts import Candidate, Report

SPLITS = ("train", "test")


def _rows(path: Path):
    """(where, row dict or None where the line cannot be read) for each post row."""
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MsaError(f"{path}: not a text file (not valid UTF-8)") from None
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            yield f"{path.name}:{number}", row if isinstance(row, dict) else None
        return
    reader = csv.DictReader(io.StringIO(content, newline=""))
    for row in reader:
        where = f"{path.name}:{reader.line_num}"
        yield where, None if None in row or None in row.values() else row


def _cell(row: dict, column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


def _inside(root: Path, base: Path, relative: str) -> Path | None:
    path = (base / relative).resolve()
    return path if relative and path.is_relative_to(root.resolve()) else None


def candidates(root: Path, manifest_file: str, columns: ManifestColumns,
               report: Report) -> list[Candidate]:
    path = root / manifest_file
    if path.suffix.lower() not in (".csv", ".jsonl"):
        raise MsaError(f"data.manifest_file: {manifest_file!r} is neither .csv nor .jsonl")
    if not path.is_file():
        raise MsaError(f"{path}: manifest not found (data.manifest_file, inside data.root)")
    if _inside(root, root, manifest_file) is None:
        raise MsaError(f"data.manifest_file: {manifest_file!r} leaves data.root")
    rows = list(_rows(path))
    readable = [row for _, row in rows if row is not None]
    present = set().union(*readable) if readable else set()
    for needed in (columns.id, columns.image_path, columns.label):
        if readable and needed not in present:
            raise MsaError(f"{path}: no column {needed!r} (data.columns names it)")
    if readable and columns.text not in present and columns.text_path not in present:
        raise MsaError(f"{path}: neither a {columns.text!r} nor a {columns.text_path!r} column")
    posts, seen = [], set()
    for where, row in rows:
        if row is None:
            report.add("malformed_row", where)
            continue
        guid = _cell(row, columns.id)
        split, label = _cell(row, columns.split).lower(), _cell(row, columns.label).lower()
        if not guid or (split and split not in SPLITS):
            report.add("malformed_row", where)
            continue
        report.listed.add(guid)
        if not report.valid_guid(guid):
            continue
        if guid in seen:
            report.add("duplicate_guid", guid)
            continue
        seen.add(guid)
        split = split or ("train" if label else "test")
        if split == "train" and not label:
            report.add("missing_label", guid)
            continue
        if split == "train" and label not in LABELS:
            report.add("unknown_tag", guid)
            continue
        image_file, text_file = _cell(row, columns.image_path), _cell(row, columns.text_path)
        inline = _cell(row, columns.text)
        if not image_file:
            report.add("missing_image", guid)
            continue
        image = _inside(root, path.parent, image_file)
        text_path = _inside(root, path.parent, text_file) if text_file and not inline else None
        if image is None or (text_file and not inline and text_path is None):
            report.add("path_outside_root", guid)
            continue
        # Inline text wins; an empty cell with no file to read is an empty text, kept and noted.
        text = inline if inline or (columns.text in row and not text_file) else None
        posts.append(Candidate(guid, split, label if split == "train" else None, image,
                               text_path, text))
    return posts
