"""Projections to a shared width, attention fusion and the classifier, for the three modes.

text  -> Linear -> hidden
image -> MLP (Linear, ReLU, Dropout, Linear) -> hidden
multimodal: the two hidden-d tokens attend to each other (nn.MultiheadAttention), plus a
residual connection and LayerNorm; both fused tokens feed the classifier.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from msa import LABELS


@dataclass(frozen=True)
class ModelConfig:
    mode: str
    text_dim: int
    image_dim: int
    hidden_dim: int = 128
    image_hidden_dim: int = 512
    attention_heads: int = 8
    attention_dropout: float = 0.1
    dropout: float = 0.1
    n_classes: int = len(LABELS)

    def to_dict(self) -> dict:
        return asdict(self)


class SentimentClassifier(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        hidden = config.hidden_dim
        self.uses_text = config.mode in ("text", "multimodal")
        self.uses_image = config.mode in ("image", "multimodal")
        if self.uses_text:
            self.text_proj = nn.Sequential(nn.Linear(config.text_dim, hidden), nn.ReLU(),
                                           nn.Dropout(config.dropout))
        if self.uses_image:
            self.image_proj = nn.Sequential(
                nn.Linear(config.image_dim, config.image_hidden_dim), nn.ReLU(),
                nn.Dropout(config.dropout), nn.Linear(config.image_hidden_dim, hidden), nn.ReLU(),
                nn.Dropout(config.dropout),
            )
        tokens = 2 if config.mode == "multimodal" else 1
        if tokens == 2:
            self.attention = nn.MultiheadAttention(hidden, config.attention_heads,
                                                   dropout=config.attention_dropout,
                                                   batch_first=True)
            self.norm = nn.LayerNorm(hidden)
        self.classifier = nn.Sequential(
            nn.Linear(tokens * hidden, hidden), nn.ReLU(), nn.Dropout(config.dropout),
            nn.Linear(hidden, config.n_classes),
        )

    def forward(self, text: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        if self.config.mode == "text":
            return self.classifier(self.text_proj(text))
        if self.config.mode == "image":
            return self.classifier(self.image_proj(image))
        tokens = torch.stack([self.text_proj(text), self.image_proj(image)], dim=1)
        attended, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        fused = self.norm(tokens + attended)
        return self.classifier(fused.flatten(1))
