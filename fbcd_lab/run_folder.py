"""A run's output folder: checked before any work, never overwritten by accident, owned by one process.

A folder holds one run: ``checkpoint.pt`` (rewritten after every epoch) and ``results.json``
(written at the end), and the records derived from it (``eval``'s of its checkpoint and
``decompose``'s naming the folder, which mark themselves), which ``overwrite`` removes with it.
Training into a folder that holds a run needs ``resume`` (continue it) or ``overwrite`` (replace
it); a folder that cannot be written fails at once, not after an epoch.
Runs never nest: a folder inside another run's folder, or with runs below it, is refused. While a process trains into a folder it holds the folder's lock (``.run.lock``, an ``flock`` the
kernel releases when the process ends, however it ends): a second process is refused in one line
naming the holder, and a killed run leaves nothing that blocks its ``--resume``.
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from fbcd_lab.checkpoints import read_checkpoint, remove_stale_temporaries

CHECKPOINT_NAME = "checkpoint.pt"
RECORD_NAME = "results.json"
WEIGHTS_NAME = "model.pt"  # model-only weights (fbcd_lab.weights)
RUN_FILES = (CHECKPOINT_NAME, RECORD_NAME, WEIGHTS_NAME)  # train's and weights' files: no record takes their names
LOCK_NAME = ".run.lock"
EVAL_NAME = "eval.json"  # eval's default record name: before records were marked, eval's record was known by it
WINDOWS_REFUSED = '<>:"|?*\\'  # characters no Windows file name holds ('/' is refused as a path already)
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"{port}{i}" for port in ("COM", "LPT") for i in range(1, 10))}
DERIVING = ("eval", "decompose")  # the commands whose records mark themselves ("written_by")


def check_record_name(name: str, option: str = "--record-name") -> str:
    """``name`` if a command (``eval``'s record, ``decompose --out``) may write a file of that name,
    possibly in a run folder: a plain, printable file name that is none of the files other commands
    write there (in any case: a disk that ignores case takes RESULTS.JSON for results.json), does
    not start with '.' (the lock file, the temporary files of atomic writes), and names a file of its
    own on Windows too: no character Windows refuses (``results.json::$DATA`` is results.json there),
    no trailing '.' or ' ' (Windows drops them), no device name (``nul``, ``con.json``); else a
    ValueError naming ``option``."""
    if (not name or name.startswith(".") or name.endswith((".", " ")) or name.casefold() in RUN_FILES
            or Path(name).name != name or not name.isprintable() or set(name) & set(WINDOWS_REFUSED)
            or name.split(".")[0].strip().upper() in WINDOWS_DEVICES):
        raise ValueError(f"{option} must be a plain file name not starting with '.' nor ending in '.' or ' ', "
                         f"without any of {WINDOWS_REFUSED} or a device name (nul, con, ...), other than "
                         f"{', '.join(RUN_FILES)}, got {name!r}")
    return name


def check_new_file(path: Path, option: str, writer: str | None = None, overwrite: bool = False,
                   default: bool = False) -> Path:
    """``path`` if a command may write its record there: no file is there yet. Nothing is
    overwritten but, with ``overwrite``, a record the command ``writer`` itself wrote
    (:func:`kit_record`); else a ValueError naming ``option`` and the file, and what to do instead.
    ``default``: the file name is ``option``'s default, which the user did not type, and the
    message says so (naming the option as where to give another name)."""
    if not (path.exists() or path.is_symlink()):
        return path
    own = writer is not None and (kit_record(path) or {}).get("written_by") == writer
    if own and overwrite:
        return path
    replace = f", or pass --overwrite to replace this record of {writer}'s" if own else ""
    foreign = f" and is no record {writer} wrote" if writer is not None and not own else ""
    named = f"the {'record' if own else 'file'} {path} ({option}'s default)" if default else f"{option} {path}"
    new = f"name a new file with {option}" if default else "name a new file"
    raise ValueError(f"{named} exists{foreign}: {new} (nothing is overwritten){replace}")


def kit_record(path: Path) -> dict | None:
    """The JSON object in ``path`` if a command of :data:`DERIVING` wrote it, as its ``written_by``
    says (eval's records from before that mark: a results record named :data:`EVAL_NAME`, given the
    mark here), else None: a file of someone else's, a link, or one that cannot be read. The
    content decides, not the name alone: a file of the user's is never taken for a record."""
    from fbcd_lab.readers import check_record, read_json

    if path.is_symlink() or not path.is_file():
        return None
    try:
        with path.open("rb") as f:
            if f.read(1) != b"{":
                return None
        value = read_json(path)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(value, dict):
        return None
    if value.get("written_by") in DERIVING:
        return value
    if "written_by" in value or path.name != EVAL_NAME:
        return None
    try:
        check_record(value)
    except ValueError:
        return None
    return {**value, "written_by": "eval"}


def derived_records(out: Path) -> list[Path]:
    """The files directly in the run folder ``out`` that derive from its run: the records ``eval``
    wrote of its checkpoint (:func:`_evaluated_here`), and ``decompose`` outputs of runs that
    include it. They go with the run when it is replaced; another run's record kept there stays."""
    records = {}
    for path in sorted(out.iterdir()) if out.is_dir() else ():
        record = None if path.name in RUN_FILES or path.name.startswith(".") else kit_record(path)
        if record is not None:
            records[path] = record
    history = _checkpoint_history(out) if any(r["written_by"] == "eval" for r in records.values()) else None
    return [path for path, record in records.items()
            if (_evaluated_here(record, out, history) if record["written_by"] == "eval"
                else _names_folder(record, out))]


def _checkpoint_history(out: Path) -> list | None:
    """The training history in ``out``'s checkpoint, None when it has none that can be read."""
    try:
        return read_checkpoint(out / CHECKPOINT_NAME)["history"]
    except (OSError, ValueError):
        return None


def _evaluated_here(record: dict, out: Path, history: list | None) -> bool:
    """Whether the ``eval`` record ``record`` in ``out`` evaluated the run whose checkpoint there
    holds ``history``. The history decides (a record holds the history of the checkpoint it read,
    and no other run has its epochs' losses and times), so another run's record moved here is kept,
    and this run's is known after its folder moved (a path alone would tell neither). Without a
    readable checkpoint the path the record names (``checkpoint``) decides; naming none, it is kept."""
    if history is not None:
        done = record.get("history")
        return isinstance(done, list) and 0 < len(done) <= len(history) and history[:len(done)] == done
    named = record.get("checkpoint")
    return isinstance(named, str) and Path(named).resolve() == (out / CHECKPOINT_NAME).resolve()


def _names_folder(decomposition: dict, out: Path) -> bool:
    """Whether a ``decompose`` output names ``out`` among the run folders it took apart."""
    folders = decomposition.get("folders")
    groups = folders.values() if isinstance(folders, dict) else ()
    named = [f for group in groups if isinstance(group, list) for f in group if isinstance(f, str)]
    return any(Path(f).resolve() == out.resolve() for f in named)


@contextmanager
def owned_run_folder(out: Path, resume: bool = False, overwrite: bool = False) -> Iterator[list[Path]]:
    """Hold ``out`` for this process (see the module docstring), make it ready for a run and give
    the stale temporary files it removed; the lock is released, and its file removed, on exit.

    Refuses (ValueError, one line naming the folder) a path that is a file or cannot be written, a
    folder inside another run's folder or with runs below it (summarize would pool them), a folder
    another process holds, a folder holding a run unless ``resume`` or ``overwrite``, and ``resume``
    without a checkpoint.
    """
    out = Path(out)
    if resume and overwrite:
        raise ValueError("--resume and --overwrite exclude each other: continue the run or replace it")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    _check_outside_runs(out, out.parents)
    below = next((p for name in RUN_FILES[:2] for p in out.glob(f"*/**/{name}")), None) if out.is_dir() else None
    if below is not None:
        raise ValueError(f"--out {out} holds runs below it ({below}): a run folder holds one run, so summarize never "
                         f"pools it with another; choose a new folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".write-test.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(f"--out {out} cannot be written ({err.strerror or err})") from None
    with hold_folder(out):
        yield _check_run_folder(out, resume, overwrite)


@contextmanager
def hold_folder(out: Path) -> Iterator[None]:
    """Hold the existing run folder ``out`` (``flock`` of ``out/.run.lock``, without waiting) for the
    block; the file names the holder for whoever is refused.
    A lock file unlinked by its last holder between our open and our lock is not the folder's lock:
    open again."""
    path = out / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise ValueError(f"{out} is in use by {holder}: wait for it to end, or use another folder") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        _name_the_holder(fd, path)
        yield
    finally:
        with suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)  # closing releases the lock


def _name_the_holder(fd: int, path: Path) -> None:
    """Write this process into the held lock file; a failed write (a full disk) names the file."""
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
    except OSError as err:
        raise OSError(err.errno, f"{err.strerror} (writing the lock file of the run folder)", str(path)) from None


def _check_run_folder(out: Path, resume: bool, overwrite: bool) -> list[Path]:
    """The checks of :func:`owned_run_folder` that need the lock held; the stale temporaries removed."""
    held = [name for name in RUN_FILES if (out / name).exists()] + [p.name for p in derived_records(out)]
    if resume and not (out / CHECKPOINT_NAME).is_file():
        raise ValueError(f"--resume: no {CHECKPOINT_NAME} in {out} to continue; drop --resume to start a new run")
    if held and not (resume or overwrite):
        raise ValueError(f"{out} already holds a run ({', '.join(held)}); pass --resume to continue it, "
                         f"--overwrite to replace it, or choose a new --out")
    return remove_stale_temporaries(out)


def check_outside_runs(out: Path, option: str = "--out") -> None:
    """``out`` (given as ``option``) must be a folder (or not yet exist) that is no run folder and lies
    in none: a study's runs nested in another run would be pooled with it, and ``lab --headless``'s
    HTML would sit among a run's files."""
    out = Path(out)
    _check_outside_runs(out, (out, *out.parents), option)


def _check_outside_runs(out: Path, folders: Sequence[Path], option: str = "--out") -> None:
    """Refuse ``out`` (given as ``option``) if one of ``folders`` (``out`` and those above it) is a
    file or a run folder: runs nested in another run would be pooled with it."""
    for folder in folders:
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{option} {out}: {folder} is a file, not a folder")
        held = [name for name in RUN_FILES[:2] if (folder / name).is_file()]
        if held:
            raise ValueError(f"{option} {out} lies in the run folder {folder} (it holds {', '.join(held)}): "
                             f"choose a folder outside every run")


def clear_run(out: Path) -> list[Path]:
    """Delete the run files in ``out``, and the records derived from its run (:func:`derived_records`),
    for ``overwrite``, once the new run is ready to start; the user's files stay."""
    removed = [out / name for name in RUN_FILES if (out / name).exists()] + derived_records(out)
    for path in removed:
        path.unlink()
    return removed


@contextmanager
def new_folder_removed_on_error(out: Path) -> Iterator[list[Path]]:
    """If the block fails, remove the folders of ``out``'s path that it made (``out`` and any parent
    that did not exist, given to the block innermost first) while they are still empty, so a refused
    run leaves nothing behind."""
    made = [folder for folder in (Path(out), *Path(out).parents) if not folder.exists()]
    try:
        yield made
    except BaseException:
        for folder in made:  # innermost first; one that holds anything stays, with its parents
            if not folder.is_dir():
                continue
            if any(folder.iterdir()):
                break
            with suppress(FileNotFoundError):  # another process of a torchrun run may remove it first
                folder.rmdir()
        raise
