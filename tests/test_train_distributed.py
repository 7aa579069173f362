"""Two CPU processes (gloo) under `accelerate launch`: the ranks draw disjoint shares of the one
global stream that a single process draws with the same global batch."""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modomodo.train.run import read_jsonl

TINY = {
    "domains": ["spatial", "attribute"],
    "eval_domains": ["spatial_test"],
    "train_size": 12,
    "eval_size": 2,
    "image_size": 56,
    "warmstart_steps": 2,
    "warmstart_batch_size": 4,
    "eval_batch_size": 4,
    "eval_max_new_tokens": 4,
    "max_steps": 2,
    "num_generations": 2,
    "max_completion_length": 6,
    "learning_rate": 1e-3,
    "logging_steps": 1,
    "save_steps": 100,
    "seed": 5,
    "bf16": False,
    "activation_checkpointing": False,
    "report_to": "none",
    "disable_tqdm": True,
    "use_cpu": True,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env():
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        OMP_WAIT_POLICY="PASSIVE",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


def _accelerate() -> str:
    exe = Path(sys.executable).with_name("accelerate")
    if not exe.exists():
        exe = shutil.which("accelerate")
    assert exe, "accelerate's launcher is not installed"
    return str(exe)


@pytest.mark.slow
def test_two_processes_draw_disjoint_shares_of_one_stream(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY, "warmstart_cache_dir": str(tmp_path / "cache")}))
    two, one = tmp_path / "two", tmp_path / "one"
    # Accelerate 1.15's `--cpu` launcher starts one process unless mpirun is set up; its
    # torch.distributed launcher (`--multi_gpu`) starts two, and `use_cpu` makes them gloo.
    cmd = [
        _accelerate(),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        "-m",
        "modomodo.train.cli",
        "--config",
        str(config),
        "--output-dir",
        str(two),
        "--per_device_train_batch_size",
        "4",
    ]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "TRL's own loss" in proc.stderr  # grpo_loss's mixin is single-process: auto falls back
    # One process with the same global batch (2 x 4 completions a step).
    cmd1 = [
        sys.executable,
        "-m",
        "modomodo.train.cli",
        "--config",
        str(config),
        "--output-dir",
        str(one),
        "--per_device_train_batch_size",
        "8",
        "--eval",
        "false",
    ]
    proc1 = subprocess.run(cmd1, env=_env(), capture_output=True, text=True, timeout=900)
    assert proc1.returncode == 0, proc1.stderr[-3000:]

    d2, d1 = read_jsonl(two / "draws.jsonl"), read_jsonl(one / "draws.jsonl")
    assert len(d2) == len(d1) == 2
    for a, b in zip(d2, d1):
        r0, r1 = a["rows"]["0"], a["rows"]["1"]
        assert len(r0) == len(r1) == 4
        # Whole groups on each rank (2 generations of one row), distinct rows across ranks,
        # and together exactly the single-process stream, in order.
        assert r0[0::2] == r0[1::2] and r1[0::2] == r1[1::2]
        assert not set(r0) & set(r1)
        assert r0 + r1 == b["rows"]["0"]
        assert a["domains"] == b["domains"]
    summary = json.loads((two / "summary.json").read_text())
    assert summary["steps"] == 2
    assert set(summary["eval"]["benchmarks"]) == {"spatial_test"}
    assert sum(d["draws"] for d in summary["per_domain"].values()) == 2 * 4  # 4 prompts a step in all
