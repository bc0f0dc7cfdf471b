"""Where the networks run (featurize, train, predict, `msa predict`): the device Hugging Face
Accelerate chooses (a GPU where torch sees one, else the CPU), or the one the `device` param
forces: `cpu` for a run that must match a CPU's figures, `gpu` to refuse running without one."""

from __future__ import annotations

import torch

from msa.errors import MsaError

SETTINGS = ("auto", "cpu", "gpu")


def accelerate_state():
    """Accelerate's state of this process. The processes of a launch on the CPU (msa.launch
    sets ACCELERATE_USE_CPU there, as `accelerate launch` does) form one gloo group."""
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    return PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))


def _accelerate_device() -> torch.device:
    """Accelerate's own choice for this process (a launched process gets its local GPU)."""
    return accelerate_state().device


def resolve(setting: str) -> torch.device:
    if setting == "cpu":
        return torch.device("cpu")
    device = _accelerate_device()
    if setting == "gpu" and device.type == "cpu":
        raise MsaError("device: gpu, and torch sees none here; use device: auto or cpu")
    return device
