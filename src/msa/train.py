"""The training loop: one model per fold on cached features.

AdamW, linear warm-up then cosine decay over train.epochs (per step), gradient clipping after
backward(), class-weighted cross-entropy, one augmented image view drawn per training pair each
epoch. How many epochs a fold's model trains is train.early_stopping's choice:
  refit    a stratified hold-out of the training folds chooses it (train.monitor, waiting
           train.patience epochs after the best), then a fresh model fits every training pair
           for that many epochs on the same schedule;
  holdout  the same choice, keeping the choosing model (the hold-out's pairs are never fitted);
  fold     the scored fold itself chooses (the seed design's way; optimistic);
  none     every epoch runs and the last is kept.
Only `fold` lets the scored fold choose anything. In text and multimodal modes the fold's
out-of-fold probabilities blend the network with a lexical model fitted on the same training
folds (`msa.lexical`); the per-epoch log and the epoch choice are the network's own.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.utils.class_weight import compute_class_weight
from torch import nn
from tqdm import tqdm
from transformers import get_cosine_schedule_with_warmup

from msa import LABEL_INDEX, LABELS, lexical
from msa.errors import MsaError
from msa.features import FeatureSet
from msa.model import ModelConfig, SentimentClassifier
from msa.params import TrainParams

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


def seed_everything(seed: int, strict: bool = True) -> None:
    """Seeds torch and numpy; deterministic kernels, or only warnings where `strict` is off
    (on a GPU, where some kernels have no deterministic version)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    torch.use_deterministic_algorithms(True, warn_only=not strict)


def class_weights(labels: np.ndarray, power: float) -> torch.Tensor | None:
    """sklearn's balanced weights raised to `power` (tempered; 0 gives no weighting)."""
    if power == 0:
        return None
    present = np.unique(labels)
    weights = np.ones(len(LABELS), dtype=np.float32)
    weights[present] = compute_class_weight("balanced", classes=present, y=labels) ** power
    return torch.from_numpy(weights)


@torch.no_grad()
def predict_proba(model: SentimentClassifier, features: FeatureSet, rows: np.ndarray,
                  batch_size: int = 256) -> np.ndarray:
    """Class probabilities for feature rows, in the order given."""
    model.eval()
    probs = np.zeros((len(rows), len(LABELS)), dtype=np.float32)
    # Length-sorted batches keep the padding of token states small; other inputs don't care.
    order = (np.argsort(features.text_tokens.lengths[rows], kind="stable") if model.tunes_text
             else np.arange(len(rows)))
    image = torch.from_numpy(features.image)
    for start in range(0, len(rows), batch_size):
        chosen = order[start:start + batch_size]
        batch = rows[chosen]
        logits = model(features.text_input(batch, model.tunes_text), image[batch])
        probs[chosen] = torch.softmax(logits, dim=-1).numpy()
    return probs


def _epoch_batches(n: int, batch_size: int, generator: torch.Generator,
                   lengths: np.ndarray | None) -> list[torch.Tensor]:
    """Shuffled batches; with token lengths, batches of similar length (less padding)."""
    order = torch.randperm(n, generator=generator)
    if lengths is None:
        return list(order.split(batch_size))
    pool = 16 * batch_size  # sort within pools, so batches stay random in content
    sorted_pools = [pool_rows[np.argsort(lengths[pool_rows.numpy()], kind="stable")]
                    for pool_rows in order.split(pool)]
    batches = [b for rows in sorted_pools for b in rows.split(batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator)]


def build_model(features: FeatureSet, mode: str, params: TrainParams,
                dtype: str = "fp32") -> SentimentClassifier:
    """A fresh network for these features; `dtype` (bf16 | fp32) is where the tuned text
    layers autocast."""
    top = features.text_top if mode != "image" else None
    config = ModelConfig(
        mode=mode, text_dim=features.text.shape[1], image_dim=features.image.shape[1],
        hidden_dim=params.hidden_dim, image_hidden_dim=params.image_hidden_dim,
        attention_heads=params.attention_heads, attention_dropout=params.attention_dropout,
        dropout=params.dropout,
        text_tuned_layers=features.encoders.get("text_tuned_layers", 0) if top else 0,
        text_encoder_config=top["config"] if top else None,
        text_pooling=features.encoders.get("text_pooling", "mean"),
        text_bf16=dtype == "bf16",
    )
    model = SentimentClassifier(config)
    if top:
        model.text_top.layers.load_state_dict(top["state_dict"])
    return model


def split_for_stopping(train_guids: list[str], label_of: dict, params: TrainParams,
                       seed: int) -> tuple[list[str], list[str]]:
    """(guids to fit, guids that choose the epoch); a hold-out only for holdout and refit."""
    if params.early_stopping not in ("holdout", "refit"):
        return train_guids, []
    labels = [label_of[g] for g in train_guids]
    # At least one pair of every class, so that small data sets can still stop early.
    size = max(int(np.ceil(params.holdout_fraction * len(labels))), len(set(labels)))
    try:
        fit, stop = train_test_split(train_guids, test_size=size, stratify=labels,
                                     random_state=seed)
    except ValueError as exc:
        raise MsaError(f"train.early_stopping: cannot hold out {size} of {len(labels)} training "
                       f"pairs with every class on both sides ({exc}); use more data or "
                       "train.early_stopping: none") from None
    return list(fit), list(stop)


def scores(probs: np.ndarray, y: torch.Tensor, criterion) -> dict:
    predicted = probs.argmax(1)
    return {
        "val_loss": criterion(torch.log(torch.from_numpy(probs).clamp_min(1e-12)), y).item(),
        "val_accuracy": accuracy_score(y.numpy(), predicted),
        "val_macro_f1": f1_score(y.numpy(), predicted, average="macro",
                                 labels=range(len(LABELS)), zero_division=0),
    }


@dataclass
class Side:
    """The feature rows and labels of one part of a fold (fitted, scored, or choosing the epoch)."""

    guids: list[str]
    rows: np.ndarray
    y: torch.Tensor

    @classmethod
    def of(cls, features: FeatureSet, guids: list[str], label_of: dict) -> "Side":
        return cls(guids, features.rows(guids),
                   torch.tensor([LABEL_INDEX[label_of[g]] for g in guids], dtype=torch.long))


class EarlyStopping:
    """Tracks `monitor` per epoch: whether it improved, and when `patience` epochs have not."""

    def __init__(self, monitor: str, patience: int):
        self.monitor, self.patience = monitor, patience
        self.best, self.waited = None, 0

    def improved(self, value: float) -> bool:
        better = self.best is None or (value < self.best if self.monitor == "val_loss"
                                       else value > self.best)
        if better:
            self.best, self.waited = value, 0
        else:
            self.waited += 1
        return better

    @property
    def stop(self) -> bool:
        return self.waited >= self.patience


def optimizer_and_schedule(model: SentimentClassifier, params: TrainParams, steps_per_epoch: int,
                           epochs: int):
    """AdamW (the tuned text layers at their own rate) and warm-up + cosine over `epochs`."""
    text_params = list(model.text_top.parameters()) if model.tunes_text else []
    tuned = {id(p) for p in text_params}
    groups = [{"params": [p for p in model.parameters() if id(p) not in tuned], "lr": params.lr}]
    if text_params:
        groups.append({"params": text_params, "lr": params.text_lr})
    optimizer = torch.optim.AdamW(groups, weight_decay=params.weight_decay)
    total_steps = steps_per_epoch * epochs
    scheduler = get_cosine_schedule_with_warmup(
        optimizer, int(params.warmup_ratio * total_steps), total_steps)
    return optimizer, scheduler


def train_epoch(model, features: FeatureSet, fit: Side, views: torch.Tensor, criterion,
                optimizer, scheduler, params: TrainParams, generator: torch.Generator) -> float:
    """One pass over the fitted pairs, one augmented view drawn per pair; the mean loss."""
    model.train()
    lengths = features.text_tokens.lengths[fit.rows] if model.tunes_text else None
    batches = _epoch_batches(len(fit.rows), params.batch_size, generator, lengths)
    view = torch.randint(views.shape[1], (len(fit.rows),), generator=generator)
    image = views[torch.arange(len(fit.rows)), view]
    total_loss = 0.0
    for batch in batches:
        text = features.text_input(fit.rows[batch.numpy()], model.tunes_text)
        loss = criterion(model(text, image[batch]), fit.y[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), params.clip_grad_norm)
        optimizer.step()
        scheduler.step()
        total_loss += loss.item() * len(batch)
    return total_loss / len(fit.rows)


def epoch_row(fold: int, epoch: int, train_loss: float, lr: float, val_scores: dict,
              chooser: str, monitor: str, stop_scores) -> dict:
    """One epoch's log row. Its stop_score is what the epoch is chosen by: train.monitor on the
    hold-out (`stop_scores()` gives its scores) or on the fold, or nothing under none."""
    if chooser == "holdout":
        stop_score = stop_scores()[monitor]
    else:
        stop_score = val_scores[monitor] if chooser == "fold" else float("nan")
    return {"fold": fold, "epoch": epoch, "train_loss": train_loss, **val_scores,
            "stop_score": stop_score, "lr": lr}


@dataclass
class Fit:
    state: dict
    config: ModelConfig
    log: list[dict]
    best_epoch: int
    val_probs: np.ndarray  # the scored fold, at best_epoch


def fit(features: FeatureSet, mode: str, params: TrainParams, seed: int, dtype: str, fold: int,
        train: Side, val: Side, stop: Side | None, chooser: str, epochs: int,
        on_epoch=None) -> Fit:
    """Up to `epochs` epochs from a fresh model; the epoch kept is the best by train.monitor on
    `stop` (chooser "holdout") or on `val` ("fold"), or the last ("none")."""
    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build_model(features, mode, params, dtype)
    criterion = nn.CrossEntropyLoss(weight=class_weights(train.y.numpy(), params.class_weight_power),
                                    label_smoothing=params.label_smoothing)
    optimizer, scheduler = optimizer_and_schedule(
        model, params, -(-len(train.rows) // params.batch_size), epochs)
    views = features.image_views[features.view_rows(train.guids)]
    views = (torch.from_numpy(views) if views.shape[1]
             else torch.from_numpy(features.image)[train.rows].unsqueeze(1))
    stopping = EarlyStopping(params.monitor, params.patience)
    best, log = None, []
    for epoch in range(1, epochs + 1):
        lr = scheduler.get_last_lr()[0]
        train_loss = train_epoch(model, features, train, views, criterion, optimizer, scheduler,
                                 params, generator)
        val_probs = predict_proba(model, features, val.rows)
        log.append(epoch_row(
            fold, epoch, train_loss, lr, scores(val_probs, val.y, criterion), chooser,
            params.monitor,
            lambda: scores(predict_proba(model, features, stop.rows), stop.y, criterion)))
        stop_score = log[-1]["stop_score"]
        if on_epoch:
            on_epoch(log[-1])
        if chooser == "none" or stopping.improved(stop_score):
            best = Fit(copy.deepcopy(model.state_dict()), model.config, log, epoch, val_probs)
        elif stopping.stop:
            break
    return best


def train_fold(features: FeatureSet, folds: dict[str, int], fold: int, mode: str,
               params: TrainParams, seed: int, dtype: str = "fp32", on_epoch=None) -> FoldResult:
    """`on_epoch(row)` sees each epoch's log row of the run that chooses (msa.live)."""
    label_of = dict(zip(features.guids, features.labels))
    val_guids = [g for g, f in folds.items() if f == fold]
    train_guids = [g for g, f in folds.items() if f != fold]
    fit_guids, stop_guids = split_for_stopping(train_guids, label_of, params, seed * 1000 + fold)
    val = Side.of(features, val_guids, label_of)
    fold_seed = seed * 1000 + fold
    chooser = "holdout" if params.early_stopping == "refit" else params.early_stopping
    chosen = fit(features, mode, params, fold_seed, dtype, fold,
                 Side.of(features, fit_guids, label_of), val,
                 Side.of(features, stop_guids, label_of), chooser, params.epochs, on_epoch)
    epochs_run = len(chosen.log)
    if params.early_stopping == "refit":
        # The hold-out chose how many epochs; a fresh model fits every training pair for that
        # many, its warm-up and cosine spread over them, so that it ends annealed as a run of
        # fixed epochs does. The log stays the choosing run's.
        refit = fit(features, mode, params, fold_seed, dtype, fold,
                    Side.of(features, train_guids, label_of), val, None, "none",
                    chosen.best_epoch)
        chosen = Fit(refit.state, refit.config, chosen.log, chosen.best_epoch, refit.val_probs)
    result = FoldResult(fold, chosen.state, chosen.config, chosen.log, chosen.best_epoch,
                        epochs_run, val_guids, chosen.val_probs)
    return blend_lexical(result, mode, params, lambda guids: features.texts_of(features.rows(guids)),
                         train_guids, [LABEL_INDEX[label_of[g]] for g in train_guids])


def blend_lexical(result: FoldResult, mode: str, params: TrainParams, texts_of,
                  train_guids: list[str], train_labels: list[int]) -> FoldResult:
    """In text and multimodal modes, the fold's lexical model fitted on its training pairs and
    its share in the out-of-fold probabilities; `texts_of(guids)` gives the posts' texts."""
    if mode == "image" or params.lexical_weight == 0:
        return result
    result.lexical = lexical.fit(texts_of(train_guids), train_labels, params.lexical_c)
    result.lexical_weight = params.lexical_weight
    result.val_probs = lexical.blend(result.val_probs,
                                     lexical.predict_proba(result.lexical,
                                                           texts_of(result.val_guids)),
                                     params.lexical_weight)
    return result


def train_cross_validated(features: FeatureSet, folds: dict[str, int], mode: str,
                          params: TrainParams, seed: int, dtype: str = "fp32",
                          show_progress: bool = True, on_epoch=None) -> list[FoldResult]:
    """One result per fold; `dtype` (bf16 | fp32, msa.precision.resolve) for the tuned text."""
    n_folds = max(folds.values()) + 1
    results = []
    for fold in tqdm(range(n_folds), desc=f"train {mode}", unit="fold", disable=not show_progress):
        results.append(train_fold(features, folds, fold, mode, params, seed, dtype, on_epoch))
    return results


def oof_rows(results: list[FoldResult], label_of: dict[str, str]):
    """(guid, fold, label, probabilities) of every labelled pair, in fold then guid order."""
    return [(guid, result.fold, label_of[guid], probs)
            for result in results for guid, probs in zip(result.val_guids, result.val_probs)]


def epoch_log(results: list[FoldResult]) -> list[dict]:
    return [row for result in results for row in result.log]


def fold_epochs(results: list[FoldResult]) -> dict[int, dict]:
    return {r.fold: {"best_epoch": r.best_epoch, "epochs_run": r.epochs_run} for r in results}
