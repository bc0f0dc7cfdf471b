"""What a finetune run keeps while it runs (`--resume`, `.finetune_state/` in dvc.yaml): one
folder per fold and phase holding the latest finished epoch. Its names are written here once,
for the run that keeps them (`finetune.EpochKeeper`) and for the line an interrupt prints,
which reads them without torch."""

from __future__ import annotations

import re
from pathlib import Path


def phase_folder(state_dir: Path, fold: int, phase: str) -> Path:
    return state_dir / f"fold_{fold}_{phase}"


def epoch_folder(folder: Path, epoch: int | str) -> Path:
    return folder / f"state-{epoch}"


def progress_file(folder: Path) -> Path:
    """A phase's progress: its latest epoch, the scores so far, the best epoch's state."""
    return folder / "progress.pt"


def _size(path: Path) -> str:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return f"{total / 2**20:.0f} MiB"


def summary(state_dir: str | Path) -> str:
    """One line: what is kept, how to resume from it, how to discard it."""
    state_dir = Path(state_dir)
    done = []
    for folder in sorted(state_dir.glob("fold_*_*")):
        epochs = [int(m.group(1)) for f in folder.glob("state-*")
                  if (m := re.fullmatch(r"state-(\d+)", f.name))]
        fold, _, phase = folder.name.removeprefix("fold_").partition("_")
        if epochs and progress_file(folder).is_file():
            done.append(f"fold {fold} ({phase}) after epoch {max(epochs)}")
    if not done:
        return (f"no epoch had finished, so {state_dir}/ keeps nothing to resume from; "
                "`dvc repro` (or `dvc exp run`) starts the stage again")
    return (f"{state_dir}/ keeps {', '.join(done)} ({_size(state_dir)}); `dvc repro` (or `dvc "
            f"exp run`) with the same params resumes from there; `rm -rf {state_dir}` discards "
            "it")
