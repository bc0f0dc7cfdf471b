"""The towers: a text tower turns texts into one vector each, a vision-language image tower
pixels into one; each knows its checkpoint's way of reading.

A text tower holds its tokenizer (with the checkpoint's maximum length and padding), its
encoder, and how the encoder's outputs become the vector; it hands its encoder only the inputs
the encoder's forward accepts, so a tokenizer's token_type_ids never reach a CLIP, MPNet or
DistilBERT model. Families: `AutoText` (BERT, RoBERTa, DeBERTa, XLM-R, MPNet, sentence
encoders: the states pooled by mean or first token), `ClipText` and `SiglipText`
(msa.features.vision_language loads them). Image towers: `VisionTower` (CLIP's and SigLIP's) and
`PooledVision` (the vision models of msa.features.image_checkpoints); timm's and torchvision's
image encoders need no tower: their pooled output is the vector.
"""

from __future__ import annotations

import abc
import inspect
from dataclasses import dataclass

import torch
from torch import nn


def pool(states: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """[batch, tokens, dim] -> [batch, dim]: the first token (cls) or the mean of real tokens."""
    if pooling == "cls":
        return states[:, 0]
    mask = mask.unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)


@dataclass(frozen=True)
class TextReader:
    """How a tower's texts become its encoder's inputs: small enough to go to DataLoader
    workers, which never hold the encoder."""

    tokenizer: object
    max_length: int
    padding: str  # "longest", or "max_length" where the encoder reads a fixed position
    accepts: frozenset  # the inputs the encoder's forward takes

    def __call__(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """A padded batch of the inputs the encoder takes."""
        encoded = self.tokenizer(list(texts), padding=self.padding, truncation=True,
                                 max_length=self.max_length, return_tensors="pt")
        return {k: v for k, v in encoded.items() if k in self.accepts}

    def lengths(self, texts: list[str]) -> list[int]:
        """Each text's token count, unpadded: what the batches are sorted by."""
        return [len(ids) for ids in self.tokenizer(list(texts), truncation=True,
                                                   max_length=self.max_length)["input_ids"]]


class TextTower(nn.Module, abc.ABC):
    family = "auto"

    def __init__(self, tokenizer, encoder: nn.Module, max_length: int, padding="longest"):
        super().__init__()
        self.encoder = encoder
        self.reader = TextReader(tokenizer, max_length, padding,
                                 frozenset(inspect.signature(encoder.forward).parameters))

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """The width of its vectors."""

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return self.reader(texts)

    def lengths(self, texts: list[str]) -> list[int]:
        return self.reader.lengths(texts)

    @abc.abstractmethod
    def read(self, outputs, mask: torch.Tensor) -> torch.Tensor:
        """The encoder's outputs for a batch -> [batch, dim]."""

    def forward(self, **inputs) -> torch.Tensor:
        return self.read(self.encoder(**inputs), inputs["attention_mask"])


class AutoText(TextTower):
    """A transformers encoder whose token states are pooled (`featurize.text_pooling`),
    reading at most `max_length` tokens and no more than its positions allow."""

    def __init__(self, tokenizer, encoder: nn.Module, max_length: int, pooling: str):
        super().__init__(tokenizer, encoder, min(max_length, positions(encoder, tokenizer)))
        self.pooling = pooling
        # Its own pooler never feeds the vector (the tower pools the states), and distributed
        # training refuses parameters that get no gradient.
        if getattr(encoder, "pooler", None) is not None:
            encoder.pooler = None

    @property
    def dim(self) -> int:
        return self.encoder.config.hidden_size

    def read(self, outputs, mask: torch.Tensor) -> torch.Tensor:
        return pool(outputs.last_hidden_state, mask, self.pooling)


def positions(encoder: nn.Module, tokenizer) -> int:
    """The most tokens an encoder reads: its position embeddings (less the ones RoBERTa's and
    MPNet's kind reserve below their padding index), and its tokenizer's maximum where set."""
    limits = [tokenizer.model_max_length] if tokenizer.model_max_length < 1_000_000 else []
    table = getattr(encoder.config, "max_position_embeddings", None)
    if table:
        padding = getattr(getattr(encoder, "embeddings", None), "padding_idx", None)
        limits.append(table - (padding + 1 if isinstance(padding, int) else 0))
    return min(limits, default=1_000_000)


class ClipText(TextTower):
    """CLIP's text transformer: the end-of-text token's state, through the text projection
    into the space it shares with the images (`projected`), or as it is (`pooled`)."""

    family = "clip"

    def __init__(self, tokenizer, encoder: nn.Module, max_length: int,
                 projection: nn.Module | None):
        super().__init__(tokenizer, encoder, max_length)
        self.projection = projection

    @property
    def dim(self) -> int:
        return (self.projection.out_features if self.projection is not None
                else self.encoder.config.hidden_size)

    def read(self, outputs, mask: torch.Tensor) -> torch.Tensor:
        pooled = outputs.pooler_output
        return pooled if self.projection is None else self.projection(pooled)


class SiglipText(TextTower):
    """SigLIP's text transformer, which reads its texts padded to its maximum length: the last
    token's state through its head (`projected`), or before it (`pooled`)."""

    family = "siglip"

    def __init__(self, tokenizer, encoder: nn.Module, max_length: int, projected: bool):
        super().__init__(tokenizer, encoder, max_length, padding="max_length")
        self.projected = projected
        self.dim_ = encoder.head.out_features if projected else encoder.config.hidden_size
        if not projected:  # a head no vector passes through gets no gradient either
            encoder.head = nn.Identity()

    @property
    def dim(self) -> int:
        return self.dim_

    def read(self, outputs, mask: torch.Tensor) -> torch.Tensor:
        return outputs.pooler_output if self.projected else outputs.last_hidden_state[:, -1]


class VisionTower(nn.Module):
    """A CLIP or SigLIP vision transformer: its pooled state (CLIP: the class token's; SigLIP:
    its attention-pooling head's), through CLIP's visual projection where `projection` is
    given."""

    def __init__(self, encoder: nn.Module, projection: nn.Module | None):
        super().__init__()
        self.encoder, self.projection = encoder, projection

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        pooled = self.encoder(pixel_values=pixels).pooler_output
        return pooled if self.projection is None else self.projection(pooled)


class PooledVision(nn.Module):
    """A vision model's one vector an image: its class token's state, or its pooled output."""

    def __init__(self, encoder: nn.Module, class_token: bool):
        super().__init__()
        self.encoder, self.class_token = encoder, class_token

    def read(self, outputs) -> torch.Tensor:
        """The encoder's outputs for a batch -> [batch, dim]."""
        if self.class_token:
            return outputs.last_hidden_state[:, 0]
        return outputs.pooler_output.flatten(1)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.read(self.encoder(pixel_values=pixels))
