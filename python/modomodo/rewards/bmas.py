"""BMAS, Mixed-R1's open-ended reward: Bidirectional Max-Average Similarity of token embeddings.

With E_r, E_g the token embeddings of the response and the gold answer (rows) and S their
cosine-similarity matrix: P = mean over response tokens of the row max, R = mean over gold
tokens of the column max, BMAS = (P + R) / 2 clipped to [0, 1]; an empty side scores 0.
Python only embeds the texts; the similarity work runs in Rust on the float32 arrays
(read in place, no copies) with the GIL released.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from modomodo import _core

Embedder = Callable[[str], Any]


class TokenEmbedder:
    """`embedder(text) -> float32 [n_tokens, dim]`: rows of the model's input-embedding table.

    `model` is the policy (anything with `get_input_embeddings()`, e.g. a transformers
    model); `tokenizer` its tokenizer or processor. The table is read at each call, so the
    embeddings follow the policy as it trains. No special tokens are added.
    """

    def __init__(self, model: Any, tokenizer: Any):
        if not callable(getattr(model, "get_input_embeddings", None)):
            raise ValueError(
                f"invalid model {type(model).__name__}: expected a model with get_input_embeddings()"
            )
        # A multimodal processor carries its text tokenizer.
        tokenizer = getattr(tokenizer, "tokenizer", tokenizer)
        if not callable(tokenizer):
            raise ValueError(f"invalid tokenizer {type(tokenizer).__name__}: expected a tokenizer")
        self.model = model
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> np.ndarray:
        import torch

        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        table = self.model.get_input_embeddings().weight
        with torch.no_grad():
            index = torch.as_tensor(ids, dtype=torch.long, device=table.device)
            rows = table.detach().index_select(0, index)
            return rows.to(device="cpu", dtype=torch.float32).contiguous().numpy()


def _answer(text: str) -> str:
    """The answer block when there is one, else the whole text (as `accuracy_reward`)."""
    answer = _core.extract_answer(text)
    return text if answer is None else answer


def _embed(embedder: Embedder, text: str, name: str) -> np.ndarray:
    array = np.ascontiguousarray(np.asarray(embedder(text), dtype=np.float32))
    if array.ndim != 2:
        raise ValueError(f"invalid {name} embedding of shape {array.shape}: expected float32 [n_tokens, dim]")
    return array


def bmas_reward(
    completions: str | Sequence[str],
    solutions: str | Sequence[str],
    *,
    embedder: Embedder,
) -> list[float]:
    """BMAS of each completion's answer (its answer block, else the whole text) against its
    solution, with `embedder(text) -> float32 [n_tokens, dim]` (e.g. `TokenEmbedder`)."""
    if not callable(embedder):
        raise ValueError(f"invalid embedder {embedder!r}: expected a callable text -> [n_tokens, dim]")
    if isinstance(completions, str):
        completions, solutions = [completions], [solutions]  # type: ignore[list-item]
    elif isinstance(solutions, str):
        raise ValueError("invalid solutions: expected one solution per completion (a list), got a str")
    completions, solutions = list(completions), list(solutions)
    if len(completions) != len(solutions):
        raise ValueError(
            f"length mismatch: completions has {len(completions)} items but solutions has {len(solutions)}"
        )
    responses = [_embed(embedder, _answer(c), f"completions[{i}]") for i, c in enumerate(completions)]
    golds = [_embed(embedder, _answer(str(s)), f"solutions[{i}]") for i, s in enumerate(solutions)]
    return _core.bmas_batch(responses, golds)
