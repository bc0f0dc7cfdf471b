import numpy as np

from msa import LABELS
from msa.evaluation import predict


def test_predictions_are_in_lab5_format_and_input_order(tmp_path):
    probs = np.array([[0.1, 0.2, 0.7], [0.8, 0.1, 0.1], [0.2, 0.5, 0.3]])
    predict.write_predictions(["9", "3", "5"], probs, tmp_path / "p.txt")
    assert (tmp_path / "p.txt").read_text() == "guid,tag\n9,positive\n3,negative\n5,neutral\n"


def test_under_a_launch_every_process_featurizes_and_the_main_one_predicts():
    """features_of() may featurize, sharing the posts: every process calls it; the heads then
    run on the main process alone, and the others get None."""
    from msa import parallel

    class Other(parallel.Shares):
        processes, is_main = 2, False

    calls = []
    from msa.features.identity import EncoderIdentity
    from msa.params import FeaturizeParams
    from msa.training.checkpoints import ModelsRecord

    summary = ModelsRecord("text", LABELS, EncoderIdentity.of(FeaturizeParams()), 0.0, (), "heads")
    assert predict.ensemble_proba([], summary, [], lambda: calls.append(1),
                                  shares=Other()) is None
    assert calls == [1]


def test_the_models_revision_is_where_git_and_dvc_say_they_come_from(tmp_path, monkeypatch):
    """A real git + DVC repository: models dvc.lock names at a commit, then not yet
    committed, then changed by hand, then a folder DVC does not track."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from msa.evaluation import predict

    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "DVC_NO_ANALYTICS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def sh(cmd):
        subprocess.run(cmd, shell=True, cwd=tmp_path, check=True, capture_output=True, env=env)

    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  train:\n    cmd: mkdir -p models && cp weights models/\n"
        "    deps: [weights]\n    outs: [models]\n")
    (tmp_path / "weights").write_text("1")
    sh("git init -q && dvc init -q && dvc repro -q && git add -A && git commit -qm one")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert predict.revision("models") == f"git {head}, whose dvc.lock names them"
    (tmp_path / "weights").write_text("2")
    sh("dvc repro -q")
    assert predict.revision("models").startswith("dvc.lock's in the workspace, not yet "
                                                 f"committed to git (a run or an applied "
                                                 f"experiment since git {head})")
    (tmp_path / "models" / "weights").unlink()
    (tmp_path / "models" / "weights").write_text("by hand")
    assert predict.revision("models") == ("none: models/ differs from what dvc.lock names "
                                          "(not the output of any run)")
    (tmp_path / "elsewhere").mkdir()
    assert predict.revision("elsewhere") == "not tracked by DVC here"
