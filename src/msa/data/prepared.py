"""data/prepared/manifest.jsonl: the usable pairs, one JSON line each, whatever layout they came
from. The prepare stage writes it (`msa.data.reading`); every later stage reads it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from msa.errors import MsaError
from msa.files import atomic_write_bytes, json_bytes


@dataclass
class Pair:
    guid: str
    split: str  # "train" or "test"
    label: str | None
    text: str
    image: str  # path of the image file


def write(pairs: list[Pair], path: str | Path) -> None:
    lines = "".join(json.dumps(asdict(p), ensure_ascii=False) + "\n" for p in pairs)
    atomic_write_bytes(path, json_bytes(lines))


def read(path: str | Path) -> list[Pair]:
    path = Path(path)
    if not path.is_file():
        raise MsaError(f"{path}: manifest not found (run the prepare stage first)")
    with path.open(encoding="utf-8") as handle:
        return [Pair(**json.loads(line)) for line in handle if line.strip()]
