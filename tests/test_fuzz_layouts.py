"""Property tests of the layout readers: whatever rows a folder's files hold, the prepare stage
ends with a manifest or a one-line error (exit 2), never a traceback; every id a row names is
in the manifest or the report; nothing outside data.root is opened; and what the manifest keeps
is what the contract allows: ids unique, each kept pair's label accepted and given by every row
that names its id (none to predict it), its text what one of those rows (or its file) holds, its
image one that decodes.

Each example writes a data folder of one layout beside a folder `outside/` that hostile paths
aim at, and runs the stage's own `main` in this process, watching every file opened through
Python's audit hook. CI runs a bounded, derandomized number of examples; `make fuzz` runs
MSA_FUZZ_EXAMPLES of them with fresh randomness.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import REPO
from msa import LABELS
from msa.data import prepared
from msa.errors import WAY_BACK

LONG_RUN = int(os.environ.get("MSA_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=LONG_RUN or 200,
    derandomize=not LONG_RUN,  # CI: the same examples every run
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_spec = importlib.util.spec_from_file_location("prepare_stage", REPO / "stages" / "prepare.py")
prepare_stage = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prepare_stage)

# Every file opened while a stage runs here (absolute paths), from Python's audit hook.
_opened: list[str] | None = None


def _audit(event, args):
    if event == "open" and _opened is not None and isinstance(args[0], (str, bytes)):
        with contextlib.suppress(Exception):
            _opened.append(os.path.abspath(os.fsdecode(args[0])))


sys.addaudithook(_audit)


def _image_bytes(fmt: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 90)).save(out, format=fmt)
    return out.getvalue()


IMAGES = {"jpeg": _image_bytes("JPEG"), "png": _image_bytes("PNG"), "corrupt": b"\xff\xd8junk",
          "empty": b""}
TEXTS = {"utf8": "a happy day".encode(), "gbk": "今天 天气".encode("gb18030"),
         "junk": b"\xff\xfe\x81 x", "empty": b""}
POOL = ["1", "2", "3", "a", "b_c", "x-y"]  # ids that name files in the data folder
LABEL_WORDS = ["positive", "neutral", "negative"]
OUTSIDE = "@OUTSIDE@"  # stands for the absolute path of the folder outside data.root

# --- strategies ---------------------------------------------------------------------------

def mostly(usual, *odd):
    """`usual` three times in four, else one of `odd`: well-formed rows reach the deeper code
    (paths, files) where the odd values they carry do their harm."""
    # (st.one_of draws its branches about evenly, whatever their number)
    return st.sampled_from([usual, usual, usual, st.one_of(*odd)]).flatmap(lambda s: s)


any_text = st.text(max_size=12)  # any code point, surrogates aside (files are UTF-8)
line_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"),
                    max_size=30)
huge = st.integers(131_000, 200_000).map(lambda n: "x" * n)  # past csv's field limit
long_name = st.integers(250, 5000).map(lambda n: "n" * n)     # past the file system's limits
clean_label = st.builds(
    lambda word, case, pad: pad + case(word) + pad, st.sampled_from(LABEL_WORDS),
    st.sampled_from([str.lower, str.upper, str.title]), st.sampled_from(["", " ", "  \t"]))
label = mostly(clean_label, st.sampled_from(["null", "", "happy"]), any_text)
guid = mostly(st.sampled_from(POOL),
              st.sampled_from(POOL).map(lambda g: f" {g} "),
              st.sampled_from(["", ".", "..", "../outside/secret", "/etc/passwd", "a\0b",
                               "1\n", "data/1"]),
              long_name, any_text)
path = mostly(
    st.sampled_from([f"img/{g}.jpg" for g in POOL] + [f"txt/{g}.txt" for g in POOL]),
    st.sampled_from(["", ".", "img", "img/../img/1.jpg", "./img/2.jpg", "../outside/secret.jpg",
                     "img/../../outside/secret.txt", f"{OUTSIDE}/secret.jpg", "~/x.jpg",
                     "img\\1.jpg", "img/1.jpg\0", "file:///etc/passwd", "img/1.jpg/"]),
    long_name, st.lists(long_name, min_size=2, max_size=20).map("/".join), any_text)
cell = st.one_of(guid, label, path, any_text, huge)
text = mostly(st.sampled_from(["", "so happy", "今天 天气"]), any_text, huge)
image_path = mostly(st.sampled_from([f"img/{g}.jpg" for g in POOL]), path)
text_path = mostly(st.sampled_from([""] + [f"txt/{g}.txt" for g in POOL]), path)
split_cell = mostly(st.sampled_from(["", "", "train", "test", " TEST "]),
               st.sampled_from(["later", "validation"]), any_text)
# What each column of a table mostly holds.
BY_COLUMN = {"id": guid, "text": text, "text_path": text_path, "image_path": image_path,
             "label": label, "split": split_cell}


@st.composite
def data_files(draw):
    """What the data folder holds for each pool id: an image and a text of some kind, or none."""
    image = mostly(st.sampled_from(["jpeg", "png"]), st.sampled_from(["corrupt", "empty", None]))
    text = mostly(st.sampled_from(["utf8", "gbk"]), st.sampled_from(["junk", "empty", None]))
    return {g: (draw(image), draw(text)) for g in POOL}


def _write_files(folder: Path, files: dict, image_dir: str, text_dir: str) -> None:
    for g, (image, text) in files.items():
        if image:
            (folder / image_dir).mkdir(parents=True, exist_ok=True)
            (folder / image_dir / f"{g}.jpg").write_bytes(IMAGES[image])
        if text:
            (folder / text_dir).mkdir(parents=True, exist_ok=True)
            (folder / text_dir / f"{g}.txt").write_bytes(TEXTS[text])


# --- running the stage ----------------------------------------------------------------------

def _run_stage(base: Path, data_params: dict) -> tuple[int, str]:
    """The prepare stage's `main` on base/root with these `data` params; its exit status and
    stderr. Anything it raises besides SystemExit fails the test with its traceback."""
    global _opened
    out = base / "out"
    out.mkdir()
    (out / "params.yaml").write_text(yaml.safe_dump({"data": data_params}), encoding="utf-8")
    argv = ["prepare.py", "--root", str(base / "root"), "--manifest", str(out / "manifest.jsonl"),
            "--report", str(out / "data.json")]
    cwd, saved_argv, err = os.getcwd(), sys.argv, io.StringIO()
    os.chdir(out)
    sys.argv, _opened = argv, []
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                prepare_stage.main()
                status = 0
            except SystemExit as exc:
                status = exc.code
    finally:
        opened, _opened = _opened, None
        sys.argv = saved_argv
        os.chdir(cwd)
    allowed = (str(base / "root") + os.sep, str(out) + os.sep)
    strays = [p for p in opened if p.startswith(str(base) + os.sep) and not p.startswith(allowed)]
    assert not strays, f"opened outside data.root: {strays[:3]}"
    return status, err.getvalue()


def _check_outcome(base: Path, status: int, stderr: str, rows: list[tuple[str, list[str]]],
                   claims):
    """A one-line error, or a manifest and a report in which every row is accounted for (`rows`
    holds each row's file:line and the values it could name an id by) and every pair kept is
    one the `claims` of the rows allow."""
    if status != 0:
        assert status == 2, stderr
        *_, message, way_back = stderr.rstrip("\n").split("\n")
        assert message.startswith("error: ") and "Traceback" not in stderr, stderr
        assert way_back == WAY_BACK, stderr
        event("a one-line error: " + re.sub(r"/\S*|'.*?'|\d+", "_", message)[7:60])
        return
    report = json.loads((base / "out" / "data.json").read_text(encoding="utf-8"))
    pairs = prepared.read(base / "out" / "manifest.jsonl")  # as every later stage reads it
    root = (base / "root").resolve()
    for pair in pairs:
        assert Path(pair.image).resolve().is_relative_to(root), pair
    guids = report["guids"]
    assert guids["unaccounted"] == []
    assert guids["usable"] + guids["skipped"] == guids["listed"]
    accounted = {p.guid for p in pairs}
    for problem in report["problems"].values():
        accounted |= set(problem["guids"])
        assert set(problem.get("reasons", {})) <= set(problem["guids"])
    for where, values in rows:
        named = {str(v).strip() for v in values}
        assert where in accounted or named & accounted, (where, values, report["problems"])
    _check_kept(base, pairs, claims(base / "root"))
    event("a manifest with pairs" if pairs else "a manifest, empty")
    for name, problem in report["problems"].items():
        if problem["count"]:
            event(f"problem {name}")


@contextlib.contextmanager
def _folder():
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "root").mkdir()
        (base / "outside").mkdir()
        (base / "outside" / "secret.jpg").write_bytes(IMAGES["jpeg"])
        (base / "outside" / "secret.txt").write_bytes(TEXTS["utf8"])
        (base / "outside" / "ids.txt").write_text("1\n", encoding="utf-8")
        yield base


def _place(text: str, base: Path) -> str:
    return text.replace(OUTSIDE, str(base / "outside"))


def _line_numbers(content: str) -> list[tuple[int, str]]:
    """Lines as the readers number them (a break is \\r\\n, \\r or \\n); blank ones dropped."""
    lines = content.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]


def _csv_cells(line: str) -> list[str]:
    limit = csv.field_size_limit(sys.maxsize)
    try:
        return next(csv.reader([line]), [])
    finally:
        csv.field_size_limit(limit)


# --- what the contract allows a reader to keep -----------------------------------------------

@dataclass
class Claim:
    """What one well-formed row says of the id it names, as the contract reads it."""

    guid: str
    split: str  # "train" (labelled) or "test" (to predict)
    label: str | None  # train: the label it gives, None where the contract accepts none
    texts: frozenset  # the texts a post kept from this row may hold


def _decoded(raw: bytes) -> str:
    """A text file as the contract reads it: UTF-8 (BOM dropped), GB18030, else UTF-8 with
    replacement characters; surrounding whitespace dropped."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding).strip()
        except UnicodeDecodeError:
            pass
    return raw.decode("utf-8", errors="replace").strip()


def _file_text(root: Path, relative: str) -> frozenset:
    """The text of a file named relative to root, where it is a file inside root."""
    try:
        path = (root / relative).resolve()
        if relative and path.is_relative_to(root.resolve()) and path.is_file():
            return frozenset({_decoded(path.read_bytes())})
    except (OSError, ValueError):
        pass
    return frozenset()


def _label(cell: str) -> str | None:
    word = cell.strip().lower()
    return word if word in LABELS else None


def _check_kept(base: Path, pairs: list, claims: list[Claim]) -> None:
    from PIL import Image

    guids = [pair.guid for pair in pairs]
    assert len(guids) == len(set(guids)), guids
    by_guid: dict[str, list[Claim]] = {}
    for claim in claims:
        by_guid.setdefault(claim.guid, []).append(claim)
    for pair in pairs:
        named = by_guid.get(pair.guid)
        assert named, (pair, "kept, yet no well-formed row names it")
        if any(c.split == "test" for c in named):
            assert pair.split == "test" and pair.label is None, (pair, named)
        else:
            labels = {c.label for c in named}
            assert len(labels) == 1 and None not in labels, (pair, named)
            # a test pair here is one the layout's hold-out chose to predict (MVSA)
            assert pair.label == (labels.pop() if pair.split == "train" else None), (pair, named)
            assert pair.label in (*LABELS, None)
        texts = set().union(*(c.texts for c in named))
        assert pair.text in texts, (pair, texts)
        with Image.open(pair.image) as image:
            image.convert("RGB").load()
    if len(by_guid) < len(claims):
        event("an id on several rows")
    if any(len({c.label for c in group}) > 1 for group in by_guid.values()):
        event("an id on rows that disagree")


def _plain(guid: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9_-]+", guid))


def _lab5_claims(root: Path) -> list[Claim]:
    claims = []
    for name, split in (("train.txt", "train"), ("test_without_label.txt", "test")):
        numbered = _line_numbers((root / name).read_bytes().decode("utf-8-sig"))
        if not numbered:
            continue
        header = [cell.strip().lower() for cell in next(csv.reader([numbered[0][1]]))]
        if "guid" in header:
            guid_col, tag_col, width, body = (header.index("guid"), header.index("tag"),
                                              len(header), numbered[1:])
        else:
            guid_col, tag_col, width, body = 0, 1, 2, numbered
        for _, line in body:
            try:
                cells = [cell.strip() for cell in next(csv.reader([line]))]
            except csv.Error:  # past the csv module's limit: a row that names nothing
                continue
            if len(cells) == width and _plain(cells[guid_col]):
                guid = cells[guid_col]
                claims.append(Claim(guid, split, _label(cells[tag_col]) if split == "train"
                                    else None, _file_text(root, f"data/{guid}.txt")))
    return claims


def _majority(labels: list[str]) -> str | None:
    best = max(set(labels), key=labels.count)
    return best if labels.count(best) * 2 > len(labels) else None


def _mvsa_claims(root: Path, annotators: int) -> list[Claim]:
    claims = []
    numbered = _line_numbers((root / "labelResultAll.txt").read_text(encoding="utf-8-sig"))
    for _, line in numbered[1:]:
        cells = [cell.strip() for cell in line.rstrip("\t").split("\t")]
        votes = [[word.strip().lower() for word in cell.split(",")] for cell in cells[1:]]
        if len(cells) != 1 + annotators or not _plain(cells[0]) or any(len(v) != 2
                                                                        for v in votes):
            continue
        label = None
        if all(word in LABELS for vote in votes for word in vote):
            text, image = _majority([v[0] for v in votes]), _majority([v[1] for v in votes])
            # Xu and Mao's rule: agreeing, or one neutral; positive against negative: none
            if text is not None and image is not None:
                label = (text if text == image else image if text == "neutral"
                         else text if image == "neutral" else None)
        claims.append(Claim(cells[0], "train", label, _file_text(root, f"data/{cells[0]}.txt")))
    return claims


def _table_claim(root: Path, fields: dict) -> Claim | None:
    def cell(key):
        value = fields.get(key)
        return "" if value is None else str(value).strip()

    guid, split, label = cell("id"), cell("split").lower(), cell("label").lower()
    if not _plain(guid) or (split and split not in ("train", "test")):
        return None
    split = split or ("train" if label else "test")
    inline, text_path = cell("text"), cell("text_path")
    if inline:
        texts = frozenset({re.sub("[\ud800-\udfff]", "\ufffd", inline)})
    elif "text" in fields and not text_path:
        texts = frozenset({""})
    else:
        texts = _file_text(root, text_path)
    return Claim(guid, split, _label(label) if split == "train" else None, texts)


def _csv_claims(root: Path) -> list[Claim]:
    limit = csv.field_size_limit(sys.maxsize)
    try:
        content = (root / "posts.csv").read_text(encoding="utf-8-sig")
        records = [r for r in csv.reader(io.StringIO(content, newline="")) if r]
    finally:
        csv.field_size_limit(limit)
    claims = [_table_claim(root, dict(zip(records[0], cells))) for cells in records[1:]
              if len(cells) == len(records[0])]
    return [c for c in claims if c]


def _no_repeats(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key twice")
    return dict(pairs)


def _jsonl_claims(root: Path) -> list[Claim]:
    claims = []
    for _, line in _line_numbers((root / "posts.jsonl").read_text(encoding="utf-8-sig")):
        try:
            fields = json.loads(line, object_pairs_hook=_no_repeats)
        except (ValueError, RecursionError):
            continue
        if isinstance(fields, dict):
            claims.append(_table_claim(root, fields))
    return [c for c in claims if c]


# --- the four layouts ------------------------------------------------------------------------

list_line = mostly(
    st.builds(lambda g, t: f"{g},{t}", guid, label).map(
        lambda s: s.replace("\r", " ").replace("\n", " ")),
    st.lists(cell, min_size=1, max_size=4).map(lambda cells: ",".join(
        c.replace("\r", " ").replace("\n", " ") for c in cells)),
    line_text)
list_header = mostly(st.just("guid,tag"),
                     st.sampled_from(["GUID , Tag , source", "tag,guid", "", "id;label"]))


@FUZZ
@given(files=data_files(), train=st.lists(list_line, max_size=8),
       test=st.lists(list_line, max_size=4), headers=st.tuples(list_header, list_header),
       garbage=mostly(st.none(), st.binary(max_size=40)))
def test_lab5_lists_end_in_a_manifest_or_one_line(files, train, test, headers, garbage):
    with _folder() as base:
        root = base / "root"
        _write_files(root, files, "data", "data")
        (root / "data").mkdir(exist_ok=True)
        rows = []
        for name, header, body in (("train.txt", headers[0], train),
                                   ("test_without_label.txt", headers[1], test)):
            content = "\n".join([header, *(_place(line, base) for line in body)]) + "\n"
            (root / name).write_text(content, encoding="utf-8")
            rows += [(f"{name}:{n}", _csv_cells(line)) for n, line in _line_numbers(content)[1:]]
        if garbage is not None:
            (root / "train.txt").write_bytes(garbage)
            rows = []
        status, stderr = _run_stage(base, {"format": "lab5", "root": str(root)})
        _check_outcome(base, status, stderr, rows, _lab5_claims)


mvsa_vote = mostly(
    st.builds(lambda t, i: f"{t},{i}", clean_label, clean_label),
    st.builds(lambda t, i, sep: f"{t}{sep}{i}", label, label, st.sampled_from([",", ";"])),
    line_text.map(lambda s: s.replace("\t", " ")))


@st.composite
def mvsa_row(draw, annotators):
    votes = draw(mostly(st.just(annotators), st.integers(0, 4)))
    g = draw(guid).replace("\t", " ").replace("\r", " ").replace("\n", " ")
    return "\t".join([g, *(draw(mvsa_vote) for _ in range(votes))])


@FUZZ
@given(data=st.data(), files=data_files(),
       layout=st.sampled_from(["mvsa_single", "mvsa_multiple"]),
       held_out=mostly(st.just("ids.txt"),
                       st.sampled_from(["../outside/ids.txt", "absent.txt", "a\0"]),
                       st.floats(0.1, 0.9)))
def test_mvsa_label_files_end_in_a_manifest_or_one_line(data, files, layout, held_out):
    annotators = {"mvsa_single": 1, "mvsa_multiple": 3}[layout]
    body = data.draw(st.lists(mvsa_row(annotators), min_size=1, max_size=12))
    named = sorted({line.split("\t")[0] for line in body})
    test_ids = data.draw(mostly(st.lists(st.sampled_from(named), max_size=3) if named
                                else st.just([]), st.lists(guid, max_size=3)))
    width = data.draw(mostly(st.just(annotators), st.integers(1, 4)))
    with _folder() as base:
        root = base / "root"
        _write_files(root, files, "data", "data")
        header = "\t".join(["ID", *["text,image"] * width])
        content = "\n".join([header, *(_place(line, base) for line in body)]) + "\n"
        (root / "labelResultAll.txt").write_text(content, encoding="utf-8")
        (root / "ids.txt").write_text("\n".join(g.replace("\n", " ").replace("\r", " ")
                                                for g in test_ids) + "\n", encoding="utf-8")
        rows = [(f"labelResultAll.txt:{n}", line.split("\t"))
                for n, line in _line_numbers(content)[1:]]
        held = ({"test_list": held_out} if isinstance(held_out, str)
                else {"test_fraction": held_out})
        status, stderr = _run_stage(base, {"format": layout, "root": str(root), **held})
        _check_outcome(base, status, stderr, rows, lambda root: _mvsa_claims(root, annotators))


COLUMNS = ["id", "text", "text_path", "image_path", "label", "split"]
header_columns = mostly(
    st.permutations(COLUMNS),
    st.lists(st.sampled_from(COLUMNS + ["extra", ""]), min_size=1, max_size=8))


@st.composite
def table_row(draw, columns):
    """Cells for `columns`, what each column expects (itself mostly well-formed), sometimes one
    cell of any kind, or one cell too many or few."""
    cells = [draw(BY_COLUMN.get(c, any_text)) for c in columns]
    if draw(mostly(st.just(False), st.just(True))):
        cells[draw(st.integers(0, len(cells) - 1))] = draw(cell)
    change = draw(mostly(st.just(0), st.sampled_from([1, -1])))
    return cells + [draw(cell)] if change == 1 else cells[:-1] if change == -1 else cells


@FUZZ
@given(data=st.data(), files=data_files(), columns=header_columns)
def test_csv_tables_end_in_a_manifest_or_one_line(data, files, columns):
    body = data.draw(st.lists(table_row(columns), min_size=1, max_size=8))
    with _folder() as base:
        root = base / "root"
        _write_files(root, files, "img", "txt")
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns)
        rows = []
        for cells in body:
            cells = [_place(c, base) for c in cells]
            writer.writerow(cells)
            # the reader numbers a record by its last line, as csv.reader's line_num does
            rows.append((f"posts.csv:{len(io.StringIO(out.getvalue(), newline='').readlines())}",
                         cells))
        (root / "posts.csv").write_text(out.getvalue(), encoding="utf-8", newline="")
        status, stderr = _run_stage(base, {"format": "manifest", "root": str(root)})
        _check_outcome(base, status, stderr, rows, _csv_claims)


json_value = st.one_of(
    st.text(max_size=12).map(json.dumps),  # surrogates too: JSON escapes them as \udXXX
    st.one_of(guid, label, path, huge).map(json.dumps),
    st.integers(-10**6, 10**6).map(str),
    st.sampled_from(["9" * 4400, "[" * 50_000 + "]" * 50_000, "1e999", "NaN", "-Infinity",
                     "true", "null", "{}", "[1, 2]", '{"a": {"b": []}}', '"\\u0000"']))

@st.composite
def json_post(draw):
    """A JSON object of a post's columns, some left out or given twice, values of any type."""
    keys = ["id", draw(st.sampled_from(["text", "text_path"])), "image_path", "label"]
    keys += [c for c in ("text", "text_path", "split") if c not in keys and draw(st.booleans())]
    if draw(mostly(st.just(False), st.just(True))):
        keys.remove(draw(st.sampled_from(keys)))
    keys += draw(mostly(st.just([]), st.lists(st.sampled_from(COLUMNS + ["extra"]), max_size=3)))
    values = [draw(mostly(BY_COLUMN.get(k, any_text).map(json.dumps), json_value)) for k in keys]
    return "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in zip(keys, values)) + "}"


json_line = mostly(json_post(), json_value, line_text, st.just("{not json"))


@FUZZ
@given(files=data_files(), body=st.lists(json_line, min_size=1, max_size=8))
def test_jsonl_tables_end_in_a_manifest_or_one_line(files, body):
    with _folder() as base:
        root = base / "root"
        _write_files(root, files, "img", "txt")
        content = "\n".join(_place(line, base) for line in body) + "\n"
        (root / "posts.jsonl").write_text(content, encoding="utf-8")
        rows = []
        for n, line in _line_numbers(content):
            try:
                values = list(json.loads(line).values())
            except (ValueError, RecursionError, AttributeError):
                values = []
            rows.append((f"posts.jsonl:{n}", values))
        status, stderr = _run_stage(base, {"format": "manifest", "root": str(root),
                                           "manifest_file": "posts.jsonl"})
        _check_outcome(base, status, stderr, rows, _jsonl_claims)
