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
