"""The search space a user writes: what each spec samples, and one line for every bad one."""

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from msa.errors import MsaError
from msa.experiments import search

from conftest import REPO


def test_a_range_samples_numbers_and_says_its_scale():
    d = search.parse_dimension("train.lr=0.0001..0.01:log")
    assert d.key == "train.lr" and d.distribution == FloatDistribution(0.0001, 0.01, log=True)
    assert d.values_to_check() == [0.0001, 0.01]
    assert search.parse_dimension("train.dropout=0..0.5").distribution == \
        FloatDistribution(0.0, 0.5)
    assert search.parse_dimension("train.patience=1..8:int").distribution == \
        IntDistribution(1, 8)
    assert search.parse_dimension("train.epochs=2..64:int:log").distribution == \
        IntDistribution(2, 64, log=True)


def test_values_are_a_choice_kept_as_written():
    d = search.parse_dimension("mode=text, image,multimodal")
    assert d.distribution == CategoricalDistribution(["text", "image", "multimodal"])
    assert d.shown() == "one of text, image, multimodal"


@pytest.mark.parametrize("spec, said", [
    ("train.lr", "expected KEY=LOW..HIGH"),
    ("=1..2", "expected KEY=LOW..HIGH"),
    ("train.lr=", "expected KEY=LOW..HIGH"),
    ("train.lr=0.01..0.001", "the low end must be below the high end"),
    ("train.lr=0.1..0.1", "the low end must be below the high end"),
    ("train.lr=0..0.1:log", "a log scale needs a low end above 0"),
    ("train.lr=a..0.1", "'a' is not a number"),
    ("train.patience=1..2.5:int", "'2.5' is not a whole number"),
    ("train.lr=0.1..1:exp", "after the range, :log, :int or :int:log"),
    ("train.lr=0.1..1:log:log", "after the range, :log, :int or :int:log"),
    ("mode=text", "name two values or more"),
    ("mode=text,text", "a value is named twice"),
    ("seed=0..5:int", "seed is every trial's own axis"),
])
def test_a_bad_spec_is_one_line_naming_it(spec, said):
    with pytest.raises(MsaError) as caught:
        search.parse_dimension(spec)
    assert said in str(caught.value) and "\n" not in str(caught.value)


def test_a_space_names_each_key_once():
    with pytest.raises(MsaError, match="a key is named twice"):
        search.parse_space(["train.lr=0.1..1", "train.lr=0.2..1"])
    with pytest.raises(MsaError, match="name the space"):
        search.parse_space([])


def test_every_end_of_the_space_is_checked_against_params(tmp_path):
    params_file = tmp_path / "params.yaml"
    params_file.write_text((REPO / "params.yaml").read_text())
    ok = search.parse_space(["train.patience=1..4:int"])
    assert search.check_space(ok, [], params_file)
    bad = search.parse_space(["train.patience=-3..4:int"])
    with pytest.raises(MsaError, match=r"search train.patience=-3..4:int: train.patience=-3"):
        search.check_space(bad, [], params_file)
    with pytest.raises(MsaError, match=r"mode=sound"):
        search.check_space(search.parse_space(["mode=text,sound"]), [], params_file)


def _finished_search(scores):
    """A study of finished search trials with those scores (the runs' records as workers
    write them), and its space."""
    import optuna

    from msa.experiments import trials

    study = optuna.create_study(direction="maximize")
    space = search.parse_space(["train.lr=0.001..0.01:log", "train.patience=1,2"])
    for number, score in enumerate(scores):
        setting = trials.search_setting("search", number)
        study.add_trial(optuna.create_trial(
            params={"train.lr": 0.001 * (number + 1), "train.patience": "12"[number % 2]},
            distributions={d.key: d.distribution for d in space}, value=score,
            user_attrs={trials.SETTING: setting, trials.EXPERIMENTS: [f"{setting}-seed0"],
                        trials.RESULTS: {f"{setting}-seed0": {
                            "rev": "f" * 40, "metrics": {"macro_f1": score}}}}))
    return study, space


def test_a_search_report_names_the_best_and_each_params_importance(tmp_path):
    from msa.experiments import search_report

    study, space = _finished_search([0.5, 0.7, 0.6, 0.4])
    text = search_report.write_search_report(study, space, tmp_path / "search", "macro_f1")
    assert "## Best: search-001 (trial 1)" in text and "macro-F1 0.7000" in text
    assert "`dvc exp apply search-001-seed0`" in text
    assert "## Importance of each param" in text
    for figure in ("search-history.png", "search-importance.png"):
        assert (tmp_path / figure).stat().st_size > 5000


def test_a_search_whose_trials_score_alike_reports_without_importance(tmp_path):
    """fANOVA has nothing to apportion where every finished trial has the same score; the
    report says so instead of failing."""
    from msa.experiments import search_report

    study, space = _finished_search([0.5, 0.5])
    text = search_report.write_search_report(study, space, tmp_path / "search", "macro_f1")
    assert "Importance: not computed; every finished trial has the same macro-F1." in text
    assert "## Best: search-000 (trial 0)" in text
    assert (tmp_path / "search-history.png").is_file()
    assert not (tmp_path / "search-importance.png").exists()
