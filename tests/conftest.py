"""Shared fixtures: small lab5-layout folders made by the tests themselves."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from msa.params import TrainParams

REPO = Path(__file__).resolve().parents[1]
LAB5 = Path(os.environ.get("LAB5", REPO.parent / "shared" / "lab5"))

# Tests never download: the model hub is asked for nothing (msa itself asks it for a hub name
# that is not in the local cache, where the network allows).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Under pytest-xdist (make test) the workers share the cores: each worker's torch, and every
# stage it starts, gets its share of threads, since OpenMP threads spin and oversubscribed
# cores slow every process several times over.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ and "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = str(
        max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))


def write_image(path: Path, colour=(200, 100, 50), size=(64, 48), mode="RGB", fmt="JPEG"):
    image = Image.new("RGB", size, colour)
    pixels = np.asarray(image).copy()
    pixels[::7] = 255 - pixels[::7]  # some structure, so features differ from a flat colour
    image = Image.fromarray(pixels)
    if mode != "RGB":
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt)


def make_lab5(root: Path, train: dict[str, str], test: list[str], texts: dict | None = None,
              train_lines: list[str] | None = None, test_lines: list[str] | None = None) -> Path:
    """A lab5 folder with a JPEG and a UTF-8 text for every guid named (unless overridden)."""
    texts = texts or {}
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    for k, guid in enumerate(list(train) + list(test)):
        write_image(data / f"{guid}.jpg", colour=(40 * k % 255, 90, 160))
        payload = texts.get(guid, f"post number {guid}")
        (data / f"{guid}.txt").write_bytes(payload if isinstance(payload, bytes)
                                           else payload.encode("utf-8"))
    lines = train_lines if train_lines is not None else [f"{g},{t}" for g, t in train.items()]
    (root / "train.txt").write_text("\n".join(["guid,tag", *lines]) + "\n", encoding="utf-8")
    lines = test_lines if test_lines is not None else [f"{g},null" for g in test]
    (root / "test_without_label.txt").write_text("\n".join(["guid,tag", *lines]) + "\n",
                                                 encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    from msa.data.demo import write_demo_data

    root = tmp_path_factory.mktemp("demo")
    write_demo_data(root, n_labelled=60, n_test=12, seed=3)
    return root


@pytest.fixture(scope="session")
def demo_features(demo_root):
    """Features of the small demo set with the packaged encoders (fp32 for exact comparisons)."""
    from msa.data import reading
    from msa.features import extract
    from msa.params import AugmentParams, FeaturizeParams

    pairs, _ = reading.prepare(demo_root, show_progress=False)
    params = FeaturizeParams(image_batch_size=16)
    cache = extract.featurize(pairs, params, AugmentParams(views=2),
                               show_progress=False)
    return pairs, cache


def make_tiny_bert(folder: Path) -> Path:
    """A random-initialised two-layer BERT (32-d) with a character-level WordPiece vocabulary,
    saved as a local model folder, as a user's own encoder would be."""
    import string

    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    characters = string.ascii_lowercase + string.digits
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *characters,
             *(f"##{c}" for c in characters), *string.punctuation]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    return folder


# A random-initialised timm CNN small enough for CPU tests (pooled output 1024-d).
# The workspace tunes its text encoder's top layer; a run there that tunes it otherwise sets the
# layer count back to its default too (a count nothing reads is refused).
WORKSPACE_TOP_LAYERS = 1
TOP_LAYERS_DEFAULT = f"-S train.text_top_layers={TrainParams().text_top_layers}"
TINY_IMAGE_MODEL = {"image_model": "mobilenetv3_small_050", "image_weights": "random"}
TINY_IMAGE_OPTIONS = " ".join(f"-S featurize.{key}={value}"
                              for key, value in TINY_IMAGE_MODEL.items())  # for dvc exp run


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    from tiny_models import make_tiny_clip

    return make_tiny_clip(tmp_path_factory.mktemp("tiny_clip"))


@pytest.fixture(scope="session")
def tiny_siglip(tmp_path_factory) -> Path:
    from tiny_models import make_tiny_siglip

    return make_tiny_siglip(tmp_path_factory.mktemp("tiny_siglip"))


@pytest.fixture(scope="session")
def tiny_vision(tmp_path_factory):
    """family -> a tiny random transformers vision checkpoint (tests/tiny_models.py), built
    when first asked for."""
    from tiny_models import make_tiny_vision

    built = {}

    def folder(family: str) -> Path:
        if family not in built:
            built[family] = make_tiny_vision(tmp_path_factory.mktemp(f"tiny_{family}"), family)
        return built[family]

    return folder


@pytest.fixture(scope="session")
def tiny_roberta(tmp_path_factory) -> Path:
    from tiny_models import make_tiny_roberta

    return make_tiny_roberta(tmp_path_factory.mktemp("tiny_roberta"))


@pytest.fixture(scope="session")
def tiny_distilbert(tmp_path_factory, tiny_bert) -> Path:
    from tiny_models import make_tiny_distilbert

    return make_tiny_distilbert(tmp_path_factory.mktemp("tiny_distilbert"), tiny_bert)


def run(cmd: str, cwd: Path, env: dict) -> str:
    """A shell command that must succeed; its stdout and stderr."""
    import subprocess

    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, shell=True)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def in_a_terminal(cmd: str, cwd: Path, env: dict) -> str:
    """What a shell command shows in a terminal (a pseudo-terminal), its pager being cat: DVC
    pages a wide table whole, and a terminal (less -S) shows its left part."""
    import os
    import pty
    import re
    import subprocess

    main, attached = pty.openpty()
    process = subprocess.Popen(cmd, cwd=cwd, env={**env, "DVC_PAGER": "cat"}, shell=True,
                               stdin=attached, stdout=attached, stderr=attached)
    os.close(attached)
    shown = []
    while True:
        try:
            chunk = os.read(main, 1 << 16)
        except OSError:  # the command ended and closed its side
            break
        if not chunk:
            break
        shown.append(chunk)
    os.close(main)
    assert process.wait() == 0, b"".join(shown).decode(errors="replace")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(shown).decode(errors="replace"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> tuple[Path, dict]:
    """A temporary git + DVC repository holding the pipeline and a small demo set, committed,
    with settings that keep every stage's code path at a fraction of its cost: one per e2e
    module, whose tests run on it in order."""
    import shutil
    import sys

    import yaml

    repo = tmp_path_factory.mktemp("workspace")
    for name in ("dvc.yaml", "params.yaml", "requirements.txt", ".gitignore", ".dvcignore"):
        shutil.copy(REPO / name, repo / name)
    for folder in ("stages", "src", "configs"):
        shutil.copytree(REPO / folder, repo / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t", DVC_NO_ANALYTICS="1")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["fold"]["n_splits"] = 3
    params["augment"]["views"] = 1
    # The top text layer tuned and few epochs keep every stage's code path at a fraction of its
    # cost; holdout trains each fold once where refit trains it twice (the rules:
    # tests/test_driver.py).
    params["train"].update(text_tuning="top", text_top_layers=WORKSPACE_TOP_LAYERS)
    params["train"].update(epochs=4, patience=3, early_stopping="holdout")
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run("git init -q && dvc init -q && dvc config core.autostage true", repo, env)
    shutil.copytree(REPO / ".dvc" / "plots", repo / ".dvc" / "plots")
    run("dvc config plots.html_template plots/offline_page.html", repo, env)
    run("msa demo-data data/demo --labelled 90 --test 15 --seed 1", repo, env)
    run("git add -A && git commit -qm base", repo, env)
    return repo, env


def e2e_results(repo: Path) -> list[bytes]:
    """The outputs a rerun must reproduce byte for byte."""
    return [(repo / name).read_bytes() for name in (
        "metrics/metrics.json", "metrics/details.json", "predictions/test_predictions.txt",
        "metrics/train_log.csv")]
