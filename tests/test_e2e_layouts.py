"""Every input layout through the real dvc commands, as an experiment on a user's own folder."""

import json

import pytest

from conftest import TINY_IMAGE_OPTIONS, TOP_LAYERS_DEFAULT, run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("layout, whole", [("mvsa_single", False), ("mvsa_multiple", True),
                                           ("manifest", True)])
def test_each_layout_runs_end_to_end_as_an_experiment(workspace, layout, whole, tmp_path,
                                                      tiny_bert):
    """Two layouts run the whole pipeline; MVSA-Single, read by the same reader as
    MVSA-Multiple, runs to the prepare stage, which is all that differs between them."""
    repo, env = workspace
    root = tmp_path / layout  # outside the repository, as a user's own data would be
    run(f"msa demo-data {root} --format {layout} --labelled 100 --test 20 --seed 2", repo, env)
    # The layouts differ in how posts are read and accounted for; tiny random encoders keep
    # the features cheap.
    out = run(f"dvc exp run -n layout-{layout} -S data.format={layout} -S data.root={root} "
              "-S train.epochs=1 -S fold.n_splits=2 "
              f"-S featurize.text_model={tiny_bert} -S train.text_tuning=frozen "
              f"{TOP_LAYERS_DEFAULT} " + TINY_IMAGE_OPTIONS + ("" if whole else " prepare"),
              repo, env)
    assert "Running stage 'prepare'" in out
    assert ("Running stage 'predict'" in out) == whole
    report = json.loads((repo / "metrics/data.json").read_text())
    guids = report["guids"]
    assert guids["listed"] == 120 and guids["unaccounted"] == []
    assert guids["usable"] + guids["skipped"] == 120
    if layout.startswith("mvsa"):
        assert guids["skipped"] == sum(report["problems"][name]["count"]
                                       for name in ("conflicting_modalities", "no_majority"))
        assert report["problems"]["conflicting_modalities"]["count"] > 0
    if whole:
        details = json.loads((repo / "metrics/details.json").read_text())
        assert details["pairs"] == report["pairs"]["train"]["total"]
        predictions = (repo / "predictions/test_predictions.txt").read_text().splitlines()
        assert len(predictions) == 1 + report["pairs"]["test"] and report["pairs"]["test"] > 0
    # a run to prepare leaves the later stages' outputs as they were, if any
    run("git checkout ." + (" && dvc checkout -q" if whole else ""), repo, env)
