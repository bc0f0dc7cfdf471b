"""Tiny random checkpoints of the model families msa reads, saved with `save_pretrained` into a
folder as a user's own would be: nothing is downloaded. Each has its family's own tokenizer
(and image processor), so the towers read them as they read the real ones."""

from __future__ import annotations

import io
import string
from pathlib import Path

import torch

CORPUS = ["what a wonderful day", "I love this so much", "this is terrible", "so sad and angry",
          "the meeting starts at noon", "bus schedule for line four", "post number", "a happy day",
          *string.ascii_lowercase, *string.digits] * 5
# Small enough to train in a second, large enough to run every code path.
TOWER = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
         "num_attention_heads": 2}


def _byte_level_bpe(folder: Path) -> tuple[Path, Path]:
    """vocab.json and merges.txt of a byte-level BPE learnt on CORPUS (RoBERTa's kind)."""
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=400, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(folder))
    return folder / "vocab.json", folder / "merges.txt"


def make_tiny_roberta(folder: Path) -> Path:
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = _byte_level_bpe(folder)
    tokenizer = RobertaTokenizerFast(vocab_file=str(vocab), merges_file=str(merges))
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    RobertaModel(RobertaConfig(vocab_size=len(tokenizer), max_position_embeddings=130,
                               pad_token_id=tokenizer.pad_token_id, type_vocab_size=1,
                               **TOWER)).save_pretrained(folder)
    return folder


def make_tiny_distilbert(folder: Path, bert_folder: Path) -> Path:
    """A DistilBERT read with a BERT tokenizer, which hands out token_type_ids its forward does
    not take."""
    from transformers import BertTokenizerFast, DistilBertConfig, DistilBertModel

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = BertTokenizerFast.from_pretrained(bert_folder)
    assert "token_type_ids" in tokenizer.model_input_names
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    DistilBertModel(DistilBertConfig(vocab_size=len(tokenizer), dim=32, n_layers=2, n_heads=2,
                                     hidden_dim=37)).save_pretrained(folder)
    return folder


def make_tiny_clip(folder: Path, image_size: int = 32) -> Path:
    """CLIPModel with both towers and their projections, CLIP's BPE tokenizer (77 tokens) and
    CLIP's image processor (shorter side, centre crop)."""
    import json

    from transformers import (CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer)
    from transformers.models.clip.tokenization_clip import bytes_to_unicode

    folder.mkdir(parents=True, exist_ok=True)
    characters = list(bytes_to_unicode().values())
    words = [*characters, *(c + "</w>" for c in characters), "<|startoftext|>",
             "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({w: i for i, w in enumerate(words)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    tokenizer.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": image_size},
                       crop_size={"height": image_size, "width": image_size}).save_pretrained(
        folder)
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={**TOWER, "vocab_size": len(words), "max_position_embeddings": 77,
                     "eos_token_id": eos, "pad_token_id": eos,
                     "bos_token_id": tokenizer.convert_tokens_to_ids("<|startoftext|>")},
        vision_config={**TOWER, "image_size": image_size, "patch_size": 8},
        projection_dim=16)
    CLIPModel(config).save_pretrained(folder)
    return folder


def make_tiny_siglip(folder: Path, image_size: int = 32) -> Path:
    """SiglipModel with both towers, SigLIP's SentencePiece tokenizer (texts padded to its 16
    positions) and SigLIP's image processor (squashed to a square)."""
    import sentencepiece
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS), model_writer=model, vocab_size=60, pad_id=0, eos_id=1,
        unk_id=2, bos_id=-1, character_coverage=1.0, hard_vocab_limit=False, minloglevel=2)
    (folder / "spiece.model").write_bytes(model.getvalue())
    tokenizer = SiglipTokenizer(str(folder / "spiece.model"))
    tokenizer.save_pretrained(folder)
    SiglipImageProcessor(size={"height": image_size, "width": image_size}).save_pretrained(folder)
    torch.manual_seed(0)
    config = SiglipConfig(
        text_config={**TOWER, "vocab_size": len(tokenizer), "max_position_embeddings": 16},
        vision_config={**TOWER, "image_size": image_size, "patch_size": 8})
    SiglipModel(config).save_pretrained(folder)
    return folder


# family -> (the model class a user would have saved, its config, its image processor)
VISION_FAMILIES = ("vit", "deit", "dinov2", "convnext", "swin", "beit")


def make_tiny_vision(folder: Path, family: str, image_size: int = 32) -> Path:
    """A tiny random checkpoint of a transformers vision family, saved as the field hands it
    over (an image classifier, or DINOv2's bare backbone) with its family's image processor:
    ViT and Swin squash to a square, DeiT squashes then crops, DINOv2 resizes the shorter side
    then crops, ConvNeXt crops by its crop_pct, BEiT squashes."""
    import transformers as tf

    folder.mkdir(parents=True, exist_ok=True)
    labels = {"num_labels": 3}
    square = {"height": image_size, "width": image_size}
    vit = {**TOWER, "image_size": image_size, "patch_size": 8}
    model, processor = {
        "vit": (lambda: tf.ViTForImageClassification(tf.ViTConfig(**vit, **labels)),
                lambda: tf.ViTImageProcessor(size=square)),
        "deit": (lambda: tf.DeiTForImageClassification(tf.DeiTConfig(**vit, **labels)),
                 lambda: tf.DeiTImageProcessor(size={"height": image_size + 8,
                                                     "width": image_size + 8},
                                               crop_size=square)),
        "dinov2": (lambda: tf.Dinov2Model(tf.Dinov2Config(**vit)),
                   lambda: tf.BitImageProcessor(size={"shortest_edge": image_size + 4},
                                                crop_size=square)),
        "convnext": (lambda: tf.ConvNextForImageClassification(tf.ConvNextConfig(
            hidden_sizes=[8, 16], depths=[1, 1], num_stages=2, **labels)),
            lambda: tf.ConvNextImageProcessor(size={"shortest_edge": image_size},
                                              crop_pct=0.875)),
        "swin": (lambda: tf.SwinForImageClassification(tf.SwinConfig(
            image_size=image_size, patch_size=4, embed_dim=8, depths=[1, 1], num_heads=[1, 2],
            window_size=4, **labels)), lambda: tf.ViTImageProcessor(size=square)),
        "beit": (lambda: tf.BeitForImageClassification(tf.BeitConfig(
            **vit, use_mean_pooling=True, **labels)),
            lambda: tf.BeitImageProcessor(size=square, do_center_crop=False)),
    }[family]
    torch.manual_seed(0)
    model().save_pretrained(folder)
    processor().save_pretrained(folder)
    return folder
