"""Encoder checkpoints through the real dvc commands: featurize, train, predict and `msa
predict`, on tiny random checkpoints (tests/tiny_models.py) a user could have saved: CLIP's both
towers from one checkpoint under heads, a transformers vision checkpoint's images under
finetune. The other families take the same path through the library (tests/test_extract.py:
featurize, the cache, the heads, prediction as `msa predict` featurizes)."""

import json

import numpy as np
import pytest

from conftest import TOP_LAYERS_DEFAULT, run

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e_encoders")]


def msa_predict_repeats_the_stage(repo, env) -> None:
    """The predict stage wrote every test post's tag, and msa predict, featurizing the posts
    with the models' own encoders (or reading them end to end), predicts the same; the
    workspace is then put back."""
    predictions = (repo / "predictions/test_predictions.txt").read_text()
    assert len(predictions.splitlines()) == 1 + 15
    run("msa predict --data data/demo --input data/demo/test_without_label.txt "
        "--output again.txt", repo, env)
    assert (repo / "again.txt").read_text() == predictions
    run("git checkout . && dvc checkout -q && rm again.txt", repo, env)


def test_a_clip_checkpoints_towers_run_featurize_train_and_predict(workspace, tiny_clip):
    repo, env = workspace
    out = run(f"dvc exp run -n encoders-tiny-clip -S featurize.text_model={tiny_clip} "
              f"-S featurize.image_model={tiny_clip} -S train.text_tuning=frozen "
              f"{TOP_LAYERS_DEFAULT} "
              "-S train.epochs=2 -S fold.n_splits=2", repo, env)
    assert "Running stage 'featurize'" in out and "Running stage 'predict'" in out
    index = json.loads((repo / "data/features/index.json").read_text())
    assert index["encoders"]["text_model"] == str(tiny_clip)
    assert np.load(repo / "data/features/text.npy").shape[1] == 16
    assert np.load(repo / "data/features/image.npy").shape[1] == 16
    msa_predict_repeats_the_stage(repo, env)


def test_a_vision_checkpoint_trains_adapted_end_to_end_and_predicts(workspace, tiny_roberta,
                                                                   tiny_vision):
    repo, env = workspace
    folder = tiny_vision("dinov2")
    run(f"dvc exp run -n encoders-dinov2-finetune -S train.regime=finetune "
        f"-S featurize.text_model={tiny_roberta} -S featurize.image_model={folder} "
        f"-S augment.views=4 -S train.text_tuning=frozen {TOP_LAYERS_DEFAULT} "
        "-S train.image_tuning=lora "
        "-S train.epochs=1 -S fold.n_splits=2 -S train.num_workers=0", repo, env)
    models = json.loads((repo / "models/models.json").read_text())
    assert models["regime"] == "finetune" and models["encoders"]["image_model"] == str(folder)
    assert models["tuning"]["image"] == "lora"
    msa_predict_repeats_the_stage(repo, env)
