"""The papers' shipped recipes run, not only validate: `modomodo_qwen2vl_2b` (MoDoMoDo) on a tiny
random Qwen2-VL and `mixed_r1_qwen25vl` (Mixed-R1) on a tiny random Qwen2.5-VL, each on two CPU
processes under `accelerate launch`, with data in each source's real schema
(`paper_fixtures`), then `modomodo-eval` on the seven evaluation specs.

Only what a GPU-less machine must change is overridden: the model path, the data sources, step
counts, `use_vllm false`, `bf16 false`, and generation lengths (a random model never stops, and
1,024 new tokens per completion would cost minutes here). Everything else is the recipe:
batch sizes, generations per prompt, gradient accumulation, the frozen vision tower,
`on_exhausted: stop`, activation checkpointing, the KL term, the data engine.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from paper_fixtures import write_fixture
from safetensors.torch import load_file

MODOMODO_TRAIN = ["coco", "lisa", "geoqav", "sat", "scienceqa"]
MIXED_R1_TRAIN = [
    "mixed_r1_yesno",
    "mixed_r1_mcq",
    "mixed_r1_chart",
    "mixed_r1_grounding",
    "mixed_r1_caption",
]
EVAL = ["lisa_test", "sat_test", "scienceqa_test", "chartqa", "infovqa", "mathvista", "mmmu"]
SHORT = ["--max_completion_length", "24", "--eval_max_new_tokens", "24", "--eval_batch_size", "8"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE", HF_HUB_OFFLINE="1")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


def _launch_two(args: list[str]) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
        "-m", "modomodo.train.cli", *args,
    ]  # fmt: skip
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=1200)


def _save_tiny(folder: Path, architecture: str) -> Path:
    from modomodo.tiny import build_vl_processor, tiny_qwen2vl_model, tiny_vl_model

    processor = build_vl_processor(architecture=architecture)
    build = tiny_qwen2vl_model if architecture == "qwen2_vl" else tiny_vl_model
    model = build(processor, seed=0)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _vision_weights(path: Path) -> dict:
    return {k: v for k, v in load_file(str(path / "model.safetensors")).items() if "visual" in k}


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def _eval_all_seven(model: Path, domains: list[dict], config: str, out: Path) -> dict:
    cmd = [str(Path(sys.executable).with_name("modomodo-eval"))]
    cmd += ["--model", str(model), "--config", config, "--output", str(out)]
    cmd += ["--eval_domains", yaml.safe_dump(domains, default_flow_style=True), *SHORT, "--bf16", "false"]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def _check_eval(result: dict) -> None:
    per = result["benchmarks"]
    assert sorted(per) == sorted(EVAL)
    for name, entry in per.items():
        assert entry["n"] == 4 and 0.0 <= entry["score"] <= 1.0, (name, entry)
    assert 0.0 <= result["in_score"] <= 1.0 and 0.0 <= result["out_score"] <= 1.0


@pytest.mark.slow
def test_modomodo_recipe_runs_on_a_tiny_qwen2vl_two_processes(tmp_path):
    model = _save_tiny(tmp_path / "model", "qwen2_vl")
    data = tmp_path / "data"
    # coco is the smallest: with `on_exhausted: stop` the run ends when it runs out.
    train = [write_fixture(name, data, 8 if name == "coco" else 16) for name in MODOMODO_TRAIN]
    evals = [write_fixture(name, data, 4) for name in EVAL]
    run = tmp_path / "run"
    proc = _launch_two(
        [
            "--config", "modomodo_qwen2vl_2b", "--output-dir", str(run), "--model", str(model),
            "--domains", yaml.safe_dump(train, default_flow_style=True),
            "--eval_domains", yaml.safe_dump(evals, default_flow_style=True),
            "--max_steps", "20", "--save_steps", "2", "--use_vllm", "false", "--bf16", "false", *SHORT,
        ]
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads((run / "summary.json").read_text())
    # Eight prompts a step (12 completions x 2 processes x 2 accumulation steps / 6 generations):
    # coco's 8 rows run out within a few steps, well before max_steps.
    assert 2 <= summary["steps"] < 20, summary["steps"]
    assert set(summary["per_domain"]) <= set(MODOMODO_TRAIN) and summary["per_domain"]
    rows = _metrics(run)
    assert any(k.startswith("domain/coco/") for row in rows for k in row), "no per-domain metrics logged"
    assert "vision tower frozen:" in proc.stderr
    assert "TRL's own loss" not in proc.stderr, "two processes should train on grpo_loss, not TRL's loss"
    before, after = _vision_weights(model), _vision_weights(run)
    assert before and before.keys() == after.keys()
    assert all((before[k] == after[k]).all() for k in before), "the vision tower changed: it should be frozen"
    _check_eval(summary["eval"])
    _check_eval(_eval_all_seven(run, evals, "modomodo_qwen2vl_2b", tmp_path / "eval.json"))


@pytest.mark.slow
def test_mixed_r1_recipe_runs_on_a_tiny_qwen25vl_two_processes_with_the_data_engine(tmp_path):
    model = _save_tiny(tmp_path / "model", "qwen2_5_vl")
    data = tmp_path / "data"
    train = [write_fixture(name, data, 8) for name in MIXED_R1_TRAIN]
    evals = [write_fixture(name, data, 4) for name in EVAL]
    run = tmp_path / "run"
    proc = _launch_two(
        [
            "--config", "mixed_r1_qwen25vl", "--output-dir", str(run), "--model", str(model),
            "--domains", yaml.safe_dump(train, default_flow_style=True),
            "--eval_domains", yaml.safe_dump(evals, default_flow_style=True),
            "--max_steps", "2", "--save_steps", "2", "--use_vllm", "false", "--bf16", "false", *SHORT,
        ]
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 2
    assert "TRL's own loss" not in proc.stderr, "two processes should train on grpo_loss, not TRL's loss"
    rows = _metrics(run)
    # The data engine ran: every step logs how many groups it kept and dropped.
    engine = [row for row in rows if "data_engine/kept" in row]
    assert len(engine) == 2, sorted(rows[-1])
    _check_eval(summary["eval"])
