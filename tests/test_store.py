import numpy as np
import pytest

from msa.features import store
from synthetic import synthetic_features


def test_missing_cache_is_a_clear_error(tmp_path):
    from msa.errors import MsaError

    with pytest.raises(MsaError, match="run the featurize stage first"):
        store.load(tmp_path)


def test_a_feature_set_round_trips_through_the_cache(tmp_path):
    cache = synthetic_features(n=12)
    store.save(cache, tmp_path / "features")
    loaded = store.load(tmp_path / "features")
    assert (loaded.guids, loaded.labels, loaded.texts) == (cache.guids, cache.labels, cache.texts)
    for name in ("text", "image", "image_views"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(cache, name))
    assert list(loaded.rows(["3", "0"])) == [3, 0]
