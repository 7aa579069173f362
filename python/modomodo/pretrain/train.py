"""Pretraining the base model: build it, train it on fresh generic rows, probe it.

Each step is either a text-only batch (reading rows: short, so several times cheaper per
step, which gives the option-lookup circuit thousands of steps) or an image batch
(describing, plain questions, seeing then picking). Rows are drawn fresh from
`modomodo.pretrain.rows` as training goes: batch `s` is determined by (seed, s), so a run
is reproducible at a fixed thread count.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from modomodo.pretrain import rows as R

VOCAB_SIZE = 1024


@dataclass(frozen=True)
class ModelShape:
    hidden_size: int = 128
    num_layers: int = 3
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 256
    vision_hidden_size: int = 96
    vision_depth: int = 2
    vision_heads: int = 4
    vision_intermediate_size: int = 192


@dataclass(frozen=True)
class Recipe:
    seed: int = 0
    max_steps: int = 5000
    image_size: int = 112
    reading_steps: int = 0  # a first phase of text-only batches only (the lookup circuit forms here)
    two_option_steps: int = 0  # the first steps' option lists have 2 options (an easy start)
    text_loss: str = "answer"  # "all": text-only batches are also trained on their prompts' tokens
    text_fraction: float = 0.4  # share of the later steps that are text-only batches
    text_batch_size: int = 16
    image_batch_size: int = 16
    learning_rate: float = 2e-3
    warmup_steps: int = 100
    instructed: float = 0.5  # share of rows with the reasoning instruction
    text_kinds: dict[str, float] = field(
        default_factory=lambda: {"match": 0.45, "lookup": 0.25, "recall": 0.15, "copy": 0.15}
    )
    image_kinds: dict[str, float] = field(
        default_factory=lambda: {"describe": 0.35, "ask": 0.3, "bars": 0.1, "see_pick": 0.25}
    )
    shape: ModelShape = field(default_factory=ModelShape)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def build(recipe: Recipe):
    """The randomly initialised model and its processor (tokenizer trained on the text of the
    synthetic suite, every domain, and of the pretraining rows)."""
    from modomodo.data.synthetic import text_corpus
    from modomodo.tiny import build_tokenizer, build_vl_processor, tiny_vl_model
    from modomodo.train.models import template_phrases

    text = text_corpus(64, seed=0) + R.corpus(64, seed=0)
    tokenizer = build_tokenizer(text, vocab_size=VOCAB_SIZE, phrases=template_phrases())
    processor = build_vl_processor(tokenizer, image_size=recipe.image_size)
    model = tiny_vl_model(processor, seed=recipe.seed, **asdict(recipe.shape))
    return model, processor


def batch_rows(recipe: Recipe, step: int) -> list[R.Row]:
    """The rows of training step `step`."""
    rng = random.Random(f"pretrain-batch/{recipe.seed}/{step}")
    text = rng.random() < recipe.text_fraction or step < recipe.reading_steps
    weights = recipe.text_kinds if text else recipe.image_kinds
    n = recipe.text_batch_size if text else recipe.image_batch_size
    kinds = rng.choices(list(weights), weights=list(weights.values()), k=n)
    max_options = 2 if step < recipe.two_option_steps else 5
    return [
        R.row(
            k,
            step * 1000 + j,
            seed=recipe.seed,
            image_size=recipe.image_size,
            instructed=recipe.instructed,
            max_options=max_options,
        )
        for j, k in enumerate(kinds)
    ]


def batch_tensors(processor, recipe: Recipe, rows: Sequence[R.Row]) -> dict[str, Any]:
    """The model inputs of `rows`: the loss covers the completions, and with
    `text_loss="all"` a text-only batch's prompts as well (their option lists repeat words,
    which rewards attending back to them: the lookup circuit's first half)."""
    from modomodo.train.warmstart import collate

    batch = collate(processor, [r.as_dict() for r in rows])
    if recipe.text_loss == "all" and "pixel_values" not in batch:
        batch["labels"] = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    return batch


def lr_factor(recipe: Recipe, step: int) -> float:
    """Linear warm-up, then cosine decay to a tenth."""
    if step < recipe.warmup_steps:
        return (step + 1) / recipe.warmup_steps
    t = (step - recipe.warmup_steps) / max(1, recipe.max_steps - recipe.warmup_steps)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def train(
    model,
    processor,
    recipe: Recipe,
    *,
    max_seconds: float | None = None,
    stop_after: int | None = None,
    progress: bool = True,
    on_snapshot: Callable[[dict[str, Any]], None] | None = None,
    snapshot_every: int = 0,
) -> dict[str, Any]:
    """Train in place for `recipe.max_steps` steps (the schedule's length), or fewer: until
    `max_seconds` of wall time or `stop_after` steps (which reproduces a run stopped on time).
    Returns {steps, seconds, losses (every step's)}; every `snapshot_every` steps,
    `on_snapshot` is given the same so far (the model as it is after those steps)."""
    import torch
    from tqdm.auto import tqdm

    if recipe.text_loss not in ("answer", "all"):
        raise ValueError(f"text_loss={recipe.text_loss!r}: expected 'answer' or 'all'")
    torch.manual_seed(recipe.seed)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=recipe.learning_rate, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(recipe, s))
    losses: list[float] = []
    start = time.perf_counter()
    steps = 0
    bar = tqdm(range(recipe.max_steps), desc="pretrain", disable=not progress, dynamic_ncols=True)
    for step in bar:
        batch = batch_tensors(processor, recipe, batch_rows(recipe, step))
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        steps = step + 1
        if step % 20 == 0:
            bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
        if on_snapshot is not None and snapshot_every and steps % snapshot_every == 0:
            on_snapshot({"steps": steps, "seconds": time.perf_counter() - start, "losses": losses})
            model.train()
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
        if stop_after is not None and steps >= stop_after:
            break
    model.eval()
    return {"steps": steps, "seconds": time.perf_counter() - start, "losses": losses}


# -- probes --------------------------------------------------------------------------------------

# name: (kind, option form, instructed). Probe rows come from the `probe` split, never trained on.
PROBES: dict[str, tuple[str, str | None, bool]] = {
    "describe": ("describe", None, False),
    "ask": ("ask", None, False),
    "lookup": ("lookup", None, False),
    "match": ("match", None, False),
    "copy": ("copy", None, False),
    "lookup_new_form": ("lookup", R.PROBE_FORM, False),
    "see_pick_new_form": ("see_pick", R.PROBE_FORM, False),
    "instructed_lookup": ("lookup", None, True),
}

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)


def answer_of(text: str, instructed: bool) -> str | None:
    """The answer in a completion: inside the answer tags when instructed, else the text."""
    if not instructed:
        return text.strip()
    m = _ANSWER.search(text)
    return m.group(1).strip() if m else None


def _score(answer: str | None, row: R.Row) -> float:
    """Exact match; for a match row, the share of its asked words given the right label."""
    if row.kind != "match":
        return float(answer == row.answer)
    got = (answer or "").split(", ")
    gold = row.answer.split(", ")
    return sum(a == b for a, b in zip(got, gold)) / len(gold)


def probe(
    model,
    processor,
    *,
    n: int = 128,
    seed: int = 0,
    image_size: int = 112,
    names: Sequence[str] = tuple(PROBES),
) -> dict[str, Any]:
    """Greedy accuracy (exact match; per asked word for `match`) with its standard error on
    `n` fresh rows of each probe in `names`."""
    from modomodo.train.evaluate import generate_greedy

    out: dict[str, Any] = {}
    for name in names:
        kind, form, instructed = PROBES[name]
        rows = [
            R.row(
                kind,
                i,
                seed=seed,
                split="probe",
                image_size=image_size,
                instructed=float(instructed),
                form=form,
            )
            for i in range(n)
        ]
        dicts = [r.as_dict() for r in rows]
        texts = generate_greedy(model, processor, dicts, batch_size=64, max_new_tokens=40)
        hits = [_score(answer_of(t, instructed), r) for t, r in zip(texts, rows)]
        p = sum(hits) / n
        se = math.sqrt(sum((h - p) ** 2 for h in hits) / max(1, n - 1) / n)
        out[name] = {"acc": p, "se": se, "example": texts[0]}
    return out


def summarize(result: dict[str, Any]) -> str:
    return "  ".join(f"{k} {v['acc']:.2f}±{v['se']:.2f}" for k, v in result.items())


def recipe_from(overrides: Sequence[str]) -> Recipe:
    """A recipe from `key=value` strings (shape keys as `shape.hidden_size=192`)."""
    import json

    top: dict[str, Any] = {}
    shape: dict[str, Any] = {}
    fields = Recipe.__dataclass_fields__
    for item in overrides:
        key, _, value = item.partition("=")
        if key.startswith("shape."):
            shape[key[6:]] = int(value)
        elif key in fields:
            top[key] = json.loads(value)
        else:
            raise ValueError(f"recipe key {key!r}: expected one of {sorted(fields)} or shape.<field>")
    return Recipe(**top, shape=ModelShape(**shape))
