"""Short training runs of `ModomodoGRPOTrainer` on a tiny text model, once with TRL's own loss and
once with each grpo_loss backend, from the same seed: what test_loss_trl.py (one process,
buffered generations and accumulation) and test_train_distributed.py (two processes under
`accelerate launch`, this file run as a script) compare step for step.

As a script: `python loss_runs.py MODEL_DIR OUT.json CASES_JSON`, CASES_JSON a list of
`{"loss_backend": ..., **GRPOConfig options}`; rank 0 writes the list of results to OUT.json.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

# Logged per step by the loss (TRL's names), compared across backends.
LOSS_METRICS = ("loss", "grad_norm", "entropy", "kl", "clip_ratio/low_mean", "clip_ratio/low_min",
                "clip_ratio/high_mean", "clip_ratio/high_max", "clip_ratio/region_mean")  # fmt: skip
# Logged per step from the generations and rewards: equal when the completions are.
GENERATION_METRICS = ("reward", "reward_std", "frac_reward_zero_std", "completions/mean_length",
                      "num_tokens", "domain/a/reward", "domain/b/reward")  # fmt: skip


def save_model(folder: Path) -> Path:
    """A tiny Qwen2 and its tokenizer, saved (TRL loads the KL reference from the path).
    Generation stops on any of 64 extra ids too, so completions have varied lengths."""
    from modomodo.tiny import build_tokenizer, tiny_text_model

    tokenizer = build_tokenizer()
    model = tiny_text_model(tokenizer, seed=0)
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, *range(300, 364)]
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _dataset():
    from datasets import Dataset

    rows = [("a", i) for i in range(12)] + [("b", i) for i in range(12)]
    return Dataset.from_dict(
        {
            "prompt": [
                [{"role": "user", "content": f"[{d}] how many squares in picture {i}?"}] for d, i in rows
            ],
            "domain": [d for d, _ in rows],
        }
    )


def distinct(completions, **kwargs):
    """Varies within a group; None (unscorable) for some completions."""
    texts = [c[0]["content"] for c in completions]
    return [None if len(t) % 7 == 0 else float(len(set(t)) % 4) for t in texts]


def length(completions, **kwargs):
    texts = [c[0]["content"] for c in completions]
    return [min(len(t), 30) / 10 for t in texts]


def run(
    model_dir: Path, output_dir: Path, *, loss_backend: str, linear_logps: bool = True, **config: Any
) -> dict[str, Any]:
    """Train; returns the per-step logs, how often grpo_loss and linear_logps ran, the backend
    the trainer resolved, and the fall-back warnings logged."""
    from transformers import AutoTokenizer
    from trl import GRPOConfig

    import modomodo.loss
    from modomodo.train.trainer import ModomodoGRPOTrainer

    calls = {"grpo_loss": 0, "linear_logps": 0}
    real_loss, real_logps = modomodo.loss.grpo_loss, modomodo.loss.linear_logps

    def counted_loss(*args, **kwargs):
        calls["grpo_loss"] += 1
        return real_loss(*args, **kwargs)

    def counted_logps(*args, **kwargs):
        calls["linear_logps"] += 1
        return real_logps(*args, **kwargs)

    warnings: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            warnings.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logging.getLogger("modomodo").addHandler(handler)
    modomodo.loss.grpo_loss, modomodo.loss.linear_logps = counted_loss, counted_logps
    try:
        args = GRPOConfig(
            output_dir=str(output_dir),
            use_cpu=True,
            max_completion_length=8,
            # SGD: Adam would turn float32 rounding differences of near-zero gradients into
            # full-size updates, and the runs would part after the first step.
            optim="sgd",
            learning_rate=config.pop("learning_rate", 0.5),
            beta=0.04,
            logging_steps=1,
            report_to="none",
            save_strategy="no",
            disable_tqdm=True,
            seed=3,
            **config,
        )
        trainer = ModomodoGRPOTrainer(
            model=str(model_dir),
            reward_funcs=[distinct, length],
            args=args,
            train_dataset=_dataset(),
            processing_class=AutoTokenizer.from_pretrained(model_dir),
            mixture_weights={"a": 0.5, "b": 0.5},
            loss_backend=loss_backend,
            linear_logps=linear_logps,
        )
        trainer.train()
    finally:
        modomodo.loss.grpo_loss, modomodo.loss.linear_logps = real_loss, real_logps
        logging.getLogger("modomodo").removeHandler(handler)
    logs = [e for e in trainer.state.log_history if "loss" in e and "train_runtime" not in e]
    return {
        "resolved": trainer.loss_backend,
        "calls": calls,
        "warnings": warnings,
        "logs": logs,
        "world_size": trainer.accelerator.num_processes,
    }


def differences(
    base: list[dict], other: list[dict], keys=LOSS_METRICS + GENERATION_METRICS
) -> dict[str, tuple]:
    """key -> (largest absolute, largest relative difference over the steps); a key logged in one
    run's step and not in the other's counts as an infinite difference."""
    assert len(base) == len(other), (len(base), len(other))
    out = {}
    for key in keys:
        worst_abs = worst_rel = 0.0
        for a, b in zip(base, other):
            x, y = a.get(key), b.get(key)
            if x is None and y is None:
                continue
            if x is None or y is None:
                worst_abs = worst_rel = float("inf")
                continue
            worst_abs = max(worst_abs, abs(x - y))
            worst_rel = max(worst_rel, abs(x - y) / max(abs(x), 1e-12))
        out[key] = (worst_abs, worst_rel)
    return out


def assert_close_runs(base: list[dict], other: list[dict], *, rtol: float, atol: float, keys=LOSS_METRICS):
    """Every key of every step within atol + rtol * |base|."""
    for step, (a, b) in enumerate(zip(base, other), start=1):
        for key in keys:
            x, y = a.get(key), b.get(key)
            assert (x is None) == (y is None), (step, key, x, y)
            if x is not None:
                assert abs(x - y) <= atol + rtol * abs(x), (step, key, x, y)


def main(model_dir: str, out: str, cases: str) -> None:
    results = []
    for i, case in enumerate(json.loads(cases)):
        results.append(run(Path(model_dir), Path(out).parent / f"run{i}", **case))
    from accelerate import PartialState

    if PartialState().is_main_process:
        Path(out).write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
