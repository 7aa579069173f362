"""The shipped base model `tiny-base` and the script that makes it (scripts/pretrain_base.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modomodo.pretrain import rows as R
from modomodo.pretrain.train import answer_of
from modomodo.train.models import (
    HASH_FILE,
    TINY_BASE,
    WEIGHTS_FILE,
    check_tiny_base,
    load_pretrained,
    sha256_of,
    tiny_base_dir,
)

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "pretrain_base.py"


def _record() -> dict:
    return json.loads((tiny_base_dir() / "pretrain.json").read_text())


def test_shipped_weights_load_offline_and_match_their_recorded_hash():
    path = tiny_base_dir()
    recorded = (path / HASH_FILE).read_text().split()[0]
    assert sha256_of(path / WEIGHTS_FILE) == recorded == _record()["sha256"]
    assert recorded in (path / "MODEL_CARD.md").read_text()
    assert (path / WEIGHTS_FILE).stat().st_size <= 32 * 2**20

    model, processor = load_pretrained(TINY_BASE)
    assert sum(p.numel() for p in model.parameters()) == _record()["parameters"]
    # It reads its prompt and speaks: it copies a number or a name from a text it was not
    # trained on (probe split), and answers in the tag format when the instruction asks.
    from modomodo.train.evaluate import generate_greedy

    rows = [R.row("copy", i, split="probe", instructed=0.0) for i in range(32)]
    texts = generate_greedy(model, processor, [r.as_dict() for r in rows], batch_size=32, max_new_tokens=8)
    assert sum(t.strip() == r.answer for t, r in zip(texts, rows)) >= 16
    rows = [R.row("lookup", i, split="probe", instructed=1.0) for i in range(32)]
    texts = generate_greedy(model, processor, [r.as_dict() for r in rows], batch_size=32, max_new_tokens=24)
    assert sum(answer_of(t, instructed=True) is not None for t in texts) >= 28


def test_tiny_base_refuses_changed_or_missing_weights(tmp_path):
    copy = tmp_path / "tiny_base"
    shutil.copytree(tiny_base_dir(), copy)
    assert check_tiny_base(copy) == copy
    data = bytearray((copy / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 1
    (copy / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        check_tiny_base(copy)
    (copy / WEIGHTS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="tiny-base"):
        check_tiny_base(copy)


def test_pretraining_script_reproduces_the_recorded_first_losses(tmp_path):
    """The shipped weights' run recorded the loss of each of its first steps (1 thread); the
    script rerun from scratch on the recorded recipe for those steps gives the same losses."""
    record = _record()
    recorded = record["first_losses"]
    recipe = dict(record["recipe"])
    shape = recipe.pop("shape")
    overrides = [f"{k}={json.dumps(v)}" for k, v in recipe.items()]
    overrides += [f"shape.{k}={v}" for k, v in shape.items()]
    args = ["--output-dir", str(tmp_path / "out"), "--max-steps", str(len(recorded)), "--eval-rows", "0"]
    args += ["--probe-rows", "4", "--no-progress", "--seed", str(recipe["seed"]), "--threads", "1"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--set", *overrides], check=True, env=env, cwd=tmp_path
    )
    rerun = json.loads((tmp_path / "out" / "pretrain.json").read_text())
    assert rerun["first_losses"] == pytest.approx(recorded, abs=1e-4)
    # What the script writes loads as a model directory.
    model, _ = load_pretrained(str(tmp_path / "out"))
    assert model.config.to_dict()["text_config"]["hidden_size"] == shape["hidden_size"]


def test_pretraining_rows_never_ask_a_synthetic_suite_question():
    from modomodo.data.synthetic import DOMAINS, sample

    suite = {sample(d, i).question.split("\n")[0] for d in DOMAINS for i in range(300)}
    ours = {R.row(k, i).question.split("\n")[0] for k in R.KINDS for i in range(300)}
    assert ours and suite and not ours & suite


def test_see_pick_rows_avoid_the_attribute_domains_option_form():
    for i in range(200):
        question = R.row("see_pick", i).question
        assert "A. " not in question and "1. " not in question


def test_rows_are_determined_by_kind_split_seed_and_index():
    a, b = R.row("describe", 7, seed=3), R.row("describe", 7, seed=3)
    assert (a.question, a.answer, a.image.tobytes()) == (b.question, b.answer, b.image.tobytes())
    assert R.row("describe", 7, seed=3, split="probe").image.tobytes() != a.image.tobytes()
    with pytest.raises(ValueError, match="unknown pretraining row kind 'nope'"):
        R.row("nope", 0)
