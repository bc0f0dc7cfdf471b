import pytest
import torch

from dataclasses import replace

from msa.params import TrainParams
from msa.training.model import ModelConfig, SentimentClassifier


def config(mode, text_dim, image_dim, **knobs):
    """The head the params make, its knobs as train.* sets them."""
    return ModelConfig.from_params(mode, replace(TrainParams(), **knobs), text_dim, image_dim)


@pytest.mark.parametrize("mode", ["text", "image", "multimodal"])
def test_modes_give_class_logits(mode):
    model = SentimentClassifier(config(mode, 12, 20, hidden_dim=16, image_hidden_dim=24,
                                       attention_heads=8))
    logits = model(torch.randn(5, 12), torch.randn(5, 20))
    assert logits.shape == (5, 3)
    assert hasattr(model, "attention") == (mode == "multimodal")


@pytest.mark.parametrize("mode, ignored", [("text", "image"), ("image", "text")])
def test_single_modality_ignores_the_other(mode, ignored):
    torch.manual_seed(0)
    model = SentimentClassifier(config(mode, 6, 9)).eval()
    text, image = torch.randn(4, 6), torch.randn(4, 9)
    before = model(text, image)
    if ignored == "image":
        image = torch.randn(4, 9)
    else:
        text = torch.randn(4, 6)
    torch.testing.assert_close(model(text, image), before)


def test_multimodal_uses_both_and_has_the_seed_design():
    torch.manual_seed(0)
    model = SentimentClassifier(config("multimodal", 6, 9)).eval()
    assert model.attention.num_heads == 8 and model.attention.embed_dim == 128
    assert model.attention.dropout == pytest.approx(0.1)
    assert isinstance(model.norm, torch.nn.LayerNorm)
    text, image = torch.randn(4, 6), torch.randn(4, 9)
    base = model(text, image)
    assert not torch.allclose(model(torch.randn(4, 6), image), base)
    assert not torch.allclose(model(text, torch.randn(4, 9)), base)
