"""Triton kernels of modomodo (the one source of truth).

This folder is shipped inside the wheel as `modomodo.kernels`: each file here is
symlinked from `python/modomodo/kernels/` (maturin follows symlinked files, not folders).

- `grpo_loss`: the fused GRPO loss (group advantages + clipped objective, forward and
  backward) behind `modomodo.loss.grpo_loss(backend="triton")`.
- `linear_logps`: per-token log-probs and entropies from hidden states and the lm-head, one
  chunk of logits at a time (forward and backward), behind
  `modomodo.loss.linear_logps(backend="triton")`.

Submodules are imported on demand: importing this package does not import Triton.
"""
