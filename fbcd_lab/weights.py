"""Model-only weights beside a run's record: small enough to commit, enough to analyse the model.

A checkpoint holds the optimiser, RNG and best-epoch state as well (its job is to resume); a
``model.pt`` holds only the final weights and the cluster-to-class map, about 0.3 MB for ResNet-8.
The model is rebuilt from the record beside it (``results.json``: method, classes, image shape),
so notebooks can show a committed run's per-class recall, weight norms and features without
training it again.
"""

from __future__ import annotations

from pathlib import Path

import torch

from fbcd_lab.checkpoints import atomic_write, check_weights, read_checkpoint, safe_load
from fbcd_lab.config import MethodConfig, with_defaults
from fbcd_lab.models.two_head import TwoHeadModel, build_model
from fbcd_lab.records import read_record, record_status
from fbcd_lab.run_folder import CHECKPOINT_NAME, RECORD_NAME, WEIGHTS_NAME, hold_folder

FORMAT = 1
MODEL_NEEDS = ("classes", "data.in_channels", "data.image_size")  # what rebuilding a record's model reads


def export_weights(folder: str | Path) -> Path:
    """Write ``folder/model.pt`` from ``folder/checkpoint.pt``: the final weights of a finished run
    and its cluster-to-class map. A run whose record is not ``finished`` is refused, and so are
    weights that do not fit the model the record builds or are not finite."""
    folder = Path(folder)
    record = read_record(folder / RECORD_NAME, (*MODEL_NEEDS, "epochs_done"))
    if record_status(record) != "finished":
        raise ValueError(f"{folder / RECORD_NAME}: the run is {record_status(record)}, not finished; export the "
                         f"weights of finished runs only")
    with hold_folder(folder):  # not while a run trains there
        state = read_checkpoint(folder / CHECKPOINT_NAME)
        if len(state["history"]) != record["epochs_done"]:
            raise ValueError(f"{folder / CHECKPOINT_NAME} holds {len(state['history'])} epochs but the record "
                             f"{record['epochs_done']}: not the checkpoint of this record")
        model = _model_of(record, state["division"]["class_of_cluster"].tolist())
        check_weights(folder / CHECKPOINT_NAME, "model weights", model.state_dict(), state["model"])
        weights = {"format": FORMAT, "model": state["model"], "class_of_cluster": state["division"]["class_of_cluster"]}
        path = folder / WEIGHTS_NAME
        atomic_write(path, lambda f: torch.save(weights, f))
    return path


def load_weights(folder: str | Path) -> TwoHeadModel:
    """The model of the run in ``folder`` (its ``results.json`` and ``model.pt``), on the CPU, in
    eval mode."""
    folder = Path(folder)
    record = read_record(folder / RECORD_NAME, MODEL_NEEDS)
    path = folder / WEIGHTS_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no model weights {str(path)!r}: write them with `python -m fbcd_lab weights "
                                f"{folder}` while its checkpoint is there")
    saved = safe_load(path, "model-weights file")
    if not (isinstance(saved, dict) and saved.get("format") == FORMAT and isinstance(saved.get("model"), dict)
            and torch.is_tensor(saved.get("class_of_cluster"))):
        raise ValueError(f"{path} is not an fbcd_lab model-weights file")
    model = _model_of(record, saved["class_of_cluster"].tolist())
    check_weights(path, "model weights", model.state_dict(), saved["model"], "model-weights file")
    model.load_state_dict(saved["model"])
    model.precision = record["config"]["precision"]  # evaluated as it was trained
    return model.eval()


def _model_of(record: dict, class_of_cluster: list[int]) -> TwoHeadModel:
    """The untrained model a (checked) record's settings build, with its cluster-to-class map."""
    method = MethodConfig(**with_defaults(MethodConfig, record["config"]["method"]))
    data = record["data"]
    return build_model(method.backbone, len(record["classes"]), data["in_channels"], data["image_size"],
                       class_of_cluster, method.uses_fbh, method.kernel_size, method.channels_per_class,
                       method.uses_normalized_classifier, method.neck, method.ldam_scale)
