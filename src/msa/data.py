"""Reading a lab5 folder: the two lists, text decoding, image checks, the manifest and the report.

Every guid named in either list ends up in exactly one place: the manifest of usable pairs, or a
problem in the report with its reason. Problems that make a pair unusable are skips; the others
(`empty_text`, `duplicate_guid`, `guid_in_both_lists`, ...) are notes on pairs that are kept.
Identical posts (the same image bytes and text under different guids) are kept and noted: when
they carry different labels, they show how far the labels themselves disagree.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import warnings
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from msa import LABELS
from msa.errors import MsaError
from msa.files import atomic_write_text

TRAIN_LIST = "train.txt"
TEST_LIST = "test_without_label.txt"
# A guid names files, so only plain names pass: no separators, no dots, nothing absolute.
GUID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")

# Problems after which the pair is not used; the rest are recorded but the pair is kept.
SKIP_PROBLEMS = (
    "malformed_row",
    "invalid_guid",
    "unknown_tag",
    "conflicting_labels",
    "missing_text",
    "missing_image",
    "unreadable_image",
)
NOTE_PROBLEMS = ("duplicate_guid", "guid_in_both_lists", "empty_text", "replaced_characters",
                 "duplicate_post", "duplicate_post_label_differs")


@dataclass
class Pair:
    guid: str
    split: str  # "train" or "test"
    label: str | None
    text: str
    image: str  # path of the image file


@dataclass
class Report:
    problems: dict[str, list[str]] = field(
        default_factory=lambda: {name: [] for name in SKIP_PROBLEMS + NOTE_PROBLEMS}
    )
    text_encodings: Counter = field(default_factory=Counter)
    replaced_characters: int = 0
    content: dict[str, str] = field(default_factory=dict)  # guid -> digest of image and text
    duplicate_posts: dict[str, int] = field(default_factory=dict)

    def add(self, problem: str, item: str) -> None:
        self.problems[problem].append(item)


@dataclass
class Row:
    guid: str
    tag: str
    where: str  # "file:line", for messages


def _read_list(path: Path, report: Report) -> list[Row]:
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


def decode_text(raw: bytes) -> tuple[str, str, int]:
    """Decode post text: UTF-8 (BOM dropped), then GB18030, else UTF-8 with replacements.

    Returns the text, the encoding used and how many characters were replaced.
    """
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding).strip(), encoding.removesuffix("-sig"), 0
        except UnicodeDecodeError:
            continue
    text = raw.decode("utf-8", errors="replace")
    return text.strip(), "replaced", text.count("\ufffd")


def check_image(path: Path) -> str | None:
    """Decode the image (reduced-size draft where JPEG allows); return why it is unusable, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.draft("RGB", (64, 64))
                image.convert("RGB").load()
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        return f"{exc.__class__.__name__}: {exc}".splitlines()[0][:200]
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "image exceeds the decompression-bomb pixel limit"
    return None


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


def prepare(root: str | Path, show_progress: bool = True, train_list: str | Path | None = None,
            test_list: str | Path | None = None) -> tuple[list[Pair], dict]:
    """Validate and decode every pair under `root`; return the usable pairs and the data report.

    The lists default to the lab5 names inside `root`; `train_list=""` reads no labelled list
    (prediction on a list of one's own).
    """
    root = Path(root)
    if not root.is_dir():
        raise MsaError(f"data.root {root}: folder not found")
    data_dir = root / "data"
    if not data_dir.is_dir():
        raise MsaError(f"{data_dir}: folder not found (the lab5 layout keeps pairs in ROOT/data/)")
    report = Report()
    train_list = root / TRAIN_LIST if train_list is None else train_list
    test_list = root / TEST_LIST if test_list is None else test_list
    train_rows = _read_list(Path(train_list), report) if train_list != "" else []
    test_rows = _read_list(Path(test_list), report)

    valid_train = [r for r in train_rows if _valid_guid(r, report)]
    valid_test = [r for r in test_rows if _valid_guid(r, report)]
    labels = _labelled_rows(valid_train, report)
    test_guids: list[str] = []
    for row in valid_test:
        if row.guid in test_guids:
            report.add("duplicate_guid", row.guid)
        else:
            test_guids.append(row.guid)
    for guid in test_guids:
        if guid in labels:
            # Kept for prediction; dropped from training so no fold sees its own test pair.
            report.add("guid_in_both_lists", guid)
            del labels[guid]

    candidates = [(g, "train", labels[g]) for g in labels] + [(g, "test", None) for g in test_guids]
    pairs = []
    for guid, split, label in tqdm(candidates, desc="prepare", unit="pair", disable=not show_progress):
        pair = _load_pair(data_dir, guid, split, label, report)
        if pair is not None:
            pairs.append(pair)
    _note_duplicate_posts(pairs, report)

    listed = {r.guid for r in train_rows + test_rows}
    return pairs, _summary(pairs, listed, report)


def _valid_guid(row: Row, report: Report) -> bool:
    if GUID_PATTERN.match(row.guid):
        return True
    report.add("invalid_guid", row.guid)
    return False


def _load_pair(data_dir: Path, guid: str, split: str, label: str | None, report: Report):
    text_path, image_path = data_dir / f"{guid}.txt", data_dir / f"{guid}.jpg"
    if not text_path.is_file():
        report.add("missing_text", guid)
        return None
    if not image_path.is_file():
        report.add("missing_image", guid)
        return None
    problem = check_image(image_path)
    if problem is not None:
        report.add("unreadable_image", guid)
        return None
    text, encoding, replaced = decode_text(text_path.read_bytes())
    report.content[guid] = hashlib.sha1(
        image_path.read_bytes() + b"\0" + text.encode("utf-8")).hexdigest()
    report.text_encodings[encoding] += 1
    if replaced:
        report.add("replaced_characters", guid)
        report.replaced_characters += replaced
    if not text:
        report.add("empty_text", guid)
    return Pair(guid, split, label, text, str(image_path))


def _note_duplicate_posts(pairs: list[Pair], report: Report) -> None:
    """Note every pair whose image and text another pair repeats, and labels that differ."""
    groups: dict[str, list[Pair]] = defaultdict(list)
    for pair in pairs:
        groups[report.content[pair.guid]].append(pair)
    repeated = [group for group in groups.values() if len(group) > 1]
    differing = 0
    for group in repeated:
        labelled = [p for p in group if p.split == "train"]
        for pair in group:
            report.add("duplicate_post", pair.guid)
        if len({p.label for p in labelled}) > 1:
            differing += 1
            for pair in labelled:
                report.add("duplicate_post_label_differs", pair.guid)
    report.duplicate_posts = {"groups": len(repeated), "groups_with_differing_labels": differing}


def _summary(pairs: list[Pair], listed: set[str], report: Report) -> dict:
    usable = {p.guid for p in pairs}
    skipped = {g for name in SKIP_PROBLEMS for g in report.problems[name] if g in listed}
    per_class = Counter(p.label for p in pairs if p.split == "train")
    return {
        "pairs": {
            "train": {label: per_class.get(label, 0) for label in LABELS}
            | {"total": sum(per_class.values())},
            "test": sum(1 for p in pairs if p.split == "test"),
        },
        "guids": {
            "listed": len(listed),
            "usable": len(usable),
            "skipped": len(skipped - usable),
            "unaccounted": sorted(listed - usable - skipped),
        },
        "text_encodings": dict(sorted(report.text_encodings.items())),
        "replaced_characters": report.replaced_characters,
        "duplicate_posts": report.duplicate_posts,
        "problems": {
            name: {"count": len(items), "skips_pair": name in SKIP_PROBLEMS, "guids": items}
            for name, items in report.problems.items()
        },
    }


def write_manifest(pairs: list[Pair], path: str | Path) -> None:
    lines = "".join(json.dumps(asdict(p), ensure_ascii=False) + "\n" for p in pairs)
    atomic_write_text(path, lines)


def read_manifest(path: str | Path) -> list[Pair]:
    path = Path(path)
    if not path.is_file():
        raise MsaError(f"{path}: manifest not found (run the prepare stage first)")
    with path.open(encoding="utf-8") as handle:
        return [Pair(**json.loads(line)) for line in handle if line.strip()]
