"""A short supervised warm start on gold completions, cached on disk.

A randomly initialised tiny model never emits `<think>…</think><answer>…</answer>`, so
GRPO would see all-zero rewards (the format gate zeroes everything) and learn nothing.
A few hundred supervised steps on the synthetic suite's gold completions (`sft_completion`)
teach the format and part of each task; RL then has groups with different rewards.

The result is cached under a key that hashes everything that determines it (the model's
config and initial weights, the tokenizer, the data, the optimiser settings and this file's
version), so a second run with the same settings loads it in a second.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Bump when the procedure changes in a way that changes its result.
WARMSTART_VERSION = 2


@dataclass(frozen=True)
class WarmStartSettings:
    steps: int = 300
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 0
    max_seconds: float | None = None  # stop early on a wall-clock budget (then not cached)


def default_cache_dir() -> Path:
    root = os.environ.get("MODOMODO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "modomodo"
    )
    return Path(root) / "warmstart"


def cache_key(model, processor, rows_fingerprint: str, settings: WarmStartSettings) -> str:
    """A hash of everything that determines the warm-started weights."""
    import torch

    h = hashlib.sha256()
    h.update(f"v{WARMSTART_VERSION}".encode())
    h.update(json.dumps(model.config.to_dict(), sort_keys=True, default=str).encode())
    # The initial weights: a digest of every parameter, in order.
    with torch.no_grad():
        for name, p in sorted(model.state_dict().items()):
            h.update(name.encode())
            h.update(p.detach().to(torch.float32).cpu().numpy().tobytes())
    tok = getattr(processor, "tokenizer", processor)
    h.update(json.dumps(sorted(tok.get_vocab().items())).encode())
    h.update((tok.chat_template or "").encode())
    image_processor = getattr(processor, "image_processor", None)
    if image_processor is not None:
        h.update(json.dumps(image_processor.to_dict(), sort_keys=True, default=str).encode())
    h.update(rows_fingerprint.encode())
    h.update(json.dumps(asdict(settings), sort_keys=True).encode())
    return h.hexdigest()[:20]


def _prompt_text(processor, prompt) -> str:
    return processor.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)


def collate(processor, rows: Sequence[dict[str, Any]]):
    """A right-padded batch whose labels cover the completion only (and its end-of-turn)."""
    import torch

    tok = processor.tokenizer
    prompts = [_prompt_text(processor, r["prompt"]) for r in rows]
    enc = processor(
        text=prompts,
        images=[r["image"] for r in rows] if any(r.get("image") is not None for r in rows) else None,
        padding=True,
        padding_side="left",
        return_tensors="pt",
    )
    ids, labels = [], []
    for i, r in enumerate(rows):
        keep = enc["attention_mask"][i].bool()
        p = enc["input_ids"][i][keep].tolist()
        c = tok(r["sft_completion"] + tok.eos_token + "\n", add_special_tokens=False)["input_ids"]
        ids.append(p + c)
        labels.append([-100] * len(p) + c)
    width = max(len(x) for x in ids)
    pad = tok.pad_token_id
    input_ids = torch.tensor([x + [pad] * (width - len(x)) for x in ids])
    attention_mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids])
    label_t = torch.tensor([y + [-100] * (width - len(y)) for y in labels])
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": label_t}
    for k, v in enc.items():
        if k not in ("input_ids", "attention_mask"):
            if k == "mm_token_type_ids":  # per-token: re-pad to the new width
                mm = torch.zeros_like(input_ids)
                for i in range(len(rows)):
                    keep = enc["attention_mask"][i].bool()
                    t = v[i][keep]
                    mm[i, : t.numel()] = t
                v = mm
            batch[k] = v
    return batch


def train_supervised(
    model, processor, rows: Sequence[dict[str, Any]], settings: WarmStartSettings, *, progress: bool = True
) -> dict[str, Any]:
    """Train `model` in place on `rows` (dicts with `image`, `prompt`, `sft_completion`)
    with AdamW: linear warm-up over the first 5 % of the steps, then cosine decay to a
    tenth of the learning rate. Returns {steps, seconds, loss_start, loss_end}."""
    import math

    import torch
    from tqdm.auto import tqdm

    if not rows:
        raise ValueError("warm start: no rows to train on")
    rng = random.Random(settings.seed)
    torch.manual_seed(settings.seed)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    warmup = max(1, settings.steps // 20)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, settings.steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    order: list[int] = []
    losses: list[float] = []
    start = time.perf_counter()
    bar = tqdm(range(settings.steps), desc="warm start (SFT)", disable=not progress, dynamic_ncols=True)
    step = 0
    for step in bar:
        if len(order) < settings.batch_size:
            more = list(range(len(rows)))
            rng.shuffle(more)
            order += more
        idx, order = order[: settings.batch_size], order[settings.batch_size :]
        batch = collate(processor, [rows[i] for i in idx])
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if step % 10 == 0:
            bar.set_postfix(loss=f"{sum(losses[-10:]) / len(losses[-10:]):.3f}")
        if settings.max_seconds is not None and time.perf_counter() - start > settings.max_seconds:
            break
    model.eval()
    k = min(10, len(losses))
    return {
        "steps": step + 1,
        "seconds": time.perf_counter() - start,
        "loss_start": sum(losses[:k]) / k,
        "loss_end": sum(losses[-k:]) / k,
    }
