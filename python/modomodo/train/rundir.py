"""The run directory: who may write it, what a new run clears, where a resume starts.

- `check_output_dir(cfg)` (at config time, the dry run included): the directory lies below
  no file and can be written; one holding another run needs `resume` or `overwrite`.
- `check_resume(cfg)` (the dry run, and the run before any work): a resume needs a valid
  checkpoint and, unless `allow_config_change`, the run's own config.
- `run_lock(dir)`: one writer per run directory (an advisory lock on DIR/.lock, released
  by the kernel when the process dies, SIGKILL included).
- `clear_outputs(dir)` (`--overwrite`): every file an earlier run wrote, nothing else.
- `newest_valid_checkpoint(dir)`: a checkpoint that is incomplete or corrupt (a crash while
  it was written, a truncated file) is skipped with a warning for the newest valid one.
- `truncate_logs(dir, step)`: on resume, the JSON-lines logs keep only what happened up to
  the checkpoint, so each step appears once however often the run was killed.
- `record_history(dir, event)`: DIR/history.jsonl, one line per start or resume (with the
  keys a resume changed); DIR/run_config.yaml stays the config the run started with.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modomodo._io import atomic_write_text
from modomodo.train.config import RUN_MARKERS, ConfigError, config_changes, dump, plain

if TYPE_CHECKING:
    from modomodo.train.config import TrainConfig

log = logging.getLogger("modomodo.train")

LOCK_FILE = ".lock"
HISTORY_FILE = "history.jsonl"
STATE_FILE = "modomodo_state.json"  # written by the trainer into each checkpoint
CORRUPT_DIR = "corrupt"  # where a resume moves the invalid checkpoints newer than the one it uses
LOGS = {
    "metrics.jsonl": 0,
    "draws.jsonl": 1,
}  # log -> 1 if its records carry the step before the one they belong to
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# What modomodo-train and modomodo-eval write into DIR (the final model is saved by
# transformers: weights, config, tokenizer and processor files).
OUTPUTS = (
    *RUN_MARKERS,
    HISTORY_FILE,
    *LOGS,
    "eval_before.json",
    "eval_before.jsonl",
    "eval_after.jsonl",
    "eval.json",
    "reward_curves.png",
    "completions",
    "reference_model",
    CORRUPT_DIR,
    "checkpoint-*",
    "model*.safetensors*",
    "pytorch_model*",
    "config.json",
    "generation_config.json",
    "*token*",
    "vocab.*",
    "merges.txt",
    "*processor_config.json",
    "chat_template.*",
    "training_args.bin",
    "README.md",  # the model card the trainer writes beside the model
)


# -- checks before any work ------------------------------------------------------------------


def check_writable_dir(path: Path, key: str) -> None:
    """`path` is a directory, or can be made one: its nearest existing ancestor is a directory
    this process can write (tried with a temporary file, so root, ACLs and read-only mounts count)."""
    existing = path.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "it is a file" if existing == path.absolute() else f"{str(existing)!r} is a file"
        raise ConfigError(f"config key {key!r} = {str(path)!r} is invalid; expected a directory ({where})")
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".modomodo-probe"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"config key {key!r} = {str(path)!r} is invalid; expected a directory this process can write "
            f"({str(existing)!r}: {exc.strerror or exc})"
        ) from None


def check_output_dir(cfg: TrainConfig) -> None:
    """A directory holding another run needs `resume` (continue it) or `overwrite`."""
    path, run = cfg.output_dir, cfg.run
    check_writable_dir(path, "output_dir")
    if not path.exists():
        if run.resume:
            raise ConfigError(f"--resume: output directory {str(path)!r} does not exist; nothing to resume")
        return
    held = sorted(p.name for p in path.iterdir() if p.name in RUN_MARKERS or _CHECKPOINT.match(p.name))
    if run.resume:
        if not any(_CHECKPOINT.match(n) for n in held):
            raise ConfigError(
                f"--resume: output directory {str(path)!r} holds no checkpoint-* to resume from"
            )
        return
    if held and not run.overwrite:
        raise ConfigError(
            f"output directory {str(path)!r} holds another run ({', '.join(held[:4])}); "
            "pass --resume to continue it or --overwrite to replace it"
        )


def check_resume(cfg: TrainConfig) -> tuple[Path, list[tuple[Path, str]], dict[str, tuple[Any, Any]]]:
    """(the checkpoint a resume starts from, the newer invalid ones with why, the changed keys).
    A resume continues the run it finds: a changed config needs `allow_config_change`."""
    checkpoint, invalid = newest_valid_checkpoint(cfg.output_dir)
    changes = resume_changes(cfg)
    if changes and not cfg.run.allow_config_change:
        listed = "; ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changes.items())
        raise ConfigError(
            f"--resume: the config differs from the run's ({cfg.output_dir / 'run_config.yaml'}): {listed}; "
            "pass --allow-config-change to continue with the new values (recorded in history.jsonl)"
        )
    return checkpoint, invalid, changes


def resume_changes(cfg: TrainConfig) -> dict[str, tuple[Any, Any]]:
    import yaml

    original = cfg.output_dir / "run_config.yaml"
    if not original.exists():
        log.warning("--resume: %s is missing: the config cannot be compared with the run's", original)
        return {}
    try:
        old = yaml.safe_load(original.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"--resume: cannot read the run's config {str(original)!r}: {exc}") from None
    return config_changes(old, plain(cfg.to_dict()))


# -- one writer ------------------------------------------------------------------------------


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold DIR/.lock for the body; a second writer gets a ConfigError naming the holder."""
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise ConfigError(
                f"output directory {str(path)!r} is in use by another modomodo-train (pid {holder}); "
                "expected one writer per run directory"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def clear_outputs(path: Path) -> list[str]:
    """`--overwrite`: remove what an earlier run wrote into `path`; other files stay."""
    removed = []
    for p in sorted(path.iterdir()):
        if any(p.match(pattern) for pattern in OUTPUTS):
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
            removed.append(p.name)
    return removed


# -- checkpoints -----------------------------------------------------------------------------


def checkpoint_problem(folder: Path) -> str | None:
    """Why `folder` cannot be resumed from, or None if it is complete and readable."""
    try:
        state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
        int(state["global_step"])
    except FileNotFoundError:
        return "no trainer_state.json"
    except (OSError, ValueError, KeyError, TypeError):
        return "trainer_state.json is not a valid trainer state"
    try:
        json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"no {STATE_FILE}"
    except (OSError, ValueError):
        return f"{STATE_FILE} is not valid JSON"
    weights = sorted(folder.glob("*.safetensors"))
    sharded = (folder / "model.safetensors.index.json").exists()
    engine = any(folder.glob("global_step*")) or any(folder.glob("pytorch_model_fsdp*"))
    if not weights and not engine:
        return "no model weights"
    if sharded and not weights:
        return "model.safetensors.index.json without its shards"
    from safetensors import SafetensorError, safe_open

    for w in weights:
        try:
            with safe_open(str(w), "pt"):
                pass
        except (SafetensorError, OSError) as exc:
            return f"{w.name} is unreadable ({exc})"
    for p in [*folder.glob("*.pt"), *folder.glob("*.pth"), *folder.glob("*.bin")]:
        if not zipfile.is_zipfile(p):  # torch.save writes zip archives; a truncated one has no directory
            return f"{p.name} is truncated or not a torch file"
    return None


def checkpoints(path: Path) -> list[Path]:
    """The checkpoint-N folders of `path`, newest first."""
    found = [(int(m.group(1)), p) for p in path.iterdir() if (m := _CHECKPOINT.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found, reverse=True)]


def newest_valid_checkpoint(path: Path) -> tuple[Path, list[tuple[Path, str]]]:
    """(the newest checkpoint that can be resumed, [(a newer invalid one, why), ...])."""
    skipped: list[tuple[Path, str]] = []
    for folder in checkpoints(path):
        problem = checkpoint_problem(folder)
        if problem is None:
            return folder, skipped
        skipped.append((folder, problem))
    listed = "; ".join(f"{p.name}: {why}" for p, why in skipped) or "none found"
    raise ConfigError(f"--resume: no valid checkpoint in {str(path)!r} ({listed})")


def set_aside(path: Path, invalid: list[tuple[Path, str]]) -> None:
    """Move invalid checkpoints to DIR/corrupt/ so that the resumed run can save in their place."""
    for folder, _ in invalid:
        target = path / CORRUPT_DIR / f"{folder.name}-{int(time.time())}"
        target.parent.mkdir(exist_ok=True)
        folder.rename(target)


def step_of(checkpoint: Path) -> int:
    return int(json.loads((checkpoint / "trainer_state.json").read_text())["global_step"])


# -- logs and history --------------------------------------------------------------------------


def truncate_logs(path: Path, step: int) -> None:
    """Keep the records of steps up to `step` (the checkpoint resumed) and drop a torn last line."""
    for name, shift in LOGS.items():
        log_path = path / name
        if not log_path.exists():
            continue
        kept = []
        for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and int(record.get("step", 0)) + shift <= step:
                kept.append(line + "\n")
        atomic_write_text(log_path, "".join(kept))


def record_history(path: Path, event: dict[str, Any]) -> None:
    """Append one event to DIR/history.jsonl (the file is rewritten atomically)."""
    history = path / HISTORY_FILE
    before = history.read_text(encoding="utf-8") if history.exists() else ""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    atomic_write_text(history, before + json.dumps({"time": stamp, **plain(event)}) + "\n")


def start(cfg: TrainConfig) -> Path | None:
    """Prepare DIR for this run (main process, under the lock): clear it on `overwrite`, write
    the config on a fresh start, on a resume set invalid checkpoints aside, cut the logs back
    to the checkpoint and record the changed keys. Returns the checkpoint to resume from."""
    out = cfg.output_dir
    if not cfg.run.resume:
        removed = clear_outputs(out) if cfg.run.overwrite else []
        atomic_write_text(out / "run_config.yaml", dump(cfg))
        record_history(out, {"event": "start", "overwrite": removed or None})
        return None
    checkpoint, invalid, changes = check_resume(cfg)
    for bad, why in invalid:
        log.warning("skipping %s (%s): resuming from %s", bad.name, why, checkpoint.name)
    set_aside(out, invalid)
    step = step_of(checkpoint)
    truncate_logs(out, step)
    record_history(
        out, {"event": "resume", "checkpoint": checkpoint.name, "step": step, "changed": changes or None}
    )
    if changes:
        log.warning("resuming with a changed config: %s", ", ".join(changes))
    return checkpoint
