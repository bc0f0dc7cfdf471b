"""The pair-by-pair section of a comparison report, on out-of-fold rows made here."""

import pytest

from msa.evaluation import records
from msa.experiments import differences
from msa.experiments.dvc_experiments import Experiment

LABELS = ("negative", "neutral", "positive")


def oof(right: int, n: int = 300, folds: int = 5, prefix: str = "") -> list[dict]:
    """n pairs, right on the first `right`."""
    return [{"guid": f"{prefix}{i:03d}", "fold": str(i % folds), "label": LABELS[i % 3],
             "predicted": LABELS[i % 3] if i < right else LABELS[(i + 1) % 3]}
            for i in range(n)]


def experiment(name, seed=0, patience=6, accuracy=0.7):
    score = {"mean": accuracy, "std": 0.01, "pooled": accuracy}
    return Experiment(name, name * 40 if len(name) == 1 else name, {"seed": seed,
                                                                   "train.patience": patience},
                      {"accuracy": score, "macro_f1": score})


@pytest.fixture
def rows_of(monkeypatch):
    table = {}
    monkeypatch.setattr(records, "read_oof_at", lambda rev, name: table[name])
    return table


def test_each_experiment_is_tested_against_the_first_with_holm_over_all(rows_of):
    exps = [experiment("base"), experiment("same"), experiment("better"), experiment("other")]
    rows_of.update(base=oof(200), same=oof(200), better=oof(230),
                   other=oof(200, prefix="x"))
    text = differences.section(exps, exps[0], resamples=1000)
    assert "### Each run against base, pair by pair" in text
    assert "2 comparison(s) on the same 300 labelled pairs and folds" in text
    cells = {line.split(" | ")[0].strip("| "): line.split(" | ")
             for line in text.splitlines() if line.startswith("| ")}
    # experiment | Δ accuracy, macro-F1, weighted-F1 [95% CI] | discordant | McNemar p | Holm p
    assert cells["same"][1].startswith("+0.0000") and cells["same"][4:7] == ["0 / 0", "1", "1"]
    assert cells["same"][2].startswith("+0.0000 [+0.0000, +0.0000]")
    assert cells["same"][-1] == "no |"
    assert cells["better"][1].startswith("+0.1000") and cells["better"][4] == "0 / 30"
    assert float(cells["better"][5]) < 0.001 and cells["better"][-1] == "yes |"
    # Holm: the smallest of two p-values counts twice
    assert float(cells["better"][6]) == pytest.approx(2 * float(cells["better"][5]), rel=1e-2)
    assert ("Not paired with base, so not tested: other: other pairs (600 in one and not the "
            "other; another data root or data).") in text


def test_any_experiment_can_be_the_baseline(rows_of):
    exps = [experiment("a1"), experiment("b1")]
    rows_of.update(a1=oof(200), b1=oof(210))
    assert "### Each run against b1, pair by pair" in differences.section(exps, exps[1], resamples=500)
    assert differences.section(exps[:1], exps[0]) == ""


def test_each_row_reads_in_plain_words(rows_of):
    exps = [experiment("text"), experiment("image"), experiment("same")]
    rows_of.update(text=oof(230), image=oof(200), same=oof(230))
    text = differences.section(exps, exps[0], resamples=500)
    readings = [line[2:] for line in text.splitlines() if line.startswith("- ")]
    assert readings[0].startswith("image: 10.0 points below text in accuracy, beyond noise "
                                  "(Holm p ")
    assert readings[1].startswith("same: the same as text in accuracy, within noise (Holm p 1)")


def test_a_report_with_nothing_paired_says_so_in_words(rows_of):
    exps = [experiment("a1"), experiment("b1")]
    rows_of.update(a1=oof(200), b1=oof(200, prefix="x"))
    text = differences.section(exps, exps[0], resamples=500)
    assert "0 comparison(s)" not in text and "Holm's correction over the 0" not in text
    assert "No experiment is on the same labelled pairs and folds as a1" in text
    assert "Not paired with a1, so not tested: b1: other pairs" in text
