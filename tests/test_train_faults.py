"""modomodo-train and modomodo-eval under bad input and faults (issue 18): a clear error
before any work, no silent change of meaning, resumes that keep each step once, a corrupt
checkpoint skipped for the newest valid one, one writer per run directory.

The fault-injection test at the end kills `modomodo-train` with SIGKILL at five points of
one run, resuming after each, and compares the result with an uninterrupted run."""

import json
import logging
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from modomodo.train import cli, rundir
from modomodo.train import run as run_module
from modomodo.train.config import ConfigError, dump, load_config
from modomodo.train.run import read_jsonl


@pytest.fixture
def no_model(monkeypatch):
    """Fail loudly if anything tries to build or load a model."""

    def boom(*args, **kwargs):
        raise AssertionError("a model was built although the input is invalid")

    monkeypatch.setattr(run_module, "build_model", boom)
    monkeypatch.setattr("modomodo.train.models.build_tiny", boom)
    monkeypatch.setattr("modomodo.train.models.load_pretrained", boom)


def _refused(tmp_path, capsys, argv, message, *, config=None):
    """`argv` is refused by load_config and by `modomodo-train --dry-run` (status 2)."""
    with pytest.raises(ConfigError, match=message):
        load_config(config, argv)
    assert cli.train_main([*(["--config", str(config)] if config else []), *argv, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "modomodo-train: error:" in err and "Traceback" not in err
    return err


def _dry_run_refused(capsys, argv, message):
    """`modomodo-train --dry-run` exits with status 2 and the message, no traceback."""
    assert cli.train_main([*argv, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "modomodo-train: error:" in err and "Traceback" not in err
    assert re.search(message, err), err
    return err


# -- typed TRL keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flag, value, message",
    [
        (
            "--learning_rate",
            "abc",
            r"'learning_rate' = 'abc' is invalid \(in the command line\); expected a number",
        ),
        ("--beta", "abc", r"'beta' = 'abc' is invalid .*expected a number"),
        ("--temperature", "abc", r"'temperature' = 'abc' is invalid .*expected a number"),
        ("--seed", "abc", r"'seed' = 'abc' is invalid .*expected an integer"),
        ("--learning_rate", "-1", r"'learning_rate' = -1.0 is invalid; expected a finite number > 0"),
        ("--learning_rate", "nan", r"'learning_rate' = 'nan' is invalid .*expected a number \(not NaN\)"),
        ("--learning_rate", "inf", r"'learning_rate' = inf is invalid; expected a finite number > 0"),
        ("--temperature", "0", r"'temperature' = 0.0 is invalid; expected a finite number > 0"),
        ("--beta", "-0.1", r"'beta' = -0.1 is invalid; expected a finite number >= 0"),
        ("--seed", "-3", r"'seed' = -3 is invalid; expected an integer >= 0"),
        ("--max_steps", "0", r"'max_steps' = 0 is invalid; expected a positive number of steps"),
        ("--lr_scheduler_type", "sideways", r"'lr_scheduler_type' = 'sideways' is invalid .*expected one of"),
        ("--use_vllm", "maybe", r"'use_vllm' = 'maybe' is invalid .*expected true or false"),
    ],
)
def test_trl_values_are_typed_before_any_model(tmp_path, capsys, no_model, flag, value, message):
    _refused(tmp_path, capsys, ["--output-dir", str(tmp_path / "o"), flag, value], message)


def test_yaml_values_are_typed_and_named_by_file(tmp_path, capsys, no_model):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("learning_rate: abc\n")
    _refused(
        tmp_path,
        capsys,
        ["--output-dir", str(tmp_path / "o")],
        r"'learning_rate' = 'abc' .*c\.yaml",
        config=cfg,
    )
    cfg.write_text("max_steps: [3]\n")
    _refused(
        tmp_path,
        capsys,
        ["--output-dir", str(tmp_path / "o")],
        r"'max_steps' = \[3\] .*expected an integer",
        config=cfg,
    )
    # A YAML 1.1 "1e-6" is a string to PyYAML; the float type reads it.
    cfg.write_text("learning_rate: 1e-6\nmax_steps: 5\n")
    loaded = load_config(cfg, ["--output-dir", str(tmp_path / "o")])
    assert loaded.grpo["learning_rate"] == 1e-6 and loaded.grpo["max_steps"] == 5


def test_help_lists_every_key_with_its_help(capsys):
    import dataclasses

    from trl import GRPOConfig

    assert cli.train_main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: modomodo-train [--config FILE.yaml|NAME]")
    for f in dataclasses.fields(GRPOConfig):
        if f.init:
            assert f"--{f.name} " in out or f"--{f.name}," in out or f"--{f.name}\n" in out, f.name
    assert "--weights" in out and "others: W" in out
    assert "The initial learning rate for AdamW." in out  # TRL's own help text


def test_non_utf8_config_names_the_file(tmp_path, capsys, no_model):
    cfg = tmp_path / "latin1.yaml"
    cfg.write_bytes("model: tiny  # café\n".encode("latin-1"))
    _refused(
        tmp_path,
        capsys,
        ["--output-dir", str(tmp_path / "o")],
        r"latin1\.yaml' is not UTF-8 text",
        config=cfg,
    )


# -- the output directory ---------------------------------------------------------------------


def test_output_dir_below_a_regular_file(tmp_path, capsys, no_model):
    (tmp_path / "file").write_text("x")
    err = _refused(
        tmp_path, capsys, ["--output-dir", str(tmp_path / "file" / "run")], r"expected a directory"
    )
    assert "is a file" in err


def _read_only(path: Path):
    """Make `path` read-only, for root too (immutable flag) where chmod is not enough."""
    path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    immutable = False
    try:
        (path / ".probe").touch()
    except OSError:
        return immutable
    (path / ".probe").unlink()
    immutable = subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    if not immutable:
        pytest.skip("cannot make a read-only directory here (root without chattr)")
    return immutable


def _writable(path: Path, immutable: bool):
    if immutable:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    path.chmod(stat.S_IRWXU)


def test_read_only_output_dir(tmp_path, capsys, no_model):
    ro = tmp_path / "ro"
    ro.mkdir()
    immutable = _read_only(ro)
    try:
        for out in (ro, ro / "run"):
            err = _refused(
                tmp_path, capsys, ["--output-dir", str(out)], r"expected a directory this process can write"
            )
            assert str(ro) in err
    finally:
        _writable(ro, immutable)


def test_partial_weights_need_others(tmp_path, no_model):
    argv = ["--output-dir", str(tmp_path / "o")]
    with pytest.raises(
        ConfigError, match=r"gives no weight to training domain\(s\) \['geometry', .*'others: 0'"
    ):
        load_config(None, [*argv, "--weights", "{detect: 1, ground: 2}"])
    cfg = load_config(None, [*argv, "--weights", "{detect: 1, ground: 2, others: 0}"])
    w = cfg.mixture_weights()
    assert w["detect"] == 1.0 and w["ground"] == 2.0 and len(w) == 8
    assert {v for k, v in w.items() if k not in ("detect", "ground")} == {0.0}
    assert load_config(None, [*argv, "--weights", "{detect: 3, others: 1}"]).mixture_weights()["chart"] == 1.0


def test_overwrite_removes_the_old_runs_outputs(tmp_path, no_model):
    out = tmp_path / "o"
    out.mkdir()
    old = [
        "summary.json",
        "metrics.jsonl",
        "draws.jsonl",
        "eval.json",
        "eval_before.json",
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "history.jsonl",
        "reward_curves.png",
    ]
    for name in old:
        (out / name).write_text("old")
    (out / "checkpoint-4").mkdir()
    (out / "notes.txt").write_text("mine")
    cfg = load_config(None, ["--output-dir", str(out), "--overwrite"])
    with rundir.run_lock(out):
        rundir.start(cfg)
    left = sorted(p.name for p in out.iterdir())
    assert left == [".lock", "history.jsonl", "notes.txt", "run_config.yaml"]
    history = read_jsonl(out / "history.jsonl")
    assert history[0]["event"] == "start" and "eval.json" in history[0]["overwrite"]


def test_one_writer_per_run_directory(tmp_path):
    out = tmp_path / "o"
    with rundir.run_lock(out):
        with pytest.raises(ConfigError, match=rf"is in use by another modomodo-train \(pid {os.getpid()}\)"):
            with rundir.run_lock(out):
                pass
        # Another process meets the same lock.
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from modomodo.train import rundir\n"
                "try:\n with rundir.run_lock(__import__('pathlib').Path(sys.argv[1])): pass\n"
                "except Exception as e: print(e); sys.exit(3)",
                str(out),
            ],
            capture_output=True,
            text=True,
        )
        assert probe.returncode == 3 and "in use" in probe.stdout
    with rundir.run_lock(out):  # released
        pass


# -- resume ---------------------------------------------------------------------------------


def _checkpoint(folder: Path, step: int) -> Path:
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    (folder / "modomodo_state.json").write_text("{}")
    save_file({"w": torch.arange(64, dtype=torch.float32)}, str(folder / "model.safetensors"))
    torch.save({"state": torch.ones(64)}, folder / "optimizer.pt")
    return folder


def _truncate(path: Path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CORRUPTIONS = {
    "truncated weights": lambda f: _truncate(f / "model.safetensors"),
    "truncated optimizer": lambda f: _truncate(f / "optimizer.pt"),
    "bad state file": lambda f: (f / "modomodo_state.json").write_text('{"domain_dr'),
    "missing trainer state": lambda f: (f / "trainer_state.json").unlink(),
    "empty": lambda f: [p.unlink() for p in f.iterdir()],
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_corrupt_newest_checkpoint_is_skipped(tmp_path, caplog, kind):
    out = tmp_path / "o"
    cfg = load_config(None, ["--output-dir", str(out)])
    out.mkdir()
    (out / "run_config.yaml").write_text(dump(cfg))
    _checkpoint(out / "checkpoint-2", 2)
    CORRUPTIONS[kind](_checkpoint(out / "checkpoint-4", 4))
    assert rundir.checkpoint_problem(out / "checkpoint-4") is not None
    # Logs written past the checkpoint used, and a line torn by the crash.
    (out / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s, "loss": 0.1 * s}) + "\n" for s in range(1, 6)) + '{"st'
    )
    (out / "draws.jsonl").write_text(
        "".join(json.dumps({"step": s, "domains": ["a"]}) + "\n" for s in range(5))
    )
    resumed = load_config(None, ["--output-dir", str(out), "--resume"])
    with caplog.at_level(logging.WARNING, logger="modomodo.train"), rundir.run_lock(out):
        checkpoint = rundir.start(resumed)
    assert checkpoint == out / "checkpoint-2"
    assert "skipping checkpoint-4" in caplog.text and "resuming from checkpoint-2" in caplog.text
    assert not (out / "checkpoint-4").exists() and len(list((out / "corrupt").iterdir())) == 1
    assert [r["step"] for r in read_jsonl(out / "metrics.jsonl")] == [1, 2]
    assert [r["step"] for r in read_jsonl(out / "draws.jsonl")] == [
        0,
        1,
    ]  # drawn at steps 0, 1 for steps 1, 2


def test_no_valid_checkpoint_is_a_clear_error(tmp_path, capsys, no_model):
    out = tmp_path / "o"
    cfg = load_config(None, ["--output-dir", str(out)])
    out.mkdir()
    (out / "run_config.yaml").write_text(dump(cfg))
    (out / "checkpoint-3").mkdir()
    argv = ["--output-dir", str(out), "--resume"]
    err = _dry_run_refused(capsys, argv, r"no valid checkpoint .*checkpoint-3: no trainer_state.json")
    assert err.count("checkpoint-3") == 1
    with pytest.raises(ConfigError, match="no valid checkpoint"), rundir.run_lock(out):
        rundir.start(load_config(None, argv))


def test_resume_with_a_changed_config(tmp_path, capsys, no_model):
    out = tmp_path / "o"
    argv = ["--output-dir", str(out), "--learning_rate", "1e-4", "--weights", "{detect: 1, others: 1}"]
    cfg = load_config(None, argv)
    out.mkdir()
    original = dump(cfg)
    (out / "run_config.yaml").write_text(original)
    _checkpoint(out / "checkpoint-2", 2)
    # The same config (flags in another order, the default given explicitly) resumes.
    same = load_config(None, [*argv[2:], "--output-dir", str(out), "--resume", "--beta", "0.04"])
    assert rundir.check_resume(same)[2] == {}
    changed = [
        "--output-dir",
        str(out),
        "--resume",
        "--learning_rate",
        "2e-4",
        "--weights",
        "{detect: 2, others: 1}",
    ]
    err = _dry_run_refused(
        capsys, changed, r"the config differs from the run's .*learning_rate: 0.0001 -> 0.0002"
    )
    with pytest.raises(ConfigError, match="the config differs"), rundir.run_lock(out):
        rundir.start(load_config(None, changed))
    assert "weights" in err and "--allow-config-change" in err
    allowed = load_config(None, [*changed, "--allow-config-change"])
    with rundir.run_lock(out):
        assert rundir.start(allowed) == out / "checkpoint-2"
    assert (out / "run_config.yaml").read_text() == original  # the original config is kept
    event = read_jsonl(out / "history.jsonl")[-1]
    assert event["event"] == "resume" and event["checkpoint"] == "checkpoint-2"
    assert event["changed"]["learning_rate"] == [0.0001, 0.0002]
    assert set(event["changed"]) == {"learning_rate", "weights"}
    with pytest.raises(ConfigError, match="'allow_config_change' is set without 'resume'"):
        load_config(None, ["--output-dir", str(tmp_path / "p"), "--allow-config-change"])


# -- modomodo-eval --------------------------------------------------------------------------


def _eval_refused(capsys, argv, message):
    assert cli.eval_main(argv) == 2
    err = capsys.readouterr().err
    assert "modomodo-eval: error:" in err and "Traceback" not in err
    assert re.search(message, err), err


def test_eval_model_must_be_a_model(tmp_path, capsys, no_model):
    out = str(tmp_path / "e.json")
    (tmp_path / "notamodel").mkdir()
    _eval_refused(
        capsys,
        ["--model", str(tmp_path / "notamodel"), "--output", out],
        r"is not a model directory \(no config.json",
    )
    _eval_refused(capsys, ["--model", str(tmp_path / "missing"), "--output", out], r"no such directory")
    _eval_refused(capsys, ["--model", "runs/x/s3", "--output", out], r"'runs/x/s3': no such directory")


def test_eval_output_checked_before_evaluating(tmp_path, capsys, no_model):
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text("{}")
    _eval_refused(
        capsys, ["--model", str(model), "--output", str(tmp_path)], r"is a directory; expected a JSON file"
    )
    ro = tmp_path / "ro"
    ro.mkdir()
    immutable = _read_only(ro)
    try:
        _eval_refused(capsys, ["--model", str(model), "--output", str(ro / "e.json")], r"can write")
    finally:
        _writable(ro, immutable)


# -- SIGKILL at five points, then --resume ------------------------------------------------------

# Tiny and fast: two domains, 56-px images, 2 prompts x 2 generations, 8-token completions, no
# warm start (BMAS on the captions gives rewards that vary within a group, so the weights move).
FAULT_RUN = {
    "domains": ["spatial", {"builtin": "caption", "rewards": [{"name": "bmas", "weight": 2.0}]}],
    "eval_domains": ["spatial_test"],
    "train_size": 12,
    "eval_size": 4,
    "image_size": 56,
    "eval_batch_size": 4,
    "eval_max_new_tokens": 8,
    "plot": False,
    "max_steps": 5,
    "num_generations": 2,
    "per_device_train_batch_size": 4,
    "max_completion_length": 8,
    "learning_rate": 1e-3,
    "lr_scheduler_type": "constant",
    "logging_steps": 1,
    "save_steps": 2,
    "seed": 5,
    "bf16": False,
    "activation_checkpointing": False,
    "report_to": "none",
    "disable_tqdm": True,
}

# Run modomodo-train with a fault: SIGKILL at a point named on the command line.
DRIVER = r"""
import os, signal, sys
from pathlib import Path
import transformers
from transformers.trainer_callback import CallbackHandler

point, argv = sys.argv[1], sys.argv[2:]
out = Path(argv[argv.index("--output-dir") + 1]).resolve()

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def after(event, step):
    original = getattr(CallbackHandler, event)
    def hook(self, args, state, control, *a, **k):
        result = original(self, args, state, control, *a, **k)
        if state.global_step == step:
            die()
        return result
    setattr(CallbackHandler, event, hook)

if point == "log-3":  # step 3 logged, its checkpoint never written
    after("on_log", 3)
elif point == "on-step-end-5":  # step 5 trained and its draws recorded, nothing logged
    after("on_step_end", 5)
elif point == "on-save-4":  # checkpoint-4 complete
    after("on_save", 4)
elif point == "mid-checkpoint-4":  # checkpoint-4 has its weights, no optimizer or trainer state
    original = transformers.Trainer._save_optimizer_and_scheduler
    def save(self, output_dir):
        if self.state.global_step == 4:
            die()
        return original(self, output_dir)
    transformers.Trainer._save_optimizer_and_scheduler = save
elif point == "final-save":  # training done, the final model being saved
    original = transformers.Trainer.save_model
    def save_model(self, output_dir=None, _internal_call=False):
        if output_dir is not None and Path(output_dir).resolve() == out:
            die()
        return original(self, output_dir, _internal_call)
    transformers.Trainer.save_model = save_model

from modomodo.train.cli import train_main
sys.exit(train_main(argv))
"""

KILLS = ["log-3", "mid-checkpoint-4", "on-save-4", "on-step-end-5", "final-save"]
TIMING = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "step_time")


def _train(config: Path, out: Path, point: str, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    argv = ["--config", str(config), "--output-dir", str(out), *extra]
    return subprocess.run(
        [sys.executable, "-c", DRIVER, point, *argv], capture_output=True, text=True, env=env, timeout=600
    )


def _steps(path: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in read_jsonl(path) if "loss" in r]


def test_sigkill_at_five_points_then_resume_equals_an_uninterrupted_run(tmp_path):
    config = tmp_path / "fault.yaml"
    config.write_text(yaml.safe_dump(FAULT_RUN))
    ref, out = tmp_path / "reference", tmp_path / "killed"
    done = _train(config, ref, "none")
    assert done.returncode == 0, done.stderr[-3000:]

    for i, point in enumerate(KILLS):
        killed = _train(config, out, point, *(["--resume"] if i else []))
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr[-3000:])
        assert not (out / "summary.json").exists()  # never a half-written summary either
    resumed = _train(config, out, "none", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    # Each step once in the logs, with the values of the uninterrupted run.
    assert [r["step"] for r in _steps(out / "metrics.jsonl")] == [1, 2, 3, 4, 5]
    assert _steps(out / "metrics.jsonl") == _steps(ref / "metrics.jsonl")
    assert read_jsonl(out / "draws.jsonl") == read_jsonl(ref / "draws.jsonl")
    # The same final weights, bit for bit, and the same summary (timings aside).
    a, b = load_file(str(ref / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(r["grad_norm"] > 0 for r in _steps(ref / "metrics.jsonl"))  # the weights did move
    summary = [json.loads((d / "summary.json").read_text()) for d in (ref, out)]
    for s in summary:
        s.pop("seconds")
    assert summary[0] == summary[1] and summary[1]["steps"] == 5 and summary[1]["interrupted"] is False
    history = read_jsonl(out / "history.jsonl")
    assert [e["event"] for e in history] == ["start"] + ["resume"] * len(KILLS)
    assert [e["checkpoint"] for e in history[1:]] == [
        "checkpoint-2",
        "checkpoint-2",
        "checkpoint-4",
        "checkpoint-4",
        "checkpoint-5",  # the final one: no step trained after it
    ]
