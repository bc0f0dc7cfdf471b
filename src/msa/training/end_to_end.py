"""The designed model end to end, for train.regime finetune: the text and image encoders
themselves, then the head and fusion of msa.training.model, all trained together from the raw pairs.

text  -> text encoder -> pooling -> [msa.training.model: Linear -> hidden]
image -> image encoder (pooled features) -> [msa.training.model: MLP -> hidden]
then the same attention fusion and classifier as the heads regime. The pairs come in through
`PairImages`: training images through the albumentations pipeline afresh every epoch (the
epoch's draw of each post's image, msa.features.augment.ImageViews: it does not depend on batch
size, worker count, world size or fold), validation and test images through the clean view.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from msa import LABEL_INDEX, modes
from msa.data.prepared import Pair
from msa.features import backbones
from msa.features.augment import ImageViews
from msa.features.backbones import ImageSpec
from msa.parallel import ALONE, Shares
from msa.params import AugmentParams, TrainParams
from msa.training.model import ModelConfig, SentimentClassifier

class EndToEnd(nn.Module):
    """Both encoders (the one a mode needs) and the heads regime's head over their outputs."""

    def __init__(self, head: SentimentClassifier, text_encoder: nn.Module | None,
                 image_encoder: nn.Module | None, text_pooling: str):
        super().__init__()
        self.head, self.text_encoder, self.image_encoder = head, text_encoder, image_encoder
        self.text_pooling = text_pooling

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                pixels: torch.Tensor) -> torch.Tensor:
        text = image = None
        if self.text_encoder is not None:
            states = self.text_encoder(input_ids=input_ids,
                                       attention_mask=attention_mask).last_hidden_state
            text = backbones.pool(states, attention_mask, self.text_pooling).float()
        if self.image_encoder is not None:
            image = self.image_encoder(pixels).float()
        return self.head(text, image)

    def encoder_parameters(self) -> list[nn.Parameter]:
        return [p for encoder in (self.text_encoder, self.image_encoder) if encoder is not None
                for p in encoder.parameters()]


def build(encoders: dict, mode: str, params: TrainParams | None = None,
          config: ModelConfig | None = None):
    """(model, tokenizer or None, image spec) from the featurize identity (`encoder_identity`):
    the pretrained encoders, and a head: `config`'s, or a fresh one sized to them by `params`."""
    tokenizer = text_encoder = image_encoder = None
    text_dim = image_dim = 1
    spec = None
    if modes.reads_text(mode):
        tokenizer, text_encoder = backbones.build_text_encoder(encoders["text_model"])
        text_encoder.config._attn_implementation = "sdpa"
        # The encoder's own pooler never feeds the loss (the head pools the states), and
        # distributed training refuses parameters that get no gradient.
        if getattr(text_encoder, "pooler", None) is not None:
            text_encoder.pooler = None
        text_dim = text_encoder.config.hidden_size
    # The image spec is kept in every mode, so that one data pipeline serves them all.
    image_encoder, spec = backbones.build_image_encoder(encoders["image_model"],
                                                        encoders["image_weights"])
    if not modes.reads_image(mode):
        image_encoder = None
    else:
        image_dim = spec.dim
    if config is None:
        config = ModelConfig.from_params(mode, params, text_dim, image_dim)
    model = EndToEnd(SentimentClassifier(config), text_encoder, image_encoder,
                     encoders["text_pooling"])
    return model, tokenizer, spec


def epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """A seed of the epoch's own randomness (0: the batch order, 1: dropout): the same after a
    resume."""
    return int(np.random.SeedSequence([seed, epoch, stream]).generate_state(1)[0])


class PairImages(Dataset):
    """Item i: (i, text, label index or -1, image [3, size, size]); `augment` None gives the
    clean view, else item (epoch, i) is the epoch's draw of pair i's image. The epoch comes with
    the key (from `EpochShuffle`), so persistent DataLoader workers need not be told of it."""

    def __init__(self, pairs: list[Pair], spec: ImageSpec, augment: AugmentParams | None,
                 needs_image: bool = True):
        self.pairs, self.needs_image = pairs, needs_image
        self.pictures = ImageViews(spec, augment)
        self.augmented = augment is not None

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key):
        epoch, i = key if isinstance(key, tuple) else (0, key)
        pair = self.pairs[i]
        label = LABEL_INDEX[pair.label] if pair.label in LABEL_INDEX else -1
        if not self.needs_image:
            return i, pair.text, label, torch.zeros(0)
        image = self.pictures.load(pair.image)
        pixels = (self.pictures.draw(image, pair.guid, epoch) if self.augmented
                  else self.pictures.clean(image))
        return i, pair.text, label, torch.from_numpy(pixels)


class Collate:
    """Items -> one batch dict; texts tokenized here, padded to the batch's longest."""

    def __init__(self, tokenizer, max_length: int):
        self.tokenizer, self.max_length = tokenizer, max_length

    def __call__(self, items) -> dict:
        index, texts, labels, pixels = zip(*items)
        batch = {"index": torch.tensor(index), "labels": torch.tensor(labels),
                 "pixels": torch.stack(pixels)}
        if self.tokenizer is None:
            batch["input_ids"] = batch["attention_mask"] = torch.zeros((len(items), 1),
                                                                       dtype=torch.long)
        else:
            encoded = self.tokenizer(list(texts), padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt")
            batch["input_ids"], batch["attention_mask"] = (encoded["input_ids"],
                                                           encoded["attention_mask"])
        return batch


class EpochShuffle(Sampler):
    """Keys (epoch, i) for a permutation of range(n) drawn from (seed, epoch): the same order
    after a resume."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        generator = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch, 0))
        return iter((self.epoch, i) for i in torch.randperm(self.n, generator=generator).tolist())


def logits_of(model: nn.Module, batch: dict) -> torch.Tensor:
    return model(batch["input_ids"], batch["attention_mask"], batch["pixels"])


@torch.no_grad()
def pair_proba(network: EndToEnd, tokenizer, spec: ImageSpec, pairs: list[Pair],
               text_max_length: int, bf16: bool, device: torch.device = torch.device("cpu"),
               batch_size: int = 64, shares: Shares = ALONE) -> np.ndarray | None:
    """An end-to-end network's class probabilities for raw pairs (their clean view), in the
    order given, on the device the network is; under bf16 autocast where it was trained so.
    Each process predicts its share of the batches; the main process gets them all, the others
    None."""
    network.eval()
    starts = shares.mine(range(0, len(pairs), batch_size))
    mine = pairs[starts[0]:starts[-1] + batch_size] if starts else []
    loader = DataLoader(PairImages(mine, spec, None, modes.reads_image(network.head.config.mode)),
                        batch_size, collate_fn=Collate(tokenizer, text_max_length))
    chunks = []
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            chunks.append(torch.softmax(logits_of(network, batch).float(), dim=-1).cpu().numpy())
    chunks = shares.gather(chunks)
    return None if chunks is None else np.concatenate(chunks)
