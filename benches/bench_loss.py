"""Benchmark of `modomodo.loss.grpo_loss`: time and peak memory of one forward + backward.

Workload: B·G completions in groups of G=8, completion length T, per-token log-probs in
fp32 (as TRL computes them), old and reference log-probs, 5 % unscorable (NaN) rewards,
random completion lengths; loss_type="dapo", token-level ratios, beta=0.04,
epsilon 0.2 / 0.28: TRL 1.16's defaults plus a KL term. Timed: advantages from the
rewards, the loss and its metrics, and the backward to the log-probs.

Baselines, measured in the same run:
- "TRL eager": TRL's own formulas run the way its GRPOTrainer runs them, line for line
  (`_generate_and_score_completions` from the summed rewards on, then `_compute_loss`
  and its metric logging, with TRL's own `nanstd`/`nanmin`/`nanmax`).
- CUDA only: Liger-Kernel's Triton GRPO loss (`triton_grpo_loss`, when installed), which
  takes logits and precomputed advantages, so that part compares whole "logits -> loss"
  pipelines: TRL's `selective_log_softmax` + our kernels vs Liger's fused kernel.

CPU section: `modomodo torch` (the reference path, `backend="torch"`) against TRL eager.
Time is the median of `torch.utils.benchmark`. Peak memory: each measurement runs in a fresh
Python process, which warms up on a tiny batch, builds the inputs and runs one forward +
backward; the figure is the peak resident-set growth during the call (`_memory.py` says how).

CUDA section (needs a GPU; here it reports that none is present): `triton.testing.do_bench`
for time and `torch.cuda.max_memory_allocated` minus the memory allocated before the call
for memory; Triton path vs TRL eager vs Liger.

Usage: python benches/bench_loss.py [--min-run-time SECONDS] [--vocab V] [--max-logits-gb GB]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys

import torch
from _memory import peak_rss_growth

from modomodo.loss import grpo_loss

SHAPES = [(64, 1024), (64, 8192), (512, 1024), (512, 8192)]  # (B·G, T)
GROUP_SIZE = 8
BETA, EPS_LOW, EPS_HIGH = 0.04, 0.2, 0.28


def make_inputs(bg: int, t: int, device="cpu", seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    logps = -torch.rand(bg, t, generator=g) * 3
    old = logps + 0.1 * torch.randn(bg, t, generator=g)
    ref = logps + 0.1 * torch.randn(bg, t, generator=g)
    rewards = torch.randint(0, 2, (bg,), generator=g).float()
    rewards[torch.rand(bg, generator=g) < 0.05] = math.nan
    lengths = torch.randint(t // 8, t + 1, (bg,), generator=g)
    mask = (torch.arange(t)[None, :] < lengths[:, None]).long()  # TRL's completion_mask is int64
    out = {"logps": logps, "old": old, "ref": ref, "rewards": rewards, "mask": mask}
    return {k: v.to(device) for k, v in out.items()}


# ---------------------------------------------------------------------------------------
# The implementations, each one forward + backward from the same inputs.
# ---------------------------------------------------------------------------------------


def trl_eager(logps, rewards, mask, old, ref):
    """TRL 1.16 GRPOTrainer, transcribed: advantages (sum_then_normalize, scale_rewards=
    "group"), then `_compute_loss` for dapo at token level with the KL term, and its metrics."""
    from trl.trainer.utils import nanmax, nanmin, nanstd

    num_generations = GROUP_SIZE
    mean_grouped_rewards = torch.nanmean(rewards.view(-1, num_generations), dim=1)
    mean_grouped_rewards = mean_grouped_rewards.repeat_interleave(num_generations, dim=0)
    std_rewards = nanstd(rewards.view(-1, num_generations), dim=1)
    std_rewards = std_rewards.repeat_interleave(num_generations, dim=0)
    advantages = rewards - mean_grouped_rewards
    advantages = advantages / (std_rewards + 1e-4)
    is_std_zero = torch.isclose(std_rewards, torch.zeros_like(std_rewards))  # noqa: F841 (logged by TRL)
    advantages = torch.nan_to_num(advantages, nan=0.0)
    num_items_in_batch = mask.sum()

    per_token_logps = logps
    advantages = advantages.unsqueeze(1)
    log_ratio = per_token_logps - old
    log_importance_weights = log_ratio
    coef_1 = torch.exp(log_importance_weights)
    per_token_kl = torch.exp(ref - per_token_logps) - (ref - per_token_logps) - 1
    per_token_kl = per_token_kl * coef_1  # use_bias_correction_kl=True
    coef_2 = torch.clamp(coef_1, 1 - EPS_LOW, 1 + EPS_HIGH)
    per_token_loss1 = coef_1 * advantages
    per_token_loss2 = coef_2 * advantages
    per_token_loss = -torch.min(per_token_loss1, per_token_loss2)
    per_token_loss = per_token_loss + BETA * per_token_kl
    normalizer = num_items_in_batch.clamp(min=1.0)
    loss = (per_token_loss * mask).sum() / normalizer

    def masked_seq_mean(x):
        return (x * mask).sum(-1) / mask.sum(-1)

    def global_masked_mean(x):
        return ((x * mask).sum() / mask.sum().float().clamp(min=1.0)).item()

    metrics = {"kl": global_masked_mean(per_token_kl)}
    is_low_clipped = (coef_1 < 1 - EPS_LOW) & (advantages < 0)
    is_high_clipped = (coef_1 > 1 + EPS_HIGH) & (advantages > 0)
    is_region_clipped = is_low_clipped | is_high_clipped
    metrics["clip_ratio/low_mean"] = global_masked_mean(is_low_clipped.float())
    metrics["clip_ratio/high_mean"] = global_masked_mean(is_high_clipped.float())
    metrics["clip_ratio/region_mean"] = global_masked_mean(is_region_clipped.float())
    metrics["clip_ratio/low_min"] = nanmin(masked_seq_mean(is_low_clipped.float())).item()
    metrics["clip_ratio/high_max"] = nanmax(masked_seq_mean(is_high_clipped.float())).item()
    loss.backward()
    return loss, metrics


def modomodo_loss(backend):
    def run(logps, rewards, mask, old, ref):
        out = grpo_loss(
            logps, rewards, mask, group_size=GROUP_SIZE, old_logps=old, ref_logps=ref, beta=BETA,
            epsilon_low=EPS_LOW, epsilon_high=EPS_HIGH, loss_type="dapo", backend=backend,
        )  # fmt: skip
        out.loss.backward()
        return out.loss, out.metrics

    return run


IMPLEMENTATIONS = {"modomodo-torch": modomodo_loss("torch"), "trl-eager": trl_eager}


def call(impl, inputs):
    logps = inputs["logps"].detach().requires_grad_(True)
    return impl(logps, inputs["rewards"], inputs["mask"], inputs["old"], inputs["ref"])


# ---------------------------------------------------------------------------------------
# CPU
# ---------------------------------------------------------------------------------------


def peak_rss_child(name: str, bg: int, t: int) -> None:
    """Runs in a fresh process: prints the peak resident-set growth of one call, in bytes."""
    impl = IMPLEMENTATIONS[name]
    if name == "trl-eager":
        import trl.trainer.utils  # noqa: F401 (its import is not the loss's memory)
    # One call on a tiny batch first, so that one-time set-up (thread pools, dispatch
    # caches) is not counted as the loss's memory.
    call(impl, make_inputs(GROUP_SIZE, 16))
    inputs = make_inputs(bg, t)
    _, peak = peak_rss_growth(lambda: call(impl, inputs))
    print(json.dumps({"peak_bytes": peak}))


def measure_peak_rss(name: str, bg: int, t: int) -> float | None:
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--_peak-rss", name, str(bg), str(t)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return None if result["peak_bytes"] is None else result["peak_bytes"] / 2**20


def cpu_section(min_run_time: float) -> None:
    from torch.utils.benchmark import Timer

    print(f"== CPU: one forward + backward, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print("   time: median of torch.utils.benchmark; memory: peak RSS growth of a fresh process (MiB)")
    header = (
        f"{'B·G':>5} {'T':>6} | {'modomodo ms':>11} {'TRL eager ms':>12} {'speed-up':>8} | "
        f"{'modomodo MiB':>12} {'TRL eager MiB':>13} {'mem ratio':>9}"
    )
    print(header)
    print("-" * len(header))
    for bg, t in SHAPES:
        inputs = make_inputs(bg, t)
        loss_a, _ = call(IMPLEMENTATIONS["modomodo-torch"], inputs)
        loss_b, _ = call(IMPLEMENTATIONS["trl-eager"], inputs)
        torch.testing.assert_close(loss_a, loss_b)  # same quantity, or the timing means nothing
        times = {}
        for name, impl in IMPLEMENTATIONS.items():
            timer = Timer("call(impl, inputs)", globals={"call": call, "impl": impl, "inputs": inputs})
            times[name] = timer.blocked_autorange(min_run_time=min_run_time).median * 1e3
        mem = {name: measure_peak_rss(name, bg, t) for name in IMPLEMENTATIONS}

        def fmt(x):
            return f"{x:.1f}" if x is not None else "n/a"

        mem_ratio = (
            f"{mem['trl-eager'] / mem['modomodo-torch']:.2f}x"
            if mem["trl-eager"] and mem["modomodo-torch"]
            else "n/a"
        )
        print(
            f"{bg:>5} {t:>6} | {times['modomodo-torch']:>11.1f} {times['trl-eager']:>12.1f} "
            f"{times['trl-eager'] / times['modomodo-torch']:>7.2f}x | "
            f"{fmt(mem['modomodo-torch']):>12} {fmt(mem['trl-eager']):>13} {mem_ratio:>9}"
        )
    print("   speed-up and mem ratio = TRL eager / modomodo (above 1: modomodo is faster / smaller)")


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


def _liger():
    try:
        from liger_kernel.transformers.grpo_loss import triton_grpo_loss
    except ImportError:
        return None
    return triton_grpo_loss


def cuda_section(vocab: int, max_logits_gb: float) -> None:
    if not torch.cuda.is_available():
        print(
            "== CUDA: no GPU present (torch.cuda.is_available() is False); Triton, eager and Liger timings skipped"
        )
        return
    from triton.testing import do_bench
    from trl.trainer.utils import nanstd, selective_log_softmax

    device = "cuda"
    liger = _liger()
    print(
        f"== CUDA: {torch.cuda.get_device_name()}, one forward + backward; time: triton.testing.do_bench (ms),"
    )
    print("   memory: torch.cuda.max_memory_allocated above what was allocated before the call (MiB)")
    print("-- from per-token log-probs: modomodo Triton vs TRL eager")
    header = f"{'B·G':>5} {'T':>6} | {'triton ms':>9} {'eager ms':>9} {'speed-up':>8} | {'triton MiB':>10} {'eager MiB':>10} {'mem ratio':>9}"
    print(header)
    print("-" * len(header))
    for bg, t in SHAPES:
        inputs = make_inputs(bg, t, device=device)
        fns = {
            "triton": lambda: call(modomodo_loss("triton"), inputs),
            "eager": lambda: call(trl_eager, inputs),
        }
        torch.testing.assert_close(fns["triton"]()[0], fns["eager"]()[0], atol=1e-5, rtol=1e-4)
        ms = {k: do_bench(f) for k, f in fns.items()}
        mib = {k: _cuda_peak_mib(f) for k, f in fns.items()}
        print(
            f"{bg:>5} {t:>6} | {ms['triton']:>9.3f} {ms['eager']:>9.3f} {ms['eager'] / ms['triton']:>7.2f}x | "
            f"{mib['triton']:>10.1f} {mib['eager']:>10.1f} {mib['eager'] / max(mib['triton'], 1e-9):>8.2f}x"
        )

    print(
        f"-- from bf16 logits (V={vocab}): TRL selective_log_softmax + modomodo Triton / + TRL eager, vs Liger"
    )
    if liger is None:
        print("   Liger-Kernel is not installed: `pip install liger-kernel` to add its GRPO loss")
    header = f"{'B·G':>5} {'T':>6} | {'ours ms':>8} {'eager ms':>8} {'liger ms':>8} | {'ours MiB':>8} {'eager MiB':>9} {'liger MiB':>9}"
    print(header)
    print("-" * len(header))
    for bg, t in SHAPES:
        gb = bg * (t + 1) * vocab * 2 / 1e9
        if gb * 3 > max_logits_gb:  # logits, their gradient and a log-softmax temporary
            print(f"{bg:>5} {t:>6} | skipped: the logits alone take {gb:.1f} GB (raise --max-logits-gb)")
            continue
        inputs = make_inputs(bg, t, device=device)
        g = torch.Generator(device=device).manual_seed(0)
        logits = torch.randn(bg, t + 1, vocab, device=device, dtype=torch.bfloat16, generator=g)
        ids = torch.randint(0, vocab, (bg, t), device=device, generator=g)

        def from_logits(loss_fn):
            leaf = logits.detach().requires_grad_(True)
            logps = selective_log_softmax(leaf[:, :-1].float(), ids)
            return loss_fn(logps, inputs["rewards"], inputs["mask"], inputs["old"], inputs["ref"])

        fns = {
            "ours": lambda: from_logits(modomodo_loss("triton")),
            "eager": lambda: from_logits(trl_eager),
        }
        if liger is not None:

            def run_liger():
                rewards = inputs["rewards"]  # Liger takes advantages: TRL's eager advantage code first
                mean = torch.nanmean(rewards.view(-1, GROUP_SIZE), 1).repeat_interleave(GROUP_SIZE)
                std = nanstd(rewards.view(-1, GROUP_SIZE), dim=1).repeat_interleave(GROUP_SIZE)
                advantages = torch.nan_to_num((rewards - mean) / (std + 1e-4), nan=0.0)
                leaf = logits.detach().requires_grad_(True)
                loss, _ = liger(
                    leaf, inputs["old"], inputs["ref"], ids, advantages, inputs["mask"], temperature=1.0,
                    beta=BETA, eps_low=EPS_LOW, eps_high=EPS_HIGH, inplace=False, loss_type="dapo", reduce=True,
                )  # fmt: skip
                loss.backward()
                return loss, None

            fns["liger"] = run_liger
        ms, mib = {}, {}
        for name, fn in fns.items():
            try:
                ms[name] = do_bench(fn)
                mib[name] = _cuda_peak_mib(fn)
            except Exception as exc:  # a Liger version with another signature: say so, go on
                print(f"   {name} failed: {type(exc).__name__}: {exc}")
        cells = [f"{ms[k]:>8.3f}" if k in ms else f"{'n/a':>8}" for k in ("ours", "eager", "liger")]
        mems = [f"{mib[k]:>8.1f}" if k in mib else f"{'n/a':>8}" for k in ("ours", "eager", "liger")]
        print(f"{bg:>5} {t:>6} | {' '.join(cells)} | {mems[0]} {mems[1]:>9} {mems[2]:>9}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-run-time", type=float, default=1.0, help="seconds per CPU timing")
    parser.add_argument("--vocab", type=int, default=4096, help="vocabulary of the CUDA logits comparison")
    parser.add_argument("--max-logits-gb", type=float, default=16.0, help="skip logits shapes above this")
    parser.add_argument("--_peak-rss", nargs=3, metavar=("IMPL", "BG", "T"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._peak_rss:
        name, bg, t = args._peak_rss
        peak_rss_child(name, int(bg), int(t))
        return
    cpu_section(args.min_run_time)
    cuda_section(args.vocab, args.max_logits_gb)


if __name__ == "__main__":
    main()
