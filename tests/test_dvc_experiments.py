import pytest

from msa.errors import MsaError
from msa.experiments import dvc_experiments, report

from fake_experiments import DOCUMENT, _entry, oof_at_each_revision  # noqa: F401 (fixture)


def test_parse_exp_show_keeps_finished_experiments_with_metrics():
    baselines, exps, unfinished = dvc_experiments.parse_exp_show(DOCUMENT)
    assert [b.name for b in baselines] == ["main"]
    assert [e.name for e in exps] == ["exp-text", "exp-image", "finished"]
    assert unfinished == {"crashed": "failed", "waiting": "queued"}
    assert exps[0].params == {"mode": "text", "train.patience": 2}
    assert exps[1].metrics["accuracy"]["mean"] == 0.6


def test_select_by_name_and_revision(monkeypatch, capsys):
    import json

    monkeypatch.setattr(dvc_experiments, "_dvc", lambda args: json.dumps(DOCUMENT))
    # none named: the commit's own results first (the baseline), then its experiments
    assert [e.name for e in dvc_experiments.select([])] == ["main", "exp-text", "exp-image",
                                                         "finished"]
    assert capsys.readouterr().err == (
        "compare: left out, no results of their own: crashed (failed), waiting (queued)\n")
    assert [e.name for e in dvc_experiments.select(["exp-image", "aaaa"])] == ["exp-image", "main"]
    with pytest.raises(MsaError, match="no experiment or revision 'nope'"):
        dvc_experiments.select(["nope"])
    with pytest.raises(MsaError, match=r"experiment 'crashed' has no results of its own \(failed;"):
        dvc_experiments.select(["crashed"])


def test_what_dvc_does_not_show_is_read_at_each_revision(monkeypatch, tmp_path):
    """DVC's metrics hold the scores alone; per class, epochs run and the baseline come from
    metrics/details.json at the experiment's revision, and the table shows them."""
    import json

    shown_by_dvc = [{**_entry("a" * 40, "main", "multimodal", 0.7), "experiments": [
        {"name": "exp-text", "revs": [_entry("b" * 40, "exp-text", "text", 0.65)]}]}]
    details = {}
    for commit in [shown_by_dvc[0], shown_by_dvc[0]["experiments"][0]["revs"][0]]:
        document = commit["data"]["metrics"]["metrics/metrics.json"]["data"]
        details[commit["rev"]] = {k: document.pop(k) for k in
                                  ("per_class", "folds", "majority_baseline")}
    monkeypatch.setattr(dvc_experiments, "_dvc", lambda args: json.dumps(shown_by_dvc))
    monkeypatch.setattr(dvc_experiments, "details_at", lambda rev: details[rev])
    chosen = dvc_experiments.select([])
    text = report.table(chosen, ["mode"])
    row = next(line for line in text.splitlines() if line.startswith("| exp-text"))
    assert row.endswith(" | 0.5500 | 0.5500 | 0.5500 | 7 4 |"), row  # per-class F1, epochs
    assert "Majority-class baseline (positive): accuracy 0.6000" in text


