"""The end-to-end regime (train.regime finetune) in one process, on tiny random encoders."""

import dataclasses

import numpy as np
import pytest
import torch

from conftest import TINY_IMAGE_MODEL
from msa import params
from msa.data import folds, reading
from msa.evaluation import predict
from msa.training import checkpoints, driver, finetune, kept
from msa.training.end_to_end import PairImages
from msa.features.extract import encoder_identity

# The module's fixture trains once per worker: keep its tests on one (make test runs two).
pytestmark = pytest.mark.xdist_group("finetune_unit")


@pytest.fixture(scope="module")
def setup(demo_root, tiny_bert):
    p = params.from_dict({
        "precision": "fp32",
        "featurize": {"text_model": str(tiny_bert), **TINY_IMAGE_MODEL},
        "fold": {"n_splits": 2},
        "train": {"regime": "finetune", "epochs": 3, "patience": 1, "batch_size": 16,
                  "num_workers": 1},
    })
    pairs, _ = reading.prepare(demo_root, show_progress=False)
    labelled = [q for q in pairs if q.split == "train"]
    return p, labelled, folds.assign_folds(labelled, 2, 0)


def _train(p, labelled, assignment, state_dir):
    accelerator = finetune.make_accelerator(p)
    regime = finetune.Finetune(accelerator, p, encoder_identity(p.featurize), labelled, state_dir,
                               p.train.regime, show_progress=False)
    return driver.cross_validate(regime, assignment, show_progress=False)


@pytest.fixture(scope="module")
def uninterrupted(setup, tmp_path_factory):
    p, labelled, assignment = setup
    return _train(p, labelled, assignment, tmp_path_factory.mktemp("state"))


def test_every_labelled_pair_is_scored_once_by_the_fold_that_left_it_out(setup, uninterrupted):
    p, labelled, assignment = setup
    scored = [g for r in uninterrupted for g in r.val_guids]
    assert sorted(scored) == sorted(q.guid for q in labelled)
    for result in uninterrupted:
        assert {assignment[g] for g in result.val_guids} == {result.fold}
        assert result.val_probs.shape == (len(result.val_guids), 3)
        np.testing.assert_allclose(result.val_probs.sum(1), 1, atol=1e-5)
        assert 1 <= result.best_epoch <= result.epochs_run <= p.train.epochs
        assert [row["epoch"] for row in result.log] == list(range(1, result.epochs_run + 1))
        assert result.lexical is not None  # blended as in the heads regime


def test_the_encoders_themselves_are_trained(setup, uninterrupted):
    p, _, _ = setup
    from msa.training import end_to_end

    fresh, _, _ = end_to_end.build(encoder_identity(p.featurize), p.mode, p.train)
    state = uninterrupted[0].state
    for name in ("text_encoder.encoder.encoder.layer.0.attention.self.query.weight",
                 "image_encoder.conv_stem.weight"):
        assert not torch.equal(state[name], fresh.state_dict()[name]), name


def test_saved_models_reproduce_the_out_of_fold_probabilities_from_raw_pairs(
        setup, uninterrupted, tmp_path):
    p, labelled, _ = setup
    checkpoints.save_models(uninterrupted, p.mode, encoder_identity(p.featurize), tmp_path,
                            "finetune", {"mixed_precision": "no"})
    models, summary = predict.load_models(tmp_path)
    by_guid = {q.guid: q for q in labelled}
    for model, result in zip(models, uninterrupted):
        probs = predict.ensemble_proba([model], summary, [by_guid[g] for g in result.val_guids],
                                       features_of=None)
        np.testing.assert_allclose(probs, result.val_probs, atol=1e-5)


def test_a_run_that_dies_after_an_epoch_resumes_to_the_uninterrupted_result(
        setup, uninterrupted, tmp_path, monkeypatch):
    p, labelled, assignment = setup
    calls = []
    original = finetune.FinetuneRun.train_epoch
    assert uninterrupted[1].epochs_run >= 2
    # fold 1's second epoch, after its first saved; under refit fold 0 also ran its refit epochs
    refit_epochs = uninterrupted[0].best_epoch if p.train.early_stopping == "refit" else 0
    dying_call = uninterrupted[0].epochs_run + refit_epochs + 2

    def dies_in_the_second_fold(self, epoch):
        calls.append(epoch)
        if len(calls) == dying_call:
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(finetune.FinetuneRun, "train_epoch", dies_in_the_second_fold)
    with pytest.raises(KeyboardInterrupt):
        _train(p, labelled, assignment, tmp_path)
    assert kept.progress_file(tmp_path / "fold_1_choose").is_file()
    monkeypatch.setattr(finetune.FinetuneRun, "train_epoch", original)
    resumed = _train(p, labelled, assignment, tmp_path)
    for got, expected in zip(resumed, uninterrupted):
        assert got.log == expected.log and got.best_epoch == expected.best_epoch
        np.testing.assert_array_equal(got.val_probs, expected.val_probs)
        assert all(torch.equal(got.state[k], v) for k, v in expected.state.items())


def test_a_saved_run_from_other_params_is_not_resumed(setup, tmp_path):
    p, _, _ = setup
    accelerator = finetune.make_accelerator(p)
    finetune.prepare_state_dir(accelerator, tmp_path, "one")
    (tmp_path / "fold_0_choose").mkdir()
    finetune.prepare_state_dir(accelerator, tmp_path, "one")
    assert (tmp_path / "fold_0_choose").is_dir()
    finetune.prepare_state_dir(accelerator, tmp_path, "other")
    assert not (tmp_path / "fold_0_choose").exists()
    other = dataclasses.replace(p, seed=1)
    assert finetune.fingerprint(p, []) != finetune.fingerprint(other, [])


def test_training_views_are_fresh_each_epoch_and_do_not_depend_on_the_order_drawn(setup):
    p, labelled, _ = setup
    from msa.features import backbones

    _, spec = backbones.build_image_encoder(**{"name": TINY_IMAGE_MODEL["image_model"],
                                               "weights": "random"})
    views = PairImages(labelled[:3], spec, p.augment)
    later_first = views[(1, 2)][3]
    first = [views[(1, i)][3] for i in range(3)]
    assert torch.equal(first[2], later_first)
    assert not torch.equal(views[(2, 0)][3], first[0])
    clean = PairImages(labelled[:1], spec, None)
    assert torch.equal(clean[(5, 0)][3], clean[0][3])
    assert not torch.equal(clean[0][3], first[0])


@pytest.mark.parametrize("native, on_gpu, gpu_bf16, expected", [
    (True, False, False, "bf16"), (False, False, False, "no"),
    (False, True, True, "bf16"), (False, True, False, "fp16"),
])
def test_auto_mixed_precision_follows_the_device(monkeypatch, native, on_gpu, gpu_bf16, expected):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: gpu_bf16)
    assert finetune.mixed_precision("auto", "auto", on_gpu) == expected
    assert finetune.mixed_precision("fp16", "auto", on_gpu) == "fp16"
