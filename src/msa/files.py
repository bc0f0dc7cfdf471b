"""Writing outputs whole or not at all: every file goes to a temporary name and is renamed."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from msa.errors import MsaError


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary name beside `path` to write to; renamed to `path` when the block completes,
    so a killed run never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    yield tmp
    tmp.replace(path)


def atomic_write_bytes(path: str | Path, content: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(content)


def atomic_write_text(path: str | Path, content: str) -> None:
    atomic_write_bytes(path, content.encode("utf-8"))


def json_bytes(text: str) -> bytes:
    """JSON text as UTF-8. A lone surrogate (a JSON "\\ud800" escape read from a table, a file
    name's undecodable byte) has no UTF-8 form: it stays the escape it came as, so the file is
    valid UTF-8 and reads back to the same string. Only right inside JSON strings, where the
    only such characters can be."""
    return text.encode("utf-8", "backslashreplace")


def write_json(path: str | Path, obj) -> None:
    atomic_write_bytes(path, json_bytes(json.dumps(obj, indent=2, ensure_ascii=False) + "\n"))


def write_csv(path: str | Path, header: list[str], rows) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, out.getvalue())


def write_table(table: list[dict], path: str | Path, columns=None) -> None:
    """Rows of dicts as CSV, floats to 6 significant digits; `columns` (default: the first row's
    keys) are the header and the values taken, and give an empty table its header."""
    header = list(columns if columns is not None else table[0] if table else [])
    write_csv(path, header, [[f"{row[c]:.6g}" if isinstance(row[c], float) else row[c]
                              for c in header] for row in table])


def read_csv(path: str | Path, what: str, stage: str) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise MsaError(f"{path}: {what} not found (run the {stage} stage first)")
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def save_figure(fig, path: str | Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    kind = Path(path).suffix[1:].lower()
    # No version stamp in a PNG, so the same figure is the same bytes; photographs go to JPEG.
    options = ({"pil_kwargs": {"quality": 85}} if kind in ("jpg", "jpeg")
               else {"metadata": {"Software": None}})
    with atomic_path(path) as tmp:
        # The temporary name's suffix is .tmp, so the format comes from the real one.
        fig.savefig(tmp, format=kind, dpi=110, **options)
    plt.close(fig)
