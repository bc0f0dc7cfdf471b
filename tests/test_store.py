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


def test_under_finetune_the_folder_holds_a_record_and_no_features(tmp_path):
    from msa.errors import MsaError

    store.save(synthetic_features(n=12), tmp_path / "features")
    store.save_record(tmp_path / "features", synthetic_features(n=1).encoders, "finetune",
                      "none: train encodes the raw pairs")
    assert [f.name for f in (tmp_path / "features").iterdir()] == ["index.json"]
    with pytest.raises(MsaError, match=r"featurize ran under train.regime finetune and cached no "
                                       r"features \(none: train encodes the raw pairs\); rerun "
                                       "it under a regime that reads them"):
        store.load(tmp_path / "features")


def test_the_featurize_stage_under_finetune_writes_the_record_alone_without_reading_a_post(
        tmp_path):
    """Seconds, whatever the data: neither the manifest nor an image is opened."""
    import subprocess
    import sys

    import yaml

    from conftest import REPO
    from msa.features import extract
    from msa.params import FeaturizeParams

    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"train": {"regime": "finetune"}}))
    result = subprocess.run([sys.executable, str(REPO / "stages" / "featurize.py"),
                             "--manifest", "absent.jsonl", "--out", "features"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "nothing to encode under train.regime finetune" in result.stdout
    import json

    record = json.loads((tmp_path / "features" / "index.json").read_text())
    assert record["encoders"] == extract.encoder_identity(FeaturizeParams()).to_json()
    assert [f.name for f in (tmp_path / "features").iterdir()] == ["index.json"]
