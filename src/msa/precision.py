"""Which float precision the networks run in, chosen by what the device does natively.

bf16 autocast is 2-3x faster than fp32 on CPUs with AVX-512 BF16 or AMX, and 7-22x slower on
CPUs without them, where torch emulates it. `auto` asks oneDNN (through torch) whether bf16 is
native here, or on a GPU whether it supports bf16. Every output that these numbers feed records
`provenance()`, so an experiment says what produced it even where its params alone do not.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import torch

SETTINGS = ("auto", "bf16", "fp32")


def native_bf16() -> bool:
    """True where oneDNN runs bf16 in hardware (AVX-512 BF16, AMX), not by emulation."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def cpu_capability() -> str:
    """The instruction set torch dispatches its CPU kernels to (AVX2, AVX512, ...)."""
    return torch.backends.cpu.get_cpu_capability()


def resolve(setting: str, device: torch.device | None = None) -> str:
    """`bf16` or `fp32`: what `auto` means on this machine's `device` (default the CPU), or the
    forced choice."""
    if setting == "auto":
        on_gpu = device is not None and device.type == "cuda"
        return "bf16" if (torch.cuda.is_bf16_supported() if on_gpu else native_bf16()) else "fp32"
    if setting not in SETTINGS:
        raise ValueError(f"precision {setting!r} is not one of {SETTINGS}")
    return setting


def autocast(precision: str, device: torch.device | None = None):
    """The context every autocast region runs in: bf16 autocast, or plain fp32."""
    if precision == "bf16":
        return torch.autocast(device.type if device is not None else "cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass(frozen=True)
class Provenance:
    """What produced a result beyond its params: the precision that ran, on what CPU or which
    GPU, with how many threads; and what a run adds (finetune: the regime, world size and mixed
    precision; featurize: the encoders' hub revisions, the tokens a capped text encoder reads,
    the processes that shared the work). Its JSON is the `produced_by` of the feature cache and
    of training.json, written and read here."""

    precision: str
    threads: int
    cpu_capability: str | None = None
    native_bf16: bool | None = None
    device: str | None = None
    gpu: str | None = None
    regime: str | None = None
    world_size: int | None = None
    mixed_precision: str | None = None
    revisions: dict | None = None
    text_tokens_read: int | None = None
    processes: int | None = None

    # the keys in the order the records have always had them
    ORDER: ClassVar[tuple[str, ...]] = (
        "regime", "world_size", "mixed_precision", "precision", "device", "gpu",
        "cpu_capability", "native_bf16", "threads", "revisions", "text_tokens_read",
        "processes")

    def to_json(self) -> dict:
        return {key: getattr(self, key) for key in self.ORDER if getattr(self, key) is not None}

    @classmethod
    def from_json(cls, record: dict) -> Provenance:
        return cls(**record)

    def replace(self, **changes) -> Provenance:
        return dataclasses.replace(self, **changes)


def provenance(precision: str, device: torch.device | None = None) -> Provenance:
    """The precision that ran, and on what CPU, or on which GPU."""
    if device is not None and device.type != "cpu":
        return Provenance(precision, torch.get_num_threads(), device=device.type,
                          gpu=torch.cuda.get_device_name(device) if device.type == "cuda"
                          else "")
    return Provenance(precision, torch.get_num_threads(), cpu_capability=cpu_capability(),
                      native_bf16=native_bf16())
