"""The real dvc commands, in a temporary git repo, on a small demo dataset: the workflow."""

import json
import re
import shutil
import signal
import subprocess

import pytest
import yaml

from msa.errors import WAY_BACK
from msa.evaluation import metrics

from conftest import e2e_results, in_a_terminal, run

# One worker runs these on one workspace (make test: pytest -n 2 --dist loadgroup); each starts
# from the committed first run (`ran`), so any one runs alone and in any order.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e_workflow")]


@pytest.fixture(scope="module")
def baseline(workspace):
    """The workspace's first `dvc repro`, committed: (repo, env, what it printed, the commit)."""
    repo, env = workspace
    out = run("dvc repro", repo, env)
    run("git add -A && git commit -qm 'multimodal run'", repo, env)
    return repo, env, out, run("git rev-parse HEAD", repo, env).strip()


@pytest.fixture
def ran(baseline):
    """The committed run as it was: what an earlier test changed in the workspace undone (its
    experiments stay, as DVC keeps them, and so do the studies of msa's sets)."""
    repo, env, _, commit = baseline
    run(f"git reset -q --hard {commit} && git clean -qfd && dvc checkout -q --force", repo, env)
    return repo, env


def _experiment(repo, env, name: str, options: str) -> None:
    """`dvc exp run -n name options`, unless an earlier test made it."""
    if name not in run("dvc exp ls --name-only", repo, env).split():
        run(f"dvc exp run -n {name} {options}", repo, env)


def test_repro_then_nothing_changes(baseline):
    repo, env, out, _ = baseline
    for stage in ("find_data", "prepare", "fold_split", "featurize", "train", "evaluate", "plot",
                  "predict"):
        assert f"Running stage '{stage}'" in out
    result = metrics.read(repo / "metrics/metrics.json", repo / "metrics/details.json")
    assert result["mode"] == "multimodal" and result["pairs"] == 90
    assert 0 <= result["accuracy"]["mean"] <= 1
    # what produced the run beyond its params: auto resolved on this machine, in both stages
    from msa import precision

    here = precision.provenance(precision.resolve("auto")).to_json()
    assert result["produced_by"] == {"featurize": here, "train": here}
    index = json.loads((repo / "data/features/index.json").read_text())
    assert index["produced_by"] == here
    lines = (repo / "predictions/test_predictions.txt").read_text().splitlines()
    assert lines[0] == "guid,tag" and len(lines) == 16
    for png in ("learning_curves.png", "confusion.png", "per_class.png"):
        assert (repo / "plots/figures" / png).stat().st_size > 1000
    again = run("dvc repro", repo, env)
    assert "Running stage" not in again


def test_rerun_from_scratch_is_byte_identical(ran):
    repo, env = ran
    first = e2e_results(repo)
    lock = (repo / "dvc.lock").read_bytes()
    out = run("dvc repro --force", repo, env)
    assert "Running stage 'featurize'" in out
    assert e2e_results(repo) == first
    # dvc.lock holds the hashes of every output, the features and fold models included
    assert (repo / "dvc.lock").read_bytes() == lock


def test_exp_run_image_reuses_features(ran):
    repo, env = ran
    out = run("dvc exp run -n image-only -S mode=image", repo, env)
    assert "Running stage 'train'" in out
    assert "Running stage 'featurize'" not in out
    assert "Running stage 'prepare'" not in out
    assert json.loads((repo / "metrics/metrics.json").read_text())["mode"] == "image"
    diff = run("dvc metrics diff", repo, env)
    assert "accuracy.mean" in diff and "metrics/metrics.json" in diff
    # DVC's metrics are the scores that compare experiments, headline first: not the data
    # report's counts, the per-class and per-fold details or DVCLive's last epoch
    rows = [line.split() for line in diff.splitlines()[1:] if line.strip()]
    assert rows[0][:2] == ["metrics/metrics.json", "accuracy.mean"], diff
    assert {row[0] for row in rows} == {"metrics/metrics.json"}, diff
    assert {row[1].split(".")[0] for row in rows} <= {"mode", "accuracy", "macro_f1",
                                                      "weighted_f1", "calibration"}, diff
    shown = run("dvc exp show --csv", repo, env).splitlines()
    header = shown[0].split(",")
    image_row = next(line.split(",") for line in shown if line.startswith("image-only,"))
    assert image_row[header.index("metrics/metrics.json:mode")] == "image"
    assert image_row[header.index("params.yaml:mode")] == "image"
    first_metrics = header[header.index("metrics/metrics.json:mode"):][:4]
    assert first_metrics == ["metrics/metrics.json:mode", "accuracy.mean", "accuracy.std",
                             "accuracy.pooled"], header
    assert not [c for c in header if c.startswith(("problems.", "per_class.", "val_loss"))]
    # what a 200-column terminal shows of the table (DVC pages it; less shows the left part),
    # past experiment names as long as this test's (other tests' names may be longer)
    table = in_a_terminal("dvc exp show", repo, env).splitlines()
    heading = next(line for line in table if "Experiment" in line)
    heading = heading[heading.index("Created"):][:170]
    for score in ("accuracy.mean", "macro_f1.mean", "weighted_f1.mean"):
        assert score in heading, heading


def _reran(stage: str, out: str) -> bool:
    """The stage ran, or DVC restored its outputs from a run of the same inputs."""
    return f"Running stage '{stage}'" in out or f"Stage '{stage}' is cached" in out


def test_seeds_rerun_only_what_they_seed(ran):
    """A training seed keeps the folds and features; a fold seed keeps the features."""
    repo, env = ran
    run("dvc exp remove train-seed fold-seed || true", repo, env)  # where a compare made them
    folds_before = (repo / "data/folds.csv").read_bytes()
    out = run("dvc exp run -n train-seed -S seed=1", repo, env)
    assert _reran("train", out)
    assert "Running stage 'fold_split'" not in out and "Running stage 'featurize'" not in out
    assert (repo / "data/folds.csv").read_bytes() == folds_before
    out = run("dvc exp run -n fold-seed -S fold.seed=1", repo, env)
    assert _reran("fold_split", out) and _reran("train", out)
    assert "Running stage 'featurize'" not in out
    assert (repo / "data/folds.csv").read_bytes() != folds_before


def test_a_knob_the_settings_leave_unread_fails_the_experiment_in_one_line(ran):
    repo, env = ran
    result = subprocess.run("dvc exp run -S train.early_stopping=none -S train.patience=7",
                            cwd=repo, env=env, shell=True, capture_output=True, text=True)
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines()
              if line.startswith("error: ")]
    assert errors == ["error: train.patience: 7 is never read while train.early_stopping is "
                      "none; set train.early_stopping to holdout (or refit, or fold), or leave "
                      "the key at its default"], result.stdout + result.stderr
    assert WAY_BACK in result.stdout + result.stderr  # and how to get the last good state back
    assert "Running stage 'evaluate'" not in result.stdout
    assert run("git status --short", repo, env).strip()  # params.yaml, the removed outputs
    run(WAY_BACK.split(": ", 1)[1], repo, env)  # the way back, as printed, is the whole way
    assert run("git status --short", repo, env) == ""
    assert "up to date" in run("dvc status", repo, env)


def test_a_missing_data_folder_is_one_line_saying_what_to_do(ran, tmp_path):
    """msa speaks before DVC trips on the absent folder, and nothing committed is removed."""
    repo, env = ran
    said = ("error: data.root: {} not found; `msa demo-data {}` writes the demo data there "
            "(`make demo`, the README's first command, writes it and runs the pipeline), or set "
            "data.root to the folder of your posts")
    result = subprocess.run("dvc exp run -S data.root=absent", cwd=repo, env=env, shell=True,
                            capture_output=True, text=True)
    shown = result.stdout + result.stderr
    assert result.returncode != 0 and "Errno" not in shown, shown
    assert [line for line in shown.splitlines() if line.startswith("error: ")] == [
        said.format("absent", "absent")], shown
    assert WAY_BACK in shown
    assert run("git status --short", repo, env).split() == ["M", "params.yaml"]
    run("git checkout params.yaml", repo, env)
    # a fresh clone, before the demo data is written (it is not committed)
    clone = tmp_path / "clone"
    run(f"git clone -q {repo} {clone}", tmp_path, env)
    result = subprocess.run("dvc repro", cwd=clone, env=env, shell=True, capture_output=True,
                            text=True)
    shown = result.stdout + result.stderr
    assert result.returncode != 0 and "Errno" not in shown, shown
    assert said.format("data/demo", "data/demo") in shown.splitlines(), shown
    assert run("git status --short", clone, env) == ""  # metrics/data.json and all still there


def test_compare_leaves_out_a_failed_queued_experiment(ran):
    repo, env = ran
    _experiment(repo, env, "train-seed", "-S seed=1")
    run("dvc exp run --queue -n no-data -S data.root=absent", repo, env)
    subprocess.run("dvc exp run --run-all", cwd=repo, env=env, shell=True, capture_output=True)
    result = subprocess.run("msa compare", cwd=repo, env=env, shell=True, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert "left out, no results of their own: no-data (failed)" in result.stderr
    assert "| no-data |" not in result.stdout and "| train-seed |" in result.stdout, result.stdout
    # the commit's own results come first, and the experiments are tested against them (the
    # commit's setting takes in an experiment that differs from it by the seed alone)
    branch = run("git branch --show-current", repo, env).strip()
    table = [line for line in result.stdout.split("## Against")[0].splitlines()
             if line.startswith("| ") and not line.startswith(("| setting", "|---"))]
    setting = re.escape(branch) + r"( \+ [\w-]+)*"
    assert re.match(rf"\| {setting} \|", table[0]), result.stdout
    assert re.search(rf"## Against {setting}, over seeds", result.stdout), result.stdout
    assert re.search(rf"### Each run against {branch}, pair by pair", result.stdout), \
        result.stdout
    result = subprocess.run("msa compare no-data", cwd=repo, env=env, shell=True,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error: experiment 'no-data' has no results of its own")


# loss, validation, stopping (drawn empty under none), folds_running, confusion,
# confusion_normalised, per_class_f1
VEGA_PLOTS = 7


def test_plots_page_renders_offline_in_a_browser(ran, tmp_path):
    repo, env = ran
    output = run("dvc plots show -o plots_html", repo, env)
    assert "WARNING" not in output, output
    page = repo / "plots_html" / "index.html"
    html = page.read_text()
    assert "cdn.jsdelivr" not in html and "<script src=" not in html
    assert "learning_curves.png" in html and "confusion.png" in html
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium here (.ci/run installs it)")
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
         "--virtual-time-budget=15000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    dom = result.stdout
    drawn = dom.count("<canvas") + dom.count('<svg class="marks"')
    assert drawn == VEGA_PLOTS, (drawn, result.stderr[-3000:])
    assert "Uncaught" not in result.stderr, result.stderr[-3000:]


def test_ablation_over_seeds_reports_by_setting_and_runs_nothing_twice(ran):
    repo, env = ran
    run("msa ablation --seeds 2", repo, env)
    names = {f"ablation-{mode}-seed{seed}" for mode in ("text", "image", "multimodal")
             for seed in (0, 1)}
    assert names <= set(run("dvc exp ls --name-only", repo, env).split())
    report = (repo / "reports" / "ablation.md").read_text()
    commit = run("git rev-parse --short HEAD", repo, env).strip()
    assert f"Made by `msa ablation --seeds 2` at commit {commit}. 3 setting(s), 6 run(s); " \
           "trained on: CPU " in report
    for figure in ("ablation.png", "ablation-stability.png"):
        assert (repo / "reports" / figure).stat().st_size > 1000
    # the settings first: each mode over its two seeds, the mean of the runs' fold means
    settings = report.split("## Settings over seeds")[1].split("## Against")[0]
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")
            for line in settings.splitlines() if line.startswith("| ablation-")}
    assert set(rows) == {"ablation-text", "ablation-image", "ablation-multimodal"}
    assert all(row[1:3] == [mode.split("-")[1], "0 1"] for mode, row in rows.items())
    # each against text, per headline score: an interval over seeds and one over posts, and a
    # verdict that says which test decided
    against = report.split("## Against ablation-text, over seeds")[1].split("\n## ")[0]
    verdicts = ("beyond seed noise: both intervals exclude 0",
                "within seed noise: the interval over seeds holds 0",
                "within noise: the post-by-post interval holds 0",
                "within noise: the two intervals lie on opposite sides of 0",
                "no difference: the same scores at every seed")
    for mode in ("image", "multimodal"):
        for title in ("accuracy", "macro-F1", "weighted-F1"):
            row = next(line for line in against.splitlines()
                       if line.startswith(f"| ablation-{mode} | {title} | 2 | "))
            cells = row.strip("| ").split(" | ")
            assert all(" [" in cell for cell in cells[3:5]), row
            assert cells[5] in verdicts, row
    # each post across the seeds, and the posts behind each difference
    stable = report.split("## Each post across the seeds")[1].split("\n## ")[0]
    assert all(f"| ablation-{mode} | 2 | " in stable for mode in ("text", "image", "multimodal"))
    posts = (repo / "reports" / "ablation-posts.csv").read_text().splitlines()
    assert posts[0] == ("setting,change,guid,label,baseline_per_seed,setting_per_seed,"
                        "baseline_p_label,setting_p_label")
    for mode in ("image", "multimodal"):
        fixes = sum(line.startswith(f"ablation-{mode},fixes,") for line in posts)
        breaks = sum(line.startswith(f"ablation-{mode},breaks,") for line in posts)
        assert f"| ablation-{mode} | {fixes} | {breaks} | {fixes - breaks:+d} |" in report
        assert (repo / "reports" / f"ablation-ablation-{mode}-posts.jpg").stat().st_size > 1000
    # every run below, as dvc exp show has it
    every_run = report.split("## Every run")[1]
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")
            for line in every_run.split("### Each run")[0].splitlines()
            if line.startswith("| ablation-")}
    assert set(rows) == names
    shown = run("dvc exp show --csv", repo, env).splitlines()
    header = shown[0].split(",")
    for line in shown[1:]:
        cells = line.split(",")
        if cells[0] not in rows:
            continue
        row = rows.pop(cells[0])
        assert row[2] == cells[header.index("metrics/metrics.json:mode")]  # after the seed
        # per-class F1 and epochs run come from metrics/details.json at its revision
        assert [cell.strip("| ") for cell in row[9:13]].count("-") == 0, row
        for k, name in enumerate(("accuracy", "macro_f1", "weighted_f1")):
            mean = float(cells[header.index(f"{name}.mean")])
            std = float(cells[header.index(f"{name}.std")])
            assert row[3 + k] == f"{mean:.4f} ± {std:.4f}"
    assert rows == {}, "every run in the report is in dvc exp show"
    assert "5 comparison(s) on the same 90 labelled pairs and folds" in every_run
    # the same command again runs nothing and writes the same report
    again = run("msa ablation --seeds 2", repo, env)
    assert "dvc exp run" not in again and again.count("ran before with these params; kept") == 6
    assert (repo / "reports" / "ablation.md").read_text() == report


def test_a_failed_run_of_a_set_shows_as_failed_and_the_others_are_reported(ran):
    repo, env = ran
    result = subprocess.run(
        "msa sweep featurize.text_model=all-MiniLM-L6-v2,no-such/model --seeds 1 "
        "--out reports/failing", cwd=repo, env=env, shell=True, capture_output=True, text=True)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    failed = "featurize-text_model-no-such_model-seed0"
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: sweep: 1 of 2 runs failed ({failed}; their output is above); the report "
        "leaves them out, and running the same command again runs only them"), result.stderr
    report = (repo / "reports" / "failing.md").read_text()
    assert f"Failed, so left out: {failed}" in report
    assert "| featurize-text_model-all-MiniLM-L6-v2 |" in report
    assert f"| {failed}" not in report


def _right(repo) -> dict[str, bool]:
    lines = (repo / "data/oof.csv").read_text().splitlines()[1:]
    return {c[0]: c[2] == c[-1] for c in (line.split(",") for line in lines)}


def test_compare_tests_two_experiments_pair_by_pair_from_their_revisions(ran):
    """msa compare prints what it writes: the discordant pairs of the two experiments' own
    out-of-fold files (checked out here with dvc exp apply) and McNemar's test on them."""
    from scipy.stats import binomtest

    repo, env = ran
    run("msa ablation --seeds 2", repo, env)  # kept where the ablation test ran it
    _experiment(repo, env, "fold-seed", "-S fold.seed=1")
    right = {}
    for name in ("ablation-image-seed0", "ablation-multimodal-seed0"):
        run(f"dvc exp apply {name} && dvc checkout -q", repo, env)
        right[name] = _right(repo)
    run("git checkout . && dvc checkout -q", repo, env)
    out = run("msa compare ablation-multimodal-seed0 ablation-image-seed0 --baseline "
              "ablation-image-seed0 --out reports/two", repo, env)
    # the same report, printed without its charts' Markdown lines
    from msa.experiments.report import for_terminal

    assert out.startswith(for_terminal((repo / "reports/two.md").read_text()))
    assert "![" not in out
    base, other = right["ablation-image-seed0"], right["ablation-multimodal-seed0"]
    only_base = sum(base[g] and not other[g] for g in base)
    only_other = sum(other[g] and not base[g] for g in base)
    row = next(line for line in out.splitlines()
               if line.startswith("| ablation-multimodal-seed0 | +"))
    cells = row.split(" | ")  # experiment | 3 headline intervals | discordant | McNemar | Holm
    assert cells[4] == f"{only_base} / {only_other}"
    p = binomtest(only_base, only_base + only_other).pvalue if only_base + only_other else 1.0
    assert float(cells[5]) == pytest.approx(p, rel=1e-2) and cells[5] == cells[6]  # one test
    # two settings, each over its seeds (a setting's name names every seed of it)
    out = run("msa compare ablation-multimodal ablation-image --baseline ablation-image "
              "--out reports/groups", repo, env)
    assert "## Against ablation-image, over seeds" in out
    assert "| ablation-multimodal | accuracy | 2 | " in out
    # an experiment on other folds is not paired with it: said, not tested
    out = run("msa compare ablation-image-seed0 fold-seed --out reports/unpaired", repo, env)
    assert ("Not paired with ablation-image-seed0, so not tested: fold-seed: the same pairs in "
            "other folds (fold.n_splits, fold.seed or fold.group differ).") in out
    assert ("Not paired with ablation-image, so not compared: fold-seed: the same pairs in "
            "other folds") in out
    assert "0 comparison(s)" not in out  # said in words, not as a count of none
    assert "No experiment is on the same labelled pairs and folds as ablation-image-seed0" in out
    assert "No setting is on the same labelled pairs and folds as ablation-image" in out


def test_a_teammate_reproduces_and_compares_without_recomputing(ran, tmp_path):
    """docs/experiments.md, "With others": a bare git origin and a folder as the DVC remote,
    real folders both. The teammate's clone pulls, is up to date, and compares the pushed
    experiment with the commit pair by pair; one whose predictions were never pushed is one
    line."""
    repo, env = ran
    run("msa ablation --seeds 2", repo, env)  # kept where the ablation test ran it
    origin, storage, mate = tmp_path / "origin.git", tmp_path / "dvc-storage", tmp_path / "mate"
    run(f"git init -q --bare {origin} && git remote add origin {origin}", repo, env)
    run(f"dvc remote add -d storage {storage} && git commit -qm 'the team remote' .dvc/config",
        repo, env)
    run("git push -q origin HEAD && dvc push -q", repo, env)
    run("dvc exp run -n mates-text -S mode=text && dvc exp push origin mates-text", repo, env)
    run("git checkout . && dvc checkout -q", repo, env)
    run("dvc exp push --no-cache origin ablation-image-seed0", repo, env)  # outputs stay here

    run(f"git clone -q {origin} {mate}", tmp_path, env)
    run("msa demo-data data/demo --labelled 90 --test 15 --seed 1", mate, env)  # not in git
    run("dvc pull -q", mate, env)
    assert "up to date" in run("dvc status", mate, env)
    assert (mate / "data/oof.csv").read_bytes() == (repo / "data/oof.csv").read_bytes()
    run("dvc exp pull origin mates-text", mate, env)
    run("dvc exp pull --no-cache origin ablation-image-seed0", mate, env)  # no outputs there
    out = run("msa compare --out reports/mates", mate, env)  # the commit and its experiment
    branch = run("git branch --show-current", mate, env).strip()
    assert f"### Each run against {branch}, pair by pair" in out, out
    assert next(line for line in out.splitlines() if line.startswith("| mates-text | "))
    result = subprocess.run("msa compare -A mates-text ablation-image-seed0 --out reports/lost",
                            cwd=mate, env=env, shell=True, capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: ablation-image-seed0: its data/oof.csv is not in DVC's "
                                    "cache or remote"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_msa_predict_on_posts_in_another_layout(ran):
    """New posts as a manifest table: every row predicted in table order, every bad one named."""
    repo, env = ran
    guids = [x.split(",")[0] for x in
             (repo / "data/demo/test_without_label.txt").read_text().splitlines()[1:5]]
    rows = [f"{g},data/demo/data/{g}.txt,data/demo/data/{g}.jpg" for g in guids]
    rows += ["77,,data/demo/data/77.jpg", "x/y,,a.jpg"]
    (repo / "new.csv").write_text("id,text_path,image_path\n" + "\n".join(rows) + "\n")
    out = run("msa predict --data . --format manifest --manifest-file new.csv "
              "--output table.txt", repo, env)
    assert "warning: skipped 1 pairs (missing_text): 77" in out  # neither text nor text_path
    assert "warning: skipped 1 pairs (invalid_guid): x/y" in out
    lines = (repo / "table.txt").read_text().splitlines()
    assert lines[0] == "guid,tag" and [x.split(",")[0] for x in lines[1:]] == guids
    assert all(x.split(",")[1] in ("negative", "neutral", "positive") for x in lines[1:])
    result = subprocess.run("msa predict --data . --format manifest --input mine.txt "
                            "--output x.txt", shell=True, cwd=repo, env=env, capture_output=True,
                            text=True)
    assert result.returncode == 2 and result.stderr.startswith("error: --input: a list file is "
                                                               "for the lab5 layout")


def _my_list(repo) -> list[str]:
    """mine.txt: five posts to predict and one without files; the lines listed."""
    listed = (repo / "data/demo/test_without_label.txt").read_text().splitlines()
    (repo / "mine.txt").write_text("\n".join(listed[:6] + ["99999,null"]) + "\n")
    return listed


def test_msa_predict_on_a_list(ran):
    repo, env = ran
    listed = _my_list(repo)
    out = run("msa predict --data data/demo --input mine.txt --output custom.txt "
              "--probabilities probs.csv", repo, env)
    assert "warning: skipped 1 pairs (missing_text): 99999" in out
    lines = (repo / "custom.txt").read_text().splitlines()
    assert lines[0] == "guid,tag"
    assert [x.split(",")[0] for x in lines[1:]] == [x.split(",")[0] for x in listed[1:6]]
    assert all(x.split(",")[1] in ("negative", "neutral", "positive") for x in lines[1:])
    # it says which models predicted, and the probabilities behind each tag
    models = json.loads((repo / "models/models.json").read_text())
    head = run("git rev-parse --short HEAD", repo, env).strip()
    assert (f"predict: the models in models (revision: git {head}, whose dvc.lock names them): "
            f"mode {models['mode']}, regime heads, {len(models['folds'])} folds, encoders ") in out
    probs = (repo / "probs.csv").read_text().splitlines()
    assert probs[0] == "guid,prob_negative,prob_neutral,prob_positive"
    for tag_line, prob_line in zip(lines[1:], probs[1:]):
        guid, *values = prob_line.split(",")
        assert guid == tag_line.split(",")[0] and abs(sum(map(float, values)) - 1) < 1e-4
        assert tag_line.split(",")[1] == ("negative", "neutral", "positive")[
            max(range(3), key=lambda k: float(values[k]))]


def test_msa_predict_on_two_processes_predicts_what_one_does(ran):
    """Heads models: the new posts' features shared between two gloo processes (one thread
    each, as the one-process reference), the heads on the main one; the warnings said once."""
    repo, env = ran
    _my_list(repo)
    two = yaml.safe_load((repo / "params.yaml").read_text()) | {"launch": "cpu_2proc"}
    (repo / "two.yaml").write_text(yaml.safe_dump(two, sort_keys=False))
    one_thread = {**env, "OMP_NUM_THREADS": "1"}
    args = "msa predict --data data/demo --input mine.txt"
    run(f"{args} --output one.txt", repo, one_thread)
    out = run(f"{args} --params two.yaml --output two.txt", repo, {**env, "OMP_NUM_THREADS": "2"})
    assert "predict: 5 pairs -> two.txt (2 processes)" in out
    assert out.count("warning: skipped 1 pairs (missing_text): 99999") == 1
    assert (repo / "two.txt").read_text() == (repo / "one.txt").read_text()
    assert len((repo / "two.txt").read_text().splitlines()) == 1 + 5


def test_killed_train_then_repro_gives_the_uninterrupted_result(ran):
    """The train process dies mid-run (as under the OOM killer); dvc repro then recovers."""
    import psutil

    repo, env = ran
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"].update(epochs=16)  # folds long enough to be killed inside
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = subprocess.Popen("dvc repro", shell=True, cwd=repo, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    seen = b""
    while b"| 1/3" not in seen:  # the first of three folds is done: kill in the middle of train
        chunk = proc.stdout.read1(4096)
        if not chunk:
            break
        seen += chunk
    victims = [p for p in psutil.Process(proc.pid).children(recursive=True)
               if any("stages/train.py" in part for part in p.cmdline())]
    for victim in victims:
        victim.send_signal(signal.SIGKILL)
    seen += proc.stdout.read()
    assert proc.wait() != 0
    assert victims and b"| 1/3" in seen, seen.decode(errors="replace")[-2000:]
    assert "train" in run("dvc status", repo, env)
    run("dvc repro", repo, env)
    recovered = e2e_results(repo)
    run("dvc repro --force --single-item train && dvc repro", repo, env)
    assert e2e_results(repo) == recovered
    assert json.loads(recovered[1])["folds"]["2"]["epochs_run"] >= 1  # metrics/details.json
