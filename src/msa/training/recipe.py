"""What a fold's model trains with, in both regimes (msa.training.heads on cached features,
msa.training.finetune end to end): AdamW over groups of parameters at their own rates, linear
warm-up then cosine decay over the phase's steps, and the class-weighted, label-smoothed
cross-entropy. The network's config comes from the params by `ModelConfig.from_params`; the
training images' views from msa.features.augment; the record of what ran from msa.precision."""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.utils.class_weight import compute_class_weight
from torch import nn
from transformers import get_cosine_schedule_with_warmup

from msa import LABELS
from msa.params import TrainParams


def class_weights(labels: np.ndarray, power: float) -> torch.Tensor | None:
    """sklearn's balanced weights raised to `power` (tempered; 0 gives no weighting)."""
    if power == 0:
        return None
    present = np.unique(labels)
    weights = np.ones(len(LABELS), dtype=np.float32)
    weights[present] = compute_class_weight("balanced", classes=present, y=labels) ** power
    return torch.from_numpy(weights)


def criteria(labels: np.ndarray, params: TrainParams,
             device: torch.device) -> tuple[nn.Module, nn.Module]:
    """(the loss the epoch's scores are computed with, on the CPU; the training loss, on
    `device`), both weighted by the classes of the fitted pairs' `labels` (class indices)."""
    scores = nn.CrossEntropyLoss(weight=class_weights(labels, params.class_weight_power),
                                 label_smoothing=params.label_smoothing)
    return scores, copy.deepcopy(scores).to(device)


def adamw(groups: list[tuple[list[nn.Parameter], float]], params: TrainParams):
    """AdamW over (parameters, learning rate) groups; empty groups left out."""
    return torch.optim.AdamW([{"params": chosen, "lr": lr} for chosen, lr in groups if chosen],
                             weight_decay=params.weight_decay)


def warmup_cosine(optimizer, params: TrainParams, steps_per_epoch: int, epochs: int):
    """Linear warm-up over train.warmup_ratio of the steps, then cosine decay to zero."""
    total = steps_per_epoch * epochs
    return get_cosine_schedule_with_warmup(optimizer, int(params.warmup_ratio * total), total)
