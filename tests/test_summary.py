"""What a run reports: standard errors of the scores, the paired-bootstrap change before ->
after, summary.json round trips, the human summary, the maximum of a domain's reward."""

import json
import math

import numpy as np
import pytest

from modomodo.summary import (
    BenchmarkScore,
    EvalChange,
    EvalScores,
    RunSummary,
    ScoreChange,
    paired_change,
    standard_error,
)


def _paired_01(n: int, seed: int) -> tuple[list[float], list[float]]:
    """0/1 scores of n rows before and after, correlated (most rows keep their score)."""
    rng = np.random.default_rng(seed)
    before = (rng.random(n) < 0.3).astype(float)
    flip = rng.random(n) < 0.25
    after = np.where(flip, (rng.random(n) < 0.6).astype(float), before)
    return before.tolist(), after.tolist()


def test_the_paired_bootstrap_error_of_0_1_scores_is_the_error_of_the_mean_difference():
    before, after = _paired_01(600, seed=1)
    d = np.subtract(after, before)
    change = paired_change({"b": before}, {"b": after}, {"b": "in"})
    direct = math.sqrt(d.var() / d.size)  # the bootstrap's standard error, resampling rows
    assert change.benchmarks["b"].delta == pytest.approx(d.mean())
    # 2,000 resamples estimate a standard deviation to ~1.6 %: 6 % is ~4 of their errors.
    assert change.benchmarks["b"].standard_error == pytest.approx(direct, rel=0.06)
    # Pairing matters: unpaired, the error would be that of two independent means, larger here.
    unpaired = math.sqrt(np.var(before) / d.size + np.var(after) / d.size)
    assert change.benchmarks["b"].standard_error < 0.8 * unpaired
    assert change.in_score == ScoreChange(change.benchmarks["b"].delta, change.benchmarks["b"].standard_error)
    assert change.out_score is None and (change.resamples, change.seed) == (2000, 0)


def test_in_and_out_changes_average_the_benchmarks_by_size_and_resample_within_each():
    b1, a1 = _paired_01(100, seed=2)
    b2, a2 = _paired_01(300, seed=3)
    b3, a3 = _paired_01(200, seed=4)
    change = paired_change(
        {"x": b1, "y": b2, "z": b3}, {"x": a1, "y": a2, "z": a3}, {"x": "in", "y": "in", "z": "out"}
    )
    d1, d2 = np.subtract(a1, b1), np.subtract(a2, b2)
    assert change.in_score.delta == pytest.approx((d1.sum() + d2.sum()) / 400)
    direct = math.sqrt((0.25**2) * d1.var() / 100 + (0.75**2) * d2.var() / 300)
    assert change.in_score.standard_error == pytest.approx(direct, rel=0.06)
    assert change.out_score == change.benchmarks["z"]
    # The same seed gives the same resamples.
    again = paired_change(
        {"x": b1, "y": b2, "z": b3}, {"x": a1, "y": a2, "z": a3}, {"x": "in", "y": "in", "z": "out"}
    )
    assert again == change


def test_no_change_has_no_error_and_mismatched_rows_are_refused():
    same = [0.0, 1.0, 1.0, 0.5]
    change = paired_change({"b": same}, {"b": same}, {"b": "out"})
    assert change.benchmarks["b"] == ScoreChange(0.0, 0.0) == change.out_score
    with pytest.raises(ValueError, match=r"benchmark 'b': 4 rows before, 3 after; expected the same rows"):
        paired_change({"b": same}, {"b": same[:3]}, {"b": "in"})
    with pytest.raises(ValueError, match=r"expected the same benchmarks, each with a role"):
        paired_change({"b": same}, {"c": same}, {"b": "in", "c": "in"})


def test_scores_carry_their_standard_errors_and_in_out_combine_them_by_size():
    rows = {"x": [1.0, 0.0, 1.0, 1.0], "y": [0.2, 0.4, 0.6, 0.8, 1.0, 0.0], "z": [1.0]}
    bench = {
        "x": BenchmarkScore.of(rows["x"], "in"),
        "y": BenchmarkScore.of(rows["y"], "in"),
        "z": BenchmarkScore.of(rows["z"], "out"),
    }
    assert bench["x"].score == 0.75 and bench["x"].standard_error == pytest.approx(
        np.std(rows["x"], ddof=1) / 2
    )
    assert bench["z"].standard_error is None  # one row: no spread to measure
    ev = EvalScores.of(bench)
    assert ev.in_score == pytest.approx((3 + 3) / 10)
    expected = math.sqrt((0.4 * bench["x"].standard_error) ** 2 + (0.6 * bench["y"].standard_error) ** 2)
    assert ev.in_standard_error == pytest.approx(expected)
    assert ev.out_standard_error is None
    assert standard_error([]) is None


def _run_summary() -> RunSummary:
    before_rows, after_rows = _paired_01(50, seed=5)
    before = EvalScores.of(
        {"x": BenchmarkScore.of(before_rows, "in"), "y": BenchmarkScore.of([0.0, 0.5], "out")}
    )
    after = EvalScores.of(
        {"x": BenchmarkScore.of(after_rows, "in"), "y": BenchmarkScore.of([1.0, 0.5], "out")}
    )
    change = paired_change(
        {"x": before_rows, "y": [0.0, 0.5]}, {"x": after_rows, "y": [1.0, 0.5]}, {"x": "in", "y": "out"}
    )
    return RunSummary(
        steps=7,
        reward={"start": 0.25, "end": 0.75, "window": 2},
        eval=EvalScores.of(after.benchmarks, before=before, change=change),
        seconds={"total": 90.0},
        plot="reward_curves.png",
    )


def test_a_summary_with_errors_and_change_round_trips_and_refuses_a_bad_change(tmp_path):
    s = _run_summary()
    path = s.write(tmp_path / "summary.json")
    data = json.loads(path.read_text())
    assert set(data["eval"]["change"]) == {"benchmarks", "in_score", "out_score", "resamples", "seed"}
    assert data["eval"]["benchmarks"]["x"]["standard_error"] > 0
    assert data["eval"]["before"]["in_standard_error"] > 0
    assert RunSummary.read(path) == s
    assert data["eval"]["change"]["out_score"]["delta"] == pytest.approx(0.5)
    data["eval"]["change"]["in_score"] = {"delta": "up", "standard_error": 0.1}
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"eval: change: in_score: delta is 'up'; expected a number"):
        RunSummary.read(path)
    assert isinstance(EvalChange.from_json(s.eval.change.to_json(), "x"), EvalChange)


def test_the_human_summary_says_where_and_how_the_scores_moved():
    s = _run_summary()
    text = s.describe("/runs/a")
    lines = text.splitlines()
    assert lines[0] == "7 GRPO steps in 1.5 min; results in /runs/a"
    assert "plot: /runs/a/reward_curves.png" in lines
    assert "training reward 0.250 -> 0.750" in text
    c = s.eval.change.in_score
    (in_line,) = [line for line in lines if line.startswith("In-Score")]
    assert f"{s.eval.before.in_score:.3f} ± {s.eval.before.in_standard_error:.3f}" in in_line
    assert f"{s.eval.in_score:.3f} ± {s.eval.in_standard_error:.3f}" in in_line
    assert f"{c.delta:+.3f} ± {c.standard_error:.3f}" in in_line
    (y_line,) = [line for line in lines if line.strip().startswith("y (out)")]
    assert "0.250 ± 0.250  0.750 ± 0.250  +0.500 ± 0.3" in y_line  # d = (1, 0): sqrt(0.25 / 2)
    assert "{" not in text


def test_a_domains_largest_reward_is_its_rewards_maxima_times_their_weights():
    from modomodo.data.builtin import synthetic_suite
    from modomodo.rewards.registry import REWARDS, Entry, max_total

    assert {r.max_value for r in REWARDS.values()} == {1.0}  # every reward lies in [0, 1]
    assert max_total([Entry("format", 0.5, {}), Entry("accuracy", 2.0, {})]) == 2.5
    for spec in synthetic_suite(n_train=1, n_eval=1):
        assert max_total(spec.rewards) == sum(r.weight for r in spec.rewards)


def test_eval_change_pairs_rows_by_their_ids_and_refuses_other_rows(caplog):
    from modomodo.train.run import eval_change

    before = [{"benchmark": "b", "row": i, "score": float(i % 2)} for i in range(6)]
    after = [{"benchmark": "b", "row": i, "score": 1.0} for i in reversed(range(6))]
    change = eval_change(before, after, {"b": "in"})
    assert change is not None and change.benchmarks["b"].delta == pytest.approx(0.5)
    assert eval_change(before, after[:5], {"b": "in"}) is None
    assert "different rows" in caplog.text
