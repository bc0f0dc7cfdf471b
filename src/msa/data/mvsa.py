"""The MVSA-Single and MVSA-Multiple layouts as released (Niu et al., 2016).

`data/{id}.jpg`, `data/{id}.txt` and `labelResultAll.txt`: tab-separated, a header, then the id
and one `text_label,image_label` cell per annotator (one for Single, three for Multiple). One
label per post, by the rule of Xu and Mao (2017) that CLMLF and MDSE follow:

1. Multiple: a modality's label is the one most of its annotators gave; none: `no_majority`.
2. Text and image agree: that label. One is neutral: the other one. Positive against
   negative: `conflicting_modalities`, dropped.

The release names no posts to predict: `data.test_list` (ids, one per line) or a stratified
`data.test_fraction` drawn with `data.test_seed` chooses them among the usable posts. An id on
several rows is settled as in every layout (`rows.settle`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sklearn.model_selection import train_test_split

from msa import LABELS
from msa.errors import MsaError
from msa.data.posts import Candidate, Report, label_of
from msa.data.rows import Layout, Row, inside, lines, read_text, reason

LABEL_FILE = "labelResultAll.txt"
ANNOTATORS = {"mvsa_single": 1, "mvsa_multiple": 3}
DEMO_FILES = "data"


def majority(labels: list[str]) -> str | None:
    """The label more than half the annotators gave (one annotator: theirs), or None."""
    label, count = Counter(labels).most_common(1)[0]
    return label if count * 2 > len(labels) else None


def post_label(text: str, image: str) -> str | None:
    """One label from a post's text and image labels; None where they contradict."""
    if text == image:
        return text
    if "neutral" in (text, image):
        return image if text == "neutral" else text
    return None


class Mvsa(Layout):
    """`data` (DataParams) chooses the posts to predict; none `for_prediction`, where every
    post is to be predicted."""

    def __init__(self, root: Path, layout: str, data=None, for_prediction: bool = False):
        self.root, self.path, self.data_dir = root, root / LABEL_FILE, root / "data"
        self.source = str(self.path)
        self.annotators = ANNOTATORS[layout]
        self.layout, self.data, self.for_prediction = layout, data, for_prediction

    def rows(self):
        path = self.path
        if not path.is_file():
            raise MsaError(f"{path}: label file not found (the MVSA layouts keep it in ROOT/)")
        if not self.data_dir.is_dir():
            raise MsaError(f"{self.data_dir}: folder not found (the MVSA layouts keep posts in "
                           "ROOT/data/)")
        numbered = lines(read_text(path, "label file"))
        if not numbered or numbered[0][1].split("\t")[0].strip().lower() != "id":
            raise MsaError(f"{path}:1: expected a header line starting 'ID<tab>text,image'")
        width = len(numbered[0][1].rstrip("\t").split("\t"))
        if width != 1 + self.annotators:
            raise MsaError(f"{path}:{numbered[0][0]}: the header names {width - 1} annotators; "
                           f"data.format {self.layout} has {self.annotators}")
        for number, line in numbered[1:]:
            yield f"{path.name}:{number}", line

    def read_row(self, row: Row, line: str) -> Candidate | None:
        cells = [cell.strip() for cell in line.rstrip("\t").split("\t")]
        votes = [[label_of(label) for label in cell.split(",")] for cell in cells[1:]]
        if len(cells) != 1 + self.annotators or not cells[0] or any(len(v) != 2 for v in votes):
            row.skip("malformed_row")
            return None
        if not row.name(cells[0]):
            return None
        guid = row.guid
        row.claim("train", None)  # until the rule gives the row a label
        if any(label not in LABELS for vote in votes for label in vote):
            row.skip("unknown_tag")
            return None
        text, image = majority([v[0] for v in votes]), majority([v[1] for v in votes])
        if text is None or image is None:
            row.skip("no_majority")
            return None
        label = post_label(text, image)
        if label is None:
            row.skip("conflicting_modalities")
            return None
        row.claim("train", label)
        return Candidate(guid, "train", label, self.data_dir / f"{guid}.jpg",
                         self.data_dir / f"{guid}.txt")

    def hold_out(self, labels: dict[str, str], report: Report) -> set[str]:
        if self.for_prediction:
            return set()
        return held_out_guids(self.root, labels, report.listed, self.data.test_list,
                              self.data.test_fraction, self.data.test_seed)


def held_out_guids(root: Path, labels: dict[str, str], listed: set[str], test_list: str,
                   fraction: float, seed: int) -> set[str]:
    """The usable posts (`labels`) to predict: those `test_list` names, else a stratified
    `fraction`. A listed id the label file lacks is an error; one it names but that was
    dropped is already in the report."""
    if test_list:
        try:
            path = inside(root, root, test_list)
        except (OSError, ValueError) as exc:
            raise MsaError(f"data.test_list: {test_list!r} names no file ({reason(exc)})") from None
        if path is None:
            raise MsaError(f"data.test_list: {test_list!r} leaves data.root")
        if not path.is_file():
            raise MsaError(f"data.test_list: {path} not found")
        named = [line.strip() for _, line in lines(read_text(path, "data.test_list"))]
        unknown = [g for g in named if g not in listed]
        if unknown:
            raise MsaError(f"{path}: {len(unknown)} ids not in {LABEL_FILE}, first {unknown[0]!r}")
        return set(named) & set(labels)
    guids = sorted(labels)
    try:
        _, chosen = train_test_split(guids, test_size=fraction, random_state=seed,
                                     stratify=[labels[g] for g in guids])
    except ValueError as exc:
        raise MsaError(f"data.test_fraction {fraction}: cannot hold out a stratified share of "
                       f"{len(guids)} posts ({exc})") from None
    return set(chosen)


def open_layout(name: str, root: Path, data, for_prediction: bool = False,
                predict_list: str | Path | None = None) -> Mvsa:
    if predict_list:
        raise MsaError(f"--input: a list file is for the lab5 layout; {name} names its posts "
                       "itself")
    return Mvsa(root, name, data, for_prediction)


def _annotation(label: str, rng, right: float = 0.8) -> str:
    """One annotator's label: mostly the post's, else another."""
    return label if rng.random() < right else str(rng.choice([x for x in LABELS if x != label]))


def write_demo(name: str, root: Path, posts: list, n_labelled: int, rng) -> None:
    """The label file: each annotator labels the text and the image apart, each mostly right,
    so that every case of the rule occurs; no post is marked to predict."""
    annotators = ANNOTATORS[name]
    lines = ["ID\t" + "\t".join(["text,image"] * annotators)]
    for post in posts:
        votes = [f"{_annotation(post.text_label, rng)},{_annotation(post.image_label, rng)}"
                 for _ in range(annotators)]
        lines.append("\t".join([post.guid, *votes]))
    (root / LABEL_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
