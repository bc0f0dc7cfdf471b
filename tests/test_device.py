"""Where the networks run: Accelerate's choice, or the one the `device` param forces."""

import pytest
import torch

from msa import device, precision
from msa.errors import MsaError


@pytest.fixture
def a_gpu(monkeypatch):
    """Accelerate reports a GPU (the probe monkeypatched: no GPU is needed to test the choice)."""
    monkeypatch.setattr(device, "_accelerate_device", lambda: torch.device("cuda", 0))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "NVIDIA H200")


def test_auto_takes_the_gpu_accelerate_reports_and_its_precision(a_gpu):
    where = device.resolve("auto")
    assert where == torch.device("cuda", 0)
    assert precision.resolve("auto", where) == "bf16"
    assert precision.provenance("bf16", where).to_json() == {
        "precision": "bf16", "device": "cuda", "gpu": "NVIDIA H200",
        "threads": torch.get_num_threads()}


def test_a_gpu_without_bf16_runs_fp32_under_auto(a_gpu, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert precision.resolve("auto", device.resolve("auto")) == "fp32"


def test_cpu_forces_the_cpu_even_beside_a_gpu(a_gpu, monkeypatch):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    where = device.resolve("cpu")
    assert where == torch.device("cpu")
    assert precision.resolve("auto", where) == "fp32"  # the CPU's own answer, not the GPU's
    record = precision.provenance("fp32", where)
    assert "device" not in record.to_json() and record.cpu_capability  # as every CPU run records


def test_without_a_gpu_auto_is_the_cpu_and_gpu_is_one_line():
    if torch.cuda.is_available():
        pytest.skip("a GPU is here")
    assert device.resolve("auto") == torch.device("cpu")
    with pytest.raises(MsaError, match="^device: gpu, and torch sees none here"):
        device.resolve("gpu")
