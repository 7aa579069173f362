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


def _run_script(out: Path, steps: int, recipe: dict, *extra: str) -> dict:
    """Run the pretraining script for `steps` steps of `recipe` (1 thread); its record."""
    recipe = dict(recipe)
    shape = recipe.pop("shape")
    overrides = [f"{k}={json.dumps(v)}" for k, v in recipe.items()]
    overrides += [f"shape.{k}={v}" for k, v in shape.items()]
    args = ["--output-dir", str(out), "--max-steps", str(steps), "--eval-rows", "0", *extra]
    args += ["--probe-rows", "4", "--no-progress", "--seed", str(recipe["seed"]), "--threads", "1"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--set", *overrides], check=True, env=env, cwd=out.parent
    )
    return json.loads((out / "pretrain.json").read_text())


def test_pretraining_script_reproduces_the_recorded_first_losses(tmp_path):
    """The shipped weights' first stage (the run from scratch) recorded the loss of each of
    its first steps (1 thread); the script rerun from scratch on that stage's recipe for those
    steps gives the same losses."""
    stage = _record()
    while stage.get("init") is not None:
        stage = stage["init"]
    recorded = stage["first_losses"]
    rerun = _run_script(tmp_path / "out", len(recorded), stage["recipe"])
    assert rerun["first_losses"] == pytest.approx(recorded, abs=1e-4)
    # What the script writes loads as a model directory.
    model, _ = load_pretrained(str(tmp_path / "out"))
    assert model.config.to_dict()["text_config"]["hidden_size"] == stage["recipe"]["shape"]["hidden_size"]


def test_a_continued_stage_records_the_stage_it_starts_from(tmp_path):
    from modomodo.pretrain.train import Recipe

    first = _run_script(tmp_path / "stage1", 2, Recipe().to_json())
    later = dict(Recipe().to_json(), reading_steps=2, two_option_steps=1, text_loss="all")
    snapshots = ["--snapshot-every", "3", "--snapshot-probe-rows", "2", "--snapshot-probes", "lookup"]
    second = _run_script(tmp_path / "stage2", 3, later, "--init-from", str(tmp_path / "stage1"), *snapshots)
    assert second["init"]["sha256"] == first["sha256"] != second["sha256"]
    # A snapshot is the model as it is after its steps: the last one is the final model.
    snapshot = json.loads((tmp_path / "stage2" / "snapshots" / "3" / "pretrain.json").read_text())
    assert snapshot["sha256"] == second["sha256"] and list(snapshot["probes"]) == ["lookup"]
    assert second["init"]["first_losses"] == first["first_losses"]
    card = (tmp_path / "stage2" / "MODEL_CARD.md").read_text()
    assert "--output-dir stage1 --eval-rows 0 && " in card and "--init-from stage1" in card
    with pytest.raises(subprocess.CalledProcessError):
        _run_script(tmp_path / "stage3", 1, later, "--init-from", str(tmp_path))


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


def test_max_options_caps_the_option_lists_of_the_text_kinds():
    def labels_used(kind: str, max_options: int) -> set[str]:
        out: set[str] = set()
        for i in range(100):
            r = R.row(kind, i, max_options=max_options)
            if kind == "lookup":
                out.add(r.answer)
            elif kind == "match":
                out |= {part.split(" is ")[1] for part in r.answer.split(", ")}
            else:
                out.add(r.question.split("What does option ")[1][0])
        return out

    for kind in R.LIST_KINDS:
        assert labels_used(kind, 2) <= set("AB12")
        assert labels_used(kind, 5) - set("AB12")
    assert R.row("lookup", 3).question == R.row("lookup", 3, max_options=5).question
    with pytest.raises(ValueError, match="max_options=6"):
        R.row("lookup", 0, max_options=6)


def test_text_loss_all_trains_text_batches_on_their_prompts_too():
    from modomodo.pretrain.train import Recipe, batch_rows, batch_tensors, build

    recipe = Recipe(max_steps=4, reading_steps=1, text_fraction=0.0, text_batch_size=2, image_batch_size=2)
    _, processor = build(recipe)
    text, image = batch_rows(recipe, 0), batch_rows(recipe, 1)
    assert all(r.image is None for r in text) and all(r.image is not None for r in image)
    for rows in (text, image):
        answer = batch_tensors(processor, recipe, rows)
        everything = batch_tensors(processor, Recipe(text_loss="all"), rows)
        trained, kept = (everything["labels"] != -100).sum(), (answer["labels"] != -100).sum()
        if rows is text:
            assert trained == answer["attention_mask"].sum() > kept
        else:
            assert trained == kept
