import pytest

from msa import experiments
from msa.errors import MsaError


def _metrics(mode, acc):
    per_class = {label: {"precision": 0.5, "recall": 0.5, "f1": acc - 0.1, "support": 3}
                 for label in ("negative", "neutral", "positive")}
    score = {"mean": acc, "std": 0.01, "pooled": acc}
    return {"mode": mode, "accuracy": score, "macro_f1": score, "weighted_f1": score,
            "per_class": per_class, "folds": {"1": {"epochs_run": 4}, "0": {"epochs_run": 7}},
            "majority_baseline": {"label": "positive", "accuracy": 0.6, "macro_f1": 0.25,
                                  "weighted_f1": 0.45}}


def _entry(rev, name, mode, acc, patience=6):
    return {"rev": rev, "name": name, "data": {
        "params": {"params.yaml": {"data": {"mode": mode, "train": {"patience": patience}}}},
        "metrics": {"metrics/metrics.json": {"data": _metrics(mode, acc)}}}}


DOCUMENT = [
    {"rev": "workspace", "name": None, "data": {}},
    {**_entry("a" * 40, "main", "multimodal", 0.7), "experiments": [
        {"name": "exp-text", "revs": [_entry("b" * 40, "exp-text", "text", 0.65, 2)]},
        {"name": "exp-image", "revs": [_entry("c" * 40, "exp-image", "image", 0.6)]},
        {"name": "broken", "revs": [{"rev": "d" * 40, "name": "broken", "data": {}}]},
        # DVC shows the baseline's metrics for a failed or queued run: they are not its own
        {"name": "crashed", "executor": {"state": "failed"},
         "revs": [{**_entry("e" * 40, "crashed", "multimodal", 0.7),
                   "error": {"msg": "Experiment run failed", "type": ""}}]},
        {"name": "waiting", "executor": {"state": "queued"},
         "revs": [_entry("f" * 40, "waiting", "multimodal", 0.7)]},
        {"name": "finished", "executor": {"state": "success"},
         "revs": [_entry("0" * 40, "finished", "multimodal", 0.72)]},
    ]},
]


def test_parse_exp_show_keeps_finished_experiments_with_metrics():
    baselines, exps, unfinished = experiments.parse_exp_show(DOCUMENT)
    assert [b.name for b in baselines] == ["main"]
    assert [e.name for e in exps] == ["exp-text", "exp-image", "finished"]
    assert unfinished == {"crashed": "failed", "waiting": "queued"}
    assert exps[0].params == {"mode": "text", "train.patience": 2}
    assert exps[1].metrics["accuracy"]["mean"] == 0.6


def test_table_and_chart(tmp_path):
    _, exps, _ = experiments.parse_exp_show(DOCUMENT)
    exps = exps[:2]
    columns = experiments.differing_params(exps)
    assert columns == ["mode", "train.patience"]
    text = experiments.write_report(exps, tmp_path / "cmp", "t", columns)
    rows = [line for line in text.splitlines() if line.startswith("| exp-")]
    assert rows[0].split(" | ")[:5] == ["| exp-text", "text", "2", "text", "0.6500 ± 0.0100"]
    assert rows[0].rstrip(" |").endswith("7 4")  # epochs run in fold order
    assert "Majority-class baseline (positive): accuracy 0.6000" in text
    assert (tmp_path / "cmp.md").read_text(encoding="utf-8") == text
    assert (tmp_path / "cmp.png").read_bytes()[:4] == b"\x89PNG"
    assert "Over training seeds" not in text  # no two runs differ in the seed alone


def test_runs_that_differ_in_the_seed_alone_are_summarised_over_seeds(tmp_path):
    def seeded(name, seed, acc, patience=6):
        entry = _entry(name * 40, name, "multimodal", acc, patience)
        entry["data"]["params"]["params.yaml"]["data"]["seed"] = seed
        return entry

    document = [{**seeded("a", 0, 0.5), "experiments": [
        {"name": name, "revs": [seeded(name, seed, acc, patience)]}
        for name, seed, acc, patience in [("b", 0, 0.70, 6), ("c", 1, 0.74, 6), ("d", 2, 0.72, 6),
                                          ("e", 0, 0.60, 2), ("f", 5, 0.66, 3)]]}]
    _, exps, _ = experiments.parse_exp_show(document)
    assert [[e.name for e in g] for g in experiments.seed_groups(exps)] == [["b", "c", "d"]]
    columns = experiments.differing_params(exps)
    assert columns == ["seed", "train.patience"]
    text = experiments.write_report(exps, tmp_path / "cmp", "t", columns)
    summary = text.split("Over training seeds")[1]
    rows = [line.split(" | ") for line in summary.splitlines() if line.startswith("| 6 ")]
    assert len(rows) == 1 and "| 2 |" not in summary and "| 3 |" not in summary
    assert rows[0][:3] == ["| 6", "multimodal", "0 1 2"]
    assert rows[0][3] == "0.7200 ± 0.0163, 0.7000-0.7400"


def test_select_by_name_and_revision(monkeypatch, capsys):
    import json

    monkeypatch.setattr(experiments, "_dvc", lambda args: json.dumps(DOCUMENT))
    assert [e.name for e in experiments.select([])] == ["exp-text", "exp-image", "finished"]
    assert capsys.readouterr().err == (
        "compare: left out, no results of their own: crashed (failed), waiting (queued)\n")
    assert [e.name for e in experiments.select(["exp-image", "aaaa"])] == ["exp-image", "main"]
    with pytest.raises(MsaError, match="no experiment or revision 'nope'"):
        experiments.select(["nope"])
    with pytest.raises(MsaError, match=r"experiment 'crashed' has no results of its own \(failed;"):
        experiments.select(["crashed"])
