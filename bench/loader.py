"""Images/s of the streaming loader alone (decode + RandomResizedCrop 224 + flip + normalise) with
0, 1 and 2 DataLoader workers, on 384 generated photo-like 500x375 JPEGs (written once to FOLDER).

    python bench/loader.py [FOLDER]      # default /tmp/fbcd_loader_jpegs; THREADS=1 sets torch's threads
"""
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fbcd_lab.data import AugmentSpec, FileImages, iterate_batches
from fbcd_lab.data.sources import IMAGENET_MEAN, IMAGENET_STD

N, BATCH, REPEATS = 384, 64, 3
torch.set_num_threads(int(os.environ.get("THREADS", torch.get_num_threads())))
folder = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/fbcd_loader_jpegs")
if not folder.is_dir():
    folder.mkdir(parents=True)
    rng = np.random.RandomState(0)
    yy, xx = np.mgrid[0:375, 0:500]
    for i in range(N):  # smooth colour gradients and blobs plus mild noise: photo-like JPEG sizes
        f = rng.uniform(0.005, 0.03, 3)
        base = np.stack([127 + 100 * np.sin(f[c] * xx + f[(c + 1) % 3] * yy + rng.uniform(0, 6)) for c in range(3)], -1)
        noise = rng.normal(0, 12, base.shape)
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(folder / f"{i:04d}.jpg", quality=90)
paths = tuple(sorted(str(p) for p in folder.glob("*.jpg")))
sizes = [Path(p).stat().st_size for p in paths]
print(f"{len(paths)} JPEGs 500x375, mean {statistics.mean(sizes) / 1024:.0f} KiB; torch threads {torch.get_num_threads()}")
images = FileImages(paths, np.zeros(len(paths), dtype=np.int64))
spec = AugmentSpec(IMAGENET_MEAN, IMAGENET_STD, crop_padding=0, hflip=True)
for workers in (0, 1, 2):
    rates = []
    for r in range(REPEATS):
        start = time.perf_counter()
        n = sum(len(y) for _, y, _ in iterate_batches(images, BATCH, spec, train=True, image_size=224,
                                                     generator=torch.Generator().manual_seed(r), num_workers=workers))
        rates.append(n / (time.perf_counter() - start))
    print(f"workers {workers}: {statistics.median(rates):6.1f} images/s (median of {REPEATS} epochs of {n}: "
          f"{', '.join(f'{x:.1f}' for x in rates)})")
