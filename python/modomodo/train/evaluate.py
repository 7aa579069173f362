"""Evaluation: greedy, batched decoding on evaluation domains, each scored by its own reward.

Per benchmark the score is the mean over its rows of the domain's reward (`routed` over
its spec), divided by the domain's largest total reward (`rewards.registry.max_total`) so
that every score lies in [0, 1] (exact match, or mean IoU for grounding, as in MoDoMoDo),
with its standard error over rows. In-Score and Out-Score are the means over the `in` and
`out` benchmarks weighted by test-set size, as in the paper (`modomodo.summary.in_out_scores`).
Every row's score and completion are kept, so that two evaluations of the same rows can be
compared row by row (`modomodo.summary.paired_change`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from modomodo.summary import BenchmarkScore, EvalScores


def _prompt_texts(processor, prompts) -> list[str]:
    return [processor.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]


def generate_greedy(
    model, processor, rows: Sequence[Mapping[str, Any]], *, batch_size: int, max_new_tokens: int, bar=None
) -> list[str]:
    """Greedy completions of `rows` (dicts with `prompt` and `image`), in order."""
    import torch

    tok = processor.tokenizer
    eos = [tok.eos_token_id]
    out: list[str] = []
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            images = [r["image"] for r in chunk] if all(r.get("image") is not None for r in chunk) else None
            enc = processor(
                text=_prompt_texts(processor, [r["prompt"] for r in chunk]),
                images=images,
                padding=True,
                padding_side="left",
                return_tensors="pt",
            ).to(model.device)
            with torch.no_grad():
                ids = model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    eos_token_id=eos,
                    pad_token_id=tok.pad_token_id,
                )
            out += processor.batch_decode(ids[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        model.train(was_training)
    return out


def score_rows(
    spec, rows: Sequence[Mapping[str, Any]], completions: Sequence[str], *, embedder=None
) -> list[float]:
    """Each completion's reward under its domain's rewards, normalised to [0, 1]."""
    from modomodo.data import reward_spec
    from modomodo.rewards.registry import max_total
    from modomodo.rewards.trl import routed

    func = routed(reward_spec([spec]), embedder=embedder, name=f"eval/{spec.name}")
    total_weight = max_total(spec.rewards)
    values = func(
        [r["prompt"] for r in rows],
        list(completions),
        solution=[r["solution"] for r in rows],
        domain=[spec.name] * len(rows),
        image_size=[r.get("image_size") for r in rows],
    )
    return [0.0 if v is None or not math.isfinite(v) else float(v) / total_weight for v in values]


def evaluate(
    model,
    processor,
    domains: Sequence[tuple[Any, Any]],
    *,
    batch_size: int = 64,
    max_new_tokens: int = 64,
    embedder=None,
    progress: bool = True,
    desc: str = "eval",
    keep_completions: int = 0,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Evaluate on `domains`, a list of `(DomainSpec, datasets.Dataset)`.

    Returns `(scores, rows)`: `modomodo.summary.EvalScores` as JSON (`{"benchmarks": {name:
    {score, n, role, standard_error}}, "in_score", "out_score", ..., "seconds"}`; with
    `keep_completions`, also the first completions of each benchmark, `examples`, for a
    look), and one record per row: `{"benchmark", "row"` (its index in the benchmark),
    `"score", "completion", "solution"}`.
    """
    from tqdm.auto import tqdm

    if embedder is None and any(r.name == "bmas" for s, _ in domains for r in s.rewards):
        from modomodo.rewards.bmas import TokenEmbedder

        embedder = TokenEmbedder(model, processor.tokenizer)
    start = time.perf_counter()
    total = sum(len(ds) for _, ds in domains)
    benchmarks: dict[str, BenchmarkScore] = {}
    records: list[dict[str, Any]] = []
    with tqdm(total=total, desc=desc, disable=not progress, dynamic_ncols=True, unit="ex") as bar:
        for spec, ds in domains:
            rows = [ds[i] for i in range(len(ds))]
            completions = generate_greedy(
                model, processor, rows, batch_size=batch_size, max_new_tokens=max_new_tokens, bar=bar
            )
            scores = score_rows(spec, rows, completions, embedder=embedder)
            here = [
                {"benchmark": spec.name, "row": i, "score": s, "completion": c, "solution": r["solution"]}
                for i, (r, c, s) in enumerate(zip(rows, completions, scores))
            ]
            records += here
            examples = [
                {k: x[k] for k in ("solution", "completion", "score")} for x in here[:keep_completions]
            ]
            benchmarks[spec.name] = BenchmarkScore.of(scores, spec.role, examples=examples or None)
    return EvalScores.of(benchmarks, seconds=time.perf_counter() - start).to_json(), records
