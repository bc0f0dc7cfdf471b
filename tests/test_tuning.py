"""Each encoder frozen, adapted by LoRA, or trained in full (msa.training.tuning), on tiny
random checkpoints."""

from dataclasses import replace

import pytest
import torch

from conftest import TINY_IMAGE_MODEL
from msa.errors import MsaError
from msa.features.extract import encoder_identity
from msa.params import FeaturizeParams, TrainParams
from msa.evaluation import predict
from msa.training import checkpoints, end_to_end, tuning
from msa.training.driver import FoldResult


def saved_and_reloaded(model, mode, encoders, folder):
    """The model as training leaves it (every trainable weight moved), kept as a fold model and
    loaded back onto its base weights: (what it kept, the loaded model); `model` now in eval
    mode beside it."""
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.01)  # what training would move
    state = tuning.trained_state(model, model.tuning)
    result = FoldResult(0, state, model.head.config, [], 1, 1, [], None)
    checkpoints.save_models([result], mode, encoders, folder, "finetune",
                            {"tuning": model.tuning})
    (loaded,), _ = predict.load_models(folder)
    model.eval()
    return state, loaded


def same_logits(loaded, model, batch) -> None:
    with torch.no_grad():
        torch.testing.assert_close(end_to_end.logits_of(loaded.network, batch),
                                   end_to_end.logits_of(model, batch))


def build(tiny_bert, **train):
    encoders = encoder_identity(FeaturizeParams(text_model=str(tiny_bert), **TINY_IMAGE_MODEL))
    torch.manual_seed(0)
    return end_to_end.build(encoders, "multimodal",
                            replace(TrainParams(), regime="finetune", **train))[0], encoders


def test_frozen_encoders_read_in_evaluation_mode_and_train_nothing(tiny_bert):
    model, _ = build(tiny_bert, text_tuning="frozen", image_tuning="frozen")
    assert model.trained("text") == [] and model.trained("image") == []
    model.train()
    assert not model.text_encoder.training and not model.image_encoder.training
    assert model.head.training
    assert all(k.startswith("head.") for k in tuning.trained_state(model, model.tuning))


def test_lora_adapts_the_query_and_value_projections_and_the_pointwise_convolutions(tiny_bert):
    model, _ = build(tiny_bert, text_tuning="lora", image_tuning="lora", lora_rank=2)
    text = [n for n, p in model.text_encoder.named_parameters() if p.requires_grad]
    image = [n for n, p in model.image_encoder.named_parameters() if p.requires_grad]
    assert text and all("lora_" in n and (".query." in n or ".value." in n) for n in text)
    assert image and all("lora_" in n and (".conv_pw." in n or ".conv_pwl." in n)
                         for n in image)
    model.train()
    assert model.text_encoder.training  # dropout as in training; the base is not updated
    assert not any(m.training for m in model.image_encoder.modules()
                   if isinstance(m, torch.nn.BatchNorm2d))  # nor its statistics
    kept = tuning.trained_state(model, model.tuning)
    assert {k.split(".")[0] for k in kept} == {"head", "text_encoder", "image_encoder"}
    assert all("lora_" in k for k in kept if not k.startswith("head."))


def test_lora_targets_that_the_model_lacks_are_one_line_naming_the_key(tiny_bert):
    with pytest.raises(MsaError, match=r"^train.image_lora_targets: nope: target modules "
                                       r"\{'nope'\} not found in the base model") as error:
        build(tiny_bert, image_tuning="lora", image_lora_targets="nope")
    assert "\n" not in str(error.value)
    with pytest.raises(MsaError, match=r"^train.image_lora_targets: no default for"):
        tuning._adapt(torch.nn.Sequential(torch.nn.ReLU()), "image", tuning.settings(
            replace(TrainParams(), regime="finetune", image_tuning="lora")).lora, "a model")


def test_a_fold_model_keeps_what_trained_and_loads_onto_the_base_weights(tiny_bert, tmp_path):
    model, encoders = build(tiny_bert, text_tuning="lora", image_tuning="frozen")
    state, loaded = saved_and_reloaded(model, "multimodal", encoders, tmp_path)

    def encoders_part(entries):
        return sum(v.numel() for k, v in entries.items() if not k.startswith("head."))

    assert 0 < encoders_part(state) < encoders_part(model.state_dict()) / 10  # adapters only
    reader = model.text_encoder.reader
    same_logits(loaded, model, {**reader(["a happy day"]), "pixels": torch.rand(1, 3, 224, 224)})
    # weights that do not fit the encoders named: one line
    torch.save({"state_dict": {**state, "head.extra": torch.zeros(1)},
                "config": model.head.config.to_dict()}, tmp_path / "fold_0.pt")
    with pytest.raises(MsaError, match="its weights do not fit the encoders models.json names"):
        predict.load_models(tmp_path)


@pytest.mark.parametrize("family, targets", [
    ("vit", {"query", "value"}), ("dinov2", {"query", "value"}), ("swin", {"query", "value"}),
    ("beit", {"query", "value"}), ("convnext", {"pwconv1", "pwconv2"})])
def test_a_vision_checkpoint_trains_adapted_and_its_fold_model_loads_onto_it(
        tiny_bert, tiny_vision, tmp_path, family, targets):
    encoders = encoder_identity(FeaturizeParams(text_model=str(tiny_bert),
                                                image_model=str(tiny_vision(family))))
    torch.manual_seed(0)
    model, reader, spec = end_to_end.build(encoders, "multimodal", replace(
        TrainParams(), regime="finetune", text_tuning="frozen", image_tuning="lora",
        lora_rank=2))
    adapted = [n for n, p in model.image_encoder.named_parameters() if p.requires_grad]
    assert adapted and all("lora_" in n for n in adapted)
    assert {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in adapted} == targets
    batch = {**reader(["a happy day", "so sad"]),
             "pixels": torch.rand(2, 3, spec.input_size, spec.input_size)}
    model.train()
    end_to_end.logits_of(model, batch).sum().backward()
    # every adapter learns (LoRA's B starts at zero, so the gradient reaches B first)
    grads = {n: p.grad for n, p in model.image_encoder.named_parameters() if "lora_B" in n}
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads.values())
    _, loaded = saved_and_reloaded(model, "multimodal", encoders, tmp_path)
    same_logits(loaded, model, batch)


def test_top_tunes_the_text_encoders_top_layers_alone_in_finetune(tiny_roberta, tmp_path):
    encoders = encoder_identity(FeaturizeParams(text_model=str(tiny_roberta), **TINY_IMAGE_MODEL))
    torch.manual_seed(0)
    model, reader, _ = end_to_end.build(encoders, "text", replace(
        TrainParams(), regime="finetune", text_tuning="top", text_top_layers=1))
    tuned = {n for n, p in model.text_encoder.named_parameters() if p.requires_grad}
    assert tuned and all(n.startswith("encoder.encoder.layer.1.") for n in tuned)
    model.train()
    layers = model.text_encoder.encoder.encoder.layer
    assert layers[1].training and not layers[0].training  # the frozen layer reads as in eval
    assert not model.text_encoder.encoder.embeddings.training
    kept = tuning.trained_state(model, model.tuning)
    assert {k for k in kept if k.startswith("text_encoder.")} == {
        f"text_encoder.{n}" for n in tuned}
    _, loaded = saved_and_reloaded(model, "text", encoders, tmp_path)
    same_logits(loaded, model, {**reader(["a happy day"]), "pixels": torch.zeros(1, 3, 224, 224)})
    with pytest.raises(MsaError, match=r"^train.text_top_layers: 5 is not allowed; .* has 2 "
                                       r"layers$"):
        end_to_end.build(encoders, "text", replace(TrainParams(), regime="finetune",
                                                   text_tuning="top", text_top_layers=5))
