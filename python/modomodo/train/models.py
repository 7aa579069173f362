"""The policy and its processor: the tiny Qwen2.5-VL built locally, the shipped base
model, or a pretrained one.

`tiny` builds everything from the run's own data, with no download: a byte-level BPE
tokenizer trained on the prompts and answers of the domains (the fixed instruction text
of the prompt templates as single tokens), Qwen2-VL's image processor sized to the
synthetic images, and a randomly initialised ~1M-parameter Qwen2.5-VL.

`tiny-base` is the base model that ships in the package (`modomodo/models/tiny_base/`):
pretrained by `scripts/pretrain_base.py` to see, read and speak in the synthetic world
(see its MODEL_CARD.md), loaded offline and checked against its recorded SHA-256.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Names of the vision tower in the VLM classes of transformers (Qwen2/2.5-VL: `visual`).
VISION_MODULES = ("visual", "vision_tower", "vision_model", "vision_encoder")
TINY_VOCAB = 1024
TINY_BASE = "tiny-base"  # the shipped base model of the synthetic world (scripts/pretrain_base.py)
WEIGHTS_FILE = "model.safetensors"
HASH_FILE = "model.safetensors.sha256"  # `sha256sum` format: the recorded hash of the weights
CORPUS_ROWS = 64  # rows per domain whose text trains the tiny tokenizer


def template_phrases() -> list[str]:
    """The fixed instruction text of modomodo's prompt templates, cut at the question and
    the tags: each piece becomes one token of the tiny tokenizer."""
    from modomodo.data.prompts import TEMPLATES

    out = set()
    for text in TEMPLATES.values():
        for part in re.split(r"\{question\}|<think>|</think>|<answer>|</answer>|\n", text):
            if len(part.strip()) > 3:
                out.add(part)
    return sorted(out)


def _prompt_text(prompt: Any) -> str:
    parts = []
    for message in prompt or []:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        else:
            parts += [c.get("text") or "" for c in content or [] if isinstance(c, dict)]
    return " ".join(parts)


def corpus_from(datasets: Iterable[Any], rows_per_domain: int = CORPUS_ROWS) -> list[str]:
    """Prompt text, gold answers and gold completions of the first rows of each dataset."""
    out: list[str] = []
    for ds in datasets:
        cols = set(ds.column_names)
        sub = ds.select_columns([c for c in ("prompt", "solution", "sft_completion") if c in cols])
        for row in sub.select(range(min(rows_per_domain, len(sub)))):
            out.append(_prompt_text(row.get("prompt")))
            for key in ("solution", "sft_completion"):
                if isinstance(row.get(key), str):
                    out.append(row[key])
    return out


def build_tiny(corpus: Sequence[str], *, image_size: int = 112, seed: int = 0):
    """The tiny Qwen2.5-VL and its processor, built from `corpus` (deterministic)."""
    from modomodo.tiny import build_tokenizer, build_vl_processor, tiny_vl_model

    tokenizer = build_tokenizer(corpus, vocab_size=TINY_VOCAB, phrases=template_phrases())
    processor = build_vl_processor(tokenizer, image_size=image_size)
    model = tiny_vl_model(processor, seed=seed)
    return model, processor


def tiny_base_dir() -> Path:
    """Where the shipped base model lives inside the package."""
    return Path(__file__).resolve().parent.parent / "models" / "tiny_base"


def check_tiny_base(path: Path) -> Path:
    """`path` if it holds the shipped base model whose weights match their recorded SHA-256;
    raises naming what is missing or different otherwise."""
    weights, record = path / WEIGHTS_FILE, path / HASH_FILE
    if not weights.is_file() or not record.is_file():
        raise FileNotFoundError(
            f"model {TINY_BASE!r}: the shipped weights are missing ({weights} and {record}); expected "
            "them in the installed package (they are made by scripts/pretrain_base.py)"
        )
    expected = record.read_text().split()[0]
    actual = sha256_of(weights)
    if actual != expected:
        raise ValueError(
            f"model {TINY_BASE!r}: {weights} has SHA-256 {actual}, expected {expected} (recorded in {record})"
        )
    return path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_pretrained(name_or_path: str, **model_kwargs: Any):
    """A vision-language model and its processor from a hub id or a local directory;
    `tiny-base` is the shipped base model (offline, hash-checked)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    if name_or_path == TINY_BASE:
        name_or_path = str(check_tiny_base(tiny_base_dir()))
    processor = AutoProcessor.from_pretrained(name_or_path, padding_side="left")
    model = AutoModelForImageTextToText.from_pretrained(name_or_path, **model_kwargs)
    return model, processor


def vision_tower(model) -> Any | None:
    """The vision encoder module of a VLM (None for a text-only model)."""
    for holder in (model, getattr(model, "model", None)):
        for name in VISION_MODULES:
            module = getattr(holder, name, None) if holder is not None else None
            if module is not None:
                return module
    return None


def freeze_vision(model) -> int:
    """Freeze the vision encoder (MoDoMoDo trains with it frozen); returns the number of
    parameters frozen. Raises if the model has no vision tower."""
    tower = vision_tower(model)
    if tower is None:
        raise ValueError(
            f"freeze_vision=true but {type(model).__name__} has no vision tower "
            f"(looked for attributes {list(VISION_MODULES)}); expected a vision-language model"
        )
    n = 0
    for p in tower.parameters():
        if p.requires_grad:
            p.requires_grad_(False)
            n += p.numel()
    return n
