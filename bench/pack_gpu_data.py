"""Pack CIFAR-10-LT (ratio 100, subset seed 0) and the CIFAR-10 test set as JPEG files into one
tar.gz for a GPU machine (only the checkout travels there, at most 64 MiB): about 7 MiB.

    python bench/pack_gpu_data.py [--data-root ../shared/data/cifar10-jpeg] [--out .gpu_data/cifar10_lt100.tar.gz]

The tar holds an ImageFolder tree (train/<class>/..., test/<class>/...) whose train part is the
long-tailed subset itself, so ``build_long_tailed("imagefolder", None, root=...)`` reads it back
with the same counts. Each training file is renamed ``<rank>_<name>`` (rank: its place in the
subset) so that the folder's sorted order is the subset's order: decoded, the tree gives the very
training tensor, labels, normalisation statistics and test tensor that
``build_long_tailed("imagefolder", 100, root=<data root>)`` gives here, and a seeded run trains on
the same batches. ``manifest.json`` at the tar's root holds that data's name, spec and subset
fingerprint and SHA-256 hashes of the decoded tensors; ``bench/gpu_check.py`` compares them
before it lets its records name the original data (:func:`read_packed`).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from fbcd_lab.data import build_long_tailed
from fbcd_lab.data.long_tail import SubsetFingerprint
from fbcd_lab.data.sources import cifar10_jpeg_root

ROOT = Path(__file__).resolve().parents[1]
FORMAT = "fbcd_lab packed long-tailed image folder, version 2"


def tensor_sha256(values: torch.Tensor | np.ndarray) -> str:
    """SHA-256 of a tensor's or array's bytes (contiguous, as stored)."""
    array = values.numpy() if isinstance(values, torch.Tensor) else values
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def data_digest(data) -> dict:
    """What must agree for two builds to be the same data: decoded pixels, labels, counts, classes and
    normalisation (in-memory sets only)."""
    return {"train_images": tensor_sha256(data.train.images), "train_labels": tensor_sha256(data.train.labels),
            "test_images": tensor_sha256(data.test.images), "test_labels": tensor_sha256(data.test.labels),
            "counts": list(data.counts), "classes": list(data.classes), "mean": list(data.augment.mean),
            "std": list(data.augment.std), "crop_padding": data.augment.crop_padding, "hflip": data.augment.hflip,
            "image_size": data.image_size, "in_channels": data.in_channels}


def read_packed(tar_path: Path, folder: Path) -> tuple:
    """Unpack ``tar_path`` into ``folder`` and build its data. Returns (data, provenance): when the
    decoded tensors match the manifest, ``data`` carries the original name, spec, ratio and subset
    fingerprint (``provenance["identical"]`` True); otherwise the packed folder as it reads (a
    ``natural`` image folder) and what differed."""
    with tarfile.open(tar_path) as tar:
        tar.extractall(folder, filter="data")
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    root = folder / manifest["name"] if manifest else folder  # an old pack: train/ and test/ at the top
    data = build_long_tailed("imagefolder", None, root=root)
    provenance = {"tar": tar_path.name, "tar_sha256": hashlib.sha256(tar_path.read_bytes()).hexdigest(),
                  "format": manifest and manifest["format"]}
    if manifest is None:
        return data, {**provenance, "identical": False, "differs": ["no manifest.json (old pack)"]}
    digest = data_digest(data)
    differs = [k for k, v in manifest["digest"].items() if digest.get(k) != v]
    provenance.update(identical=not differs, differs=differs, original_spec=manifest["spec"],
                      original_fingerprint=manifest["fingerprint"]["indices_sha256"])
    if differs:
        return data, provenance
    fingerprint = SubsetFingerprint(**{**manifest["fingerprint"], "counts": tuple(manifest["fingerprint"]["counts"])})
    return replace(data, name=manifest["name"], spec=manifest["spec"], fingerprint=fingerprint,
                   imbalance_ratio=manifest["imbalance_ratio"], profile=manifest["profile"]), provenance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=cifar10_jpeg_root())
    parser.add_argument("--imbalance-ratio", type=float, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / ".gpu_data" / "cifar10_lt100.tar.gz")
    args = parser.parse_args()
    start = time.perf_counter()
    files = build_long_tailed("imagefolder", args.imbalance_ratio, root=args.data_root, in_memory=False,
                              check_files=False)
    data = build_long_tailed("imagefolder", args.imbalance_ratio, root=args.data_root)  # decoded, as training sees it
    if list(files.counts) != list(data.counts) or not np.array_equal(files.train.labels, data.train.labels):
        raise SystemExit("the file listing and the decoded build disagree; nothing written")
    name = data.name
    manifest = {"format": FORMAT, "name": name, "spec": data.spec, "imbalance_ratio": data.imbalance_ratio,
                "profile": data.profile, "fingerprint": data.fingerprint.to_dict(), "digest": data_digest(data),
                "made": time.strftime("%Y-%m-%d %H:%M:%S"), "pillow_decoded_here": True}
    width = len(str(len(files.train)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=args.out.parent, suffix=".tmp", delete=False) as tmp:
        with tarfile.open(fileobj=tmp, mode="w:gz") as tar:
            for rank, path in enumerate(files.train.paths):
                p = Path(path)
                tar.add(p, arcname=f"{name}/train/{p.parent.name}/{rank:0{width}d}_{p.name}")
            for path in files.test.paths:
                p = Path(path)
                tar.add(p, arcname=f"{name}/test/{p.parent.name}/{p.name}")
            text = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mtime = len(text), int(time.time())
            tar.addfile(info, io.BytesIO(text))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp.name, 0o666 & ~umask)  # a temporary file is created 0600
    Path(tmp.name).replace(args.out)
    with tempfile.TemporaryDirectory() as check_dir:  # read it back as the GPU machine will
        back, provenance = read_packed(args.out, Path(check_dir))
    if not provenance["identical"]:
        raise SystemExit(f"{args.out} does not read back as the same data ({provenance['differs']}); do not use it")
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB, sha256 {provenance['tar_sha256'][:16]}) "
          f"in {time.perf_counter() - start:.0f} s: {name}, counts {list(data.counts)}, {len(data.test)} test images, "
          f"subset fingerprint {data.fingerprint.indices_sha256[:12]}; read back identical")


if __name__ == "__main__":
    main()
