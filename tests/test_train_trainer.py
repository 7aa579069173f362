"""The trainer's own logic on hand-made batches: per-domain statistics and the data engine
(plain functions of `modomodo.train.domain_stats`), and the data engine's masking of one
process's rows."""

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from modomodo.train.domain_stats import (
    data_engine_keep,
    domain_metrics,
    draw_metrics,
    draws_per_domain,
    group_domains,
)
from modomodo.train.trainer import ModomodoGRPOTrainer


def test_per_domain_statistics():
    domains = ["a", "a", "b", "b", "a", "a"]  # three groups of 2: a, b, a
    rewards = torch.tensor([1.0, 3.0, 2.0, 2.0, math.nan, 0.0])
    m = domain_metrics(domains, rewards, 2)
    assert m["domain/a/reward"] == pytest.approx((1 + 3 + 0) / 3)  # NaN (unscorable) left out
    assert m["domain/b/reward"] == 2.0
    # Group b has equal rewards: zero variance; group a/1 has (NaN->0, 0): zero variance too.
    assert m["domain/a/zero_std_frac"] == 0.5 and m["domain/b/zero_std_frac"] == 1.0
    assert set(m) == {f"domain/{d}/{k}" for d in "ab" for k in ("reward", "zero_std_frac")}
    # A domain with nothing scorable has no reward, but its groups still count.
    m = domain_metrics(["c", "c"], torch.tensor([math.nan, math.nan]), 2)
    assert m == {"domain/c/zero_std_frac": 1.0}


def test_draws_count_each_group_once():
    domains = ["a", "a", "b", "b", "a", "a"]
    assert draws_per_domain(domains, 2) == {"a": 2, "b": 1}
    assert draws_per_domain(domains, 1) == {"a": 4, "b": 2}
    assert draw_metrics({"a": 2, "b": 0}) == {"domain/a/draws": 2.0, "domain/b/draws": 0.0}


def test_a_group_must_be_one_domain_and_whole():
    with pytest.raises(ValueError, match=r"group 1 mixes domains \['a', 'b'\]"):
        group_domains(["a", "a", "a", "b"], 2)
    with pytest.raises(ValueError, match="invalid group size 4: expected a divisor of the batch size 6"):
        group_domains(["a"] * 6, 4)


def test_data_engine_drops_all_correct_and_all_wrong_groups():
    # a all correct (3, 3) | a mixed (3, 0) | b all wrong (0, NaN) | b mixed (1, 0.5) | c (no max) 5, 5
    domains = ["a"] * 4 + ["b"] * 4 + ["c"] * 2
    rewards = torch.tensor([3.0, 3.0, 3.0, 0.0, 0.0, math.nan, 1.0, 0.5, 5.0, 5.0])
    keep, counts = data_engine_keep(domains, rewards, 2, {"a": 3.0, "b": 1.0})
    assert keep.tolist() == [False, True, False, True, True]
    assert counts == {"all_correct": 1, "all_wrong": 1, "kept": 3}


class FakeAccelerator:
    def __init__(self, rank=0):
        self.process_index = rank

    def gather(self, t):
        return t


def fake_trainer(max_reward, rank=0):
    return SimpleNamespace(
        domain_max_reward=dict(max_reward),
        data_engine_counts={"all_correct": 0, "all_wrong": 0, "kept": 0},
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        accelerator=FakeAccelerator(rank),
    )


@pytest.mark.parametrize("rank", [0, 1])
def test_data_engine_masks_the_rows_of_this_process(rank):
    t = fake_trainer({"a": 3.0, "b": 1.0}, rank=rank)
    # Global batch of 4 groups of 2 over two processes (2 groups = 4 rows each):
    # a all correct (3, 3) | a mixed (3, 0) | b all wrong (0, 0) | b mixed (1, 0.5)
    domains = ["a", "a", "a", "a", "b", "b", "b", "b"]
    rewards = torch.tensor([3.0, 3.0, 3.0, 0.0, 0.0, 0.0, 1.0, 0.5])
    mask = torch.ones(4, 5, dtype=torch.long)
    mask[:, 3:] = 0  # 3 tokens per completion
    batch = {"completion_mask": mask.clone(), "num_items_in_batch": torch.tensor(24)}
    ModomodoGRPOTrainer._drop_uninformative_groups(t, batch, domains, rewards, 2)
    # rank 0 holds the all-correct group, rank 1 the all-wrong one: both dropped.
    assert batch["completion_mask"].sum(dim=1).tolist() == [0, 0, 3, 3]
    assert int(batch["num_items_in_batch"]) == 6  # gather is the identity here: local tokens
    assert t.data_engine_counts == {"all_correct": 1, "all_wrong": 1, "kept": 2}
    assert t._metrics["train"]["data_engine/all_correct"] == [1.0]


def test_data_engine_never_leaves_a_zero_normaliser():
    t = fake_trainer({"a": 1.0})
    batch = {"completion_mask": torch.ones(4, 3, dtype=torch.long), "num_items_in_batch": torch.tensor(12)}
    ModomodoGRPOTrainer._drop_uninformative_groups(t, batch, ["a"] * 4, torch.tensor([0.0, 0.0, 1.0, 1.0]), 2)
    assert batch["completion_mask"].sum() == 0
    assert int(batch["num_items_in_batch"]) == 1
    assert t.data_engine_counts == {"all_correct": 1, "all_wrong": 1, "kept": 0}


# -- the trainer on a tiny model ------------------------------------------------------------


def text_dataset():
    from datasets import Dataset

    rows = [("a", i) for i in range(8)] + [("b", i) for i in range(6)]
    return Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": f"[{d}] question {i}"}] for d, i in rows],
            "solution": ["yes"] * len(rows),
            "domain": [d for d, _ in rows],
        }
    )


@pytest.mark.parametrize("loss_backend", ["torch", "trl"])
def test_a_few_steps_move_every_parameter_and_score_each_completion_once(tmp_path, monkeypatch, loss_backend):
    from trl import GRPOConfig

    import modomodo._core
    from modomodo.rewards.trl import routed
    from modomodo.tiny import build_tokenizer, tiny_text_model

    steps, prompts_per_step, group = 3, 2, 4
    spec = {
        "a": [{"name": "format"}, {"name": "accuracy", "weight": 2.0, "options": {"kind": "exact"}}],
        "b": [{"name": "accuracy"}],
    }
    scored: dict[str, list[int]] = defaultdict(list)  # reward function -> completions per call

    def counted(func, name):
        def reward(prompts, completions, **kwargs):
            scored[name].append(len(completions))
            return func(prompts, completions, **kwargs)

        reward.__name__ = name
        return reward

    def length(prompts, completions, **kwargs):  # varies within a group: the policy gets gradients
        return [float(len(c[0]["content"]) % 4) for c in completions]

    reward_funcs = [counted(routed(spec), "routed"), counted(length, "length")]
    # Every format check the rewards make goes through the Rust core.
    format_checked: list[str] = []
    rust_format = modomodo._core.format_reward

    def counted_format(texts, strict):
        format_checked.extend(texts)
        return rust_format(texts, strict)

    monkeypatch.setattr(modomodo._core, "format_reward", counted_format)

    tok = build_tokenizer()
    args = GRPOConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        max_steps=steps,
        per_device_train_batch_size=prompts_per_step * group,
        num_generations=group,
        max_completion_length=6,
        learning_rate=1e-2,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        seed=1,
    )
    trainer = ModomodoGRPOTrainer(
        model=tiny_text_model(tok, seed=0),
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=text_dataset(),
        processing_class=tok,
        mixture_weights={"a": 0.5, "b": 0.5},
        loss_backend=loss_backend,
    )
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    trainer.train()

    unchanged = [
        n for n, p in trainer.model.named_parameters() if p.requires_grad and torch.equal(p, before[n])
    ]
    assert before and not unchanged
    # Each reward function scored each step's completions once, and the only format checks are
    # routed's, one per completion of domain a (the one whose rewards list it).
    assert scored == {
        "routed": [prompts_per_step * group] * steps,
        "length": [prompts_per_step * group] * steps,
    }
    assert trainer.domain_draws["a"] > 0 and len(format_checked) == trainer.domain_draws["a"] * group
    assert sum(trainer.domain_draws.values()) == steps * prompts_per_step
    logs = [e for e in trainer.state.log_history if "loss" in e]
    assert len(logs) == steps
    for step, entry in enumerate(logs, start=1):
        assert entry["domain/a/draws"] + entry["domain/b/draws"] == step * prompts_per_step
        assert not any(key.startswith("mixture/") for key in entry)


def test_the_loss_backend_falls_back_to_trl_only_for_auto(tmp_path, caplog):
    from trl import GRPOConfig

    from modomodo.train.trainer import resolve_loss_backend

    def config(**kwargs):
        return GRPOConfig(
            output_dir=str(tmp_path), use_cpu=True, report_to="none", num_generations=2, **kwargs
        )

    plain = config(per_device_train_batch_size=4)
    assert [resolve_loss_backend(b, plain) for b in ("auto", "torch", "triton", "trl")] == [
        "auto",
        "torch",
        "triton",
        "trl",
    ]
    # Buffered generations are served; entropy masking and a bonus are not.
    buffered = config(per_device_train_batch_size=2, steps_per_generation=2)
    assert resolve_loss_backend("auto", buffered) == "auto"
    odd = config(per_device_train_batch_size=2, top_entropy_quantile=0.5, entropy_coef=0.1)
    with caplog.at_level("WARNING", logger="modomodo.train.trainer"):
        assert resolve_loss_backend("auto", odd) == "trl"
    assert "TRL's own loss (top_entropy_quantile=0.5" in caplog.text and "entropy_coef=0.1" in caplog.text
    assert resolve_loss_backend("trl", odd) == "trl"
    with pytest.raises(
        ValueError, match=r"loss_backend='torch' \(grpo_loss\) cannot run with top_entropy_quantile=0.5"
    ):
        resolve_loss_backend("torch", odd)
    cispo = config(per_device_train_batch_size=2, loss_type="cispo")
    assert resolve_loss_backend("torch", cispo) == "torch"
    with pytest.raises(ValueError, match=r"loss_type='cispo' with the Triton kernels"):
        resolve_loss_backend("triton", cispo)
    with pytest.raises(ValueError, match=r"invalid loss_backend 'cuda': expected one of \['trl', 'auto'"):
        resolve_loss_backend("cuda", plain)


def test_routed_leaves_the_per_domain_total_to_the_trainer_when_asked():
    from modomodo.rewards.trl import routed

    spec = {"a": [{"name": "format"}, {"name": "accuracy", "weight": 2.0, "options": {"kind": "exact"}}]}
    good = "<think>x</think><answer>yes</answer>"
    for log_totals, expected in (
        (True, {"routed/a", "routed/a/format", "routed/a/accuracy"}),
        (False, {"routed/a/format", "routed/a/accuracy"}),
    ):
        logged: dict[str, float] = {}
        scores = routed(spec, log_totals=log_totals)(
            [None, None],
            [good, "no"],
            domain=["a", "a"],
            solution=["yes", "yes"],
            log_metric=logged.__setitem__,
        )
        assert scores == [3.0, 0.0] and set(logged) == expected
        assert logged["routed/a/format"] == 0.5 and logged["routed/a/accuracy"] == 0.5
