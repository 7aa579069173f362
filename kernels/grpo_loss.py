"""Fused GRPO loss: group advantages and the clipped objective, in Triton.

Three layers, as in Liger-Kernel: the kernels, their launchers (`grpo_loss_forward`,
`grpo_loss_backward`), and `GRPOLossFunction` (a `torch.autograd.Function`);
`triton_grpo_loss` is what `modomodo.loss.grpo_loss(backend="triton")` calls. The meaning
(TRL 1.16's GRPOTrainer; one process and no accumulation, or, with the advantages and the
batch's normaliser given, a share of a larger batch) is spelled out in the torch
reference, `modomodo.loss._loss_torch`; the kernels compute the same numbers in fp32.

Launches:
- forward 1, `_grpo_loss_fwd_kernel`, grid (B,): one program per completion. It first
  computes its own advantage from the rewards of its group (or of the batch for
  `scale_rewards="batch"`), or reads it when the advantages are given, then streams its row
  of logps/old/ref/mask once, in blocks of BLOCK_T, accumulating per-row sums (loss, token
  count, KL, clip counts) into `row_stats`.
- forward 2, `_grpo_loss_reduce_kernel`, grid (1,): folds the B rows of `row_stats` into
  the loss (per loss type) and the metrics, in a fixed order (deterministic, no atomics).
- backward, `_grpo_loss_bwd_kernel`, grid (B, cdiv(T, BLOCK_T)): every token's gradient
  is independent given its row's advantage and statistics, so it parallelises over T too.

Why the advantages are fused into the loss kernel rather than computed by a first
kernel: a group's statistics need only G rewards (one vector load, G <= 64 in practice),
so recomputing them in each of the G programs of the group costs B*G cached loads of a
few bytes, while a separate pass costs one more launch (a few microseconds, which is the
whole cost of the loss at small B*T) plus a (B,) round trip through global memory. For
`scale_rewards="batch"` each program recomputes the batch statistics from all B rewards
(B*B loads, served from L2 since every program reads the same B floats).

Shapes: B rows of any length T (the kernels loop over T in power-of-two blocks, so T up
to 32k and beyond needs no giant block); any strides (non-contiguous inputs are read in
place); logps/old/ref in fp32, bf16 or fp16 and masks in bool/int/float, all accumulated
in fp32.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

LOSS_TYPES = {"grpo": 0, "bnpo": 1, "dr_grpo": 2, "dapo": 3}
# How the reduce kernel normalises the summed loss (its LOSS_TYPE): 0 the mean over rows of the
# row's token mean (grpo), 2 a given constant NORM (dr_grpo; dapo with a `loss_normalizer`),
# otherwise the batch's token count (bnpo, dapo).
DIVIDE_BY_NORM = 2
SCALE_REWARDS = {"none": 0, "group": 1, "batch": 2}
# Columns of the per-row statistics written by the forward kernel (constexpr: the kernels read
# them; a kernel may only read a global that is a `tl.constexpr`).
ROW_STATS = tl.constexpr(8)
ROW_LOSS, ROW_TOKENS, ROW_KL, ROW_LOW, ROW_HIGH, ROW_REGION, ROW_COEF, ROW_KL_RAW = (
    tl.constexpr(column) for column in range(ROW_STATS)
)
# low_mean, low_min, high_mean, high_max, region_mean, kl (modomodo.loss.METRIC_NAMES), then
# the batch's token count, which the backward of bnpo/dapo reads.
N_METRICS = 6
TOTAL_TOKENS = tl.constexpr(N_METRICS)
# Upper bounds of the blocks; tests lower MAX_BLOCK_T to exercise the loop over T.
MAX_BLOCK_T = 2048
MAX_BLOCK_B = 1024
FLT_MAX = tl.constexpr(3.4028234663852886e38)  # the largest finite float32


# ---------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------


@triton.jit
def _nan_to_num(x):
    # torch.nan_to_num(x, nan=0.0): NaN -> 0, +-inf -> the largest finite float32.
    x = tl.where(x != x, 0.0, x)
    return tl.minimum(tl.maximum(x, -FLT_MAX), FLT_MAX)


@triton.jit
def _nan_moments(X, stride, start, n, BLOCK: tl.constexpr):
    """(count, mean, sum of squared deviations) of the non-NaN values X[start:start+n]."""
    count = tl.zeros((BLOCK,), dtype=tl.float32)
    total = tl.zeros((BLOCK,), dtype=tl.float32)
    for off in tl.range(0, n, BLOCK):
        idx = off + tl.arange(0, BLOCK)
        x = tl.load(X + (start + idx) * stride, mask=idx < n, other=float("nan")).to(tl.float32)
        keep = x == x
        count += keep.to(tl.float32)
        total += tl.where(keep, x, 0.0)
    cnt = tl.sum(count, axis=0)
    mean = tl.sum(total, axis=0) / cnt  # NaN when every value is NaN, as torch.nanmean
    sq = tl.zeros((BLOCK,), dtype=tl.float32)
    for off in tl.range(0, n, BLOCK):
        idx = off + tl.arange(0, BLOCK)
        x = tl.load(X + (start + idx) * stride, mask=idx < n, other=float("nan")).to(tl.float32)
        d = x - mean
        sq += tl.where(x == x, d * d, 0.0)
    return cnt, mean, tl.sum(sq, axis=0)


@triton.jit
def _nan_std(cnt, ssq, n_total):
    # TRL's nanstd: Bessel-corrected, NaN below two values; TRL uses 0 when the whole
    # reduced dimension has a single element (num_generations == 1 or B == 1).
    var = (ssq / cnt) * (cnt / (cnt - 1.0))
    std = tl.where(cnt > 1.0, tl.sqrt(var), float("nan"))
    return tl.where(n_total > 1, std, 0.0)


@triton.jit
def _row_advantage(
    REWARDS, stride_r, row, B, G, SCALE: tl.constexpr, BLOCK_G: tl.constexpr, BLOCK_B: tl.constexpr
):
    r = tl.load(REWARDS + row * stride_r).to(tl.float32)
    g_cnt, g_mean, g_ssq = _nan_moments(REWARDS, stride_r, (row // G) * G, G, BLOCK_G)
    adv = r - g_mean
    if SCALE == 1:  # group
        adv = adv / (_nan_std(g_cnt, g_ssq, G) + 1e-4)
    elif SCALE == 2:  # batch
        b_cnt, b_mean, b_ssq = _nan_moments(REWARDS, stride_r, 0, B, BLOCK_B)
        adv = adv / (_nan_std(b_cnt, b_ssq, B) + 1e-4)
    return _nan_to_num(adv)


@triton.jit
def _clipped_objective(coef_1, adv, CLIP_LO, CLIP_HI, DELTA, HAS_DELTA: tl.constexpr):
    """-min(min(r, delta) * A, clamp(r, lo, hi) * A), and min(r, delta) for the clip metrics."""
    coef_2 = tl.minimum(tl.maximum(coef_1, CLIP_LO), CLIP_HI)
    if HAS_DELTA:
        coef_1 = tl.minimum(coef_1, DELTA)
    return -tl.minimum(coef_1 * adv, coef_2 * adv), coef_1


@triton.jit
def _clipped_objective_grad(coef_1, adv, CLIP_LO, CLIP_HI, DELTA, HAS_DELTA: tl.constexpr):
    """d/d(log r) of `_clipped_objective`, with autograd's conventions: clamp passes the
    gradient strictly inside its bounds, min splits it evenly on ties."""
    coef_2 = tl.minimum(tl.maximum(coef_1, CLIP_LO), CLIP_HI)
    pass_2 = (coef_1 > CLIP_LO).to(tl.float32) * (coef_1 < CLIP_HI).to(tl.float32)
    if HAS_DELTA:
        pass_1 = (coef_1 < DELTA).to(tl.float32)
        capped = tl.minimum(coef_1, DELTA)
    else:
        pass_1 = 1.0
        capped = coef_1
    l1 = capped * adv
    l2 = coef_2 * adv
    w1 = tl.where(l1 < l2, 1.0, tl.where(l1 == l2, 0.5, 0.0))
    return -(w1 * pass_1 + (1.0 - w1) * pass_2) * adv * coef_1


@triton.jit
def _k3(ref, logp):
    return tl.exp(ref - logp) - (ref - logp) - 1.0


@triton.jit
def _grpo_loss_fwd_kernel(
    LOGPS, OLD, REF, MASK, REWARDS, ADV, ROW,
    stride_lb, stride_lt, stride_ob, stride_ot, stride_fb, stride_ft, stride_mb, stride_mt, stride_r,
    B, T, G,
    CLIP_LO, CLIP_HI, DELTA, BETA,
    HAS_OLD: tl.constexpr, HAS_REF: tl.constexpr, HAS_DELTA: tl.constexpr, KL_IN_LOSS: tl.constexpr,
    BIAS_CORRECTION: tl.constexpr, SEQUENCE_LEVEL: tl.constexpr, SCALE: tl.constexpr,
    GIVEN_ADV: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_G: tl.constexpr, BLOCK_B: tl.constexpr,
):  # fmt: skip
    row = tl.program_id(0).to(tl.int64)
    if GIVEN_ADV:
        adv = tl.load(ADV + row)
    else:
        adv = _row_advantage(REWARDS, stride_r, row, B, G, SCALE, BLOCK_G, BLOCK_B)
        tl.store(ADV + row, adv)

    LOGPS += row * stride_lb
    OLD += row * stride_ob
    REF += row * stride_fb
    MASK += row * stride_mb
    acc_tokens = tl.zeros((BLOCK_T,), dtype=tl.float32)
    acc_kl = tl.zeros((BLOCK_T,), dtype=tl.float32)
    if SEQUENCE_LEVEL:
        # One ratio per row, from the masked mean of the log-ratios: a single pass suffices,
        # since the policy term is then constant along the row and the KL does not
        # depend on the ratio until the row's sums are known.
        acc_log_ratio = tl.zeros((BLOCK_T,), dtype=tl.float32)
        for off in tl.range(0, T, BLOCK_T):
            t = off + tl.arange(0, BLOCK_T)
            inb = t < T
            m = tl.load(MASK + t * stride_mt, mask=inb, other=0).to(tl.float32)
            logp = tl.load(LOGPS + t * stride_lt, mask=inb, other=0.0).to(tl.float32)
            acc_tokens += m
            if HAS_OLD:
                old = tl.load(OLD + t * stride_ot, mask=inb, other=0.0).to(tl.float32)
                acc_log_ratio += (logp - old) * m
            if HAS_REF:
                ref = tl.load(REF + t * stride_ft, mask=inb, other=0.0).to(tl.float32)
                acc_kl += _k3(ref, logp) * m
        tokens = tl.sum(acc_tokens, axis=0)
        coef_1 = tl.exp(tl.sum(acc_log_ratio, axis=0) / tl.maximum(tokens, 1.0))
        policy, capped = _clipped_objective(coef_1, adv, CLIP_LO, CLIP_HI, DELTA, HAS_DELTA)
        kl_raw = tl.sum(acc_kl, axis=0)
        kl = kl_raw * coef_1 if BIAS_CORRECTION else kl_raw
        loss = policy * tokens
        if KL_IN_LOSS:
            loss += BETA * kl
        low = (capped < CLIP_LO).to(tl.float32) * (adv < 0).to(tl.float32)
        high = (capped > CLIP_HI).to(tl.float32) * (adv > 0).to(tl.float32)
        region = tl.maximum(low, high)
    else:
        acc_loss = tl.zeros((BLOCK_T,), dtype=tl.float32)
        acc_low = tl.zeros((BLOCK_T,), dtype=tl.float32)
        acc_high = tl.zeros((BLOCK_T,), dtype=tl.float32)
        acc_region = tl.zeros((BLOCK_T,), dtype=tl.float32)
        for off in tl.range(0, T, BLOCK_T):
            t = off + tl.arange(0, BLOCK_T)
            inb = t < T
            m = tl.load(MASK + t * stride_mt, mask=inb, other=0).to(tl.float32)
            logp = tl.load(LOGPS + t * stride_lt, mask=inb, other=0.0).to(tl.float32)
            if HAS_OLD:
                old = tl.load(OLD + t * stride_ot, mask=inb, other=0.0).to(tl.float32)
                coef_1 = tl.exp(logp - old)
            else:
                coef_1 = tl.full((BLOCK_T,), 1.0, dtype=tl.float32)
            per_token, capped = _clipped_objective(coef_1, adv, CLIP_LO, CLIP_HI, DELTA, HAS_DELTA)
            if HAS_REF:
                ref = tl.load(REF + t * stride_ft, mask=inb, other=0.0).to(tl.float32)
                kl = _k3(ref, logp)
                if BIAS_CORRECTION:
                    kl = kl * coef_1
                acc_kl += kl * m
                if KL_IN_LOSS:
                    per_token += BETA * kl
            low = (capped < CLIP_LO).to(tl.float32) * (adv < 0).to(tl.float32)
            high = (capped > CLIP_HI).to(tl.float32) * (adv > 0).to(tl.float32)
            acc_tokens += m
            acc_loss += per_token * m
            acc_low += low * m
            acc_high += high * m
            acc_region += tl.maximum(low, high) * m
        tokens = tl.sum(acc_tokens, axis=0)
        loss = tl.sum(acc_loss, axis=0)
        kl = tl.sum(acc_kl, axis=0)
        kl_raw = kl
        low = tl.sum(acc_low, axis=0)
        high = tl.sum(acc_high, axis=0)
        region = tl.sum(acc_region, axis=0)
        coef_1 = 1.0

    ROW += row * ROW_STATS
    tl.store(ROW + ROW_LOSS, loss)
    tl.store(ROW + ROW_TOKENS, tokens)
    tl.store(ROW + ROW_KL, kl)
    tl.store(ROW + ROW_LOW, low)
    tl.store(ROW + ROW_HIGH, high)
    tl.store(ROW + ROW_REGION, region)
    tl.store(ROW + ROW_COEF, coef_1)
    tl.store(ROW + ROW_KL_RAW, kl_raw)


@triton.jit
def _grpo_loss_reduce_kernel(
    ROW, LOSS, METRICS, B, NORM,
    LOSS_TYPE: tl.constexpr, SEQUENCE_LEVEL: tl.constexpr, BLOCK_B: tl.constexpr,
):  # fmt: skip
    tokens = tl.zeros((BLOCK_B,), dtype=tl.float32)
    loss = tl.zeros((BLOCK_B,), dtype=tl.float32)
    kl = tl.zeros((BLOCK_B,), dtype=tl.float32)
    low = tl.zeros((BLOCK_B,), dtype=tl.float32)
    high = tl.zeros((BLOCK_B,), dtype=tl.float32)
    region = tl.zeros((BLOCK_B,), dtype=tl.float32)
    low_min = tl.full((BLOCK_B,), float("inf"), dtype=tl.float32)
    high_max = tl.full((BLOCK_B,), -float("inf"), dtype=tl.float32)
    rows_counted = tl.zeros((BLOCK_B,), dtype=tl.float32)
    for off in tl.range(0, B, BLOCK_B):
        b = off + tl.arange(0, BLOCK_B)
        inb = b < B
        n = tl.load(ROW + b * ROW_STATS + ROW_TOKENS, mask=inb, other=0.0)
        row_loss = tl.load(ROW + b * ROW_STATS + ROW_LOSS, mask=inb, other=0.0)
        row_low = tl.load(ROW + b * ROW_STATS + ROW_LOW, mask=inb, other=0.0)
        row_high = tl.load(ROW + b * ROW_STATS + ROW_HIGH, mask=inb, other=0.0)
        tokens += n
        if LOSS_TYPE == 0:  # grpo: mean over rows of the row's token mean
            loss += row_loss / tl.maximum(n, 1.0)
        else:
            loss += row_loss
        kl += tl.load(ROW + b * ROW_STATS + ROW_KL, mask=inb, other=0.0)
        low += row_low
        high += row_high
        region += tl.load(ROW + b * ROW_STATS + ROW_REGION, mask=inb, other=0.0)
        # TRL's clip_ratio/low_min and high_max: nanmin / nanmax over rows of the row's
        # clip fraction; at token level a fully masked row has fraction 0/0 and is skipped.
        if SEQUENCE_LEVEL:
            valid = inb
            low_frac = row_low
            high_frac = row_high
        else:
            valid = inb & (n != 0.0)
            low_frac = row_low / tl.where(valid, n, 1.0)
            high_frac = row_high / tl.where(valid, n, 1.0)
        low_min = tl.where(valid, tl.minimum(low_min, low_frac), low_min)
        high_max = tl.where(valid, tl.maximum(high_max, high_frac), high_max)
        rows_counted += valid.to(tl.float32)
    n_tokens = tl.sum(tokens, axis=0)
    if LOSS_TYPE == 0:
        total = tl.sum(loss, axis=0) / B
    elif LOSS_TYPE == 2:  # dr_grpo: NORM = B * max_completion_length
        total = tl.sum(loss, axis=0) / NORM
    else:  # bnpo, dapo: the batch's token count
        total = tl.sum(loss, axis=0) / tl.maximum(n_tokens, 1.0)
    tl.store(LOSS, total)
    if SEQUENCE_LEVEL:
        denom = tl.maximum(B * 1.0, 1.0)
    else:
        denom = tl.maximum(n_tokens, 1.0)
    any_row = tl.sum(rows_counted, axis=0) > 0
    # the metrics, in the order of METRIC_NAMES
    tl.store(METRICS + 0, tl.sum(low, axis=0) / denom)
    tl.store(METRICS + 1, tl.where(any_row, tl.min(low_min, axis=0), float("nan")))
    tl.store(METRICS + 2, tl.sum(high, axis=0) / denom)
    tl.store(METRICS + 3, tl.where(any_row, tl.max(high_max, axis=0), float("nan")))
    tl.store(METRICS + 4, tl.sum(region, axis=0) / denom)
    tl.store(METRICS + 5, tl.sum(kl, axis=0) / tl.maximum(n_tokens, 1.0))
    tl.store(METRICS + TOTAL_TOKENS, n_tokens)


@triton.jit
def _grpo_loss_bwd_kernel(
    DLOSS, DLOGPS, LOGPS, OLD, REF, MASK, ADV, ROW, METRICS,
    stride_lb, stride_lt, stride_ob, stride_ot, stride_fb, stride_ft, stride_mb, stride_mt,
    B, T, NORM,
    CLIP_LO, CLIP_HI, DELTA, BETA,
    HAS_OLD: tl.constexpr, HAS_REF: tl.constexpr, HAS_DELTA: tl.constexpr, KL_IN_LOSS: tl.constexpr,
    BIAS_CORRECTION: tl.constexpr, SEQUENCE_LEVEL: tl.constexpr, LOSS_TYPE: tl.constexpr,
    BLOCK_T: tl.constexpr,
):  # fmt: skip
    row = tl.program_id(0).to(tl.int64)
    t = tl.program_id(1) * BLOCK_T + tl.arange(0, BLOCK_T)
    inb = t < T
    adv = tl.load(ADV + row)
    tokens = tl.load(ROW + row * ROW_STATS + ROW_TOKENS)
    # weight = d loss / d (sum over the row of mask * per_token_loss)
    if LOSS_TYPE == 0:
        weight = 1.0 / (tl.maximum(tokens, 1.0) * B)
    elif LOSS_TYPE == 2:
        weight = 1.0 / NORM
    else:  # bnpo, dapo
        weight = 1.0 / tl.maximum(tl.load(METRICS + TOTAL_TOKENS), 1.0)
    weight = weight * tl.load(DLOSS).to(tl.float32)

    m = tl.load(MASK + row * stride_mb + t * stride_mt, mask=inb, other=0).to(tl.float32)
    logp = tl.load(LOGPS + row * stride_lb + t * stride_lt, mask=inb, other=0.0).to(tl.float32)
    if SEQUENCE_LEVEL:
        coef_1 = tl.load(ROW + row * ROW_STATS + ROW_COEF)
        # The row's loss is weight * (tokens * policy(coef_1) + beta * kl_raw * coef_1),
        # and d log(coef_1) / d logp_t = mask_t / max(tokens, 1).
        d_log_ratio = (
            weight * tokens * _clipped_objective_grad(coef_1, adv, CLIP_LO, CLIP_HI, DELTA, HAS_DELTA)
        )
        if KL_IN_LOSS:
            if BIAS_CORRECTION:
                d_log_ratio += weight * BETA * tl.load(ROW + row * ROW_STATS + ROW_KL_RAW) * coef_1
        grad = d_log_ratio * m / tl.maximum(tokens, 1.0)
        if KL_IN_LOSS:
            ref = tl.load(REF + row * stride_fb + t * stride_ft, mask=inb, other=0.0).to(tl.float32)
            d_kl = 1.0 - tl.exp(ref - logp)
            if BIAS_CORRECTION:
                d_kl = d_kl * coef_1
            grad += weight * BETA * d_kl * m
    else:
        if HAS_OLD:
            old = tl.load(OLD + row * stride_ob + t * stride_ot, mask=inb, other=0.0).to(tl.float32)
            coef_1 = tl.exp(logp - old)
        else:
            coef_1 = tl.full((BLOCK_T,), 1.0, dtype=tl.float32)
        grad = _clipped_objective_grad(coef_1, adv, CLIP_LO, CLIP_HI, DELTA, HAS_DELTA)
        if KL_IN_LOSS:
            ref = tl.load(REF + row * stride_fb + t * stride_ft, mask=inb, other=0.0).to(tl.float32)
            d_kl = 1.0 - tl.exp(ref - logp)
            if BIAS_CORRECTION:
                # d(kl * r)/dlogp = r * dkl/dlogp + kl * r, as d r / d logp = r
                d_kl = (d_kl + _k3(ref, logp)) * coef_1
            grad += BETA * d_kl
        grad = grad * weight * m
    tl.store(DLOGPS + row * T + t, grad.to(DLOGPS.dtype.element_ty), mask=inb)


# ---------------------------------------------------------------------------------------
# Launchers
# ---------------------------------------------------------------------------------------


def _block_t(T: int) -> int:
    return min(triton.next_power_of_2(max(T, 1)), MAX_BLOCK_T)


def _block_b(B: int) -> int:
    return min(triton.next_power_of_2(max(B, 1)), MAX_BLOCK_B)


def _num_warps(block: int) -> int:
    return 8 if block >= 2048 else 4 if block >= 512 else 1


def _mask_view(mask: torch.Tensor) -> torch.Tensor:
    # Triton reads a bool tensor as bytes; the view keeps the strides (no copy).
    return mask.view(torch.uint8) if mask.dtype == torch.bool else mask


def _flags(old_logps, ref_logps, beta, delta, use_bias_correction_kl, importance_sampling_level):
    return dict(
        HAS_OLD=old_logps is not None,
        HAS_REF=ref_logps is not None,
        HAS_DELTA=delta is not None,
        KL_IN_LOSS=beta != 0.0,
        BIAS_CORRECTION=bool(use_bias_correction_kl),
        SEQUENCE_LEVEL=importance_sampling_level == "sequence",
    )


def _clip_bounds(epsilon_low, epsilon_high, delta):
    # The bounds are computed in Python doubles and rounded to fp32 once, as torch does.
    return 1.0 - epsilon_low, 1.0 + epsilon_high, (delta if delta is not None else 0.0)


def _reduction(loss_type, max_completion_length, loss_normalizer, B, T):
    """(the reduce kernel's LOSS_TYPE, its NORM) for a loss type."""
    if loss_normalizer is not None:  # dapo's share of a larger batch
        return DIVIDE_BY_NORM, float(loss_normalizer)
    return LOSS_TYPES[loss_type], float(
        B * (max_completion_length if max_completion_length is not None else T)
    )


def grpo_loss_forward(
    logps, rewards, mask, old_logps, ref_logps, *, group_size, beta, epsilon_low, epsilon_high,
    delta, loss_type, importance_sampling_level, scale_rewards, max_completion_length,
    use_bias_correction_kl, loss_normalizer=None, advantages=None,
):  # fmt: skip
    """Launch the two forward kernels. Returns (loss, advantages, metrics, row_stats);
    `metrics` holds N_METRICS values then the batch's token count. With `advantages` (float32,
    contiguous) the kernel reads them and `rewards` is not read."""
    B, T = logps.shape
    device = logps.device
    old = old_logps if old_logps is not None else logps  # placeholders are never read
    ref = ref_logps if ref_logps is not None else logps
    mask = _mask_view(mask)
    given_advantages = advantages is not None
    if advantages is None:
        advantages = torch.empty(B, dtype=torch.float32, device=device)
    if rewards is None:
        rewards = advantages
    row_stats = torch.empty(B, ROW_STATS, dtype=torch.float32, device=device)
    loss = torch.empty((), dtype=torch.float32, device=device)
    metrics = torch.empty(N_METRICS + 1, dtype=torch.float32, device=device)
    clip_lo, clip_hi, delta_value = _clip_bounds(epsilon_low, epsilon_high, delta)
    flags = _flags(old_logps, ref_logps, beta, delta, use_bias_correction_kl, importance_sampling_level)
    block_t = _block_t(T)
    _grpo_loss_fwd_kernel[(B,)](
        logps, old, ref, mask, rewards, advantages, row_stats,
        logps.stride(0), logps.stride(1), old.stride(0), old.stride(1),
        ref.stride(0), ref.stride(1), mask.stride(0), mask.stride(1), rewards.stride(0),
        B, T, group_size,
        clip_lo, clip_hi, delta_value, beta,
        SCALE=SCALE_REWARDS[scale_rewards], GIVEN_ADV=given_advantages,
        BLOCK_T=block_t, BLOCK_G=triton.next_power_of_2(group_size or 1), BLOCK_B=_block_b(B),
        num_warps=_num_warps(block_t),
        **flags,
    )  # fmt: skip
    reduction, norm = _reduction(loss_type, max_completion_length, loss_normalizer, B, T)
    _grpo_loss_reduce_kernel[(1,)](
        row_stats, loss, metrics, B, norm,
        LOSS_TYPE=reduction, SEQUENCE_LEVEL=flags["SEQUENCE_LEVEL"],
        BLOCK_B=_block_b(B), num_warps=4,
    )  # fmt: skip
    return loss, advantages, metrics, row_stats


def grpo_loss_backward(
    dloss, logps, old_logps, ref_logps, mask, advantages, row_stats, metrics, *, beta, epsilon_low,
    epsilon_high, delta, loss_type, importance_sampling_level, max_completion_length,
    use_bias_correction_kl, loss_normalizer=None, **_unused,
):  # fmt: skip
    """Launch the backward kernel. Returns d loss / d logps, contiguous, in logps' dtype."""
    B, T = logps.shape
    old = old_logps if old_logps is not None else logps
    ref = ref_logps if ref_logps is not None else logps
    mask = _mask_view(mask)
    dlogps = torch.empty((B, T), dtype=logps.dtype, device=logps.device)
    clip_lo, clip_hi, delta_value = _clip_bounds(epsilon_low, epsilon_high, delta)
    flags = _flags(old_logps, ref_logps, beta, delta, use_bias_correction_kl, importance_sampling_level)
    reduction, norm = _reduction(loss_type, max_completion_length, loss_normalizer, B, T)
    block_t = min(_block_t(T), 1024)
    _grpo_loss_bwd_kernel[(B, triton.cdiv(T, block_t))](
        dloss.reshape(()).to(torch.float32), dlogps, logps, old, ref, mask, advantages, row_stats, metrics,
        logps.stride(0), logps.stride(1), old.stride(0), old.stride(1),
        ref.stride(0), ref.stride(1), mask.stride(0), mask.stride(1),
        B, T, norm,
        clip_lo, clip_hi, delta_value, beta,
        LOSS_TYPE=reduction,
        BLOCK_T=block_t, num_warps=_num_warps(block_t),
        **flags,
    )  # fmt: skip
    return dlogps


# ---------------------------------------------------------------------------------------
# autograd.Function
# ---------------------------------------------------------------------------------------


class GRPOLossFunction(torch.autograd.Function):
    """Loss, advantages and metrics from the fused kernels; gradient with respect to logps only."""

    @staticmethod
    def forward(ctx, logps, rewards, mask, old_logps, ref_logps, given_advantages, options):
        loss, advantages, metrics, row_stats = grpo_loss_forward(
            logps, rewards, mask, old_logps, ref_logps, advantages=given_advantages, **options
        )
        ctx.save_for_backward(logps, old_logps, ref_logps, mask, advantages, row_stats, metrics)
        ctx.options = options
        ctx.mark_non_differentiable(advantages, metrics)
        return loss, advantages, metrics

    @staticmethod
    def backward(ctx, dloss, _dadvantages, _dmetrics):
        logps, old_logps, ref_logps, mask, advantages, row_stats, metrics = ctx.saved_tensors
        dlogps = grpo_loss_backward(
            dloss, logps, old_logps, ref_logps, mask, advantages, row_stats, metrics, **ctx.options
        )
        return dlogps, None, None, None, None, None, None


def triton_grpo_loss(logps, rewards, mask, old_logps=None, ref_logps=None, advantages=None, **options):
    """(loss, advantages, metrics) with the fused kernels; arguments as `modomodo.loss.grpo_loss`
    (already checked there: `rewards` or `advantages`). `metrics` is a (6,) tensor in the order
    of `modomodo.loss.METRIC_NAMES`."""
    if old_logps is not None:
        old_logps = old_logps.detach()
    if ref_logps is not None:
        ref_logps = ref_logps.detach()
    if rewards is not None:
        rewards = rewards.detach().to(torch.float32)
    if advantages is not None:
        advantages = advantages.detach().to(torch.float32).contiguous()
    loss, advantages, metrics = GRPOLossFunction.apply(
        logps, rewards, mask.detach(), old_logps, ref_logps, advantages, options
    )
    return loss, advantages, metrics[:N_METRICS]
