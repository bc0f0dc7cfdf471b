"""The designed model end to end, for train.regime finetune: the text and image encoders
themselves, then the head and fusion of msa.training.model, all trained together from the raw pairs.

text  -> text tower (msa.features.towers: its encoder and how it reads) -> [msa.training.model:
         Linear -> hidden]
image -> image encoder (pooled features, or a vision tower) -> [msa.training.model: MLP -> hidden]
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
from msa.features.augment import ImageViews
from msa.features.backbones import ImageSpec
from msa.features.encoders import towers
from msa.features.identity import EncoderIdentity
from msa.features.towers import TextReader, TextTower
from msa.parallel import ALONE, Shares
from msa.params import AugmentParams, TrainParams
from msa.training import tuning as tuning_rules
from msa.training.model import ModelConfig, SentimentClassifier

class EndToEnd(nn.Module):
    """Both encoders (the one a mode needs), each frozen, adapted or trained in full
    (msa.training.tuning), and the heads regime's head over their outputs."""

    def __init__(self, head: SentimentClassifier, text_encoder: TextTower | None,
                 image_encoder: nn.Module | None, tuning: tuning_rules.Tuning):
        super().__init__()
        self.head, self.text_encoder, self.image_encoder = head, text_encoder, image_encoder
        self.tuning = tuning

    def train(self, mode: bool = True):
        super().train(mode)
        if mode:
            tuning_rules.set_modes(self.text_encoder, self.image_encoder, self.tuning)
        return self

    def forward(self, pixels: torch.Tensor, **text_inputs) -> torch.Tensor:
        text = image = None
        if self.text_encoder is not None:
            text = self.text_encoder(**text_inputs).float()
        if self.image_encoder is not None:
            image = self.image_encoder(pixels).float()
        return self.head(text, image)

    def trained(self, side: str) -> list[nn.Parameter]:
        """The parameters of the text or image encoder that train (none where frozen)."""
        encoder = self.text_encoder if side == "text" else self.image_encoder
        return [p for p in encoder.parameters() if p.requires_grad] if encoder else []


def build(identity: EncoderIdentity, mode: str, params: TrainParams | None = None,
          config: ModelConfig | None = None, tuning: tuning_rules.Tuning | None = None):
    """(model, its text reader or None, image spec) from the featurize identity
    (`encoder_identity`): the pretrained encoders (msa.features.encoders), each tuned as
    `tuning` (msa.training.tuning.Tuning; default: the params'), and a head:
    `config`'s, or a fresh one sized to them by `params`."""
    tuning = tuning or tuning_rules.settings(params)
    # The image spec is kept in every mode, so that one data pipeline serves them all.
    text_encoder, (image_encoder, spec) = towers(identity, text=modes.reads_text(mode))
    if text_encoder is not None:
        text_encoder.encoder.config._attn_implementation = "sdpa"
    if not modes.reads_image(mode):
        image_encoder = None
    tuning_rules.apply(text_encoder, image_encoder, tuning,
                       {"text": identity.text_model, "image": identity.image_model})
    if config is None:
        config = ModelConfig.from_params(mode, params, text_encoder.dim if text_encoder else 1,
                                         spec.dim if image_encoder is not None else 1)
    model = EndToEnd(SentimentClassifier(config), text_encoder, image_encoder, tuning)
    return model, text_encoder.reader if text_encoder else None, spec


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
    """Items -> one batch dict: index, labels, pixels, and the text tower's inputs (its reader
    pads them to the batch's longest, or to the tower's fixed length)."""

    def __init__(self, reader: TextReader | None):
        self.reader = reader

    def __call__(self, items) -> dict:
        index, texts, labels, pixels = zip(*items)
        batch = {"index": torch.tensor(index), "labels": torch.tensor(labels),
                 "pixels": torch.stack(pixels)}
        if self.reader is None:
            batch["input_ids"] = batch["attention_mask"] = torch.zeros((len(items), 1),
                                                                       dtype=torch.long)
        else:
            batch |= self.reader(list(texts))
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


_NOT_TEXT = ("index", "labels", "pixels")


def logits_of(model: nn.Module, batch: dict) -> torch.Tensor:
    return model(batch["pixels"], **{k: v for k, v in batch.items() if k not in _NOT_TEXT})


@torch.no_grad()
def pair_proba(network: EndToEnd, reader: TextReader | None, spec: ImageSpec, pairs: list[Pair],
               bf16: bool, device: torch.device = torch.device("cpu"), batch_size: int = 64,
               shares: Shares = ALONE) -> np.ndarray | None:
    """An end-to-end network's class probabilities for raw pairs (their clean view), in the
    order given, on the device the network is; under bf16 autocast where it was trained so.
    Each process predicts its share of the batches; the main process gets them all, the others
    None."""
    network.eval()
    starts = shares.mine(range(0, len(pairs), batch_size))
    mine = pairs[starts[0]:starts[-1] + batch_size] if starts else []
    loader = DataLoader(PairImages(mine, spec, None, modes.reads_image(network.head.config.mode)),
                        batch_size, collate_fn=Collate(reader))
    chunks = []
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            chunks.append(torch.softmax(logits_of(network, batch).float(), dim=-1).cpu().numpy())
    chunks = shares.gather(chunks)
    return None if chunks is None else np.concatenate(chunks)
