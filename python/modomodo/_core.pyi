# Type stubs for the Rust extension module `modomodo._core`. Kept by hand and checked
# against the built module by tests/test_package.py (mypy.stubtest). Each section is owned by
# the Rust file named in its header.

__version__: str
__all__ = [
    "MixtureSamplerCore",
    "__version__",
    "accuracy_reward",
    "batch_floor",
    "bmas",
    "bmas_batch",
    "chart_reward",
    "extract_answer",
    "extract_answer_batch",
    "format_reward",
    "iou_reward",
    "math_answer_batch",
    "math_verdicts",
    "parse_boxes",
    "parse_boxes_batch",
]

# --- rust/python/src/rewards.rs ---------------------------------------------------------

from collections.abc import Sequence

def extract_answer(text: str) -> str | None: ...
def extract_answer_batch(texts: Sequence[str]) -> list[str | None]: ...
def format_reward(completions: Sequence[str], strict: bool = True) -> list[float]: ...
def batch_floor(completions: Sequence[str], solutions: Sequence[str] | None = None) -> list[float]: ...
def accuracy_reward(
    completions: Sequence[str], solutions: Sequence[str], kind: str = "auto", rel_tol: float = 1e-6
) -> list[float]: ...
def chart_reward(
    completions: Sequence[str], solutions: Sequence[str], rel_tol: float = 0.05
) -> list[float]: ...
def math_verdicts(
    completions: Sequence[str], solutions: Sequence[str], rel_tol: float = 1e-6
) -> list[int]: ...
def math_answer_batch(texts: Sequence[str]) -> list[str]: ...

# --- rust/python/src/boxes.rs -----------------------------------------------------------

from typing import Any

import numpy as np
from numpy.typing import NDArray

def parse_boxes(
    text: str, coords: str = "absolute", image_size: Sequence[float] | None = None
) -> list[tuple[float, float, float, float]]: ...
def parse_boxes_batch(
    texts: Sequence[str],
    coords: str = "absolute",
    image_sizes: Sequence[Sequence[float] | None] | None = None,
) -> list[list[tuple[float, float, float, float]]]: ...
def iou_reward(
    completions: Sequence[str],
    solutions: Sequence[Any],
    mode: str = "continuous",
    threshold: float = 0.5,
    coords: str = "absolute",
    image_sizes: Sequence[Sequence[float] | None] | None = None,
) -> list[float]: ...
def bmas(response: NDArray[np.float32], gold: NDArray[np.float32]) -> float: ...
def bmas_batch(
    responses: Sequence[NDArray[np.float32]], golds: Sequence[NDArray[np.float32]]
) -> list[float]: ...

# --- rust/python/src/sampler.rs ---------------------------------------------------------

from typing import final

@final
class MixtureSamplerCore:
    def __new__(
        cls,
        names: Sequence[str],
        sizes: Sequence[int],
        weights: Sequence[float],
        *,
        seed: int = 0,
        num_generations: int = 1,
        replacement: bool = False,
        on_exhausted: str = "reshuffle",
        rank: int = 0,
        world_size: int = 1,
        batch_size: int = 1,
        repeat_count: int = 1,
    ) -> MixtureSamplerCore: ...
    def begin_epoch(self) -> MixtureSamplerCore: ...
    def __iter__(self) -> MixtureSamplerCore: ...
    def __next__(self) -> int: ...
    def __len__(self) -> int: ...
    def draw(self, n: int) -> NDArray[np.int64]: ...
    def fill(self, out: NDArray[np.int64]) -> int: ...
    def skip(self, n: int) -> int: ...
    def set_epoch(self, epoch: int) -> None: ...
    def set_weights(self, weights: Sequence[float]) -> None: ...
    @property
    def weights(self) -> list[float]: ...
    @property
    def counts(self) -> list[int]: ...
    @property
    def dropped(self) -> list[bool]: ...
    @property
    def epoch(self) -> int: ...
    @property
    def epoch_pos(self) -> int: ...
    @property
    def global_draws(self) -> int: ...
    @property
    def infinite(self) -> bool: ...
    def domain_of(self, index: int) -> int: ...
    def state_json(self) -> str: ...
    def load_state_json(self, state: str) -> None: ...
