"""GRPO loss: group advantages and the clipped policy objective in one call.

`grpo_loss(logps, rewards, mask, group_size=G, ...)` goes from the per-token
log-probabilities of B completions (B/G groups of G completions of one prompt, in order)
and their rewards to the scalar loss, with the meaning of TRL 1.16's `GRPOTrainer`
(`multi_objective_aggregation="sum_then_normalize"`) on one process without gradient
accumulation. Given the advantages instead (`advantages=`, as TRL computes them from the
rewards gathered from every process) and the token count of the whole batch
(`loss_normalizer=`), it is the loss of one process's share of a batch spread over several
processes and accumulation steps. Two implementations compute it:

- `backend="torch"`: the plain-PyTorch reference below (`grpo_advantages`, `_loss_torch`),
  written to be read top to bottom next to TRL's `_generate_and_score_completions` and
  `_compute_loss`; it is the CPU path.
- `backend="triton"`: the fused kernels in `modomodo.kernels.grpo_loss` (two forward
  launches, one backward launch; see there).

`backend="auto"` picks Triton for CUDA tensors and the reference otherwise.

`linear_logps(hidden, weight, token_ids, ...)` gives the per-token log-probabilities (and
entropies) that feed `grpo_loss`, straight from the last hidden states and the lm-head
weight, holding one chunk of logits at a time instead of the (tokens x vocabulary) tensor.

`grpo_loss_for_trainer` is the loss of a TRL `GRPOTrainer` computed by `grpo_loss`, on any
number of processes and accumulation steps (used by `modomodo.train.trainer.ModomodoGRPOTrainer`);
`FusedGRPOLossMixin` plugs it into any `GRPOTrainer` subclass.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from trl import GRPOTrainer as _TrainerBase
else:
    _TrainerBase = object

LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo", "luspo", "vespo")
# The loss types of the Triton kernels; the others run on the torch reference (logged).
TRITON_LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")
# The loss types TRL normalises by the token count of the whole generation batch (its
# `num_items_in_batch`) rather than by the batch at hand: `loss_normalizer` applies to them.
BATCH_NORMALISED_LOSS_TYPES = ("dapo", "cispo", "vespo")
IMPORTANCE_SAMPLING_LEVELS = ("token", "sequence")
SCALE_REWARDS = ("group", "batch", "none")
BACKENDS = ("auto", "torch", "triton")

logger = logging.getLogger(__name__)
_FALLBACKS_LOGGED: set[str] = set()  # what fell back to the reference, logged once each

# The metrics, under the names TRL logs them with: the clip ratios of the clipped loss
# types (and luspo), and the KL. cispo logs `cispo_clip_ratio` instead of the clip ratios,
# vespo `vespo/phi_seq_mean`, sapo none.
METRIC_NAMES = (
    "clip_ratio/low_mean",
    "clip_ratio/low_min",
    "clip_ratio/high_mean",
    "clip_ratio/high_max",
    "clip_ratio/region_mean",
    "kl",
)


@dataclass(frozen=True)
class GRPOLossOutput:
    """What `grpo_loss` returns.

    - `loss`: float32 scalar, differentiable with respect to `logps` only.
    - `advantages`: (B,) float32, detached; 0 for unscorable (NaN-reward) completions.
    - `metrics`: detached float32 scalars keyed by TRL's log names: `clip_ratio/low_mean`,
      `clip_ratio/low_min`, `clip_ratio/high_mean`, `clip_ratio/high_max`,
      `clip_ratio/region_mean`, and `kl` (the mean per-token KL to the reference, present
      when `ref_logps` is given).
    """

    loss: torch.Tensor
    advantages: torch.Tensor
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)


def grpo_loss(
    logps: torch.Tensor,
    rewards: torch.Tensor | None,
    mask: torch.Tensor,
    *,
    group_size: int | None = None,
    old_logps: torch.Tensor | None = None,
    ref_logps: torch.Tensor | None = None,
    beta: float = 0.0,
    epsilon_low: float = 0.2,
    epsilon_high: float | None = None,
    delta: float | None = None,
    loss_type: str = "dapo",
    importance_sampling_level: str = "token",
    scale_rewards: str | bool = "group",
    max_completion_length: int | None = None,
    use_bias_correction_kl: bool = True,
    sapo_temperature_pos: float = 1.0,
    sapo_temperature_neg: float = 1.05,
    vespo_k_pos: float = 2.0,
    vespo_lambda_pos: float = 3.0,
    vespo_k_neg: float = 3.0,
    vespo_lambda_neg: float = 2.0,
    advantages: torch.Tensor | None = None,
    loss_normalizer: float | torch.Tensor | None = None,
    importance_sampling_ratio: torch.Tensor | None = None,
    backend: str = "auto",
) -> GRPOLossOutput:
    """The GRPO loss of B completions from their rewards and per-token log-probabilities.

    Args:
        logps: (B, T) per-token log-probabilities under the policy being trained; the only
            input the loss is differentiated with respect to. fp32 or bf16 (math in fp32).
        rewards: (B,) the weighted sum of the reward functions per completion, NaN for an
            unscorable one (it is left out of the group statistics and gets advantage 0).
            None when `advantages` are given.
        mask: (B, T) 1 for completion tokens that count, 0 for padding (bool, int or float).
        group_size: completions per prompt; rows `[k*G, (k+1)*G)` form group k and B must
            be divisible by it. Needed with `rewards`; unused with `advantages`.
        old_logps: (B, T) log-probabilities under the policy that sampled the completions;
            None means on-policy (`logps.detach()`), as in TRL.
        ref_logps: (B, T) log-probabilities under the reference model; needed when
            `beta != 0`; when given, `metrics["kl"]` is reported.
        beta: weight of the k3 KL term `exp(ref - logp) - (ref - logp) - 1`.
        epsilon_low, epsilon_high: the ratio is clipped to
            `[1 - epsilon_low, 1 + epsilon_high]`; `epsilon_high=None` means `epsilon_low`.
        delta: when given, the unclipped ratio is also capped at `delta` (two-sided clipping).
        loss_type: the clipped objective with TRL's normalisations: `grpo` (mean over
            sequences of the per-sequence token mean), `bnpo` and `dapo` (sum over tokens /
            number of tokens), `dr_grpo` (sum over tokens / (B * max_completion_length)),
            `luspo` (mean over sequences of the per-sequence token sum); or TRL 1.16's other
            objectives: `cispo` (the ratio, capped at `epsilon_high` and detached, weights
            -A * logp; normalised as dapo), `sapo` (a soft gate
            sigmoid(tau (r - 1)) * 4 / tau in place of clipping; normalised as grpo),
            `vespo` (a detached sequence weight phi(w) = exp(lambda + k log w - lambda w) of
            the sequence ratio w weights -A * logp; normalised as dapo). The Triton
            kernels compute the first four; the others run on the torch reference (with
            `backend="auto"`, logged once; `backend="triton"` raises).
        importance_sampling_level: `token`, or `sequence` (one ratio per completion from the
            mean log-ratio over its tokens, GSPO).
        scale_rewards: `group` (divide by the group std + 1e-4), `batch` (by the batch
            std + 1e-4) or `none`; True/False mean `group`/`none` as in TRL's config.
        max_completion_length: the `dr_grpo` constant; None means T.
        use_bias_correction_kl: multiply the per-token KL by the importance ratio (TRL
            1.16's default, `GRPOConfig.use_bias_correction_kl=True`).
        sapo_temperature_pos, sapo_temperature_neg: sapo's tau for positive and for
            non-positive advantages (TRL's defaults).
        vespo_k_pos, vespo_lambda_pos, vespo_k_neg, vespo_lambda_neg: vespo's k and lambda
            for non-negative and for negative advantages (TRL's defaults).
        advantages: (B,) the advantages, computed elsewhere, in place of those of `rewards`
            (pass `rewards=None`): TRL's, which it computes from the rewards of whole groups
            gathered from every process, while each process's batch holds a shuffled share
            of them. The rows then need not form groups.
        loss_normalizer: for the loss types normalised by the batch's token count, `dapo`,
            `cispo` and `vespo` (`BATCH_NORMALISED_LOSS_TYPES`): the count to divide the
            summed loss by in place of this batch's own, when the batch is a share of a larger
            one (TRL: `num_items_in_batch / num_processes * gradient_accumulation_steps /
            steps_per_generation`). None (the only value for other loss types): this batch's.
        importance_sampling_ratio: (B, T) or (B, 1), vLLM's importance-sampling correction
            (TRL's `importance_sampling_ratio`: the trainer's over vLLM's probabilities of the
            sampled tokens, truncated or masked): it multiplies each token's policy loss (not
            the KL term); for vespo it enters the sequence weight instead. The torch
            reference computes it: with `backend="auto"` the loss runs there (logged once),
            `backend="triton"` raises.
        backend: `triton`, `torch` or `auto` (Triton on CUDA tensors, torch otherwise).

    Returns:
        `GRPOLossOutput(loss, advantages, metrics)`.
    """
    cfg = _check_args(
        logps, rewards, mask, group_size, old_logps, ref_logps, beta, epsilon_low, epsilon_high,
        delta, loss_type, importance_sampling_level, scale_rewards, max_completion_length,
        use_bias_correction_kl, backend,
        (sapo_temperature_pos, sapo_temperature_neg, vespo_k_pos, vespo_lambda_pos, vespo_k_neg, vespo_lambda_neg),
        advantages, loss_normalizer, importance_sampling_ratio,
    )  # fmt: skip
    if cfg.backend == "triton":
        from modomodo.kernels.grpo_loss import triton_grpo_loss

        loss, advantages, metric_values = triton_grpo_loss(
            logps, rewards, mask, old_logps, ref_logps, advantages=advantages, **cfg.kernel_kwargs()
        )
        metrics = dict(zip(METRIC_NAMES, metric_values.unbind(0)))
        if ref_logps is None:
            del metrics["kl"]
        return GRPOLossOutput(loss=loss, advantages=advantages, metrics=metrics)

    if advantages is None:
        assert rewards is not None and cfg.group_size is not None  # checked
        advantages = grpo_advantages(rewards, cfg.group_size, cfg.scale_rewards)
    else:
        advantages = advantages.detach().float()
    loss, metrics = _loss_torch(logps, advantages, mask, old_logps, ref_logps, cfg, importance_sampling_ratio)
    return GRPOLossOutput(loss=loss, advantages=advantages, metrics=metrics)


# ---------------------------------------------------------------------------------------
# The reference (CPU path): TRL's formulas, one step after the other.
# ---------------------------------------------------------------------------------------


def grpo_advantages(rewards: torch.Tensor, group_size: int, scale_rewards: str = "group") -> torch.Tensor:
    """Group-relative advantages of TRL's `sum_then_normalize` aggregation, (B,) float32.

    NaN rewards (unscorable completions) are left out of the means and standard
    deviations, and their advantage is 0.
    """
    rewards = rewards.detach().float()
    grouped = rewards.view(-1, group_size)
    mean = torch.nanmean(grouped, dim=1).repeat_interleave(group_size)
    if scale_rewards == "batch":
        std = _nanstd(rewards).expand_as(rewards) if rewards.numel() > 1 else torch.zeros_like(rewards)
    elif group_size > 1:
        std = _nanstd(grouped, dim=1).repeat_interleave(group_size)
    else:
        std = torch.zeros_like(rewards)
    advantages = rewards - mean
    if scale_rewards != "none":
        advantages = advantages / (std + 1e-4)
    return torch.nan_to_num(advantages, nan=0.0)


def _nanstd(x: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Standard deviation ignoring NaNs, with Bessel's correction; NaN for fewer than 2 values."""
    mean = torch.nanmean(x, dim=dim, keepdim=True)
    variance = torch.nanmean((x - mean) ** 2, dim=dim, keepdim=True)
    count = torch.sum(~torch.isnan(x), dim=dim, keepdim=True)
    correction = torch.where(count > 1, count / (count - 1), torch.full_like(variance, math.nan))
    std = torch.sqrt(variance * correction)
    return std.squeeze(dim) if dim is not None else std.squeeze()


def _loss_torch(logps, advantages, mask, old_logps, ref_logps, cfg: _Config, is_ratio=None):
    """TRL's `_compute_loss` for every loss type; math in float32."""
    per_token_logps = logps.float()
    mask = mask.detach().float()
    # Like TRL's, the old and reference log-probabilities are constants (computed without grad).
    old_logps = per_token_logps.detach() if old_logps is None else old_logps.detach().float()
    log_ratio = per_token_logps - old_logps
    if cfg.importance_sampling_level == "token":
        log_importance_weights = log_ratio  # (B, T)
    else:
        log_importance_weights = (log_ratio * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
        log_importance_weights = log_importance_weights.unsqueeze(-1)  # (B, 1)
    coef_1 = torch.exp(log_importance_weights)

    per_token_kl = None
    if ref_logps is not None:
        ref = ref_logps.detach().float()
        per_token_kl = torch.exp(ref - per_token_logps) - (ref - per_token_logps) - 1
        if cfg.use_bias_correction_kl:
            per_token_kl = per_token_kl * coef_1

    a = advantages.unsqueeze(1)
    if cfg.loss_type == "cispo":
        clamped_ratios = torch.clamp(coef_1, max=cfg.epsilon_high).detach()
        per_token_loss = -clamped_ratios * a * per_token_logps
    elif cfg.loss_type in ("grpo", "bnpo", "dr_grpo", "dapo", "luspo"):
        coef_2 = torch.clamp(coef_1, 1 - cfg.epsilon_low, 1 + cfg.epsilon_high)
        if cfg.delta is not None:
            coef_1 = torch.clamp(coef_1, max=cfg.delta)
        per_token_loss = -torch.min(coef_1 * a, coef_2 * a)
    elif cfg.loss_type == "sapo":
        temperatures = torch.where(a > 0, cfg.sapo_temperature_pos, cfg.sapo_temperature_neg)
        soft_coef_1 = torch.sigmoid(temperatures * (coef_1 - 1)) * 4 / temperatures
        per_token_loss = -soft_coef_1 * a
    else:  # vespo
        phi_seq = _vespo_weights(a, log_ratio.detach(), mask, cfg, is_ratio)
        per_token_loss = -phi_seq * a * per_token_logps
    if is_ratio is not None and cfg.loss_type != "vespo":
        per_token_loss = per_token_loss * is_ratio.detach().float()
    if cfg.beta != 0.0:
        assert per_token_kl is not None  # beta != 0 requires ref_logps (checked)
        per_token_loss = per_token_loss + cfg.beta * per_token_kl

    batch, length = per_token_logps.shape
    if cfg.loss_type in ("grpo", "sapo"):
        loss = ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    elif cfg.loss_type in BATCH_NORMALISED_LOSS_TYPES and cfg.loss_normalizer is not None:
        loss = (per_token_loss * mask).sum() / cfg.loss_normalizer
    elif cfg.loss_type in ("bnpo", *BATCH_NORMALISED_LOSS_TYPES):
        # dapo, cispo and vespo divide by the batch's token count, as bnpo does
        loss = (per_token_loss * mask).sum() / mask.sum().clamp(min=1.0)
    elif cfg.loss_type == "dr_grpo":
        max_len = cfg.max_completion_length if cfg.max_completion_length is not None else length
        loss = (per_token_loss * mask).sum() / (batch * max_len)
    else:  # luspo
        loss = (per_token_loss * mask).sum(-1).mean()

    def global_masked_mean(x):
        if x.shape[1] == 1:  # sequence level: one value per completion, fully masked ones too
            return x.sum() / x.shape[0]
        return (x * mask).sum() / mask.sum().clamp(min=1.0)

    def masked_seq_mean(x):
        if x.shape[1] == 1:
            return x.squeeze(1)
        return (x * mask).sum(-1) / mask.sum(-1)  # NaN for a fully masked row

    metrics = {}
    if cfg.loss_type in ("grpo", "bnpo", "dr_grpo", "dapo", "luspo"):
        is_low = ((coef_1 < 1 - cfg.epsilon_low) & (a < 0)).float()
        is_high = ((coef_1 > 1 + cfg.epsilon_high) & (a > 0)).float()
        is_region = ((is_low + is_high) > 0).float()
        metrics = {
            "clip_ratio/low_mean": global_masked_mean(is_low),
            "clip_ratio/low_min": _nan_reduce(masked_seq_mean(is_low), torch.min),
            "clip_ratio/high_mean": global_masked_mean(is_high),
            "clip_ratio/high_max": _nan_reduce(masked_seq_mean(is_high), torch.max),
            "clip_ratio/region_mean": global_masked_mean(is_region),
        }
    elif cfg.loss_type == "cispo":
        metrics["cispo_clip_ratio"] = global_masked_mean(((coef_1 > cfg.epsilon_high) & (a > 0)).float())
    elif cfg.loss_type == "vespo":
        metrics["vespo/phi_seq_mean"] = global_masked_mean(phi_seq)
    if per_token_kl is not None:
        metrics["kl"] = global_masked_mean(per_token_kl)
    return loss, {k: v.detach() for k, v in metrics.items()}


def _vespo_weights(advantages, log_ratio, mask, cfg: _Config, is_ratio=None) -> torch.Tensor:
    """VESPO's (B, 1) sequence weights phi(w) = exp(lambda + k log w - lambda w), w the sequence
    ratio exp(sum of the token log-ratios, and of the log importance-sampling ratios when
    given), k and lambda by the sign of the advantage; TRL's `GRPOTrainer.get_gamma_weights`."""
    lower_clamp = math.log(1e-8)
    seq_log_ratio = torch.sum(torch.clamp(log_ratio, -20.0, 20.0) * mask, dim=-1, keepdim=True)
    if is_ratio is not None:
        log_is_ratio = torch.clamp(torch.log(is_ratio.detach().float()), lower_clamp, 20.0)
        seq_log_ratio = seq_log_ratio + torch.sum(log_is_ratio, dim=-1, keepdim=True)
    log_w_seq = torch.clamp(seq_log_ratio, lower_clamp, 20.0)
    w_seq = torch.exp(log_w_seq)
    is_nonneg_adv = advantages >= 0
    k_seq = torch.where(is_nonneg_adv, cfg.vespo_k_pos, cfg.vespo_k_neg)
    lambda_seq = torch.where(is_nonneg_adv, cfg.vespo_lambda_pos, cfg.vespo_lambda_neg).clamp(min=1e-4)
    log_phi = lambda_seq + k_seq * log_w_seq - lambda_seq * w_seq
    return torch.exp(log_phi).nan_to_num(nan=0.0, posinf=0.0, neginf=0.0)


def _nan_reduce(x: torch.Tensor, reduce) -> torch.Tensor:
    kept = x[~torch.isnan(x)]
    return reduce(kept) if kept.numel() else torch.tensor(math.nan, device=x.device)


# ---------------------------------------------------------------------------------------
# Log-probabilities from the last hidden states, without the logits tensor.
# ---------------------------------------------------------------------------------------

# The default chunk holds at most this many logits (128 MiB in float32).
CHUNK_LOGITS = 2**25
# The torch path's tiles of logits: up to this many tokens by up to this many vocabulary
# columns (see _tiles).
TOKEN_TILE = 4096
TILE_COLUMNS = 4096


def linear_logps(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    token_ids: torch.Tensor,
    *,
    temperature: float = 1.0,
    bias: torch.Tensor | None = None,
    chunk_size: int | None = None,
    return_entropy: bool = False,
    backend: str = "auto",
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities of the chosen tokens under an lm-head, one chunk of logits at a time.

    The plain rule it equals (and is tested against):

        logits = (hidden @ weight.T + bias).float() / temperature
        logps = logits.log_softmax(-1).gather(-1, token_ids.unsqueeze(-1)).squeeze(-1)
        entropies = -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1)

    but the (tokens x vocabulary) logits never exist: they are made one chunk at a time and
    reduced to the log-probabilities and entropies, and the backward recomputes each chunk's
    logits to turn them into the gradient with respect to `hidden`, `weight` and `bias` (a
    `torch.autograd.Function`; the logits gradient is accumulated in float32). That is one
    matmul more than a backward through full logits: on the CPU about 1.2x the time of TRL's
    logits path, for a fraction of its memory (benches/bench_logps.py).

    Args:
        hidden: (..., H) last hidden states at the positions that predict `token_ids`.
        weight: (V, H) the lm-head weight (same dtype as `hidden`, or autocast's).
        token_ids: (...) integer ids in [0, V), one per position of `hidden`.
        temperature: the logits are divided by it (TRL's `GRPOConfig.temperature`).
        bias: (V,) lm-head bias, added before the temperature.
        chunk_size: the size of a chunk of logits, in tokens: at most chunk_size x V logits
            exist at a time. None takes as many tokens as keep a chunk within `CHUNK_LOGITS`
            (220 for a 151,936-token vocabulary). The Triton path takes chunk_size tokens by
            the whole vocabulary; the torch path lays the same budget out as more tokens by
            fewer vocabulary columns (`_tiles`), with an online log-sum-exp across them.
        return_entropy: also return the entropy of each position's distribution
            (differentiable as well).
        backend: `triton` (the kernels in `modomodo.kernels.linear_logps`), `torch` (chunked
            torch ops, the CPU path) or `auto` (Triton on CUDA tensors, torch otherwise).

    Returns:
        (...) float32 log-probabilities, and (...) float32 entropies when `return_entropy`.
    """
    cfg = _check_linear_logps_args(hidden, weight, token_ids, temperature, bias, chunk_size, backend)
    flat_hidden = hidden.reshape(-1, hidden.shape[-1])
    flat_ids = token_ids.reshape(-1)
    # The lm-head matmul runs in autocast's dtype when autocast is on, as the model's own head
    # would; inside, autocast is off, so that the rest runs in float32 as written.
    dtype = _compute_dtype(hidden, weight)
    args = (flat_hidden, weight, bias, flat_ids, cfg.temperature, cfg.chunk_size, return_entropy, dtype)
    with torch.autocast(hidden.device.type, enabled=False):
        if cfg.backend == "triton":
            from modomodo.kernels.linear_logps import triton_linear_logps

            logps, entropies = triton_linear_logps(*args)
        else:
            logps, entropies = _LinearLogps.apply(*args)
    logps = logps.view(token_ids.shape)
    if return_entropy:
        return logps, entropies.view(token_ids.shape)
    return logps


def _compute_dtype(hidden: torch.Tensor, weight: torch.Tensor) -> torch.dtype:
    """The dtype of the lm-head matmul: autocast's when it is on, as in the model's own head."""
    if torch.is_autocast_enabled(hidden.device.type):
        return torch.get_autocast_dtype(hidden.device.type)
    return torch.promote_types(hidden.dtype, weight.dtype)


def _chunk_logits(hidden_chunk, weight, bias, temperature: float) -> torch.Tensor:
    """(n, V) float32 logits of one chunk: the matmul in the compute dtype, the rest in fp32."""
    if bias is not None:
        logits = torch.addmm(bias.to(weight.dtype), hidden_chunk, weight.t())
    else:
        logits = hidden_chunk @ weight.t()
    logits = logits.float()
    if temperature != 1.0:
        logits.div_(temperature)
    return logits


def _tiles(n: int, vocab: int, chunk_size: int) -> tuple[int, int]:
    """(rows, vocabulary columns) of the torch path's tiles of logits: as many values as a chunk
    of `chunk_size` tokens (chunk_size x V) at most, laid out as up to TOKEN_TILE tokens by up
    to TILE_COLUMNS columns. Each matmul then runs on many rows, and each row of d weight is
    written once per tile of tokens: a CPU matmul with a few hundred rows runs well below its
    peak (measured on 2 cores, 1,024 x 1,536 x 151,936: 14 s in chunks of 220 rows, 9 s in one
    piece, 8.7 s in tiles of 4,096 columns and 10.6 s in tiles of 16,384)."""
    budget = chunk_size * vocab
    tile_rows = max(1, min(n, TOKEN_TILE, budget))
    return tile_rows, max(1, min(budget // tile_rows, TILE_COLUMNS))


def _logits_grad(log_p, local_ids, g, g_h, entropies) -> torch.Tensor:
    """d loss / d logits of a tile, built in place of its log p: g (1[v = t] - p_v) for the
    log-probs (upstream gradient g, t the row's token, `local_ids` = t - the tile's first
    column) and - g_H p_v (log p_v + H) for the entropies (upstream g_H)."""
    p = log_p.exp()
    if g_h is not None:
        term = log_p.add_(entropies.unsqueeze(1)).mul_(p).mul_(g_h)
        if g is None:
            return term.neg_()
    grad = p.mul_(-g)
    if g_h is not None:
        grad.sub_(term)
    in_tile = (local_ids >= 0) & (local_ids < grad.shape[1])
    target = local_ids.clamp(0, grad.shape[1] - 1).unsqueeze(1)
    return grad.scatter_add_(1, target, torch.where(in_tile.unsqueeze(1), g, 0.0))


class _LinearLogps(torch.autograd.Function):
    """`linear_logps` in chunked torch ops: (N, H) hidden, (N,) ids -> (N,) logps, (N,) entropies."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, token_ids, temperature, chunk_size, with_entropy, compute_dtype):
        ctx.set_materialize_grads(False)  # entropies are often logged only: no gradient to fold
        n, vocab = hidden.shape[0], weight.shape[0]
        tile_rows, tile_cols = _tiles(n, vocab, chunk_size)
        logps = torch.empty(n, dtype=torch.float32, device=hidden.device)
        log_z = torch.empty_like(logps)
        entropies = torch.empty_like(logps) if with_entropy else None
        w = weight.to(compute_dtype)
        for start in range(0, n, tile_rows):
            rows = slice(start, min(start + tile_rows, n))
            hidden_rows = hidden[rows].to(compute_dtype)
            ids = token_ids[rows]
            # Online log-sum-exp over the vocabulary tiles: running max m, s = sum exp(z - m),
            # a = sum exp(z - m) (z - m) (the entropy is log s - a / s), the target's logit.
            m = torch.full(ids.shape, -math.inf, device=hidden.device)
            s = torch.zeros(ids.shape, device=hidden.device)
            a = torch.zeros(ids.shape, device=hidden.device)
            target = torch.zeros(ids.shape, device=hidden.device)
            for first in range(0, vocab, tile_cols):
                cols = slice(first, min(first + tile_cols, vocab))
                z = _chunk_logits(hidden_rows, w[cols], bias[cols] if bias is not None else None, temperature)
                new_m = torch.maximum(m, z.amax(dim=1))
                shift = m - new_m  # <= 0; -inf on the first tile, where s = a = 0
                rescale = shift.exp()
                local = ids - first
                in_tile = (local >= 0) & (local < z.shape[1])
                z_t = z.gather(1, local.clamp(0, z.shape[1] - 1).unsqueeze(1)).squeeze(1)
                target = torch.where(in_tile, z_t, target)
                z.sub_(new_m.unsqueeze(1))
                e = z.exp()
                if with_entropy:
                    a = rescale * (a + torch.where(s > 0, shift, 0.0) * s) + torch.linalg.vecdot(e, z)
                s = s * rescale + e.sum(dim=1)
                m = new_m
            log_z[rows] = m + s.log()
            logps[rows] = target - log_z[rows]
            if entropies is not None:
                entropies[rows] = s.log() - a / s
        ctx.save_for_backward(hidden, weight, bias, token_ids, log_z, entropies)
        ctx.temperature, ctx.chunk_size, ctx.compute_dtype = temperature, chunk_size, compute_dtype
        return logps, entropies

    @staticmethod
    def backward(ctx, grad_logps, grad_entropies):
        hidden, weight, bias, token_ids, log_z, entropies = ctx.saved_tensors
        need_hidden, need_weight, need_bias = ctx.needs_input_grad[:3]
        temperature, dtype = ctx.temperature, ctx.compute_dtype
        n, vocab = hidden.shape[0], weight.shape[0]
        tile_rows, tile_cols = _tiles(n, vocab, ctx.chunk_size)
        grad_hidden = torch.empty_like(hidden) if need_hidden else None
        # float32 accumulators
        grad_weight = (
            torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_weight else None
        )
        grad_bias = torch.zeros(vocab, dtype=torch.float32, device=weight.device) if need_bias else None
        with torch.autocast(hidden.device.type, enabled=False):
            w = weight.to(dtype)
            for start in range(0, n, tile_rows):
                rows = slice(start, min(start + tile_rows, n))
                hidden_rows = hidden[rows].to(dtype)
                g = grad_logps[rows].float().unsqueeze(1) if grad_logps is not None else None
                g_h = grad_entropies[rows].float().unsqueeze(1) if grad_entropies is not None else None
                d_hidden = torch.zeros(hidden_rows.shape, dtype=torch.float32, device=hidden.device)
                for first in range(0, vocab, tile_cols):
                    cols = slice(first, min(first + tile_cols, vocab))
                    tile_bias = bias[cols] if bias is not None else None
                    log_p = _chunk_logits(hidden_rows, w[cols], tile_bias, temperature)
                    log_p.sub_(log_z[rows].unsqueeze(1))
                    grad = _logits_grad(
                        log_p, token_ids[rows] - first, g, g_h, entropies[rows] if g_h is not None else None
                    )
                    if temperature != 1.0:
                        grad.div_(temperature)
                    if need_hidden:
                        d_hidden.addmm_(grad, w[cols].float())
                    if grad_weight is not None:
                        grad_weight[cols].addmm_(grad.t(), hidden_rows.float())
                    if grad_bias is not None:
                        grad_bias[cols] += grad.sum(0)
                if grad_hidden is not None:
                    grad_hidden[rows] = d_hidden
        return (
            grad_hidden,
            grad_weight.to(weight.dtype) if grad_weight is not None else None,
            grad_bias.to(bias.dtype) if grad_bias is not None else None,
            None,
            None,
            None,
            None,
            None,
        )


# ---------------------------------------------------------------------------------------
# Argument checking.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Config:
    group_size: int | None
    beta: float
    epsilon_low: float
    epsilon_high: float
    delta: float | None
    loss_type: str
    importance_sampling_level: str
    scale_rewards: str
    max_completion_length: int | None
    use_bias_correction_kl: bool
    backend: str
    sapo_temperature_pos: float = 1.0
    sapo_temperature_neg: float = 1.05
    vespo_k_pos: float = 2.0
    vespo_lambda_pos: float = 3.0
    vespo_k_neg: float = 3.0
    vespo_lambda_neg: float = 2.0
    loss_normalizer: float | torch.Tensor | None = None

    def kernel_kwargs(self) -> dict[str, Any]:
        return {
            "group_size": self.group_size,
            "beta": self.beta,
            "epsilon_low": self.epsilon_low,
            "epsilon_high": self.epsilon_high,
            "delta": self.delta,
            "loss_type": self.loss_type,
            "importance_sampling_level": self.importance_sampling_level,
            "scale_rewards": self.scale_rewards,
            "max_completion_length": self.max_completion_length,
            "use_bias_correction_kl": self.use_bias_correction_kl,
            "loss_normalizer": float(self.loss_normalizer) if self.loss_normalizer is not None else None,
        }


def _check_choice(name: str, value, choices) -> None:
    if not isinstance(value, str) or value not in choices:
        expected = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name}={value!r}: expected one of {expected}")


def _check_float(name: str, value, *, minimum: float | None = None, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}={value!r}: expected a finite number")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value!r}: expected a number >= {minimum}")
    if positive and value <= 0:
        raise ValueError(f"{name}={value!r}: expected a number > 0")
    return float(value)


def _check_args(
    logps, rewards, mask, group_size, old_logps, ref_logps, beta, epsilon_low, epsilon_high,
    delta, loss_type, importance_sampling_level, scale_rewards, max_completion_length,
    use_bias_correction_kl, backend, soft_options=(1.0, 1.05, 2.0, 3.0, 3.0, 2.0), advantages=None,
    loss_normalizer=None, importance_sampling_ratio=None,
) -> _Config:  # fmt: skip
    if not isinstance(logps, torch.Tensor) or logps.ndim != 2 or not logps.is_floating_point():
        raise ValueError(f"logps={_describe(logps)}: expected a floating-point tensor of shape (B, T)")
    shape = tuple(logps.shape)
    for name, t in (("mask", mask), ("old_logps", old_logps), ("ref_logps", ref_logps)):
        if t is None and name != "mask":
            continue
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape:
            raise ValueError(f"{name}={_describe(t)}: expected a tensor of the shape of logps {shape}")
        if name != "mask" and not t.is_floating_point():
            raise ValueError(f"{name}={_describe(t)}: expected a floating-point tensor")
        if t.device != logps.device:
            raise ValueError(f"{name} is on {t.device}: expected the device of logps ({logps.device})")
    if mask.is_complex():
        raise ValueError(f"mask={_describe(mask)}: expected a bool, integer or float tensor")
    if advantages is None:
        _check_per_completion("rewards", rewards, logps)
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
            raise ValueError(f"group_size={group_size!r}: expected a positive integer")
        if shape[0] % group_size != 0:
            raise ValueError(f"group_size={group_size!r}: expected a divisor of the batch size B={shape[0]}")
    else:
        if rewards is not None:
            raise ValueError("rewards and advantages both given: expected one of them (rewards=None)")
        _check_per_completion("advantages", advantages, logps)
        if not advantages.is_floating_point():
            raise ValueError(f"advantages={_describe(advantages)}: expected a floating-point tensor")
    beta = _check_float("beta", beta)
    if beta != 0.0 and ref_logps is None:
        raise ValueError(f"beta={beta!r} needs ref_logps: expected ref_logps or beta=0.0")
    epsilon_low = _check_float("epsilon_low", epsilon_low, minimum=0.0)
    epsilon_high = (
        epsilon_low if epsilon_high is None else _check_float("epsilon_high", epsilon_high, minimum=0.0)
    )
    if delta is not None:
        delta = _check_float("delta", delta, positive=True)
    _check_choice("loss_type", loss_type, LOSS_TYPES)
    _check_choice("importance_sampling_level", importance_sampling_level, IMPORTANCE_SAMPLING_LEVELS)
    if isinstance(scale_rewards, bool):
        scale_rewards = "group" if scale_rewards else "none"
    _check_choice("scale_rewards", scale_rewards, SCALE_REWARDS)
    if max_completion_length is not None and (
        isinstance(max_completion_length, bool)
        or not isinstance(max_completion_length, int)
        or max_completion_length < 1
    ):
        raise ValueError(
            f"max_completion_length={max_completion_length!r}: expected a positive integer or None"
        )
    if not isinstance(use_bias_correction_kl, bool):
        raise ValueError(f"use_bias_correction_kl={use_bias_correction_kl!r}: expected True or False")
    if loss_normalizer is not None:
        if loss_type not in BATCH_NORMALISED_LOSS_TYPES:
            raise ValueError(
                f"loss_normalizer={_describe(loss_normalizer)} with loss_type={loss_type!r}: expected None "
                f"(it applies to {', '.join(BATCH_NORMALISED_LOSS_TYPES)})"
            )
        value = loss_normalizer
        if isinstance(value, torch.Tensor):
            value = value.item() if value.numel() == 1 and not value.is_complex() else None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not value > 0
            or value == math.inf
        ):
            raise ValueError(
                f"loss_normalizer={_describe(loss_normalizer)}: expected a positive number (a token count)"
            )
    names = ("sapo_temperature_pos", "sapo_temperature_neg", "vespo_k_pos", "vespo_lambda_pos",
             "vespo_k_neg", "vespo_lambda_neg")  # fmt: skip
    soft = {
        name: _check_float(name, value, positive=name.startswith("sapo"))
        for name, value in zip(names, soft_options)
    }
    if importance_sampling_ratio is not None:
        t = importance_sampling_ratio
        if not isinstance(t, torch.Tensor) or tuple(t.shape) not in (shape, (shape[0], 1)):
            raise ValueError(
                f"importance_sampling_ratio={_describe(t)}: expected a tensor of shape {shape} or ({shape[0]}, 1)"
            )
        if not t.is_floating_point() or t.device != logps.device:
            raise ValueError(
                f"importance_sampling_ratio={_describe(t)} on {t.device}: expected a floating-point "
                f"tensor on the device of logps ({logps.device})"
            )
    resolved = _resolve_backend(backend, logps)
    if resolved == "triton" and (loss_type not in TRITON_LOSS_TYPES or importance_sampling_ratio is not None):
        what = (
            f"loss_type={loss_type!r}"
            if loss_type not in TRITON_LOSS_TYPES
            else "vLLM's importance_sampling_ratio"
        )
        if backend == "triton":
            raise ValueError(
                f"{what} with backend='triton': the kernels compute {', '.join(TRITON_LOSS_TYPES)} "
                "without importance_sampling_ratio; expected backend='torch' or 'auto'"
            )
        resolved = "torch"
        if what not in _FALLBACKS_LOGGED:
            _FALLBACKS_LOGGED.add(what)
            logger.warning("grpo_loss: %s has no Triton kernel; it runs on the torch reference", what)
    return _Config(
        group_size=group_size,
        beta=beta,
        epsilon_low=epsilon_low,
        epsilon_high=epsilon_high,
        delta=delta,
        loss_type=loss_type,
        importance_sampling_level=importance_sampling_level,
        scale_rewards=scale_rewards,
        max_completion_length=max_completion_length,
        use_bias_correction_kl=use_bias_correction_kl,
        backend=resolved,
        **soft,
        loss_normalizer=loss_normalizer,
    )


def _check_per_completion(name: str, t, logps: torch.Tensor) -> None:
    """`rewards` or `advantages`: a real (B,) tensor on the device of logps."""
    if not isinstance(t, torch.Tensor) or tuple(t.shape) != tuple(logps.shape[:1]) or t.is_complex():
        raise ValueError(f"{name}={_describe(t)}: expected a real tensor of shape ({logps.shape[0]},)")
    if t.device != logps.device:
        raise ValueError(f"{name} is on {t.device}: expected the device of logps ({logps.device})")


def _resolve_backend(backend, tensor: torch.Tensor) -> str:
    """`auto` -> `triton` for CUDA tensors (when Triton is installed), `torch` otherwise."""
    _check_choice("backend", backend, BACKENDS)
    if backend == "auto":
        return "triton" if tensor.is_cuda and _triton_available() else "torch"
    if backend == "triton":
        if not _triton_available():
            raise ValueError("backend='triton': Triton is not installed; expected backend='torch' or 'auto'")
        if not tensor.is_cuda and os.environ.get("TRITON_INTERPRET") != "1":
            raise ValueError(
                f"backend='triton' with tensors on {tensor.device}: expected CUDA tensors, "
                "or TRITON_INTERPRET=1 to run the kernels in Triton's interpreter on the CPU"
            )
    return backend


@dataclass(frozen=True)
class _LogpsConfig:
    temperature: float
    chunk_size: int
    backend: str


def _check_linear_logps_args(
    hidden, weight, token_ids, temperature, bias, chunk_size, backend
) -> _LogpsConfig:
    if not isinstance(hidden, torch.Tensor) or hidden.ndim < 1 or not hidden.is_floating_point():
        raise ValueError(f"hidden={_describe(hidden)}: expected a floating-point tensor of shape (..., H)")
    size = hidden.shape[-1]
    if not isinstance(weight, torch.Tensor) or weight.ndim != 2 or weight.shape[1] != size:
        raise ValueError(f"weight={_describe(weight)}: expected a tensor of shape (V, {size}), H from hidden")
    if not weight.is_floating_point():
        raise ValueError(f"weight={_describe(weight)}: expected a floating-point tensor")
    vocab = weight.shape[0]
    if vocab < 1:
        raise ValueError(f"weight={_describe(weight)}: expected a vocabulary of at least one token")
    if (
        not isinstance(token_ids, torch.Tensor)
        or token_ids.is_floating_point()
        or token_ids.is_complex()
        or token_ids.dtype == torch.bool
        or tuple(token_ids.shape) != tuple(hidden.shape[:-1])
    ):
        raise ValueError(
            f"token_ids={_describe(token_ids)}: expected an integer tensor of shape {tuple(hidden.shape[:-1])}"
        )
    if bias is not None and (
        not isinstance(bias, torch.Tensor) or tuple(bias.shape) != (vocab,) or not bias.is_floating_point()
    ):
        raise ValueError(
            f"bias={_describe(bias)}: expected None or a floating-point tensor of shape ({vocab},)"
        )
    for name, t in (("weight", weight), ("token_ids", token_ids), ("bias", bias)):
        if t is not None and t.device != hidden.device:
            raise ValueError(f"{name} is on {t.device}: expected the device of hidden ({hidden.device})")
    if token_ids.numel():
        low, high = token_ids.min().item(), token_ids.max().item()
        if low < 0 or high >= vocab:
            bad = low if low < 0 else high
            raise ValueError(f"token_ids holds {bad}: expected ids in [0, {vocab}) (the rows of weight)")
    temperature = _check_float("temperature", temperature, positive=True)
    if chunk_size is None:
        chunk_size = max(1, CHUNK_LOGITS // vocab)
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size!r}: expected a positive number of tokens or None")
    return _LogpsConfig(
        temperature=temperature, chunk_size=chunk_size, backend=_resolve_backend(backend, hidden)
    )


def _describe(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"tensor(shape={tuple(x.shape)}, dtype={x.dtype})"
    return repr(x)


def _triton_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("triton") is not None


# ---------------------------------------------------------------------------------------
# TRL integration: grpo_loss in place of the loss of TRL's GRPOTrainer. Used by
# `modomodo.train.trainer.ModomodoGRPOTrainer` and by `FusedGRPOLossMixin`.
# ---------------------------------------------------------------------------------------


def weighted_rewards(rewards_per_func: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Each completion's reward as TRL's `sum_then_normalize` aggregation forms it from the
    (B, K) outputs of its K reward functions: the weighted sum, NaN where every function
    returned None (unscorable). This is the `rewards` argument of `grpo_loss`."""
    rewards = (rewards_per_func * weights.to(rewards_per_func.device).unsqueeze(0)).nansum(dim=1)
    rewards[torch.isnan(rewards_per_func).all(dim=1)] = math.nan
    return rewards


def fused_loss_unsupported(args: Any, backend: str = "auto") -> list[str]:
    """Why `grpo_loss` (with `backend`) cannot stand in for the loss of a `GRPOTrainer` configured
    by `args` (a `GRPOConfig`), one reason per setting; empty when it can. Any number of
    processes, accumulation steps and `steps_per_generation` serve (TRL computes the advantages
    from the rewards of whole groups, `grpo_loss_for_trainer` uses TRL's normalisers); what
    `grpo_loss` does not compute does not: the settings below, and, when `backend="triton"` is
    asked for, loss types without a Triton kernel and vLLM's importance-sampling correction
    (with `auto` these run on the torch reference, logged)."""
    reasons = []
    if args.loss_type not in LOSS_TYPES:
        reasons.append(f"loss_type={args.loss_type!r} (expected one of {', '.join(map(repr, LOSS_TYPES))})")
    elif backend == "triton" and args.loss_type not in TRITON_LOSS_TYPES:
        reasons.append(
            f"loss_type={args.loss_type!r} with the Triton kernels (expected one of "
            f"{', '.join(map(repr, TRITON_LOSS_TYPES))}, or the backend 'torch' or 'auto')"
        )
    if args.off_policy_mask_threshold is not None:
        reasons.append(f"off_policy_mask_threshold={args.off_policy_mask_threshold!r} (expected None)")
    if args.top_entropy_quantile != 1.0:
        reasons.append(f"top_entropy_quantile={args.top_entropy_quantile!r} (expected 1.0)")
    if args.entropy_coef != 0.0 or args.use_adaptive_entropy:
        reasons.append(
            f"an entropy bonus (entropy_coef={args.entropy_coef!r}, use_adaptive_entropy="
            f"{args.use_adaptive_entropy!r}; expected 0.0 and False)"
        )
    if backend == "triton" and args.use_vllm and args.vllm_importance_sampling_correction:
        reasons.append(
            "vllm_importance_sampling_correction=True with use_vllm and the Triton kernels (expected "
            "False, or the backend 'torch' or 'auto')"
        )
    return reasons


@functools.cache
def _logps_batch_keys() -> frozenset[str]:
    """The batch keys TRL hands to `_get_per_token_logps_and_entropies` by name (the multimodal
    inputs: `pixel_values`, `image_grid_thw`, ...), read from its signature."""
    import inspect

    from trl import GRPOTrainer

    return frozenset(inspect.signature(GRPOTrainer._get_per_token_logps_and_entropies).parameters)


def grpo_loss_for_trainer(trainer: Any, model: Any, inputs: dict[str, Any], *, backend: str) -> torch.Tensor:
    """TRL's `GRPOTrainer._compute_loss` with `grpo_loss` computing the loss from TRL's batch.

    The batch `inputs` is TRL's, one process's share of one accumulation step: prompt and
    completion ids and masks, `tool_mask`, the multimodal inputs, `advantages` (TRL computes
    them from the rewards of whole groups, gathered from every process),
    `num_items_in_batch`, `old_per_token_logps`, `ref_per_token_logps`. The policy's
    log-probabilities come from the trainer's `_get_per_token_logps_and_entropies`, as in TRL.
    The loss is normalised and scaled for accumulation as TRL does: dapo, cispo and vespo
    divide by the generation batch's token count (`num_items_in_batch`) rescaled to one
    process and one accumulation window, the others divide their own batch's loss by the
    accumulation steps. Logs what TRL logs, reduced over the processes as TRL does: `kl`
    (when `beta != 0`), `entropy`, the loss type's own (`clip_ratio/*`, `cispo_clip_ratio`,
    `vespo/phi_seq_mean`), `aux_loss` (MoE models)."""
    prompt_ids, completion_ids = inputs["prompt_ids"], inputs["completion_ids"]
    completion_mask = inputs["completion_mask"]
    mask = completion_mask * inputs["tool_mask"] if "tool_mask" in inputs else completion_mask
    per_token_logps, entropies, aux_loss = trainer._get_per_token_logps_and_entropies(
        model,
        torch.cat([prompt_ids, completion_ids], dim=1),
        torch.cat([inputs["prompt_mask"], completion_mask], dim=1),
        completion_ids.size(1),
        compute_entropy=True,
        compute_aux_loss=trainer.aux_loss_enabled,
        **{key: value for key, value in inputs.items() if key in _logps_batch_keys()},
    )
    mode = "train" if trainer.model.training else "eval"
    accumulation = trainer.current_gradient_accumulation_steps if mode == "train" else 1.0
    # TRL weights the policy loss by the batch's importance_sampling_ratio with this setting;
    # vespo reads it whenever the batch holds it.
    vllm_correction = (trainer.use_vllm and trainer.vllm_importance_sampling_correction) or (
        trainer.loss_type == "vespo"
    )
    normalizer = None
    if trainer.loss_type in BATCH_NORMALISED_LOSS_TYPES:
        # num_items_in_batch counts the tokens of the whole generation batch, all processes and,
        # in training, steps_per_generation steps; each step's loss is one accumulation's share.
        normalizer = inputs["num_items_in_batch"].clamp(min=1.0) / trainer.accelerator.num_processes
        if mode == "train":
            normalizer = normalizer * accumulation / trainer.args.steps_per_generation
    result = grpo_loss(
        per_token_logps,
        None,
        mask,
        advantages=inputs["advantages"],
        old_logps=inputs.get("old_per_token_logps"),
        ref_logps=inputs.get("ref_per_token_logps") if trainer.beta != 0.0 else None,
        beta=trainer.beta,
        epsilon_low=trainer.epsilon_low,
        epsilon_high=trainer.epsilon_high,
        delta=trainer.args.delta,
        loss_type=trainer.loss_type,
        importance_sampling_level=trainer.importance_sampling_level,
        max_completion_length=trainer.max_completion_length,
        use_bias_correction_kl=bool(getattr(trainer.args, "use_bias_correction_kl", False)),
        **{name: getattr(trainer.args, name) for name in _SOFT_LOSS_OPTIONS},
        loss_normalizer=normalizer,
        importance_sampling_ratio=inputs.get("importance_sampling_ratio") if vllm_correction else None,
        backend=backend,
    )
    loss = result.loss if normalizer is not None else result.loss / accumulation
    metrics = trainer._metrics[mode]
    if trainer.aux_loss_enabled:
        loss = loss + trainer.router_aux_loss_coef * aux_loss / accumulation
        metrics["aux_loss"].append(trainer.accelerator.gather_for_metrics(aux_loss).mean().item())
    sequence_level = trainer.importance_sampling_level == "sequence"
    for name, value in _gathered_metrics(
        trainer.accelerator, result.metrics, entropies, mask, sequence_level
    ):
        metrics[name].append(value)
    return loss


def _gathered_metrics(
    accelerator: Any, local: dict[str, torch.Tensor], entropies, mask, sequence_level: bool
):
    """(name, value) of the loss's metrics over every process, as TRL's `_compute_loss` reduces
    them: a mean over all the processes' tokens (or completions, for the sequence-level ratios
    and vespo's weights) from one sum of (sum, count) pairs; `clip_ratio/low_min` and
    `high_max` as the NaN-skipping min and max of every process's. `local` is grpo_loss's
    metrics of this process's batch; `entropy` is added from `entropies`."""
    from trl.trainer.utils import nanmax, nanmin

    tokens = mask.sum().float()
    completions = torch.tensor(float(mask.size(0)), device=tokens.device)
    names, sums, counts = ["entropy"], [(entropies * mask).sum().float()], [tokens]
    for name, mean in local.items():
        if name in ("clip_ratio/low_min", "clip_ratio/high_max"):
            continue
        per_completion = name == "vespo/phi_seq_mean" or (sequence_level and name != "kl")
        count = completions if per_completion else tokens
        names.append(name)
        sums.append(mean.float() * count.clamp(min=1.0))  # the mean's numerator: grpo_loss clamps too
        counts.append(count)
    totals = accelerator.reduce(torch.stack([*sums, *counts]), reduction="sum")
    for i, name in enumerate(names):
        yield name, (totals[i] / totals[len(names) + i].clamp(min=1.0)).item()
    if "clip_ratio/low_min" in local:
        extremes = accelerator.gather(
            torch.stack([local["clip_ratio/low_min"], local["clip_ratio/high_max"]])
        )
        extremes = extremes.view(-1, 2)
        yield "clip_ratio/low_min", nanmin(extremes[:, 0]).item()
        yield "clip_ratio/high_max", nanmax(extremes[:, 1]).item()


def linear_logps_head_unsupported(model: Any) -> list[str]:
    """Why `linear_logps_head` cannot stand in for TRL's fused lm-head on `model`, one reason per
    setting; empty when it can: a plain linear head (weight, optional bias) on the last hidden
    states, with no logit scaling or soft-capping and no MoE router loss."""
    text = model.config.get_text_config()
    reasons = []
    if getattr(text, "final_logit_softcapping", None) is not None:
        reasons.append(f"final_logit_softcapping={text.final_logit_softcapping!r} (expected None)")
    for name in ("logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling"):
        if getattr(text, name, None) not in (None, 1, 1.0):
            reasons.append(f"{name}={getattr(text, name)!r} (expected no logit scaling)")
    if getattr(text, "output_router_logits", False):
        reasons.append("output_router_logits=True (expected a model without a MoE router loss)")
    head = model.get_output_embeddings()
    if not isinstance(getattr(head, "weight", None), torch.Tensor):
        reasons.append(f"lm-head {type(head).__name__} (expected a linear layer)")
    return reasons


@contextlib.contextmanager
def linear_logps_head(
    model: Any,
    *,
    temperature: float,
    backend: str = "auto",
    return_entropy: bool = True,
    cast_to_fp32: bool = False,
) -> Iterator[None]:
    """While active, `model(..., labels=labels, fused_lm_head=True)` computes the labels'
    log-probabilities (and entropies) with `linear_logps` from the model's last hidden states.

    That call is how TRL 1.16's `GRPOTrainer._get_per_token_logps_and_entropies` gets every
    per-token log-probability (the policy's in the loss, the old policy's, the reference's):
    TRL answers it with its own chunked head (`trl.trainer.utils.add_fused_lm_head`); here
    the same backbone call is followed by `linear_logps` on the positions whose label is not
    -100, and the result is TRL's `FusedCausalLMOutput` (log-probs and entropies zero at
    -100, `label_mask`, `loss`). Calls without `fused_lm_head=True` (generation) pass through.
    `model` is the unwrapped model; check it with `linear_logps_head_unsupported` first.
    """
    from trl.trainer.utils import FusedCausalLMOutput

    previous = model.forward
    had_own_forward = "forward" in vars(model)  # TRL's patch is an instance attribute

    def forward(
        *args, fused_lm_head=False, labels=None, shift_labels=None, num_items_in_batch=None, **kwargs
    ):
        if not fused_lm_head:
            passed = {
                "labels": labels,
                "shift_labels": shift_labels,
                "num_items_in_batch": num_items_in_batch,
            }
            return previous(*args, **kwargs, **{k: v for k, v in passed.items() if v is not None})
        kwargs["use_cache"] = False
        hidden = model.base_model(*args, **kwargs).last_hidden_state
        if shift_labels is None:  # position t predicts token t + 1
            hidden, labels = hidden[:, :-1], labels[:, 1:]
        else:
            labels = shift_labels
        head = model.get_output_embeddings()
        hidden, labels = hidden.to(head.weight.device), labels.to(head.weight.device)
        mask = labels != -100
        autocast = contextlib.nullcontext()
        if cast_to_fp32:
            hidden = hidden.float()
            autocast = torch.autocast(hidden.device.type, enabled=False)
        with autocast:
            out = linear_logps(
                hidden[mask], head.weight, labels[mask], temperature=temperature, bias=head.bias,
                return_entropy=return_entropy, backend=backend,
            )  # fmt: skip
        logps, entropies = out if return_entropy else (out, None)
        # masked_scatter keeps an all-masked batch connected to the model (a zero gradient).
        log_probs = logps.new_zeros(mask.shape).masked_scatter(mask, logps)
        entropy = (
            entropies.new_zeros(mask.shape).masked_scatter(mask, entropies) if entropies is not None else None
        )
        normaliser = mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        return FusedCausalLMOutput(
            loss=-log_probs.sum() / normaliser, log_probs=log_probs, entropy=entropy, label_mask=mask
        )

    model.forward = forward
    try:
        yield
    finally:
        if had_own_forward:
            model.forward = previous
        else:
            del model.forward


class FusedGRPOLossMixin(_TrainerBase):
    """Makes a TRL `GRPOTrainer` compute its loss with `grpo_loss`, for those who compose their
    own trainer: `class Trainer(FusedGRPOLossMixin, GRPOTrainer): ...`. (modomodo's own
    `ModomodoGRPOTrainer` does the same through the same function.)

    The trainer still generates, scores, computes the advantages (its reward functions,
    weights, aggregation and logging are TRL's) and the per-token log-probabilities; the
    mixin's `_compute_loss` is `grpo_loss_for_trainer`, on any number of processes,
    accumulation steps and `steps_per_generation`. It logs what TRL logs.

    `fused_loss_backend` (class or instance attribute) is passed to `grpo_loss` as `backend`
    (default "auto": Triton on CUDA, the torch reference on CPU). Settings `grpo_loss` cannot
    run with (`fused_loss_unsupported`: other loss types, off-policy masking, entropy masking
    or bonus; with the Triton backend, cispo/sapo/luspo/vespo and vLLM's importance-sampling
    correction) raise ValueError at construction.
    """

    fused_loss_backend: str = "auto"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reasons = fused_loss_unsupported(self.args, self.fused_loss_backend)
        if reasons:
            raise ValueError(f"the fused GRPO loss cannot run with {'; '.join(reasons)}")

    def _compute_loss(self, model, inputs):
        return grpo_loss_for_trainer(self, model, inputs, backend=self.fused_loss_backend)


# The options of TRL 1.16's sapo and vespo objectives, under their GRPOConfig (and grpo_loss) names.
_SOFT_LOSS_OPTIONS = (
    "sapo_temperature_pos",
    "sapo_temperature_neg",
    "vespo_k_pos",
    "vespo_lambda_pos",
    "vespo_k_neg",
    "vespo_lambda_neg",
)
