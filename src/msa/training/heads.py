"""Train regime heads: the network's head trained on the cached features, one model per fold.

AdamW, linear warm-up then cosine decay over the phase's epochs (per step), gradient clipping
after backward(), class-weighted cross-entropy, one augmented image view drawn per training pair
each epoch; the tuned top text layers, where featurize cached their input, at their own rate.
The folds, the epoch choice, refit and the lexical blend are the driver's
(`msa.training.driver`).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from msa import modes, precision
from msa.features.store import FeatureSet
from msa.params import TrainParams
from msa.training import recipe
from msa.training.driver import Phase, labels_of, seed_everything
from msa.training.model import ModelConfig, SentimentClassifier, predict_proba, to_device


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
    top = features.text_top if modes.reads_text(mode) else None
    config = ModelConfig.from_params(
        mode, params, features.text.shape[1], features.image.shape[1],
        text_tuned_layers=features.encoders.text_tuned_layers if top else 0,
        text_encoder_config=top["config"] if top else None,
        text_pooling=features.encoders.text_pooling, text_bf16=dtype == "bf16")
    model = SentimentClassifier(config)
    if top:
        model.text_top.layers.load_state_dict(top["state_dict"])
    return model


def optimizer_and_schedule(model: SentimentClassifier, params: TrainParams, steps_per_epoch: int,
                           epochs: int):
    """AdamW (the tuned text layers at their own rate) and warm-up + cosine over `epochs`."""
    text = list(model.text_top.parameters()) if model.tunes_text else []
    tuned = {id(p) for p in text}
    optimizer = recipe.adamw([([p for p in model.parameters() if id(p) not in tuned], params.lr),
                              (text, params.text_encoder_lr)], params)
    return optimizer, recipe.warmup_cosine(optimizer, params, steps_per_epoch, epochs)


class HeadsRun:
    """One phase of a fold on cached features: its network, optimizer, schedule and views."""

    def __init__(self, regime: "Heads", phase: Phase):
        features, params = regime.features, regime.params
        self.features, self.params = features, params
        self.device = regime.device
        # Some GPU kernels have no deterministic version: there determinism only warns.
        seed_everything(phase.seed, strict=self.device.type == "cpu")
        self.generator = torch.Generator().manual_seed(phase.seed)
        self.model = build_model(features, regime.mode, params, regime.dtype).to(self.device)
        self.config = self.model.config
        self.fit_rows = features.rows(phase.fit_guids)
        self.fit_y = labels_of(regime, phase.fit_guids)
        self.rows = {"val": features.rows(phase.val_guids),
                     "stop": features.rows(phase.stop_guids)}
        self.score_criterion, self.criterion = recipe.criteria(self.fit_y.numpy(), params,
                                                               self.device)
        self.optimizer, self.scheduler = optimizer_and_schedule(
            self.model, params, -(-len(self.fit_rows) // params.batch_size), phase.epochs)
        views = features.image_views[features.view_rows(phase.fit_guids)]
        self.views = (torch.from_numpy(views) if views.shape[1]
                      else torch.from_numpy(features.image)[self.fit_rows].unsqueeze(1))

    def lr(self) -> float:
        return self.scheduler.get_last_lr()[0]

    def train_epoch(self, epoch: int) -> float:
        """One pass over the fitted pairs, one augmented view drawn per pair; the mean loss."""
        model, features, params, generator = self.model, self.features, self.params, self.generator
        model.train()
        n = len(self.fit_rows)
        lengths = features.text_tokens.lengths[self.fit_rows] if model.tunes_text else None
        batches = _epoch_batches(n, params.batch_size, generator, lengths)
        view = torch.randint(self.views.shape[1], (n,), generator=generator)
        image = self.views[torch.arange(n), view]
        total_loss = 0.0
        for batch in batches:
            text = to_device(features.text_input(self.fit_rows[batch.numpy()], model.tunes_text),
                             self.device)
            loss = self.criterion(model(text, image[batch].to(self.device)),
                                  self.fit_y[batch].to(self.device))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), params.clip_grad_norm)
            self.optimizer.step()
            self.scheduler.step()
            total_loss += loss.item() * len(batch)
        return total_loss / n

    def probabilities(self, which: str) -> np.ndarray:
        return predict_proba(self.model, self.features, self.rows[which])

    def state(self) -> dict:
        return copy.deepcopy(self.model.state_dict())


class Heads:
    """The heads regime over a feature cache; `dtype` (bf16 | fp32, msa.precision.resolve) is
    where the tuned text layers autocast. A fold's epochs take seconds here: nothing is kept
    to resume from."""

    name = "train"
    is_main = True
    keeper = None

    def __init__(self, features: FeatureSet, mode: str, params: TrainParams, seed: int,
                 dtype: str = "fp32", device: torch.device = torch.device("cpu")):
        self.features, self.mode, self.params, self.seed, self.dtype = (features, mode, params,
                                                                       seed, dtype)
        self.device = device
        self.label_of = dict(zip(features.guids, features.labels))
        self.encoders = features.encoders

    def produced_by(self) -> dict:
        made = self.features.produced_by
        return {"featurize": made.to_json() if made else {},
                "train": precision.provenance(self.dtype, self.device).to_json()}

    def record(self) -> dict:
        """What models.json adds for these fold models: nothing (the tuned text layers'
        autocast is the features' dtype)."""
        return {}

    def close(self) -> None:
        pass

    def new_run(self, phase: Phase) -> HeadsRun:
        return HeadsRun(self, phase)

    def texts_of(self, guids: list[str]) -> list[str]:
        return self.features.texts_of(self.features.rows(guids))
