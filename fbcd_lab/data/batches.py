"""One way to iterate over any image set in batches of (inputs, labels, sample indices).

In-memory sets are indexed, augmented and normalised on the target device; file sets stream
through a DataLoader with torchvision transforms. The sample indices let a trainer look up
per-sample data such as each image's cluster.

With ``shard=(rank, processes)`` (distributed training) every process draws the same epoch order
and augmentation from the same generator and yields only its part of each global batch
(:func:`shard_slice`): for in-memory sets the parts of all processes together are exactly the
batch one process gets. Streamed sets take their part of the same kind of seeded order, each
process decoding and augmenting only its own images (their random crops differ from one
process's).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler, default_collate

from fbcd_lab.checks import check

from fbcd_lab.data.augment import AugmentSpec, apply_augmentation, draw_augmentation, normalize, stream_transform
from fbcd_lab.data.images import BadImageFile, FileImages, ImageSet, TensorImages, read_rgb
from fbcd_lab.runtime import cpu_threads

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def iterate_batches(
    images: ImageSet,
    batch_size: int,
    spec: AugmentSpec,
    *,
    train: bool,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    image_size: int | None = None,
    num_workers: int = 0,
    drop_last: bool = False,
    class_draws: np.ndarray | None = None,
    shard: tuple[int, int] | None = None,
) -> Iterator[Batch]:
    """Yield (float inputs, int64 labels, int64 sample indices); inputs and labels on ``device``,
    indices on ``device`` for in-memory sets and on the CPU for streamed ones.

    ``train`` shuffles and augments; otherwise the order is kept and images are only normalised.
    ``class_draws`` (with ``train``), per-class weights, draws the epoch's len(images) samples with
    replacement, each with its class's weight (:func:`fbcd_lab.balancing.draw_weights`: 1 / n_c makes
    every class equally likely, class-balanced re-sampling). Pass in-memory sets already moved with
    ``TensorImages.to(device)`` to avoid a copy per epoch.

    ``shard=(rank, processes)``: yield only this process's part (:func:`shard_slice`) of every
    ``batch_size`` batch (the global batch); a part may be empty when a last batch has fewer
    images than processes. The generator is drawn from alike on every process.
    """
    batch_size = check("batch_size", batch_size)
    if shard is not None and not (len(shard) == 2 and 0 <= shard[0] < shard[1]):
        raise ValueError(f"shard must be (rank, processes) with 0 <= rank < processes, got {shard!r}")
    if isinstance(images, TensorImages):
        yield from _tensor_batches(images, batch_size, spec, train, generator, torch.device(device), drop_last,
                                   class_draws, shard)
    else:
        if image_size is None:
            raise ValueError("image_size is required to stream a FileImages set")
        if shard is not None:
            yield from _stream_shards(images, batch_size, spec, train, generator, torch.device(device),
                                      image_size, num_workers, drop_last, class_draws, shard)
            return
        yield from _stream_batches(images, batch_size, spec, train, generator, torch.device(device),
                                   image_size, num_workers, drop_last, class_draws)


def shard_slice(batch: int, rank: int, processes: int) -> slice:
    """Process ``rank``'s part of a global batch of ``batch`` samples split over ``processes``:
    contiguous near-equal parts, the first ``batch % processes`` one sample larger."""
    base, extra = divmod(batch, processes)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (rank < extra))


def sample_weights(labels: np.ndarray, class_draws: np.ndarray) -> torch.Tensor:
    """Each sample's draw weight: its class's weight in ``class_draws`` (float64)."""
    return torch.from_numpy(np.asarray(class_draws, dtype=np.float64)[labels])


def _epoch_order(n: int, labels: np.ndarray, train: bool, class_draws: np.ndarray | None,
                 generator: torch.Generator) -> torch.Tensor:
    if not train:
        return torch.arange(n)
    if class_draws is not None:
        return torch.multinomial(sample_weights(labels, class_draws), n, replacement=True, generator=generator)
    return torch.randperm(n, generator=generator)


def _tensor_batches(images: TensorImages, batch_size: int, spec: AugmentSpec, train: bool,
                    generator: torch.Generator, device: torch.device, drop_last: bool,
                    class_draws: np.ndarray | None, shard: tuple[int, int] | None = None) -> Iterator[Batch]:
    # The epoch's order and augmentation are drawn on the CPU and copied once: a host-to-device
    # copy per step would stall the GPU's queue on every step.
    n = len(images)
    order = _epoch_order(n, images.labels, train, class_draws, generator).to(device)
    draws = draw_augmentation(n, spec, generator).to(device) if train else None
    data = images.images.to(device)
    labels = torch.from_numpy(images.labels).to(device)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if shard is not None:  # this process's part of the global batch, and its draws
            part = shard_slice(min(batch_size, stop - start), *shard)
            start, end = start + part.start, start + part.stop
        else:
            end = start + batch_size
        idx = order[start:end]
        x = data[idx]
        if train:
            x = apply_augmentation(x, spec, draws[:, start:end])
        yield normalize(x, spec), labels[idx], idx


class _FileDataset(Dataset):
    # A bad file's BadImageFile is returned, not raised, and _stream_batches raises it: raised in
    # a DataLoader worker, it would come back with the worker's whole traceback in its message,
    # and the failed loader would take seconds to shut its workers down.
    def __init__(self, images: FileImages, transform) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        try:
            image = read_rgb(self.images.paths[i])
        except BadImageFile as err:
            return err
        return self.transform(image), int(self.images.labels[i]), i


def _collate(items: list):
    bad = next((item for item in items if isinstance(item, BadImageFile)), None)
    return default_collate(items) if bad is None else bad


def _stream_batches(images: FileImages, batch_size: int, spec: AugmentSpec, train: bool,
                    generator: torch.Generator, device: torch.device, image_size: int,
                    num_workers: int, drop_last: bool, class_draws: np.ndarray | None) -> Iterator[Batch]:
    sampler = (WeightedRandomSampler(sample_weights(images.labels, class_draws), len(images), generator=generator)
               if train and class_draws is not None else None)
    loader = DataLoader(
        _FileDataset(images, stream_transform(spec, image_size, train)), batch_size=batch_size,
        shuffle=train and sampler is None, sampler=sampler, generator=generator, num_workers=num_workers,
        drop_last=drop_last,
        pin_memory=device.type == "cuda", persistent_workers=False, collate_fn=_collate,
    )
    for batch in _seeded(loader, generator) if num_workers == 0 else loader:
        if isinstance(batch, BadImageFile):
            raise batch
        x, y, idx = batch
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True), idx


def _seeded(loader: DataLoader, generator: torch.Generator) -> Iterator:
    """The loader's batches with its transforms' random draws taken from ``generator``.

    Without worker processes torchvision's random transforms draw from the global RNG, which a
    resumed run does not restore; here they draw from a private stream seeded by ``generator``
    (saved in every checkpoint), and the global RNG is left as it was. They run on one thread:
    per-image transforms on PyTorch's two threads were 6-10x slower (BENCHMARKS.md)."""
    state = torch.Generator().manual_seed(int(torch.randint(2**62, (1,), generator=generator))).get_state()
    batches = iter(loader)
    while True:
        with torch.random.fork_rng(devices=[]), cpu_threads(1):
            torch.set_rng_state(state)
            batch = next(batches, None)
            state = torch.get_rng_state()
        if batch is None:
            return
        yield batch


def _stream_shards(images: FileImages, batch_size: int, spec: AugmentSpec, train: bool,
                   generator: torch.Generator, device: torch.device, image_size: int, num_workers: int,
                   drop_last: bool, class_draws: np.ndarray | None, shard: tuple[int, int]) -> Iterator[Batch]:
    """A streamed set's part for process ``shard[0]`` of every global batch. The epoch order (a
    seeded shuffle, or a class-balanced draw) and one seed come from ``generator`` alike on every
    process; each process's crops and flips come from that seed and its rank, so no two processes
    augment alike. A part left empty (a last batch smaller than the process count) is yielded as
    empty tensors, so that every process takes every step."""
    rank, processes = shard
    n = len(images)
    order = _epoch_order(n, images.labels, train, class_draws, generator)
    stop = n - n % batch_size if drop_last else n
    parts = [order[start:start + batch_size][shard_slice(min(batch_size, stop - start), rank, processes)].tolist()
             for start in range(0, stop, batch_size)]
    seed = int(torch.randint(2**62, (1,), generator=generator))
    own = torch.Generator().manual_seed(seed + rank)
    loader = DataLoader(
        _FileDataset(images, stream_transform(spec, image_size, train)), batch_sampler=[p for p in parts if p],
        generator=own, num_workers=num_workers, pin_memory=device.type == "cuda", persistent_workers=False,
        collate_fn=_collate,
    )
    batches = _seeded(loader, own) if num_workers == 0 else iter(loader)
    for part in parts:
        if not part:
            yield (torch.zeros(0, len(spec.mean), image_size, image_size, device=device),
                   torch.zeros(0, dtype=torch.int64, device=device), torch.zeros(0, dtype=torch.int64))
            continue
        batch = next(batches)
        if isinstance(batch, BadImageFile):
            raise batch
        x, y, idx = batch
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True), idx
    next(batches, None)  # let the loader finish (and its workers end)
