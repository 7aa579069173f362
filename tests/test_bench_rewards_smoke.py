"""The reward benchmark still runs, and modomodo agrees with its baselines where they are right.

benches/bench_rewards.py builds a corpus whose rewards are known by construction and scores
it with modomodo and with plain-Python (VLM-R1 / R1-V / Visual-RFT style) and math-verify
baselines. Here, on a small corpus and without any timing assertion: the corpus is
deterministic and well-formed, each baseline is right on most cases (so the check is not
vacuous), and on every case where a baseline returns the known reward modomodo returns it too.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHES = Path(__file__).resolve().parents[1] / "benches"
sys.path.insert(0, str(BENCHES))

import _baselines  # noqa: E402
import bench_rewards  # noqa: E402
from _corpus import GENERATORS, build_corpus, fingerprint  # noqa: E402

N = 150  # completions per family


@pytest.fixture(scope="module")
def corpus():
    return build_corpus(N, seed=7)


def describe(cases: list[dict]) -> str:
    return "\n".join(
        f"{c['variant']}: completion={bench_rewards.show(c['completion'], 120)!r} "
        f"solution={c['solution']!r} gold={c['gold']:.4g} baseline={c['baseline']} "
        f"modomodo={c['modomodo']}"
        for c in cases[:10]
    )


def test_corpus_is_deterministic_and_labelled():
    a, b, c = build_corpus(30, seed=3), build_corpus(30, seed=3), build_corpus(30, seed=4)
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)
    assert list(a) == list(GENERATORS)
    for fam in a.values():
        assert len(fam) == len(fam.solutions) == len(fam.golds) == len(fam.variants) == 30
        assert all(0.0 <= g <= 1.0 for g in fam.golds)
        assert fam.image_sizes is None or len(fam.image_sizes) == 30


def test_corpus_mixes_right_wrong_and_malformed(corpus):
    for name, fam in corpus.items():
        kinds = {part for v in fam.variants for part in v.split(":")}
        assert any(g > 0 for g in fam.golds) and any(g == 0 for g in fam.golds), name
        assert kinds & {"noise", "truncated", "unclosed", "empty", "truncated_json"}, name


@pytest.mark.parametrize("family", list(GENERATORS))
def test_modomodo_agrees_with_plain_baseline_where_it_is_right(corpus, family):
    fam = corpus[family]
    mine = bench_rewards.modomodo_fn(fam)()
    assert len(mine) == len(fam)
    assert all(0.0 <= x <= 1.0 for x in mine)
    base = _baselines.PLAIN[family](fam.completions, fam.solutions, fam.image_sizes)
    check = bench_rewards.agreement(fam, base, mine)
    assert check["right"] >= 0.7 * len(fam), "the baseline should be right on most cases"
    assert not check["disagreements"], describe(check["disagreements"])


def test_modomodo_agrees_with_math_verify_where_it_is_right(corpus):
    fam = corpus["math"].subset(list(range(40)))
    mine = bench_rewards.modomodo_fn(fam)()
    base = _baselines.math_verify(fam.completions, fam.solutions)
    check = bench_rewards.agreement(fam, base, mine)
    assert check["right"] >= 0.7 * len(fam)
    assert not check["disagreements"], describe(check["disagreements"])


def test_quick_run_prints_the_table(capsys):
    code = bench_rewards.main(
        [
            "--quick",
            "--n",
            "40",
            "--repeats",
            "1",
            "--min-time",
            "0",
            "--mv-n",
            "8",
            "--families",
            "format,math,iou_match",
        ]
    )
    out = capsys.readouterr().out
    assert "modomodo 1T" in out and "modomodo 2T" in out and "plain Python" in out
    for name in ("format", "math", "iou_match"):
        assert any(line.startswith(name) for line in out.splitlines()), out
    assert "math-verify" in out
    assert code == 0, out


def test_call_floor_converts_like_the_rewards_and_scores_nothing(corpus) -> None:
    from modomodo import _core

    for fam in (corpus["format_lenient"], corpus["exact"]):
        assert bench_rewards.floor_fn(fam)() == [0.0] * len(fam)
    with pytest.raises(TypeError, match=r"solutions\[1\].*int"):
        _core.batch_floor(["a", "b"], ["a", 2])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="completions"):
        _core.batch_floor("abc")
    with pytest.raises(ValueError, match="length mismatch"):
        _core.batch_floor(["a", "b"], ["a"])
