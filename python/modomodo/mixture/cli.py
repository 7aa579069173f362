"""`modomodo-mix plan | fit | propose | run`.

    modomodo-mix plan --domains COCO,LISA,GeoQAV [--dirichlet N] [--lattice D] [--output plan.jsonl]
    modomodo-mix fit runs.jsonl [--model quadratic] [--ridge 1e-3] [--cv kfold] [--plot-dir DIR]
    modomodo-mix propose runs.jsonl [--k 3] [--kappa 0] [--method exact]
    modomodo-mix run [--config mix.yaml] [--output-dir DIR] [--parallel N] [--launcher local|ray]

Records are JSON lines (see records.py) or a table laid out like the paper's Table 2
(`.tsv`). Bad input exits with status 2 and a one-line message (capped in length),
before any work: every number is checked for its range (NaN and infinity refused), a
design's size is counted before it is made, output paths are checked before fitting.
A run recorded twice is refused, except a failed record (NaN target) followed by its
retry, which `modomodo-mix run` writes on resume: the retry replaces it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modomodo._io import atomic_write_text
from modomodo.mixture.design import MAX_DESIGN_POINTS, dirichlet_mixtures, seed_mixtures, simplex_lattice
from modomodo.mixture.records import PAPER_DOMAINS, RunRecord, finite_records, load_records, load_table
from modomodo.mixture.search import optimize, propose
from modomodo.mixture.surrogate import SURROGATES, QuadraticSurrogate, make_surrogate

# An error message longer than this is cut (a bad value can be megabytes long).
MAX_ERROR_CHARS = 1000
# Upper bounds of options whose work grows with them.
MAX_BOOT = 100_000


def _number(kind: type, *, low: float, low_open: bool = False, high: float | None = None):
    """An argparse type: an int or a finite float in [low, high] (or (low, high])."""
    what = "an integer" if kind is int else "a finite number"
    bound = f"{'>' if low_open else '>='} {low:g}" + ("" if high is None else f" and <= {high:g}")

    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}; expected {what} {bound}") from None
        if not math.isfinite(v) or v < low or (low_open and v == low) or (high is not None and v > high):
            raise argparse.ArgumentTypeError(f"{text}; expected {what} {bound}")
        return v

    return parse


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}; expected comma-separated integers such as 0,1,2"
        ) from None


def _domains(text: str) -> list[str]:
    return [d.strip() for d in text.split(",") if d.strip()]


def _load(path: str, domains: list[str] | None, target: str) -> list[RunRecord]:
    """The records of a file, each (name, seed) once; an empty file is an error."""
    if path.endswith(".tsv"):
        records = load_table(path, domains or PAPER_DOMAINS)
    else:
        records = load_records(path)
    if not records:
        raise ValueError(f"records file {path!r} holds no run records; expected one JSON object per line")
    return _unique(records, path, target)


def _unique(records: list[RunRecord], path: str, target: str) -> list[RunRecord]:
    """Refuse a run given twice; a failed record (NaN target) is replaced by a later one
    of the same run, as `modomodo-mix run` retries it on resume."""
    kept: dict[tuple[str, int], int] = {}
    weights: dict[str, tuple[int, dict[str, float]]] = {}
    out: list[RunRecord | None] = []
    for i, r in enumerate(records):
        first = weights.setdefault(r.name, (i, r.weights))
        if first[1] != r.weights:
            raise ValueError(
                f"{path}: run {r.name!r} has two different mixtures (records {first[0] + 1} and {i + 1}: "
                f"{first[1]} and {r.weights}); expected one mixture per run name"
            )
        if r.key in kept:
            j = kept[r.key]
            earlier = out[j]
            assert earlier is not None
            if math.isfinite(earlier.score(target)):
                raise ValueError(
                    f"{path}: run {r.name!r} (seed {r.seed}) is recorded twice (records {j + 1} and {i + 1}); "
                    "expected each run once: rename or remove one"
                )
            out[j] = None  # a failed attempt, superseded by this one
        kept[r.key] = len(out)
        out.append(r)
    return [r for r in out if r is not None]


def _writable_file(path: str | None, option: str) -> None:
    """Check an output file can be written, before the work that produces it."""
    if path is None:
        return
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise ValueError(f"{option} {path!r} is a directory; expected a file path")
    if not parent.is_dir():
        raise ValueError(f"{option} {path!r}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ValueError(f"{option} {path!r} is not writable")


def _short(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]} ... ({len(text) - limit:,} more characters)"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


# -- plan ------------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    if args.domains:
        doms = _domains(args.domains)
    elif args.config:
        from modomodo.mixture.loop import load_config

        doms = load_config(args.config).domains
    else:
        raise ValueError("plan: give --domains a,b,c or --config FILE.yaml")
    _writable_file(args.output, "--output")
    plan = {name: ("seed", w) for name, w in seed_mixtures(doms).items()}
    if args.dirichlet:
        plan.update(
            {
                n: ("dirichlet", w)
                for n, w in dirichlet_mixtures(doms, args.dirichlet, alpha=args.alpha, seed=args.seed).items()
            }
        )
    if args.lattice:
        plan.update({n: ("lattice", w) for n, w in simplex_lattice(doms, args.lattice).items()})
    lines = [json.dumps({"name": n, "kind": k, "weights": w}) for n, (k, w) in plan.items()]
    if args.output:
        atomic_write_text(args.output, "\n".join(lines) + "\n")
        print(f"wrote {len(lines)} mixtures to {args.output}")
    print(
        _table(["run", "kind", *doms], [[n, k, *(f"{w[d]:.3f}" for d in doms)] for n, (k, w) in plan.items()])
    )
    return 0


# -- fit -------------------------------------------------------------------------------


def _fit(args: argparse.Namespace):
    records = _load(args.records, _domains(args.domains) if args.domains else None, args.target)
    if args.drop_nan:
        records = finite_records(records, args.target)
    s = make_surrogate(args.model, ridge=args.ridge)
    s.fit(
        records,
        domains=_domains(args.domains) if args.domains else None,
        target=args.target,
        selection=args.selection,
        missing=args.missing,
        seed=args.seed,
    )
    return records, s


def cmd_fit(args: argparse.Namespace) -> int:
    if args.plot_dir and Path(args.plot_dir).exists() and not Path(args.plot_dir).is_dir():
        raise ValueError(f"--plot-dir {args.plot_dir!r} is a file; expected a folder")
    records, s = _fit(args)
    doms = s.domains_
    assert doms is not None
    print(
        f"{s.name} surrogate over {len(doms)} domains {doms}, ridge {s.ridge:g}, {len(records)} records, target {args.target}"
    )
    if s.selection_.get("method") == "paper":
        print(
            f"paper selection: kept the split with held-out R² {s.selection_['held_out_r2']:.4f} (test rows {s.selection_['test']})"
        )
    print("\nScheffé coefficients (a domain: its predicted score alone; A*B: their interaction):")
    for k, v in s.coefficients().items():
        print(f"  {k:>30}  {v:+.5f}")
    if isinstance(s, QuadraticSurrogate):
        a, b, C = s.to_abc()
        print(f"\nas a + bᵀw + wᵀCw: a = {a:g}, b = {np.round(b, 5).tolist()}, C =")
        for row in C:
            print("  " + " ".join(f"{v:+.5f}" for v in row))
    cv = None
    try:
        cv = s.cross_validate(args.cv, k=args.folds, seed=args.seed)
        print(f"\n{cv}")
    except ValueError as exc:
        print(f"\ncross-validation not possible: {exc}")
    W, y = s._training()
    fitted = s.predict(W)
    used = [r for r in records if math.isfinite(r.score(args.target))]
    header = ["run", *doms, "observed", "fitted"] + (
        ["out-of-fold"] if cv is not None and cv.predictions is not None else []
    )
    rows = []
    for i, r in enumerate(used):
        row = [r.name, *(f"{w:.3f}" for w in W[i]), f"{y[i]:.4f}", f"{fitted[i]:.4f}"]
        if cv is not None and cv.predictions is not None:
            row.append(f"{cv.predictions[i]:.4f}")
        rows.append(row)
    print("\nobserved vs predicted:")
    print(_table(header, rows))
    if args.plot_dir:
        from modomodo.mixture.plots import plot_observed_vs_predicted, plot_pair_surfaces

        out = Path(args.plot_dir)
        out.mkdir(parents=True, exist_ok=True)
        p1 = plot_observed_vs_predicted(
            s, out / "observed_vs_predicted.png", cv=cv, labels=[r.name for r in used], target=args.target
        )
        p2 = plot_pair_surfaces(s, out / "pairs.png", target=args.target)
        print(f"\nwrote {p1} and {p2}")
    return 0


# -- propose ---------------------------------------------------------------------------


def cmd_propose(args: argparse.Namespace) -> int:
    _writable_file(args.json, "--json")
    _, s = _fit(args)
    doms = s.domains_
    assert doms is not None
    if args.kappa > 0:
        picks = propose(
            s, args.k, kappa=args.kappa, min_distance=args.min_distance, n_boot=args.n_boot, seed=args.seed
        )
        print(
            f"next {len(picks)} pilots by UCB (prediction + {args.kappa:g}·spread), ≥ {args.min_distance} from the observed mixtures:"
        )
    else:
        picks = optimize(
            s,
            k=args.k,
            method=args.method,
            min_distance=args.min_distance,
            spread=True,
            n_boot=args.n_boot,
            seed=args.seed,
        )
        print(
            f"best {len(picks)} mixtures of the {s.name} surrogate ({args.method} search), ≥ {args.min_distance} apart:"
        )
    rows = [
        [str(i), *(f"{p.weights[d]:.3f}" for d in doms), f"{p.predicted:.4f} ± {p.spread:.4f}"]
        for i, p in enumerate(picks)
    ]
    print(_table(["#", *doms, f"predicted {args.target} ± spread"], rows))
    if args.json:
        atomic_write_text(
            args.json,
            "\n".join(
                json.dumps(
                    {
                        "name": f"proposal_{i}",
                        "weights": p.weights,
                        "predicted": p.predicted,
                        "spread": p.spread,
                    }
                )
                for i, p in enumerate(picks)
            )
            + "\n",
        )
    return 0


# -- run -------------------------------------------------------------------------------


# The embedded study of `modomodo-mix run` without --config (examples/mixture/toy.yaml):
# the five synthetic training domains the out-of-distribution benchmarks draw on, trained
# from the shipped `tiny-base` by the real `modomodo-train` (its embedded default, 200 GRPO
# steps, 500 evaluation rows per benchmark). 11 seeds + 5 heuristics + 2 surrogate picks
# on seed 0, then uniform, the best heuristic, the best pick and the three adaptive
# policies on seeds 1-3: 36 trainings, two at a time on one thread each.
DEFAULT_DOMAINS = ["chart", "attribute", "ground", "spatial", "detect"]
DEFAULT_TRAIN_ARGS: dict[str, Any] = {
    "model": "tiny-base",
    "domains": DEFAULT_DOMAINS,
    "max_steps": 200,
    "eval_size": 500,
    "eval_before": False,
    "plot": False,
    "disable_tqdm": True,
}


def default_config() -> dict[str, Any]:
    """The embedded toy-scale study (see DEFAULT_TRAIN_ARGS)."""
    return {
        "domains": list(DEFAULT_DOMAINS),
        "train_args": dict(DEFAULT_TRAIN_ARGS),
        "seeds": [0],
        "final_seeds": [1, 2, 3],
        "adaptive": ["dump", "thompson", "target"],
        "final_k": 2,
        "parallel": 2,
        "threads": 1,
    }


def _parse_value(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def cmd_run(args: argparse.Namespace) -> int:
    from modomodo.mixture.loop import MixConfig, load_config, run_loop

    if args.config:
        cfg = load_config(args.config)
    else:
        cfg = MixConfig.from_mapping(default_config(), where="embedded default")
    overrides: dict[str, Any] = {}
    for item in args.set or []:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        overrides[k.strip()] = _parse_value(v)
    if args.parallel is not None:
        overrides["parallel"] = args.parallel
    if args.launcher is not None:
        overrides["launcher"] = args.launcher
    if args.trainer is not None:
        overrides["trainer"] = args.trainer.split()
    if args.seeds is not None:
        overrides["seeds"] = args.seeds
    if overrides:
        data = {f: getattr(cfg, f) for f in cfg.__dataclass_fields__}
        data.update(overrides)
        cfg = MixConfig.from_mapping(data, where="config with overrides")
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        out / "config.json", json.dumps({f: getattr(cfg, f) for f in cfg.__dataclass_fields__}, indent=1)
    )
    result = run_loop(cfg, out)
    print(f"\nreport: {result.report_md} and {result.report_json}")
    return 0


# -- entry point -----------------------------------------------------------------------


def _fit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("records", help="run records (JSON lines) or a paper-style .tsv table")
    p.add_argument("--model", choices=sorted(SURROGATES), default="quadratic")
    p.add_argument(
        "--ridge",
        type=_number(float, low=0),
        default=0.0,
        help="ridge strength (needed when records < coefficients)",
    )
    p.add_argument("--target", default="out_score", help="out_score, in_score or a benchmark name")
    p.add_argument("--domains", help="comma-separated domain order (default: as the records name them)")
    p.add_argument(
        "--selection",
        choices=["all", "paper"],
        default="all",
        help="fit all records, or the paper's best of five 80/20 splits",
    )
    p.add_argument(
        "--missing",
        choices=["error", "zero"],
        default="error",
        help="a domain absent from a record: error, or weight 0",
    )
    p.add_argument(
        "--drop-nan", action="store_true", help="ignore records whose target is NaN (with a warning)"
    )
    p.add_argument("--seed", type=_number(int, low=0), default=0)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="modomodo-mix", description="Choose the domain mixture from pilot runs (MoDoMoDo)."
    )
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("plan", help="write the seed mixtures (and optional space-filling extras)")
    p.add_argument("--domains", help="comma-separated domain names")
    p.add_argument("--config", help="a run config (its domains)")
    p.add_argument(
        "--dirichlet",
        type=_number(int, low=0, high=MAX_DESIGN_POINTS),
        default=0,
        help=f"add N Dirichlet draws (at most {MAX_DESIGN_POINTS:,})",
    )
    p.add_argument(
        "--alpha", type=_number(float, low=0, low_open=True), default=1.0, help="Dirichlet concentration"
    )
    p.add_argument(
        "--lattice",
        type=_number(int, low=0),
        default=0,
        help=f"add the simplex lattice of this degree (refused beyond {MAX_DESIGN_POINTS:,} points)",
    )
    p.add_argument("--seed", type=_number(int, low=0), default=0)
    p.add_argument("--output", help="JSON-lines file to write (default: print only)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("fit", help="fit a surrogate; print coefficients, CV and observed vs predicted")
    _fit_args(p)
    p.add_argument("--cv", choices=["kfold", "paper"], default="kfold")
    p.add_argument("--folds", type=_number(int, low=2), default=5)
    p.add_argument("--plot-dir", help="write observed_vs_predicted.png and pairs.png here")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("propose", help="best mixtures (kappa 0) or next pilots (kappa > 0), with spread")
    _fit_args(p)
    p.add_argument("--k", type=_number(int, low=1), default=3)
    p.add_argument(
        "--kappa", type=_number(float, low=0), default=0.0, help="0: best predicted; > 0: UCB pilots"
    )
    p.add_argument("--method", choices=["exact", "slsqp", "gaussian"], default="exact")
    p.add_argument("--min-distance", type=_number(float, low=0), default=0.1)
    p.add_argument("--n-boot", type=_number(int, low=2, high=MAX_BOOT), default=200)
    p.add_argument("--json", help="also write the proposals as JSON lines")
    p.set_defaults(func=cmd_propose)

    p = sub.add_parser("run", help="the whole loop: seeds, heuristics, fit, picks, report (resumable)")
    p.add_argument("--config", help="YAML config (default: the embedded synthetic study)")
    p.add_argument("--output-dir", default="modomodo-mix-run")
    p.add_argument("--parallel", type=_number(int, low=1), help="runs at once")
    p.add_argument("--launcher", choices=["local", "ray"])
    p.add_argument("--trainer", help="trainer command line (default: modomodo-train)")
    p.add_argument("--seeds", type=_int_list, help="comma-separated training seeds")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a config setting (YAML value)"
    )
    p.set_defaults(func=cmd_run)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.simplefilter("default", UserWarning)
    try:
        return int(args.func(args))
    except (ValueError, OSError) as exc:
        print(f"modomodo-mix {args.command}: error: {_short(str(exc))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
