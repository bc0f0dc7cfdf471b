import pytest
import torch

from msa.features import backbones
from msa.errors import MsaError


def test_packaged_efficientnet_gives_pooled_imagenet_features():
    model, spec = backbones.build_image_encoder("efficientnet_lite0")
    assert (spec.input_size, spec.dim, spec.mean) == (224, 1280, (0.5, 0.5, 0.5))
    with torch.inference_mode():
        out = model(torch.zeros(2, 3, 224, 224))
    assert out.shape == (2, 1280)
    # Pretrained weights, not a fresh init: the stem's BatchNorm statistics were learnt.
    assert not torch.allclose(model.bn1.running_var, torch.ones_like(model.bn1.running_var))


def test_resnet50_without_fc_from_a_weights_file(tmp_path):
    model, spec = backbones.build_image_encoder("resnet50", "random")
    assert spec.dim == 2048
    with torch.inference_mode():
        assert model(torch.zeros(1, 3, 224, 224)).shape == (1, 2048)
    from torchvision.models import resnet50

    path = tmp_path / "resnet50.pth"
    torch.save(resnet50(weights=None).state_dict(), path)
    loaded, _ = backbones.build_image_encoder("resnet50", str(path))
    assert isinstance(loaded.fc, torch.nn.Identity)


@pytest.mark.parametrize("name, weights, message", [
    ("resnet50", "", "resnet50 needs a local weights file"),
    ("resnet50", "/no/such/file.pth", "file not found"),
    ("vgg99", "", "featurize.image_model: 'vgg99' is not known"),
    ("mobilenetv3_small_050", "", "mobilenetv3_small_050 needs a local weights file"),
])
def test_image_encoder_errors(name, weights, message):
    with pytest.raises(MsaError, match=message):
        backbones.build_image_encoder(name, weights)


def test_a_timm_architecture_builds_untrained_or_from_a_weights_file(tmp_path):
    model, spec = backbones.build_image_encoder("mobilenetv3_small_050", "random")
    with torch.inference_mode():
        # The spec's width is what the pooled output holds (here a head conv after the pooling).
        assert model(torch.zeros(1, 3, spec.input_size, spec.input_size)).shape == (1, spec.dim)
    path = tmp_path / "weights.pth"
    torch.manual_seed(1)
    import timm

    source = timm.create_model("mobilenetv3_small_050", pretrained=False)  # with a classifier
    torch.save(source.state_dict(), path)
    loaded, _ = backbones.build_image_encoder("mobilenetv3_small_050", str(path))
    torch.testing.assert_close(loaded.conv_stem.weight, source.conv_stem.weight)


@pytest.mark.parametrize("name, weights", [("efficientnet_lite0", ""), ("resnet50", "random")])
def test_folded_batch_norms_give_the_same_features(name, weights):
    model, spec = backbones.build_image_encoder(name, weights)
    folded = backbones.fold_batch_norms(model, spec.input_size)
    assert folded is not model
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # left as it was
    images = torch.rand(2, 3, spec.input_size, spec.input_size) * 2 - 1
    with torch.inference_mode():
        expected, got = model(images), folded(images)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))


def test_folding_leaves_a_model_it_cannot_fold_exactly_unchanged():
    # A BatchNorm registered after a conv that does not feed it: folding would change the output.
    class Crossed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 3, 1)
            self.norm = torch.nn.BatchNorm2d(3)

        def forward(self, x):
            return self.conv(self.norm(x))

    model = Crossed().eval()
    model.norm.running_mean.fill_(0.5)
    model.norm.running_var.fill_(4.0)
    assert backbones.fold_batch_norms(model, 8) is model


@pytest.mark.parametrize("name", ["mobilenetv3_small_050", "resnet50"])
def test_pretrained_weights_offline_are_one_line_naming_the_local_file_remedy(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if name == "resnet50":  # torchvision's weights come from its own site: as if unreachable
        import urllib.error

        import torchvision.models._api as torchvision_weights

        def unreachable(*args, **kwargs):
            raise urllib.error.URLError("no network")

        monkeypatch.setattr(torchvision_weights, "load_state_dict_from_url", unreachable)
    with pytest.raises(MsaError, match=rf"^featurize.image_weights: pretrained weights for "
                                       rf"{name} are not in the local cache .*pass a local "
                                       r"state_dict file instead$") as error:
        backbones.build_image_encoder(name, "pretrained")
    assert "\n" not in str(error.value)


def test_timm_towers_come_with_timms_data_config_squash_included():
    """A timm CLIP or SigLIP tower (image_weights: pretrained where the hub is reachable) reads
    as timm's pretrained config says: here its mean, crop and a squashing crop mode."""
    model, spec = backbones.build_image_encoder("mobilenetv3_small_050", "random")
    assert not spec.squash
    model.pretrained_cfg = {**model.pretrained_cfg, "crop_mode": "squash", "crop_pct": 1.0,
                            "mean": (0.48145466, 0.4578275, 0.40821073)}
    spec = backbones._timm_spec(model)
    assert spec.squash and spec.crop_pct == 1.0 and spec.mean[0] == 0.48145466
