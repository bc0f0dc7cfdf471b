"""Featurize and predict shared among two gloo processes give one process's outputs, in order.

Each of the two processes has one thread (msa.launch shares the cores), so the one-process
reference runs with one thread too: fp32 convolutions on a CPU round differently with the thread
count, which is not what these tests are about.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO
from msa import launch, parallel
from msa.data import prepared, reading
from msa.features import store

pytestmark = pytest.mark.slow

_PAIR_PROBA_JOB = """
import sys

import numpy as np
import torch

from msa import parallel
from msa.data import prepared
from msa.features import extract
from msa.params import FeaturizeParams, TrainParams
from msa.training import end_to_end

torch.manual_seed(0)
model, reader, spec = end_to_end.build(
    extract.encoder_identity(FeaturizeParams(text_max_length=32)), "multimodal", TrainParams())
shares = parallel.Shares.of_this_process()
probs = end_to_end.pair_proba(model, reader, spec, prepared.read(sys.argv[1]), False,
                              batch_size=4, shares=shares)
if shares.is_main:
    np.save(sys.argv[2], probs)
else:
    assert probs is None
print(f"processes {shares.processes}, share {shares.mine(range(5))}")
"""


@pytest.fixture(scope="module")
def posts(tmp_path_factory) -> Path:
    """A folder with a prepared manifest of a few posts, params.yaml and the launch configs."""
    from msa.data.demo import write_demo_data

    folder = tmp_path_factory.mktemp("parallel")
    write_demo_data(folder / "data", n_labelled=16, n_test=5, seed=4)
    pairs, _ = reading.prepare(folder / "data", show_progress=False)
    prepared.write(pairs, folder / "manifest.jsonl")
    (folder / "configs").symlink_to(REPO / "configs")
    return folder


def _run(argv: list[str], cwd: Path, launch_name: str = "cpu", **params) -> str:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw.update(launch=launch_name, precision="fp32", device="cpu")
    for section, values in params.items():
        raw[section].update(values)
    (cwd / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    env = {**os.environ, "OMP_NUM_THREADS": "2" if launch_name == "cpu_2proc" else "1"}
    env.pop("MSA_LAUNCHED", None)
    result = subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_featurize_on_two_processes_writes_one_process_cache(posts):
    stage = str(REPO / "stages" / "featurize.py")
    settings = {"augment": {"views": 1}, "featurize": {"image_batch_size": 4,
                                                        "text_batch_size": 4},
                "train": {"text_tuning": "top", "text_top_layers": 1}}
    _run([stage, "--manifest", "manifest.jsonl", "--out", "one"], posts, **settings)
    _run([stage, "--manifest", "manifest.jsonl", "--out", "two"], posts, "cpu_2proc",
         **settings)
    one, two = store.load(posts / "one"), store.load(posts / "two")
    assert two.guids == one.guids == [q.guid for q in prepared.read(posts / "manifest.jsonl")]
    for name in ("text", "image", "image_views"):
        np.testing.assert_array_equal(getattr(two, name), getattr(one, name), err_msg=name)
    np.testing.assert_array_equal(two.text_tokens.values, one.text_tokens.values)
    np.testing.assert_array_equal(two.text_tokens.offsets, one.text_tokens.offsets)
    assert one.produced_by.threads == two.produced_by.threads == 1
    assert two.produced_by.processes == 2 and one.produced_by.processes is None
    assert two.produced_by.replace(processes=None) == one.produced_by


def test_end_to_end_probabilities_on_two_processes_are_one_process_ones(posts, monkeypatch):
    monkeypatch.chdir(posts)  # where the launch configs are
    job = posts / "pair_proba_job.py"
    job.write_text(_PAIR_PROBA_JOB)
    manifest = str(posts / "manifest.jsonl")
    assert "processes 1, share [0, 1, 2, 3, 4]" in _run([str(job), manifest, "one.npy"], posts)
    argv, env = launch.command("cpu_2proc", str(job), [manifest, "two.npy"])
    result = subprocess.run(argv, cwd=posts, capture_output=True, text=True,
                            env={**os.environ, **env, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    # each process predicts its block of the batches
    assert "processes 2, share [0, 1, 2]" in result.stdout
    assert "processes 2, share [3, 4]" in result.stdout
    one, two = np.load(posts / "one.npy"), np.load(posts / "two.npy")
    assert one.shape == (21, 3)
    np.testing.assert_array_equal(two, one)


def test_alone_a_process_runs_the_whole_plan_and_gathers_it_as_it_is(monkeypatch):
    for key in ("MSA_LAUNCHED", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    shares = parallel.Shares.of_this_process()
    assert (shares.processes, shares.is_main) == (1, True)
    plan = [[0, 1], [2], [3, 4]]
    assert shares.mine(plan) == plan and shares.gather(["a", "b"]) == ["a", "b"]
