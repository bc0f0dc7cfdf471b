"""Which float precision the networks run in, chosen by what the device does natively.

bf16 autocast is 2-3x faster than fp32 on CPUs with AVX-512 BF16 or AMX, and 7-22x slower on
CPUs without them, where torch emulates it. `auto` asks oneDNN (through torch) whether bf16 is
native here, or on a GPU whether it supports bf16. Every output that these numbers feed records
`provenance()`, so an experiment says what produced it even where its params alone do not.
"""

from __future__ import annotations

import contextlib

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


def provenance(precision: str, device: torch.device | None = None) -> dict:
    """What produced a result beyond its params: the precision that ran, and on what CPU, or
    on which GPU."""
    if device is not None and device.type != "cpu":
        return {"precision": precision, "device": device.type,
                "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else "",
                "threads": torch.get_num_threads()}
    return {"precision": precision, "cpu_capability": cpu_capability(),
            "native_bf16": native_bf16(), "threads": torch.get_num_threads()}
