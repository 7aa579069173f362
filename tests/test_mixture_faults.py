"""`modomodo-mix` under bad input and faults (issue 18): empty, binary and duplicated
record files, NaN and out-of-range numbers, a design too large to make, overlong
errors, a record line torn by a crash, two writers in one directory, and `kill -9` of
`modomodo-mix run` (no orphan training, and resume ends with what an uninterrupted run
gives, each run once)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from modomodo.mixture.cli import main
from modomodo.mixture.design import simplex_lattice
from modomodo.mixture.launch import DirLock, run_lock_path
from modomodo.mixture.loop import MixConfig, MixLoop
from modomodo.mixture.records import RunRecord, load_records

TABLE = Path(__file__).resolve().parents[1] / "examples" / "mixture" / "paper_table2_seeds.tsv"
LINUX = sys.platform.startswith("linux")


def _quiet(_msg: str) -> None:
    pass


def _record(name: str, out: float | None, *, seed: int = 0, w=(0.5, 0.5)) -> dict:
    return {
        "name": name,
        "weights": {"a": w[0], "b": w[1]},
        "in_score": 0.1,
        "out_score": out,
        "seed": seed,
    }


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# -- records files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "holds no run records"),
        (b"\n  \n\n", "holds no run records"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"is not UTF-8 text \(byte 0x89 at offset 0\)"),
        (b'{"name": "x"}\x00\x00\x00\x00', r"is binary \(a NUL byte at offset 13\)"),
    ],
)
@pytest.mark.parametrize("suffix", [".jsonl", ".tsv"])
def test_fit_on_an_empty_or_binary_file_names_the_file(tmp_path, capsys, content, message, suffix):
    path = tmp_path / f"runs{suffix}"
    path.write_bytes(content)
    assert main(["fit", str(path), "--ridge", "0.01"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    if suffix == ".tsv" and "no run records" in message:
        assert "is empty; expected a header line and one row per run" in err
    else:
        assert re.search(message, err)


def test_fit_refuses_a_run_recorded_twice_naming_it(tmp_path, capsys):
    base = [_record("single_a", 0.3, w=(1, 0)), _record("single_b", 0.4, w=(0, 1))]
    path = _jsonl(tmp_path / "dup.jsonl", [*base, _record("uniform", 0.5), _record("uniform", 0.55)])
    assert main(["fit", str(path), "--ridge", "0.01", "--folds", "2"]) == 2
    err = capsys.readouterr().err
    assert "run 'uniform' (seed 0) is recorded twice (records 3 and 4)" in err and str(path) in err

    # One name, two mixtures: refused too, whatever the seeds.
    path = _jsonl(
        tmp_path / "two.jsonl", [*base, _record("mix", 0.5), _record("mix", 0.5, seed=1, w=(0.2, 0.8))]
    )
    assert main(["fit", str(path), "--ridge", "0.01", "--folds", "2"]) == 2
    assert "run 'mix' has two different mixtures (records 3 and 4" in capsys.readouterr().err

    # A failed record followed by its retry (what `modomodo-mix run` writes on resume) is
    # one run: the retry replaces it, and the fit no longer trips on the NaN.
    path = _jsonl(tmp_path / "retried.jsonl", [*base, _record("uniform", None), _record("uniform", 0.5)])
    assert main(["fit", str(path), "--ridge", "0.01", "--folds", "2"]) == 0
    out = capsys.readouterr().out
    assert "3 records" in out and out.count("uniform") == 1

    # Two seeds of one mixture are two runs.
    path = _jsonl(
        tmp_path / "seeds.jsonl", [*base, _record("uniform", 0.5), _record("uniform", 0.52, seed=1)]
    )
    assert main(["fit", str(path), "--ridge", "0.01", "--folds", "2"]) == 0
    assert "4 records" in capsys.readouterr().out

    # The same in a table.
    lines = TABLE.read_text().splitlines()
    uniform = next(line for line in lines if line.startswith("uniform\t"))
    table = tmp_path / "dup.tsv"
    table.write_text("\n".join([*lines, uniform]) + "\n")
    assert main(["fit", str(table), "--ridge", "0.01"]) == 2
    assert "run 'uniform' (seed 0) is recorded twice (records 11 and 12)" in capsys.readouterr().err


def test_a_torn_last_record_line_is_dropped_with_a_warning(tmp_path):
    path = _jsonl(tmp_path / "r.jsonl", [_record("single_a", 0.3, w=(1, 0))])
    whole = json.dumps(_record("single_b", 0.4, w=(0, 1)))
    with path.open("a") as fh:
        fh.write(whole[:25])  # a crash in the middle of an append
    with pytest.warns(UserWarning, match=r"r.jsonl:2: the last line is cut short"):
        recs = load_records(path)
    assert [r.name for r in recs] == ["single_a"]
    # A malformed line that is not the last is an error naming the line, as before.
    path.write_text(whole[:25] + "\n" + whole + "\n")
    with pytest.raises(ValueError, match=r"r.jsonl:1: not valid JSON"):
        load_records(path)
    # A whole last line that only lacks its newline is kept.
    path.write_text(whole)
    assert [r.name for r in load_records(path)] == ["single_b"]


# -- numbers -----------------------------------------------------------------------------

BAD_NUMBERS = [
    (
        ["propose", str(TABLE), "--ridge", "0.01", "--kappa", "nan"],
        "--kappa: nan; expected a finite number >= 0",
    ),
    (["propose", str(TABLE), "--ridge", "0.01", "--kappa", "inf"], "--kappa: inf; expected a finite number"),
    (
        ["propose", str(TABLE), "--ridge", "0.01", "--kappa", "-1"],
        "--kappa: -1; expected a finite number >= 0",
    ),
    (["propose", str(TABLE), "--ridge", "0.01", "--k", "0"], "--k: 0; expected an integer >= 1"),
    (["propose", str(TABLE), "--ridge", "0.01", "--k", "two"], "--k: 'two' is not an integer"),
    (["propose", str(TABLE), "--ridge", "0.01", "--min-distance", "nan"], "--min-distance: nan"),
    (["propose", str(TABLE), "--ridge", "0.01", "--n-boot", "1"], "--n-boot: 1; expected an integer >= 2"),
    (["propose", str(TABLE), "--ridge", "0.01", "--n-boot", "10000000"], "and <= 100000"),
    (["fit", str(TABLE), "--ridge", "nan"], "--ridge: nan; expected a finite number >= 0"),
    (["fit", str(TABLE), "--ridge", "-0.5"], "--ridge: -0.5"),
    (["fit", str(TABLE), "--folds", "1"], "--folds: 1; expected an integer >= 2"),
    (["fit", str(TABLE), "--seed", "-3"], "--seed: -3; expected an integer >= 0"),
    (["plan", "--domains", "a,b", "--alpha", "nan"], "--alpha: nan; expected a finite number > 0"),
    (["plan", "--domains", "a,b", "--alpha", "0"], "--alpha: 0; expected a finite number > 0"),
    (["plan", "--domains", "a,b", "--dirichlet", "-1"], "--dirichlet: -1; expected an integer >= 0"),
    (["plan", "--domains", "a,b", "--dirichlet", "100000000"], "and <= 10000"),
    (["plan", "--domains", "a,b", "--lattice", "1.5"], "--lattice: '1.5' is not an integer"),
    (["run", "--parallel", "0"], "--parallel: 0; expected an integer >= 1"),
    (["run", "--seeds", "1,x"], "--seeds: '1,x'; expected comma-separated integers"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_NUMBERS, ids=[" ".join(a[-2:]) for a, _ in BAD_NUMBERS])
def test_numeric_options_refuse_nan_inf_and_out_of_range(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("kappa=.nan", "kappa=nan; expected a finite number >= 0"),
        ("min_distance=-1", "min_distance=-1; expected a finite number >= 0"),
        ("coli_lambda=.inf", "coli_lambda=inf"),
        ("timeout=0", "timeout=0; expected a finite number > 0"),
    ],
)
def test_run_settings_refuse_nan_and_out_of_range(setting, message, tmp_path, capsys):
    assert main(["run", "--set", setting, "--output-dir", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err


def test_plan_counts_the_lattice_before_making_it(capsys):
    start = time.process_time()
    assert main(["plan", "--domains", "a,b", "--lattice", "100000"]) == 2
    assert time.process_time() - start < 5  # counted, not enumerated (the old code ran for minutes)
    err = capsys.readouterr().err
    assert "the simplex lattice of degree 100000 over 2 domains has 100,001 points, more than 10,000" in err
    assert "expected a degree of at most 9999 for 2 domains" in err
    assert main(["plan", "--domains", "a,b,c,d,e,f,g,h", "--lattice", "20"]) == 2
    assert "has 888,030 points" in capsys.readouterr().err
    # The largest allowed lattice is made, point by point.
    assert len(simplex_lattice(["a", "b"], 9999)) == 10_000


@pytest.mark.parametrize(("m", "degree"), [(2, 1), (2, 5), (3, 4), (4, 3), (5, 2), (3, 7)])
def test_lattice_equals_the_brute_force_definition(m, degree):
    import itertools

    doms = [f"d{i}" for i in range(m)]
    points = sorted(
        (c for c in itertools.product(range(degree + 1), repeat=m) if sum(c) == degree), reverse=True
    )
    got = simplex_lattice(doms, degree)
    assert [tuple(round(w[d] * degree) for d in doms) for w in got.values()] == points
    assert list(got) == [f"lattice_{i:03d}" for i in range(len(points))]


def test_errors_are_capped_and_outputs_checked_before_the_work(tmp_path, capsys):
    # A record with 200,000 domains: its weights appear in the error, cut to a readable length.
    huge = {"name": "x", "weights": {f"d{i}": 1.0 for i in range(200_000)}, "out_score": 0.1}
    path = _jsonl(tmp_path / "huge.jsonl", [huge])
    assert main(["fit", str(path)]) == 2
    err = capsys.readouterr().err
    assert "weights sum to 200000" in err and len(err) < 1200 and "more characters)" in err

    # An output that cannot be written is refused before the fit.
    (tmp_path / "adir").mkdir()
    assert main(["propose", str(TABLE), "--ridge", "0.01", "--json", str(tmp_path / "adir")]) == 2
    assert "--json" in capsys.readouterr().err
    assert main(["plan", "--domains", "a,b", "--output", str(tmp_path / "no" / "plan.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    assert main(["fit", str(TABLE), "--ridge", "0.01", "--plot-dir", str(tmp_path / "afile")]) == 2
    assert "is a file; expected a folder" in capsys.readouterr().err


# -- the study: locks, torn records, kill -9 ------------------------------------------

# A stand-in for modomodo-train (standard library only, so it starts fast): notes its pid,
# sleeps FAKE_SLEEP seconds (a window to kill its launcher in), then writes summary.json
# with a score that depends on the mixture and seed only, as the real trainer's does.
FAKE_TRAINER = r"""
import argparse, json, os, random, time
ap = argparse.ArgumentParser()
ap.add_argument("--output-dir", required=True)
ap.add_argument("--weights", required=True)
ap.add_argument("--seed", type=int, default=0)
args, _ = ap.parse_known_args()
with open(os.environ["FAKE_PIDS"], "a") as fh:
    fh.write(f"{os.getpid()} {args.output_dir}\n")
time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
w = json.loads(args.weights)
out = 0.6 - 0.8 * ((w["a"] - 0.5) ** 2 + (w["b"] - 0.3) ** 2 + (w["c"] - 0.2) ** 2)
out += random.Random(args.weights + str(args.seed)).gauss(0.0, 0.002)
ins = 0.3 + 0.2 * w["a"]
ev = {"benchmarks": {"x": {"score": out, "n": 64, "role": "out"}, "y": {"score": ins, "n": 64, "role": "in"}},
      "in_score": ins, "out_score": out}
os.makedirs(args.output_dir, exist_ok=True)
summary = {"steps": 1, "reward": {"start": 0.1, "end": 0.5}, "per_domain": {}, "eval": ev}
with open(os.path.join(args.output_dir, "summary.json"), "w") as fh:
    json.dump(summary, fh)
"""


@pytest.fixture
def study(tmp_path, monkeypatch):
    """(config mapping, path of the trainer's pid log) for a 3-domain study of the fake trainer."""
    trainer = tmp_path / "fake_train.py"
    trainer.write_text(FAKE_TRAINER)
    pids = tmp_path / "pids.txt"
    monkeypatch.setenv("FAKE_PIDS", str(pids))
    data = dict(
        domains=["a", "b", "c"],
        trainer=[sys.executable, str(trainer)],
        evaluator=None,
        heuristics=["A_bal", "Norm"],
        final_k=2,
        n_boot=30,
        final_seeds=[],
    )
    return data, pids


def test_a_second_writer_of_a_study_is_refused(study, tmp_path, capsys):
    data, _ = study
    cfg = tmp_path / "mix.yaml"
    cfg.write_text(yaml.safe_dump(data))
    out = tmp_path / "o"
    out.mkdir()
    with DirLock(out / ".lock", "a study"):  # as a running `modomodo-mix run` holds it
        assert main(["run", "--config", str(cfg), "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"study directory {out} is in use by another process (pid {os.getpid()}" in err
    assert not (out / "records.jsonl").exists()
    # Released: the same command runs.
    assert main(["run", "--config", str(cfg), "--output-dir", str(out)]) == 0


def test_a_training_left_running_is_not_raced_on_resume(study, tmp_path):
    """A training that outlived its launcher still holds its run directory's lock (it
    inherited it): resume refuses to retrain into that directory, naming the holder,
    instead of renaming it and letting the old process overwrite the new summary.json."""
    data, _ = study
    out = tmp_path / "o"
    run_dir = out / "runs" / "single_b" / "s0"
    run_dir.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = DirLock(run_lock_path(run_dir), "x").acquire()
        lock.note(holder.pid)
        with pytest.raises(
            ValueError, match=rf"run directory {run_dir} is in use by another process \(pid {holder.pid}"
        ):
            MixLoop(MixConfig.from_mapping(data), out, log=_quiet).run()
        lock.close()
    finally:
        holder.kill()
        holder.wait()
    assert not (out / "runs" / "single_b" / "s0.failed1").exists()
    assert not (run_dir / "summary.json").exists()


def test_resume_after_a_torn_record_line_records_each_run_once(study, tmp_path):
    data, pids = study
    cfg = MixConfig.from_mapping(data)
    reference = MixLoop(cfg, tmp_path / "ref", log=_quiet).run()
    out = tmp_path / "o"
    MixLoop(cfg, out, log=_quiet).run()
    # Cut the last two records, the second mid-line, as a crash during an append would.
    path = out / "records.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-2]) + lines[-2][: len(lines[-2]) // 2])
    with pytest.warns(UserWarning, match="dropped a last line cut short by a crash"):
        again = MixLoop(cfg, out, log=_quiet).run()
    recs = load_records(path)
    assert sorted(r.key for r in recs) == sorted({r.key for r in recs})  # each run once
    assert _essence(recs) == _essence(reference.records)
    assert again.summary["picks"] == reference.summary["picks"]


def _essence(records: list[RunRecord]) -> list[tuple]:
    """What a record says about its run (not where its directory was)."""
    return sorted(
        (
            r.name,
            r.seed,
            r.kind,
            json.dumps(r.weights, sort_keys=True),
            json.dumps(r.scores, sort_keys=True),
            r.in_score,
            r.out_score,
        )
        for r in records
    )


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (the study's directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline and _alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def _wait_gone(text: str, seconds: float = 2.0) -> list[int]:
    """The processes still running `seconds` after a kill (a child told to die with its
    parent is gone at once; an orphan runs on, here for longer than that)."""
    deadline = time.monotonic() + seconds
    while (left := _processes_mentioning(text)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def kill_at(argv: list[str], when: Callable[[], bool], *, env: dict[str, str], limit: float) -> bool:
    """Start `modomodo-mix run` (argv), SIGKILL it as soon as `when()` holds. False if it
    finished first."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + limit
    try:
        while proc.poll() is None:
            if when():
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            if time.monotonic() > deadline:
                raise AssertionError(f"the kill condition did not come within {limit} s")
            time.sleep(0.02)
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _started(out: Path, n: int) -> Callable[[], bool]:
    """At least `n` trainings have been started in `out` (their run directories exist)."""

    def check() -> bool:
        runs = out / "runs"
        return runs.is_dir() and sum(1 for d in runs.glob("*/s*") if d.is_dir()) >= n

    return check


def _recorded(out: Path, n: int) -> Callable[[], bool]:
    def check() -> bool:
        path = out / "records.jsonl"
        return path.exists() and path.read_bytes().count(b"\n") >= n

    return check


def _compare_with_reference(out: Path, ref: Path) -> None:
    recs = load_records(out / "records.jsonl")
    keys = [r.key for r in recs]
    assert len(keys) == len(set(keys)), f"a run recorded twice: {keys}"
    assert _essence(recs) == _essence(load_records(ref / "records.jsonl"))
    assert json.loads((out / "plan.json").read_text()) == json.loads((ref / "plan.json").read_text())

    # Wall times are measurements: equal runs take different times.
    def timeless(md: str) -> str:
        return re.sub(r"\| [\d.]+ (s|min) \|", "| (time) |", md)

    assert timeless((out / "report.md").read_text()) == timeless((ref / "report.md").read_text())
    got, want = (json.loads((d / "report.json").read_text()) for d in (out, ref))
    for volatile in ("trained_now", "skipped"):  # how much this invocation did, by definition different
        got.pop(volatile), want.pop(volatile)
    for report in (got, want):
        report["compute"]["offline"].pop("seconds")
        for row in report["runs"]:
            row.pop("seconds")
    assert got == want


@pytest.mark.skipif(not LINUX, reason="children die with their parent through Linux's PR_SET_PDEATHSIG")
def test_kill_9_of_mix_run_leaves_no_orphan_and_resume_matches(study, tmp_path):
    data, pids = study
    cfg = tmp_path / "mix.yaml"
    cfg.write_text(yaml.safe_dump(data))
    env = {**os.environ, "FAKE_SLEEP": "0"}
    # While killing, each training lasts 4 s: an orphan would outlive the check below.
    killing = {**env, "FAKE_SLEEP": "4"}
    ref, out = tmp_path / "ref", tmp_path / "o"

    def argv(d: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "modomodo.mixture.cli",
            "run",
            "--config",
            str(cfg),
            "--output-dir",
            str(d),
        ]

    assert subprocess.run(argv(ref), env=env, capture_output=True, check=False).returncode == 0
    # 7 seeds + 2 heuristics + 2 picks. Kill while the 1st, 5th and 10th trainings run,
    # and just after the 8th record was written.
    for when in (_started(out, 1), _started(out, 5), _recorded(out, 8), _started(out, 10)):
        pids.unlink(missing_ok=True)
        assert kill_at(argv(out), when, env=killing, limit=120)
        assert _wait_gone(str(out)) == [], "a training outlived `modomodo-mix run`"
        started = [int(line.split()[0]) for line in pids.read_text().splitlines()] if pids.exists() else []
        assert not any(_alive(p) for p in started)
    done = subprocess.run(argv(out), env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    _compare_with_reference(out, ref)


# -- fault injection with the real trainer -----------------------------------------------

# A micro study through the real `modomodo-train`: two domains, the tiny model, a 4-step
# warm start and 2 GRPO steps per run; 3 seeds + 1 surrogate pick = 4 trainings. The
# caption domain is scored by BMAS (a graded reward) so the runs' scores differ and the
# comparison below compares numbers, not zeros.
TINY_TRAIN = {
    "domains": ["spatial", {"builtin": "caption", "rewards": [{"name": "bmas", "weight": 2.0}]}],
    "eval_domains": [
        "spatial_test",
        {"builtin": "caption", "role": "out", "rewards": [{"name": "bmas", "weight": 1.0}]},
    ],
    "train_size": 8,
    "eval_size": 4,
    "image_size": 56,
    "warmstart_steps": 4,
    "warmstart_batch_size": 8,
    "eval_batch_size": 8,
    "eval_max_new_tokens": 8,
    "max_steps": 2,
    "num_generations": 2,
    "per_device_train_batch_size": 4,
    "max_completion_length": 8,
    "learning_rate": 1e-3,
    "lr_scheduler_type": "constant",
    "logging_steps": 1,
    "save_steps": 1,
    "eval_before": False,
    "bf16": False,
    "activation_checkpointing": False,
    "disable_tqdm": True,
    "plot": False,
}


@pytest.mark.slow
@pytest.mark.skipif(not LINUX, reason="children die with their parent through Linux's PR_SET_PDEATHSIG")
def test_fault_injection_kill_9_of_mix_run_with_the_real_trainer(tmp_path):
    """SIGKILL `modomodo-mix run` at four points (a training starting, just after the first
    record, between the stages, a training past its first checkpoint), resume each
    time: no training outlives its launcher, and the records, plan and reports equal an
    uninterrupted run's, each run recorded once."""

    def config(name: str) -> Path:
        train = {**TINY_TRAIN, "warmstart_cache_dir": str(tmp_path / f"cache_{name}")}
        study = {
            "domains": ["spatial", "caption"],
            "train_args": train,
            "heuristics": [],
            "final_k": 1,
            "final_seeds": [],
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**study, "folds": 3, "n_boot": 20, "seeds": [0]}))
        return path

    def argv(cfg: Path, out: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "modomodo.mixture.cli",
            "run",
            "--config",
            str(cfg),
            "--output-dir",
            str(out),
        ]

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ref, out = tmp_path / "ref", tmp_path / "faulted"
    # The uninterrupted run goes on beside the faulted one (each is mostly single-threaded start-up).
    reference = subprocess.Popen(
        argv(config("ref"), ref), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    cfg = config("faulted")
    try:
        points = {
            "a training starting": _started(out, 1),
            "just after the first record": _recorded(out, 1),
            "between the seed stage and the pick": _recorded(out, 3),
            "a training past its first checkpoint": lambda: (
                out / "runs/surrogate_0/s0/checkpoint-1"
            ).is_dir(),
        }
        killed = []
        for what, when in points.items():
            if kill_at(argv(cfg, out), when, env=env, limit=600):
                killed.append(what)
            assert _wait_gone(str(out)) == [], f"a training outlived `modomodo-mix run` killed at {what}"
        assert len(killed) >= 3, f"only killed at {killed}"
        done = subprocess.run(argv(cfg, out), env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        log, _ = reference.communicate(timeout=900)
        assert reference.returncode == 0, log[-3000:]
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()
    # The killed attempts' directories are kept beside the retried ones.
    assert list(out.glob("runs/*/s0.failed*"))
    _compare_with_reference(out, ref)
    assert len(load_records(out / "records.jsonl")) == 4
