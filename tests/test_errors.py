import pytest

from msa.errors import MsaError, one_line_errors


def stopped(main, capsys) -> tuple[int, str]:
    """The exit status a wrapped `main` stops with, and what it printed on stderr."""
    with pytest.raises(SystemExit) as exit_:
        main()
    return exit_.value.code, capsys.readouterr().err


def test_an_error_is_one_line_whatever_its_message_quotes(capsys):
    @one_line_errors
    def main():
        raise MsaError("data.root /tmp/a\nb\r: folder not found")

    code, err = stopped(main, capsys)
    assert code == 2
    assert err == "error: data.root /tmp/a\\nb\\r: folder not found\n"


def test_a_stage_that_stops_says_the_way_back(capsys):
    """DVC has removed the stage's outputs and `dvc exp run -S` wrote the refused value into
    params.yaml: the second line says how to return to the last committed state."""
    from msa.errors import WAY_BACK, stage_errors

    @stage_errors
    def main():
        raise MsaError("mode: 'video' is not allowed")

    code, err = stopped(main, capsys)
    assert code == 2
    assert err.splitlines() == ["error: mode: 'video' is not allowed", WAY_BACK]
    assert "git checkout params.yaml dvc.lock " in WAY_BACK and WAY_BACK.endswith(
        " && dvc checkout")


def test_ctrl_c_is_one_line_saying_what_was_kept(capsys):
    from msa.errors import RUN_AGAIN, Interrupted, stage_errors

    @stage_errors
    def plain():
        raise KeyboardInterrupt

    @stage_errors
    def kept():
        raise Interrupted("state/ keeps fold 0 (choose) after epoch 2")

    for main, said in ((plain, RUN_AGAIN), (kept, "state/ keeps fold 0 (choose) after epoch 2")):
        code, err = stopped(main, capsys)
        assert code == 130
        assert err.strip().splitlines() == [f"interrupted: {said}"]


SLEEPS = """
import sys, time
from msa.errors import one_line_errors

@one_line_errors
def main():
    print("ready", flush=True)
    time.sleep(60)

main()
"""


@pytest.mark.parametrize("ignored", [False, True])
def test_ctrl_c_is_heard_even_where_the_process_started_with_it_ignored(tmp_path, ignored):
    """A shell without job control starts background jobs (CI, batch schedulers, `cmd &` in a
    script) with SIGINT ignored; msa's commands and stages still stop on it, in one line."""
    import signal
    import subprocess
    import sys

    script = tmp_path / "sleeps.py"
    script.write_text(SLEEPS)
    started_as = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignored else None
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=started_as)
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.strip() == ("interrupted: the stage stopped; `dvc repro` (or `dvc exp run`) "
                           "runs it again"), err


def test_the_way_back_restores_a_file_git_takes_for_unchanged(tmp_path, monkeypatch):
    """DVC rewrites git's index (dulwich) keeping the stat data of a file that a stage rewrote
    in the same second with as many bytes: `git checkout PATH` alone takes it for unchanged and
    leaves it (seen with plots/stopping_curve.csv on AVX2 in fp32); the way back restores it."""
    import subprocess
    import time

    from dulwich.index import Index

    from msa.errors import KEPT_IN_GIT, WAY_BACK

    monkeypatch.chdir(tmp_path)

    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    while time.time() % 1 > 0.3:  # what follows fits in one second
        time.sleep(0.01)
    for path in KEPT_IN_GIT:
        file = tmp_path / (path if "." in path else f"{path}/a.csv")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text("1,0.5\n")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "outputs")
    curve = tmp_path / "plots" / "a.csv"
    with open(curve, "r+") as f:  # the same file, as many bytes, other numbers
        f.write("2,0.7\n")
    time.sleep(1.5)
    Index(".git/index").write()  # as DVC's git backend writes it
    assert git("status", "--short") == ""  # git takes it for unchanged
    git_part = WAY_BACK.split(": ", 1)[1].removesuffix(" && dvc checkout")
    subprocess.run(f"git checkout {' '.join(KEPT_IN_GIT)}", shell=True, check=True)
    assert curve.read_text() == "2,0.7\n"  # what the way back was before: left as it is
    subprocess.run(git_part, shell=True, check=True)
    assert curve.read_text() == "1,0.5\n"
    assert git("status", "--short") == ""
