import pytest

from msa.errors import MsaError
from msa.experiments import settings
from msa.experiments.dvc_experiments import Experiment


def run(name, seed, patience=3, accuracy=0.7):
    return Experiment(name, name.replace("-", "")[:1] * 40, {"seed": seed,
                                                             "train.patience": patience},
                      {"accuracy": {"mean": accuracy}})


def test_runs_that_differ_in_the_seed_alone_are_one_setting_named_by_the_rule():
    found = settings.group([run("p-3-seed0", 0), run("p-4-seed0", 0, 4), run("p-3-seed1", 1),
                            run("p-4-seed1", 1, 4, 0.8), run("main", 0)])
    assert [(s.name, [e.name for e in s.runs]) for s in found] == [
        ("p-3", ["p-3-seed0", "p-3-seed1"]), ("p-4", ["p-4-seed0", "p-4-seed1"]),
        ("main", ["main"])]  # the same params and seed again: a setting of its own
    assert found[1].seeds == [0, 1] and found[1].by_seed("accuracy") == {0: 0.7, 1: 0.8}
    assert found[1].params == {"train.patience": 4}
    assert settings.find(found, "p-4") is found[1]
    assert settings.find(found, "p-3-seed1") is found[0]  # by a run's name
    with pytest.raises(MsaError, match=r"^--baseline: 'p-9' is not among the settings compared "
                                       r"\(p-3, p-4, main\)"):
        settings.find(found, "p-9")


def test_a_commits_own_results_stay_apart_from_a_setting_of_the_same_params():
    found = settings.group([run("main", 0), run("abl-m-seed0", 0), run("abl-m-seed1", 1),
                            run("train-seed", 1)])
    assert [(s.name, [e.name for e in s.runs]) for s in found] == [
        ("main + train-seed", ["main", "train-seed"]),
        ("abl-m", ["abl-m-seed0", "abl-m-seed1"])]


def test_runs_outside_the_naming_rule_are_named_by_their_names():
    found = settings.group([run("a", 0), run("b", 1), run("c", 0), run("c", 0)])
    assert [s.name for s in found] == ["a + b", "c", "c (2)"]
