import pytest

from msa.errors import MsaError
from msa.experiments import naming


def test_a_run_is_its_setting_at_a_seed_and_reads_back():
    setting = naming.setting_name("train-patience", "0.5")
    assert setting == "train-patience-0_5"
    assert naming.run_name(setting, 2) == "train-patience-0_5-seed2"
    assert naming.split_run_name("train-patience-0_5-seed2") == ("train-patience-0_5", 2)
    assert naming.split_run_name("ablation-text-seed12") == ("ablation-text", 12)
    assert naming.split_run_name("ablation-text") is None
    assert naming.split_run_name("-seed3") is None


@pytest.mark.parametrize("text, seeds", [("3", [0, 1, 2]), ("1", [0]), (2, [0, 1]),
                                         ("0,4,7", [0, 4, 7]), ("5,", [5]), (" 1, 2 ", [1, 2])])
def test_seeds_are_a_count_or_a_list(text, seeds):
    assert naming.parse_seeds(text) == seeds


@pytest.mark.parametrize("text, match", [("0", "a count of seeds"), ("-1", "a count of seeds"),
                                         ("a,b", "a count of seeds"), ("1,1", "named twice"),
                                         ("-2,3", "0 or more"), ("three", "a count")])
def test_bad_seeds_are_one_line(text, match):
    with pytest.raises(MsaError, match=f"^--seeds {text}: .*{match}"):
        naming.parse_seeds(text)
