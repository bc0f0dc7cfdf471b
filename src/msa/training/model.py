"""Projections to a shared width, attention fusion and the classifier, for the three modes.

text  -> [top layers of the text encoder, fine-tuned, then pooling] -> Linear -> hidden
image -> MLP (Linear, ReLU, Dropout, Linear) -> hidden
multimodal: the two hidden-d tokens attend to each other (nn.MultiheadAttention), plus a
residual connection and LayerNorm; both fused tokens feed the classifier.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn

from msa import LABELS, modes
from msa.features.towers import pool
from msa.features.store import FeatureSet
from msa.params import TrainParams


@dataclass(frozen=True)
class ModelConfig:
    mode: str
    text_dim: int
    image_dim: int
    # The head's knobs, each the train.* param of its name (`from_params`): a new one is a
    # field here and a param, and reaches both regimes. No defaults, so none can disagree.
    hidden_dim: int
    image_hidden_dim: int
    attention_heads: int
    attention_dropout: float
    dropout: float
    n_classes: int = len(LABELS)
    # Fine-tuned top layers of a BERT-family text encoder (0: the text input is pooled features).
    text_tuned_layers: int = 0
    text_encoder_config: dict | None = None
    text_pooling: str = "mean"
    # The tuned text layers run under bf16 autocast (the resolved `precision` param).
    text_bf16: bool = False

    @classmethod
    def from_params(cls, mode: str, params: TrainParams, text_dim: int, image_dim: int,
                    **text) -> ModelConfig:
        """The head both regimes train, sized to the encoders' outputs; `text`: the tuned text
        layers' fields (heads regime)."""
        head = {f.name: getattr(params, f.name) for f in fields(cls) if hasattr(params, f.name)}
        return cls(mode=mode, text_dim=text_dim, image_dim=image_dim, **head, **text)

    def to_dict(self) -> dict:
        return asdict(self)


class TextTop(nn.Module):
    """The top layers of a BERT-family encoder over cached states entering them, then pooling."""

    def __init__(self, encoder_config: dict, n_layers: int, pooling: str, bf16: bool):
        super().__init__()
        from transformers import BertConfig
        from transformers.models.bert.modeling_bert import BertLayer

        config = BertConfig.from_dict(encoder_config)
        config._attn_implementation = "sdpa"
        self.layers = nn.ModuleList(BertLayer(config) for _ in range(n_layers))
        self.pooling, self.bf16 = pooling, bf16

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        additive_mask = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
        with torch.autocast(states.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            for layer in self.layers:
                states = layer(states, attention_mask=additive_mask)[0]
        return pool(states.float(), mask, self.pooling)


class SentimentClassifier(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        hidden = config.hidden_dim
        self.uses_text = modes.reads_text(config.mode)
        self.uses_image = modes.reads_image(config.mode)
        self.text_top = None
        if self.uses_text and config.text_tuned_layers:
            self.text_top = TextTop(config.text_encoder_config, config.text_tuned_layers,
                                    config.text_pooling, config.text_bf16)
        if self.uses_text:
            self.text_proj = nn.Sequential(nn.Linear(config.text_dim, hidden), nn.ReLU(),
                                           nn.Dropout(config.dropout))
        if self.uses_image:
            self.image_proj = nn.Sequential(
                nn.Linear(config.image_dim, config.image_hidden_dim), nn.ReLU(),
                nn.Dropout(config.dropout), nn.Linear(config.image_hidden_dim, hidden), nn.ReLU(),
                nn.Dropout(config.dropout),
            )
        tokens = 2 if modes.fuses(config.mode) else 1
        if tokens == 2:
            self.attention = nn.MultiheadAttention(hidden, config.attention_heads,
                                                   dropout=config.attention_dropout,
                                                   batch_first=True)
            self.norm = nn.LayerNorm(hidden)
        self.classifier = nn.Sequential(
            nn.Linear(tokens * hidden, hidden), nn.ReLU(), nn.Dropout(config.dropout),
            nn.Linear(hidden, config.n_classes),
        )

    @property
    def tunes_text(self) -> bool:
        return self.text_top is not None

    def forward(self, text, image: torch.Tensor) -> torch.Tensor:
        """`text`: pooled features [batch, text_dim], or (states, mask) when it tunes text."""
        if self.tunes_text:
            text = self.text_top(*text)
        if not self.uses_image:
            return self.classifier(self.text_proj(text))
        if not self.uses_text:
            return self.classifier(self.image_proj(image))
        tokens = torch.stack([self.text_proj(text), self.image_proj(image)], dim=1)
        attended, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        fused = self.norm(tokens + attended)
        return self.classifier(fused.flatten(1))


def to_device(text_input, device: torch.device):
    """The text side's input (pooled features, or token states with their mask) on `device`."""
    if isinstance(text_input, tuple):
        return tuple(t.to(device) for t in text_input)
    return text_input.to(device)


@torch.no_grad()
def predict_proba(model: SentimentClassifier, features: FeatureSet, rows: np.ndarray,
                  batch_size: int = 256) -> np.ndarray:
    """Class probabilities for feature rows, in the order given, on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    probs = np.zeros((len(rows), len(LABELS)), dtype=np.float32)
    # Length-sorted batches keep the padding of token states small; other inputs don't care.
    order = (np.argsort(features.text_tokens.lengths[rows], kind="stable") if model.tunes_text
             else np.arange(len(rows)))
    image = torch.from_numpy(features.image)
    for start in range(0, len(rows), batch_size):
        chosen = order[start:start + batch_size]
        batch = rows[chosen]
        logits = model(to_device(features.text_input(batch, model.tunes_text), device),
                       image[batch].to(device))
        probs[chosen] = torch.softmax(logits, dim=-1).cpu().numpy()
    return probs
