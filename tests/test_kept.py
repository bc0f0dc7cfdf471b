from pathlib import Path

from msa.training import kept


def _epoch(state: Path, fold: int, phase: str, epoch: int, progress: bool = True) -> None:
    folder = kept.phase_folder(state, fold, phase)
    kept.epoch_folder(folder, epoch).mkdir(parents=True)
    (kept.epoch_folder(folder, epoch) / "model.safetensors").write_bytes(b"x" * 3 * 2**20)
    if progress:
        kept.progress_file(folder).write_bytes(b"p")


def test_what_an_interrupt_leaves_is_said_with_how_to_resume_and_discard(tmp_path):
    state = tmp_path / ".finetune_state"
    _epoch(state, 0, "choose", 3)
    _epoch(state, 0, "refit", 1)
    _epoch(state, 1, "choose", 2, progress=False)  # its first epoch's save did not finish
    assert kept.summary(state) == (
        f"{state}/ keeps fold 0 (choose) after epoch 3, fold 0 (refit) after epoch 1 (9 MiB); "
        f"`dvc repro` (or `dvc exp run`) with the same params resumes from there; "
        f"`rm -rf {state}` discards it")


def test_nothing_finished_is_nothing_kept(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    assert kept.summary(state).startswith(f"no epoch had finished, so {state}/ keeps nothing")
    assert "starts the stage again" in kept.summary(tmp_path / "never-made")
