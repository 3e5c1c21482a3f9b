"""GPU check in one call (well under 8 minutes on one H100): CUDA agrees with the CPU, then a full
200-epoch CIFAR-10-LT ratio-100 ResNet-32 FBH + CDH run is timed, and the reference PIL +
DataLoader pipeline for a few epochs. Prints a table and writes JSON.

    python bench/pack_gpu_data.py                      # here: .gpu_data/cifar10_lt100.tar.gz
    # on the GPU machine (carry .gpu_data):
    PYTHONPATH=. python3 bench/gpu_check.py --data .gpu_data/cifar10_lt100.tar.gz --out "$OUT"

``--epochs`` and ``--device cpu`` shrink it into a smoke test for a machine without a GPU.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import reference_epoch  # noqa: E402

from fbcd_lab.class_division import soft_label_matrix  # noqa: E402
from fbcd_lab.config import PRESETS, MethodConfig, preset  # noqa: E402
from fbcd_lab.data import augment_batch, build_long_tailed, iterate_batches  # noqa: E402
from fbcd_lab.losses import fbcd_loss  # noqa: E402
from fbcd_lab.records import evaluate_run  # noqa: E402
from fbcd_lab.runtime import library_versions, resolve_device  # noqa: E402
from fbcd_lab.training import fit, start_run  # noqa: E402

METHOD = MethodConfig(method="fbcd", backbone="resnet32", u=10, lam=1.5)


def agreement(data, device: torch.device) -> dict:
    """Same weights and batch on the CPU and ``device``: fp32 logits, loss and gradients, bf16 loss,
    and the whole-batch augmentation, compared."""
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    run = start_run(data, METHOD, PRESETS["paper_cifar"], device="cpu", precision="fp32")
    cpu_model = run.model.train()
    gpu_model = copy.deepcopy(cpu_model).to(device)
    x, y, idx = next(iterate_batches(data.train, 128, data.augment, train=False, generator=torch.Generator()))
    soft = torch.as_tensor(soft_label_matrix(run.division, METHOD.alpha), dtype=torch.float32)
    clusters = torch.as_tensor(run.division.cluster_of_sample)[idx]
    results = {}
    for name, model, dev in (("cpu", cpu_model, torch.device("cpu")), ("gpu", gpu_model, device)):
        out = model(x.to(dev))
        loss = fbcd_loss(out, y.to(dev), clusters.to(dev), soft.to(dev), METHOD.lam).total
        loss.backward()
        grads = torch.cat([p.grad.flatten().cpu() for p in model.parameters()])
        results[name] = (out.cluster_logits.detach().cpu(), out.fbh_logits.detach().cpu(), loss.item(), grads)
    with torch.autocast(device.type, dtype=torch.bfloat16):
        out = gpu_model(x.to(device))
    bf16_loss = fbcd_loss(out, y.to(device), clusters.to(device), soft.to(device), METHOD.lam).total.item()
    images = data.train.images[:256]
    aug_cpu = augment_batch(images, data.augment, torch.Generator().manual_seed(5))
    aug_gpu = augment_batch(images.to(device), data.augment, torch.Generator().manual_seed(5)).cpu()
    c, g = results["cpu"], results["gpu"]
    report = {
        "max_abs_diff_cluster_logits": (c[0] - g[0]).abs().max().item(),
        "max_abs_diff_fbh_logits": (c[1] - g[1]).abs().max().item(),
        "loss_cpu": c[2], "loss_gpu": g[2], "loss_gpu_bf16": bf16_loss,
        "grad_rel_diff": ((c[3] - g[3]).norm() / c[3].norm()).item(),
        "augmentation_identical": bool(torch.equal(aug_cpu, aug_gpu)),
    }
    report["ok"] = bool(report["max_abs_diff_cluster_logits"] < 1e-3 and report["max_abs_diff_fbh_logits"] < 1e-3
                        and abs(c[2] - g[2]) < 1e-4 and report["grad_rel_diff"] < 1e-3
                        and abs(bf16_loss - c[2]) / c[2] < 3e-2 and report["augmentation_identical"])
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    return report


def full_run(data, device: torch.device, epochs: int) -> dict:
    """The paper's CIFAR protocol (our reading: x0.1 at epochs 120 and 160), timed end to end."""
    optim = preset("paper_cifar", epochs=epochs)
    start = time.perf_counter()
    run = fit(start_run(data, METHOD, optim, device=device), data, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_s = time.perf_counter() - start
    metrics, protocol = evaluate_run(run, data)
    return {"epochs": run.epochs_done, "train_wall_s": train_s, "precision": run.precision,
            "images_per_s": run.epochs_done * len(data.train) / train_s, "protocol": protocol,
            **{f"mean_recall_{rule}": m["mean_recall"] for rule, m in metrics.items()},
            "group_recall_top_cluster": metrics["top_cluster"]["group_recall"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="tar.gz from bench/pack_gpu_data.py")
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--ref-steps", type=int, default=200, help="timed steps of the reference pipeline")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    args = parser.parse_args()
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(args.data) as tar:
            tar.extractall(tmp, filter="data")
        data = build_long_tailed("imagefolder", None, root=tmp)
    result = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "counts": list(data.counts), "versions": library_versions(), "date": time.strftime("%Y-%m-%d")}
    args.out.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every stage, so a run cut off by its time limit keeps what it measured
        (args.out / "gpu_check.json").write_text(json.dumps(result, indent=1))

    if device.type == "cuda":
        result["agreement"] = agreement(data, device)
        save()
    result["full_run"] = full_run(data, device, args.epochs)
    save()
    workers = 8 if device.type == "cuda" else 0
    result["reference_images_per_s"] = reference_epoch(data, workers, args.ref_steps, device)
    save()
    run = result["full_run"]
    print(f"device: {result['device']}")
    if "agreement" in result:
        print("CUDA vs CPU agreement:", json.dumps(result["agreement"]))
    print(f"{'full FBH+CDH run':<40} {run['epochs']} epochs in {run['train_wall_s']:.1f} s "
          f"({run['images_per_s']:.0f} images/s, {run['precision']})")
    print(f"{'mean recall (top / sum / logit-adj.)':<40} {run['mean_recall_top_cluster']:.4f} / "
          f"{run['mean_recall_sum_clusters']:.4f} / {run['mean_recall_logit_adjusted']:.4f}")
    print(f"{'reference PIL + DataLoader pipeline':<40} {result['reference_images_per_s']:.0f} images/s")
    print(f"wrote {args.out / 'gpu_check.json'}")


if __name__ == "__main__":
    main()
