"""The trainer's own logic, on hand-made batches: per-domain statistics and the data engine."""

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from modomodo.train.trainer import MultiDomainMixin


class FakeAccelerator:
    def __init__(self, rank=0, world=1):
        self.process_index = rank
        self.num_processes = world

    def gather(self, t):
        return t


def fake_trainer(max_reward, data_engine=True, rank=0):
    t = SimpleNamespace()
    t.domain_max_reward = dict(max_reward)
    t.data_engine = data_engine
    t.domain_draws = {d: 0 for d in max_reward}
    t.data_engine_counts = {"all_correct": 0, "all_wrong": 0, "kept": 0}
    t._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
    t.accelerator = FakeAccelerator(rank)
    return t


def test_per_domain_statistics():
    t = fake_trainer({"a": 3.0, "b": 3.0})
    domains = ["a", "a", "b", "b", "a", "a"]  # three groups of 2: a, b, a
    total = torch.tensor([1.0, 3.0, 2.0, 2.0, math.nan, 0.0])
    fmt = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    MultiDomainMixin._log_domain_stats(t, "train", domains, total, fmt, 2)
    m = t._metrics["train"]
    assert m["domain/a/reward"] == [pytest.approx((1 + 3 + 0) / 3)]  # NaN (unscorable) left out
    assert m["domain/b/reward"] == [2.0]
    assert m["domain/a/format_pass"] == [0.75] and m["domain/b/format_pass"] == [0.5]
    # Group b has equal rewards: zero variance; group a/1 has (NaN->0, 0): zero variance too.
    assert m["domain/a/zero_std_frac"] == [0.5] and m["domain/b/zero_std_frac"] == [1.0]
    assert m["domain/a/draws"] == [2.0] and m["domain/b/draws"] == [1.0]
    MultiDomainMixin._log_domain_stats(t, "train", ["b", "b"], torch.tensor([0.0, 1.0]), torch.ones(2), 2)
    assert m["domain/b/draws"] == [2.0]  # cumulative, latest value only
    assert t.domain_draws == {"a": 2, "b": 2}


@pytest.mark.parametrize("rank", [0, 1])
def test_data_engine_masks_all_correct_and_all_wrong_groups(rank):
    t = fake_trainer({"a": 3.0, "b": 1.0}, rank=rank)
    # Global batch of 4 groups of 2 over two processes (2 groups = 4 rows each):
    # a all correct (3, 3) | a mixed (3, 0) | b all wrong (0, 0) | b mixed (1, 0.5)
    domains = ["a", "a", "a", "a", "b", "b", "b", "b"]
    total = torch.tensor([3.0, 3.0, 3.0, 0.0, 0.0, 0.0, 1.0, 0.5])
    t._batch_info = {"domains": domains, "total": total, "group": 2}
    mask = torch.ones(4, 5, dtype=torch.long)
    mask[:, 3:] = 0  # 3 tokens per completion
    output = {"completion_mask": mask.clone(), "num_items_in_batch": torch.tensor(24)}
    MultiDomainMixin._apply_data_engine(t, output)
    kept_rows = output["completion_mask"].sum(dim=1).tolist()
    if rank == 0:
        assert kept_rows == [0, 0, 3, 3]  # the all-correct group is dropped
    else:
        assert kept_rows == [0, 0, 3, 3]  # the all-wrong group is dropped
    assert int(output["num_items_in_batch"]) == 6  # gather is the identity here: local tokens
    assert t.data_engine_counts == {"all_correct": 1, "all_wrong": 1, "kept": 2}
    assert t._metrics["train"]["data_engine/all_correct"] == [1.0]


def test_data_engine_never_leaves_a_zero_normaliser():
    t = fake_trainer({"a": 1.0})
    t._batch_info = {"domains": ["a"] * 4, "total": torch.tensor([0.0, 0.0, 1.0, 1.0]), "group": 2}
    output = {"completion_mask": torch.ones(4, 3, dtype=torch.long), "num_items_in_batch": torch.tensor(12)}
    MultiDomainMixin._apply_data_engine(t, output)
    assert output["completion_mask"].sum() == 0
    assert int(output["num_items_in_batch"]) == 1
    assert t.data_engine_counts == {"all_correct": 1, "all_wrong": 1, "kept": 0}
