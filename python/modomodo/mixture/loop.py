"""The whole mixture study, resumable: seeds -> heuristics -> (optional UCB rounds) ->
surrogate fit -> trainings of its picks -> final runs -> adaptive runs -> Markdown and
JSON report.

The stages, each a set of named arms in plan.json:
- `seed`: the 2m + 1 seed mixtures; `heuristic`: A_in, A_out, A_bal, Coli, Norm from the
  seeds; `pilot`: the optional UCB rounds; `surrogate`: the surrogate's `final_k` best
  mixtures. All on the pilot `seeds`; these are the offline method's cost.
- The surrogate is fitted on the seed, heuristic and UCB pilot runs only, so its picks
  (and the final runs) are held-out points of it.
- `final`: `final_uniform`, `final_<best heuristic>` and `final_<best pick>` (best by the
  measured target on the pilot seeds), each on the `final_seeds`, which are meant to be
  fresh seeds: choosing the best on the pilot seeds does not then flatter its final score.
- `adaptive`: `adaptive_<policy>` for each policy of `adaptive`, one run per final seed,
  `weights: adaptive` from uniform (the trainer's `mixture_policy`).

Everything lives in one output directory:
    config.json     the resolved configuration of the last invocation
    plan.json       every mixture decided so far, by name (reused on resume, so a
                    resumed run trains exactly what the interrupted one decided)
    records.jsonl   one run record per finished (mixture, seed); the latest line for a
                    key wins, so a failed run (NaN scores) is retried on resume
    runs/<name>/s<seed>/   the trainer's output directory (summary.json, log.txt)
    report.md, report.json, surrogate.png, pairs.png, simplex_slice.png
    .lock           held by the running `modomodo-mix run`: a second one on the same
                    directory is refused (each run directory has its own lock too, see
                    launch.py); plan.json and the reports are written atomically, and a
                    record line torn by a crash is dropped with a warning on resume

Each training is the command line
    <trainer> [--config FILE] [--key value ...] <weights_flag> '{"dom": w, ...}'
              [<seed_flag> SEED] --output-dir DIR
(an adaptive arm passes `<weights_flag> adaptive <policy_flag> POLICY` and `adaptive_args`)
which must write DIR/summary.json (`modomodo.summary.RunSummary`); its `eval` block
gives the per-benchmark scores, `in_score` and `out_score` (without one, `<evaluator>
--model DIR [--config FILE] --output DIR/eval.json` is run and read the same way,
`EvalScores`); its `steps` and `seconds` the compute, and an adaptive run's
`weights_mean` its average mixture. Any other shape is refused, naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modomodo._io import atomic_write_text
from modomodo.mixture.design import seed_mixtures
from modomodo.mixture.heuristics import SINGLE_RUN_SCALE, alpha, coli, norm
from modomodo.mixture.launch import DirLock, Job, JobResult, Launcher, check_free, make_launcher
from modomodo.mixture.records import RunRecord, append_record, load_records, repair_torn_tail
from modomodo.mixture.report import (
    Arm,
    PairedDifference,
    best,
    build_arms,
    compute_rows,
    compute_table,
    fmt,
    fmt_estimate,
    paired_difference,
    runs_table,
)
from modomodo.mixture.search import optimize, propose
from modomodo.mixture.surrogate import CVResult, MixtureSurrogate, make_surrogate
from modomodo.summary import EvalScores, RunSummary

HEURISTICS = ("A_in", "A_out", "A_bal", "Coli", "Norm")
# modomodo-train's mixture policies (`modomodo.mixture.policies.POLICIES`).
ADAPTIVE_POLICIES = ("dump", "thompson", "target")
# The runs the surrogate is fitted on: everything before its picks.
FIT_KINDS = ("seed", "heuristic", "pilot")


def _console(name: str, module_call: str) -> list[str]:
    """A console script of this environment, else `python -c` calling its function."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return [str(local)]
    found = shutil.which(name)
    if found:
        return [found]
    return [
        sys.executable,
        "-c",
        f"import sys; from modomodo.train.cli import {module_call}; sys.exit({module_call}())",
    ]


def _resolve(argv: list[str]) -> list[str]:
    """A bare program name missing from PATH but installed beside this Python (an
    un-activated venv) is taken from there."""
    prog = argv[0]
    if "/" not in prog and shutil.which(prog) is None:
        local = Path(sys.executable).parent / prog
        if local.exists():
            return [str(local), *argv[1:]]
    return argv


@dataclass
class MixConfig:
    """Settings of `modomodo-mix run` (YAML keys of the same names)."""

    domains: list[str]
    trainer: list[str] = field(default_factory=lambda: _console("modomodo-train", "train_main"))
    evaluator: list[str] | None = field(default_factory=lambda: _console("modomodo-eval", "eval_main"))
    train_config: str | None = None
    train_args: dict[str, Any] = field(default_factory=dict)
    weights_flag: str = "--weights"  # modomodo-train's config key `weights` (YAML/JSON mapping)
    seed_flag: str | None = "--seed"
    seeds: list[int] = field(default_factory=lambda: [0])
    final_seeds: list[int] = field(default_factory=lambda: [1, 2, 3])  # [] : no final runs
    adaptive: list[str] = field(default_factory=list)
    adaptive_args: dict[str, Any] = field(default_factory=dict)
    policy_flag: str = "--mixture_policy"
    threads: int | None = None  # OMP_NUM_THREADS of each run (null: the trainer's own)
    target: str = "out_score"
    heuristics: list[str] = field(default_factory=lambda: list(HEURISTICS))
    single_scale: float = SINGLE_RUN_SCALE
    coli_lambda: float = 1e-3
    surrogate: str = "quadratic"
    ridge: float = 1e-3
    cv: str = "kfold"
    folds: int = 5
    n_boot: int = 200
    rounds: int = 0
    round_size: int = 3
    kappa: float = 1.0
    final_k: int = 3
    search: str = "exact"
    min_distance: float = 0.1
    launcher: str = "local"
    parallel: int = 1
    timeout: float | None = None
    ray_address: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, where: str = "config") -> MixConfig:
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: expected a mapping of settings, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{where}: unknown settings {unknown}; expected some of {sorted(names)}")
        if "domains" not in data:
            raise ValueError(f"{where}: no 'domains'; expected the list of training domains to mix")
        kwargs = dict(data)
        for key in ("trainer", "evaluator"):
            if isinstance(kwargs.get(key), str):
                kwargs[key] = kwargs[key].split()
            if kwargs.get(key):
                kwargs[key] = _resolve(list(kwargs[key]))
        cfg = cls(**kwargs)
        cfg.validate(where)
        return cfg

    def validate(self, where: str = "config") -> None:
        if (
            isinstance(self.domains, str)
            or len(self.domains) < 2
            or len(set(self.domains)) != len(self.domains)
        ):
            raise ValueError(f"{where}: domains {self.domains!r}; expected at least two distinct names")
        if not self.trainer:
            raise ValueError(f"{where}: trainer {self.trainer!r}; expected a command line")
        if not self.seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in self.seeds):
            raise ValueError(f"{where}: seeds {self.seeds!r}; expected a non-empty list of integers")
        if not isinstance(self.final_seeds, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in self.final_seeds
        ):
            raise ValueError(f"{where}: final_seeds {self.final_seeds!r}; expected a list of integers")
        if len(set(self.final_seeds)) != len(self.final_seeds):
            raise ValueError(
                f"{where}: final_seeds {self.final_seeds!r} repeat a seed; expected distinct seeds"
            )
        if not isinstance(self.adaptive, list) or [p for p in self.adaptive if p not in ADAPTIVE_POLICIES]:
            raise ValueError(
                f"{where}: adaptive {self.adaptive!r}; expected a list of some of {list(ADAPTIVE_POLICIES)}"
            )
        if self.adaptive and not self.final_seeds:
            raise ValueError(
                f"{where}: adaptive {self.adaptive} needs final_seeds to train on; expected some"
            )
        if not isinstance(self.adaptive_args, Mapping):
            raise ValueError(
                f"{where}: adaptive_args {self.adaptive_args!r}; expected a mapping key -> value"
            )
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise ValueError(f"{where}: threads={self.threads!r}; expected an integer >= 1 or null")
        bad = [h for h in self.heuristics if h not in HEURISTICS]
        if bad:
            raise ValueError(f"{where}: heuristics {bad}; expected some of {list(HEURISTICS)}")
        for key in ("parallel", "final_k", "folds", "round_size", "n_boot"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{where}: {key}={v!r}; expected an integer >= 1")
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or self.rounds < 0:
            raise ValueError(f"{where}: rounds={self.rounds!r}; expected an integer >= 0")
        for key, low, open_ in (
            ("kappa", 0, False),
            ("min_distance", 0, False),
            ("coli_lambda", 0, False),
            ("single_scale", 0, False),
            ("timeout", 0, True),
        ):
            v = getattr(self, key)
            if key == "timeout" and v is None:
                continue
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not math.isfinite(v)
                or v < low
                or (open_ and v == low)
            ):
                raise ValueError(
                    f"{where}: {key}={v!r}; expected a finite number {'>' if open_ else '>='} {low}"
                )
        if self.cv not in ("kfold", "paper"):
            raise ValueError(f"{where}: cv={self.cv!r}; expected 'kfold' or 'paper'")
        if self.search not in ("exact", "slsqp", "gaussian"):
            raise ValueError(f"{where}: search={self.search!r}; expected 'exact', 'slsqp' or 'gaussian'")
        if self.launcher not in ("local", "ray"):
            raise ValueError(f"{where}: launcher={self.launcher!r}; expected 'local' or 'ray'")
        make_surrogate(self.surrogate, ridge=self.ridge)  # checks the name and ridge


def load_config(path: str | Path) -> MixConfig:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config {str(path)!r} does not exist; expected a YAML file")
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return MixConfig.from_mapping(data or {}, where=str(path))


# -- reading a trainer's output ------------------------------------------------------


def scores_from_eval(block: Any, where: str) -> tuple[dict[str, float], float, float]:
    """(per-benchmark scores, in_score, out_score) of an evaluation block as modomodo-train
    and modomodo-eval write it (`modomodo.summary.EvalScores`); a missing aggregate is NaN."""
    return _scores_of(EvalScores.from_json(block, where))


def _scores_of(ev: EvalScores) -> tuple[dict[str, float], float, float]:
    def nan_if_none(x: float | None) -> float:
        return math.nan if x is None else x

    return ev.scores(), nan_if_none(ev.in_score), nan_if_none(ev.out_score)


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


# -- the loop --------------------------------------------------------------------------


@dataclass
class LoopResult:
    output_dir: Path
    records: list[RunRecord]
    report_md: Path
    report_json: Path
    summary: dict[str, Any]


class MixLoop:
    def __init__(
        self,
        config: MixConfig,
        output_dir: str | Path,
        *,
        launcher: Launcher | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        config.validate()
        self.cfg = config
        self.dir = Path(output_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.launcher = launcher or make_launcher(
            config.launcher, parallel=config.parallel, timeout=config.timeout, address=config.ray_address
        )
        self.log = log
        self.records_path = self.dir / "records.jsonl"
        self.plan_path = self.dir / "plan.json"
        self.plan: dict[str, dict[str, Any]] = _read_json(self.plan_path) if self.plan_path.exists() else {}
        self._check_plan()
        self.trained = 0
        self.skipped = 0

    def _check_plan(self) -> None:
        for name, entry in self.plan.items():
            doms = sorted(entry.get("weights", {}))
            if doms != sorted(self.cfg.domains):
                raise ValueError(
                    f"{self.plan_path}: run {name!r} mixes {doms}, but the config's domains are "
                    f"{sorted(self.cfg.domains)}; use a fresh output directory for another study"
                )

    # state

    def records(self) -> list[RunRecord]:
        """The latest record of every (name, seed), in first-seen order."""
        if not self.records_path.exists():
            return []
        latest: dict[tuple[str, int], RunRecord] = {}
        for r in load_records(self.records_path):
            latest.pop(r.key, None)
            latest[r.key] = r
        return list(latest.values())

    def _done(self) -> set[tuple[str, int]]:
        return {r.key for r in self.records() if math.isfinite(r.score(self.cfg.target))}

    def _add(self, mixtures: Mapping[str, Mapping[str, float]], kind: str, **extra: Any) -> None:
        for name, w in mixtures.items():
            if name not in self.plan:
                self.plan[name] = {
                    "kind": kind,
                    "weights": {d: float(w.get(d, 0.0)) for d in self.cfg.domains},
                    **extra.get(name, {}),
                }
        atomic_write_text(self.plan_path, json.dumps(self.plan, indent=1))

    def _stage(self, kind: str) -> dict[str, dict[str, Any]]:
        return {n: e for n, e in self.plan.items() if e["kind"] == kind}

    # training

    def _run_dir(self, name: str, seed: int) -> Path:
        return self.dir / "runs" / name / f"s{seed}"

    def _train_argv(self, entry: Mapping[str, Any], seed: int, out: Path) -> list[str]:
        """The trainer's command line for a plan entry (a fixed mixture, or an adaptive
        policy starting from uniform)."""
        c = self.cfg
        argv = list(c.trainer)
        if c.train_config:
            argv += ["--config", str(c.train_config)]
        policy = entry.get("policy")
        args = {**c.train_args, **(c.adaptive_args if policy else {})}
        for k, v in args.items():
            argv += [f"--{k}", v if isinstance(v, str) else json.dumps(v)]
        if policy:
            argv += [c.weights_flag, "adaptive", c.policy_flag, str(policy)]
        else:
            argv += [c.weights_flag, json.dumps(dict(entry["weights"]))]
        if c.seed_flag:
            argv += [c.seed_flag, str(seed)]
        return argv + ["--output-dir", str(out)]

    def _eval_argv(self, out: Path) -> list[str]:
        assert self.cfg.evaluator is not None
        argv = list(self.cfg.evaluator) + ["--model", str(out)]
        if self.cfg.train_config:
            argv += ["--config", str(self.cfg.train_config)]
        return argv + ["--output", str(out / "eval.json")]

    def _summary(self, out: Path) -> RunSummary:
        summary_path = out / "summary.json"
        if not summary_path.exists():
            raise ValueError(f"{summary_path} was not written; see {out / 'log.txt'}")
        return RunSummary.read(summary_path)

    def _scores(self, out: Path) -> EvalScores | None:
        """The evaluation of a finished run (summary.json's, else eval.json's), or None if
        it has not been evaluated yet."""
        summary = self._summary(out)
        if summary.eval is not None:
            return summary.eval
        eval_path = out / "eval.json"
        return EvalScores.read(eval_path) if eval_path.exists() else None

    def _record(self, name: str, seed: int, out: Path, result: JobResult | None) -> RunRecord:
        entry = self.plan[name]
        rec = RunRecord(
            name=name, weights=dict(entry["weights"]), kind=entry["kind"], seed=seed, meta={"dir": str(out)}
        )
        try:
            if result is not None and not result.ok:
                raise ValueError(
                    f"exit code {result.returncode}{': ' + result.error if result.error else ''}; see {result.job.log}"
                )
            ev = self._scores(out)
            if ev is None:
                raise ValueError(f"{out / 'summary.json'} has no 'eval' block and no eval.json was written")
            rec.scores, rec.in_score, rec.out_score = _scores_of(ev)
            rec.meta.update(_costs(self._summary(out)))
        except (ValueError, OSError) as exc:
            rec.meta["error"] = str(exc)
            self.log(f"  run {name} (seed {seed}) failed: {exc}")
        return rec

    def train(self, names: Sequence[str], seeds: Sequence[int] | None = None) -> None:
        """Train every (name, seed) not yet recorded (seeds: the pilot seeds by default)."""
        seeds = self.cfg.seeds if seeds is None else seeds
        done = self._done()
        todo = [(n, s) for n in names for s in seeds if (n, s) not in done]
        self.skipped += sum(1 for n in names for s in seeds if (n, s) in done)
        if not todo:
            return
        jobs: list[Job] = []
        needs_eval: list[Job] = []
        for n, s in todo:
            out = self._run_dir(n, s)
            check_free(out)  # a training left running by a killed launcher: refuse, do not race it
            state = self._state(out)
            if state == "scored":
                # Trained and evaluated before an interruption but never recorded.
                append_record(self.records_path, self._record(n, s, out, None))
                self.skipped += 1
                continue
            if state == "needs_eval":
                needs_eval.append(Job(f"{n}/s{s}", self._eval_argv(out), out, log_name="eval_log.txt"))
                continue
            if out.exists():
                # A failed attempt: kept beside (its log tells why), the retry starts clean.
                k = 1
                while out.with_name(f"{out.name}.failed{k}").exists():
                    k += 1
                out.rename(out.with_name(f"{out.name}.failed{k}"))
            env = {} if self.cfg.threads is None else {"OMP_NUM_THREADS": str(self.cfg.threads)}
            jobs.append(Job(f"{n}/s{s}", self._train_argv(self.plan[n], s, out), out, env=env))
        self.log(
            f"training {len(jobs)} runs ({len(todo) - len(jobs) - len(needs_eval)} recovered from disk, "
            f"{len(needs_eval)} to evaluate)"
        )
        for res in self.launcher.run(jobs):
            name, seed = res.job.name.rsplit("/s", 1)
            out = res.job.output_dir
            self.trained += 1
            if res.ok and self._state(out) == "needs_eval":
                needs_eval.append(Job(res.job.name, self._eval_argv(out), out, log_name="eval_log.txt"))
                continue
            rec = self._record(name, int(seed), out, res)
            append_record(self.records_path, rec)
            self.log(
                f"  {name} s{seed}: {self.cfg.target} = {rec.score(self.cfg.target):.4f} ({res.seconds:.1f} s)"
            )
        for res in self.launcher.run(needs_eval):
            name, seed = res.job.name.rsplit("/s", 1)
            rec = self._record(name, int(seed), res.job.output_dir, res)
            append_record(self.records_path, rec)
            self.log(f"  {name} s{seed} (evaluated): {self.cfg.target} = {rec.score(self.cfg.target):.4f}")

    def _state(self, out: Path) -> str:
        """ "scored" (summary or eval.json has scores), "needs_eval" (a finished, unevaluated
        training and an evaluator to run), or "failed" (anything else: retrain)."""
        try:
            if RunSummary.read(out / "summary.json").interrupted:
                return "failed"
            if self._scores(out) is not None:
                return "scored"
        except (ValueError, OSError):
            return "failed"
        return "needs_eval" if self.cfg.evaluator else "failed"

    # aggregation and fitting

    def mean_records(self, kinds: Sequence[str] | None = None) -> list[RunRecord]:
        """One record per mixture: scores averaged over its seeds (finite ones only)."""
        groups: dict[str, list[RunRecord]] = {}
        for r in self.records():
            if math.isfinite(r.score(self.cfg.target)) and (kinds is None or r.kind in kinds):
                groups.setdefault(r.name, []).append(r)
        out = []
        for name, rs in groups.items():
            benches = sorted(set().union(*(r.scores for r in rs)))
            out.append(
                RunRecord(
                    name=name,
                    weights=rs[0].weights,
                    scores={b: float(np.nanmean([r.scores.get(b, math.nan) for r in rs])) for b in benches},
                    in_score=float(np.nanmean([r.in_score for r in rs]))
                    if any(math.isfinite(r.in_score) for r in rs)
                    else math.nan,
                    out_score=float(np.nanmean([r.out_score for r in rs]))
                    if any(math.isfinite(r.out_score) for r in rs)
                    else math.nan,
                    kind=rs[0].kind,
                    meta={
                        "n_seeds": len(rs),
                        "sd": float(np.std([r.score(self.cfg.target) for r in rs], ddof=1))
                        if len(rs) > 1
                        else None,
                    },
                )
            )
        return out

    def fit(self) -> tuple[MixtureSurrogate, CVResult]:
        """The surrogate on the pilot runs before its picks (FIT_KINDS, pilot seeds), with
        its k-fold cross-validation and bootstrap."""
        everything = [r for r in self.records() if r.kind in FIT_KINDS and r.seed in self.cfg.seeds]
        recs = [r for r in everything if math.isfinite(r.score(self.cfg.target))]
        if not recs:
            failed = ", ".join(f"{r.name} (seed {r.seed})" for r in everything)
            raise ValueError(
                f"no run finished with a finite {self.cfg.target}; failed: {failed or 'none recorded'} "
                f"(errors in {self.records_path}, logs under {self.dir / 'runs'})"
            )
        s = make_surrogate(self.cfg.surrogate, ridge=self.cfg.ridge)
        s.fit(recs, domains=self.cfg.domains, target=self.cfg.target)
        cv = s.cross_validate(self.cfg.cv, k=self.cfg.folds)
        s.bootstrap(self.cfg.n_boot, seed=0)
        return s, cv

    # the stages

    def run(self) -> LoopResult:
        with DirLock(self.dir / ".lock", f"study directory {self.dir}"):
            repair_torn_tail(self.records_path)
            return self._run()

    def _run(self) -> LoopResult:
        c = self.cfg
        self.log(
            f"modomodo-mix run: {len(c.domains)} domains {c.domains}, seeds {c.seeds}, output {self.dir}"
        )
        self._add(seed_mixtures(c.domains), "seed")
        self.train(list(self._stage("seed")))

        if c.heuristics:
            seeds = self.mean_records(["seed"])
            if not self._stage("heuristic"):
                mixes: dict[str, dict[str, float]] = {}
                for h in c.heuristics:
                    try:
                        mixes[h] = self._heuristic(h, seeds)
                    except ValueError as exc:
                        self.log(f"  heuristic {h} skipped: {exc}")
                self._add(mixes, "heuristic")
            self.train(list(self._stage("heuristic")))

        for r in range(c.rounds):
            prefix = f"ucb{r}_"
            if not any(n.startswith(prefix) for n in self.plan):
                s, _ = self.fit()
                picks = propose(
                    s, c.round_size, kappa=c.kappa, min_distance=c.min_distance, n_boot=c.n_boot, seed=r
                )
                self._add(
                    {f"{prefix}{i}": p.weights for i, p in enumerate(picks)},
                    "pilot",
                    **{
                        f"{prefix}{i}": {"predicted": p.predicted, "spread": p.spread}
                        for i, p in enumerate(picks)
                    },
                )
            self.train([n for n in self.plan if n.startswith(prefix)])

        s, cv = self.fit()
        if not self._stage("surrogate"):
            picks = optimize(
                s, k=c.final_k, method=c.search, min_distance=c.min_distance, spread=True, n_boot=c.n_boot
            )
            self._add(
                {f"surrogate_{i}": p.weights for i, p in enumerate(picks)},
                "surrogate",
                **{
                    f"surrogate_{i}": {"predicted": p.predicted, "spread": p.spread}
                    for i, p in enumerate(picks)
                },
            )
        self.train(list(self._stage("surrogate")))

        if c.final_seeds:
            if not self._stage("final"):
                finals = self._finals()
                self._add(
                    {name: self.plan[of]["weights"] for name, of in finals.items()},
                    "final",
                    **{name: {"of": of} for name, of in finals.items()},
                )
            uniform = {d: 1.0 / len(c.domains) for d in c.domains}
            adaptive = {f"adaptive_{p}": p for p in c.adaptive}
            self._add(
                dict.fromkeys(adaptive, uniform),
                "adaptive",
                **{n: {"policy": p} for n, p in adaptive.items()},
            )
            # The adaptive runs need nothing from the others: one batch keeps the launcher full.
            self.train([*self._stage("final"), *adaptive], c.final_seeds)
        return self.report(s, cv)

    def _finals(self) -> dict[str, str]:
        """The final arms, by name -> the pilot arm whose mixture they train: uniform, and
        the heuristic and the surrogate pick with the best measured target on the pilot seeds."""
        t = self.cfg.target
        arms = build_arms(self.plan, [r for r in self.records() if r.seed in self.cfg.seeds], t)
        chosen = [a for a in arms if a.name == "uniform"]
        for kind in ("heuristic", "surrogate"):
            top = best([a for a in arms if a.kind == kind], t)
            if top is not None:
                chosen.append(top)
        return {f"final_{a.name}": a.name for a in chosen}

    def _heuristic(self, h: str, seeds: list[RunRecord]) -> dict[str, float]:
        c = self.cfg
        if not seeds:
            raise ValueError("no seed run finished with a finite score")
        if h == "Coli":
            return coli(seeds, c.coli_lambda, domains=c.domains)
        if h == "Norm":
            return norm(seeds, domains=c.domains)
        a = {"A_in": 1.0, "A_out": 0.0, "A_bal": 0.5}[h]
        return alpha(seeds, a, single_scale=c.single_scale, domains=c.domains)

    # report

    def report(self, s: MixtureSurrogate, cv: CVResult) -> LoopResult:
        from modomodo.mixture.plots import plot_observed_vs_predicted, plot_pair_surfaces, plot_simplex_slice

        t = self.cfg.target
        arms = build_arms(self.plan, self.records(), t)
        if arms:
            pred, spread = s.predict_spread([a.weights for a in arms])
            for a, p, sd in zip(arms, pred, spread):
                a.predicted, a.spread = float(p), float(sd)
        summary = self._report_summary(cv, arms)
        summary["coefficients"] = s.coefficients()
        md = self._markdown(summary, arms)
        report_md = self.dir / "report.md"
        report_json = self.dir / "report.json"
        atomic_write_text(report_md, md)
        atomic_write_text(report_json, json.dumps(_clean(summary), indent=1, allow_nan=False))
        held_out = [(a.name, a.estimate(t)[0], a.predicted) for a in self._held_out(arms)]
        centre = best(self._held_out(arms), t) or best(arms, t)
        try:
            plot_observed_vs_predicted(s, self.dir / "surrogate.png", cv=cv, target=t, held_out=held_out)
            plot_pair_surfaces(s, self.dir / "pairs.png", target=t)
            if len(self.cfg.domains) >= 3 and centre is not None:
                plot_simplex_slice(
                    s,
                    self.dir / "simplex_slice.png",
                    centre=centre.weights,
                    points=[(a.weights, a.estimate(t)[0], a.name) for a in arms],
                    target=t,
                )
        except Exception as exc:  # a figure must never lose the report
            warnings.warn(f"could not draw the figures: {exc}", UserWarning, stacklevel=1)
        self.log(md)
        return LoopResult(self.dir, self.records(), report_md, report_json, summary)

    def _held_out(self, arms: list[Arm]) -> list[Arm]:
        """The arms at mixtures the surrogate was not fitted on: its picks and their finals."""
        return [
            a
            for a in arms
            if a.kind == "surrogate" or (a.kind == "final" and self._final_of(a.name) == "surrogate")
        ]

    def _final_of(self, name: str) -> str | None:
        """The kind of the pilot arm whose mixture the final arm `name` trains."""
        of = self.plan[name].get("of")
        return None if of not in self.plan else self.plan[of]["kind"]

    def _comparisons(self, arms: list[Arm]) -> list[tuple[str, Arm, Arm, PairedDifference]]:
        """The acceptance comparisons over the final seeds, paired by seed: the best final
        pick and heuristic and every adaptive policy against final uniform; the best adaptive
        policy against uniform and against the best pick."""
        t = self.cfg.target
        finals = [a for a in arms if a.kind == "final"]
        uniform = next((a for a in finals if self.plan[a.name].get("of") == "uniform"), None)
        if uniform is None:
            return []
        pick = next((a for a in finals if self._final_of(a.name) == "surrogate"), None)
        heur = next((a for a in finals if self._final_of(a.name) == "heuristic"), None)
        adaptive = [a for a in arms if a.kind == "adaptive"]
        out = []
        for label, a in (("best surrogate pick", pick), ("best heuristic", heur)):
            if a is not None:
                out.append((label, a, uniform, paired_difference(a.by_seed(t), uniform.by_seed(t))))
        for a in adaptive:
            out.append(
                (f"adaptive {a.policy}", a, uniform, paired_difference(a.by_seed(t), uniform.by_seed(t)))
            )
        top = best(adaptive, t)
        if top is not None:
            out.append(("best adaptive", top, uniform, paired_difference(top.by_seed(t), uniform.by_seed(t))))
            if pick is not None:
                out.append(
                    (
                        "best adaptive vs best pick",
                        top,
                        pick,
                        paired_difference(top.by_seed(t), pick.by_seed(t)),
                    )
                )
        return out

    def _report_summary(self, cv: CVResult, arms: list[Arm]) -> dict[str, Any]:
        """report.json: the study's settings, the fit, every arm, the verdicts against the
        uniform mixture, the paired comparisons and the compute."""
        c = self.cfg
        t = c.target
        by_name = {a.name: a for a in arms}
        failed = sorted(
            {f"{r.name} (seed {r.seed})" for r in self.records() if not math.isfinite(r.score(t))}
        )
        uniform = by_name.get("uniform")
        heur = [a for a in arms if a.kind == "heuristic"]
        picks = [a for a in arms if a.kind == "surrogate"]
        best_h = best(heur, t)
        top = by_name.get("surrogate_0")
        beat = None
        if uniform is not None and top is not None:
            beat = top.estimate(t)[0] > uniform.estimate(t)[0]
        best_run = best(arms, t)
        offline, adaptive = compute_rows(arms)
        rows = []
        for a in arms:
            (ins, ins_se), (outs, outs_se) = a.estimate("in_score"), a.estimate("out_score")
            scores = [r.score(t) for r in a.records]
            rows.append(
                {
                    "name": a.name,
                    "kind": a.kind,
                    "policy": a.policy,
                    "weights": a.weights,
                    "seeds": len(a.records),
                    "seed_list": a.seeds,
                    "scores": a.benchmark_means(),
                    "in_score": ins,
                    "in_se": ins_se,
                    "out_score": outs,
                    "out_se": outs_se,
                    "sd": float(np.std(scores, ddof=1)) if len(scores) > 1 else None,
                    "predicted": a.predicted,
                    "spread": a.spread,
                    "predicted_when_picked": a.predicted_when_picked,
                    "steps": a.total("steps"),
                    "seconds": a.total("seconds"),
                }
            )
        return {
            "domains": c.domains,
            "target": t,
            "seeds": c.seeds,
            "final_seeds": c.final_seeds,
            "surrogate": c.surrogate,
            "ridge": c.ridge,
            "cv": {
                "method": cv.method,
                "r2": cv.r2,
                "rmse": cv.rmse,
                "folds": cv.folds,
                "n_records": cv.n_records,
            },
            "runs": rows,
            "failed": failed,
            "uniform": None if uniform is None else uniform.estimate(t)[0],
            "best_heuristic": None if best_h is None else {"name": best_h.name, t: best_h.estimate(t)[0]},
            "picks": [
                {
                    "name": a.name,
                    "weights": a.weights,
                    t: a.estimate(t)[0],
                    **{k: self.plan[a.name].get(k) for k in ("predicted", "spread")},
                }
                for a in picks
            ],
            "best_predicted_beat_uniform": beat,
            "delta_vs_uniform": None if beat is None else top.estimate(t)[0] - uniform.estimate(t)[0],  # type: ignore[union-attr]
            "best_run": None if best_run is None else {"name": best_run.name, t: best_run.estimate(t)[0]},
            "comparisons": [
                {
                    "label": label,
                    "a": a.name,
                    "b": b.name,
                    "mean": d.mean,
                    "standard_error": d.standard_error,
                    "z": d.z,
                    "seeds": list(d.seeds),
                    "differences": list(d.differences),
                }
                for label, a, b, d in self._comparisons(arms)
            ],
            "compute": {"offline": offline, "adaptive": adaptive},
            "trained_now": self.trained,
            "skipped": self.skipped,
            "target_spread": float(np.ptp([a.estimate(t)[0] for a in arms])) if arms else None,
        }

    def _markdown(self, summary: dict[str, Any], arms: list[Arm]) -> str:
        c = self.cfg
        t = c.target
        f = fmt
        benchmarks = sorted(set().union(*(a.benchmark_means() for a in arms))) if arms else []
        n_runs = sum(len(a.records) for a in arms)
        lines = [
            f"# modomodo-mix run ({len(c.domains)} domains, target {t})",
            "",
            f"Trainer: `{' '.join(c.trainer)}`; pilot seeds {c.seeds}, final seeds {c.final_seeds}; "
            f"{len(arms)} arms, {n_runs} runs.",
            "",
            "## Runs",
            "",
            "Weights per domain (an adaptive arm: `~`, its policy's step-averaged weights, mean over seeds), "
            "per-benchmark scores (mean over seeds), In-/Out-Score as mean ± standard error over seeds, "
            "and the surrogate's prediction at the weights.",
            "",
            *runs_table(arms, c.domains, benchmarks),
            "",
            "## Acceptance comparisons",
            "",
            f"{t}, paired over the final seeds: mean ± standard error of the seed-to-seed difference "
            "(and how many standard errors from zero).",
            "",
        ]
        comparisons = summary["comparisons"]
        if not comparisons:
            lines.append("- no final runs to compare (final_seeds is empty, or uniform failed)")
        for comp, (_, a, b, d) in zip(comparisons, self._comparisons(arms)):
            lines.append(f"- {comp['label']}: {a.name} − {b.name} = {d}")
        cv = summary["cv"]
        held = self._held_out(arms)
        lines += [
            f"- Surrogate held-out R²: {f(cv['r2'])} ({cv['method']} CV, {cv['folds']} folds, out-of-fold "
            f"predictions of the {cv['n_records']} pilot runs it was fitted on; RMSE {f(cv['rmse'])})",
        ]
        for a in held:
            mean, se = a.estimate(t)
            lines.append(
                f"  - held-out mixture {a.name}: predicted {f(a.predicted)}, measured {fmt_estimate(mean, se)} "
                f"({len(a.records)} seed{'s' * (len(a.records) != 1)})"
            )
        offline, adaptive = summary["compute"]["offline"], summary["compute"]["adaptive"]
        lines += [
            "",
            "## Compute",
            "",
            "GRPO steps and wall time (each run's `seconds.total` less its `warm_start`, which is cached "
            "and shared by every run of a seed: setup, training, evaluation) of the offline method's pilot "
            "runs against each adaptive policy's runs.",
            "",
            *compute_table(offline, adaptive),
            "",
            "## Pilot results",
            "",
            f"Surrogate: {c.surrogate} (ridge {c.ridge:g}) fitted on the {cv['n_records']} seed, heuristic and "
            f"UCB runs; {cv['method']} CV ({cv['folds']} folds) R² = {f(cv['r2'])}, RMSE = {f(cv['rmse'])}. "
            "A pick's 'predicted' below is the prediction it was chosen with.",
            "",
            f"- Uniform baseline: {t} {f(summary['uniform'])}",
        ]
        bh = summary["best_heuristic"]
        if bh:
            lines.append(
                f"- Best heuristic: {bh['name']}, {t} {f(bh[t])} ({_delta(bh[t], summary['uniform'])} vs uniform)"
            )
        for p in summary["picks"]:
            lines.append(
                f"- Surrogate pick {p['name']}: predicted {f(p['predicted'])} ± {f(p['spread'])}, measured {f(p[t])} "
                f"({_delta(p[t], summary['uniform'])} vs uniform)"
            )
        beat = summary["best_predicted_beat_uniform"]
        verdict = "not measured" if beat is None else ("yes" if beat else "no")
        if beat is False and summary["delta_vs_uniform"] == 0:
            verdict = "no (a tie)"
        lines.append(
            f"- Best predicted mixture (surrogate_0) beat uniform on {t}: **{verdict}**"
            + ("" if beat is None else f" ({summary['delta_vs_uniform']:+.4f})")
            + " on the pilot seeds"
        )
        if summary["best_run"]:
            lines.append(f"- Best arm overall: {summary['best_run']['name']} ({f(summary['best_run'][t])})")
        if len(arms) > 1 and summary["target_spread"] == 0:
            lines.append(
                f"- Every run scored the same {t}: at this scale the mixture made no measurable difference"
            )
        if summary["failed"]:
            lines.append(f"- Failed runs (NaN scores, retried on resume): {', '.join(summary['failed'])}")
        return "\n".join(lines) + "\n"


def _costs(summary: RunSummary) -> dict[str, Any]:
    """What a run cost and, for an adaptive run, the mixture it trained on (summary.json)."""
    out: dict[str, Any] = {"steps": summary.steps}
    if "total" in summary.seconds:
        # The warm start is cached and shared by every run of a seed: whichever run pays it is chance.
        out["seconds"] = float(summary.seconds["total"]) - float(summary.seconds.get("warm_start", 0.0))
    if summary.weights_mean is not None:
        out["weights_mean"] = summary.weights_mean
        out["weights_final"] = summary.weights_final
    return out


def _delta(x: float | None, base: float | None) -> str:
    if x is None or base is None:
        return "n/a"
    return f"{x - base:+.4f}"


def _clean(x: Any) -> Any:
    """JSON-ready copy: numpy scalars to Python, non-finite floats to null."""
    if isinstance(x, Mapping):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def run_loop(
    config: MixConfig,
    output_dir: str | Path,
    *,
    launcher: Launcher | None = None,
    log: Callable[[str], None] = print,
) -> LoopResult:
    return MixLoop(config, output_dir, launcher=launcher, log=log).run()
