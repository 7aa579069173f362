"""modomodo: multi-domain RL with verifiable rewards for vision-language models.

Submodules (imported on demand, so that `import modomodo.rewards` does not load torch):
- `modomodo.rewards`: verifiable rewards (Rust), with TRL and verl adapters;
- `modomodo.sampling`: `MixtureSampler`, weighted multi-domain sampling (Rust);
- `modomodo.loss`: `grpo_loss`, fused group advantages and clipped objective (Triton / torch);
- `modomodo.data`: domain specs, loaders and the synthetic multi-domain suite;
- `modomodo.mixture`: seed mixtures, heuristics, surrogates and mixture search.
"""

from modomodo._core import __version__

__all__ = ["__version__"]
