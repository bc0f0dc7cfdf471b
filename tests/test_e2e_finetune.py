"""train.regime finetune through the real dvc commands, with tiny random encoders: the text
encoder tuned with the image encoder frozen (CLMLF's recipe) on two processes, and both adapted
by LoRA, killed and resumed on one; and Ctrl-C, which says in one line what it kept."""

import json
import os
import signal
import subprocess
import time

import pytest
import yaml

from conftest import (TINY_IMAGE_MODEL, TINY_IMAGE_OPTIONS, TOP_LAYERS_DEFAULT, e2e_results,
                      run)
from msa.params import TrainParams
from msa.training import kept

# One worker runs these in order on one workspace (make test: pytest -n 2 --dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e_finetune")]

# The workspace's heads-only knobs back at their defaults: finetune refuses a knob it never reads.
FINETUNE = (f"-S train.regime=finetune -S train.text_tuning=auto {TOP_LAYERS_DEFAULT} "
            "-S augment.views=4")



def check_finished_run(repo, world_size: int) -> str:
    """What a finished finetune run leaves, on any number of processes: its provenance, every
    labelled pair scored exactly once out of fold, metrics that follow from that file, the test
    predictions, DVCLive's last record, and no saved state. Returns the predictions."""
    from sklearn.metrics import accuracy_score, f1_score

    summary = json.loads((repo / "metrics/training.json").read_text())
    assert summary["produced_by"]["train"]["regime"] == "finetune"
    assert summary["produced_by"]["train"]["world_size"] == world_size
    oof = (repo / "data/oof.csv").read_text().splitlines()[1:]
    rows = [line.split(",") for line in oof]
    guids = [r[0] for r in rows]
    labelled = (repo / "data/demo/train.txt").read_text().splitlines()[1:]
    assert sorted(guids) == sorted(line.split(",")[0] for line in labelled)
    metrics = json.loads((repo / "metrics/metrics.json").read_text())
    by_fold = {}
    for _, fold, label, *_, predicted in rows:
        by_fold.setdefault(fold, ([], []))[0].append(label)
        by_fold[fold][1].append(predicted)
    accuracy = [accuracy_score(y, p) for y, p in by_fold.values()]
    macro_f1 = [f1_score(y, p, average="macro", labels=["negative", "neutral", "positive"],
                         zero_division=0) for y, p in by_fold.values()]
    assert metrics["accuracy"]["mean"] == pytest.approx(sum(accuracy) / len(accuracy))
    assert metrics["macro_f1"]["mean"] == pytest.approx(sum(macro_f1) / len(macro_f1))
    predictions_text = (repo / "predictions/test_predictions.txt").read_text()
    assert len(predictions_text.splitlines()) == 1 + 15
    assert not (repo / ".finetune_state").exists()  # a finished run leaves no saved state
    live = json.loads((repo / "dvclive/metrics.json").read_text())
    last = (repo / "metrics/train_log.csv").read_text().splitlines()[-1].split(",")
    assert (live["fold"], live["epoch"]) == (int(last[0]), int(last[1]))
    return predictions_text


def fold_model_keys(repo) -> set[str]:
    import torch

    return set(torch.load(repo / "models/fold_0.pt", weights_only=True)["state_dict"])


def repro_until_saved(repo, env, tiny_bert, image_tuning: str, phase_folder: str):
    """`dvc repro` under finetune (the text encoder by LoRA, the image one as named), in a
    session of its own as a terminal runs it, returned once `phase_folder` holds an epoch."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["featurize"].update(text_model=str(tiny_bert), **TINY_IMAGE_MODEL)
    params["augment"]["views"] = 4  # as FINETUNE says
    params["train"].update(regime="finetune", epochs=3, patience=3, batch_size=16,
                           text_tuning="lora", image_tuning=image_tuning, lora_rank=2,
                           text_top_layers=TrainParams().text_top_layers)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = subprocess.Popen("dvc repro", shell=True, cwd=repo, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    saved = kept.progress_file(repo / ".finetune_state" / phase_folder)
    while not saved.exists() and proc.poll() is None:
        time.sleep(0.05)
    return proc


def test_finetune_runs_as_an_experiment_on_two_processes(workspace, tiny_bert):
    """Two processes (gloo) through `dvc exp run`, the text encoder tuned and the image one
    frozen; the one-process run is the killed test's uninterrupted rerun below."""
    repo, env = workspace
    out = run(f"dvc exp run -n finetune-cpu_2proc {FINETUNE} -S featurize.text_model={tiny_bert} "
              f"{TINY_IMAGE_OPTIONS} -S train.epochs=1 -S train.image_tuning=frozen "
              "-S train.batch_size=16 -S launch=cpu_2proc", repo, env)
    assert "Running stage 'train'" in out and "Running stage 'predict'" in out
    # featurize encoded nothing: train reads the raw pairs
    assert "featurize: nothing to encode under train.regime finetune" in out
    assert [f.name for f in (repo / "data/features").iterdir()] == ["index.json"]
    # the fold models keep the tuned text encoder and the head, not the frozen image encoder
    keys = fold_model_keys(repo)
    assert any(k.startswith("text_encoder.") for k in keys)
    assert not any(k.startswith("image_encoder.") for k in keys)
    assert json.loads((repo / "models/models.json").read_text())["tuning"]["image"] == "frozen"
    predictions_text = check_finished_run(repo, world_size=2)
    # msa predict reads the pairs themselves with end-to-end models: the stage's predictions
    run("msa predict --data data/demo --input data/demo/test_without_label.txt "
        "--output again.txt", repo, env)
    assert (repo / "again.txt").read_text() == predictions_text
    run("git checkout . && dvc checkout -q", repo, env)


def test_killed_finetune_resumes_from_its_last_epoch_to_the_uninterrupted_result(
        workspace, tiny_bert):
    """train.regime finetune on one process, both encoders adapted by LoRA, killed in the
    middle of a fold (SIGKILL, every process of the stage); the next dvc repro resumes from the
    saved epoch and ends where an uninterrupted run ends, DVCLive's record included; that run
    is a complete one, its fold models the adapters and the head alone, and msa predict
    predicts from them what the stage did."""
    import psutil

    repo, env = workspace
    proc = repro_until_saved(repo, env, tiny_bert, "lora", "fold_1_choose")
    victims = [p for p in psutil.Process(proc.pid).children(recursive=True)
               if any("stages/train.py" in part for part in p.cmdline())]
    for victim in victims:
        victim.send_signal(signal.SIGKILL)
    output = proc.stdout.read().decode(errors="replace")
    assert proc.wait() != 0 and victims, output[-2000:]
    out = run("dvc repro", repo, env)
    assert "finetune: fold 1 resumes after epoch" in out
    recovered = e2e_results(repo) + [(repo / "dvclive/metrics.json").read_bytes()]
    out = run("dvc repro --force --single-item train && dvc repro", repo, env)
    assert "Running stage 'train'" in out
    assert e2e_results(repo) + [(repo / "dvclive/metrics.json").read_bytes()] == recovered
    predictions = check_finished_run(repo, world_size=1)
    keys = fold_model_keys(repo)
    assert all(k.startswith("head.") or "lora_" in k for k in keys)
    assert any(k.startswith("text_encoder.") for k in keys)
    assert any(k.startswith("image_encoder.") for k in keys)
    run("msa predict --data data/demo --input data/demo/test_without_label.txt "
        "--output again.txt", repo, env)
    assert (repo / "again.txt").read_text() == predictions
    run("git checkout . && dvc checkout -q && rm again.txt", repo, env)


def test_ctrl_c_during_finetune_is_one_line_on_what_was_kept(workspace, tiny_bert):
    """Ctrl-C (SIGINT to the terminal's foreground group: dvc and every process it started)
    in the middle of a fold: no traceback, one line saying what the saved state holds, how to
    resume and how to discard; the next dvc repro resumes from it."""
    import re

    repo, env = workspace
    proc = repro_until_saved(repo, env, tiny_bert, "frozen", "fold_0_choose")
    os.killpg(proc.pid, signal.SIGINT)
    output = proc.stdout.read().decode(errors="replace")
    assert proc.wait() != 0, output[-3000:]
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output[-3000:]
    said = [line for line in output.splitlines() if line.startswith("interrupted: ")]
    assert len(said) == 1, output[-3000:]
    assert re.fullmatch(r"interrupted: \.finetune_state/ keeps fold 0 \(choose\) after epoch \d"
                        r"(, fold \d \(\w+\) after epoch \d)* \(\d+ MiB\); `dvc repro` \(or `dvc "
                        r"exp run`\) with the same params resumes from there; `rm -rf "
                        r"\.finetune_state` discards it", said[0]), said[0]
    import psutil

    assert not [p for p in psutil.process_iter(["cmdline", "cwd"])  # none left running
                if p.info["cwd"] == str(repo)
                and any("stages/train.py" in part for part in p.info["cmdline"] or [])]
    out = run("dvc repro", repo, env)
    assert "finetune: fold 0 resumes after epoch" in out
    assert not (repo / ".finetune_state").exists()
    run("git checkout . && dvc checkout -q", repo, env)
