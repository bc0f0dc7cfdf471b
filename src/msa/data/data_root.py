"""The data folder (data.root), found or said missing in one line, for every command that
reads it: the find_data stage, prepare, msa sweep and msa ablation."""

from __future__ import annotations

from pathlib import Path

from msa.errors import MsaError


def find(root: str | Path) -> Path:
    """The data folder, or one line on what to do where there is none (a fresh clone before
    the demo data is written, or a misspelt data.root)."""
    root = Path(root)
    if not root.is_dir():
        raise MsaError(f"data.root: {root} not found; `msa demo-data {root}` writes the demo "
                       "data there (`make demo`, the README's first command, writes it and runs "
                       "the pipeline), or set data.root to the folder of your posts")
    return root
