"""Two CPU processes (gloo) under `accelerate launch`: the ranks draw disjoint shares of the one
global stream that a single process draws with the same global batch, and grpo_loss trains as
TRL's own loss does, step for step."""

import json
import os
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


@pytest.mark.slow
def test_two_processes_draw_disjoint_shares_of_one_stream(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY, "warmstart_cache_dir": str(tmp_path / "cache")}))
    two, one = tmp_path / "two", tmp_path / "one"
    # Accelerate 1.15's `--cpu` launcher starts one process unless mpirun is set up; its
    # torch.distributed launcher (`--multi_gpu`) starts two, and `use_cpu` makes them gloo.
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
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
    assert "TRL's own loss" not in proc.stderr  # auto: grpo_loss on two processes too
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


# Two processes, each holding 4 of the one group's 8 completions of a generation batch (the
# advantages need both ranks' rewards), split over two accumulation steps (steps_per_generation
# 2), each batch used twice (ratios clip), with the KL term.
TWO_PROCESSES = dict(
    per_device_train_batch_size=2, num_generations=8, gradient_accumulation_steps=2, num_iterations=2,
    max_steps=3,
)  # fmt: skip
TWO_PROCESS_CASES = {
    "dapo": ["torch", "triton", "torch+linear_logps"],
    "grpo": ["torch"],
    "dr_grpo": ["triton"],
}


@pytest.mark.slow
def test_grpo_loss_equals_trl_on_two_processes(tmp_path):
    """One launch, several runs: each loss type with TRL's loss and with grpo_loss backends."""
    from loss_runs import save_model
    from test_loss_trl import check_fused_runs

    model = save_model(tmp_path / "model")
    cases, names = [], []
    for loss_type, backends in TWO_PROCESS_CASES.items():
        for name in ["trl", *backends]:
            backend, _, linear = name.partition("+")
            cases.append(
                dict(loss_backend=backend, linear_logps=bool(linear), loss_type=loss_type, **TWO_PROCESSES)
            )
            names.append((loss_type, name))
    out = tmp_path / "runs" / "results.json"
    out.parent.mkdir()
    script = Path(__file__).with_name("loss_runs.py")
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(_free_port()), str(script), str(model), str(out), json.dumps(cases),
    ]  # fmt: skip
    env = dict(_env(), TRITON_INTERPRET="1", PYTHONPATH=str(script.parent))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert [r["world_size"] for r in results] == [2] * len(cases)
    for loss_type in TWO_PROCESS_CASES:
        runs = {name: r for (lt, name), r in zip(names, results) if lt == loss_type}
        figures = check_fused_runs(runs, micro_steps=3 * 2, linear_steps=2)
        print(loss_type, {n: {k: v for k, v in f.items() if v != (0.0, 0.0)} for n, f in figures.items()})
