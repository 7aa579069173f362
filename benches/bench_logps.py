"""Benchmark of `modomodo.loss.linear_logps` + `grpo_loss`: from the last hidden states to the
GRPO loss, forward + backward, against the logits path TRL's GRPOTrainer took.

Workload: the lm-heads of Qwen2-VL-2B (hidden 1536) and Qwen2.5-VL-3B (hidden 2048), both
with a 151,936-token vocabulary, on 4,096 completion tokens (8 completions of 512 tokens,
one group), float32 on the CPU; per-token log-probs and entropies (the trainer logs the
mean entropy), then the loss of `bench_loss.py` (dapo, token level, beta 0.04, old and
reference log-probs), and its backward to the hidden states and the head's weight.

Variants, measured in the same run:
- "TRL logits" (the baseline of the acceptance lines): TRL's GRPOTrainer before its fused
  head, line for line: `logits = hidden @ weight.T`, `logits / temperature`,
  `trl.trainer.utils.selective_log_softmax(logits, ids)`, entropies by
  `entropy_from_logits` under `no_grad`, then TRL's loss (`bench_loss.trl_eager`).
- "modomodo": `linear_logps(..., return_entropy=True, backend="torch")` (one chunk of
  logits at a time, the default chunk) then `grpo_loss(backend="torch")`.
- "TRL 1.16 fused head": what TRL 1.16's trainer runs since it patches the model with
  `add_fused_lm_head`: `trl.kernels.ChunkedLogProbFunction` (tiles of 4,096 tokens x 32,768
  vocabulary columns, online log-sum-exp) with log-probs and entropies, then TRL's loss.
  Shown for information with --with-trl-fused (it adds a third run per head).

CPU: each variant runs in a fresh Python process (warm-up on a tiny head first), once,
with OMP_WAIT_POLICY=PASSIVE. Time: the CPU time of the process during the one forward +
backward (`time.process_time`, all threads), which is what the ratios use, because on a
machine shared with other jobs the wall time mostly measures the others; the wall time is
printed beside it. Memory: the peak resident-set growth during the call (`_memory.py`:
VmHWM after minus VmRSS before, the high-water mark reset through /proc/self/clear_refs).
The losses and gradient norms of the variants are checked to agree before any ratio is
printed. --repeats N runs each variant N times (fresh processes, interleaved) and keeps
the fastest.

CUDA (needs a GPU; here it prints that none is present): bf16 head and hidden states;
modomodo's Triton path (`backend="triton"` for both calls) against TRL logits (as above, in
bf16) and Liger-Kernel's `LigerFusedLinearGRPOLoss` (when installed), time by
`triton.testing.do_bench` and memory by `torch.cuda.max_memory_allocated` above what was
allocated before the call.

Usage: python benches/bench_logps.py [--quick] [--repeats N] [--with-trl-fused]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch
from _memory import peak_rss_growth
from bench_loss import BETA, EPS_HIGH, EPS_LOW, GROUP_SIZE, trl_eager
from bench_loss import make_inputs as make_loss_inputs

from modomodo.loss import grpo_loss, linear_logps

VOCAB = 151_936
HEADS = {"Qwen2-VL-2B": 1536, "Qwen2.5-VL-3B": 2048}
COMPLETIONS, LENGTH = 8, 512  # 4,096 tokens, one group of 8
QUICK = {"vocab": 8192, "heads": {"tiny-96": 96, "tiny-128": 128}, "length": 64}
TEMPERATURE = 1.0
TARGET_MEMORY, TARGET_TIME = 0.25, 1.3  # modomodo / TRL logits, at most


def make_inputs(hidden_size: int, vocab: int, length: int, device="cpu", dtype=torch.float32, seed=0) -> dict:
    """Hidden states, an lm-head whose logits spread over a few units, sampled ids, and the
    loss inputs of bench_loss (rewards, mask, old and reference log-probs)."""
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(COMPLETIONS, length, hidden_size, generator=g)
    weight = torch.randn(vocab, hidden_size, generator=g) * (2.0 / hidden_size**0.5)
    ids = torch.randint(0, vocab, (COMPLETIONS, length), generator=g)
    inputs = make_loss_inputs(COMPLETIONS, length, seed=seed)
    del inputs["logps"]
    inputs.update(hidden=hidden.to(dtype), weight=weight.to(dtype), ids=ids)
    return {k: v.to(device) for k, v in inputs.items()}


# ---------------------------------------------------------------------------------------
# The variants: hidden states -> loss, forward + backward.
# ---------------------------------------------------------------------------------------


def trl_logits(hidden, weight, ids, inputs):
    """TRL's GRPOTrainer before the fused head (`_get_per_token_logps_and_entropies` with
    `compute_entropy=True`), then its loss."""
    from trl.trainer.utils import entropy_from_logits, selective_log_softmax

    logits = hidden @ weight.t()  # the model's lm_head
    logits = logits / TEMPERATURE
    logps = selective_log_softmax(logits, ids)
    with torch.no_grad():
        entropies = entropy_from_logits(logits)
    loss, _ = trl_eager(logps, inputs["rewards"], inputs["mask"], inputs["old"], inputs["ref"])
    return loss, entropies


def trl_fused_head(hidden, weight, ids, inputs):
    """TRL 1.16's `add_fused_lm_head` path: its chunked log-prob function, then its loss."""
    from trl.kernels import ChunkedLogProbFunction
    from trl.trainer.utils import _CHUNKED_LOGPROB_CHUNK_SIZE

    logps, entropies, *_ = ChunkedLogProbFunction.apply(
        hidden.reshape(-1, hidden.shape[-1]), weight, None, ids.reshape(-1), TEMPERATURE,
        _CHUNKED_LOGPROB_CHUNK_SIZE, None, 1.0, ("log_probs", "entropy"),
    )  # fmt: skip
    loss, _ = trl_eager(
        logps.view(ids.shape), inputs["rewards"], inputs["mask"], inputs["old"], inputs["ref"]
    )
    return loss, entropies.detach().view(ids.shape)


def modomodo(backend):
    def run(hidden, weight, ids, inputs):
        logps, entropies = linear_logps(
            hidden, weight, ids, temperature=TEMPERATURE, return_entropy=True, backend=backend
        )
        out = grpo_loss(
            logps, inputs["rewards"], inputs["mask"], group_size=GROUP_SIZE, old_logps=inputs["old"],
            ref_logps=inputs["ref"], beta=BETA, epsilon_low=EPS_LOW, epsilon_high=EPS_HIGH,
            loss_type="dapo", backend=backend,
        )  # fmt: skip
        out.loss.backward()
        return out.loss, entropies.detach()

    return run


VARIANTS = {"trl-logits": trl_logits, "modomodo": modomodo("torch"), "trl-fused-head": trl_fused_head}


def call(variant, inputs):
    """One forward + backward from fresh leaves; returns the loss, the mean entropy and the
    gradient norms (to check that the variants compute the same thing)."""
    hidden = inputs["hidden"].detach().requires_grad_(True)
    weight = inputs["weight"].detach().requires_grad_(True)
    loss, entropies = variant(hidden, weight, inputs["ids"], inputs)
    return {
        "loss": loss.item(),
        "entropy": entropies.float().mean().item(),
        "grad_hidden": hidden.grad.float().norm().item(),
        "grad_weight": weight.grad.float().norm().item(),
    }


# ---------------------------------------------------------------------------------------
# CPU
# ---------------------------------------------------------------------------------------


def child(name: str, hidden_size: int, vocab: int, length: int) -> None:
    """Runs in a fresh process: one timed forward + backward; prints JSON."""
    variant = VARIANTS[name]
    import trl.kernels  # imports are not the computation's memory
    import trl.trainer.utils  # noqa: F401

    call(variant, make_inputs(16, 64, 8))  # warm-up: thread pools, dispatch caches
    inputs = make_inputs(hidden_size, vocab, length)

    def timed():
        wall, cpu = time.perf_counter(), time.process_time()
        checks = call(variant, inputs)
        return time.process_time() - cpu, time.perf_counter() - wall, checks

    (seconds, wall, checks), peak = peak_rss_growth(timed)
    print(json.dumps({"seconds": seconds, "wall_seconds": wall, "peak_bytes": peak, **checks}))


def run_child(name: str, hidden_size: int, vocab: int, length: int) -> dict:
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--_child",
        name,
        str(hidden_size),
        str(vocab),
        str(length),
    ]
    # Idle OpenMP threads sleep rather than spin, so that CPU time counts work only.
    proc = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{name} (H={hidden_size}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_same_quantity(results: dict, head: str) -> None:
    base = results["trl-logits"]
    for name, r in results.items():
        for key in ("loss", "entropy", "grad_hidden", "grad_weight"):
            if abs(r[key] - base[key]) > 1e-4 * abs(base[key]) + 1e-6:
                raise AssertionError(f"{head}: {name} gives {key}={r[key]!r}, TRL logits {base[key]!r}")


def cpu_section(heads: dict, vocab: int, length: int, repeats: int, names: list[str]) -> list[dict]:
    tokens = COMPLETIONS * length
    print(
        f"== CPU: {tokens} tokens ({COMPLETIONS} x {length}), vocabulary {vocab}, float32, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    print("   one forward + backward per fresh process; time: CPU seconds of the process (fastest of")
    print("   --repeats), wall seconds beside it; memory: peak resident-set growth during the call (MiB)")
    header = f"{'head':<14} {'variant':<15} | {'CPU s':>7} {'x TRL':>6} {'wall s':>7} | {'peak MiB':>8} {'x TRL':>6}"
    print(header)
    print("-" * len(header))
    rows = []
    for head, hidden_size in heads.items():
        results: dict[str, dict] = {}
        for _ in range(repeats):
            for name in names:
                r = run_child(name, hidden_size, vocab, length)
                if name not in results or r["seconds"] < results[name]["seconds"]:
                    results[name] = {**r, "peak_bytes": results.get(name, r)["peak_bytes"]}
        check_same_quantity(results, head)
        base = results["trl-logits"]
        for name in names:
            r = results[name]
            mem = r["peak_bytes"] / 2**20 if r["peak_bytes"] is not None else None
            base_mem = base["peak_bytes"] / 2**20 if base["peak_bytes"] is not None else None
            mem_ratio = mem / base_mem if mem is not None and base_mem else None
            time_ratio = r["seconds"] / base["seconds"]
            print(
                f"{head:<14} {name:<15} | {r['seconds']:>7.1f} {time_ratio:>5.2f}x {r['wall_seconds']:>7.1f} | "
                f"{(f'{mem:.0f}' if mem is not None else 'n/a'):>8} "
                f"{(f'{mem_ratio:.2f}x' if mem_ratio is not None else 'n/a'):>6}"
            )
            rows.append({"head": head, "variant": name, "time_ratio": time_ratio, "memory_ratio": mem_ratio})
    print("   x TRL = variant / TRL logits (below 1: faster / smaller)")
    for row in rows:
        if row["variant"] != "modomodo":
            continue
        mem_ok = row["memory_ratio"] is not None and row["memory_ratio"] <= TARGET_MEMORY
        time_ok = row["time_ratio"] <= TARGET_TIME
        print(
            f"   {row['head']}: memory {row['memory_ratio'] or float('nan'):.2f}x of TRL "
            f"(target <= {TARGET_MEMORY}): {'met' if mem_ok else 'NOT met'}; time {row['time_ratio']:.2f}x "
            f"(target <= {TARGET_TIME}): {'met' if time_ok else 'NOT met'}"
        )
    return rows


# ---------------------------------------------------------------------------------------
# CUDA
# ---------------------------------------------------------------------------------------


def _cuda_peak_mib(fn) -> float:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def _liger_loss():
    try:
        from liger_kernel.chunked_loss import LigerFusedLinearGRPOLoss
    except ImportError:
        return None
    return LigerFusedLinearGRPOLoss(
        beta=BETA, use_ref_model=False, epsilon_low=EPS_LOW, epsilon_high=EPS_HIGH, loss_type="dapo",
        temperature=TEMPERATURE,
    )  # fmt: skip


def cuda_section(heads: dict, vocab: int, length: int) -> None:
    if not torch.cuda.is_available():
        print(
            "== CUDA: no GPU present (torch.cuda.is_available() is False); Triton, TRL and Liger timings skipped"
        )
        return
    from triton.testing import do_bench
    from trl.trainer.utils import nanstd

    liger = _liger_loss()
    print(
        f"== CUDA: {torch.cuda.get_device_name()}, bf16 head, {COMPLETIONS * length} tokens, vocabulary {vocab}"
    )
    print(
        "   time: triton.testing.do_bench (ms); memory: torch.cuda.max_memory_allocated above the inputs (MiB)"
    )
    if liger is None:
        print(
            "   Liger-Kernel is not installed: `pip install liger-kernel` to add its fused linear GRPO loss"
        )
    header = f"{'head':<14} | {'modomodo ms':>11} {'TRL ms':>8} {'Liger ms':>8} | {'modomodo MiB':>12} {'TRL MiB':>8} {'Liger MiB':>9}"
    print(header)
    print("-" * len(header))
    for head, hidden_size in heads.items():
        inputs = make_inputs(hidden_size, vocab, length, device="cuda", dtype=torch.bfloat16)
        fns = {
            "modomodo": lambda: call(modomodo("triton"), inputs),
            "trl": lambda: call(trl_logits, inputs),
        }
        if liger is not None:

            def run_liger():
                # Liger takes advantages: TRL's advantage code first, as bench_loss does.
                rewards = inputs["rewards"]
                mean = torch.nanmean(rewards.view(-1, GROUP_SIZE), 1).repeat_interleave(GROUP_SIZE)
                std = nanstd(rewards.view(-1, GROUP_SIZE), dim=1).repeat_interleave(GROUP_SIZE)
                advantages = torch.nan_to_num((rewards - mean) / (std + 1e-4), nan=0.0)
                hidden = inputs["hidden"].detach().requires_grad_(True)
                weight = inputs["weight"].detach().requires_grad_(True)
                loss, _ = liger(
                    hidden, weight, inputs["ids"], inputs["mask"], advantages,
                    ref_per_token_logps=inputs["ref"], old_per_token_logps=inputs["old"],
                )  # fmt: skip
                loss.backward()
                return loss

            fns["liger"] = run_liger
        ms, mib = {}, {}
        for name, fn in fns.items():
            try:
                ms[name] = do_bench(fn)
                mib[name] = _cuda_peak_mib(fn)
            except Exception as exc:  # e.g. a Liger version with another signature: say so, go on
                print(f"   {head} {name} failed: {type(exc).__name__}: {exc}")
        cells = [f"{ms[k]:>8.2f}" if k in ms else f"{'n/a':>8}" for k in ("modomodo", "trl", "liger")]
        mems = [f"{mib[k]:>8.0f}" if k in mib else f"{'n/a':>8}" for k in ("modomodo", "trl", "liger")]
        print(f"{head:<14} | {cells[0]:>11} {cells[1]} {cells[2]} | {mems[0]:>12} {mems[1]} {mems[2]:>9}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny heads and vocabulary (a smoke run)")
    parser.add_argument("--repeats", type=int, default=1, help="fresh runs per variant; the fastest counts")
    parser.add_argument("--with-trl-fused", action="store_true", help="add TRL 1.16's fused head")
    parser.add_argument("--_child", nargs=4, metavar=("VARIANT", "H", "V", "T"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._child:
        name, hidden_size, vocab, length = args._child
        child(name, int(hidden_size), int(vocab), int(length))
        return
    if args.quick:
        heads, vocab, length = QUICK["heads"], QUICK["vocab"], QUICK["length"]
    else:
        heads, vocab, length = HEADS, VOCAB, LENGTH
    names = ["trl-logits", "modomodo"] + (["trl-fused-head"] if args.with_trl_fused else [])
    cpu_section(heads, vocab, length, max(1, args.repeats), names)
    cuda_section(heads, vocab, length)


if __name__ == "__main__":
    main()
