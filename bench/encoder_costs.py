"""What each encoder family costs per 1,000 posts on this CPU (part of `make bench`).

Only the packaged pair ships its weights here (no network: ../shared/ENVIRONMENT.md); the others
are built at their published sizes with random weights, which cost what trained ones cost and
say nothing of accuracy. Each encodes the first 1,000 lab5 posts as featurize does (length-
sorted text batches of 64 at the family's maximum length, SigLIP padded to it; images decoded,
resized and normalised for the encoder's input, batches of 32), under bf16 autocast where the CPU
runs it natively. The tokens are the packaged MiniLM's WordPiece (bert-base-uncased's
vocabulary) for every text family: a stand-in for RoBERTa's, CLIP's and SigLIP's own, of about
the same length on English posts. Writes bench/encoder-costs-<capability>-<precision>.json and
its section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from common import REPO, lab5_folder, machine, now, revision
from page import publish, render_encoder_costs


def _text_families():
    from transformers import BertConfig, BertModel, CLIPTextConfig, CLIPTextModelWithProjection
    from transformers import RobertaConfig, RobertaModel, SiglipTextConfig, SiglipTextModel

    return {  # name: (build, max length, padding)
        "BERT-base": (lambda: BertModel(BertConfig()), 128, "longest"),
        "RoBERTa-base": (lambda: RobertaModel(RobertaConfig()), 128, "longest"),
        "CLIP ViT-B/32 text": (lambda: CLIPTextModelWithProjection(CLIPTextConfig()), 77,
                               "longest"),
        "SigLIP base text": (lambda: SiglipTextModel(SiglipTextConfig()), 64, "max_length"),
    }


def _image_families():
    import timm
    from torchvision.models import resnet50
    from transformers import (CLIPVisionConfig, CLIPVisionModelWithProjection,
                              SiglipVisionConfig, SiglipVisionModel)

    return {  # name: (build, input size)
        "ResNet50": (lambda: resnet50(), 224),
        "CLIP ViT-B/32 vision": (lambda: CLIPVisionModelWithProjection(CLIPVisionConfig()), 224),
        "SigLIP base/16 vision": (lambda: SiglipVisionModel(SiglipVisionConfig()), 224),
        "ViT-B/16 (timm)": (lambda: timm.create_model("vit_base_patch16_224", num_classes=0),
                            224),
    }


def _seconds(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lab5", default=os.environ.get("LAB5", str(REPO.parent / "shared/lab5")))
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--out", default=str(REPO / "bench"))
    args = parser.parse_args()
    import numpy as np
    import torch

    from msa import precision
    from msa.data import reading
    from msa.features import encoders, extract
    from msa.features.augment import ImageViews
    from msa.features.backbones import ImageSpec
    from msa.params import FeaturizeParams

    pairs = reading.prepare(lab5_folder(args.lab5), show_progress=False)[0][:args.posts]
    texts, images = [p.text for p in pairs], [p.image for p in pairs]
    dtype = precision.resolve("auto")
    scale = 1000 / len(pairs)
    packaged = extract.encoder_identity(FeaturizeParams())
    tower, (image_model, spec) = encoders.towers(packaged)
    tokenizer = tower.reader.tokenizer
    result = {"machine": machine(), "posts": len(pairs), "precision": dtype, "text": {},
              "image": {}}

    @torch.inference_mode()
    def encode_text(model, max_length: int, padding: str) -> None:
        lengths = [len(ids) for ids in tokenizer(texts, truncation=True,
                                                 max_length=max_length)["input_ids"]]
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), 64):
            batch = tokenizer([texts[i] for i in order[start:start + 64]], padding=padding,
                              truncation=True, max_length=max_length, return_tensors="pt")
            with precision.autocast(dtype):
                model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])

    @torch.inference_mode()
    def encode_images(model, size: int) -> None:
        views = ImageViews(ImageSpec(size, 0.875, (0.5,) * 3, (0.5,) * 3, "bicubic", 1))
        for start in range(0, len(images), 32):
            pixels = torch.from_numpy(np.stack([views.clean(views.load(path))
                                                for path in images[start:start + 32]]))
            with precision.autocast(dtype):
                model(pixels)

    result["text"]["all-MiniLM-L6-v2 (packaged)"] = scale * _seconds(
        lambda: encode_text(tower.encoder, 128, "longest"))
    result["image"]["EfficientNet-Lite0 (packaged)"] = scale * _seconds(
        lambda: encode_images(image_model, spec.input_size))
    for name, (build, max_length, padding) in _text_families().items():
        model = build().eval()
        result["text"][name] = scale * _seconds(lambda: encode_text(model, max_length, padding))
        print(f"encoder costs: {name}: {result['text'][name]:.1f} s / 1000 posts", flush=True)
    for name, (build, size) in _image_families().items():
        model = build().eval()
        forward = (model if not hasattr(model, "vision_model")
                   else (lambda pixels, m=model: m(pixel_values=pixels)))
        result["image"][name] = scale * _seconds(lambda: encode_images(forward, size))
        print(f"encoder costs: {name}: {result['image'][name]:.1f} s / 1000 posts", flush=True)
    result["date"], result["git_revision"] = now(), revision()
    publish(Path(args.out), "encoder-costs", result, render_encoder_costs)


if __name__ == "__main__":
    main()
