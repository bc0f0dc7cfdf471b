import pytest
import torch

from msa import params, precision


@pytest.mark.parametrize("native, expected", [(False, "fp32"), (True, "bf16")])
def test_auto_uses_bf16_only_where_the_cpu_runs_it_natively(monkeypatch, native, expected):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: native)
    assert precision.native_bf16() is native
    assert precision.resolve("auto") == expected
    assert precision.provenance(precision.resolve("auto")).native_bf16 is native


@pytest.mark.parametrize("native", [False, True])
def test_forced_settings_hold_whatever_the_cpu(monkeypatch, native):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: native)
    assert precision.resolve("bf16") == "bf16" and precision.resolve("fp32") == "fp32"


def test_autocast_runs_matmuls_in_the_resolved_precision():
    a = torch.randn(4, 4)
    with precision.autocast("bf16"):
        assert (a @ a).dtype == torch.bfloat16
    with precision.autocast("fp32"):
        assert (a @ a).dtype == torch.float32


def test_provenance_names_the_precision_and_the_cpu():
    record = precision.provenance("fp32").to_json()
    assert record["precision"] == "fp32"
    assert record["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert record["threads"] == torch.get_num_threads()
    assert list(record) == ["precision", "cpu_capability", "native_bf16", "threads"]
    assert precision.Provenance.from_json(record) == precision.provenance("fp32")


def test_the_param_defaults_to_auto_and_refuses_other_values():
    assert params.Params().precision == "auto"
    with pytest.raises(params.ParamsError, match="precision: 'fp16' is not allowed; use one of "
                                                 "auto, bf16, fp32"):
        params.from_dict({"precision": "fp16"})
