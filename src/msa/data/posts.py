"""What every input layout yields before its files are opened: posts to load, and the problems.

A layout reader (`lab5`, `mvsa`, `post_table`, each read through `rows`) turns
its lists into `Candidate`s and records in the `Report` every post it names but cannot use, and
why; `reading` then opens the files. Problems that make a post unusable are skips; the others are
notes on posts that are kept. The data report that sums them up (metrics/data.json) is written
and read here.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from msa.errors import MsaError
from msa.files import write_json

# An id names files and output rows, so only plain names pass: no separators, no dots.
GUID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")

SKIP_PROBLEMS = (
    "malformed_row",
    "invalid_guid",
    "unknown_tag",
    "conflicting_labels",
    "no_majority",             # MVSA-Multiple: annotators share no label for a modality
    "conflicting_modalities",  # MVSA: the text says positive and the image negative, or back
    "missing_label",           # manifest: a row marked train without a label
    "path_outside_root",       # manifest: a file path that leaves the data folder
    "missing_text",
    "missing_image",
    "unreadable_image",
    "unreadable_row",   # a row that raised while read (a parser's limit, a name no path holds)
    "unreadable_post",  # a post whose files raised while opened (a name the file system refuses)
)
# Problems whose items carry a reason of their own, beyond the problem's name.
REASONED_PROBLEMS = ("unreadable_image", "unreadable_row", "unreadable_post")
NOTE_PROBLEMS = ("duplicate_guid", "guid_in_both_lists", "empty_text", "replaced_characters",
                 "duplicate_post", "duplicate_post_label_differs")


def label_of(cell: str) -> str:
    """A label or split cell as every layout reads it: case and surrounding spaces aside."""
    return cell.strip().lower()


@dataclass
class Candidate:
    guid: str
    split: str  # "train" or "test"
    label: str | None
    image_path: Path
    text_path: Path | None = None
    text: str | None = None  # inline text (a manifest's `text` column), used over text_path


@dataclass
class Report:
    problems: dict[str, list[str]] = field(
        default_factory=lambda: {name: [] for name in SKIP_PROBLEMS + NOTE_PROBLEMS}
    )
    listed: set[str] = field(default_factory=set)  # every id the layout names
    text_encodings: Counter = field(default_factory=Counter)
    replaced_characters: int = 0
    content: dict[str, str] = field(default_factory=dict)  # guid -> digest of image and text
    duplicate_posts: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, dict[str, str]] = field(
        default_factory=lambda: {name: {} for name in REASONED_PROBLEMS})

    def add(self, problem: str, item: str, reason: str | None = None) -> None:
        self.problems[problem].append(item)
        if reason is not None:
            self.reasons[problem][item] = reason


def write_report(report: dict, path: str | Path) -> None:
    """The data report `reading.prepare` returns, as the prepare stage leaves it."""
    write_json(path, report)


def read_report(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise MsaError(f"{path}: no data report here (run the prepare stage first)")
    return json.loads(path.read_text(encoding="utf-8"))
