"""MixtureSampler throughput against NumPy and torch baselines, and its cost in training.

    python benches/bench_sampler.py              # 10^7 draws over 5 domains, + a training profile
    python benches/bench_sampler.py --quick      # 10^6 draws, no training profile
    python benches/bench_sampler.py --build      # maturin develop --release first
    python benches/bench_sampler.py --no-training --repeats 5   # throughput only

The task: 10^7 draws over the five MoDoMoDo training domains (their sizes, a skewed
mixture), each draw a domain by weight, then the next example of that domain's current
random permutation, reshuffled when used up. All in this run, each the median of several
interleaved repeats (the machine is shared), wall and CPU time:

- modomodo `fill(out)`: one call into Rust, the GIL released, written into a preallocated
  int64 array (and `draw(n)`, which allocates the array);
- NumPy: `rng.choice(5, n, p=w)`, then per domain enough `rng.permutation`s concatenated,
  scattered into the same preallocated array (vectorised: the fastest way we know to do it
  in NumPy);
- torch: `torch.multinomial(w, n, replacement=True)`, then per domain `torch.randperm`s;
- per item as a DataLoader pulls them (`for i in sampler`), against TRL's `RepeatSampler`.

Then (not with --quick) a tiny GRPO run under cProfile: the share of the training time
spent fetching indices (`_next_index` of the DataLoader iterator, which calls the sampler).
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

SIZES = {"coco": 5997, "lisa": 1326, "geoqa": 1969, "sat": 15000, "scienceqa": 6218}
WEIGHTS = [0.3, 0.1, 0.2, 0.25, 0.15]
TARGET = 10.0


def numpy_baseline(out: np.ndarray, seed: int) -> np.ndarray:
    n = len(out)
    rng = np.random.default_rng(seed)
    sizes = np.array(list(SIZES.values()))
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    domains = rng.choice(len(sizes), size=n, p=WEIGHTS)
    for d, size in enumerate(sizes):
        where = np.flatnonzero(domains == d)
        epochs = -(-len(where) // size)
        perms = (
            np.concatenate([rng.permutation(size) for _ in range(epochs)])
            if epochs
            else np.empty(0, np.int64)
        )
        out[where] = perms[: len(where)] + offsets[d]
    return out


def torch_baseline(out: np.ndarray, seed: int) -> torch.Tensor:
    n = len(out)
    g = torch.Generator().manual_seed(seed)
    sizes = list(SIZES.values())
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).tolist()
    domains = torch.multinomial(torch.tensor(WEIGHTS, dtype=torch.float64), n, replacement=True, generator=g)
    out = torch.from_numpy(out)
    for d, size in enumerate(sizes):
        where = (domains == d).nonzero().squeeze(1)
        epochs = -(-len(where) // size)
        perms = (
            torch.cat([torch.randperm(size, generator=g) for _ in range(epochs)])
            if epochs
            else torch.empty(0, dtype=torch.int64)
        )
        out[where] = perms[: len(where)] + offsets[d]
    return out


def modomodo_fill(out: np.ndarray, seed: int, replacement: bool = False) -> np.ndarray:
    from modomodo.sampling import MixtureSampler

    sampler = MixtureSampler(SIZES, WEIGHTS, seed=seed, replacement=replacement)
    assert sampler.fill(out) == len(out)
    return out


def modomodo_draw(out: np.ndarray, seed: int) -> np.ndarray:
    from modomodo.sampling import MixtureSampler

    return MixtureSampler(SIZES, WEIGHTS, seed=seed).draw(len(out))  # a fresh array


def timed(fn, out: np.ndarray, seed: int) -> tuple[float, float]:
    """Wall and CPU seconds of one call fn(out, seed) (`out` preallocated and touched)."""
    t, c = time.perf_counter(), time.process_time()
    result = fn(out, seed)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    assert len(result) == len(out)
    return wall, cpu


def per_item(n: int) -> dict[str, float]:
    """Seconds per index when iterated one by one, epoch after epoch, as a DataLoader's
    BatchSampler pulls them (`itertools.islice` over `iter(sampler)`)."""
    from trl.trainer.utils import RepeatSampler

    from modomodo.sampling import MixtureSampler

    def loop(sampler):
        best = float("inf")
        for _ in range(3):
            stream = itertools.chain.from_iterable(iter(sampler) for _ in itertools.count())
            t = time.perf_counter()
            for _ in itertools.islice(stream, n):
                pass
            best = min(best, time.perf_counter() - t)
        return best / n

    total = sum(SIZES.values())
    g = 8
    return {
        "MixtureSampler (Rust __next__)": loop(MixtureSampler(SIZES, WEIGHTS, num_generations=g)),
        "TRL RepeatSampler (Python generator)": loop(
            RepeatSampler(range(total), mini_repeat_count=g, batch_size=16)
        ),
        "a Python list iterator (floor)": loop(list(range(total * g))),
    }


def build_kind() -> str:
    """`debug` if the extension has DWARF sections (a dev build; cargo's release profile
    strips them), else `release`. Reads the ELF section header table."""
    import modomodo._core as core

    data = Path(core.__file__).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return "unknown"
    shoff = int.from_bytes(data[0x28:0x30], "little")
    shentsize, shnum, shstrndx = (int.from_bytes(data[o : o + 2], "little") for o in (0x3A, 0x3C, 0x3E))
    headers = [data[shoff + i * shentsize : shoff + (i + 1) * shentsize] for i in range(shnum)]
    strtab = int.from_bytes(headers[shstrndx][0x18:0x20], "little")
    starts = [strtab + int.from_bytes(h[:4], "little") for h in headers]
    names = {data[i : data.index(b"\0", i)] for i in starts}
    return "debug" if b".debug_info" in names else "release"


def training_profile(steps: int = 6) -> dict[str, float]:
    """A tiny MixtureGRPOTrainer run under cProfile: total time and time fetching indices."""
    from datasets import Dataset
    from trl import GRPOConfig

    from modomodo.sampling import MixtureGRPOTrainer
    from modomodo.tiny import build_tokenizer, tiny_text_model

    rows = [(d, i) for d, n in {"a": 400, "b": 300, "c": 300}.items() for i in range(n)]
    data = Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": f"{d} {i}"}] for d, i in rows],
            "domain": [d for d, _ in rows],
        }
    )
    tok = build_tokenizer()
    with tempfile.TemporaryDirectory() as out:
        args = GRPOConfig(
            output_dir=out,
            use_cpu=True,
            max_steps=steps,
            per_device_train_batch_size=8,
            gradient_accumulation_steps=2,
            num_generations=4,
            max_completion_length=8,
            report_to="none",
            save_strategy="no",
            logging_steps=1,
            bf16=False,
        )
        trainer = MixtureGRPOTrainer(
            model=tiny_text_model(tok, seed=0),
            reward_funcs=[lambda completions, **kw: [float(len(c)) for c in completions]],
            args=args,
            train_dataset=data,
            processing_class=tok,
            mixture_weights={"a": 0.5, "b": 0.3, "c": 0.2},
        )
        from transformers import PrinterCallback, ProgressCallback

        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.runcall(trainer.train)
        total = time.perf_counter() - t
    stats = pstats.Stats(prof)
    fetch = sum(v[3] for k, v in stats.stats.items() if k[2] == "_next_index")  # cumulative time
    return {"total_s": total, "fetch_s": fetch}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10^6 draws, no training profile")
    p.add_argument("--build", action="store_true", help="maturin develop --release first")
    p.add_argument("--no-training", action="store_true", help="skip the tiny GRPO training profile")
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    if a.build:
        root = Path(__file__).resolve().parent.parent
        env = dict(os.environ, VIRTUAL_ENV=str(Path(sys.executable).parent.parent))
        subprocess.run(
            [str(Path(sys.executable).with_name("maturin")), "develop", "-q", "--release"],
            cwd=root,
            env=env,
            check=True,
        )
    warnings.filterwarnings("ignore")
    kind = build_kind()
    if kind != "release":
        print(
            f"WARNING: the extension is a {kind} build; figures are not representative (use --build)",
            flush=True,
        )
    torch.set_num_threads(1)
    n = 10**6 if a.quick else 10**7
    print(
        f"n = {n:,} draws over {len(SIZES)} domains, weights {dict(zip(SIZES, WEIGHTS))}, sizes {list(SIZES.values())}"
    )
    print(f"extension: {kind} build ({'optimised' if kind == 'release' else 'NOT optimised'})")
    print(
        f"method: every method run {a.repeats} times, interleaved, in this process (one thread); the figures are "
        f"medians;\n        ratio = median wall (or CPU) time of the NumPy baseline / that of the method, same run\n",
        flush=True,
    )

    methods = {
        "modomodo fill() w/o replacement": modomodo_fill,
        "modomodo fill() with replacement": lambda out, s: modomodo_fill(out, s, replacement=True),
        "modomodo draw() (allocates 80 MB)": modomodo_draw,
        "NumPy choice + permutations": numpy_baseline,
        "torch multinomial + randperm": torch_baseline,
    }
    out = np.zeros(n, dtype=np.int64)
    wall: dict[str, list[float]] = {name: [] for name in methods}
    cpu: dict[str, list[float]] = {name: [] for name in methods}
    for r in range(a.repeats):  # interleaved, so that every method sees the same load
        for name, fn in methods.items():
            w, c = timed(fn, out, r)
            wall[name].append(w)
            cpu[name].append(c)
    ref = "NumPy choice + permutations"
    print(f"{'method':36s} {'draws/s (wall)':>15s} {'vs NumPy':>9s} {'draws/s (CPU)':>15s} {'vs NumPy':>9s}")
    for name in methods:
        rw, rc = n / statistics.median(wall[name]), n / statistics.median(cpu[name])
        bw, bc = n / statistics.median(wall[ref]), n / statistics.median(cpu[ref])
        print(f"{name:36s} {rw:15,.0f} {rw / bw:8.1f}x {rc:15,.0f} {rc / bc:8.1f}x")
    main_name = "modomodo fill() w/o replacement"
    ratio = statistics.median(wall[ref]) / statistics.median(wall[main_name])
    print(
        f"\nmodomodo / NumPy (wall) = {ratio:.1f}x (target >= {TARGET:.0f}x): {'met' if ratio >= TARGET else 'NOT met'}"
    )
    print(
        f"modomodo / torch (wall) = {statistics.median(wall['torch multinomial + randperm']) / statistics.median(wall[main_name]):.1f}x"
    )

    print("\nper index when iterated one by one (what the DataLoader sees):")
    for name, secs in per_item(200_000 if a.quick else 1_000_000).items():
        print(f"  {name:38s} {secs * 1e9:8.0f} ns")

    if not (a.quick or a.no_training):
        prof = training_profile()
        print(
            f"\ntiny GRPO run (6 steps) under cProfile: {prof['total_s']:.2f} s in all, "
            f"{prof['fetch_s'] * 1e3:.2f} ms fetching indices ({100 * prof['fetch_s'] / prof['total_s']:.3f} %)"
        )


if __name__ == "__main__":
    main()
