"""BMAS (Mixed-R1): the Rust similarity against a numpy reference, edge cases, the
TokenEmbedder on a tiny local model, and arbitrary text (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modomodo import _core
from modomodo.rewards.bmas import TokenEmbedder, bmas_reward


def reference(r: np.ndarray, g: np.ndarray) -> float:
    """BMAS straight from its definition, in float64."""
    if len(r) == 0 or len(g) == 0:
        return 0.0
    r, g = r.astype(np.float64), g.astype(np.float64)
    nr, ng = np.linalg.norm(r, axis=1), np.linalg.norm(g, axis=1)
    s = (r @ g.T) / np.outer(np.where(nr > 0, nr, 1), np.where(ng > 0, ng, 1))
    s[nr == 0, :] = 0.0
    s[:, ng == 0] = 0.0
    p, rr = s.max(axis=1).mean(), s.max(axis=0).mean()
    return float(np.clip((p + rr) / 2, 0, 1))


def test_identical_embeddings_score_one():
    x = np.random.default_rng(0).normal(size=(7, 16)).astype(np.float32)
    assert _core.bmas(x, x) == pytest.approx(1.0, abs=1e-6)
    # The same tokens in another order and repeated are still a perfect match both ways.
    assert _core.bmas(x[::-1].copy(), np.concatenate([x, x])) == pytest.approx(1.0, abs=1e-6)


def test_orthogonal_embeddings_score_zero():
    eye = np.eye(6, dtype=np.float32)
    assert _core.bmas(eye[:3], eye[3:]) == pytest.approx(0.0, abs=1e-7)


def test_partial_overlap_is_the_bidirectional_average():
    eye = np.eye(4, dtype=np.float32)
    # Response {e0, e1}, gold {e0}: P = (1 + 0) / 2, R = 1 -> 0.75.
    assert _core.bmas(eye[:2], eye[:1]) == pytest.approx(0.75)


@pytest.mark.parametrize("seed", range(20))
def test_matches_numpy_reference_on_random_arrays(seed):
    rng = np.random.default_rng(seed)
    dim = int(rng.integers(1, 70))
    r = rng.normal(size=(int(rng.integers(1, 40)), dim)).astype(np.float32)
    g = rng.normal(size=(int(rng.integers(1, 40)), dim)).astype(np.float32)
    # Correlated rows, so the score is not always clipped to 0.
    g[: min(len(g), len(r))] += r[: min(len(g), len(r))]
    if seed % 3 == 0:
        r[0] = 0.0  # a zero-norm row
    assert _core.bmas(r, g) == pytest.approx(reference(r, g), abs=1e-5)


def test_batch_equals_single_calls_in_order():
    rng = np.random.default_rng(1)
    rs = [rng.normal(size=(int(rng.integers(0, 20)), 8)).astype(np.float32) for _ in range(64)]
    gs = [rng.normal(size=(int(rng.integers(0, 20)), 8)).astype(np.float32) for _ in range(64)]
    assert _core.bmas_batch(rs, gs) == [_core.bmas(r, g) for r, g in zip(rs, gs)]


def test_empty_zero_norm_and_nan_give_finite_scores():
    x = np.ones((3, 4), dtype=np.float32)
    empty = np.zeros((0, 4), dtype=np.float32)
    assert _core.bmas(empty, x) == 0.0
    assert _core.bmas(x, empty) == 0.0
    assert _core.bmas(empty, empty) == 0.0
    zeros = np.zeros((2, 4), dtype=np.float32)
    assert _core.bmas(zeros, zeros) == 0.0
    nan = np.full((2, 4), np.nan, dtype=np.float32)
    assert _core.bmas(nan, x) == 0.0
    inf = np.full((2, 4), np.inf, dtype=np.float32)
    assert _core.bmas(x, inf) == 0.0


def test_arrays_are_read_in_place_so_layout_and_dtype_are_checked():
    x = np.ones((3, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.bmas(x[:, ::2], x[:, :4].copy())
    with pytest.raises(TypeError):
        _core.bmas(x.astype(np.float64), x)
    with pytest.raises(ValueError, match="dim"):
        _core.bmas(x, np.ones((3, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"golds\[1\]"):
        _core.bmas_batch([x, x], [x, np.ones((1, 2), dtype=np.float32)])
    with pytest.raises(ValueError, match="length mismatch"):
        _core.bmas_batch([x, x], [x])


# --- bmas_reward with an embedder -------------------------------------------------------


def word_embedder(dim: int = 32):
    """Deterministic toy embedder: one fixed random vector per word."""
    table: dict[str, np.ndarray] = {}

    def embed(text: str) -> np.ndarray:
        rows = []
        for word in text.split():
            if word not in table:
                seed = sum(word.encode()) * 7919 + len(word)
                table[word] = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
            rows.append(table[word])
        return np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)

    return embed


def test_bmas_reward_scores_the_answer_block():
    emb = word_embedder()
    gold = "a red circle"
    got = bmas_reward(
        [
            "<think>blue square</think><answer>a red circle</answer>",
            "<think>a red circle</think><answer>blue square</answer>",
            "a red circle",  # no block: the whole completion
            "<answer></answer>",
        ],
        [gold] * 4,
        embedder=emb,
    )
    assert got[0] == pytest.approx(1.0, abs=1e-6)
    assert got[1] < 0.6
    assert got[2] == pytest.approx(1.0, abs=1e-6)
    assert got[3] == 0.0
    assert bmas_reward("<answer>a red circle</answer>", "<answer>a red circle</answer>", embedder=emb) == [
        pytest.approx(1.0, abs=1e-6)
    ]


def test_bmas_reward_bad_arguments():
    emb = word_embedder()
    with pytest.raises(ValueError, match="embedder"):
        bmas_reward(["a"], ["a"], embedder=None)
    with pytest.raises(ValueError, match="length mismatch"):
        bmas_reward(["a", "b"], ["a"], embedder=emb)
    with pytest.raises(ValueError, match="solutions"):
        bmas_reward(["a"], "a", embedder=emb)
    with pytest.raises(ValueError, match=r"completions\[0\]"):
        bmas_reward(["a"], ["a"], embedder=lambda t: np.ones(4, dtype=np.float32))


def test_token_embedder_reads_the_models_input_embedding_table():
    import torch

    from modomodo.tiny import build_tokenizer, tiny_text_model

    tok = build_tokenizer()
    model = tiny_text_model(tok)
    emb = TokenEmbedder(model, tok)
    text = "<think> the answer is B </think> <answer> B </answer>"
    rows = emb(text)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    table = model.get_input_embeddings().weight.detach()
    assert rows.dtype == np.float32 and rows.flags["C_CONTIGUOUS"]
    assert rows.shape == (len(ids), model.config.hidden_size)
    np.testing.assert_array_equal(rows, table[torch.tensor(ids)].numpy())
    assert emb("").shape == (0, model.config.hidden_size)

    same, other, empty = bmas_reward(
        ["<answer>a red circle</answer>", "<answer>7 yes 19</answer>", "<answer></answer>"],
        ["a red circle"] * 3,
        embedder=emb,
    )
    assert same == pytest.approx(1.0, abs=1e-5)
    assert 0.0 <= other < same
    assert empty == 0.0

    # The embeddings follow the policy as it trains: the table is read at each call.
    with torch.no_grad():
        model.get_input_embeddings().weight.mul_(2.0)
    np.testing.assert_allclose(emb(text), 2.0 * rows, rtol=1e-6)

    with pytest.raises(ValueError, match="model"):
        TokenEmbedder(object(), tok)


@settings(max_examples=200, deadline=None)
@given(completion=st.text(max_size=200), solution=st.text(max_size=100))
def test_bmas_reward_is_in_unit_interval_for_any_text(completion, solution):
    (v,) = bmas_reward([completion], [solution], embedder=word_embedder(8))
    assert 0.0 <= v <= 1.0


@settings(max_examples=200, deadline=None)
@given(
    r=st.lists(
        st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True), min_size=3, max_size=3), max_size=6
    ),
    g=st.lists(
        st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True), min_size=3, max_size=3), max_size=6
    ),
)
def test_any_floats_stay_in_unit_interval(r, g):
    ra = np.array(r, dtype=np.float32).reshape(-1, 3)
    ga = np.array(g, dtype=np.float32).reshape(-1, 3)
    assert 0.0 <= _core.bmas(ra, ga) <= 1.0
