"""What both regimes train with (msa.training.recipe), and the head's config from the params."""

from dataclasses import fields, replace

import numpy as np
import torch

from msa.params import TrainParams
from msa.training import recipe
from msa.training.model import ModelConfig


def test_balanced_and_tempered_class_weights():
    labels = np.array([0, 0, 0, 2, 2, 1])
    balanced = recipe.class_weights(labels, 1.0)
    assert balanced[1] > balanced[2] > balanced[0]
    np.testing.assert_allclose(balanced.numpy(), [6 / 9, 6 / 3, 6 / 6], rtol=1e-6)
    np.testing.assert_allclose(recipe.class_weights(labels, 0.5).numpy(),
                               np.sqrt(balanced.numpy()), rtol=1e-6)
    assert recipe.class_weights(labels, 0.0) is None


def test_the_losses_weigh_the_classes_and_smooth_the_labels_alike():
    labels = np.array([0, 0, 0, 2, 2, 1])
    params = replace(TrainParams(), class_weight_power=1.0, label_smoothing=0.1)
    scores, training = recipe.criteria(labels, params, torch.device("cpu"))
    assert scores is not training
    for loss in (scores, training):
        torch.testing.assert_close(loss.weight, recipe.class_weights(labels, 1.0))
        assert loss.label_smoothing == 0.1


def test_adamw_groups_at_their_rates_then_warm_up_and_cosine_to_zero():
    head, encoder = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    params = replace(TrainParams(), lr=1e-3, warmup_ratio=0.25, weight_decay=0.05)
    optimizer = recipe.adamw([(list(head.parameters()), params.lr),
                              (list(encoder.parameters()), 1e-5), ([], 1.0)], params)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-3, 1e-5]  # the empty one left out
    assert all(g["weight_decay"] == 0.05 for g in optimizer.param_groups)
    schedule = recipe.warmup_cosine(optimizer, params, steps_per_epoch=4, epochs=2)
    rates = []
    for _ in range(8):
        rates.append(schedule.get_last_lr()[0])
        optimizer.step()
        schedule.step()
    assert rates[0] == 0.0 and rates[2] == params.lr  # two warm-up steps of eight
    assert rates[2:] == sorted(rates[2:], reverse=True) and schedule.get_last_lr()[0] == 0.0


def test_the_head_takes_every_knob_from_the_params_of_its_name():
    params = replace(TrainParams(), hidden_dim=16, image_hidden_dim=24, attention_heads=4,
                     attention_dropout=0.2, dropout=0.05)
    config = ModelConfig.from_params("multimodal", params, 12, 20)
    assert (config.hidden_dim, config.image_hidden_dim, config.attention_heads,
            config.attention_dropout, config.dropout) == (16, 24, 4, 0.2, 0.05)
    # every field the dataclass leaves without a default is the shape or a train.* knob
    required = {f.name for f in fields(ModelConfig) if f.default is f.default_factory}
    knobs = {f.name for f in fields(TrainParams)}
    assert required - knobs == {"mode", "text_dim", "image_dim"}
