"""Reading a data folder in any layout (`data.format`): text decoding, image checks, the
usable pairs (written by `msa.data.prepared`) and the data report.

Every id the layout names ends up in exactly one place: the manifest of usable pairs, or a
problem in the report with its reason (`msa.data.posts`). Problems that make a pair unusable are
skips; the others (`empty_text`, `duplicate_guid`, `guid_in_both_lists`, ...) are notes on pairs
that are kept. Identical posts (the same image bytes and text under different ids) are kept and
noted: when they carry different labels, they show how far the labels themselves disagree.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections import Counter, defaultdict
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from msa import LABELS, layouts
from msa.data import data_root, rows
from msa.params import DataParams
from msa.data.posts import REASONED_PROBLEMS, SKIP_PROBLEMS, Candidate, Report
from msa.data.prepared import Pair
from msa.data.rows import Row, reason

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "image exceeds the decompression-bomb pixel limit"
    except Exception as exc:  # noqa: BLE001 - Pillow's decoders raise many kinds
        return reason(exc)
    return None


def prepare(root: str | Path, layout: DataParams | None = None, show_progress: bool = True,
            predict_list: str | Path | None = None,
            for_prediction: bool = False) -> tuple[list[Pair], dict]:
    """Validate and decode every post under `root` in `layout.format`; return the usable pairs
    and the data report. `for_prediction`: every post is to be predicted, so MVSA posts are not
    split and a table needs no label column; `predict_list` (lab5) names them in place of the
    lists."""
    layout = layout or DataParams()
    root = data_root.find(root)
    report = Report()
    reader = layouts.module(layout.format).open_layout(layout.format, root, layout,
                                                        for_prediction, predict_list)
    candidates = rows.read_layout(reader, report)
    progress = tqdm(candidates, desc="prepare", unit="pair", disable=not show_progress)
    pairs = rows.guarded(report, ((c.guid, c) for c in progress), _load_pair, "unreadable_post")
    held_out = reader.hold_out({p.guid: p.label for p in pairs if p.split == "train"}, report)
    for pair in pairs:
        if pair.guid in held_out:
            pair.split, pair.label = "test", None
    _note_duplicate_posts(pairs, report)
    return pairs, _summary(pairs, report)


def _load_pair(post: Row, candidate: Candidate) -> Pair | None:
    image_path = candidate.image_path
    if candidate.text is None and (candidate.text_path is None
                                   or not candidate.text_path.is_file()):
        post.skip("missing_text")
        return None
    if not image_path.is_file():
        post.skip("missing_image")
        return None
    problem = check_image(image_path)
    if problem is not None:
        post.skip("unreadable_image", problem)
        return None
    if candidate.text is None:
        text, encoding, replaced = decode_text(candidate.text_path.read_bytes())
    else:
        text, encoding = candidate.text.strip(), "inline"
        # A JSON table's text may hold lone surrogates ("\ud800"), which no UTF-8 file can.
        text, replaced = _LONE_SURROGATE.subn("\ufffd", text)
    report = post.report
    guid = candidate.guid
    report.content[guid] = hashlib.sha1(
        image_path.read_bytes() + b"\0" + text.encode("utf-8")).hexdigest()
    report.text_encodings[encoding] += 1
    if replaced:
        report.add("replaced_characters", guid)
        report.replaced_characters += replaced
    if not text:
        report.add("empty_text", guid)
    return Pair(guid, candidate.split, candidate.label, text, str(image_path))


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


def _summary(pairs: list[Pair], report: Report) -> dict:
    usable, listed = {p.guid for p in pairs}, report.listed
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
            | ({"reasons": report.reasons[name]} if name in REASONED_PROBLEMS else {})
            for name, items in report.problems.items()
        },
    }
