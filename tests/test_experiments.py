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
    ]},
]


def test_parse_exp_show_keeps_experiments_with_metrics():
    baselines, exps = experiments.parse_exp_show(DOCUMENT)
    assert [b.name for b in baselines] == ["main"]
    assert [e.name for e in exps] == ["exp-text", "exp-image"]
    assert exps[0].params == {"mode": "text", "train.patience": 2}
    assert exps[1].metrics["accuracy"]["mean"] == 0.6


def test_table_and_chart(tmp_path):
    _, exps = experiments.parse_exp_show(DOCUMENT)
    columns = experiments.differing_params(exps)
    assert columns == ["mode", "train.patience"]
    text = experiments.write_report(exps, tmp_path / "cmp", "t", columns)
    rows = [line for line in text.splitlines() if line.startswith("| exp-")]
    assert rows[0].split(" | ")[:5] == ["| exp-text", "text", "2", "text", "0.6500 ± 0.0100"]
    assert rows[0].rstrip(" |").endswith("7 4")  # epochs run in fold order
    assert "Majority-class baseline (positive): accuracy 0.6000" in text
    assert (tmp_path / "cmp.md").read_text(encoding="utf-8") == text
    assert (tmp_path / "cmp.png").read_bytes()[:4] == b"\x89PNG"


def test_select_by_name_and_revision(monkeypatch):
    import json

    monkeypatch.setattr(experiments, "_dvc", lambda args: json.dumps(DOCUMENT))
    assert [e.name for e in experiments.select([])] == ["exp-text", "exp-image"]
    assert [e.name for e in experiments.select(["exp-image", "aaaa"])] == ["exp-image", "main"]
    with pytest.raises(MsaError, match="no experiment or revision 'nope'"):
        experiments.select(["nope"])
