"""The one rule that names the runs of an experiment set, and the seeds a set runs.

A setting is one value of the swept param (`train.patience-4`, `ablation-text`); each of its
runs is that setting at one training seed (`train.patience-4-seed0`). Names are DVC experiment
names, so git refs: letters, digits, `_` and `-`.
"""

from __future__ import annotations

import re

from msa.errors import MsaError

DEFAULT_SEEDS = 3
_RUN = re.compile(r"^(?P<setting>.+)-seed(?P<seed>\d+)$")


def setting_name(prefix: str, value: str) -> str:
    """The setting that one value of a swept param names."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", f"{prefix}-{value}").strip("_")


def run_name(setting: str, seed: int) -> str:
    return f"{setting}-seed{seed}"


def split_run_name(name: str) -> tuple[str, int] | None:
    """(setting, seed) of a name the rule made, or None."""
    match = _RUN.match(name)
    return (match["setting"], int(match["seed"])) if match else None


def setting_of(name: str) -> str | None:
    """The setting a run's name names, or None where the rule did not make it."""
    split = split_run_name(name)
    return split[0] if split else None


def parse_seeds(text: str | int) -> list[int]:
    """`--seeds`: a count (3: seeds 0 1 2) or a comma-separated list (`0,4,7`; `5,` is seed 5
    alone)."""
    text = str(text).strip()
    try:
        if "," not in text:
            count = int(text)
            if count < 1:
                raise ValueError
            return list(range(count))
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise MsaError(f"--seeds {text}: expected a count of seeds (3: seeds 0, 1, 2) or a "
                       "list of seeds (0,4,7)") from None
    if not seeds or any(s < 0 for s in seeds):  # params.py bounds them above
        raise MsaError(f"--seeds {text}: a seed is a whole number, 0 or more")
    if len(set(seeds)) != len(seeds):
        raise MsaError(f"--seeds {text}: a seed is named twice")
    return seeds
