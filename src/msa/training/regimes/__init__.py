"""The training regimes, by `train.regime`: each one object (`TrainingRegime`) that owns how
train builds and runs its cross-validation and what it records, how one of its fold models
loads, and how its fold models predict; its registry line says what featurize leaves for it.
The rest of msa asks the regime, never its name: a new regime is one module in this package
holding its object, and one line in `REGISTRY` (and its name among params' choices).

A regime module stays light: what it trains with (torch, transformers, Accelerate) loads inside
its methods, after the params are checked, so a launcher that only starts processes never
imports them. The featurize stage reads the registry line alone, so that no edit to how a
regime trains reruns it.
"""

from __future__ import annotations

import abc
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from msa.errors import MsaError

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import torch

    from msa.data.prepared import Pair
    from msa.features.store import FeatureSet
    from msa.params import Params
    from msa.parallel import Shares
    from msa.training.checkpoints import FoldModel, ModelsRecord


@dataclass(frozen=True)
class Registered:
    module: str  # the module holding the regime's object, `REGIME`
    # featurize caches every pair's features for train (else it leaves a record of the
    # encoders: train encodes the raw pairs itself)
    caches_features: bool


REGISTRY = {
    "heads": Registered("msa.training.regimes.heads", caches_features=True),
    "finetune": Registered("msa.training.regimes.finetune", caches_features=False),
}
SAVED_BEFORE_REGIMES = "heads"  # the regime of models whose models.json names none


@dataclass(frozen=True)
class TrainPaths:
    """The train stage's inputs and the folder its regime may keep a run's progress in."""

    manifest: str
    features: str
    folds: str
    resume: str


class TrainingRegime(abc.ABC):
    name: str
    # train runs under `accelerate launch` (msa.launch), its processes sharing the work
    launched: bool = False

    @abc.abstractmethod
    def trainer(self, p: Params, paths: TrainPaths):
        """What msa.training.driver cross-validates (its `Regime`): the folds' runs, the
        labels, what models.json records (`record()`) and the run's provenance
        (`produced_by()`)."""

    @abc.abstractmethod
    def fold_network(self, summary: ModelsRecord, checkpoint: dict, path: Path,
                     dtype: str | None) -> FoldModel:
        """One saved fold model (`checkpoint`: the state and config its run's `config` and
        `state()` gave, msa.training.checkpoints), ready to predict; `dtype` (bf16 | fp32 |
        None: as trained) where the regime lets prediction choose its precision."""

    @abc.abstractmethod
    def probabilities(self, models: list[FoldModel], summary: ModelsRecord, pairs: list[Pair],
                      features_of: Callable[[], FeatureSet | None], device: torch.device,
                      shares: Shares) -> list[np.ndarray] | None:
        """Each fold network's class probabilities for `pairs` (before any lexical blend), on
        the main process; None on the others."""


def registered(name: str) -> Registered:
    if name not in REGISTRY:
        raise MsaError(f"train.regime: {name!r} is not a regime msa knows "
                       f"({', '.join(REGISTRY)})")
    return REGISTRY[name]


def of(name: str) -> TrainingRegime:
    return importlib.import_module(registered(name).module).REGIME


def of_models(summary: ModelsRecord) -> TrainingRegime:
    """The regime that trained the models a models.json describes."""
    return of(summary.regime or SAVED_BEFORE_REGIMES)

