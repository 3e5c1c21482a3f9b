"""Training on several processes with DistributedDataParallel, as ``torchrun`` launches them.

``torchrun --nproc_per_node N -m fbcd_lab train ...`` starts N processes with ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK`` set; :func:`init` joins their process group (NCCL with one GPU per
process, ``cuda:LOCAL_RANK``; gloo on the CPU). Everything else here is a no-op in a single process
(no ``WORLD_SIZE``, or ``WORLD_SIZE=1``), so one process trains exactly as it always did.

The rule (the guide "More than one GPU", docs/pages/guides/gpus.md): the batch size is the
*global* batch. Every process draws the same seeded epoch order and augmentation and takes its part of each global
batch (:func:`fbcd_lab.data.batches.shard_slice`), so the N parts together are the one-process
batch; the learning rate stays the one set for that global batch. Each process scales its loss so
that DDP's gradient average is the gradient of the global batch's loss
(:func:`fbcd_lab.training.fit`). BatchNorm normalises each process's part unless ``sync_bn``
converts it (:func:`convert_sync_batchnorm`) to statistics of the whole global batch.
"""

from __future__ import annotations

import atexit
import inspect
import os
from collections.abc import Callable
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from fbcd_lab.runtime import resolve_device

T = TypeVar("T")


class MainProcessFailed(SystemExit):
    """Raised on every process but the main one when the main one (rank 0) failed a step it does
    first (output folder, resume checks, class division): the main one reports the error in one
    line, the others end quietly with exit status 2."""

    def __init__(self) -> None:
        super().__init__(2)


def launched_world_size() -> int:
    """The process count torchrun asked for (``WORLD_SIZE``), 1 outside torchrun."""
    text = os.environ.get("WORLD_SIZE", "1")
    try:
        return max(1, int(text))
    except ValueError:
        raise ValueError(f"WORLD_SIZE must be a whole number of processes, got {text!r}") from None


def is_distributed() -> bool:
    """Whether this process is one of several in an initialised process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """The number of training processes (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Whether this process writes records and checkpoints and prints: rank 0, or the only one."""
    return rank() == 0


def init(device: str | torch.device = "auto") -> str | torch.device:
    """Join the process group torchrun set up, when it launched this process with WORLD_SIZE > 1,
    and return this process's device: ``cuda:LOCAL_RANK`` (NCCL) where ``device`` is ``auto`` or
    ``cuda`` and CUDA is present, else the CPU (gloo). Without torchrun (or with one process)
    nothing happens and ``device`` comes back unchanged. Idempotent."""
    world = launched_world_size()
    if world == 1:
        return device
    if not dist.is_available():
        raise ValueError(f"WORLD_SIZE={world} (torchrun) but this PyTorch build has no torch.distributed")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device)
    if dev.type == "cuda":
        if local >= torch.cuda.device_count():
            raise ValueError(f"process with LOCAL_RANK {local} but only {torch.cuda.device_count()} GPU(s): "
                             f"start at most one process per GPU (--nproc_per_node)")
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        atexit.register(shutdown)
    return dev


def shutdown() -> None:
    """Leave the process group (registered at exit by :func:`init`)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def lost_a_process(err: BaseException) -> bool:
    """Whether ``err`` is a collective failing because another process of the job ended (gloo's
    transport closing the connection, NCCL's backend error), not an error of this process."""
    return is_distributed() and (isinstance(err, dist.DistBackendError) or "gloo/transport" in str(err))


def barrier() -> None:
    """Wait until every process gets here (nothing when not distributed)."""
    if not is_distributed():
        return
    if dist.get_backend() == "nccl":
        dist.barrier(device_ids=[torch.cuda.current_device()])
    else:
        dist.barrier()


def broadcast_object(obj: T, src: int = 0) -> T:
    """``obj`` as process ``src`` has it, on every process (picklable objects; unchanged when not
    distributed)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over the processes in place and return it (unchanged when not distributed)."""
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def _on_main(action: Callable[[], T]) -> T:
    """``action()`` on the main process; if it raises, the others hear of it (and re-raise there)
    before the error propagates. Call on the main process only, paired with :func:`_main_failed`."""
    try:
        result = action()
    except Exception as err:
        broadcast_object(f"{type(err).__name__}: {err}")
        raise
    broadcast_object(None)
    return result


def _main_failed() -> bool:
    """On a process other than the main one: whether the main process's :func:`_on_main` failed."""
    return broadcast_object(None) is not None


def main_first(action: Callable[[], T], *, everyone: bool = False) -> T | None:
    """Run ``action`` on the main process first and tell the others how it went.

    If it raises there, the main process raises the error as it is (the command line prints it in
    one line) and every other process raises :class:`MainProcessFailed` (exit status 2, quietly).
    Otherwise the others return None, or with ``everyone`` run ``action`` themselves and return
    its result (checks done once, then work every process needs). Without distribution this is
    ``action()``."""
    if not is_distributed():
        return action()
    if is_main():
        return _on_main(action)
    if _main_failed():
        raise MainProcessFailed
    return action() if everyone else None


def from_main(action: Callable[[], T]) -> T:
    """``action()`` computed on the main process only and sent to every process (e.g. the class
    division: k-means runs once). A failure there ends the others as in :func:`main_first`."""
    if not is_distributed():
        return action()
    if is_main():
        return broadcast_object(_on_main(action))
    if _main_failed():
        raise MainProcessFailed
    return broadcast_object(None)


def check_global_batch(batch_size: int, processes: int | None = None) -> int:
    """The per-process batch: ``batch_size`` (the global batch) divided by the process count;
    a batch size not divisible by it is refused in one line."""
    processes = world_size() if processes is None else processes
    if batch_size % processes:
        raise ValueError(f"batch size {batch_size} is the global batch of {processes} processes and must be "
                         f"divisible by {processes} (each takes batch/{processes} of every batch; set --batch-size)")
    return batch_size // processes


# --------------------------------------------------------------------------- BatchNorm across processes


class _SummedOverProcesses(torch.autograd.Function):
    """The sum of a tensor over the processes, differentiable: the gradient of every process's copy
    of the sum is summed back (the gradient of the processes' summed losses)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        return all_reduce_sum(tensor.clone(memory_format=torch.contiguous_format))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return _SummedOverProcesses.apply(grad)


class CpuSyncBatchNorm(_BatchNorm):
    """BatchNorm whose training statistics are those of the whole global batch, for CPU processes
    (gloo). ``torch.nn.SyncBatchNorm`` does this on GPUs only, and DDP refuses it on the CPU.

    Per channel: the sum and count over every process (one differentiable all-reduce), the mean,
    then the summed squared deviations (a second one): the two-pass variance. Running statistics
    are updated as ``BatchNorm`` updates them (unbiased variance), identically on every process.
    In evaluation, or in one process, it is plain BatchNorm; its state dict is BatchNorm's."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {input.dim()}D")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and is_distributed()):
            return super().forward(input)
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked)
        dims = [0, *range(2, input.dim())]
        shape = [1, -1] + [1] * (input.dim() - 2)
        x = input.float()
        count = x.new_tensor([input.numel() // input.shape[1]])
        totals = _SummedOverProcesses.apply(torch.cat([x.sum(dims), count]))
        n = totals[-1]
        mean = totals[:-1] / n
        centred = x - mean.view(shape)
        var = _SummedOverProcesses.apply(centred.square().sum(dims)) / n
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                unbiased = var * (n / (n - 1).clamp_min(1))
                self.running_mean.mul_(1 - factor).add_(factor * mean.detach())
                self.running_var.mul_(1 - factor).add_(factor * unbiased.detach())
        return out.to(input.dtype)


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm in ``module`` made to use global-batch statistics: ``torch.nn.SyncBatchNorm``
    on CUDA, :class:`CpuSyncBatchNorm` on the CPU. Parameters and buffers are the same objects (an
    optimiser made before keeps working) and the state dict is unchanged; layers already converted
    are left as they are."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if isinstance(module, _BatchNorm) and not isinstance(module, (CpuSyncBatchNorm, nn.SyncBatchNorm)):
        converted = CpuSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                     module.track_running_stats)
        if module.affine:
            converted.weight, converted.bias = module.weight, module.bias
        converted.running_mean, converted.running_var = module.running_mean, module.running_var
        converted.num_batches_tracked = module.num_batches_tracked
        converted.train(module.training)
        return converted
    for name, child in module.named_children():
        module.add_module(name, convert_sync_batchnorm(child, device))
    return module


def average_batchnorm_statistics(module: nn.Module) -> None:
    """Average BatchNorm running means and variances over the processes, so that every process
    evaluates the same model (each process's shard moved its own statistics when BatchNorm is not
    synchronised). Nothing when not distributed."""
    if not is_distributed():
        return
    buffers = [b for m in module.modules() if isinstance(m, _BatchNorm) and m.track_running_stats
               for b in (m.running_mean, m.running_var)]
    if not buffers:
        return
    flat = torch.cat([b.reshape(-1) for b in buffers])
    all_reduce_sum(flat).div_(world_size())
    offset = 0
    for b in buffers:
        b.copy_(flat[offset:offset + b.numel()].view_as(b))
        offset += b.numel()


def wrap(model: nn.Module, device: torch.device, *, sync_bn: bool = False) -> nn.Module:
    """The module the training step calls: ``model`` itself in one process, else ``model`` (its
    BatchNorm converted with ``sync_bn``) in DistributedDataParallel. The bare ``model`` keeps the
    weights, for evaluation and checkpoints. DDP copies the main process's weights to the others."""
    if not is_distributed():
        return model
    if sync_bn:
        convert_sync_batchnorm(model, device)
    # Buffers (BatchNorm's running statistics) are copied from the main process once, at the start, and
    # not before every forward: each process's own, or global with sync_bn; averaged after each epoch.
    no_forward_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in _DDP_OPTIONS else
                       {"broadcast_buffers": False})
    return nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None, **no_forward_sync)


_DDP_OPTIONS = inspect.signature(nn.parallel.DistributedDataParallel.__init__).parameters


def quiet_unless_main() -> None:
    """Send this process's standard output to the null device unless it is the main process, so
    that N processes print one report (their errors still reach standard error)."""
    if not is_main():
        import sys

        sys.stdout = open(os.devnull, "w")
