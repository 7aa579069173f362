"""modomodo.sampling.MixtureSampler: realised shares, epochs without replacement, stop/drop,
determinism, exact resume, ranks as shares of one stream, the torch DataLoader, bad input."""

import itertools
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare
from torch.utils.data import DataLoader

from modomodo.sampling import MixtureSampler, domain_sizes_of

SIZES = {"coco": 5997, "lisa": 1326, "geo": 1969, "sat": 15000, "sqa": 6218}


def shares_test(sampler, n, weights):
    """Chi-square of the domains of n draws against `weights` (a dict by domain)."""
    counts = Counter(sampler.domains_of(sampler.draw(n)))
    names = [d for d, w in weights.items() if w > 0]
    observed = np.array([counts[d] for d in names], dtype=float)
    total = sum(weights[d] for d in names)
    expected = np.array([weights[d] / total for d in names]) * observed.sum()
    assert sum(counts[d] for d, w in weights.items() if w == 0) == 0
    return chisquare(observed, expected)


# --- realised shares ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "weights",
    [
        {"coco": 0.2, "lisa": 0.2, "geo": 0.2, "sat": 0.2, "sqa": 0.2},
        {"coco": 0.9, "lisa": 0.05, "geo": 0.05},
        {"coco": 0.1, "lisa": 0.35, "geo": 0.0, "sat": 0.05, "sqa": 0.5},
    ],
    ids=["uniform", "skewed", "with-zero"],
)
@pytest.mark.parametrize("replacement", [False, True])
def test_realised_shares_match_the_weights(weights, replacement):
    sampler = MixtureSampler(SIZES, weights, seed=1234, replacement=replacement)
    result = shares_test(sampler, 200_000, weights)
    print(f"chi2={result.statistic:.3f} p={result.pvalue:.3f}")
    assert result.pvalue > 0.01
    # The same test rejects shares off by a few per mille: it has the power to fail.
    off = {d: w for d, w in weights.items()}
    first, last = [d for d in weights if weights[d] > 0][0], [d for d in weights if weights[d] > 0][-1]
    off[first] -= 0.01
    off[last] += 0.01
    sampler = MixtureSampler(SIZES, weights, seed=1234, replacement=replacement)
    assert shares_test(sampler, 200_000, off).pvalue < 1e-6


def test_shares_hold_with_groups_chunks_and_ranks():
    weights = {"coco": 0.9, "lisa": 0.05, "geo": 0.05}
    sampler = MixtureSampler(
        SIZES, weights, seed=5, num_generations=4, batch_size=3, repeat_count=2, rank=1, world_size=3
    )
    draws = sampler.draw(4 * 3 * 2 * 20_000)
    # Every 24 items: 3 draws x 4 generations, twice.
    blocks = draws.reshape(-1, 2, 3, 4)
    assert (blocks == blocks[:, :1, :, :1]).all()
    counts = Counter(sampler.domains_of(blocks[:, 0, :, 0].ravel()))
    observed = [counts["coco"], counts["lisa"], counts["geo"]]
    result = chisquare(observed, np.array([0.9, 0.05, 0.05]) * sum(observed))
    assert result.pvalue > 0.01
    assert sampler.domain_counts == {
        "coco": counts["coco"],
        "lisa": counts["lisa"],
        "geo": counts["geo"],
        "sat": 0,
        "sqa": 0,
    }


# --- without replacement, stop and drop -------------------------------------------------


def test_no_index_repeats_within_a_domain_epoch():
    sizes = [7, 50, 13]
    sampler = MixtureSampler(sizes, [1, 3, 2], seed=3)
    draws = sampler.draw(5000)
    offsets = np.cumsum([0, *sizes])
    for d, size in enumerate(sizes):
        mine = draws[(draws >= offsets[d]) & (draws < offsets[d + 1])]
        full = len(mine) // size
        assert full >= 5
        epochs = mine[: full * size].reshape(full, size)
        for epoch in epochs:
            assert sorted(epoch) == list(range(offsets[d], offsets[d + 1]))
        if size > 10:  # ...and epochs are shuffled afresh (10! makes a repeat unlikely)
            assert len({tuple(e) for e in epochs}) == full


def test_domain_epochs_are_uniform_permutations():
    draws = MixtureSampler([3], [1], seed=5).draw(3 * 30_000).reshape(-1, 3)
    counts = Counter(map(tuple, draws.tolist()))
    assert len(counts) == 6
    assert chisquare(list(counts.values())).pvalue > 0.01


def test_stop_ends_at_the_first_exhausted_domain():
    sizes = {"a": 30, "b": 200, "c": 100}
    sampler = MixtureSampler(
        sizes, {"a": 0.3, "b": 0.4, "c": 0.3}, seed=11, num_generations=2, on_exhausted="stop"
    )
    n = len(sampler)
    items = list(sampler)
    assert len(items) == n and n % 2 == 0
    draws = items[::2]
    counts = Counter(sampler.domains_of(draws))
    last = sampler.domain_of(draws[-1])
    assert counts[last] == sizes[last]  # the last draw took the last unseen example...
    assert all(counts[d] < sizes[d] for d in sizes if d != last)  # ...and no domain ran out before
    assert len(set(draws)) == len(draws)  # every draw unseen
    assert sampler.exhausted and list(sampler) == [] and len(sampler.draw(10)) == 0
    assert dict(counts) == {d: c for d, c in sampler.domain_counts.items() if c}


def test_stop_is_what_the_paper_describes_for_its_domains():
    # COCO/LISA/GeoQAV/SAT/ScienceQA sizes, uniform weights: LISA (1,326) runs out first,
    # after about 5 × 1,326 draws.
    sampler = MixtureSampler(SIZES, [1, 1, 1, 1, 1], seed=42, on_exhausted="stop")
    draws = list(sampler)
    counts = Counter(sampler.domains_of(draws))
    assert counts["lisa"] == 1326
    assert 5 * 1326 * 0.85 < len(draws) < 5 * 1326 * 1.15


def test_drop_renormalises_the_others():
    sizes = {"small": 2000, "big": 200_000, "mid": 200_000}
    weights = {"small": 0.5, "big": 0.3, "mid": 0.2}
    sampler = MixtureSampler(sizes, weights, seed=9, on_exhausted="drop")
    draws = sampler.draw(150_000)
    domains = np.array(sampler.domains_of(draws))
    gone = np.flatnonzero(domains == "small")[-1] + 1
    assert (domains == "small").sum() == 2000 and gone < 10_000
    assert sampler.dropped == ("small",)
    tail = Counter(domains[gone:])
    assert set(tail) == {"big", "mid"}
    observed = [tail["big"], tail["mid"]]
    result = chisquare(observed, np.array([0.6, 0.4]) * sum(observed))
    print(f"drop tail chi2={result.statistic:.3f} p={result.pvalue:.3f}")
    assert result.pvalue > 0.01
    # The stream ends when every domain is used up, each example drawn exactly once.
    rest = sampler.draw(10**6)
    everything = np.concatenate([draws, rest])
    assert len(everything) == 402_000 and len(np.unique(everything)) == 402_000


def test_finite_len_is_exact_and_infinite_epochs_are_one_pass():
    for mode in ("stop", "drop"):
        s = MixtureSampler(
            [40, 7, 90], [0.2, 0.5, 0.3], seed=2, num_generations=3, batch_size=2, on_exhausted=mode
        )
        assert len(s) == len(list(s))
        assert len(s) % 6 == 0
    s = MixtureSampler([40, 7, 90, 5], [0.2, 0.5, 0.3, 0.0], num_generations=3)
    assert len(s) == (40 + 7 + 90) * 3
    first, second = list(s), list(s)
    assert len(first) == len(second) == len(s) and first != second
    assert s.epoch == 1
    # Two epochs are the first 2 × len of the one stream.
    fresh = MixtureSampler([40, 7, 90, 5], [0.2, 0.5, 0.3, 0.0], num_generations=3)
    assert first + second == fresh.draw(2 * len(s)).tolist()


# --- determinism and resume --------------------------------------------------------------


def test_same_seed_same_stream_different_seed_different_stream():
    def stream(seed, **kw):
        return MixtureSampler(SIZES, [0.1, 0.2, 0.3, 0.2, 0.2], seed=seed, **kw).draw(20_000)

    assert np.array_equal(stream(7), stream(7))
    assert not np.array_equal(stream(7), stream(8))
    assert np.array_equal(stream(7, replacement=True), stream(7, replacement=True))
    assert not np.array_equal(stream(7, replacement=True), stream(8, replacement=True))
    # Large seeds are fine; the order of domains in a mapping is the concatenation order.
    assert np.array_equal(stream(2**64 - 1), stream(2**64 - 1))


@pytest.mark.parametrize("mode", ["reshuffle", "stop", "drop"])
@pytest.mark.parametrize("replacement", [False, True])
def test_resume_after_k_draws_equals_the_uninterrupted_stream(mode, replacement):
    kwargs = dict(
        seed=21, num_generations=3, batch_size=2, repeat_count=2, on_exhausted=mode, replacement=replacement
    )
    sizes, weights = {"a": 40, "b": 25, "c": 60}, {"a": 0.5, "b": 0.2, "c": 0.3}
    whole = MixtureSampler(sizes, weights, **kwargs).draw(2000).tolist()
    for k in [0, 1, 5, 12, 13, 100, 333, len(whole)]:
        first = MixtureSampler(sizes, weights, **kwargs)
        head = list(itertools.islice(iter(first), k))  # as a DataLoader pulls them...
        head += first.draw(k - len(head)).tolist()  # ...and across the epoch's end
        state = json.loads(json.dumps(first.state_dict()))  # survives a JSON round trip
        second = MixtureSampler(sizes, weights, **kwargs)
        second.load_state_dict(state)
        assert second.domain_counts == first.domain_counts
        assert head + second.draw(2000 - k).tolist() == whole, k


def test_resume_keeps_changed_weights_and_the_epoch_in_progress():
    s = MixtureSampler([100, 100, 100], [1, 1, 1], seed=4, num_generations=2)
    assert len(s) == 600
    it = iter(s)
    head = [next(it) for _ in range(50)]
    s.set_weights([0, 1, 3])
    head += [next(it) for _ in range(50)]
    state = s.state_dict()
    rest = list(it)  # the rest of epoch 0
    r = MixtureSampler([100, 100, 100], [1, 1, 1], seed=4, num_generations=2)
    r.load_state_dict(state)
    assert r.weights == pytest.approx({"0": 0.0, "1": 0.25, "2": 0.75})
    assert list(r) == rest and len(head) + len(rest) == 600
    assert len(r) == len(s) == 400  # the next epoch is one pass over the domains now weighted
    assert list(r) == list(s)


def test_set_epoch_replays_what_iterating_would_have_given():
    a = MixtureSampler([30, 20], [0.6, 0.4], seed=8, num_generations=2)
    for _ in range(3):
        list(a)
    b = MixtureSampler([30, 20], [0.6, 0.4], seed=8, num_generations=2)
    b.set_epoch(3)
    b.set_epoch(3)  # idempotent, and never backwards
    b.set_epoch(1)
    assert b.epoch == 3 and list(a) == list(b)


# --- ranks --------------------------------------------------------------------------------


@pytest.mark.parametrize("world_size", [2, 3, 4])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_ranks_together_equal_the_single_process_stream(world_size, batch_size):
    g, steps = 4, 40
    kw = dict(seed=13, num_generations=g, on_exhausted="reshuffle")
    single = MixtureSampler(SIZES, [0.3, 0.1, 0.2, 0.2, 0.2], batch_size=batch_size * world_size, **kw)
    per_step = batch_size * g  # items a rank takes per step
    global_items = single.draw(steps * per_step * world_size)
    ranks = [
        MixtureSampler(
            SIZES, [0.3, 0.1, 0.2, 0.2, 0.2], batch_size=batch_size, rank=r, world_size=world_size, **kw
        ).draw(steps * per_step)
        for r in range(world_size)
    ]
    for step in range(steps):
        union = np.concatenate([r[step * per_step : (step + 1) * per_step] for r in ranks])
        want = global_items[step * per_step * world_size : (step + 1) * per_step * world_size]
        assert Counter(union.tolist()) == Counter(want.tolist())
    for r in ranks:  # groups are never split: each rank holds whole runs of g
        assert (r.reshape(-1, g) == r.reshape(-1, g)[:, :1]).all()
    # Disjoint shares: with a fresh permutation, no draw appears on two ranks.
    sets = [set(r.tolist()) for r in ranks]
    assert all(not (sets[i] & sets[j]) for i in range(world_size) for j in range(i))


def test_ranks_in_stop_mode_end_together():
    lengths = []
    for r in range(3):
        s = MixtureSampler(
            [30, 50], [0.5, 0.5], seed=1, num_generations=2, rank=r, world_size=3, on_exhausted="stop"
        )
        lengths.append((len(s), len(list(s))))
    assert len({n for n, _ in lengths}) == 1 and all(n == m for n, m in lengths)


# --- torch DataLoader ------------------------------------------------------------------


def test_a_dataloader_gets_whole_groups_and_continues_the_stream():
    data = torch.arange(137)
    s = MixtureSampler([37, 100], [0.5, 0.5], seed=0, num_generations=4)
    loader = DataLoader(data, batch_size=8, sampler=s)
    assert len(loader) == math.ceil(len(s) / 8)
    epoch0 = torch.cat(list(loader)).tolist()
    epoch1 = torch.cat(list(loader)).tolist()
    assert len(epoch0) == len(s) == 137 * 4
    reference = MixtureSampler([37, 100], [0.5, 0.5], seed=0, num_generations=4).draw(2 * 137 * 4).tolist()
    assert epoch0 + epoch1 == reference


def test_iteration_and_bulk_draw_agree_and_counts_track_draws():
    a = MixtureSampler(SIZES, [0.3, 0.1, 0.2, 0.2, 0.2], seed=77, num_generations=2)
    b = MixtureSampler(SIZES, [0.3, 0.1, 0.2, 0.2, 0.2], seed=77, num_generations=2)
    assert list(itertools.islice(iter(a), 1000)) == b.draw(1000).tolist()
    assert a.domain_counts == b.domain_counts and sum(a.domain_counts.values()) == 500
    assert a.state_dict() == b.state_dict()


def test_set_weights_applies_from_the_next_draw_and_zero_weight_is_never_drawn():
    s = MixtureSampler({"x": 100, "y": 100, "z": 100}, {"x": 1.0}, seed=3)
    assert set(s.domains_of(s.draw(300))) == {"x"}
    s.set_weights({"y": 2, "z": 2})
    assert s.weights == {"x": 0.0, "y": 0.5, "z": 0.5}
    after = s.domains_of(s.draw(300))
    assert set(after) == {"y", "z"}
    assert s.domain_counts["x"] == 300


def test_domain_of_and_domain_sizes_of():
    s = MixtureSampler({"a": 3, "empty": 0, "b": 2}, {"a": 1, "b": 1})
    assert [s.domain_of(i) for i in range(5)] == ["a", "a", "a", "b", "b"]
    assert s.domains == ("a", "empty", "b")
    with pytest.raises(ValueError, match="index 5"):
        s.domain_of(5)
    with pytest.raises(ValueError, match="index -1"):
        s.domain_of(-1)
    assert domain_sizes_of({"domain": ["a", "a", "b", "c", "c"]}) == {"a": 2, "b": 1, "c": 2}
    with pytest.raises(ValueError, match="'a' are not contiguous"):
        domain_sizes_of({"domain": ["a", "b", "a"]})
    with pytest.raises(ValueError, match="'domain' column"):
        domain_sizes_of({"text": ["a"]})


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sizes, weights, kwargs, message",
    [
        ([3, 4], [1.0, -0.5], {}, r"weight of domain .1. -0.5"),
        ([3, 4], [1.0, float("nan")], {}, r"weight of domain .1. NaN"),
        ([3, 4], [1.0, float("inf")], {}, r"weight of domain .1. inf"),
        ([3, 4], [0.0, 0.0], {}, r"weights \[0.0, 0.0\].*positive"),
        ({"a": 3}, {"a": 1.0, "zz": 0.5}, {}, r"unknown domain 'zz'"),
        ({"a": 3, "b": 0}, {"a": 1.0, "b": 0.5}, {}, r"size of domain \"b\" 0"),
        ([3, -1], [1.0, 1.0], {}, r"size of domain '1' -1"),
        ([3, 4], [1.0], {}, r"expected 2 weights"),
        ([3], [1.0], {"num_generations": 0}, r"num_generations 0"),
        ([3], [1.0], {"rank": 2, "world_size": 2}, r"rank 2"),
        ([3], [1.0], {"rank": -1}, r"rank -1"),
        ([3], [1.0], {"world_size": 0}, r"world_size 0"),
        ([3], [1.0], {"on_exhausted": "loop"}, r"on_exhausted 'loop'"),
        ([3], [1.0], {"seed": -1}, r"seed -1"),
        ([3], [1.0], {"batch_size": 0}, r"batch_size 0"),
        ([], [], {}, r"at least one domain"),
        ("abc", [1.0], {}, r"domain_sizes 'abc'"),
        ([3], ["heavy"], {}, r"weight of domain '0' 'heavy'"),
    ],
)
def test_bad_input_raises_value_error_naming_the_value(sizes, weights, kwargs, message):
    with pytest.raises(ValueError, match=message):
        MixtureSampler(sizes, weights, **kwargs)


def test_bad_weights_updates_and_states_are_refused():
    s = MixtureSampler({"a": 3, "b": 4}, {"a": 1, "b": 1}, seed=1)
    before = s.state_dict()
    for bad, message in [({"a": -1}, "-1"), ({"c": 1}, "unknown domain 'c'"), ([0, 0], "positive")]:
        with pytest.raises(ValueError, match=message):
            s.set_weights(bad)
    assert s.state_dict() == before
    other = MixtureSampler({"a": 3, "b": 4}, {"a": 1, "b": 1}, seed=2)
    with pytest.raises(ValueError, match="seed"):
        other.load_state_dict(before)
    with pytest.raises(ValueError, match="sizes"):
        MixtureSampler({"a": 3, "b": 5}, {"a": 1}, seed=1).load_state_dict(before)
    corrupt = dict(before, chunk=[99])
    with pytest.raises(ValueError, match="chunk"):
        s.load_state_dict(corrupt)
    with pytest.raises(ValueError, match="state"):
        s.load_state_dict([1, 2])  # type: ignore[arg-type]
    assert s.state_dict() == before


# Saved by modomodo's sampler before its state moved to serde (format version 3), from the
# sampler below after 13 items; the Rust tests read the same file.
OLD_STATE = Path(__file__).resolve().parents[1] / "rust" / "core" / "src" / "sampler" / "state_v3.json"


def test_a_state_of_the_old_format_is_refused_and_replay_reaches_it():
    sizes, weights = {"chart": 40, "count": 25, "math": 60}, {"chart": 0.5, "count": 0.2, "math": 0.3}
    kwargs = dict(seed=21, num_generations=3, batch_size=2, repeat_count=2)
    old = json.loads(OLD_STATE.read_text())
    assert old["version"] == 3
    s = MixtureSampler(sizes, weights, **kwargs)
    before = s.state_dict()
    with pytest.raises(ValueError, match="version 3, expected version 4"):
        s.load_state_dict(old)
    assert s.state_dict() == before
    # What the old state recorded, replaying the 13 items reaches (the stream is unchanged).
    s.draw(13)
    now = json.loads(json.dumps(s.state_dict()))  # as the trainer writes it into modomodo_state.json
    assert now["version"] == 4
    assert now["words"]["rng"]["s"] == old["rng"] and now["words"]["pending"] == old["rng_pending"]
    assert [d["count"] for d in now["domains"]] == old["counts"]
    assert [d["pos"] for d in now["domains"]] == old["domain_pos"]
    assert (now["chunk"], now["cursor"], now["epoch_pos"]) == (old["chunk"], old["cursor"], old["epoch_pos"])
    resumed = MixtureSampler(sizes, weights, **kwargs)
    resumed.load_state_dict(now)
    assert resumed.draw(50).tolist() == s.draw(50).tolist()


# --- properties over random sizes and weights ---------------------------------------------


configs = st.integers(1, 5).flatmap(
    lambda k: st.tuples(
        st.lists(st.integers(0, 30), min_size=k, max_size=k),
        st.lists(st.sampled_from([0.0, 0.01, 0.3, 1.0, 7.5]), min_size=k, max_size=k),
        st.integers(0, 2**64 - 1),
        st.integers(1, 4),
        st.booleans(),
        st.sampled_from(["reshuffle", "stop", "drop"]),
        st.integers(1, 3),
    )
)


def build(cfg, **extra):
    sizes, weights, seed, g, replacement, mode, world = cfg
    weights = [w if s > 0 else 0.0 for s, w in zip(sizes, weights)]
    if not any(weights):
        return None
    return MixtureSampler(
        sizes,
        weights,
        seed=seed,
        num_generations=g,
        replacement=replacement,
        on_exhausted=mode,
        world_size=world,
        **extra,
    )


@settings(max_examples=150, deadline=None)
@given(configs)
def test_property_epochs_groups_zero_weights(cfg):
    s = build(cfg)
    if s is None:
        return
    sizes, weights, _, g, replacement, mode, _ = cfg
    items = list(s)
    assert len(items) == len(s) and len(items) % g == 0
    groups = np.array(items, dtype=np.int64).reshape(-1, g)
    assert (groups == groups[:, :1]).all()
    draws = groups[:, 0]
    drawn = Counter(s.domains_of(draws)) if len(draws) else Counter()
    assert all(weights[int(d)] > 0 and sizes[int(d)] > 0 for d in drawn)
    assert {k: v for k, v in s.domain_counts.items() if v} == dict(drawn)
    if not replacement and cfg[6] == 1:
        # Within a domain epoch no index repeats.
        offsets = np.cumsum([0, *sizes])
        for d, size in enumerate(sizes):
            mine = draws[(draws >= offsets[d]) & (draws < offsets[d + 1])]
            for start in range(0, len(mine), size or 1):
                epoch = mine[start : start + size]
                assert len(set(epoch.tolist())) == len(epoch)
    if not replacement and mode != "reshuffle":
        assert list(s) == []
        assert all(s.domain_counts[str(d)] <= sizes[d] for d in range(len(sizes)))


@settings(max_examples=100, deadline=None)
@given(configs, st.integers(0, 200))
def test_property_resume_anywhere(cfg, k):
    a, b = build(cfg), build(cfg)
    if a is None:
        return
    whole = a.draw(k + 100).tolist()
    head = b.draw(k).tolist()
    c = build(cfg)
    c.load_state_dict(b.state_dict())
    assert head + c.draw(100).tolist() == whole


@settings(max_examples=60, deadline=None)
@given(configs)
def test_property_ranks_partition_the_stream(cfg):
    sizes, weights, seed, g, replacement, mode, world = cfg
    weights = [w if s > 0 else 0.0 for s, w in zip(sizes, weights)]
    if not any(weights):
        return
    kw = dict(seed=seed, num_generations=g, replacement=replacement, on_exhausted=mode)
    single = MixtureSampler(sizes, weights, **kw).draw(60 * g * world)
    shares = [
        MixtureSampler(sizes, weights, rank=r, world_size=world, **kw).draw(60 * g) for r in range(world)
    ]
    steps = min(len(x) for x in shares) // g
    assert all(len(x) == steps * g for x in shares)  # ranks end together
    for step in range(steps):
        union = Counter(np.concatenate([x[step * g : (step + 1) * g] for x in shares]).tolist())
        assert union == Counter(single[step * g * world : (step + 1) * g * world].tolist())
