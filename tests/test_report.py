import pytest

from msa.evaluation import experiments, records
from msa.errors import MsaError

LABELS = ("negative", "neutral", "positive")
ACCURACY_OF = {}  # rev -> the accuracy its fake out-of-fold predictions have


@pytest.fixture(autouse=True)
def oof_at_each_revision(monkeypatch):
    """Out-of-fold rows of 60 pairs for each fake revision, right on the first acc x 60."""
    def read(rev, name):
        right = round(ACCURACY_OF[rev] * 60)
        return [{"guid": f"{i:02d}", "fold": str(i % 2), "label": LABELS[i % 3],
                 "predicted": LABELS[i % 3] if i < right else LABELS[(i + 1) % 3]}
                for i in range(60)]

    monkeypatch.setattr(records, "read_oof_at", read)
    saved = dict(ACCURACY_OF)  # a test's own revisions do not outlive it
    yield
    ACCURACY_OF.clear()
    ACCURACY_OF.update(saved)


def _metrics(mode, acc):
    per_class = {label: {"precision": 0.5, "recall": 0.5, "f1": acc - 0.1, "support": 3}
                 for label in ("negative", "neutral", "positive")}
    score = {"mean": acc, "std": 0.01, "pooled": acc}
    return {"mode": mode, "accuracy": score, "macro_f1": score, "weighted_f1": score,
            "per_class": per_class, "folds": {"1": {"epochs_run": 4}, "0": {"epochs_run": 7}},
            "majority_baseline": {"label": "positive", "accuracy": 0.6, "macro_f1": 0.25,
                                  "weighted_f1": 0.45}}


def _entry(rev, name, mode, acc, patience=6):
    ACCURACY_OF[rev] = acc
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
    # mode once, though it differs (was twice: as a differing param and as the mode column)
    assert text.splitlines()[2].startswith("| experiment | train.patience | mode | accuracy")
    assert rows[0].split(" | ")[:4] == ["| exp-text", "2", "text", "0.6500 ± 0.0100"]
    assert rows[0].rstrip(" |").endswith("7 4")  # epochs run in fold order
    assert "Majority-class baseline (positive): accuracy 0.6000" in text
    assert (tmp_path / "cmp.md").read_text(encoding="utf-8") == text
    assert (tmp_path / "cmp.png").read_bytes()[:4] == b"\x89PNG"
    assert "Over training seeds" not in text  # no two runs differ in the seed alone
    # exp-image against exp-text (the first), pair by pair: 3 of 60 fewer right
    against = text.split("## Against exp-text, pair by pair")[1]
    assert "1 comparison(s) on the same 60 labelled pairs and folds" in against
    row = next(line for line in against.splitlines() if line.startswith("| exp-image"))
    cells = row.split(" | ")
    assert cells[1].startswith("-0.0500 [") and cells[4:6] == ["3 / 0", "0.25"]
    assert row.endswith("| no |")
    # a named baseline (--baseline), by name or revision, and one not among them
    text = experiments.write_report(exps, tmp_path / "cmp", "t", columns, baseline="exp-image")
    assert "## Against exp-image, pair by pair" in text
    assert "## Against exp-text" in experiments.write_report(exps, tmp_path / "cmp", "t",
                                                             columns, baseline="bbbb")
    with pytest.raises(MsaError, match=r"--baseline: 'c1' is not among the experiments compared "
                                       r"\(exp-text, exp-image\)"):
        experiments.write_report(exps, tmp_path / "cmp", "t", columns, baseline="c1")
    # a sweep's report is named after its dotted key
    text = experiments.write_report(exps, tmp_path / "train.patience", "t", columns)
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
    # none named: the commit's own results first (the baseline), then its experiments
    assert [e.name for e in experiments.select([])] == ["main", "exp-text", "exp-image",
                                                         "finished"]
    assert capsys.readouterr().err == (
        "compare: left out, no results of their own: crashed (failed), waiting (queued)\n")
    assert [e.name for e in experiments.select(["exp-image", "aaaa"])] == ["exp-image", "main"]
    with pytest.raises(MsaError, match="no experiment or revision 'nope'"):
        experiments.select(["nope"])
    with pytest.raises(MsaError, match=r"experiment 'crashed' has no results of its own \(failed;"):
        experiments.select(["crashed"])


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
    monkeypatch.setattr(experiments, "_dvc", lambda args: json.dumps(shown_by_dvc))
    monkeypatch.setattr(experiments, "details_at", lambda rev: details[rev])
    chosen = experiments.select([])
    text = experiments.table(chosen, ["mode"])
    row = next(line for line in text.splitlines() if line.startswith("| exp-text"))
    assert row.endswith(" | 0.5500 | 0.5500 | 0.5500 | 7 4 |"), row  # per-class F1, epochs
    assert "Majority-class baseline (positive): accuracy 0.6000" in text


class FakeDvc:
    """Records the dvc commands a sweep would run; `dvc exp ls` knows `existing`."""

    def __init__(self, monkeypatch, existing=(), fail_on=None):
        self.calls, self.existing, self.fail_on = [], set(existing), fail_on
        monkeypatch.setattr(experiments, "_dvc", self._dvc)
        monkeypatch.setattr(experiments.subprocess, "run", self._run)

    def _dvc(self, args):
        self.calls.append(args)
        return "\n".join(sorted(self.existing)) if args[:2] == ["exp", "ls"] else ""

    def _run(self, cmd, **kwargs):
        self.calls.append(cmd[1:])
        failed = self.fail_on is not None and self.fail_on in cmd
        return type("Done", (), {"returncode": 1 if failed else 0})()

    def runs(self):
        return [c for c in self.calls if c[:2] == ["exp", "run"]]


def _params_file(tmp_path, text="train:\n  early_stopping: refit\n"):
    (tmp_path / "data" / "demo").mkdir(parents=True, exist_ok=True)  # the folder each run copies
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_parse_sweep_spec():
    assert experiments.parse_sweep("train.patience=1, 2,4,8") == ("train.patience",
                                                                  ["1", "2", "4", "8"])
    for bad in ("train.patience", "train.patience=", "=1,2", "train.patience=1,1"):
        with pytest.raises(MsaError, match="sweep: "):
            experiments.parse_sweep(bad)


def test_a_sweep_runs_one_named_experiment_per_value_with_the_extra_sets(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    dvc = FakeDvc(monkeypatch, existing={"train-patience-2"})
    names = experiments.run_sweep("train.patience", ["1", "2"], ["seed=1"],
                                  params_file=_params_file(tmp_path))
    assert names == ["train-patience-1", "train-patience-2"]
    assert ["exp", "remove", "train-patience-2"] in dvc.calls  # a rerun replaces the old one
    # each in a temporary copy (the workspace stays as it was), the untracked data copied in
    assert dvc.runs() == [
        ["exp", "run", "--temp", "-C", "data/demo", "-n", "train-patience-1", "-S", "seed=1",
         "-S", "train.patience=1"],
        ["exp", "run", "--temp", "-C", "data/demo", "-n", "train-patience-2", "-S", "seed=1",
         "-S", "train.patience=2"]]


def test_a_queued_sweep_only_queues(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    dvc = FakeDvc(monkeypatch)
    assert experiments.run_sweep("train.lr", ["0.001", "0.0003"], [], queue=True,
                                 params_file=_params_file(tmp_path)) == []
    assert [c[2:5] for c in dvc.runs()] == [["--queue", "-C", "data/demo"]] * 2


def test_a_data_folder_outside_the_repository_is_copied_by_nobody(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    dvc = FakeDvc(monkeypatch)
    lab5 = tmp_path / "lab5"  # absolute
    lab5.mkdir()
    experiments.run_sweep("seed", ["1"], [f"data.root={lab5}"],
                          params_file=_params_file(tmp_path))
    assert dvc.runs()[0][2:4] == ["--temp", "-n"]  # an absolute root is read where it is
    with pytest.raises(MsaError, match=f"^data.root: {tmp_path}/absent not found; "):
        experiments.run_sweep("seed", ["2"], [f"data.root={tmp_path}/absent"],
                              params_file=_params_file(tmp_path))
    assert len(dvc.runs()) == 1  # refused before any run
    with pytest.raises(MsaError, match="^data.root: ../lab5 is outside the repository; .*absolute"):
        experiments.run_sweep("seed", ["1"], ["data.root=../lab5"],
                              params_file=_params_file(tmp_path))


@pytest.mark.parametrize("key, values, match", [
    # a knob the other settings leave unread: refused before any experiment runs
    ("train.early_stopping", ["refit", "none"],
     r"^sweep train.early_stopping=none: train.patience: 5 is never read while "
     r"train.early_stopping is none"),
    ("train.patience", ["2", "0"], r"^sweep train.patience=0: train.patience: 0 is not allowed"),
    ("train.pateince", ["2"], r"^sweep train.pateince=2: train.pateince: unknown key"),
])
def test_every_value_is_checked_before_any_experiment_runs(monkeypatch, tmp_path, key, values,
                                                          match):
    dvc = FakeDvc(monkeypatch)
    params_file = _params_file(tmp_path, "train:\n  early_stopping: refit\n  patience: 5\n")
    with pytest.raises(MsaError, match=match):
        experiments.run_sweep(key, values, [], params_file=params_file)
    assert dvc.calls == []


def test_a_failed_run_stops_the_sweep_with_one_line(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    dvc = FakeDvc(monkeypatch, fail_on="train-patience-1")
    with pytest.raises(MsaError, match="^dvc exp run for train-patience-1 failed"):
        experiments.run_sweep("train.patience", ["1", "2"], [], params_file=_params_file(tmp_path))
    assert len(dvc.runs()) == 1


def test_a_sweep_on_absent_data_says_what_writes_it_before_any_run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    dvc = FakeDvc(monkeypatch)
    _params_file(tmp_path)
    (tmp_path / "data" / "demo").rmdir()
    with pytest.raises(MsaError, match=r"^data.root: data/demo not found; `msa demo-data "
                                       r"data/demo` writes the demo data there \(`make demo`"):
        experiments.run_ablation([])
    assert dvc.calls == []


def test_the_ablation_is_a_sweep_over_mode(monkeypatch, tmp_path):
    dvc = FakeDvc(monkeypatch)
    monkeypatch.chdir(tmp_path)
    _params_file(tmp_path)
    assert experiments.run_ablation(["train.epochs=3"]) == [
        "ablation-text", "ablation-image", "ablation-multimodal"]
    assert dvc.runs()[1] == ["exp", "run", "--temp", "-C", "data/demo", "-n", "ablation-image",
                             "-S", "train.epochs=3", "-S", "mode=image"]


def test_a_score_an_older_experiment_lacks_shows_as_a_dash(tmp_path):
    """msa compare -A across commits meets metrics.json files from before a score existed."""
    import copy

    _, exps, _ = experiments.parse_exp_show(copy.deepcopy(DOCUMENT))
    old = exps[1]
    for name in ("weighted_f1", "calibration"):
        old.metrics.pop(name, None)
    old.metrics["majority_baseline"].pop("weighted_f1")
    text = experiments.write_report([old, exps[0]], tmp_path / "cmp", "t", ["mode"])
    row = next(line for line in text.splitlines() if line.startswith("| exp-image"))
    header = text.splitlines()[2].split(" | ")
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
    _, exps, _ = experiments.parse_exp_show(copy.deepcopy(DOCUMENT))
    for e in exps:
        e.metrics["error_rate"] = {"mean": 1 - e.metrics["accuracy"]["mean"], "std": 0.01,
                                   "pooled": 1 - e.metrics["accuracy"]["pooled"]}
    text = experiments.write_report(exps[:2], tmp_path / "cmp", "t", ["mode"])
    assert "| error rate (mean ± std) |" in text and "| pooled error rate |" in text
    assert "0.3500 ± 0.0100" in text  # exp-text's
    against = text.split("## Against exp-text, pair by pair")[1]
    assert "Δ error rate [95% CI]" in against
    row = next(line for line in against.splitlines() if line.startswith("| exp-image"))
    assert row.split(" | ")[4].startswith("+0.0500 [")  # 3 of 60 more wrong


def test_experiments_on_other_data_each_show_their_own_baseline(tmp_path):
    import copy

    _, exps, _ = experiments.parse_exp_show(copy.deepcopy(DOCUMENT))
    exps[1].metrics["majority_baseline"] = {"label": "negative", "accuracy": 0.4,
                                            "macro_f1": 0.2, "weighted_f1": 0.3}
    text = experiments.table(exps[:2], [])
    assert "Majority-class baseline of exp-text (positive): accuracy 0.6000" in text
    assert "Majority-class baseline of exp-image (negative): accuracy 0.4000" in text
    assert "Majority-class baseline (positive)" in experiments.table(exps[:1], [])


def test_the_terminal_gets_the_report_without_its_charts_markdown(tmp_path):
    _, exps, _ = experiments.parse_exp_show(DOCUMENT)
    text = experiments.write_report(exps[:2], tmp_path / "cmp", "t", [])
    assert "![t](cmp.png)" in text
    shown = experiments.for_terminal(text)
    assert "![" not in shown and shown.splitlines()[0] == "# t"
