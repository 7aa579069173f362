"""One training run, start to finish: data, model, warm start, evaluation, GRPO, summary.

DIR/run_config.yaml     the config the run started with (a resume never rewrites it)
DIR/history.jsonl       one line per start or resume (with the keys a resume changed)
DIR/metrics.jsonl       every trainer log (per-domain metrics included), each step once
DIR/draws.jsonl         per generation batch: the domain of each group, rows per rank
DIR/eval_before.json    evaluation of the warm-started (or base) model
DIR/eval_before.jsonl   its rows: benchmark, row, score, completion, solution
DIR/eval_after.jsonl    the same rows evaluated after RL
DIR/checkpoint-*/       TRL checkpoints (+ modomodo_state.json)
DIR/reference_model/    the starting weights, the KL reference when beta > 0 (tiny or warm-started)
DIR/summary.json        steps, reward {start, end, ...}, per_domain, eval {... before, change}
DIR/reward_curves.png   training reward curves (per domain as a fraction of its maximum) and
                        the benchmark scores before and after RL
DIR/                    the final model and processor (modomodo-eval --model DIR)
DIR/.lock               held while a run writes DIR (see `rundir.py`)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modomodo._io import atomic_write_text
from modomodo.summary import EvalChange, EvalScores, RunSummary, adaptive_weights, paired_change
from modomodo.train import rundir
from modomodo.train.config import TINY, ConfigError, TrainConfig

log = logging.getLogger("modomodo.train")

BEFORE_ROWS = "eval_before.jsonl"  # the rows of each evaluation, for the paired change
AFTER_ROWS = "eval_after.jsonl"


# -- data --------------------------------------------------------------------------------------


def load_domains(specs: Sequence[Any], *, desc: str, progress: bool = True) -> list[tuple[Any, Any]]:
    from tqdm.auto import tqdm

    from modomodo.data import load_domain

    out = []
    for spec in tqdm(specs, desc=desc, disable=not progress, dynamic_ncols=True, unit="domain"):
        ds = load_domain(spec)
        if len(ds) == 0:
            raise ConfigError(f"domain {spec.name!r} loaded 0 rows; expected at least one")
        out.append((spec, ds))
    return out


def training_set(domains: Sequence[tuple[Any, Any]]):
    """The concatenation of the training domains (in config order) with a `row_id` column."""
    from modomodo.data import unify

    ds = unify([d for _, d in domains])
    return ds.add_column("row_id", list(range(len(ds))))


# -- model --------------------------------------------------------------------------------------


def build_model(cfg: TrainConfig, datasets: Sequence[Any]):
    from modomodo.train.models import build_tiny, corpus_from, load_pretrained

    run = cfg.run
    if run.model == TINY:
        return build_tiny(corpus_from(datasets), image_size=run.image_size, seed=cfg.grpo.get("seed", 42))
    kwargs = dict(cfg.grpo.get("model_init_kwargs") or {})
    return load_pretrained(run.model, **kwargs)


def warm_start(
    cfg: TrainConfig, model, processor, train: Sequence[tuple[Any, Any]], *, progress: bool = True
):
    """Supervised warm start on the gold completions, through the on-disk cache. Returns
    (model, info) where info says whether the cache was hit and what training did."""
    from accelerate import PartialState

    from modomodo.train.warmstart import (
        WarmStartSettings,
        cache_key,
        default_cache_dir,
        train_supervised,
    )

    run = cfg.run
    settings = WarmStartSettings(
        steps=run.warmstart_steps,
        batch_size=run.warmstart_batch_size,
        learning_rate=run.warmstart_learning_rate,
        seed=cfg.grpo.get("seed", 42),
    )
    fingerprint = json.dumps([[s.to_dict(), ds._fingerprint] for s, ds in train], sort_keys=True, default=str)
    key = cache_key(model, processor, fingerprint, settings)
    folder = Path(run.warmstart_cache_dir) if run.warmstart_cache_dir else default_cache_dir()
    path = folder / key
    state = PartialState()
    info: dict[str, Any] = {"key": key, "path": str(path)}
    with state.main_process_first():
        weights = path / "model.safetensors"
        if weights.exists():
            from safetensors.torch import load_file

            model.load_state_dict(load_file(str(weights)), strict=False)
            stats = json.loads((path / "warmstart.json").read_text())
            info.update(cached=True, **stats)
            log.info("warm start: loaded from cache %s", path)
        else:
            rows = []
            for _, ds in train:
                sub = ds.select_columns(["image", "prompt", "sft_completion"])
                rows += [sub[i] for i in range(len(sub))]
            start = time.perf_counter()
            stats = train_supervised(
                model, processor, rows, settings, progress=progress and state.is_main_process
            )
            stats["seconds"] = time.perf_counter() - start
            if state.is_main_process:
                save_to_cache(model, stats, path)
            info.update(cached=False, **stats)
    return model, info


def save_to_cache(model, stats: dict[str, Any], path: Path) -> None:
    """The warm-started weights and their stats into `path`, complete or not at all (written
    in a temporary sibling, then one rename; a concurrent writer's copy wins)."""
    from safetensors.torch import save_file

    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    # Tied weights share storage: safetensors wants one copy.
    seen: set[int] = set()
    for k in list(tensors):
        ptr = tensors[k].data_ptr()
        if ptr in seen:
            del tensors[k]
        else:
            seen.add(ptr)
    save_file(tensors, str(tmp / "model.safetensors"))
    (tmp / "warmstart.json").write_text(json.dumps(stats))
    if path.exists():
        shutil.rmtree(tmp)
    else:
        tmp.rename(path)


# -- evaluation --------------------------------------------------------------------------------


def run_eval(
    cfg: TrainConfig, model, processor, domains, *, desc: str, rows_path: Path | None = None
) -> dict[str, Any]:
    """The evaluation's scores (JSON); its rows into `rows_path` (JSON lines) when given."""
    from modomodo.train.evaluate import evaluate

    scores, rows = evaluate(
        model,
        processor,
        domains,
        batch_size=cfg.run.eval_batch_size,
        max_new_tokens=cfg.run.eval_max_new_tokens,
        desc=desc,
        keep_completions=3,
    )
    if rows_path is not None:
        atomic_write_text(rows_path, "".join(json.dumps(r, default=str) + "\n" for r in rows))
    return scores


def eval_change(
    before: list[dict[str, Any]], after: list[dict[str, Any]], roles: dict[str, str]
) -> EvalChange | None:
    """The paired change between two evaluations' rows (`eval_before.jsonl`,
    `eval_after.jsonl`); None, with a warning, when they did not score the same rows (a
    resume that changed the evaluation sets)."""

    def by_benchmark(rows: list[dict[str, Any]]) -> dict[str, dict[int, float]]:
        out: dict[str, dict[int, float]] = {}
        for r in rows:
            out.setdefault(r["benchmark"], {})[int(r["row"])] = float(r["score"])
        return out

    old, new = by_benchmark(before), by_benchmark(after)
    if {b: sorted(v) for b, v in old.items()} != {b: sorted(v) for b, v in new.items()}:
        log.warning("the evaluations before and after RL scored different rows: no paired change")
        return None
    return paired_change(
        {b: [v[i] for i in sorted(v)] for b, v in old.items()},
        {b: [new[b][i] for i in sorted(v)] for b, v in old.items()},
        roles,
    )


def check_eval_args(model_path: str, output: str) -> None:
    """modomodo-eval's `--model` and `--output`, checked before any model is loaded: a local
    model is a directory with a config.json; a path that does not exist is not a hub id; the
    output is a file that can be written."""
    model = Path(model_path).expanduser()
    if model.exists():
        if not model.is_dir() or not (model / "config.json").is_file():
            raise ConfigError(
                f"--model {model_path!r} is not a model directory (no config.json in it); expected the "
                "output directory of a finished modomodo-train run, or a hub id"
            )
    elif model_path.startswith((".", "/", "~")) or model_path.count("/") != 1 or model_path.endswith("/"):
        raise ConfigError(
            f"--model {model_path!r}: no such directory; expected a trained run's output directory or a hub "
            "id (owner/name)"
        )
    target = Path(output).expanduser()
    if target.is_dir():
        raise ConfigError(f"--output {output!r} is a directory; expected a JSON file path")
    rundir.check_writable_dir(target.parent, "--output")
    if target.exists() and not os.access(target, os.W_OK):
        raise ConfigError(f"--output {output!r} is read-only; expected a file this process can write")


def evaluate_model(cfg: TrainConfig, model_path: str, output: str) -> dict[str, Any]:
    """modomodo-eval: load a model and its processor, evaluate, write JSON (atomically)."""
    from modomodo.train.models import load_pretrained

    check_eval_args(model_path, output)
    try:
        model, processor = load_pretrained(model_path)
    except OSError as exc:  # transformers: not found locally, nor on the hub (or offline)
        raise ConfigError(f"--model {model_path!r}: cannot load it ({str(exc).splitlines()[0]})") from None
    domains = load_domains(cfg.eval_specs, desc="eval data")
    result = run_eval(cfg, model, processor, domains, desc="eval")
    result["model"] = model_path
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output, json.dumps(result, indent=1, default=str))
    return result


# -- summary ----------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _window_stats(values: list[float], k: int) -> dict[str, Any]:
    import numpy as np

    v = np.asarray(values, dtype=float)
    first, last = v[:k], v[-k:]
    out: dict[str, Any] = {"start": float(first.mean()), "end": float(last.mean()), "window": int(k)}
    # Step-to-step noise: the spread of single-step means around their window's mean.
    resid = np.concatenate([first - first.mean(), last - last.mean()])
    noise = float(np.sqrt((resid**2).sum() / max(1, resid.size - 2)))
    se = noise * math.sqrt(2.0 / k)
    out.update(
        delta=out["end"] - out["start"],
        step_noise_std=noise,
        delta_standard_error=se,
        delta_in_standard_errors=(out["end"] - out["start"]) / se if se > 0 else None,
    )
    return out


def summarize(records: list[dict[str, Any]], domains: Sequence[str]) -> dict[str, Any]:
    """Reward start/end (means over the first and last windows of logged steps) overall and
    per domain, with the step-to-step noise."""
    steps = [r for r in records if "reward" in r and r.get("reward") is not None]
    out: dict[str, Any] = {"steps": max((r["step"] for r in records), default=0)}
    if not steps:
        return out
    k = max(1, min(10, len(steps) // 4))
    out["reward"] = _window_stats([r["reward"] for r in steps], k)
    per: dict[str, Any] = {}
    for d in domains:
        vals = [float(r[f"domain/{d}/reward"]) for r in steps if r.get(f"domain/{d}/reward") is not None]
        if vals:
            kd = max(1, min(10, len(vals) // 4))
            st = _window_stats(vals, kd)
            per[d] = {key: st[key] for key in ("start", "end", "delta", "window")}
            last = [r for r in steps if r.get(f"domain/{d}/draws") is not None]
            if last:
                per[d]["draws"] = int(last[-1][f"domain/{d}/draws"])
            # The mean of the format reward is its pass rate (domains whose rewards list it).
            fmt = [float(r[f"routed/{d}/format"]) for r in steps if r.get(f"routed/{d}/format") is not None]
            if fmt:
                per[d]["format_pass_end"] = sum(fmt[-kd:]) / len(fmt[-kd:])
    out["per_domain"] = per
    return out


def plot_curves(
    records: list[dict[str, Any]],
    maxima: dict[str, float],
    path: Path,
    evaluation: EvalScores | None = None,
) -> None:
    """The mean training reward against step; each domain's training reward as a fraction of
    its maximum (`maxima`: domain -> its largest total reward; moving means); in an adaptive
    run (the records log `mixture/weight/<d>`), the weights as a stacked area over steps;
    and, with an `evaluation`, each benchmark's score before and after RL with its standard
    error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    def smooth(y: np.ndarray, w: int) -> np.ndarray:
        if len(y) < w or w <= 1:
            return y
        return np.convolve(y, np.ones(w) / w, mode="valid")

    weighted = [r for r in records if any(f"mixture/weight/{d}" in r for d in maxima)]
    panels = 2 + (evaluation is not None) + bool(weighted)
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4.8))
    steps = [r for r in records if r.get("reward") is not None]
    w = max(1, len(steps) // 15)
    if steps:
        x = np.array([r["step"] for r in steps], dtype=float)
        y = np.array([r["reward"] for r in steps], dtype=float)
        axes[0].plot(x, y, color="0.75", lw=0.8, label="per step")
        axes[0].plot(
            x[w - 1 :] if len(y) >= w else x, smooth(y, w), color="C0", lw=2, label=f"moving mean ({w})"
        )
    axes[0].set(title="mean training reward", xlabel="step", ylabel="reward")
    axes[0].legend()
    for i, (d, top) in enumerate(maxima.items()):
        pts = [(r["step"], r[f"domain/{d}/reward"]) for r in steps if r.get(f"domain/{d}/reward") is not None]
        if not pts:
            continue
        x = np.array([p[0] for p in pts], dtype=float)
        y = np.array([p[1] for p in pts], dtype=float) / top
        axes[1].plot(x[w - 1 :] if len(y) >= w else x, smooth(y, w), lw=1.6, label=d, color=f"C{i % 10}")
    axes[1].set(
        title=f"training reward per domain / its maximum (moving mean of {w})",
        xlabel="step",
        ylabel="fraction of the maximum",
        ylim=(0, 1.05),
    )
    axes[1].legend(fontsize=8, ncol=2, loc="upper left")
    if weighted:
        plot_weights(axes[2], weighted, list(maxima))
    if evaluation is not None:
        plot_scores(axes[-1], evaluation)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_weights(ax, records: list[dict[str, Any]], domains: Sequence[str]) -> None:
    """The adaptive mixture: each domain's weight (`mixture/weight/<d>`) stacked over steps."""
    import numpy as np

    x = np.array([r["step"] for r in records], dtype=float)
    y = np.array([[float(r.get(f"mixture/weight/{d}") or 0.0) for r in records] for d in domains])
    colors = [f"C{i % 10}" for i in range(len(domains))]
    ax.stackplot(x, y, labels=list(domains), colors=colors, alpha=0.85)
    ax.set(title="adaptive mixture weights", xlabel="step", ylabel="weight", ylim=(0, 1))
    ax.legend(fontsize=8, ncol=2, loc="upper left")


def plot_scores(ax, evaluation: EvalScores) -> None:
    """Bars of each benchmark's score (then In- and Out-Score) before and after RL, ± 1 SE."""
    import numpy as np

    after, before = evaluation, evaluation.before
    labels = [f"{name}\n({b.role})" for name, b in after.benchmarks.items()] + ["In-Score", "Out-Score"]

    def values(e: EvalScores | None) -> tuple[list[float], list[float]]:
        if e is None:
            return [np.nan] * len(labels), [0.0] * len(labels)
        bench = [e.benchmarks.get(name) for name in after.benchmarks]
        scores = [np.nan if b is None else b.score for b in bench] + [
            np.nan if v is None else v for v in (e.in_score, e.out_score)
        ]
        errors = [b.standard_error if b is not None else None for b in bench]
        errors += [e.in_standard_error, e.out_standard_error]
        return scores, [0.0 if v is None else v for v in errors]

    x = np.arange(len(labels))
    for offset, e, name, color in ((-0.2, before, "before RL", "0.6"), (0.2, after, "after RL", "C0")):
        scores, errors = values(e)
        ax.bar(x + offset, scores, 0.4, yerr=errors, capsize=3, label=name, color=color)
    ax.axvline(len(labels) - 2.5, color="0.3", lw=0.8, ls=":")
    ax.set_xticks(x, labels, fontsize=7, rotation=30, ha="right")
    ax.set(title="greedy evaluation (± 1 standard error)", ylabel="score", ylim=(0, 1.05))
    ax.legend(fontsize=8)


# -- the dry run --------------------------------------------------------------------------------


def check_data(specs: Sequence[Any]) -> list[str]:
    """Problems with the local data the specs name, each once: a path that does not exist, a
    column the spec maps that the source lacks (read from its first rows only). Hub sources
    are not fetched."""
    from modomodo.data.loading import _FILE_BUILDERS  # the file types load_domain reads

    problems = []
    for spec in specs:
        path = Path(spec.source).expanduser()
        local = (
            path.exists() or spec.source.startswith((".", "/", "~")) or path.suffix.lower() in _FILE_BUILDERS
        )
        if spec.is_synthetic or not local:
            continue
        if not path.exists():
            problems.append(f"domain {spec.name!r}: data path {spec.source!r} does not exist")
            continue
        if spec.image_root and not Path(spec.image_root).expanduser().is_dir():
            problems.append(f"domain {spec.name!r}: image_root {spec.image_root!r} is not a directory")
        try:
            columns = _first_columns(path, spec.split, _FILE_BUILDERS)
        except Exception as exc:  # datasets raises many types; name the domain and the source
            problems.append(f"domain {spec.name!r}: cannot read {spec.source!r}: {type(exc).__name__}: {exc}")
            continue
        needed = [*spec.columns.values(), *([spec.explode] if spec.explode else []), *spec.keep_if]
        missing = [c for c in dict.fromkeys([*needed, *(spec.keep_columns or ())]) if c not in columns]
        if missing:
            problems.append(
                f"domain {spec.name!r}: column(s) {missing} mapped by the spec are not in {spec.source!r} "
                f"(split {spec.split!r}); its columns are {columns}"
            )
    return list(dict.fromkeys(problems))


def _first_columns(path: Path, split: str, builders: dict[str, str]) -> list[str]:
    """The column names of a local source, from its metadata or its first row."""
    import datasets

    if path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists()):
        loaded = datasets.load_from_disk(str(path))  # memory-mapped: only the metadata is read
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise ValueError(f"split {split!r} not found; it has {list(loaded)}")
            loaded = loaded[split]
        return list(loaded.column_names)
    if path.is_file():
        if path.suffix.lower() not in builders:
            raise ValueError(f"unknown file type; expected one of {sorted(builders)}")
        stream = datasets.load_dataset(
            builders[path.suffix.lower()], data_files={split: str(path)}, split=split, streaming=True
        )
    else:
        stream = datasets.load_dataset(str(path), split=split, streaming=True)
    first = next(iter(stream), None)
    if first is None:
        raise ValueError("it has no rows")
    return list(first)


def dry_run(cfg: TrainConfig) -> dict[str, Any]:
    """Everything up to fetching the model: config, GRPO settings, local data, specs, rewards,
    trainer class, the checkpoint a resume would use."""
    import torch

    from modomodo.data import reward_spec
    from modomodo.rewards.trl import routed
    from modomodo.train.trainer import ModomodoGRPOTrainer

    notes = []
    if not torch.cuda.is_available() and (cfg.grpo.get("bf16") or cfg.grpo.get("fp16")):
        # TrainingArguments refuses half precision without a GPU: check the rest here.
        notes.append("bf16/fp16 need a GPU, which this machine lacks: the rest was checked without them")
        grpo = cfg.grpo_config(bf16=False, fp16=False)
    else:
        grpo = cfg.grpo_config()
    problems = check_data([*cfg.train_specs, *cfg.eval_specs, *cfg.target_specs])
    if problems:
        raise ConfigError("the data the config names does not fit its specs:\n  " + "\n  ".join(problems))
    # BMAS needs the policy's embeddings; a stand-in checks the rest of the spec now.
    routed(
        reward_spec(cfg.train_specs), embedder=lambda text: __import__("numpy").zeros((1, 1), dtype="float32")
    )
    backend = loss_backend(cfg, grpo)
    report: dict[str, Any] = {
        "config": cfg.source,
        "model": cfg.run.model,
        "trainer": [c.__name__ for c in ModomodoGRPOTrainer.__mro__[:3]],
        "loss_backend": backend,
        "train_domains": {
            s.name: {"source": s.source, "rewards": s.reward_config()} for s in cfg.train_specs
        },
        "weights": cfg.mixture_weights(),
        "eval_domains": {s.name: s.role for s in cfg.eval_specs},
        "grpo": {k: getattr(grpo, k) for k in REPORTED_GRPO},
        "bf16": bool(cfg.grpo.get("bf16", False)),
        "notes": notes,
    }
    if cfg.run.adaptive:
        from modomodo.mixture.policies import make_policy

        options = cfg.run.mixture_policy_options(grpo.seed)
        make_policy(cfg.run.mixture_policy, cfg.train_domains, **options)  # its checks, now
        report["mixture_policy"] = {"policy": cfg.run.mixture_policy, **options}
        if cfg.target_specs:
            report["mixture_target_rows"] = {s.name: s.n for s in cfg.target_specs}
    if cfg.run.resume:
        checkpoint, invalid, changes = rundir.check_resume(cfg)
        report["resume_from"] = checkpoint.name
        report["skipped_checkpoints"] = {p.name: why for p, why in invalid}
        report["config_changes"] = changes
    report["status"] = "ok: validated; the model is not fetched in a dry run"
    return report


REPORTED_GRPO = (
    "learning_rate",
    "beta",
    "num_generations",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "generation_batch_size",
    "steps_per_generation",
    "max_steps",
    "max_completion_length",
    "use_vllm",
    "seed",
    "output_dir",
)


def loss_backend(cfg: TrainConfig, grpo) -> str:
    """`trl` or the grpo_loss backend this run trains with (see `resolve_loss_backend`)."""
    from modomodo.train.trainer import resolve_loss_backend

    try:
        return resolve_loss_backend(cfg.run.loss_backend, grpo)
    except ValueError as err:
        raise ConfigError(f"config key 'loss_backend': {err}") from None


# -- the run ------------------------------------------------------------------------------------


@contextlib.contextmanager
def timed(timings: dict[str, float], key: str) -> Iterator[None]:
    t = time.perf_counter()
    yield
    timings[key] = time.perf_counter() - t


@dataclass
class Setup:
    """What GRPO starts from: the data, the model (warm-started), the evaluation before RL."""

    train: list[tuple[Any, Any]]
    evals: list[tuple[Any, Any]]
    model: Any
    processor: Any
    warm: dict[str, Any] | None
    eval_before: dict[str, Any] | None
    targets: list[tuple[Any, Any]] = dataclasses.field(default_factory=list)  # the `target` policy's rows


def run(cfg: TrainConfig, *, callbacks: Sequence[Any] = ()) -> dict[str, Any] | None:
    """Train (or resume) the run of `cfg`; returns its summary on the main process."""
    from accelerate import PartialState

    t0 = time.perf_counter()
    grpo = cfg.grpo_config()
    backend = loss_backend(cfg, grpo)
    state = PartialState()
    main = state.is_main_process
    with rundir.run_lock(cfg.output_dir) if main else contextlib.nullcontext():
        if main:
            rundir.start(cfg)
        state.wait_for_everyone()
        checkpoint = rundir.newest_valid_checkpoint(cfg.output_dir)[0] if cfg.run.resume else None
        timings: dict[str, float] = {}
        with timed(timings, "setup"):
            setup = prepare(cfg, grpo, state, resumed=checkpoint is not None, timings=timings)
        trainer = build_trainer(cfg, grpo, backend, setup, callbacks)
        progress_bar_only(trainer)
        if checkpoint is not None:
            trainer.load_modomodo_state(checkpoint)
            log.info("resuming from %s", checkpoint)
        with timed(timings, "grpo"):
            if checkpoint is not None and 0 < grpo.max_steps <= rundir.step_of(checkpoint):
                finished_at(trainer, checkpoint)
            else:
                trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint is not None else None)
        if trainer.interrupt.interrupted:
            if main:
                log.warning(
                    "interrupted at step %d: checkpoint saved in %s",
                    trainer.state.global_step,
                    cfg.output_dir,
                )
                write_summary(cfg, trainer, setup, None, timings, interrupted=True)
            raise KeyboardInterrupt
        trainer.save_model(str(cfg.output_dir))
        eval_after = None
        if setup.evals and main:
            with timed(timings, "eval_after"):
                eval_after = run_eval(
                    cfg,
                    trainer.model,
                    setup.processor,
                    setup.evals,
                    desc="eval after RL",
                    rows_path=cfg.output_dir / AFTER_ROWS,
                )
        state.wait_for_everyone()
        if not main:
            return None
        timings["total"] = time.perf_counter() - t0
        return write_summary(cfg, trainer, setup, eval_after, timings, interrupted=False)


def finished_at(trainer, checkpoint: Path) -> None:
    """A run killed after its last step resumes from the final checkpoint: its weights and
    state, no further step (transformers' Trainer, resumed there, would train one more)."""
    from transformers import TrainerState

    trainer._load_from_checkpoint(str(checkpoint))
    trainer.state = TrainerState.load_from_json(str(checkpoint / "trainer_state.json"))


def prepare(cfg: TrainConfig, grpo, state, *, resumed: bool, timings: dict[str, float]) -> Setup:
    """Data, model, warm start, evaluation before RL, KL reference, vision freezing."""
    from modomodo.train.models import freeze_vision

    out, main = cfg.output_dir, state.is_main_process
    progress = not grpo.disable_tqdm and main
    train = load_domains(cfg.train_specs, desc="training data", progress=progress)
    evals = load_domains(cfg.eval_specs, desc="evaluation data", progress=progress) if cfg.run.eval else []
    # The tiny tokenizer learns from the training data only, so that switching evaluation
    # on or off (or changing the benchmarks) keeps the same model and warm-start cache.
    model, processor = build_model(cfg, [d for _, d in train])
    log.info("model %s: %s parameters", cfg.run.model, f"{sum(p.numel() for p in model.parameters()):,}")
    warm = None
    if cfg.run.warmstart_steps > 0:
        with timed(timings, "warm_start"):
            model, warm = warm_start(cfg, model, processor, train, progress=progress)

    before_path = out / "eval_before.json"
    eval_before = None
    if evals and cfg.run.eval_before:
        if resumed and before_path.exists():
            eval_before = json.loads(before_path.read_text())
        elif main:
            with timed(timings, "eval_before"):
                eval_before = run_eval(
                    cfg, model, processor, evals, desc="eval before RL", rows_path=out / BEFORE_ROWS
                )
            atomic_write_text(before_path, json.dumps(eval_before, indent=1))
        state.wait_for_everyone()

    if grpo.beta != 0.0 and (cfg.run.model == TINY or warm is not None):
        # TRL builds the KL reference from `config._name_or_path`: a model built here or
        # warm-started has no such source, so the starting weights are saved for it.
        ref_dir = out / "reference_model"
        if main and not (ref_dir / "config.json").exists():
            save_atomically(model, ref_dir)
        state.wait_for_everyone()
        model.config._name_or_path = str(ref_dir)

    frozen = freeze_vision(model) if cfg.run.freeze_vision else 0
    if frozen:
        log.info("vision tower frozen: %s parameters", f"{frozen:,}")
    targets = (
        load_domains(cfg.target_specs, desc="target rows", progress=progress) if cfg.target_specs else []
    )
    return Setup(train, evals, model, processor, warm, eval_before, targets)


def save_atomically(model, folder: Path) -> None:
    """`save_pretrained` into a temporary sibling, then one rename: never half a model."""
    tmp = folder.with_name(f".{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def progress_bar_only(trainer) -> None:
    """The trainer's progress bar without the metric dict it writes under the bar at each
    log (transformers' ProgressCallback; PrinterCallback prints them when tqdm is disabled):
    the logs go to metrics.jsonl, the console keeps the bar."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class BarOnly(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            pass

    trainer.pop_callback(PrinterCallback)
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(BarOnly())


def build_trainer(cfg: TrainConfig, grpo, backend: str, setup: Setup, callbacks: Sequence[Any]):
    from modomodo.data import reward_spec
    from modomodo.train.trainer import make_trainer

    out = cfg.output_dir
    policy = None
    if cfg.run.adaptive:
        from modomodo.mixture.policies import make_policy

        options = cfg.run.mixture_policy_options(grpo.seed)
        policy = make_policy(cfg.run.mixture_policy, cfg.train_domains, **options)
    return make_trainer(
        model=setup.model,
        processor=setup.processor,
        train_dataset=training_set(setup.train),
        reward_spec=reward_spec(cfg.train_specs),
        args=grpo,
        weights=cfg.mixture_weights(),
        domain_sizes={s.name: len(d) for s, d in setup.train},
        on_exhausted=cfg.run.on_exhausted,
        replacement=cfg.run.replacement,
        loss_backend=backend,
        linear_logps=cfg.run.linear_logps,
        data_engine=cfg.run.data_engine,
        metrics_path=out / "metrics.jsonl",
        draws_path=out / "draws.jsonl",
        callbacks=callbacks,
        mixture_policy=policy,
        target_domains=setup.targets,
        target_max_new_tokens=cfg.run.eval_max_new_tokens,
        target_batch_size=cfg.run.eval_batch_size,
    )


def write_summary(cfg: TrainConfig, trainer, setup: Setup, eval_after, timings, *, interrupted: bool):
    out = cfg.output_dir
    records = read_jsonl(out / "metrics.jsonl")
    stats = summarize(records, cfg.train_domains)
    weights_final, weights_mean = adaptive_weights(records, cfg.train_domains)
    summary = RunSummary(
        steps=int(trainer.state.global_step),
        interrupted=interrupted,
        weights=cfg.mixture_weights(),
        weights_final=weights_final,
        weights_mean=weights_mean,
        loss_backend=cfg.run.loss_backend,
        reward=stats.get("reward"),
        per_domain=stats.get("per_domain", {}),
        warm_start=setup.warm,
        data_engine=dict(trainer.data_engine_counts) if cfg.run.data_engine else None,
        seconds=timings,
    )
    before = (
        None
        if setup.eval_before is None
        else EvalScores.from_json(setup.eval_before, "eval before RL").brief()
    )
    if eval_after is not None:
        after = EvalScores.from_json(eval_after, "eval after RL").brief()
        change = None
        if before is not None and (out / BEFORE_ROWS).exists():
            roles = {s.name: s.role for s in cfg.eval_specs}
            change = eval_change(read_jsonl(out / BEFORE_ROWS), read_jsonl(out / AFTER_ROWS), roles)
        summary.eval = dataclasses.replace(after, before=before, change=change)
    else:
        summary.eval_before = before
    if cfg.run.plot and records:
        from modomodo.rewards.registry import max_total

        png = out / "reward_curves.png"
        plot_curves(records, {s.name: max_total(s.rewards) for s in cfg.train_specs}, png, summary.eval)
        summary.plot = png.name
    summary.write(out / "summary.json")
    return summary.to_json()
