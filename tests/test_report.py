import pytest

from msa.errors import MsaError
from msa.experiments import dvc_experiments, report, settings

from fake_experiments import DOCUMENT, _entry, oof_at_each_revision  # noqa: F401 (fixture)


def test_table_and_chart(tmp_path):
    _, exps, _ = dvc_experiments.parse_exp_show(DOCUMENT)
    exps = exps[:2]
    columns = dvc_experiments.differing_params(exps)
    assert columns == ["mode", "train.patience"]
    text = report.write_report(exps, tmp_path / "cmp", "t", columns)
    every_run = text.split("## Every run")[1]
    rows = [line for line in every_run.splitlines() if line.startswith("| exp-")]
    # mode once, though it differs (was twice: as a differing param and as the mode column)
    assert every_run.splitlines()[2].startswith("| experiment | train.patience | mode | accuracy")
    assert rows[0].split(" | ")[:4] == ["| exp-text", "2", "text", "0.6500 ± 0.0100"]
    assert rows[0].rstrip(" |").endswith("7 4")  # epochs run in fold order
    assert "Majority-class baseline (positive): accuracy 0.6000" in text
    assert (tmp_path / "cmp.md").read_text(encoding="utf-8") == text
    assert (tmp_path / "cmp.png").read_bytes()[:4] == b"\x89PNG"
    # no two runs differ in the seed alone: each setting is one run, its spread unknown
    settings = text.split("## Settings over seeds")[1].split("## Against")[0]
    assert [line.split(" | ")[:5] for line in settings.splitlines() if line.startswith("| exp-")
            ] == [["| exp-text", "2", "text", "-", "0.6500"], ["| exp-image", "6", "image", "-",
                                                                 "0.6000"]]
    assert "| exp-image | accuracy | 1 | - | -0.0500 [" in text
    assert "- exp-image against exp-text: accuracy -5.0 points, macro-F1 -5.0 points, " \
           "weighted-F1 -5.0 points: spread unknown: fewer than two seeds in common" in text
    # exp-image against exp-text (the first), pair by pair: 3 of 60 fewer right
    against = text.split("### Each run against exp-text, pair by pair")[1]
    assert "1 comparison(s) on the same 60 labelled pairs and folds" in against
    row = next(line for line in against.splitlines() if line.startswith("| exp-image"))
    cells = row.split(" | ")
    assert cells[1].startswith("-0.0500 [") and cells[4:6] == ["3 / 0", "0.25"]
    assert row.endswith("| no |")
    # a named baseline (--baseline), by name or revision, and one not among them
    text = report.write_report(exps, tmp_path / "cmp", "t", columns, baseline="exp-image")
    assert "### Each run against exp-image, pair by pair" in text
    assert "## Against exp-image, over seeds" in text
    assert "## Against exp-text" in report.write_report(exps, tmp_path / "cmp", "t",
                                                        columns, baseline="bbbb")
    with pytest.raises(MsaError, match=r"--baseline: 'c1' is not among the settings compared "
                                       r"\(exp-text, exp-image\)"):
        report.write_report(exps, tmp_path / "cmp", "t", columns, baseline="c1")
    # the command that made it, where one did
    text = report.write_report(exps, tmp_path / "cmp", "t", columns, command="msa compare x y")
    assert text.splitlines()[2].startswith("Made by `msa compare x y` at commit ")
    # a sweep's report is named after its dotted key
    text = report.write_report(exps, tmp_path / "train.patience", "t", columns)
    assert (tmp_path / "train.patience.md").read_text(encoding="utf-8") == text
    assert "![t](train.patience.png)" in text and (tmp_path / "train.patience.png").is_file()


def test_runs_that_differ_in_the_seed_alone_are_summarised_over_seeds(tmp_path):
    def seeded(name, seed, acc, patience=6):
        entry = _entry(name * 40, name, "multimodal", acc, patience)
        entry["data"]["params"]["params.yaml"]["data"]["seed"] = seed
        return entry

    document = [{**seeded("a", 0, 0.5), "experiments": [
        {"name": name, "revs": [seeded(name, seed, acc, patience)]}
        for name, seed, acc, patience in [("b", 0, 0.70, 6), ("c", 1, 0.74, 6), ("d", 2, 0.72, 6),
                                          ("e", 0, 0.60, 2), ("f", 5, 0.66, 3)]]}]
    _, exps, _ = dvc_experiments.parse_exp_show(document)
    assert [[e.name for e in s.runs] for s in settings.group(exps)] == [["b", "c", "d"], ["e"],
                                                                        ["f"]]
    columns = dvc_experiments.differing_params(exps)
    assert columns == ["seed", "train.patience"]
    text = report.write_report(exps, tmp_path / "cmp", "t", columns)
    summary = text.split("## Settings over seeds")[1].split("## Against")[0]
    rows = {line.split(" | ")[0]: line.split(" | ") for line in summary.splitlines()
            if line.startswith("| ") and not line.startswith(("| setting", "|---"))}
    assert list(rows) == ["| b + c + d", "| e", "| f"]  # named by their runs (no naming rule)
    assert rows["| b + c + d"][1:4] == ["6", "multimodal", "0 1 2"]
    assert rows["| b + c + d"][4] == "0.7200 ± 0.0200"  # std over seeds, n-1
    assert rows["| e"][1:5] == ["2", "multimodal", "0", "0.6000"]
    # e and f have one seed: against the three seeds of b + c + d, the spread is unknown
    assert "- e against b + c + d: accuracy -12.0 points" not in text  # said over posts
    assert "| e | accuracy | 1 | - |" in text and "spread unknown: fewer than two seeds in common" in text
    assert "| f | accuracy | 0 | - |" in text  # seed 5: none of the baseline's


def test_a_score_an_older_experiment_lacks_shows_as_a_dash(tmp_path):
    """msa compare -A across commits meets metrics.json files from before a score existed."""
    import copy

    _, exps, _ = dvc_experiments.parse_exp_show(copy.deepcopy(DOCUMENT))
    old = exps[1]
    for name in ("weighted_f1", "calibration"):
        old.metrics.pop(name, None)
    old.metrics["majority_baseline"].pop("weighted_f1")
    text = report.write_report([old, exps[0]], tmp_path / "cmp", "t", ["mode"])
    settings_part = text.split("## Against")[0]
    row = next(line for line in settings_part.splitlines() if line.startswith("| exp-image"))
    header = next(line for line in settings_part.splitlines() if line.startswith("| setting"))
    assert row.split(" | ")[header.split(" | ").index("weighted-F1 (mean ± std over seeds)")] \
        == "-"
    every_run = text.split("## Every run")[1]
    row = next(line for line in every_run.splitlines() if line.startswith("| exp-image"))
    header = every_run.splitlines()[2].split(" | ")
    cells = row.split(" | ")
    assert cells[header.index("weighted-F1 (mean ± std)")] == "-"
    assert cells[header.index("pooled weighted-F1")] == "-"
    assert "weighted-F1 -." in text  # the baseline's
    assert (tmp_path / "cmp.png").is_file()


def test_a_new_headline_score_shows_in_every_part_of_a_report(tmp_path, monkeypatch):
    """One line in metrics.HEADLINE: compare's table, its seed summary and its paired tests."""
    import copy

    import numpy as np

    from msa.evaluation import metrics

    monkeypatch.setitem(metrics.HEADLINE, "error_rate", metrics.Headline(
        "error rate", lambda y, pred: np.mean(y != pred, axis=-1)))
    _, exps, _ = dvc_experiments.parse_exp_show(copy.deepcopy(DOCUMENT))
    for e in exps:
        e.metrics["error_rate"] = {"mean": 1 - e.metrics["accuracy"]["mean"], "std": 0.01,
                                   "pooled": 1 - e.metrics["accuracy"]["pooled"]}
    text = report.write_report(exps[:2], tmp_path / "cmp", "t", ["mode"])
    assert "| error rate (mean ± std) |" in text and "| pooled error rate |" in text
    assert "0.3500 ± 0.0100" in text  # exp-text's
    assert "| error rate (mean ± std over seeds) |" in text
    assert "| exp-image | error rate | 1 | - | +0.0500 [" in text  # over posts, one seed
    against = text.split("### Each run against exp-text, pair by pair")[1]
    assert "Δ error rate [95% CI]" in against
    row = next(line for line in against.splitlines() if line.startswith("| exp-image"))
    assert row.split(" | ")[4].startswith("+0.0500 [")  # 3 of 60 more wrong


def test_experiments_on_other_data_each_show_their_own_baseline(tmp_path):
    import copy

    _, exps, _ = dvc_experiments.parse_exp_show(copy.deepcopy(DOCUMENT))
    exps[1].metrics["majority_baseline"] = {"label": "negative", "accuracy": 0.4,
                                            "macro_f1": 0.2, "weighted_f1": 0.3}
    text = report.table(exps[:2], [])
    assert "Majority-class baseline of exp-text (positive): accuracy 0.6000" in text
    assert "Majority-class baseline of exp-image (negative): accuracy 0.4000" in text
    assert "Majority-class baseline (positive)" in report.table(exps[:1], [])


def test_the_terminal_gets_the_report_without_its_charts_markdown(tmp_path):
    _, exps, _ = dvc_experiments.parse_exp_show(DOCUMENT)
    text = report.write_report(exps[:2], tmp_path / "cmp", "t", [])
    assert "![t](cmp.png)" in text
    shown = report.for_terminal(text)
    assert "![" not in shown and shown.splitlines()[0] == "# t"
