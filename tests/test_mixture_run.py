"""`modomodo-mix`: the command line, and the whole `run` loop end to end with a fake
trainer (a script that scores the mixture by a known quadratic plus noise), including
resume, failed runs, the evaluator fallback, and the launchers."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from modomodo.mixture.cli import main
from modomodo.mixture.launch import Job, LocalLauncher
from modomodo.mixture.loop import MixConfig, MixLoop, scores_from_eval
from modomodo.mixture.records import load_records

TABLE = str(Path(__file__).resolve().parents[1] / "examples" / "mixture" / "paper_table2_seeds.tsv")

# The fake trainer takes the real contract (`--weights JSON --seed N
# --output-dir DIR`) and writes DIR/summary.json. Its out_score is
# 0.6 - 0.8·|w - w*|² + noise(seed, weights), w* = (0.5, 0.3, 0.2): the best mixture is
# known and is not uniform. Standard library only, so each call starts fast.
FAKE_TRAINER = r"""
import argparse, json, os, random, sys
ap = argparse.ArgumentParser()
ap.add_argument("--output-dir", required=True)
ap.add_argument("--weights", required=True)
ap.add_argument("--seed", type=int, default=0)
args, rest = ap.parse_known_args()
w = json.loads(args.weights)
with open(os.environ["FAKE_CALLS"], "a") as fh:
    fh.write(json.dumps({"weights": w, "seed": args.seed, "rest": rest}) + "\n")
fail = os.environ.get("FAKE_FAIL_DOMAIN")
if fail and w.get(fail) == 1.0:
    sys.exit("fake trainer: refusing " + fail)
star = {"a": 0.5, "b": 0.3, "c": 0.2}
out = 0.6 - 0.8 * sum((w[d] - star[d]) ** 2 for d in star)
out += random.Random(args.weights + str(args.seed)).gauss(0.0, 0.002)
if os.environ.get("FAKE_CONSTANT"):  # a scale at which the mixture changes nothing
    out = 0.25
ins = 0.3 + 0.2 * w["a"]
os.makedirs(args.output_dir, exist_ok=True)
summary = {"steps": 3, "reward": {"start": 0.1, "end": 0.5}, "per_domain": {}}
# The shape of modomodo.train.evaluate.evaluate's result.
ev = {"benchmarks": {"ood_x": {"score": out, "n": 64, "role": "out"}, "in_y": {"score": ins, "n": 64, "role": "in"}},
      "in_score": ins, "out_score": out, "seconds": 0.1}
if os.environ.get("FAKE_NO_EVAL"):
    json.dump(ev, open(os.path.join(args.output_dir, "pending_eval.json"), "w"))
else:
    summary["eval"] = ev
json.dump(summary, open(os.path.join(args.output_dir, "summary.json"), "w"))
"""

# The fake evaluator (`--model DIR --output FILE`) publishes what the trainer left.
FAKE_EVALUATOR = r"""
import argparse, json, os, shutil
ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--output", required=True)
ap.add_argument("--config")
a = ap.parse_args()
shutil.copy(os.path.join(a.model, "pending_eval.json"), a.output)
"""


@pytest.fixture
def fake(tmp_path, monkeypatch):
    trainer = tmp_path / "fake_train.py"
    trainer.write_text(FAKE_TRAINER)
    evaluator = tmp_path / "fake_eval.py"
    evaluator.write_text(FAKE_EVALUATOR)
    calls = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FAKE_CALLS", str(calls))

    def config(**kw):
        base = dict(
            domains=["a", "b", "c"],
            trainer=[sys.executable, str(trainer)],
            evaluator=[sys.executable, str(evaluator)],
            final_k=2,
            parallel=2,
            n_boot=50,
            train_args={"train.max_steps": 3},
            final_seeds=[],
        )
        base.update(kw)
        return MixConfig.from_mapping(base)

    def n_calls():
        return len(calls.read_text().splitlines()) if calls.exists() else 0

    return config, n_calls, calls


def _quiet(_msg: str) -> None:
    pass


def test_run_loop_end_to_end_then_resume(fake, tmp_path):
    config, n_calls, calls = fake
    out = tmp_path / "study"
    cfg = config(rounds=1, round_size=2)
    res = MixLoop(cfg, out, log=_quiet).run()
    # 7 seeds + 5 heuristics + 2 UCB pilots + 2 surrogate picks, one seed each.
    names = [r.name for r in res.records]
    assert len(names) == 16 == n_calls()
    # Records are appended as runs finish (two at a time): the seeds first, in any order.
    assert set(names[:7]) == {
        "single_a",
        "single_b",
        "single_c",
        "without_a",
        "without_b",
        "without_c",
        "uniform",
    }
    assert {
        "A_in",
        "A_out",
        "A_bal",
        "Coli",
        "Norm",
        "ucb0_0",
        "ucb0_1",
        "surrogate_0",
        "surrogate_1",
    } <= set(names)
    # The trainer got the planned weights as JSON, the extra args, and a seed.
    plan = json.loads((out / "plan.json").read_text())
    seen = [json.loads(line) for line in calls.read_text().splitlines()]
    assert sorted(json.dumps(s["weights"], sort_keys=True) for s in seen) == sorted(
        json.dumps(plan[n]["weights"], sort_keys=True) for n in names
    )
    assert all(s["rest"] == ["--train.max_steps", "3"] and s["seed"] == 0 for s in seen)
    # Scores came from summary.json's eval block.
    rec = {r.name: r for r in res.records}
    assert rec["uniform"].scores == pytest.approx(
        {"ood_x": rec["uniform"].out_score, "in_y": rec["uniform"].in_score}
    )
    # The surrogate found the known optimum (0.5, 0.3, 0.2) and beat uniform as measured.
    s0 = plan["surrogate_0"]["weights"]
    assert np.linalg.norm(np.array([s0["a"], s0["b"], s0["c"]]) - [0.5, 0.3, 0.2]) < 0.1
    summ = res.summary
    assert summ["best_predicted_beat_uniform"] is (rec["surrogate_0"].out_score > rec["uniform"].out_score)
    assert summ["best_predicted_beat_uniform"] is True
    assert summ["uniform"] == rec["uniform"].out_score
    md = res.report_md.read_text()
    for n in names:
        assert f"| {n} |" in md
    assert "Uniform baseline: out_score " + f"{rec['uniform'].out_score:.4f}" in md
    assert "Best predicted mixture (surrogate_0) beat uniform on out_score: **yes**" in md
    assert json.loads(res.report_json.read_text())["picks"][0]["name"] == "surrogate_0"
    assert (out / "surrogate.png").stat().st_size > 1000 and (out / "pairs.png").stat().st_size > 1000

    # Resume: everything is recorded, nothing is trained again, the report is the same.
    again = MixLoop(cfg, out, log=_quiet).run()
    assert n_calls() == 16
    assert again.summary["picks"] == summ["picks"] and again.summary["skipped"] == 16


def test_failed_runs_are_kept_and_retried_on_resume(fake, tmp_path, monkeypatch):
    config, n_calls, _ = fake
    out = tmp_path / "study"
    cfg = config(heuristics=["A_bal", "Norm"], final_k=1)
    monkeypatch.setenv("FAKE_FAIL_DOMAIN", "b")
    first = MixLoop(cfg, out, log=_quiet).run()
    failed = [r for r in load_records(out / "records.jsonl") if math.isnan(r.out_score)]
    assert [r.name for r in failed] == ["single_b"]
    assert "exit code 1" in failed[0].meta["error"] and "log.txt" in failed[0].meta["error"]
    assert "fake trainer: refusing b" in (out / "runs" / "single_b" / "s0" / "log.txt").read_text()
    assert first.summary["failed"] == ["single_b (seed 0)"]
    assert "Failed runs (NaN scores, retried on resume): single_b (seed 0)" in first.report_md.read_text()
    calls = n_calls()
    assert calls == 7 + 2 + 1

    # The trainer is fixed: only the failed run is trained again.
    monkeypatch.delenv("FAKE_FAIL_DOMAIN")
    second = MixLoop(cfg, out, log=_quiet).run()
    assert n_calls() == calls + 1
    assert second.summary["failed"] == []
    # The failed attempt's directory is kept beside the new one.
    assert "refusing b" in (out / "runs" / "single_b" / "s0.failed1" / "log.txt").read_text()
    assert (out / "runs" / "single_b" / "s0" / "summary.json").exists()
    # A run trained but never recorded (interrupted) is read back from its summary.json.
    lines = (out / "records.jsonl").read_text().splitlines()
    (out / "records.jsonl").write_text(
        "\n".join(line for line in lines if '"name": "Norm"' not in line) + "\n"
    )
    MixLoop(cfg, out, log=_quiet).run()
    assert n_calls() == calls + 1
    assert "Norm" in {r.name for r in load_records(out / "records.jsonl")}


def test_evaluator_runs_when_the_summary_has_no_eval(fake, tmp_path, monkeypatch):
    config, n_calls, _ = fake
    monkeypatch.setenv("FAKE_NO_EVAL", "1")
    res = MixLoop(config(heuristics=[], final_k=1), tmp_path / "study", log=_quiet).run()
    assert len(res.records) == 8 and all(math.isfinite(r.out_score) for r in res.records)
    assert (tmp_path / "study" / "runs" / "uniform" / "s0" / "eval.json").exists()
    # Interrupted after training, before evaluation: resume evaluates, does not retrain.
    calls = n_calls()
    (tmp_path / "study" / "runs" / "uniform" / "s0" / "eval.json").unlink()
    lines = (tmp_path / "study" / "records.jsonl").read_text().splitlines()
    (tmp_path / "study" / "records.jsonl").write_text(
        "\n".join(x for x in lines if '"name": "uniform"' not in x) + "\n"
    )
    again = MixLoop(config(heuristics=[], final_k=1), tmp_path / "study", log=_quiet).run()
    assert n_calls() == calls
    assert (tmp_path / "study" / "runs" / "uniform" / "s0" / "eval.json").exists()
    assert {r.name for r in again.records} == {r.name for r in res.records}
    # Without an evaluator the runs are recorded as failed, saying why, and the loop stops.
    with pytest.raises(ValueError, match=r"no run finished with a finite out_score.*single_a \(seed 0\)"):
        MixLoop(config(heuristics=[], final_k=1, evaluator=None), tmp_path / "study2", log=_quiet).run()
    recs = load_records(tmp_path / "study2" / "records.jsonl")
    assert len(recs) == 7 and all(
        "has no 'eval' block and no eval.json was written" in r.meta["error"] for r in recs
    )


def test_a_study_where_nothing_differs_is_reported_as_a_tie(fake, tmp_path, monkeypatch):
    config, _, _ = fake
    monkeypatch.setenv("FAKE_CONSTANT", "1")
    res = MixLoop(config(heuristics=["Norm"], final_k=1), tmp_path / "flat", log=_quiet).run()
    md = res.report_md.read_text()
    assert "beat uniform on out_score: **no (a tie)** (+0.0000)" in md
    assert "Every run scored the same out_score" in md
    assert "R² = n/a" in md  # constant targets: R² undefined, said so rather than a number


def test_two_seeds_are_averaged_in_the_report(fake, tmp_path):
    config, n_calls, _ = fake
    res = MixLoop(config(seeds=[0, 1], heuristics=["Norm"], final_k=1), tmp_path / "s", log=_quiet).run()
    assert n_calls() == 2 * (7 + 1 + 1)
    row = next(r for r in res.summary["runs"] if r["name"] == "uniform")
    outs = [r.out_score for r in res.records if r.name == "uniform"]
    assert row["seeds"] == 2 and row["out_score"] == pytest.approx(np.mean(outs))
    assert row["sd"] == pytest.approx(np.std(outs, ddof=1))


def test_local_launcher_runs_jobs_in_parallel(tmp_path):
    # Each job creates its flag, then waits for the other's: only concurrent jobs finish.
    code = (
        "import os, sys, time\n"
        "me, other = sys.argv[1], sys.argv[2]\n"
        "open(me, 'w').close()\n"
        "for _ in range(600):\n"
        "    if os.path.exists(other): sys.exit(0)\n"
        "    time.sleep(0.05)\n"
        "sys.exit(3)\n"
    )
    a, b = str(tmp_path / "a.flag"), str(tmp_path / "b.flag")
    jobs = [
        Job("a", [sys.executable, "-c", code, a, b], tmp_path / "ja"),
        Job("b", [sys.executable, "-c", code, b, a], tmp_path / "jb"),
    ]
    results = list(LocalLauncher(parallel=2).run(jobs))
    assert sorted(r.job.name for r in results) == ["a", "b"] and all(r.ok for r in results)
    missing = list(LocalLauncher(1).run([Job("x", ["/nonexistent/trainer"], tmp_path / "jx")]))
    assert missing[0].returncode == 127 and "command not found" in missing[0].error
    with pytest.raises(ValueError, match=r"parallel=0: expected an integer >= 1"):
        LocalLauncher(0)


def test_ray_launcher_against_a_local_cluster(fake, tmp_path):
    ray = pytest.importorskip("ray")
    from modomodo.mixture.launch import RayLauncher

    config, n_calls, _ = fake
    # Keep every Ray socket on loopback.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        cfg = config(heuristics=["Norm"], final_k=1, launcher="ray")
        res = MixLoop(cfg, tmp_path / "study", launcher=RayLauncher(), log=_quiet).run()
    finally:
        ray.shutdown()
    assert n_calls() == 7 + 1 + 1
    assert all(math.isfinite(r.out_score) for r in res.records)


def test_scores_from_eval_reads_the_one_shape_and_refuses_others():
    bench = {"ChartQA": {"score": 0.5, "n": 10, "role": "out"}, "SAT": {"score": 0.1, "n": 5, "role": "in"}}
    per, i, o = scores_from_eval({"in_score": 0.2, "out_score": 0.4, "benchmarks": bench}, "s.json")
    assert per == {"ChartQA": 0.5, "SAT": 0.1} and (i, o) == (0.2, 0.4)
    _, i, _ = scores_from_eval({"in_score": None, "out_score": 0.4, "benchmarks": bench}, "s.json")
    assert math.isnan(i)
    # The flat form, and the other nestings the loop once guessed at, are refused by name.
    with pytest.raises(ValueError, match=r"s.json: unknown keys \['ChartQA'\] and no \['benchmarks'\]"):
        scores_from_eval({"in_score": 0.2, "out_score": 0.4, "ChartQA": 0.5}, "s.json")
    with pytest.raises(ValueError, match=r"unknown keys \['per_benchmark'\]"):
        scores_from_eval({"in_score": 0.2, "out_score": 0.4, "benchmarks": {}, "per_benchmark": {}}, "s.json")
    with pytest.raises(ValueError, match=r"s.json: benchmarks\['A'\]: no \['n', 'role'\]"):
        scores_from_eval({"in_score": 0.2, "out_score": 0.4, "benchmarks": {"A": {"score": 0.1}}}, "s.json")
    with pytest.raises(ValueError, match=r"s.json: no \['out_score'\]"):
        scores_from_eval({"in_score": 0.2, "benchmarks": {}}, "s.json")
    with pytest.raises(ValueError, match=r"s.json: out_score is 'high'; expected a number or null"):
        scores_from_eval({"in_score": 0.2, "out_score": "high", "benchmarks": {}}, "s.json")


# -- the command line ------------------------------------------------------------------


def test_cli_plan_fit_propose(tmp_path, capsys):
    plan = tmp_path / "plan.jsonl"
    assert main(["plan", "--domains", "a,b,c", "--dirichlet", "2", "--output", str(plan)]) == 0
    rows = [json.loads(line) for line in plan.read_text().splitlines()]
    assert [r["name"] for r in rows][:7] == [
        "single_a",
        "single_b",
        "single_c",
        "without_a",
        "without_b",
        "without_c",
        "uniform",
    ]
    assert len(rows) == 9 and rows[-1]["kind"] == "dirichlet"
    capsys.readouterr()

    assert (
        main(["fit", TABLE, "--ridge", "0.01", "--folds", "11", "--plot-dir", str(tmp_path / "plots")]) == 0
    )
    text = capsys.readouterr().out
    assert "quadratic surrogate over 5 domains" in text and "LISA*SAT" in text and "as a + bᵀw + wᵀCw" in text
    assert "kfold CV over 11 records, 11 folds: R² = " in text
    for run in ("single_COCO", "without_ScienceQA", "uniform"):
        assert run in text
    assert (tmp_path / "plots" / "observed_vs_predicted.png").exists() and (
        tmp_path / "plots" / "pairs.png"
    ).exists()

    assert main(["fit", TABLE]) == 2
    err = capsys.readouterr().err
    assert "11 records are too few for the quadratic surrogate over 5 domains; it needs at least 15" in err

    assert main(["propose", TABLE, "--ridge", "0.01", "--k", "2", "--json", str(tmp_path / "p.jsonl")]) == 0
    text = capsys.readouterr().out
    assert "best 2 mixtures" in text and text.count(" ± ") >= 2
    props = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(props) == 2 and all(abs(sum(p["weights"].values()) - 1) < 1e-9 for p in props)
    assert main(["propose", TABLE, "--ridge", "0.01", "--k", "2", "--kappa", "1"]) == 0
    assert "next 2 pilots by UCB" in capsys.readouterr().out


def test_cli_run_with_a_config_and_bad_configs(fake, tmp_path, capsys):
    import yaml

    config, n_calls, _ = fake
    cfg = config(heuristics=["Norm"], final_k=1)
    path = tmp_path / "mix.yaml"
    data = {f: getattr(cfg, f) for f in cfg.__dataclass_fields__}
    path.write_text(yaml.safe_dump(data))
    assert main(["run", "--config", str(path), "--output-dir", str(tmp_path / "o"), "--parallel", "1"]) == 0
    assert "Best predicted mixture (surrogate_0) beat uniform" in capsys.readouterr().out
    assert json.loads((tmp_path / "o" / "config.json").read_text())["parallel"] == 1
    assert n_calls() == 9

    data["domian"] = ["a"]
    path.write_text(yaml.safe_dump(data))
    assert main(["run", "--config", str(path), "--output-dir", str(tmp_path / "o2")]) == 2
    assert "unknown settings ['domian']" in capsys.readouterr().err
    assert main(["run", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    # Another study's domains in the same output directory are refused.
    del data["domian"]
    data["domains"] = ["a", "b", "z"]
    path.write_text(yaml.safe_dump(data))
    assert main(["run", "--config", str(path), "--output-dir", str(tmp_path / "o")]) == 2
    assert "use a fresh output directory" in capsys.readouterr().err


def test_default_study_speaks_the_modomodo_train_contract(tmp_path):
    """The command line `run` builds for the embedded default is accepted by the real
    trainer's config loader (no model is built), with the mixture, seed and output
    directory where modomodo-train reads them."""
    from modomodo.mixture.cli import default_config
    from modomodo.train.config import load_config as load_train_config

    cfg = MixConfig.from_mapping(default_config())
    from modomodo.mixture.loop import load_config

    # The documented example is the embedded default, setting for setting.
    assert load_config(Path(TABLE).with_name("toy.yaml")) == cfg
    loop = MixLoop(cfg, tmp_path / "study", log=_quiet)
    mix = {"chart": 0.5, "attribute": 0.0, "ground": 0.25, "spatial": 0.25, "detect": 0.0}
    argv = loop._train_argv({"weights": mix}, 3, tmp_path / "study" / "runs" / "x" / "s3")
    assert Path(argv[0]).name == "modomodo-train" or "train_main" in argv[2]  # console script or python -c
    train_cfg = load_train_config(None, argv[1:])
    assert train_cfg.mixture_weights() == mix
    assert train_cfg.train_domains == cfg.domains
    assert train_cfg.grpo["seed"] == 3
    assert train_cfg.output_dir == tmp_path / "study" / "runs" / "x" / "s3"
    assert train_cfg.run.eval is True  # summary.json will carry the eval block
    assert train_cfg.run.model == "tiny-base" and train_cfg.grpo["max_steps"] == 200
    # An adaptive arm: the same run with `weights: adaptive` and the policy, for each policy.
    assert cfg.adaptive == ["dump", "thompson", "target"] and cfg.final_seeds == [1, 2, 3]
    for policy in cfg.adaptive:
        entry = {"weights": dict.fromkeys(cfg.domains, 0.2), "policy": policy}
        adaptive = load_train_config(None, loop._train_argv(entry, 1, tmp_path / "a")[1:])
        assert adaptive.run.adaptive and adaptive.run.mixture_policy == policy
        assert adaptive.train_domains == cfg.domains and adaptive.grpo["seed"] == 1
