import hashlib

import pytest

from msa import cli
from msa.data import reading


def _digest(folder):
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def test_demo_data_is_lab5_layout_and_deterministic(tmp_path, capsys):
    cli.main(["demo-data", str(tmp_path / "a"), "--labelled", "40", "--test", "8"])
    cli.main(["demo-data", str(tmp_path / "b"), "--labelled", "40", "--test", "8"])
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    pairs, report = reading.prepare(tmp_path / "a", show_progress=False)
    assert report["pairs"]["train"]["total"] == 40 and report["pairs"]["test"] == 8
    assert report["guids"]["skipped"] == 0
    assert set(report["pairs"]["train"]) == {"negative", "neutral", "positive", "total"}
    assert report["text_encodings"].get("gb18030", 0) > 0
    # a second run into its own folder is allowed (it rewrites the same files)
    cli.main(["demo-data", str(tmp_path / "a"), "--labelled", "40", "--test", "8"])


def test_demo_data_refuses_a_folder_it_did_not_make(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("precious", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo-data", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not made by `msa demo-data`" in err
    assert err.count("\n") == 1
    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "precious"
    assert not (tmp_path / "data").exists()


def test_params_lists_every_key_and_a_closed_pipe_is_no_traceback():
    import subprocess
    import sys

    full = subprocess.run([sys.executable, "-m", "msa.cli", "params"], capture_output=True,
                          text=True, check=True).stdout
    assert "train.patience = 3\n    holdout, refit, fold: epochs waited after the best" in full
    # `true` reads nothing and exits at once: every write then meets a closed pipe
    closed = subprocess.run(f"{sys.executable} -m msa.cli params | true", shell=True,
                            capture_output=True, text=True)
    assert closed.stderr == ""


def test_every_argument_of_every_command_has_its_help():
    """`msa demo-data --help` and the others say what each argument is."""
    import argparse

    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        for action in command._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, f"msa {name}: {action.dest} has no help"
