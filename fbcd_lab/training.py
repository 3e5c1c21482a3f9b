"""One trainer for CE, FBH, CDH and FBH + CDH on any long-tailed dataset, on CUDA or the CPU.

``start_run`` builds the class division, model and optimiser; ``fit`` trains the remaining epochs;
``train`` does both. bf16 autocast and channels-last where they pay (see ``runtime``); on the CPU
the same seed gives the same numbers. A ``should_stop`` flag or a KeyboardInterrupt (a Jupyter
kernel interrupt) stops between steps and keeps what was trained, marked as stopped.

Launched by torchrun (see :mod:`fbcd_lab.distributed`), ``fit`` trains with DistributedDataParallel:
the batch size is the global batch, each process takes its part of every global batch of the
shared seeded order, scales its loss so that DDP's gradient average is the global batch's, and
only the main process writes checkpoints. In one process nothing of this runs.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from tqdm.auto import tqdm

from fbcd_lab import distributed, run_cache
from fbcd_lab.balancing import Balancing, make_balancing, switch_epoch
from fbcd_lab.checkpoints import save_checkpoint
from fbcd_lab.checks import check
from fbcd_lab.class_division import (
    ClassDivision, check_u, divide_classes, identity_division, pixel_features, soft_label_matrix,
)
from fbcd_lab.config import MethodConfig, OptimConfig
from fbcd_lab.data.batches import iterate_batches, shard_slice
from fbcd_lab.data.datasets import LongTailData
from fbcd_lab.data.mixup import Mixing, draw_mixing
from fbcd_lab.data.images import FileImages, TensorImages
from fbcd_lab.evaluation import mean_recall
from fbcd_lab.losses import LOSSES, LossFn, TermScales, fbcd_loss
from fbcd_lab.losses.two_head import main_head_sample_weights
from fbcd_lab.models.two_head import TwoHeadModel
from fbcd_lab.run import Run, model_and_optimizer
from fbcd_lab.runtime import (
    cpu_threads, cpu_threads_for, deterministic_mode, resolve_device, resolve_precision, step_flops,
)

EpochCallback = Callable[[dict], None]


class _StopRequested(Exception):
    """Raised inside the loop when ``should_stop`` says so."""


def make_division(data: LongTailData, method: MethodConfig, seed: int) -> ClassDivision:
    """The class division the main head trains on: identity without CDH, Eq. 3 clusters with it.

    k-means and hierarchical division cluster a PCA of the raw training pixels.
    """
    labels = data.train.labels
    check_division(data, method)
    if not method.uses_cdh or method.u == 1:
        return identity_division(labels, data.num_classes)
    features = None
    if method.cluster != "random":
        pixels = data.train.images.numpy()
        features = pixel_features(pixels, min(method.cluster_pca, len(pixels), pixels[0].size), seed)
    return divide_classes(labels, data.num_classes, method.u, method.cluster, features, seed)


def check_division(data: LongTailData, method: MethodConfig) -> None:
    """Refuse a class division that ``data`` cannot hold: u above its largest class's images
    (:func:`~fbcd_lab.class_division.check_u`), k-means or hierarchical division of images not held in
    memory. :func:`make_division` calls it; ``train`` and ``study`` call it before making any folder."""
    if not method.uses_cdh or method.u == 1:
        return
    check_u(method.u, data.counts)
    if method.cluster != "random" and not isinstance(data.train, TensorImages):
        raise ValueError(f"cluster {method.cluster!r} needs in-memory images; use cluster='random'")


def start_run(
    data: LongTailData, method: MethodConfig, optim: OptimConfig, *, seed: int = 0,
    device: str | torch.device = "auto", precision: str = "auto", deterministic: bool = False,
) -> Run:
    """Seed everything, divide the classes and build the model and optimiser (no training yet).

    ``seed`` is the training seed (initialisation, division, batch order, augmentation); the
    long-tailed subset has its own seed, chosen when ``data`` was built. In distributed training
    the division is made by the main process only and sent to the others (k-means runs once)."""
    seed = check("seed", seed)
    switch = switch_epoch(method.balancing, optim, method.deferred_epoch)
    if switch is not None and switch >= optim.epochs:
        raise ValueError(f"deferred_epoch {method.deferred_epoch} must be below epochs ({optim.epochs}) for "
                         f"balancing {method.balancing!r}: the epoch (from 0) at which it switches on")
    dev = resolve_device(device)
    run_precision = resolve_precision(precision, dev)
    torch.manual_seed(seed)
    division = distributed.from_main(lambda: make_division(data, method, seed))
    with cpu_threads(1) if dev.type == "cpu" else contextlib.nullcontext():  # one forward of two blank images
        model, optimizer = model_and_optimizer(data, method, optim, division, dev)
    return Run(method, optim, seed, dev, run_precision, model, division, optimizer,
               torch.Generator().manual_seed(seed), deterministic=deterministic)


def train(
    data: LongTailData, method: MethodConfig, optim: OptimConfig, *, seed: int = 0,
    device: str | torch.device = "auto", precision: str = "auto", **fit_options,
) -> Run:
    """``start_run`` then ``fit``: train ``method`` on ``data`` for ``optim.epochs`` epochs.

    A run of the same settings finished before comes from the run cache instead (:mod:`fbcd_lab.run_cache`:
    the same weights, history and random state; not with callbacks, ``should_stop`` or ``checkpoint``)."""
    dev = resolve_device(device)
    key, run = run_cache.lookup(data, method, optim, seed, dev, resolve_precision(precision, dev), fit_options)
    if run is None:
        run = fit(start_run(data, method, optim, seed=seed, device=dev, precision=precision), data, **fit_options)
        if key is not None:
            run_cache.store(key, run, data)
    return run


def run_threads(run: Run) -> contextlib.AbstractContextManager:
    """A block on the CPU threads ``run`` trained with (none set: as they are): evaluating a small
    model on a second thread costs more than it gains on a busy machine, as training does."""
    return cpu_threads(run.threads) if run.device.type == "cpu" and run.threads else contextlib.nullcontext()


def train_seeds(data: LongTailData, methods: Sequence[MethodConfig], optim: OptimConfig, seeds: Sequence[int],
                **train_options) -> dict[str, list[Run]]:
    """:func:`train` each method once per training seed on the same data: the runs by method name,
    in ``seeds`` order (the paired runs that compare heads seed by seed)."""
    return {method.method: [train(data, method, optim, seed=seed, **train_options) for seed in seeds]
            for method in methods}


def fit(
    run: Run,
    data: LongTailData,
    *,
    eval_every: int = 0,
    callbacks: Sequence[EpochCallback] = (),
    should_stop: Callable[[], bool] | None = None,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    num_workers: int = 0,
    threads: int | None = None,
    sync_bn: bool = False,
) -> Run:
    """Train ``run`` from its last finished epoch to ``optim.epochs``.

    ``eval_every`` > 0 adds test mean recall to every that-many-th epoch record (for live plots).
    With a validation split in ``data`` every epoch is scored on it and the best weights kept.
    Each epoch's record goes to every callback; ``checkpoint`` is rewritten after every epoch.
    ``num_workers`` decode streamed (file) images in that many DataLoader processes. A loss that
    is not finite ends the run in that epoch: ``run.diverged`` says where, the checkpoint keeps the
    last good epoch, and the weights in memory are not usable. On the CPU, ``threads`` (default:
    :func:`fbcd_lab.runtime.cpu_threads_for` the step's size) intra-op threads do the work.

    In distributed training (torchrun; :mod:`fbcd_lab.distributed`) ``optim.batch_size`` is the
    global batch and must be divisible by the process count; the model trains inside
    DistributedDataParallel (``run.model`` stays the bare model), ``sync_bn`` makes BatchNorm use
    the global batch's statistics, every epoch record says ``world_size`` and ``sync_bn``, every
    process evaluates, only the main one writes ``checkpoint`` and shows progress.
    """
    if run.mid_epoch:
        raise ValueError(f"this run was stopped inside epoch {run.epochs_done + 1}; continue it from its "
                         f"checkpoint (load_checkpoint) so that it matches an uninterrupted run")
    if run.diverged is not None:
        raise ValueError(f"this run diverged in epoch {run.diverged['epoch']}; continue from its checkpoint "
                         f"with other settings, or start again")
    if len(run.division.cluster_of_sample) != len(data.train):
        raise ValueError(f"data has {len(data.train)} training images but the run's division covers "
                         f"{len(run.division.cluster_of_sample)}: not the data this run was started on")
    run.stopped = False
    processes = distributed.world_size()
    if processes > 1:
        distributed.check_global_batch(run.optim.batch_size, processes)
    run.world_size, run.sync_bn = processes, sync_bn and processes > 1
    step_model = distributed.wrap(run.model, run.device, sync_bn=run.sync_bn)
    if threads is not None:
        threads = check("threads", threads)
    elif run.device.type == "cpu":
        threads = cpu_threads_for(training_step_flops(run, data))
    else:
        threads = torch.get_num_threads()
    run.threads = threads
    bar = tqdm(total=(run.optim.epochs - run.epochs_done) * -(-len(data.train) // run.optim.batch_size),
               disable=not progress or not distributed.is_main(), desc=run.method.method, leave=False)
    objective = _objective(run, data)
    start = time.perf_counter()
    try:
        with cpu_threads(threads), deterministic_mode(run.deterministic, run.device):
            for epoch in range(run.epochs_done, run.optim.epochs):
                record = _train_epoch(run, data, objective, epoch, should_stop, bar, num_workers, step_model)
                if record is None:
                    break
                if processes > 1:
                    record.update(world_size=processes, sync_bn=run.sync_bn)
                record["time_s"] = run.wall_time_s + time.perf_counter() - start
                if eval_every and ((epoch + 1) % eval_every == 0 or epoch + 1 == run.optim.epochs):
                    record["test_mean_recall"] = mean_recall(run.model, data)
                if data.val is not None:
                    _score_on_validation(run, data, record)
                run.history.append(record)
                if checkpoint is not None:
                    run.wall_time_s += time.perf_counter() - start
                    start = time.perf_counter()
                    if distributed.is_main():
                        save_checkpoint(run, data, checkpoint)
                for callback in callbacks:
                    callback(record)
    except KeyboardInterrupt:
        run.stopped, run.mid_epoch = True, True
    except _StopRequested:
        run.stopped = True
    finally:
        bar.close()
        run.wall_time_s += time.perf_counter() - start
    return run


class _Objective(NamedTuple):
    """What every step needs, made once per ``fit`` on the run's device (a copy per epoch would
    stall a GPU): the training images, the soft-label matrix, each sample's cluster, the main
    head's loss and the class-balancing rule."""

    train_set: TensorImages | FileImages
    soft: torch.Tensor
    cluster_of_sample: torch.Tensor
    main_loss: LossFn
    balancing: Balancing


def _objective(run: Run, data: LongTailData) -> _Objective:
    device, method = run.device, run.method
    return _Objective(
        data.train.to(device) if isinstance(data.train, TensorImages) else data.train,
        torch.as_tensor(soft_label_matrix(run.division, method.alpha), dtype=torch.float32, device=device),
        torch.as_tensor(run.division.cluster_of_sample, device=device),
        LOSSES[method.loss].make(run.division.cluster_sizes, method),
        make_balancing(method.balancing, data.counts, run.optim, method.cb_beta, method.deferred_epoch,
                       run.division.cluster_sizes if method.uses_cdh and method.l2_weights == "cluster" else None,
                       method.sampler))


def _train_epoch(run: Run, data: LongTailData, objective: _Objective, epoch: int,
                 should_stop: Callable[[], bool] | None, bar, num_workers: int,
                 step_model: torch.nn.Module | None = None) -> dict | None:
    """One epoch of SGD on L = L2 + lambda * L1; its record, or None (and ``run.diverged`` set) if
    the epoch's loss is not finite. ``step_model`` (``run.model`` in DDP) does the training steps."""
    if distributed.is_distributed():
        return _train_epoch_shard(run, data, objective, epoch, should_stop, bar, num_workers, step_model)
    model, optim, device, method = run.model, run.optim, run.device, run.method
    train_set, soft, cluster_of_sample, main_loss, balancing = objective
    steps_per_epoch = -(-len(train_set) // optim.batch_size)
    lam = method.lam if method.uses_fbh else 0.0
    weights, cluster_weights = _class_weights(balancing, epoch, device)
    mixup = _mixes(method, balancing, epoch)
    model.train()
    sums = torch.zeros(3, device=device)
    for step, (x, y, idx) in enumerate(iterate_batches(
            train_set, optim.batch_size, data.augment, train=True, generator=run.generator, device=device,
            image_size=data.image_size, num_workers=num_workers, class_draws=balancing.draws_of(epoch))):
        if should_stop is not None and should_stop():
            run.mid_epoch = True
            raise _StopRequested
        for group in run.optimizer.param_groups:
            group["lr"] = optim.lr * optim.lr_factor(epoch, (step + 1) / steps_per_epoch)
        mixing = draw_mixing(len(y), method.mixup_alpha, run.generator, device) if mixup else None
        if mixing is not None:
            x = mixing.mix(x)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=run.precision == "bf16"):
            outputs = model(x.contiguous(memory_format=torch.channels_last))
        parts = fbcd_loss(outputs, y, cluster_of_sample[idx.to(device)], soft, lam, main_loss=main_loss,
                          class_weights=weights, cluster_weights=cluster_weights, weight_l1=method.weight_l1,
                          mixing=mixing)
        run.optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        run.optimizer.step()
        sums += torch.stack([p.detach() for p in parts]) * len(y)
        bar.update(1)
    return _epoch_record(run, epoch, sums / len(train_set))


def _class_weights(balancing: Balancing, epoch: int,
                   device: torch.device) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The balancing rule's class weights and cluster weights for ``epoch`` on ``device`` (None:
    all ones, or, for the cluster weights, the class weights on the main head too)."""
    return tuple(None if w is None else torch.as_tensor(w, dtype=torch.float32, device=device)
                 for w in (balancing.class_weights(epoch), balancing.cluster_weights_of(epoch)))


def _mixes(method: MethodConfig, balancing: Balancing, epoch: int) -> bool:
    """Whether ``epoch`` trains on Mixup: with ``mixup`` always, with ``mixup_until_switch`` until the
    deferred rule switches on."""
    return method.augment == "mixup" or (method.augment == "mixup_until_switch" and not balancing.switched(epoch))


def _epoch_record(run: Run, epoch: int, means: torch.Tensor) -> dict | None:
    """The epoch's record from its mean (loss, L2, L1), or None with ``run.diverged`` set when
    they are not finite."""
    loss, l2, l1 = means.tolist()
    if not all(math.isfinite(v) for v in (loss, l2, l1)):
        run.diverged = {"epoch": epoch + 1, "loss": str(loss)}
        return None
    return {"epoch": epoch + 1, "loss": loss, "l2": l2, "l1": l1, "lr": run.optimizer.param_groups[0]["lr"]}


class ShardMixing(NamedTuple):
    """Mixup drawn over a whole global batch (``weight`` and the pairing ``perm``, as one process
    draws them) and applied to values of the whole global batch, giving this process's ``part``:
    exactly the rows ``part`` of what one process mixes."""

    weight: float
    perm: torch.Tensor
    part: slice

    def mix(self, values: torch.Tensor) -> torch.Tensor:
        if self.weight == 1.0:
            return values[self.part]
        return self.weight * values[self.part] + (1.0 - self.weight) * values[self.perm[self.part]]

    def pair(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """This process's rows of the global batch's ``values`` and of their partners' (see
        :meth:`fbcd_lab.data.mixup.Mixing.pair`)."""
        return values[self.part], values[self.perm[self.part]]


def _train_epoch_shard(run: Run, data: LongTailData, objective: _Objective, epoch: int,
                       should_stop: Callable[[], bool] | None, bar, num_workers: int,
                       step_model: torch.nn.Module) -> dict | None:
    """``_train_epoch`` for one of several processes: the same schedule, order and draws as one
    process; this process's part of every global batch; the loss's terms scaled so that DDP's gradient
    average is the gradient of the global batch's loss; the epoch's sums added over processes.

    Mixup pairs over the whole global batch for in-memory sets (every process then augments the
    whole batch and mixes its part: exactly one process's Mixup) and within the part for streamed
    sets. Without synchronised BatchNorm the running statistics are averaged over the processes
    at the end of the epoch, so every process evaluates the same model."""
    model, optim, device, method = run.model, run.optim, run.device, run.method
    train_set, soft, cluster_of_sample, main_loss, balancing = objective
    rank, processes = distributed.rank(), distributed.world_size()
    n, batch_size = len(train_set), optim.batch_size
    steps_per_epoch = -(-n // batch_size)
    lam = method.lam if method.uses_fbh else 0.0
    weights, cluster_weights = _class_weights(balancing, epoch, device)
    mixup = _mixes(method, balancing, epoch)
    whole_batches = mixup and isinstance(train_set, TensorImages)  # Mixup pairs over the global batch
    l2_by_weights = LOSSES[method.loss].divides_by_weights
    model.train()
    sums = torch.zeros(3, device=device)
    for step, (x, y, idx) in enumerate(iterate_batches(
            train_set, batch_size, data.augment, train=True, generator=run.generator, device=device,
            image_size=data.image_size, num_workers=num_workers, class_draws=balancing.draws_of(epoch),
            shard=None if whole_batches else (rank, processes))):
        if should_stop is not None and distributed.all_reduce_sum(
                torch.tensor([float(should_stop())], device=device)).item():  # one stops, all stop
            run.mid_epoch = True
            raise _StopRequested
        for group in run.optimizer.param_groups:
            group["lr"] = optim.lr * optim.lr_factor(epoch, (step + 1) / steps_per_epoch)
        size = min(batch_size, n - step * batch_size)  # the global batch
        part = shard_slice(size, rank, processes)
        clusters = cluster_of_sample[idx.to(device)]
        mixing = None
        if mixup:
            drawn = draw_mixing(size, method.mixup_alpha, run.generator, device)
            mixing = (ShardMixing(drawn.weight, drawn.perm, part) if whole_batches else
                      Mixing(drawn.weight, torch.argsort(drawn.perm[part])))
            x = mixing.mix(x)
        count = len(x)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=run.precision == "bf16"):
            outputs = step_model(x.contiguous(memory_format=torch.channels_last))
        scales = _loss_scales(size, count, processes, y, clusters, weights, cluster_weights, mixing,
                              l2_by_weights=l2_by_weights, l1_by_weights=method.weight_l1)
        if count:
            total, l2, l1 = fbcd_loss(outputs, y, clusters, soft, lam, main_loss=main_loss, class_weights=weights,
                                      cluster_weights=cluster_weights, weight_l1=method.weight_l1, mixing=mixing,
                                      scales=scales)
        else:  # an empty part: a zero loss that still reaches every weight, as DDP needs
            total = l2 = l1 = sum(o.sum() for o in outputs if o is not None) * 0.0
        run.optimizer.zero_grad(set_to_none=True)
        total.backward()
        run.optimizer.step()
        sums += torch.stack([total.detach(), l2.detach(), l1.detach()]) * (size / processes)
        bar.update(1)
    distributed.all_reduce_sum(sums)
    if not run.sync_bn:
        distributed.average_batchnorm_statistics(model)
    return _epoch_record(run, epoch, sums / n)


def _loss_scales(size: int, count: int, processes: int, labels: torch.Tensor, clusters: torch.Tensor,
                 weights: torch.Tensor | None, cluster_weights: torch.Tensor | None, mixing, *,
                 l2_by_weights: bool, l1_by_weights: bool) -> TermScales:
    """The factors on this process's loss terms (means over its ``count`` samples) that make them its
    share of the global batch's: P * (this part's denominator) / (the global batch's, added over
    the processes). DDP's average over the P processes is then the global batch's loss.

    A term's denominator is its sample count, or, where its loss divides by summed sample weights
    (L2 with ``l2_by_weights``: the main loss is PyTorch's weighted mean, not focal's plain mean; L1
    with ``l1_by_weights``), the summed class weights of the samples whose targets it takes: their
    own, and in weighted Mixup's second term their partners'."""
    if weights is None or not (l2_by_weights or l1_by_weights):
        scale = processes * count / size
        return TermScales(scale, scale, scale, scale)
    own = {"l2": main_head_sample_weights(labels, clusters, weights, cluster_weights), "l1": weights[labels]}
    counted = weights.new_tensor(float(count))
    denominators = torch.stack([w.sum() if by_weights else counted
                                for term, by_weights in (("l2", l2_by_weights), ("l1", l1_by_weights))
                                for w in ((own[term], own[term]) if mixing is None else mixing.pair(own[term]))])
    return TermScales(*(processes * denominators / distributed.all_reduce_sum(denominators.clone())))


_FLOPS_CACHE: dict[tuple, float] = {}


def training_step_flops(run: Run, data: LongTailData) -> float:
    """FLOPs of one training step of ``run`` on ``data``, counted once per model shape (counting
    takes ~0.1 s, as long as a small run's epoch)."""
    key = (run.method.backbone, run.method.uses_fbh, run.model.num_clusters, data.in_channels, data.image_size,
           run.optim.batch_size)
    if key not in _FLOPS_CACHE:
        sample = torch.zeros(data.in_channels, data.image_size, data.image_size, device=run.device)
        _FLOPS_CACHE[key] = step_flops(run.model, sample, run.optim.batch_size)
    return _FLOPS_CACHE[key]


def _score_on_validation(run: Run, data: LongTailData, record: dict) -> None:
    score = mean_recall(run.model, data, split="val")
    record["val_mean_recall"] = score
    if run.best is None or score > run.best["val_mean_recall"]:
        run.best = {"epoch": record["epoch"], "val_mean_recall": score}
        run.best_state = {k: v.detach().to("cpu", copy=True) for k, v in run.model.state_dict().items()}


def selected_model(run: Run, selection: str = "final") -> TwoHeadModel:
    """The model to report: the final epoch's (default), or the best epoch on the validation split."""
    if selection == "final":
        return run.model
    if selection != "best_val":
        raise ValueError(f"selection must be 'final' or 'best_val', got {selection!r}")
    if run.best_state is None:
        raise ValueError("selection 'best_val' needs a validation split (val_per_class > 0 or val_folder)")
    model = copy.deepcopy(run.model)
    model.load_state_dict(run.best_state)
    return model
