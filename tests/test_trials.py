"""How a trial names its experiments and a set names its study."""

from msa.experiments import naming, trials


def test_a_study_is_named_by_command_commit_and_params():
    plan = [("train-patience-1-seed0", {"train.patience": 1, "seed": 0})]
    name = trials.study_name("sweep", "train.patience", "8139d60aa" + "0" * 31,
                             trials.digest(plan))
    assert name.startswith("msa sweep train.patience @8139d60 #")
    assert name == trials.study_name("sweep", "train.patience", "8139d60" + "1" * 33,
                                     trials.digest(list(plan)))
    other = [("train-patience-1-seed0", {"train.patience": 1, "seed": 0, "train.lr": 0.1})]
    assert trials.digest(other) != trials.digest(plan)


def test_a_search_trial_names_a_setting_whose_runs_follow_the_rule():
    setting = trials.search_setting("search", 7)
    assert setting == "search-007"
    run = naming.run_name(setting, 2)
    assert naming.split_run_name(run) == ("search-007", 2)
    assert trials.search_setting("lr", 1234) == "lr-1234"


def test_headline_takes_the_fold_means():
    metrics = {"accuracy": {"mean": 0.7, "std": 0.1}, "macro_f1": {"mean": 0.5},
               "mode": "text"}
    assert trials.headline(metrics) == {"accuracy": 0.7, "macro_f1": 0.5, "weighted_f1": None}


def test_a_worker_is_named_by_machine_command_and_index():
    assert trials.this_worker(3).startswith(trials.this_command())
    assert trials.this_worker(3).endswith("/3")
