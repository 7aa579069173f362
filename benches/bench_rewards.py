"""Reward throughput: modomodo (Rust, one call per batch) against plain-Python baselines.

    python benches/bench_rewards.py            # full run: 7,500 completions x 18 families
    python benches/bench_rewards.py --quick    # small run, a few seconds
    python benches/bench_rewards.py --build    # rebuild the extension in release mode first
    python benches/bench_rewards.py --dump F   # write the corpus as JSON for the pure-Rust
                                               # timing: rust/core/examples/core_timing.rs

Builds a deterministic corpus (benches/_corpus.py) in which every completion's reward is
known by construction, scores it with modomodo and with the baselines of
benches/_baselines.py (VLM-R1 / R1-V / Visual-RFT-style plain Python; math-verify on the
math family), all measured in this run, and prints completions per second per family and
the ratios. modomodo is timed in subprocesses with RAYON_NUM_THREADS=1 and =2 (rayon reads
it once, at first use). Each figure is the median of several repeats, because the machine
is shared. Then it checks agreement: on every case where a baseline returns the known
reward, modomodo must return it too; each disagreement is listed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _baselines  # noqa: E402
from _corpus import Family, build_corpus, fingerprint  # noqa: E402

TOL = 1e-6
TARGET_PLAIN = 8.0
TARGET_MATH_VERIFY = 200.0
# golds given as Python values (iou_gold_*) against the same golds as text (iou), 1 thread
TARGET_VALUE_GOLD = 1.2


# --- scoring ----------------------------------------------------------------------------


def modomodo_fn(fam: Family):
    """A zero-argument callable scoring the whole family in one modomodo call."""
    import modomodo.rewards as R

    f = getattr(R, fam.func)
    c, s, kw = fam.completions, fam.solutions, fam.kwargs
    if fam.func == "format_reward":
        return lambda: f(c, **kw)
    if fam.image_sizes is not None:
        sizes = fam.image_sizes
        return lambda: f(c, s, image_sizes=sizes, **kw)
    return lambda: f(c, s, **kw)


def floor_fn(fam: Family):
    """The same lists through `_core.batch_floor`: converted and handed over exactly as
    by the reward call, but not scored. What any Python-callable scorer pays per item."""
    from modomodo import _core

    c, s = fam.completions, fam.solutions
    if fam.func == "format_reward" or not all(isinstance(sol, str) for sol in s):
        return lambda: _core.batch_floor(c)  # golds that are no text: the completions alone
    return lambda: _core.batch_floor(c, s)


def baseline_fn(fn, fam: Family):
    c, s, sizes = fam.completions, fam.solutions, fam.image_sizes
    return lambda: fn(c, s, sizes)


def rates(fn, n: int, repeats: int, min_time: float, warm: bool = True) -> list[float]:
    """Completions per second of `fn` (scoring n), `repeats` times; each repeat loops until
    `min_time` has passed so that fast calls are not timed at the clock's resolution."""
    if warm:
        fn()  # warm-up: imports, caches, thread-pool start
    out = []
    for _ in range(repeats):
        loops, t0 = 0, time.perf_counter()
        while True:
            fn()
            loops += 1
            dt = time.perf_counter() - t0
            if dt >= min_time:
                break
        out.append(n * loops / dt)
    return out


# --- agreement --------------------------------------------------------------------------


def agreement(fam: Family, base: list[float], mine: list[float], idx: list[int] | None = None):
    """On the cases where the baseline returns the known reward, does modomodo too?"""
    idx = list(range(len(fam))) if idx is None else idx
    right = [i for k, i in enumerate(idx) if abs(base[k] - fam.golds[i]) <= TOL]
    pos = {i: k for k, i in enumerate(idx)}
    bad = [i for i in right if abs(mine[i] - base[pos[i]]) > TOL]
    return {
        "n": len(idx),
        "right": len(right),
        "agree": len(right) - len(bad),
        "disagreements": [case_record(fam, i, base[pos[i]], mine[i]) for i in bad],
    }


def against_gold(fam: Family, mine: list[float]) -> list[int]:
    return [i for i in range(len(fam)) if abs(mine[i] - fam.golds[i]) > TOL]


def case_record(fam: Family, i: int, base, mine) -> dict:
    return {
        "family": fam.name,
        "variant": fam.variants[i],
        "completion": fam.completions[i],
        "solution": fam.solutions[i],
        "gold": fam.golds[i],
        "baseline": base,
        "modomodo": mine,
        "image_size": None if fam.image_sizes is None else fam.image_sizes[i],
    }


def show(text: str, width: int = 150) -> str:
    """The end of a completion, where the answer is, on one line."""
    t = text.replace("\n", "\\n")
    return t if len(t) <= width else "…" + t[-width:]


def print_cases(title: str, cases: list[dict], per_group: int) -> None:
    if not cases:
        return
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for c in cases:
        groups[(c["family"], c["variant"].split(":")[0])].append(c)
    print(f"\n{title}: {len(cases)} cases")
    for (fam, var), cs in sorted(groups.items()):
        print(f"  [{fam} / {var}] {len(cs)} cases, e.g.")
        for c in cs[:per_group]:
            size = f"  image_size={c['image_size']}" if c["image_size"] else ""
            print(f"    completion: {show(c['completion'])!r}")
            print(f"    solution:   {c['solution']!r}{size}")
            base = "" if c["baseline"] is None else f"  baseline={c['baseline']:.4g}"
            print(f"    gold={c['gold']:.4g}{base}  modomodo={c['modomodo']:.4g}  ({c['variant']})")


# --- build check ------------------------------------------------------------------------


def elf_section_names(path: Path) -> list[str]:
    """Section names of a 64-bit little-endian ELF file (enough for Linux extension modules)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    shoff = int.from_bytes(data[0x28:0x30], "little")
    shentsize, shnum, shstrndx = (int.from_bytes(data[o : o + 2], "little") for o in (0x3A, 0x3C, 0x3E))
    headers = [data[shoff + i * shentsize : shoff + (i + 1) * shentsize] for i in range(shnum)]
    strtab_off = int.from_bytes(headers[shstrndx][0x18:0x20], "little")
    names = []
    for h in headers:
        start = strtab_off + int.from_bytes(h[0:4], "little")
        names.append(data[start : data.index(b"\0", start)].decode("ascii", "replace"))
    return names


def build_kind() -> str:
    """`debug` when the extension carries DWARF debug sections (a dev build; cargo's release
    profile strips them), else `release`."""
    import modomodo._core as core

    names = elf_section_names(Path(core.__file__))
    if not names:
        return "unknown"
    return "debug" if ".debug_info" in names else "release"


def build_release() -> None:
    root = HERE.parent
    env = dict(os.environ, VIRTUAL_ENV=str(Path(sys.executable).parent.parent))
    maturin = Path(sys.executable).with_name("maturin")
    print(f"building the extension in release mode ({maturin} develop --release) ...", flush=True)
    subprocess.run([str(maturin), "develop", "-q", "--release"], cwd=root, env=env, check=True)


# --- worker: modomodo timing at one thread count ----------------------------------------


def worker(args) -> None:
    """Per family, `repeats` rounds of (modomodo, plain-Python baseline), interleaved so
    that both see the same load on the shared machine."""
    corpus = build_corpus(args.n, args.seed, args.families)
    out = {
        "fingerprint": fingerprint(corpus),
        "threads": os.environ.get("RAYON_NUM_THREADS"),
        "build": build_kind(),
        "modomodo": {},
        "plain": {},
        "floor": {},
    }
    for name, fam in corpus.items():
        mine, base, floor = modomodo_fn(fam), baseline_fn(_baselines.PLAIN[name], fam), floor_fn(fam)
        mine(), base(), floor()  # warm-up
        out["modomodo"][name], out["plain"][name], out["floor"][name] = [], [], []
        for _ in range(args.repeats):
            out["modomodo"][name] += rates(mine, len(fam), 1, args.min_time, warm=False)
            out["plain"][name] += rates(base, len(fam), 1, 0.0, warm=False)
            out["floor"][name] += rates(floor, len(fam), 1, args.min_time / 2, warm=False)
    # OS threads of this process once rayon's pool exists: differs by the pool size.
    task_dir = Path("/proc/self/task")
    out["os_threads"] = len(list(task_dir.iterdir())) if task_dir.exists() else None
    print(json.dumps(out))


def run_worker(args, threads: int) -> dict:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--n",
        str(args.n),
        "--seed",
        str(args.seed),
        "--repeats",
        str(args.repeats),
        "--min-time",
        str(args.min_time),
    ]
    if args.families:
        cmd += ["--families", ",".join(args.families)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stderr)
        raise SystemExit(f"modomodo worker with RAYON_NUM_THREADS={threads} failed")
    return json.loads(res.stdout.strip().splitlines()[-1])


# --- main -------------------------------------------------------------------------------


def fmt_rate(r: float | None) -> str:
    if r is None:
        return "—"
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if r >= div:
            return f"{r / div:.3g}{unit}"
    return f"{r:.3g}"


def fmt_ratio(a: float | None, b: float | None, target: float) -> str:
    if a is None or b is None:
        return "—"
    r = a / b
    txt = f"{r:,.0f}×" if r >= 10 else f"{r:.1f}×"
    return txt if r >= target else txt + " (<" + format(target, "g") + "×)"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small corpus and few repeats (a smoke run)")
    p.add_argument("--n", type=int, default=None, help="completions per family (default 7500; quick 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per figure (median is shown)")
    p.add_argument("--min-time", type=float, default=None, help="seconds per modomodo repeat")
    p.add_argument("--mv-n", type=int, default=None, help="math cases scored by math-verify (slow)")
    p.add_argument("--build", action="store_true", help="maturin develop --release first")
    p.add_argument("--threads", default="1,2", help="RAYON_NUM_THREADS values to time")
    p.add_argument("--families", default=None, help="comma-separated subset of families")
    p.add_argument("--examples", type=int, default=3, help="examples shown per disagreement group")
    p.add_argument(
        "--dump",
        default=None,
        metavar="PATH",
        help="write the corpus as JSON (for rust/core/examples/core_timing.rs) and exit",
    )
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.n = args.n or (300 if args.quick else 7500)
    args.repeats = args.repeats or (3 if args.quick else 5)
    args.min_time = args.min_time or (0.02 if args.quick else 0.2)
    args.mv_n = args.mv_n if args.mv_n is not None else (60 if args.quick else 800)
    args.families = args.families.split(",") if args.families else None
    if args.worker:
        worker(args)
        return 0
    if args.dump:
        corpus = build_corpus(args.n, args.seed, args.families)
        Path(args.dump).write_text(
            json.dumps(
                {
                    name: {
                        "func": f.func,
                        "kwargs": f.kwargs,
                        "completions": f.completions,
                        "solutions": f.solutions,
                        "image_sizes": f.image_sizes,
                    }
                    for name, f in corpus.items()
                    if all(isinstance(sol, str) for sol in f.solutions)  # not the iou_gold_* ones
                }
            )
        )
        print(f"wrote {sum(len(f) for f in corpus.values()):,} completions to {args.dump}")
        return 0

    if args.build:
        build_release()
    kind = build_kind()
    if kind != "release":
        print(
            "WARNING: modomodo._core is a DEBUG build; timings are not representative (run with --build)",
            flush=True,
        )

    t_start = time.perf_counter()
    corpus = build_corpus(args.n, args.seed, args.families)
    total = sum(len(f) for f in corpus.values())
    chars = sum(len(c) for f in corpus.values() for c in f.completions)
    print(
        f"corpus: {total:,} completions ({chars / total:.0f} characters on average), "
        f"{len(corpus)} families x {args.n}, seed {args.seed}, fingerprint {fingerprint(corpus)}; "
        f"modomodo._core: {kind} build",
        flush=True,
    )

    # Scores and agreement (scored once here; the thread count does not change results).
    mine = {name: modomodo_fn(fam)() for name, fam in corpus.items()}
    checks: dict[str, dict] = {}
    for name, fam in corpus.items():
        base = _baselines.PLAIN[name](fam.completions, fam.solutions, fam.image_sizes)
        checks[name] = {"plain": agreement(fam, base, mine[name])}
    # math-verify is ~100 completions/s: a fixed slice of the math family, timed 3 times
    # (the first timed pass also gives the scores for the agreement check).
    mv_rates: list[float] = []
    mv_n = 0
    if "math" in corpus and args.mv_n > 0:
        mv_fam = corpus["math"].subset(list(range(min(args.mv_n, len(corpus["math"])))))
        mv_n = len(mv_fam)
        print(f"scoring {mv_n} math cases with math-verify (3 passes) ...", flush=True)
        _baselines.math_verify(mv_fam.completions[:5], mv_fam.solutions[:5])  # imports sympy
        for _ in range(3):
            t0 = time.perf_counter()
            mv_scores = _baselines.math_verify(mv_fam.completions, mv_fam.solutions)
            mv_rates.append(mv_n / (time.perf_counter() - t0))
        checks["math"]["math-verify"] = agreement(
            corpus["math"], mv_scores, mine["math"], idx=list(range(mv_n))
        )

    threads = [int(t) for t in args.threads.split(",") if t]
    workers = {}
    for t in threads:
        print(f"timing modomodo (RAYON_NUM_THREADS={t}) interleaved with plain Python ...", flush=True)
        workers[t] = run_worker(args, t)
        if workers[t]["fingerprint"] != fingerprint(corpus):
            raise SystemExit("worker built a different corpus")
        if workers[t]["build"] != kind:
            print(
                f"WARNING: the RAYON_NUM_THREADS={t} worker loaded a {workers[t]['build']} build "
                "(the extension was rebuilt during the run?)",
                flush=True,
            )

    # --- table ---------------------------------------------------------------------------
    med = statistics.median
    print(
        f"\nCompletions per second, median of {args.repeats} repeats (modomodo and plain Python "
        f"interleaved in each RAYON_NUM_THREADS subprocess; a ratio uses the plain-Python runs of "
        f"its own subprocess); math-verify: median of 3 passes over {mv_n} math cases. "
        f"{os.cpu_count()} CPUs, shared with other work."
    )
    print(
        "OS threads in each timing process (the pool size shows as the difference): "
        + ", ".join(f"RAYON_NUM_THREADS={t}: {workers[t].get('os_threads')}" for t in threads)
    )
    cols = [f"modomodo {t}T" for t in threads]
    head = f"{'family':<15}{'n':>6}" + "".join(f"{c:>14}" for c in cols) + f"{'plain Python':>14}"
    head += "".join(f"{f'{t}T/plain':>14}" for t in threads) + f"{'math-verify':>13}{'1T/m-v':>15}"
    head += f"{'ns: 1T':>9}{f'{TARGET_PLAIN:g}x budget':>11}{'call floor':>11}"
    print(head)
    print("-" * len(head))
    sums: dict = defaultdict(float)
    for name, fam in corpus.items():
        my = {t: med(workers[t]["modomodo"][name]) for t in threads}
        py_t = {t: med(workers[t]["plain"][name]) for t in threads}
        py = med([r for t in threads for r in workers[t]["plain"][name]])
        row = f"{name:<15}{len(fam):>6}" + "".join(f"{fmt_rate(my[t]):>14}" for t in threads)
        row += f"{fmt_rate(py):>14}" + "".join(
            f"{fmt_ratio(my[t], py_t[t], TARGET_PLAIN):>14}" for t in threads
        )
        mv = med(mv_rates) if name == "math" and mv_rates else None
        row += f"{fmt_rate(mv):>13}{fmt_ratio(my[threads[0]], mv, TARGET_MATH_VERIFY) if mv else '—':>15}"
        floor = med(workers[threads[0]]["floor"][name])
        row += f"{1e9 / my[threads[0]]:>9.0f}{1e9 / (TARGET_PLAIN * py_t[threads[0]]):>11.0f}{1e9 / floor:>11.0f}"
        print(row)
        for t in threads:
            sums[t] += len(fam) / my[t]
            sums["py", t] += len(fam) / py_t[t]
        sums["py"] += len(fam) / py
    row = f"{'all (time sum)':<15}{total:>6}" + "".join(f"{fmt_rate(total / sums[t]):>14}" for t in threads)
    row += f"{fmt_rate(total / sums['py']):>14}"
    row += "".join(f"{fmt_ratio(sums['py', t], sums[t], TARGET_PLAIN):>14}" for t in threads)
    print(row)
    met = sum(
        med(workers[threads[0]]["modomodo"][n]) >= TARGET_PLAIN * med(workers[threads[0]]["plain"][n])
        for n in corpus
    )
    print(
        f"targets: >= {TARGET_PLAIN:g}x plain Python per family with {threads[0]} thread(s): "
        f"met on {met}/{len(corpus)} families; >= {TARGET_MATH_VERIFY:g}x math-verify on math"
    )
    if "iou" in corpus:
        text_ns = 1e9 / med(workers[threads[0]]["modomodo"]["iou"])
        for name in [n for n in corpus if n.startswith("iou_gold_")]:
            value_ns = 1e9 / med(workers[threads[0]]["modomodo"][name])
            ratio = value_ns / text_ns
            verdict = "" if ratio <= TARGET_VALUE_GOLD else f" (> {TARGET_VALUE_GOLD:g}x)"
            print(
                f"{name}: {value_ns:.0f} ns per item with {threads[0]} thread(s), "
                f"{ratio:.2f}x the time with the same golds as text (iou, {text_ns:.0f} ns){verdict}"
            )
    print(
        "plain Python = benches/_baselines.py (VLM-R1 / R1-V / Visual-RFT style: re, json/ast, "
        "Python loops); math-verify = parse/verify as in R1-V"
    )
    print(
        f"ns: 1T = modomodo's time per completion with one thread; {TARGET_PLAIN:g}x budget = the "
        f"plain-Python time / {TARGET_PLAIN:g}; call floor = `_core.batch_floor` on the same lists (converted and returned "
        "as by the reward call, no scoring): the part of the budget no scorer called from Python avoids"
    )

    # --- agreement -------------------------------------------------------------------------
    print("\nAgreement where the baseline returns the known reward (gold):")
    print(
        f"{'family':<15}{'baseline':<13}{'n':>6}{'baseline=gold':>15}{'modomodo agrees':>17}"
        f"{'modomodo=gold (all)':>21}"
    )
    problems, unconfirmed = [], []
    for name, fam in corpus.items():
        off_gold = against_gold(fam, mine[name])
        for bname, chk in checks[name].items():
            print(
                f"{name:<15}{bname:<13}{chk['n']:>6}{chk['right']:>15}{chk['agree']:>17}"
                f"{len(fam) - len(off_gold) if bname == 'plain' else '':>21}"
            )
            problems += [dict(d, baseline_name=bname) for d in chk["disagreements"]]
        confirmed = {(d["family"], d["completion"]) for d in problems}
        unconfirmed += [
            case_record(fam, i, None, mine[name][i])
            for i in off_gold
            if (name, fam.completions[i]) not in confirmed
        ]
    print_cases("DISAGREEMENTS where a baseline is right (modomodo bugs)", problems, args.examples)
    print_cases(
        "modomodo differs from gold where no baseline is right (check against DESIGN.md)",
        unconfirmed,
        args.examples,
    )
    n_bad = len(problems)
    print(
        f"\n{n_bad} disagreement(s) where a baseline is right; {len(unconfirmed)} further "
        f"modomodo != gold case(s). Wall time {time.perf_counter() - t_start:.0f} s."
    )
    return 1 if n_bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
