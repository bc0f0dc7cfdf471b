"""The one way rows are read: anything a single row raises becomes a recorded skip, and an id
that rows name more than once is settled by one rule, whatever the layout.

A layout (`lab5`, `mvsa`, `post_table` in this package) is a `Layout`: `rows()` yields the raw rows
of its files with their `file:line`, and `read_row` turns one raw row into a `Candidate` (or records
why not), saying on the way what the row claims of its id (`Row.claim`). `read_layout` runs them
through `guarded`, the guard around each row: whatever the row's parsing, its id, its paths or its
files raise (Python's parsers have limits, file systems refuse names, no path may hold a NUL) is
recorded as a skip naming the id, or the file:line where no id was read, with the reason. Then
`settle` applies the rule for repeated ids. Only whole-file problems stop the run, as an
`MsaError`: a new layout gets the guard and the rule without writing them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from msa.errors import MsaError
from msa.data.posts import GUID_PATTERN, Candidate, Report

Raw = TypeVar("Raw")
Out = TypeVar("Out")

# Lines end where an editor and Python's csv module end them; str.splitlines would also break
# at form feeds, U+2028 and other characters a JSON string or a cell may hold.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class Row:
    """One row being read: where it is, and the id it names once that is known."""

    report: Report
    where: str  # "file:line", or the id itself once the layout has named it
    guid: str | None = None
    # What the row says of its id: "train" with the label it gives (None where the contract
    # refuses that label), or "test": a post to predict. None: the row was refused before.
    split: str | None = None
    label: str | None = None

    def name(self, guid: str) -> bool:
        """List `guid` as named by the layout; False (and an `invalid_guid` skip) when it is not
        a plain name, so it never names a file."""
        self.report.listed.add(guid)
        if not GUID_PATTERN.fullmatch(guid):
            self.report.add("invalid_guid", guid)
            return False
        self.guid = guid
        return True

    def claim(self, split: str, label: str | None = None) -> None:
        """What the row says of the id it named: labelled (`label`, None where refused), or
        to predict (split "test"). `settle` holds every claim on an id against the others."""
        self.split, self.label = split, label if split == "train" else None

    def skip(self, problem: str, reason: str | None = None) -> None:
        """Record `problem` for this row: under its id where one was named, else its file:line."""
        self.report.add(problem, self.guid or self.where, reason)


class Layout:
    """A data layout's reader. Subclasses define `source`, `rows` and `read_row`, and
    `hold_out` where the layout names no posts to predict; `read_layout` runs them through the
    guard and the rule for repeated ids."""

    source: str  # the files its rows come from, as an error names them

    def rows(self) -> Iterable[tuple[str, object]]:
        """(file:line, raw row) for every row of the layout's files; whole-file problems (a file
        missing, not text, a header that says another layout) raise MsaError."""
        raise NotImplementedError

    def read_row(self, row: Row, raw) -> Candidate | None:
        """The post one raw row names, or None once `row` has recorded why there is none."""
        raise NotImplementedError

    def hold_out(self, labels: dict[str, str], report: Report) -> set[str]:
        """The ids among these usable labelled posts (id -> label) to predict instead: none
        where the layout's own files name the posts to predict."""
        return set()


def read_layout(layout: Layout, report: Report) -> list[Candidate]:
    rows: list[Row] = []
    candidates = guarded(report, layout.rows(), layout.read_row, "unreadable_row", rows)
    if not rows:
        raise MsaError(f"{layout.source}: no post named (no row beyond a header)")
    return settle(candidates, [row for row in rows if row.guid and row.split], report)


def settle(candidates: list[Candidate], claims: list[Row], report: Report) -> list[Candidate]:
    """The rule for an id that rows name more than once, in every layout. Every row that named
    it claims a label, or that it is to be predicted (`claims`):
    - labelled rows that all give it one accepted label: one kept, `duplicate_guid` noted;
    - labelled rows that differ (one of them refused for its label counts): none kept for
      training, `conflicting_labels`;
    - rows that name it to be predicted: one kept, for prediction alone (`duplicate_guid` where
      several do; `guid_in_both_lists` where labelled rows agree on it too), so that no fold
      trains on a post it predicts.
    The posts kept stay in the order of the rows that gave them."""
    named: dict[str, list[Row]] = defaultdict(list)
    for row in claims:
        named[row.guid].append(row)
    first: dict[str, dict[str, tuple[int, Candidate]]] = defaultdict(dict)
    for position, candidate in enumerate(candidates):
        first[candidate.guid].setdefault(candidate.split, (position, candidate))
    kept = []
    for guid, by_split in first.items():
        rows = named[guid]
        labels = {row.label for row in rows if row.split == "train"}
        agreed = len(labels) == 1 and None not in labels
        if len(labels) > 1:
            report.add("conflicting_labels", guid)
        if "test" in by_split:
            if agreed:
                report.add("guid_in_both_lists", guid)
            if sum(row.split == "test" for row in rows) > 1:
                report.add("duplicate_guid", guid)
            kept.append(by_split["test"])
        elif agreed and "train" in by_split:
            if len(rows) > 1:
                report.add("duplicate_guid", guid)
            kept.append(by_split["train"])
    return [candidate for _, candidate in sorted(kept, key=lambda item: item[0])]


def guarded(report: Report, rows: Iterable[tuple[str, Raw]],
            read: Callable[[Row, Raw], Out | None], problem: str,
            seen: list[Row] | None = None) -> list[Out]:
    """`read` on every (where, raw) row; what it raises is recorded as `problem` with its reason;
    `seen` gains every row read. An error raised while the rows themselves are produced stops
    the run in one line."""
    out: list[Out] = []
    iterator: Iterator = iter(rows)
    where = "the start"
    while True:
        try:
            where, raw = next(iterator)
        except StopIteration:
            return out
        except MsaError:
            raise
        except Exception as exc:  # noqa: BLE001 - any error here is a file no row can be read from
            raise MsaError(f"rows after {where} cannot be read ({reason(exc)})") from None
        row = Row(report, where)
        if seen is not None:
            seen.append(row)
        try:
            result = read(row, raw)
        except MsaError:
            raise
        except Exception as exc:  # noqa: BLE001 - the guard: one row never ends the run
            row.skip(problem, reason(exc))
            continue
        if result is not None:
            out.append(result)


def reason(exc: BaseException) -> str:
    """An exception as one short line: its type and message, whitespace collapsed."""
    return " ".join(f"{exc.__class__.__name__}: {exc}".split())[:300]


def lines(content: str) -> list[tuple[int, str]]:
    """(line number from 1, line) for every line that is not blank."""
    return [(n, line) for n, line in enumerate(_LINE_BREAK.split(content), start=1)
            if line.strip()]


def read_text(path: Path, what: str) -> str:
    """A whole UTF-8 file (BOM dropped), or an MsaError in one line saying why not."""
    if not path.is_file():
        raise MsaError(f"{path}: {what} not found")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MsaError(f"{path}: {what} cannot be read ({reason(exc)})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MsaError(f"{path}: not a text file (not valid UTF-8)") from None


def inside(root: Path, base: Path, relative: str) -> Path | None:
    """`relative` (to `base`) resolved, or None where it is empty or leaves `root`: '..', an
    absolute path or a link out are refused before anything is opened."""
    if not relative:
        return None
    path = (base / relative).resolve()
    return path if path.is_relative_to(root.resolve()) else None
