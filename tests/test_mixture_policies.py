"""Adaptive mixture policies on synthetic statistics: each moves weight towards the domain
with the stronger signal, respects the floor, is deterministic under its seed and resumes
exactly from its state."""

import json
import math

import numpy as np
import pytest

from modomodo.mixture.policies import POLICIES, DomainStats, make_policy

DOMAINS = ("easy", "hard", "learnable")


# (mean |advantage|, reward, zero_std_frac): `learnable` carries the signal every policy looks
# for (large |advantage|, few groups with equal rewards); `easy` is solved, `hard` nearly never.
SIGNAL = {"easy": (0.0, 1.0, 1.0), "hard": (0.05, 0.05, 0.9), "learnable": (0.8, 0.5, 0.1)}


def batch(step: int) -> dict[str, DomainStats]:
    """Four groups of each domain."""
    return {d: DomainStats(4, *SIGNAL[d]) for d in DOMAINS}


def drive(policy, steps: int, *, seed: int = 0) -> list[dict[str, float]]:
    """A closed loop: each batch draws 16 groups by the policy's weights (multinomial), and
    the target reward (measured when the policy asks) rises with the draws of `learnable`."""
    rng = np.random.default_rng(seed)
    trajectory: list[dict[str, float]] = []
    target = 0.0
    for _ in range(steps):
        counts = rng.multinomial(16, [policy.weights[d] for d in DOMAINS])
        stats = {d: DomainStats(int(n), *SIGNAL[d]) for d, n in zip(DOMAINS, counts) if n}
        target += counts[DOMAINS.index("learnable")] / 16
        reward = target if policy.needs_target and policy.due() else None
        trajectory.append(policy.observe(stats, target_reward=reward))
    return trajectory


def make(name, **kw):
    opts = {"seed": 7, "update_every": 2, "step_size": 20.0} if name == "target" else {"seed": 7}
    return make_policy(name, DOMAINS, **{**opts, **kw})


@pytest.mark.parametrize("name", POLICIES)
def test_weight_moves_towards_the_domain_with_the_signal(name):
    policy = make(name)
    assert policy.weights == pytest.approx(dict.fromkeys(DOMAINS, 1 / 3))
    final = drive(policy, 40)[-1]
    assert sum(final.values()) == pytest.approx(1.0)
    assert final["learnable"] > 0.5, final
    assert final["learnable"] > max(final["easy"], final["hard"]) + 0.2


@pytest.mark.parametrize("name", POLICIES)
def test_floor_is_respected(name):
    floor = 0.1
    for weights in drive(make(name, floor=floor), 20):
        assert min(weights.values()) >= floor - 1e-12
        assert sum(weights.values()) == pytest.approx(1.0)
    # The default floor is 0.02 / m; floor 0 lets a domain starve.
    assert make(name).floor == pytest.approx(0.02 / 3)
    assert min(drive(make(name, floor=0.0), 40)[-1].values()) < 0.02


@pytest.mark.parametrize("name", POLICIES)
def test_deterministic_under_seed_and_state_round_trips(name):
    a, b = make(name), make(name)
    assert drive(a, 12) == drive(b, 12)
    # Resume: a fresh policy loaded with the state (through JSON) continues identically.
    state = json.loads(json.dumps(a.state_dict()))
    c = make(name)
    c.load_state_dict(state)
    assert c.weights == a.weights
    more = [batch(s) for s in range(12, 20)]
    for stats in more:
        reward = 0.5 + 0.01 * a.batches if a.needs_target and a.due() else None
        assert a.observe(stats, target_reward=reward) == c.observe(stats, target_reward=reward)


def test_thompson_depends_on_the_seed():
    stats = {d: DomainStats(4, 0.5, 0.5, 0.5) for d in DOMAINS}  # equal posteriors: a close call
    runs = [make_policy("thompson", DOMAINS, seed=s, samples=16).observe(stats) for s in (1, 2)]
    assert runs[0] != runs[1]


def test_smoothing_is_an_ema_of_the_floored_weights():
    raw = make("dump", smoothing=0.0)
    smooth = make("dump", smoothing=0.5)
    w_raw, w_smooth = raw.observe(batch(0)), smooth.observe(batch(0))
    for d in DOMAINS:
        assert w_smooth[d] == pytest.approx(0.5 * (1 / 3) + 0.5 * w_raw[d])


def test_update_every_holds_the_weights_between_updates():
    policy = make("dump", update_every=3)
    first, second, third = (policy.observe(batch(s)) for s in range(3))
    assert first == second == dict.fromkeys(DOMAINS, 1 / 3)
    assert third != first


def test_dump_scores_are_ucb_on_the_window_mean():
    policy = make("dump", window=6, c=0.5)
    for value in (0.9, 0.1, 0.3):  # 4 groups each: the window of 6 keeps the last two batches
        policy.observe({"hard": DomainStats(4, value, 0.0, 0.5), "easy": DomainStats(2, 0.0, 1.0, 1.0)})
    scores = policy.scores()
    assert scores["hard"] == pytest.approx(0.2 + 0.5 * math.sqrt(math.log(18) / 12))
    assert scores["easy"] == pytest.approx(0.0 + 0.5 * math.sqrt(math.log(18) / 6))
    # Never drawn: scored optimistically, as the best window mean of the others with n = 1.
    assert scores["learnable"] == pytest.approx(0.2 + 0.5 * math.sqrt(math.log(18) / 1))


def test_target_credits_the_surprise_by_excess_draws():
    policy = make_policy("target", DOMAINS, update_every=1, step_size=2.0, floor=0.0)
    policy.observe(batch(0), target_reward=0.2)  # the baseline: weights unchanged
    assert policy.weights == pytest.approx(dict.fromkeys(DOMAINS, 1 / 3))
    stats = {"easy": DomainStats(1, 0.0, 1.0, 1.0), "learnable": DomainStats(3, 0.8, 0.5, 0.1)}
    w = policy.observe(stats, target_reward=0.7)  # gain 0.5 (no earlier gain): shares 1/4, 0, 3/4
    logits = {d: 2.0 * 0.5 * (share - 1 / 3) for d, share in zip(DOMAINS, (0.25, 0.0, 0.75))}
    z = sum(math.exp(v) for v in logits.values())
    assert w == pytest.approx({d: math.exp(v) / z for d, v in logits.items()})
    # The next gain is credited relative to the mean gain so far (0.5): a gain of 0.5 again
    # is no surprise and leaves the weights as they are.
    assert policy.observe(stats, target_reward=1.2) == pytest.approx(w)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="mixture policy 'ucb'"):
        make_policy("ucb", DOMAINS)
    with pytest.raises(ValueError, match="floor 0.5"):
        make_policy("dump", DOMAINS, floor=0.5)
    with pytest.raises(ValueError, match="smoothing 1"):
        make_policy("dump", DOMAINS, smoothing=1)
    with pytest.raises(ValueError, match=r"domain\(s\) \['other'\]"):
        make_policy("dump", DOMAINS).observe({"other": DomainStats(1, 0.1, 0.0, 0.0)})
    with pytest.raises(ValueError, match="'thompson' policy"):
        make_policy("thompson", DOMAINS).load_state_dict(make_policy("dump", DOMAINS).state_dict())
    with pytest.raises(ValueError, match="zero_std_frac 1.5"):
        DomainStats(1, 0.1, 0.0, 1.5)


# -- the sampler under changing weights --------------------------------------------------------


def test_weight_changes_apply_from_the_next_draw_and_replay_on_a_fresh_sampler():
    from modomodo.sampling import MixtureSampler
    from modomodo.train.trainer import WeightSchedule

    def sampler():
        return MixtureSampler({"a": 50, "b": 50}, {"a": 1, "b": 1}, seed=4, num_generations=2, batch_size=3)

    live = WeightSchedule(sampler())
    it = iter(live)
    first = [next(it) for _ in range(12)]
    live.set_weights({"a": 1.0, "b": 0.0})
    second = [next(it) for _ in range(12)]
    live.set_weights({"a": 0.0, "b": 1.0})
    third = [next(it) for _ in range(12)]
    # The change applies from the next chunk (3 draws x 2 generations): a chunk begun keeps its weights.
    assert {live.sampler.domain_of(i) for i in first} == {"a", "b"}
    assert {live.sampler.domain_of(i) for i in second} == {"a"}
    assert {live.sampler.domain_of(i) for i in third} == {"b"}
    # A resumed run redraws the stream from the start: with the recorded changes it draws the same.
    replayed = WeightSchedule(sampler())
    replayed.replay(json.loads(json.dumps(live.changes)))
    it = iter(replayed)
    assert [next(it) for _ in range(36)] == first + second + third


# -- the trainer: weights: adaptive ------------------------------------------------------------

TINY = {
    "domains": ["spatial", {"builtin": "caption", "rewards": [{"name": "bmas", "weight": 2.0}]}],
    "eval": False,
    "train_size": 12,
    "image_size": 56,
    "warmstart_steps": 4,
    "warmstart_batch_size": 8,
    "max_steps": 4,
    "num_generations": 2,
    "per_device_train_batch_size": 4,
    "max_completion_length": 8,
    "learning_rate": 1e-3,
    "lr_scheduler_type": "constant",
    "logging_steps": 1,
    "save_steps": 2,
    "seed": 3,
    "bf16": False,
    "activation_checkpointing": False,
    "report_to": "none",
    "disable_tqdm": True,
    "weights": "adaptive",
    "mixture_policy": "dump",
    "mixture_smoothing": 0.0,
}


@pytest.fixture(scope="module")
def adaptive_config(tmp_path_factory):
    import yaml

    root = tmp_path_factory.mktemp("adaptive")
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY, "warmstart_cache_dir": str(root / "cache")}))
    return path


@pytest.fixture(scope="module")
def adaptive_run(adaptive_config):
    from modomodo.train.config import load_config
    from modomodo.train.run import run

    out = adaptive_config.parent / "run"
    run(load_config(adaptive_config, ["--output-dir", str(out)]))
    return out


def weight_trajectory(out):
    from modomodo.train.run import read_jsonl

    return [
        (r["step"], {k: v for k, v in r.items() if k.startswith("mixture/weight/")})
        for r in read_jsonl(out / "metrics.jsonl")
        if "loss" in r
    ]


@pytest.mark.slow
def test_adaptive_run_changes_the_sampler_weights_and_logs_them(adaptive_run):
    from modomodo.train.run import read_jsonl

    trajectory = weight_trajectory(adaptive_run)
    assert [step for step, _ in trajectory] == [1, 2, 3, 4]
    for _, weights in trajectory:
        assert set(weights) == {"mixture/weight/spatial", "mixture/weight/caption"}
        assert sum(weights.values()) == pytest.approx(1.0)
        assert min(weights.values()) >= 0.01 / 2 - 1e-12  # the default floor, 0.02 / 2 domains
    assert any(w["mixture/weight/spatial"] != pytest.approx(0.5) for _, w in trajectory)
    # The sampler took them: each generation batch records the weights the process set after it.
    draws = read_jsonl(adaptive_run / "draws.jsonl")
    assert len(draws) == len(trajectory)
    for d, (_, w) in zip(draws, trajectory):
        assert d["weights"]["0"] == pytest.approx(
            {k.removeprefix("mixture/weight/"): v for k, v in w.items()}
        )
    state = json.loads((adaptive_run / "checkpoint-4" / "modomodo_state.json").read_text())
    assert state["mixture_policy"]["policy"] == "dump" and state["mixture_policy"]["batches"] == 4
    assert state["mixture_changes"]
    summary = json.loads((adaptive_run / "summary.json").read_text())
    assert summary["plot"] == "reward_curves.png" and (adaptive_run / "reward_curves.png").stat().st_size > 0
    # summary.json: `weights` is where the run started; the trajectory's last and mean weights beside it.
    assert summary["weights"] == {"spatial": 1.0, "caption": 1.0}
    logged = [{k.removeprefix("mixture/weight/"): v for k, v in w.items()} for _, w in trajectory]
    assert summary["weights_final"] == pytest.approx(logged[-1])
    assert summary["weights_mean"] == pytest.approx({d: sum(w[d] for w in logged) / 4 for d in logged[0]})


@pytest.mark.slow
def test_resume_continues_the_same_weight_trajectory(adaptive_config, adaptive_run):
    import os
    import signal

    from transformers import TrainerCallback

    from modomodo.train.config import load_config
    from modomodo.train.run import read_jsonl, run

    class CtrlC(TrainerCallback):  # a real SIGINT at the start of the second step
        def on_step_begin(self, args, state, control, **kwargs):
            if state.global_step == 1:
                os.kill(os.getpid(), signal.SIGINT)

    out = adaptive_config.parent / "resumed"
    argv = ["--output-dir", str(out)]
    with pytest.raises(KeyboardInterrupt):
        run(load_config(adaptive_config, argv), callbacks=[CtrlC()])
    assert (
        json.loads((out / "checkpoint-2" / "modomodo_state.json").read_text())["mixture_policy"]["batches"]
        == 2
    )
    run(load_config(adaptive_config, [*argv, "--resume"]))
    got, ref = weight_trajectory(out), weight_trajectory(adaptive_run)
    assert [s for s, _ in got] == [1, 2, 3, 4]
    for (_, a), (_, b) in zip(got, ref):
        assert a == pytest.approx(b, abs=1e-12)
    ref_draws, got_draws = read_jsonl(adaptive_run / "draws.jsonl"), read_jsonl(out / "draws.jsonl")
    assert [d["rows"] for d in got_draws] == [d["rows"] for d in ref_draws]


# -- the config -----------------------------------------------------------------------------------


def test_config_keys_of_an_adaptive_run(tmp_path):
    from modomodo.train.config import ConfigError, load_config

    def load(*flags):
        return load_config(None, ["--output-dir", str(tmp_path / "out"), "--weights", "adaptive", *flags])

    cfg = load("--mixture_policy", "thompson", "--mixture_discount", "0.8")
    assert cfg.run.adaptive and cfg.run.mixture() is None
    assert set(cfg.mixture_weights().values()) == {1.0}  # an adaptive run starts uniform
    m = len(cfg.train_domains)
    options = cfg.run.mixture_policy_options(seed=9)
    assert options == {
        "seed": 9, "floor": None, "smoothing": 0.5, "update_every": 1, "discount": 0.8, "samples": 256,
    }  # fmt: skip
    assert not cfg.target_specs
    from modomodo.train.run import dry_run

    assert dry_run(cfg)["mixture_policy"] == {"policy": "thompson", **options, "seed": 0}  # the config's seed
    # target: held-out rows from the `out` evaluation domains, an independent synthetic stream.
    cfg = load("--mixture_policy", "target", "--mixture_target_rows", "10", "--eval", "false")
    assert cfg.run.mixture_policy_options(seed=0)["update_every"] == 10
    assert sum(s.n for s in cfg.target_specs) == 10
    assert {s.role for s in cfg.target_specs} == {"out"} and {s.split for s in cfg.target_specs} == {"target"}
    with pytest.raises(ConfigError, match="'mixture_policy' = 'ucb'.*one of"):
        load("--mixture_policy", "ucb")
    with pytest.raises(ConfigError, match=rf"'mixture_floor' = 0.5.*\[0, 1/{m}\]"):
        load("--mixture_floor", "0.5")
    with pytest.raises(ConfigError, match="'mixture_smoothing' = 1.0"):
        load("--mixture_smoothing", "1")
    with pytest.raises(ConfigError, match="'mixture_policy' = 'target' needs held-out rows"):
        load("--mixture_policy", "target", "--eval_domains", "[spatial_test]")
    with pytest.raises(ConfigError, match="'weights' = 'uniform'.*or 'adaptive'"):
        load_config(None, ["--output-dir", str(tmp_path / "out"), "--weights", "uniform"])


@pytest.mark.slow
def test_two_processes_set_the_same_weights(tmp_path):
    """Two CPU processes (gloo) under `accelerate launch`: each rank records the weights it
    set after each generation batch (draws.jsonl); they agree, and they moved."""
    import os
    import socket
    import subprocess
    import sys

    import yaml

    from modomodo.train.run import read_jsonl

    config = tmp_path / "tiny.yaml"
    settings = {**TINY, "max_steps": 3, "save_steps": 100, "use_cpu": True, "mixture_policy": "thompson"}
    config.write_text(yaml.safe_dump({**settings, "warmstart_cache_dir": str(tmp_path / "cache")}))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(port), "-m", "modomodo.train.cli", "--config", str(config),
        "--output-dir", str(tmp_path / "two"), "--per_device_train_batch_size", "2",
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    draws = read_jsonl(tmp_path / "two" / "draws.jsonl")
    assert len(draws) == 3
    for d in draws:
        assert set(d["rows"]) == set(d["weights"]) == {"0", "1"}
        assert d["weights"]["0"] == d["weights"]["1"]  # exactly: same gathered statistics, same seed
    assert any(d["weights"]["0"]["spatial"] != pytest.approx(0.5) for d in draws)


@pytest.mark.slow
def test_target_policy_measures_held_out_rows_and_logs_the_cost(adaptive_config):
    from modomodo.train.config import load_config
    from modomodo.train.run import read_jsonl, run

    out = adaptive_config.parent / "target"
    flags = ["--mixture_policy", "target", "--mixture_update_every", "1", "--mixture_target_rows", "4"]
    cfg = load_config(adaptive_config, ["--output-dir", str(out), "--max_steps", "2", *flags])
    assert len(cfg.target_specs) == 4  # one row of each out-of-distribution synthetic domain
    run(cfg)
    steps = [r for r in read_jsonl(out / "metrics.jsonl") if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2]
    for r in steps:  # measured at every update: 4 rows each time, its seconds, a score in [0, 1]
        assert r["mixture/target/rows"] == 4
        assert r["mixture/target/seconds"] > 0 and 0 <= r["mixture/target/reward"] <= 1
    assert steps[-1]["mixture/target/seconds_total"] == pytest.approx(
        sum(r["mixture/target/seconds"] for r in steps)
    )
    # The first measurement is the baseline: the weights stay uniform after it.
    assert steps[0]["mixture/weight/spatial"] == steps[0]["mixture/weight/caption"] == 0.5
