"""Pack CIFAR-10-LT (ratio 100, seed 0) and the CIFAR-10 test set as JPEG files into one tar.gz
for a GPU machine (only the checkout travels there, at most 64 MiB): about 7 MiB.

    python bench/pack_gpu_data.py [--data-root ../shared/data/cifar10-jpeg] [--out .gpu_data/cifar10_lt100.tar.gz]

The tar holds an ImageFolder tree (train/<class>/..., test/<class>/...) whose train part is the
long-tailed subset itself, so ``build_long_tailed("imagefolder", None, root=...)`` reads it back
with the same counts.
"""

import argparse
import tarfile
from pathlib import Path

from fbcd_lab.data import build_long_tailed

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data" / "cifar10-jpeg")
    parser.add_argument("--imbalance-ratio", type=float, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / ".gpu_data" / "cifar10_lt100.tar.gz")
    args = parser.parse_args()
    data = build_long_tailed("imagefolder", args.imbalance_ratio, root=args.data_root, in_memory=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(args.out, "w:gz") as tar:
        for split, images in (("train", data.train), ("test", data.test)):
            for path in images.paths:
                p = Path(path)
                tar.add(p, arcname=f"{split}/{p.parent.name}/{p.name}")
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB): counts {list(data.counts)}, "
          f"{len(data.test)} test images, fingerprint {data.fingerprint.indices_sha256[:12]}")


if __name__ == "__main__":
    main()
