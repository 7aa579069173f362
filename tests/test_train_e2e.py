"""modomodo-train end to end on a tiny configuration: summary, metrics, plot, evaluation,
console, warm-start cache, Ctrl-C and resume, modomodo-eval on the result."""

import contextlib
import io
import json
import os
import signal
from pathlib import Path

import pytest
import yaml

from modomodo.train import cli
from modomodo.train.config import load_config
from modomodo.train.run import read_jsonl, run

# Small enough for seconds per step on a shared CPU: two domains, 56-px images (4 image
# tokens), 2 prompts x 2 generations a step, 8-token completions. A 4-step warm start does
# not teach the format, so the captions are scored by BMAS alone (no format gate): their
# rewards vary within a group and the policy gets gradients.
TINY = {
    "domains": ["spatial", {"builtin": "caption", "rewards": [{"name": "bmas", "weight": 2.0}]}],
    "eval_domains": ["spatial_test", "multi_mc"],
    "train_size": 12,
    "eval_size": 4,
    "image_size": 56,
    "warmstart_steps": 4,
    "warmstart_batch_size": 8,
    "eval_batch_size": 8,
    "eval_max_new_tokens": 8,
    "max_steps": 3,
    "num_generations": 2,
    "per_device_train_batch_size": 4,
    "max_completion_length": 8,
    "learning_rate": 1e-3,
    "lr_scheduler_type": "constant",
    "logging_steps": 1,
    "save_steps": 2,
    "seed": 3,
    "bf16": False,
    "activation_checkpointing": False,
    "report_to": "none",
    "disable_tqdm": True,
}


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY, "warmstart_cache_dir": str(root / "cache")}))
    return path


@pytest.fixture(scope="module")
def finished_run(tiny_config):
    """The run as a person starts it (progress bars on); its console in console.txt beside it."""
    out = tiny_config.parent / "run"
    console = io.StringIO()
    with contextlib.redirect_stdout(console), contextlib.redirect_stderr(console):
        argv = ["--config", str(tiny_config), "--output-dir", str(out), "--disable_tqdm", "false"]
        assert cli.train_main(argv) == 0
    (tiny_config.parent / "console.txt").write_text(console.getvalue())
    return out


def test_summary_metrics_plot_and_eval(finished_run):
    out = finished_run
    s = json.loads((out / "summary.json").read_text())
    assert s["steps"] == 3 and s["interrupted"] is False
    assert set(s["reward"]) >= {"start", "end", "delta", "step_noise_std"}
    assert set(s["per_domain"]) <= {"spatial", "caption"} and s["per_domain"]
    assert sum(d.get("draws", 0) for d in s["per_domain"].values()) == 3 * 2  # 2 prompts a step
    ev = s["eval"]
    assert set(ev["benchmarks"]) == {"spatial_test", "multi_mc"}
    assert ev["benchmarks"]["spatial_test"]["role"] == "in" and ev["benchmarks"]["multi_mc"]["role"] == "out"
    assert ev["in_score"] == ev["benchmarks"]["spatial_test"]["score"]
    assert ev["out_score"] == ev["benchmarks"]["multi_mc"]["score"]
    assert set(ev["before"]) == {
        "benchmarks",
        "in_score",
        "out_score",
        "in_standard_error",
        "out_standard_error",
    }
    assert (out / "reward_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The trainer's per-step logs carry the per-domain metrics, in metrics.jsonl too.
    steps = [r for r in read_jsonl(out / "metrics.jsonl") if "reward" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    keys = set().union(*steps)
    for d in ("spatial", "caption"):
        if any(f"domain/{d}/draws" in r and r[f"domain/{d}/draws"] > 0 for r in steps):
            assert {f"domain/{d}/reward", f"domain/{d}/zero_std_frac"} <= keys
    assert any(k.startswith("routed/") and k.count("/") == 2 for k in keys)  # mean per reward function
    assert "routed/spatial/format" in keys  # the format pass rate of the domain whose rewards list it
    assert not any(k.startswith("routed/") and k.count("/") == 1 for k in keys)  # that is domain/<d>/reward
    # Draws: each generation batch lists its groups' domains and the rows of the one process.
    draws = read_jsonl(out / "draws.jsonl")
    assert len(draws) == 3 and all(len(d["domains"]) == 2 and len(d["rows"]["0"]) == 4 for d in draws)
    assert s["warm_start"]["steps"] == 4


def test_every_score_has_its_error_and_the_change_is_paired_over_the_rows(finished_run):
    import numpy as np

    ev = json.loads((finished_run / "summary.json").read_text())["eval"]
    before, after = (
        read_jsonl(finished_run / "eval_before.jsonl"),
        read_jsonl(finished_run / "eval_after.jsonl"),
    )
    assert [(r["benchmark"], r["row"]) for r in before] == [(r["benchmark"], r["row"]) for r in after]
    assert {"benchmark", "row", "score", "completion", "solution"} <= set(after[0])
    for name, block in (("before", ev["before"]), ("after", ev)):
        rows = before if name == "before" else after
        for b, score in block["benchmarks"].items():
            values = [r["score"] for r in rows if r["benchmark"] == b]
            assert score["n"] == len(values) == 4
            assert score["score"] == pytest.approx(np.mean(values))
            assert score["standard_error"] == pytest.approx(np.std(values, ddof=1) / 2)
        # One benchmark per role: its error is the role's.
        assert block["in_standard_error"] == pytest.approx(
            block["benchmarks"]["spatial_test"]["standard_error"]
        )
    change = ev["change"]
    assert change["resamples"] == 2000 and set(change["benchmarks"]) == {"spatial_test", "multi_mc"}
    for b, c in change["benchmarks"].items():
        assert c["delta"] == pytest.approx(
            ev["benchmarks"][b]["score"] - ev["before"]["benchmarks"][b]["score"]
        )
        assert c["standard_error"] >= 0
    assert change["in_score"] == change["benchmarks"]["spatial_test"]
    assert change["out_score"] == change["benchmarks"]["multi_mc"]
    # The first completions are still kept in eval_before.json for a look.
    kept = json.loads((finished_run / "eval_before.json").read_text())["benchmarks"]["multi_mc"]["examples"]
    assert [k["completion"] for k in kept] == [
        r["completion"] for r in before if r["benchmark"] == "multi_mc"
    ][:3]


def test_the_console_shows_the_bar_and_ends_with_a_human_summary(finished_run, tiny_config):
    text = (tiny_config.parent / "console.txt").read_text()
    assert "3/3" in text  # the training progress bar reached its end
    # No metric dict of TRL's (they are in metrics.jsonl), no raw JSON.
    assert "'reward'" not in text and "'loss'" not in text and "train_runtime" not in text
    assert '"steps"' not in text
    tail = text[text.index("3 GRPO steps") :].splitlines()
    assert tail[0].endswith(f"results in {finished_run}")
    assert tail[1] == f"plot: {finished_run / 'reward_curves.png'}"
    ev = json.loads((finished_run / "summary.json").read_text())["eval"]
    (out_line,) = [line for line in tail if line.startswith("Out-Score")]
    assert (
        f"{ev['before']['out_score']:.3f}" in out_line
        and f"{ev['change']['out_score']['delta']:+.3f}" in out_line
    )


def test_warm_start_is_cached(tiny_config, finished_run, capsys):
    out = tiny_config.parent / "run2"
    cfg = load_config(tiny_config, ["--output-dir", str(out), "--max_steps", "1", "--eval", "false"])
    s = run(cfg)
    # Without progress bars (disable_tqdm), the metric dicts are not printed either.
    assert "'reward'" not in capsys.readouterr().out
    first = json.loads((finished_run / "summary.json").read_text())["warm_start"]
    assert s["warm_start"]["cached"] is True and first["cached"] is False
    assert s["warm_start"]["key"] == first["key"]


def test_modomodo_eval_reproduces_the_final_scores(finished_run, tiny_config, tmp_path):
    target = tmp_path / "eval.json"
    assert (
        cli.eval_main(["--model", str(finished_run), "--config", str(tiny_config), "--output", str(target)])
        == 0
    )
    result = json.loads(target.read_text())
    after = json.loads((finished_run / "summary.json").read_text())["eval"]
    # Greedy decoding of the saved model gives the scores measured at the end of the run.
    assert result["in_score"] == pytest.approx(after["in_score"])
    assert result["out_score"] == pytest.approx(after["out_score"])
    assert {k: v["n"] for k, v in result["benchmarks"].items()} == {"spatial_test": 4, "multi_mc": 4}


class _CtrlC:
    """Sends the process a real SIGINT at the start of step `at` (0-based)."""

    def __init__(self, at: int):
        from transformers import TrainerCallback

        at_step = at

        class CB(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                if state.global_step == at_step:
                    os.kill(os.getpid(), signal.SIGINT)

        self.callback = CB()


def test_ctrl_c_then_resume_continues_the_same_stream(tiny_config, finished_run):
    out = tiny_config.parent / "resumed"
    argv = ["--output-dir", str(out), "--eval", "false"]
    cfg = load_config(tiny_config, argv)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, callbacks=[_CtrlC(at=1).callback])
    # The step under way finished, then a checkpoint and the metrics were saved.
    assert (out / "checkpoint-2" / "modomodo_state.json").exists()
    partial = json.loads((out / "summary.json").read_text())
    assert partial["interrupted"] is True and partial["steps"] == 2
    # A new run in that directory is refused; --resume continues it.
    with pytest.raises(ValueError, match="holds another run"):
        load_config(tiny_config, argv)
    run(load_config(tiny_config, [*argv, "--resume"]))

    ref = [r for r in read_jsonl(finished_run / "metrics.jsonl") if "loss" in r]
    got = [r for r in read_jsonl(out / "metrics.jsonl") if "loss" in r]
    assert [r["step"] for r in got] == [1, 2, 3]
    # Same sampler stream: the domains and rows of every generation batch match the
    # uninterrupted run, and on CPU with fixed seeds so do the logged losses and rewards.
    ref_draws, got_draws = read_jsonl(finished_run / "draws.jsonl"), read_jsonl(out / "draws.jsonl")
    assert [d["domains"] for d in got_draws] == [d["domains"] for d in ref_draws]
    assert [d["rows"] for d in got_draws] == [d["rows"] for d in ref_draws]
    # (A GRPO loss is ~0 on-policy; the gradient norm and rewards carry the weights' state.)
    assert any(r["grad_norm"] > 0 for r in ref)
    for a, b in zip(ref, got):
        assert b["loss"] == pytest.approx(a["loss"], abs=1e-6)
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-5)
        assert b["reward"] == pytest.approx(a["reward"], abs=1e-6)
    final = json.loads((out / "summary.json").read_text())
    assert final["steps"] == 3 and final["interrupted"] is False
    ref_draw_counts = {
        d: v.get("draws")
        for d, v in json.loads((finished_run / "summary.json").read_text())["per_domain"].items()
    }
    assert {d: v.get("draws") for d, v in final["per_domain"].items()} == ref_draw_counts


def test_vision_tower_stays_frozen(finished_run):
    from safetensors.torch import load_file
    from transformers import AutoModelForImageTextToText

    s = json.loads((finished_run / "summary.json").read_text())
    start = load_file(str(Path(s["warm_start"]["path"]) / "model.safetensors"))
    end = AutoModelForImageTextToText.from_pretrained(str(finished_run)).state_dict()
    visual = [k for k in end if k.startswith("model.visual.")]
    language = [k for k in end if k.startswith("model.language_model.layers.")]
    assert visual and language
    assert all(torch_equal(start[k], end[k]) for k in visual)
    assert not all(torch_equal(start[k], end[k]) for k in language)  # RL moved the language model


def torch_equal(a, b):
    import torch

    return a.shape == b.shape and torch.equal(a, b)


@pytest.mark.parametrize("backend", ["triton", "trl"])
def test_loss_backends_agree(tiny_config, finished_run, backend):
    """grpo_loss through Triton (interpreted on CPU) and TRL's own loss give the losses of the
    default (torch) backend on the same run."""
    out = tiny_config.parent / f"loss_{backend}"
    cfg = load_config(
        tiny_config,
        ["--output-dir", str(out), "--eval", "false", "--max_steps", "2", "--loss_backend", backend],
    )
    run(cfg)
    ref = [r["loss"] for r in read_jsonl(finished_run / "metrics.jsonl") if "loss" in r and "reward" in r][:2]
    got = [r["loss"] for r in read_jsonl(out / "metrics.jsonl") if "loss" in r and "reward" in r]
    assert got == pytest.approx(ref, abs=1e-5)
    ref_g = [r["grad_norm"] for r in read_jsonl(finished_run / "metrics.jsonl") if "reward" in r][:2]
    got_g = [r["grad_norm"] for r in read_jsonl(out / "metrics.jsonl") if "reward" in r]
    assert got_g == pytest.approx(ref_g, rel=1e-4) and min(ref_g) > 0
    if backend == "trl":
        assert json.loads((out / "summary.json").read_text())["loss_backend"] == "trl"


def test_kl_reference_for_a_locally_built_model(tiny_config):
    """With beta > 0, TRL needs a reference model it can load: the tiny model's starting
    weights are saved in DIR/reference_model and the KL is logged."""
    out = tiny_config.parent / "kl"
    run(
        load_config(
            tiny_config, ["--output-dir", str(out), "--eval", "false", "--max_steps", "2", "--beta", "0.04"]
        )
    )
    assert (out / "reference_model" / "config.json").exists()
    steps = [r for r in read_jsonl(out / "metrics.jsonl") if "reward" in r]
    assert len(steps) == 2 and all("kl" in r for r in steps)
    assert steps[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # the policy starts at the reference


def test_data_engine_counts_dropped_groups(tiny_config):
    out = tiny_config.parent / "engine"
    s = run(
        load_config(
            tiny_config,
            ["--output-dir", str(out), "--eval", "false", "--max_steps", "2", "--data_engine", "true"],
        )
    )
    counts = s["data_engine"]
    # Every group of every step is counted once: kept, or dropped as all correct / all wrong.
    assert counts["kept"] + counts["all_correct"] + counts["all_wrong"] == 2 * 2
    steps = [r for r in read_jsonl(out / "metrics.jsonl") if "reward" in r]
    assert all(
        {"data_engine/kept", "data_engine/all_wrong", "data_engine/all_correct"} <= set(r) for r in steps
    )
