"""Log-probabilities (and entropies) of chosen tokens from hidden states and an lm-head, in Triton.

Three layers, as `grpo_loss.py`: the kernels, their launchers (`linear_logps_forward`,
`linear_logps_backward`), and `LinearLogpsFunction` (a `torch.autograd.Function`);
`triton_linear_logps` is what `modomodo.loss.linear_logps(backend="triton")` calls. The
meaning is the plain rule in `modomodo.loss.linear_logps`'s docstring, and the chunked torch
path there (`modomodo.loss._LinearLogps`) computes the same numbers on the CPU.

The tokens are taken `chunk_size` at a time. For each chunk the launcher writes the chunk's
logits `hidden_chunk @ weight.T (+ bias)` into one reused (chunk_size, V) buffer with the
vendor matmul (cuBLAS), and a kernel reduces it:

- forward, `_linear_logps_fwd_kernel`, grid (tokens of the chunk,): one program per token
  walks its row of logits in blocks of BLOCK_V with an online log-sum-exp, keeping the
  running max m, s = sum exp(z - m) and a = sum exp(z - m) (z - m) (so that the entropy,
  log s - a / s, is built from differences to the max, without cancellation); it writes
  the token's log-prob z_t - log Z, log Z (for the backward) and the entropy.
- backward, `_linear_logps_bwd_kernel`, grid (tokens of the chunk, cdiv(V, BLOCK_V)): the
  launcher recomputes the chunk's logits into the buffer, and the kernel overwrites them
  in place with d loss / d logits = (g (1[v = t] - p_v) - g_H p_v (log p_v + H)) / T; two
  matmuls then give the chunk's rows of d hidden and its share of d weight (accumulated in
  float32).

So the largest temporary is one (chunk_size, V) buffer in the matmul dtype, and the
backward costs one more matmul than a full-logits backward (the recomputation).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

# torch.addmm(..., out_dtype=torch.float32) from bf16/fp16 inputs exists from torch 2.8, on CUDA.
_ADDMM_OUT_DTYPE = tuple(int(x) for x in torch.__version__.split(".")[:2]) >= (2, 8)

# Upper bound of the vocabulary block; tests lower it to exercise the loop over V.
MAX_BLOCK_V = 4096


# ---------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------


@triton.jit
def _linear_logps_fwd_kernel(
    LOGITS, TOKEN_IDS, LOGPS, LOG_Z, ENTROPY,
    stride_l, V, TEMPERATURE,
    HAS_ENTROPY: tl.constexpr, BLOCK_V: tl.constexpr,
):  # fmt: skip
    row = tl.program_id(0).to(tl.int64)
    LOGITS += row * stride_l
    m = -float("inf")
    s = 0.0
    a = 0.0  # sum exp(z - m) * (z - m)
    for off in tl.range(0, V, BLOCK_V):
        v = off + tl.arange(0, BLOCK_V)
        inb = v < V
        z = tl.load(LOGITS + v, mask=inb, other=-float("inf")).to(tl.float32) / TEMPERATURE
        new_m = tl.maximum(m, tl.max(z, axis=0))
        shift = m - new_m  # <= 0; -inf on the first block, where s = a = 0
        rescale = tl.exp(shift)
        e = tl.where(inb, tl.exp(z - new_m), 0.0)
        if HAS_ENTROPY:
            # terms exp(z - m)(z - m) re-expressed against the new max
            a = rescale * (a + tl.where(s > 0, shift, 0.0) * s) + tl.sum(
                e * tl.where(inb, z - new_m, 0.0), axis=0
            )
        s = s * rescale + tl.sum(e, axis=0)
        m = new_m
    log_z = m + tl.log(s)
    target = tl.load(TOKEN_IDS + row)
    z_t = tl.load(LOGITS + target).to(tl.float32) / TEMPERATURE
    tl.store(LOGPS + row, z_t - log_z)
    tl.store(LOG_Z + row, log_z)
    if HAS_ENTROPY:
        # H = -sum p log p with log p = (z - m) - log s
        tl.store(ENTROPY + row, tl.log(s) - a / s)


@triton.jit
def _linear_logps_bwd_kernel(
    LOGITS, TOKEN_IDS, LOG_Z, ENTROPY, GRAD_LOGPS, GRAD_ENTROPY,
    stride_l, V, TEMPERATURE,
    HAS_LOGPS_GRAD: tl.constexpr, HAS_ENTROPY_GRAD: tl.constexpr, BLOCK_V: tl.constexpr,
):  # fmt: skip
    row = tl.program_id(0).to(tl.int64)
    v = tl.program_id(1) * BLOCK_V + tl.arange(0, BLOCK_V)
    inb = v < V
    ptrs = LOGITS + row * stride_l + v
    log_p = tl.load(ptrs, mask=inb, other=0.0).to(tl.float32) / TEMPERATURE - tl.load(LOG_Z + row)
    p = tl.exp(log_p)
    grad = tl.zeros((BLOCK_V,), dtype=tl.float32)
    if HAS_LOGPS_GRAD:
        # d logp_t / dz_v = 1[v = t] - p_v
        g = tl.load(GRAD_LOGPS + row).to(tl.float32)
        is_target = v == tl.load(TOKEN_IDS + row)
        grad += g * (is_target.to(tl.float32) - p)
    if HAS_ENTROPY_GRAD:
        # d H / dz_v = -p_v (log p_v + H)
        g_h = tl.load(GRAD_ENTROPY + row).to(tl.float32)
        grad -= g_h * p * (log_p + tl.load(ENTROPY + row))
    grad = grad / TEMPERATURE
    tl.store(ptrs, grad.to(LOGITS.dtype.element_ty), mask=inb)


# ---------------------------------------------------------------------------------------
# Launchers
# ---------------------------------------------------------------------------------------


def _block_v(V: int) -> int:
    return min(triton.next_power_of_2(V), MAX_BLOCK_V)


def _num_warps(block: int) -> int:
    return 8 if block >= 2048 else 4 if block >= 512 else 1


def _chunk_logits(out, hidden_chunk, weight, bias) -> torch.Tensor:
    if bias is not None:
        return torch.addmm(bias, hidden_chunk, weight.t(), out=out)
    return torch.mm(hidden_chunk, weight.t(), out=out)


def _addmm_fp32(acc: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> None:
    """acc += a @ b into a float32 accumulator, without rounding a @ b to bf16/fp16 first."""
    if a.dtype == torch.float32:
        acc.addmm_(a, b.float())
    elif acc.is_cuda and _ADDMM_OUT_DTYPE:
        torch.addmm(acc, a, b, out_dtype=torch.float32, out=acc)
    else:
        acc.addmm_(a.float(), b.float())


def linear_logps_forward(hidden, weight, bias, token_ids, temperature, chunk_size, with_entropy, dtype):
    """Launch the matmul (in `dtype`) and the forward kernel chunk by chunk. (N, H) hidden, (N,)
    ids -> (logps, log_z, entropies or None), float32 (N,)."""
    n, vocab = hidden.shape[0], weight.shape[0]
    w = weight.to(dtype)
    b = bias.to(dtype) if bias is not None else None
    logps = torch.empty(n, dtype=torch.float32, device=hidden.device)
    log_z = torch.empty_like(logps)
    entropies = torch.empty_like(logps) if with_entropy else None
    buffer = torch.empty(min(n, chunk_size), vocab, dtype=dtype, device=hidden.device)
    block_v = _block_v(vocab)
    for start in range(0, n, chunk_size):
        end = min(start + chunk_size, n)
        logits = _chunk_logits(buffer[: end - start], hidden[start:end].to(dtype), w, b)
        _linear_logps_fwd_kernel[(end - start,)](
            logits, token_ids[start:end], logps[start:end], log_z[start:end],
            entropies[start:end] if with_entropy else log_z[start:end],
            logits.stride(0), vocab, temperature,
            HAS_ENTROPY=with_entropy, BLOCK_V=block_v, num_warps=_num_warps(block_v),
        )  # fmt: skip
    return logps, log_z, entropies


def linear_logps_backward(
    grad_logps, grad_entropies, hidden, weight, bias, token_ids, log_z, entropies, temperature, chunk_size,
    dtype, need_hidden=True, need_weight=True, need_bias=True,
):  # fmt: skip
    """Recompute each chunk's logits, turn them into d loss / d logits in place, and fold them
    into the gradients. Returns (d hidden, d weight, d bias), each None when not needed."""
    n, vocab = hidden.shape[0], weight.shape[0]
    w = weight.to(dtype)
    b = bias.to(dtype) if bias is not None else None
    grad_hidden = torch.empty_like(hidden) if need_hidden else None
    grad_weight = (
        torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_weight else None
    )
    grad_bias = (
        torch.zeros(vocab, dtype=torch.float32, device=weight.device)
        if need_bias and bias is not None
        else None
    )
    buffer = torch.empty(min(n, chunk_size), vocab, dtype=dtype, device=hidden.device)
    block_v = _block_v(vocab)
    placeholder = log_z  # never read when the flag is off
    for start in range(0, n, chunk_size):
        end = min(start + chunk_size, n)
        hidden_chunk = hidden[start:end].to(dtype)
        grad = _chunk_logits(buffer[: end - start], hidden_chunk, w, b)
        _linear_logps_bwd_kernel[(end - start, triton.cdiv(vocab, block_v))](
            grad, token_ids[start:end], log_z[start:end],
            entropies[start:end] if entropies is not None else placeholder,
            grad_logps[start:end] if grad_logps is not None else placeholder,
            grad_entropies[start:end] if grad_entropies is not None else placeholder,
            grad.stride(0), vocab, temperature,
            HAS_LOGPS_GRAD=grad_logps is not None, HAS_ENTROPY_GRAD=grad_entropies is not None,
            BLOCK_V=block_v, num_warps=_num_warps(block_v),
        )  # fmt: skip
        if grad_hidden is not None:
            grad_hidden[start:end] = grad @ w
        if grad_weight is not None:
            _addmm_fp32(grad_weight, grad.t(), hidden_chunk)
        if grad_bias is not None:
            grad_bias += grad.sum(0, dtype=torch.float32)
    return (
        grad_hidden,
        grad_weight.to(weight.dtype) if grad_weight is not None else None,
        grad_bias.to(bias.dtype) if grad_bias is not None else None,
    )


# ---------------------------------------------------------------------------------------
# autograd.Function
# ---------------------------------------------------------------------------------------


class LinearLogpsFunction(torch.autograd.Function):
    """(N, H) hidden, (V, H) weight, (V,) bias or None, (N,) ids -> (N,) logps, (N,) entropies or
    None; differentiable with respect to hidden, weight and bias."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, token_ids, temperature, chunk_size, with_entropy, dtype):
        ctx.set_materialize_grads(False)  # entropies are often logged only: no gradient to fold
        logps, log_z, entropies = linear_logps_forward(
            hidden, weight, bias, token_ids, temperature, chunk_size, with_entropy, dtype
        )
        ctx.save_for_backward(hidden, weight, bias, token_ids, log_z, entropies)
        ctx.temperature, ctx.chunk_size, ctx.dtype = temperature, chunk_size, dtype
        return logps, entropies

    @staticmethod
    def backward(ctx, grad_logps, grad_entropies):
        hidden, weight, bias, token_ids, log_z, entropies = ctx.saved_tensors
        need_hidden, need_weight, need_bias = ctx.needs_input_grad[:3]
        with torch.autocast(hidden.device.type, enabled=False):  # the matmuls in ctx.dtype, as forward
            grads = linear_logps_backward(
                grad_logps.contiguous() if grad_logps is not None else None,
                grad_entropies.contiguous() if grad_entropies is not None else None,
                hidden, weight, bias, token_ids, log_z, entropies, ctx.temperature, ctx.chunk_size, ctx.dtype,
                need_hidden=need_hidden, need_weight=need_weight, need_bias=need_bias,
            )  # fmt: skip
        return (*grads, None, None, None, None, None)


def triton_linear_logps(hidden, weight, bias, token_ids, temperature, chunk_size, with_entropy, dtype):
    """(logps, entropies or None) with the kernels; arguments as `modomodo.loss.linear_logps`
    (already checked there), hidden flattened to (N, H) and token_ids to (N,), `dtype` the
    matmul's. Called with autocast off."""
    return LinearLogpsFunction.apply(
        hidden, weight, bias, token_ids.contiguous(), temperature, chunk_size, with_entropy, dtype
    )
