"""The cross-validation driver both training regimes run on: the folds, the hold-out that
chooses the epoch, every early-stopping rule, refit, the lexical blend and the fold results.

A regime (`msa.training.heads` on cached features, `msa.training.finetune` on raw pairs under
Accelerate) supplies only what differs, through one face: `new_run(phase)` gives a run that
trains an epoch, predicts probabilities for its phase's pairs, and hands over its state; the
regime also reads posts' texts, and may have a `keeper` that keeps each epoch's progress (the
driver's `Progress`, which the driver alone reads and writes, and the run's own state) so that
a killed run resumes.

How many epochs a fold's model trains is train.early_stopping's choice:
  refit    a stratified hold-out of the training folds chooses it (train.monitor, waiting
           train.patience epochs after the best), then a fresh model fits every training pair
           for that many epochs, its warm-up and cosine spread over them;
  holdout  the same choice, keeping the choosing model (the hold-out's pairs are never fitted);
  fold     the scored fold itself chooses (the seed design's way; optimistic);
  none     every epoch runs and the last is kept.
Only `fold` lets the scored fold choose anything. In text and multimodal modes the fold's
out-of-fold probabilities blend the network with a lexical model fitted on the same training
folds (`msa.training.lexical`); the per-epoch log and the epoch choice are the network's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from tqdm import tqdm

from msa import LABEL_INDEX, LABELS, epoch_log, modes
from msa.errors import MsaError
from msa.params import TrainParams
from msa.training import lexical
from msa.training.model import ModelConfig


@dataclass
class FoldResult:
    fold: int
    state: dict
    config: ModelConfig
    log: list[dict]
    best_epoch: int
    epochs_run: int
    val_guids: list[str]
    val_probs: np.ndarray  # blended with the lexical model's where there is one
    lexical: Pipeline | None = None
    lexical_weight: float = 0.0


@dataclass
class Fit:
    state: dict
    config: ModelConfig
    log: list[dict]
    best_epoch: int
    val_probs: np.ndarray  # the scored fold, at best_epoch


@dataclass(frozen=True)
class Phase:
    """One run of a fold: the pairs it fits, the fold it scores, the pairs that choose its epoch
    (`chooser` holdout; `fold`: the scored fold; `none`: the last epoch), for up to `epochs`."""

    fold: int
    name: str  # "choose", or "refit" for the fresh model that fits the chosen epochs
    fit_guids: list[str]
    val_guids: list[str]
    stop_guids: list[str]
    chooser: str
    epochs: int
    seed: int


@dataclass
class Progress:
    """A phase after `epoch`, as a keeper saves it: the driver's part is `state_dict()`."""

    epoch: int
    stopping: dict  # EarlyStopping.state_dict()
    log: list[dict]
    best: Fit
    finished: bool
    run_state: dict = field(default_factory=dict)  # the run's own, the keeper's to read

    def state_dict(self) -> dict:
        best = self.best
        return {"epoch": self.epoch, "stopping": self.stopping, "log": self.log,
                "finished": self.finished,
                "best": {"state": best.state, "config": best.config.to_dict(),
                         "best_epoch": best.best_epoch, "val_probs": best.val_probs}}

    @classmethod
    def from_state_dict(cls, saved: dict, run_state: dict) -> Progress:
        best = saved["best"]
        return cls(saved["epoch"], saved["stopping"], saved["log"],
                   Fit(best["state"], ModelConfig(**best["config"]), saved["log"],
                       best["best_epoch"], best["val_probs"]),
                   saved["finished"], run_state)


class Run(Protocol):
    config: ModelConfig
    score_criterion: torch.nn.Module  # class-weighted on the fitted pairs, on the CPU

    def lr(self) -> float: ...
    def train_epoch(self, epoch: int) -> float: ...  # the mean training loss
    def probabilities(self, which: str) -> np.ndarray: ...  # "val" or "stop", phase order
    def state(self) -> dict: ...  # a copy of the network's weights


class Keeper(Protocol):
    """Keeps each epoch of a phase, so that a killed run resumes where it was."""

    def saved(self, phase: Phase) -> Progress | None: ...
    def save(self, run: Run, phase: Phase, progress: Progress) -> None: ...
    def restore(self, run: Run, phase: Phase, progress: Progress) -> None: ...


class Regime(Protocol):
    name: str  # "train" or "finetune", for the progress bar
    mode: str
    params: TrainParams
    seed: int
    label_of: dict[str, str]  # every labelled guid's label
    is_main: bool  # the process that shows progress
    keeper: Keeper | None  # None: nothing is kept, a killed run starts again

    def new_run(self, phase: Phase) -> Run: ...
    def texts_of(self, guids: list[str]) -> list[str]: ...


def seed_everything(seed: int, strict: bool = True) -> None:
    """Seeds torch and numpy; deterministic kernels, or only warnings where `strict` is off
    (on a GPU, where some kernels have no deterministic version)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    torch.use_deterministic_algorithms(True, warn_only=not strict)


def split_for_stopping(train_guids: list[str], label_of: dict, params: TrainParams,
                       seed: int) -> tuple[list[str], list[str]]:
    """(guids to fit, guids that choose the epoch); a hold-out only for holdout and refit."""
    if not params.holdout_chooses:
        return train_guids, []
    labels = [label_of[g] for g in train_guids]
    # At least one pair of every class, so that small data sets can still stop early.
    size = max(int(np.ceil(params.holdout_fraction * len(labels))), len(set(labels)))
    try:
        fit_guids, stop_guids = train_test_split(train_guids, test_size=size, stratify=labels,
                                                 random_state=seed)
    except ValueError as exc:
        raise MsaError(f"train.early_stopping: cannot hold out {size} of {len(labels)} training "
                       f"pairs with every class on both sides ({exc}); use more data or "
                       "train.early_stopping: none") from None
    return list(fit_guids), list(stop_guids)


def scores(probs: np.ndarray, y: torch.Tensor, criterion) -> dict:
    """The epoch's scores (epoch_log.SCORES, in its order): loss, accuracy and macro-F1."""
    predicted = probs.argmax(1)
    return dict(zip(epoch_log.SCORES, (
        criterion(torch.log(torch.from_numpy(probs).clamp_min(1e-12)), y).item(),
        accuracy_score(y.numpy(), predicted),
        f1_score(y.numpy(), predicted, average="macro", labels=range(len(LABELS)),
                 zero_division=0))))


class EarlyStopping:
    """Tracks `monitor` per epoch: whether it improved, and when `patience` epochs have not."""

    def __init__(self, monitor: str, patience: int):
        self.monitor, self.patience = monitor, patience
        self.best, self.waited = None, 0

    def improved(self, value: float) -> bool:
        better = self.best is None or (value < self.best
                                       if self.monitor in epoch_log.LOWER_IS_BETTER
                                       else value > self.best)
        if better:
            self.best, self.waited = value, 0
        else:
            self.waited += 1
        return better

    @property
    def stop(self) -> bool:
        return self.waited >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "waited": self.waited}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.waited = state["best"], state["waited"]


def epoch_row(fold: int, epoch: int, train_loss: float, lr: float, val_scores: dict,
              chooser: str, monitor: str, stop_scores) -> dict:
    """One epoch's log row. Its stop_score is what the epoch is chosen by: train.monitor on the
    hold-out (`stop_scores()` gives its scores) or on the fold, or nothing under none."""
    if chooser == "holdout":
        stop_score = stop_scores()[monitor]
    else:
        stop_score = val_scores[monitor] if chooser == "fold" else float("nan")
    return dict(zip(epoch_log.COLUMNS, (fold, epoch, train_loss,
                                        *(val_scores[s] for s in epoch_log.SCORES), stop_score,
                                        lr)))


def labels_of(regime: Regime, guids: list[str]) -> torch.Tensor:
    return torch.tensor([LABEL_INDEX[regime.label_of[g]] for g in guids], dtype=torch.long)


def fit(regime: Regime, phase: Phase, on_epoch=None) -> Fit:
    """Up to `phase.epochs` epochs of a fresh run; the epoch kept is the best by train.monitor
    on the chooser's pairs, or the last under `none`. Resumes where the regime saved progress."""
    params, keeper = regime.params, regime.keeper
    saved = keeper.saved(phase) if keeper else None
    for row in saved.log if saved and on_epoch else []:
        on_epoch(row)  # DVCLive's record of the run then holds every epoch, as uninterrupted
    if saved and saved.finished:
        return saved.best
    run = regime.new_run(phase)
    stopping = EarlyStopping(params.monitor, params.patience)
    best, log, start = None, [], 1
    if saved:
        keeper.restore(run, phase, saved)
        stopping.load_state_dict(saved.stopping)
        log, start, best = saved.log, saved.epoch + 1, saved.best
    val_y = labels_of(regime, phase.val_guids)
    for epoch in range(start, phase.epochs + 1):
        lr = run.lr()
        train_loss = run.train_epoch(epoch)
        val_probs = run.probabilities("val")
        log.append(epoch_row(
            phase.fold, epoch, train_loss, lr, scores(val_probs, val_y, run.score_criterion),
            phase.chooser, params.monitor,
            lambda: scores(run.probabilities("stop"), labels_of(regime, phase.stop_guids),
                           run.score_criterion)))
        if on_epoch:
            on_epoch(log[-1])
        finished = False
        if phase.chooser == "none" or stopping.improved(log[-1]["stop_score"]):
            best = Fit(run.state(), run.config, log, epoch, val_probs)
        elif stopping.stop:
            finished = True
        if keeper:
            keeper.save(run, phase, Progress(epoch, stopping.state_dict(), log, best,
                                             finished or epoch == phase.epochs))
        if finished:
            break
    return best


def train_fold(regime: Regime, folds: dict[str, int], fold: int, on_epoch=None) -> FoldResult:
    """`on_epoch(row)` sees each epoch's log row of the run that chooses (msa.training.live)."""
    params = regime.params
    val_guids = [g for g, f in folds.items() if f == fold]
    train_guids = [g for g, f in folds.items() if f != fold]
    fold_seed = regime.seed * 1000 + fold
    fit_guids, stop_guids = split_for_stopping(train_guids, regime.label_of, params, fold_seed)
    chooser = "holdout" if params.holdout_chooses else params.early_stopping
    chosen = fit(regime, Phase(fold, "choose", fit_guids, val_guids, stop_guids, chooser,
                               params.epochs, fold_seed), on_epoch)
    epochs_run = len(chosen.log)
    if params.refits:
        # The hold-out chose how many epochs; a fresh model fits every training pair for that
        # many, its warm-up and cosine spread over them, so that it ends annealed as a run of
        # fixed epochs does. The log stays the choosing run's.
        refit = fit(regime, Phase(fold, "refit", train_guids, val_guids, [], "none",
                                  chosen.best_epoch, fold_seed))
        chosen = Fit(refit.state, refit.config, chosen.log, chosen.best_epoch, refit.val_probs)
    result = FoldResult(fold, chosen.state, chosen.config, chosen.log, chosen.best_epoch,
                        epochs_run, val_guids, chosen.val_probs)
    return blend_lexical(result, regime, train_guids)


def blend_lexical(result: FoldResult, regime: Regime, train_guids: list[str]) -> FoldResult:
    """In text and multimodal modes, the fold's lexical model fitted on its training pairs and
    its share in the out-of-fold probabilities."""
    params = regime.params
    if not modes.reads_text(regime.mode) or params.lexical_weight == 0:
        return result
    result.lexical = lexical.fit(regime.texts_of(train_guids),
                                 [LABEL_INDEX[regime.label_of[g]] for g in train_guids],
                                 params.lexical_c)
    result.lexical_weight = params.lexical_weight
    result.val_probs = lexical.blend(
        result.val_probs, lexical.predict_proba(result.lexical,
                                                regime.texts_of(result.val_guids)),
        params.lexical_weight)
    return result


def cross_validate(regime: Regime, folds: dict[str, int], show_progress: bool = True,
                   on_epoch=None) -> list[FoldResult]:
    """One result per fold."""
    n_folds = max(folds.values()) + 1
    return [train_fold(regime, folds, fold, on_epoch)
            for fold in tqdm(range(n_folds), desc=f"{regime.name} {regime.mode}", unit="fold",
                             disable=not (show_progress and regime.is_main))]


def oof_rows(results: list[FoldResult], label_of: dict[str, str]):
    """(guid, fold, label, probabilities) of every labelled pair, in fold then guid order."""
    return [(guid, result.fold, label_of[guid], probs)
            for result in results for guid, probs in zip(result.val_guids, result.val_probs)]


def train_log(results: list[FoldResult]) -> list[dict]:
    return [row for result in results for row in result.log]


def fold_epochs(results: list[FoldResult]) -> dict[int, dict]:
    return {r.fold: {"best_epoch": r.best_epoch, "epochs_run": r.epochs_run} for r in results}
