"""The towers: how a text becomes one vector, in each family."""

import pickle

import torch

from msa.features import encoders, towers
from msa.features.extract import encoder_identity
from msa.params import FeaturizeParams


def test_mean_pooling_counts_real_tokens_only_and_cls_takes_the_first():
    states = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    torch.testing.assert_close(towers.pool(states, mask, "mean"), torch.tensor([[2.0, 3.0]]))
    torch.testing.assert_close(towers.pool(states, mask, "cls"), torch.tensor([[1.0, 2.0]]))


def test_a_reader_goes_to_dataloader_workers_without_its_encoder(tiny_siglip):
    tower = encoders.text_tower(encoder_identity(FeaturizeParams(text_model=str(tiny_siglip))))
    reader = pickle.loads(pickle.dumps(tower.reader))
    assert len(pickle.dumps(tower.reader)) < len(pickle.dumps(tower.encoder.state_dict())) / 10
    torch.testing.assert_close(reader(["a happy day"])["input_ids"],
                               tower.tokenize(["a happy day"])["input_ids"])


def test_no_parameter_outside_what_reaches_the_vector(tiny_siglip, tiny_bert):
    """Distributed training refuses parameters that get no gradient."""
    siglip = encoders.text_tower(encoder_identity(FeaturizeParams(
        text_model=str(tiny_siglip), embedding="pooled")))
    bert = encoders.text_tower(encoder_identity(FeaturizeParams(text_model=str(tiny_bert))))
    for tower in (siglip, bert):
        inputs = tower.tokenize(["a happy day"])
        tower(**inputs).sum().backward()
        assert all(p.grad is not None for p in tower.parameters())
