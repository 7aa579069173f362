"""modomodo.mixture: seed designs, the paper's heuristics on its own Table 2, run records
and their bad-input messages."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from modomodo.mixture import (
    RunRecord,
    alpha,
    append_record,
    coli,
    dirichlet_mixtures,
    heuristic_mixtures,
    load_records,
    load_table,
    norm,
    records_to_arrays,
    save_records,
    seed_mixtures,
    simplex_lattice,
)
from modomodo.mixture.records import PAPER_DOMAINS, PAPER_IN_SIZES, PAPER_OUT_SIZES, weighted_score

# The paper's Table 2 (base model and the 11 seed runs), shipped as an example.
TABLE = Path(__file__).resolve().parents[1] / "examples" / "mixture" / "paper_table2_seeds.tsv"


@pytest.fixture(scope="module")
def seeds() -> list[RunRecord]:
    return load_table(TABLE)


def _vec(mix: dict[str, float]) -> np.ndarray:
    return np.array([mix[d] for d in PAPER_DOMAINS])


# -- designs ---------------------------------------------------------------------------


def test_seed_mixtures_are_the_2m_plus_1_seeds():
    doms = ["a", "b", "c", "d", "e"]
    s = seed_mixtures(doms)
    assert len(s) == 11
    assert s["single_c"] == {"a": 0, "b": 0, "c": 1, "d": 0, "e": 0}
    assert s["without_c"] == {"a": 0.25, "b": 0.25, "c": 0, "d": 0.25, "e": 0.25}
    assert s["uniform"] == {d: 0.2 for d in doms}
    for w in s.values():
        assert math.isclose(sum(w.values()), 1.0)
    # The same names and weights as the paper's table.
    for rec in load_table(TABLE):
        assert seed_mixtures(PAPER_DOMAINS)[rec.name] == pytest.approx(rec.weights)


def test_two_domains_give_three_distinct_seeds_and_one_domain_is_refused():
    assert list(seed_mixtures(["x", "y"])) == ["single_x", "single_y", "uniform"]
    with pytest.raises(ValueError, match="at least two domains"):
        seed_mixtures(["x"])
    with pytest.raises(ValueError, match="repeat"):
        seed_mixtures(["x", "x", "y"])
    with pytest.raises(ValueError, match="not one string"):
        seed_mixtures("abc")


def test_space_filling_designs():
    lat = simplex_lattice(["a", "b", "c"], 4)
    assert len(lat) == math.comb(3 + 4 - 1, 4)  # 15
    for w in lat.values():
        assert math.isclose(sum(w.values()), 1.0)
        assert all(abs(4 * v - round(4 * v)) < 1e-12 for v in w.values())
    assert len({tuple(w.values()) for w in lat.values()}) == 15
    d = dirichlet_mixtures(["a", "b", "c"], 200, alpha=1.0, seed=3)
    W = np.array([list(w.values()) for w in d.values()])
    assert W.shape == (200, 3) and np.all(W >= 0) and np.allclose(W.sum(1), 1)
    assert np.allclose(W.mean(0), 1 / 3, atol=0.05)  # symmetric Dirichlet: mean 1/m
    assert d == dirichlet_mixtures(["a", "b", "c"], 200, alpha=1.0, seed=3)
    with pytest.raises(ValueError, match="alpha"):
        dirichlet_mixtures(["a", "b"], 3, alpha=0)


# -- heuristics on the paper's table ---------------------------------------------------

# Sums of the seed runs containing each domain (single-domain runs at scale 1), typed
# from the TSV: the domain alone + the four leave-outs that keep it + uniform.
IN_SUMS = {
    "COCO": 0.3254 + (0.5432 + 0.5767 + 0.5463 + 0.4787) + 0.5638,
    "LISA": 0.3180 + (0.5590 + 0.5767 + 0.5463 + 0.4787) + 0.5638,
    "GeoQAV": 0.2232 + (0.5590 + 0.5432 + 0.5463 + 0.4787) + 0.5638,
    "SAT": 0.1990 + (0.5590 + 0.5432 + 0.5767 + 0.4787) + 0.5638,
    "ScienceQA": 0.3274 + (0.5590 + 0.5432 + 0.5767 + 0.5463) + 0.5638,
}
OUT_SUMS = {
    "COCO": 0.4589 + (0.4783 + 0.4889 + 0.4721 + 0.4930) + 0.4609,
    "LISA": 0.4219 + (0.5146 + 0.4889 + 0.4721 + 0.4930) + 0.4609,
    "GeoQAV": 0.4753 + (0.5146 + 0.4783 + 0.4721 + 0.4930) + 0.4609,
    "SAT": 0.4915 + (0.5146 + 0.4783 + 0.4889 + 0.4930) + 0.4609,
    "ScienceQA": 0.4263 + (0.5146 + 0.4783 + 0.4889 + 0.4721) + 0.4609,
}


def test_alpha_on_the_paper_table_matches_the_hand_derivation(seeds):
    # By hand: In sums 3.0341, 3.0425, 2.9142, 2.9204, 3.1164 -> min-max
    # 0.5930, 0.6345, 0, 0.0307, 1 -> A_in = that / 2.2582.
    assert IN_SUMS["GeoQAV"] == pytest.approx(2.9142) and IN_SUMS["ScienceQA"] == pytest.approx(3.1164)
    assert OUT_SUMS["ScienceQA"] == pytest.approx(2.8411) and OUT_SUMS["SAT"] == pytest.approx(2.9272)
    a_in = alpha(seeds, 1.0)
    assert _vec(a_in) == pytest.approx([0.2626, 0.2810, 0.0, 0.0136, 0.4428], abs=1e-4)
    a_out = alpha(seeds, 0.0)
    assert _vec(a_out) == pytest.approx([0.0685, 0.0642, 0.3308, 0.5364, 0.0], abs=1e-4)
    a_bal = alpha(seeds, 0.5)
    assert _vec(a_bal) == pytest.approx([0.1748, 0.1830, 0.1496, 0.2500, 0.2426], abs=1e-4)
    # And directly from the sums: C = a·minmax(In) + (1-a)·minmax(Out), normalised.
    mm = lambda d: {k: (v - min(d.values())) / (max(d.values()) - min(d.values())) for k, v in d.items()}  # noqa: E731
    i, o = mm(IN_SUMS), mm(OUT_SUMS)
    for a in (0.0, 0.3, 0.5, 1.0):
        c = {k: a * i[k] + (1 - a) * o[k] for k in PAPER_DOMAINS}
        total = sum(c.values())
        assert alpha(seeds, a) == pytest.approx({k: v / total for k, v in c.items()}, abs=1e-9)


def test_coli_on_the_paper_table(seeds):
    # By hand: the 11 seeds give XᵀX = 2I + 4J, so (XᵀX + λI)⁻¹ has equal diagonal and
    # the VIF division is a common factor: weights ∝ Out_i - 4/(22 + λ)·Σ_j Out_j.
    lam = 1e-3
    shift = 4.0 / (22.0 + lam) * sum(OUT_SUMS.values())
    raw = {k: max(v - shift, 0.0) for k, v in OUT_SUMS.items()}
    expect = {k: v / sum(raw.values()) for k, v in raw.items()}
    got = coli(seeds, lam)
    assert got == pytest.approx(expect, abs=1e-9)
    assert _vec(got) == pytest.approx([0.1839, 0.1833, 0.2161, 0.2413, 0.1754], abs=1e-4)


def test_norm_on_the_paper_table(seeds):
    # Leave-one-out Out-Scores 0.5146 0.4783 0.4889 0.4721 0.4930, min-max over 0.0425,
    # s' = 0.2 - 0.1·ŝ = 0.1, 0.18541, 0.16047, 0.2, 0.15082; sum 0.79671.
    got = norm(seeds)
    assert _vec(got) == pytest.approx([0.12552, 0.23272, 0.20142, 0.25103, 0.18931], abs=1e-4)
    # Leaving COCO out helped most, so COCO gets the least weight; SAT the most.
    assert min(got, key=got.get) == "COCO" and max(got, key=got.get) == "SAT"


def test_heuristic_sanity(seeds):
    mixes = heuristic_mixtures(seeds)
    assert list(mixes) == ["A_in", "A_out", "A_bal", "Coli", "Norm"]
    for mix in mixes.values():
        assert math.isclose(sum(mix.values()), 1.0) and min(mix.values()) >= 0
    # The worst domain on the In-Score sum gets no weight under A_in (and on Out under A_out).
    assert mixes["A_in"]["GeoQAV"] == 0 and mixes["A_out"]["ScienceQA"] == 0
    # The undisclosed single-run scale matters: weighting single runs more moves A_in.
    assert alpha(seeds, 1.0, single_scale=3.0) != pytest.approx(alpha(seeds, 1.0))
    # Reordering the records or the domains changes nothing but the order.
    rev = list(reversed(seeds))
    perm = list(reversed(PAPER_DOMAINS))
    for f in (
        lambda r, d: alpha(r, 0.5, domains=d),
        lambda r, d: coli(r, domains=d),
        lambda r, d: norm(r, domains=d),
    ):
        assert f(rev, perm) == pytest.approx(f(seeds, None), abs=1e-12)


def test_heuristics_bad_input(seeds):
    with pytest.raises(ValueError, match=r"a=1.5: expected a number in \[0, 1\]"):
        alpha(seeds, 1.5)
    no_loo = [r for r in seeds if r.name != "without_SAT"]
    with pytest.raises(ValueError, match=r"no leave-one-out run for \['SAT'\]"):
        norm(no_loo)
    bad = [
        RunRecord(r.name, r.weights, r.scores, r.in_score, math.nan if r.name == "uniform" else r.out_score)
        for r in seeds
    ]
    with pytest.raises(ValueError, match=r"out_score is NaN or missing for records \['uniform'\]"):
        coli(bad)
    with pytest.raises(ValueError, match="non-empty sequence"):
        alpha([], 0.5)


# -- records ---------------------------------------------------------------------------


def test_paper_table_scores_are_size_weighted_means(seeds):
    assert len(seeds) == 11  # the base model row has no mixture and is excluded
    for r in seeds:
        assert weighted_score(r.scores, PAPER_IN_SIZES) == pytest.approx(r.in_score, abs=6e-5)
        assert weighted_score(r.scores, PAPER_OUT_SIZES) == pytest.approx(r.out_score, abs=6e-5)


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_records_round_trip_and_nan_kept(tmp_path):
    recs = [
        RunRecord("a", {"x": 0.5, "y": 0.5}, {"b1": 0.3}, 0.3, 0.4, kind="seed"),
        RunRecord(
            "b", {"x": 1.0, "y": 0.0}, {"b1": math.nan}, math.nan, math.nan, seed=2, meta={"error": "boom"}
        ),
    ]
    p = tmp_path / "r.jsonl"
    save_records(p, recs[:1])
    append_record(p, recs[1])
    assert "NaN" not in p.read_text()  # NaN is written as null: standard JSON
    back = load_records(p)
    assert [r.name for r in back] == ["a", "b"]
    assert back[0] == recs[0]
    assert math.isnan(back[1].out_score) and back[1].seed == 2 and back[1].meta == {"error": "boom"}


def test_weights_off_one_are_normalised_with_a_warning_or_refused(tmp_path):
    p = _write(tmp_path / "r.jsonl", [{"name": "near", "weights": {"x": 0.6, "y": 0.39}, "out_score": 0.5}])
    with pytest.warns(UserWarning, match=r"'near'\).*sum to 0.99, not 1; renormalised"):
        (r,) = load_records(p)
    assert r.weights == pytest.approx({"x": 0.6 / 0.99, "y": 0.39 / 0.99})
    p = _write(tmp_path / "r2.jsonl", [{"name": "far", "weights": {"x": 0.3, "y": 0.2}, "out_score": 0.5}])
    with pytest.raises(
        ValueError, match=r"r2.jsonl:1 \('far'\): weights sum to 0.5; expected 1 \(within 0.02"
    ):
        load_records(p)
    p = _write(tmp_path / "r3.jsonl", [{"name": "neg", "weights": {"x": 1.2, "y": -0.2}}])
    with pytest.raises(ValueError, match=r"weight of 'y' is -0.2; expected a finite number >= 0"):
        load_records(p)
    (tmp_path / "r4.jsonl").write_text('{"name": "ok", "weights": {"x": 1}}\n{not json\n')
    with pytest.raises(ValueError, match=r"r4.jsonl:2: not valid JSON"):
        load_records(tmp_path / "r4.jsonl")
    with pytest.raises(ValueError, match="does not exist"):
        load_records(tmp_path / "missing.jsonl")


def test_missing_domain_and_nan_scores_are_named(tmp_path):
    rows = [
        {"name": "r1", "weights": {"x": 0.5, "y": 0.5, "z": 0}, "out_score": 0.1},
        {"name": "r2", "weights": {"x": 0.5, "y": 0.5}, "out_score": 0.2},
        {"name": "r3", "weights": {"x": 1, "y": 0, "z": 0}, "out_score": None},
    ]
    recs = load_records(_write(tmp_path / "r.jsonl", rows))
    assert len(recs) == 3  # nothing lost on loading
    with pytest.raises(
        ValueError, match=r"domain is missing from some records: 'r2' lacks \['z'\].*missing='zero'"
    ):
        records_to_arrays(recs)
    with pytest.raises(ValueError, match=r"out_score is NaN or missing for records \['r3'\]"):
        records_to_arrays(recs, missing="zero")
    with pytest.warns(UserWarning, match=r"ignoring records with NaN out_score: \['r3'\]"):
        W, y, doms = records_to_arrays(recs, missing="zero", nan="drop")
    assert (
        doms == ["x", "y", "z"] and W.tolist() == [[0.5, 0.5, 0], [0.5, 0.5, 0]] and y.tolist() == [0.1, 0.2]
    )
    with pytest.raises(ValueError, match=r"names domains \['z'\] outside the study's domains \['x', 'y'\]"):
        records_to_arrays(recs[:2], domains=["x", "y"], missing="zero")


def test_weighted_score_checks():
    assert weighted_score({"a": 1.0, "b": 0.0}, {"a": 3, "b": 1}) == 0.75
    with pytest.raises(ValueError, match=r"lack benchmarks \['b'\]"):
        weighted_score({"a": 1.0}, {"a": 3, "b": 1})


def test_no_warning_for_exact_weights(tmp_path):
    p = _write(tmp_path / "r.jsonl", [{"name": "u", "weights": {"x": 0.1, "y": 0.2, "z": 0.7}}])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_records(p)


# -- the run summary that modomodo-train writes and the loop reads --------------------------


def test_in_out_scores_of_an_evaluation_are_the_paper_size_weighted_means(seeds):
    from modomodo.summary import BenchmarkScore, EvalScores

    for r in seeds:
        benchmarks = {b: BenchmarkScore(r.scores[b], n, "in") for b, n in PAPER_IN_SIZES.items()}
        benchmarks |= {b: BenchmarkScore(r.scores[b], n, "out") for b, n in PAPER_OUT_SIZES.items()}
        ev = EvalScores.of(benchmarks)
        assert ev.in_score == pytest.approx(r.in_score, abs=6e-5)
        assert ev.out_score == pytest.approx(r.out_score, abs=6e-5)
    # A benchmark without rows counts for nothing; a role without benchmarks has no score.
    ev = EvalScores.of({"a": BenchmarkScore(0.5, 4, "in"), "b": BenchmarkScore(0.0, 0, "in")})
    assert (ev.in_score, ev.out_score) == (0.5, None)


def _summary():
    from modomodo.summary import BenchmarkScore, EvalScores, RunSummary

    before = EvalScores.of({"x": BenchmarkScore(0.25, 8, "out")})
    ev = EvalScores.of({"x": BenchmarkScore(0.5, 8, "out"), "y": BenchmarkScore(1.0, 2, "in")}, before=before)
    return RunSummary(
        steps=4,
        weights={"a": 0.5, "b": 0.5},
        loss_backend="auto",
        reward={"start": 0.1, "end": 0.4, "window": 1},
        per_domain={"a": {"start": 0.0, "end": 1.0, "draws": 3}},
        eval=ev,
        seconds={"total": 1.5},
    )


def test_run_summary_round_trips_through_summary_json(tmp_path):
    from modomodo.summary import RunSummary

    s = _summary()
    path = s.write(tmp_path / "summary.json")
    data = json.loads(path.read_text())
    assert data["eval"]["out_score"] == 0.5 and data["eval"]["before"]["out_score"] == 0.25
    assert "eval_before" not in data and "warm_start" not in data  # unset keys are not written
    assert RunSummary.read(path) == s
    assert list(tmp_path.iterdir()) == [path]  # the atomic write leaves no temporary file


@pytest.mark.parametrize(
    "change, message",
    [
        ({"steps": "4"}, r"summary.json: steps is '4'; expected an integer >= 0"),
        ({"interrupted": "no"}, r"interrupted is 'no'; expected true or false"),
        ({"reward_end": 0.4}, r"summary.json: unknown keys \['reward_end'\]; expected the RunSummary"),
        (
            {"eval": {"in_score": 0.2, "out_score": 0.4, "x": 0.5}},
            r"summary.json: eval: unknown keys \['x'\]",
        ),
        ({"eval": {"in_score": 0.2, "out_score": 0.4, "benchmarks": {"x": 0.5}}}, r"eval: benchmarks\['x'\]"),
        (
            {
                "eval": {
                    "in_score": 0.2,
                    "out_score": 0.4,
                    "benchmarks": {"x": {"score": 1, "n": -1, "role": "in"}},
                }
            },
            r"n is -1",
        ),
    ],
)
def test_run_summary_refuses_any_other_shape_naming_file_and_key(tmp_path, change, message):
    from modomodo.summary import RunSummary

    path = tmp_path / "summary.json"
    path.write_text(json.dumps(_summary().to_json() | change))
    with pytest.raises(ValueError, match=message):
        RunSummary.read(path)


def test_run_summary_of_a_file_that_is_not_json(tmp_path):
    from modomodo.summary import RunSummary

    path = tmp_path / "summary.json"
    path.write_text('{"steps": 3,')
    with pytest.raises(ValueError, match=r"summary.json' is not valid JSON"):
        RunSummary.read(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match=r"cannot read '.*summary.json'"):
        RunSummary.read(path)


def test_the_mixture_package_reads_runs_without_trl_or_torch():
    import subprocess
    import sys

    code = (
        "import sys, modomodo.mixture, modomodo.mixture.loop, modomodo.mixture.cli, modomodo.summary; "
        "print([m for m in ('trl', 'torch', 'transformers', 'modomodo.train') if m in sys.modules])"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        == "[]\n"
    )


def test_the_loop_records_a_run_whose_summary_has_another_shape_as_failed_saying_why(tmp_path):
    from modomodo.mixture.loop import MixConfig, MixLoop

    loop = MixLoop(
        MixConfig(domains=["a", "b"], trainer=["true"], evaluator=None), tmp_path, log=lambda m: None
    )
    loop._add({"uniform": {"a": 0.5, "b": 0.5}}, "seed")
    out = tmp_path / "runs" / "uniform" / "s0"
    out.mkdir(parents=True)
    (out / "summary.json").write_text(
        json.dumps({"steps": 3, "eval": {"in_score": 0.2, "out_score": 0.4, "ChartQA": 0.5}})
    )
    rec = loop._record("uniform", 0, out, None)
    assert math.isnan(rec.out_score)
    assert "summary.json: eval: unknown keys ['ChartQA'] and no ['benchmarks']" in rec.meta["error"]
    _summary().write(out / "summary.json")
    rec = loop._record("uniform", 0, out, None)
    assert (rec.scores, rec.in_score, rec.out_score) == ({"x": 0.5, "y": 1.0}, 1.0, 0.5)


def test_a_huge_bad_value_in_a_summary_gives_a_short_message(tmp_path):
    from modomodo.summary import RunSummary

    path = tmp_path / "summary.json"
    path.write_text(
        json.dumps({"steps": 1, "eval": {"in_score": 0, "out_score": 0, "benchmarks": [0.5] * 100_000}})
    )
    with pytest.raises(ValueError, match=r"benchmarks is \[0.5, .*\.\.\. \(\d+ characters\)") as err:
        RunSummary.read(path)
    assert len(str(err.value)) < 1000
