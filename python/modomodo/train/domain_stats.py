"""Per-domain statistics of a scored generation batch, and MoDoMoDo's data engine.

Plain functions of one generation batch gathered from every process, in generation order:
`domains[i]` is the domain of completion `i`, `rewards[i]` its weighted reward (NaN when no
reward applied), and rows `[k*group, (k+1)*group)` are the `group` completions of prompt `k`.
`ModomodoGRPOTrainer` calls them once per generation batch; the tests call them directly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import torch

from modomodo.mixture.policies import DomainStats

EPS = 1e-6
DATA_ENGINE_COUNTS = ("all_correct", "all_wrong", "kept")


def group_domains(domains: Sequence[str], group: int) -> list[str]:
    """The domain of each group of `group` completions (a group never mixes domains)."""
    if group < 1 or len(domains) % group:
        raise ValueError(f"invalid group size {group}: expected a divisor of the batch size {len(domains)}")
    out = [domains[k] for k in range(0, len(domains), group)]
    for k, domain in enumerate(out):
        mixed = set(domains[k * group : (k + 1) * group]) - {domain}
        if mixed:
            raise ValueError(
                f"group {k} mixes domains {sorted({domain, *mixed})}: expected the {group} completions of "
                "one prompt in a row"
            )
    return out


def draws_per_domain(domains: Sequence[str], group: int) -> Counter[str]:
    """Prompts drawn per domain: each group counts once."""
    return Counter(group_domains(domains, group))


def zero_std_groups(rewards: torch.Tensor, group: int) -> torch.Tensor:
    """(groups,) bool: the group's rewards are all equal (NaN counted as 0), so its advantages are 0."""
    grouped = torch.nan_to_num(rewards.view(-1, group), nan=0.0)
    return (grouped.max(dim=1).values - grouped.min(dim=1).values).abs() <= EPS


def domain_metrics(domains: Sequence[str], rewards: torch.Tensor, group: int) -> dict[str, float]:
    """`domain/<d>/reward` (mean over the scorable completions; absent when none is) and
    `domain/<d>/zero_std_frac` (fraction of the domain's groups with equal rewards), for each
    domain in the batch."""
    per_group = group_domains(domains, group)
    zero_std = zero_std_groups(rewards, group)
    grouped = rewards.view(-1, group)
    out: dict[str, float] = {}
    for domain in sorted(set(per_group)):
        mine = torch.tensor([d == domain for d in per_group], device=rewards.device)
        values = grouped[mine].flatten()
        values = values[~torch.isnan(values)]
        if values.numel():
            out[f"domain/{domain}/reward"] = values.mean().item()
        out[f"domain/{domain}/zero_std_frac"] = zero_std[mine].float().mean().item()
    return out


def policy_stats(
    domains: Sequence[str], rewards: torch.Tensor, advantages: torch.Tensor, group: int
) -> dict[str, DomainStats]:
    """What an adaptive mixture policy observes of each domain in the batch
    (`modomodo.mixture.policies.DomainStats`): its groups, mean |advantage| over its
    completions, mean reward of the scorable ones (NaN when none is) and the fraction of its
    groups with equal rewards (as `domain/<d>/zero_std_frac`)."""
    per_group = group_domains(domains, group)
    zero_std = zero_std_groups(rewards, group)
    grouped_rewards, grouped_adv = rewards.view(-1, group), advantages.view(-1, group)
    out: dict[str, DomainStats] = {}
    for domain in sorted(set(per_group)):
        mine = torch.tensor([d == domain for d in per_group], device=rewards.device)
        values = grouped_rewards[mine].flatten()
        values = values[~torch.isnan(values)]
        out[domain] = DomainStats(
            groups=int(mine.sum()),
            mean_abs_advantage=grouped_adv[mine].abs().mean().item(),
            reward=values.mean().item() if values.numel() else math.nan,
            zero_std_frac=zero_std[mine].float().mean().item(),
        )
    return out


def weight_metrics(weights: Mapping[str, float]) -> dict[str, float]:
    """`mixture/weight/<d>`: the weight of each domain in force (adaptive runs)."""
    return {f"mixture/weight/{domain}": float(w) for domain, w in weights.items()}


def draw_metrics(draws: Mapping[str, int]) -> dict[str, float]:
    """`domain/<d>/draws`: the prompts of each domain training has generated for so far."""
    return {f"domain/{domain}/draws": float(n) for domain, n in draws.items()}


def data_engine_keep(
    domains: Sequence[str], rewards: torch.Tensor, group: int, max_reward: Mapping[str, float]
) -> tuple[torch.Tensor, dict[str, int]]:
    """The data engine's decision: (groups,) bool, False for a group that teaches nothing because
    every completion is correct (reward >= its domain's `max_reward`) or every one is wrong
    (reward <= 0; NaN counts as 0), and the counts `all_correct`, `all_wrong`, `kept`. A domain
    missing from `max_reward` is never all correct."""
    per_group = group_domains(domains, group)
    grouped = torch.nan_to_num(rewards.view(-1, group), nan=0.0)
    best = torch.tensor([max_reward.get(d, math.inf) for d in per_group], device=rewards.device)
    all_correct = (grouped >= best.unsqueeze(1) - EPS).all(dim=1)
    all_wrong = (grouped <= EPS).all(dim=1)
    keep = ~(all_correct | all_wrong)
    counts = {
        "all_correct": int(all_correct.sum()),
        "all_wrong": int(all_wrong.sum()),
        "kept": int(keep.sum()),
    }
    return keep, counts
