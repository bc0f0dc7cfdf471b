import numpy as np
import pytest

from msa import LABELS
from msa.evaluation import predict
from msa.errors import MsaError
from msa.params import TrainParams
from msa.data.prepared import Pair
from msa.training import checkpoints
from synthetic import (PARAMS, folds_for, synthetic_features, synthetic_token_features,
                        train_cross_validated)


def posts(cache, guids):
    """The posts behind these feature rows, as the predict stage reads them."""
    text = dict(zip(cache.guids, cache.texts))
    return [Pair(g, "test", None, text[g], "") for g in guids]


@pytest.mark.parametrize("make_cache,lexical_weight",
                         [(synthetic_features, 0.0), (synthetic_token_features, 0.0),
                          (synthetic_features, 0.3)],
                         ids=["frozen_text", "tuned_text", "with_lexical"])
def test_saved_models_reproduce_the_out_of_fold_probabilities(tmp_path, make_cache,
                                                              lexical_weight):
    cache = make_cache(n=60)
    params = TrainParams(**{**PARAMS.__dict__, "epochs": 3, "lexical_weight": lexical_weight})
    results = train_cross_validated(cache, folds_for(cache), "multimodal", params, seed=0,
                                    show_progress=False)
    checkpoints.save_models(results, "multimodal", cache.encoders, tmp_path, "heads")
    models, summary = predict.load_models(tmp_path)
    assert len(models) == 3 and summary.mode == "multimodal"
    assert summary.lexical_weight == lexical_weight
    assert all((m.lexical is not None) == (lexical_weight > 0) for m in models)
    for model, result in zip(models, results):
        probs = predict.ensemble_proba([model], summary, posts(cache, result.val_guids),
                                       lambda: cache)
        np.testing.assert_allclose(probs, result.val_probs, atol=1e-6)
    ensemble = predict.ensemble_proba(models, summary, posts(cache, cache.guids[:4]),
                                      lambda: cache)
    np.testing.assert_allclose(ensemble.sum(1), 1.0, atol=1e-5)


def test_models_and_features_from_other_encoders_are_refused():
    cache = synthetic_features(n=10)
    summary = checkpoints.ModelsRecord("text", LABELS, cache.encoders.replace(embedding="pooled"),
                                       0.0, (0,), "heads")
    with pytest.raises(MsaError, match=r"trained on features from other encoders \(embedding: "
                                       r"'pooled' in the models, 'projected' in the features\)"):
        checkpoints.check_compatible(summary, cache)
    checkpoints.check_compatible(summary.__class__(**{**summary.__dict__,
                                                      "encoders": cache.encoders}), cache)
