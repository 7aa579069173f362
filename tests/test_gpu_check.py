"""scripts/gpu_check.sh on a machine without CUDA: it says so and succeeds (CI has no GPU)."""

import subprocess
import sys
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.sh"


def test_gpu_check_reports_no_cuda_and_exits_0():
    assert not torch.cuda.is_available(), "this test describes the CPU-only machine"
    out = subprocess.run(
        ["bash", str(SCRIPT)], env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "no CUDA device" in out.stdout


def test_gpu_check_refuses_a_python_without_modomodo(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    out = subprocess.run(
        ["bash", str(SCRIPT)], env={"PATH": "/usr/bin:/bin", "PYTHON": str(fake)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert "cannot import torch and modomodo" in out.stderr
