"""What ``train``, ``eval`` and ``demo`` print: per-class recall as a text table, and a trained
run's report (its record written, or why training diverged)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fbcd_lab.config import MethodConfig
from fbcd_lab.data.long_tail import FEW_BELOW, MANY_ABOVE
from fbcd_lab.models.predict import RULES
from fbcd_lab.run_folder import CHECKPOINT_NAME


def recall_table(counts: Sequence[int], classes: Sequence[str], results: dict[str, dict]) -> str:
    """Per-class recall of several runs as a fixed-width text table, with summary rows. Column names
    are shown whole; a class name is shown printable (a newline as \\n) and cut to 24 characters."""
    names = list(results)
    width = {k: max(8, len(k)) for k in names}
    shown = [n if n.isprintable() else repr(n)[1:-1] for n in classes]
    shown = [n if len(n) <= 24 else n[:23] + "…" for n in shown]
    first = max(12, *(len(n) for n in shown))
    head = f"{'class':>{first}} {'n_train':>7} " + " ".join(f"{k:>{width[k]}}" for k in names)
    rows = [head, "-" * len(head)]
    for c, (name, n) in enumerate(zip(shown, counts)):
        cells = " ".join(f"{results[k]['per_class_recall'][c]:>{width[k]}.3f}" for k in names)
        rows.append(f"{name:>{first}} {n:>7} {cells}")
    rows.append("-" * len(head))
    rows.append(f"{'mean recall':>{first}} {sum(counts):>7} "
                + " ".join(f"{results[k]['mean_recall']:>{width[k]}.3f}" for k in names))
    for group in ("many", "medium", "few"):
        cells = [(k, results[k]["group_recall"][group]) for k in names]
        rows.append(f"{group:>{first}} {'':>7} "
                    + " ".join(f"{'empty':>{width[k]}}" if v is None else f"{v:>{width[k]}.3f}" for k, v in cells))
    rows.append(f"(many: over {MANY_ABOVE} training images, medium: {FEW_BELOW} to {MANY_ABOVE}, few: under "
                f"{FEW_BELOW}; empty: no class in the group)")
    return "\n".join(rows)


def report(run, data, selection: str, out: Path, record_name: str, mark: dict | None = None) -> None:
    """Evaluate ``run``, write its record to ``out / record_name`` and print its recall table; a
    diverged run's record is written and the divergence raised as a ValueError. ``mark``: fields
    added to a record derived from the run's checkpoint (``eval``'s: ``written_by`` and the
    ``checkpoint`` it read), by which it goes with the run when ``train --overwrite`` replaces it
    (:func:`fbcd_lab.run_folder.derived_records`)."""
    from fbcd_lab.records import evaluate_run, run_record, save_record

    metrics, protocol = evaluate_run(run, data, selection)
    save_record({**run_record(run, data, metrics, protocol, selection), **(mark or {})}, out / record_name)
    if metrics is None:
        kept = (f"{out / CHECKPOINT_NAME} keeps epoch {run.epochs_done}" if run.epochs_done else
                "no epoch finished, so no checkpoint was written")
        raise ValueError(f"training diverged: the loss became {run.diverged['loss']} in epoch "
                         f"{run.diverged['epoch']}; {kept}; {out / record_name} is marked diverged "
                         f"({_divergence_advice(run.method)})")
    print(recall_table(data.counts, data.classes, {r.replace("_", " "): metrics[r] for r in RULES}))
    print(f"protocol: {protocol}; top-1 {metrics['top_cluster']['accuracy']:.4f}; "
          f"{run.epochs_done} epoch{'' if run.epochs_done == 1 else 's'} in {run.wall_time_s:.1f} s on {run.device} "
          f"({run.precision}); "
          f"wrote {out / record_name}")


LOSS_SCALES = ("lam", "focal_gamma", "la_tau")  # method options that scale a loss term, whatever the rate


def _divergence_advice(method: MethodConfig) -> str:
    """What to lower after a divergence: ``--lr``, or a loss-scaling option the run reads that is set
    above its default (a lambda of 1e308 overflows at any learning rate)."""
    default = MethodConfig()
    raised = [f"--{name.replace('_', '-')} (it is {getattr(method, name):g})" for name in LOSS_SCALES
              if not method.unused([name]) and getattr(method, name) > getattr(default, name)]
    return f"try a lower {' or '.join(raised)} or a lower --lr" if raised else "try a lower --lr"
