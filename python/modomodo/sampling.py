"""Weighted multi-domain sampling: `MixtureSampler` (Rust) and its drop-in for TRL.

A draw picks a domain by its weight, then an example of it: the next one of a seeded
permutation of that domain (without replacement) or a uniform one (with replacement). The
sampler yields indices into the concatenation of the domains, in the order given, so the
dataset it indexes is `concatenate_datasets([domain_0, domain_1, ...])`.

Streams. Every rank replays one global stream of draws (same seed everywhere) and takes its
own share of it, so `world_size` processes together see exactly what one process would, and
no communication is needed. The stream is cut into chunks of `batch_size × world_size` draws;
rank `r` owns the `r`-th block of `batch_size` draws of each chunk and yields that block
`repeat_count` times, each draw `num_generations` times in a row. With the defaults
(`batch_size = repeat_count = 1`) that is: each draw `num_generations` times, ranks taking
draws round-robin. With `batch_size = generation_batch_size / num_generations` and
`repeat_count = num_iterations × steps_per_generation` it is exactly the layout of TRL's
`RepeatSampler`, which is what `MixtureSamplerMixin` uses. A group is never split across ranks,
and only whole chunks are yielded.

Epochs and `len()`. With `on_exhausted="stop"` or `"drop"` (and no replacement) the stream is
finite: one iteration yields all of it and `len()` is its exact length (computed by replaying
the domain choices). Otherwise the stream never ends and is cut into epochs of one nominal
pass over the positive-weight domains (rounded down to whole chunks, at least one): each
`iter()` yields the rest of the current epoch, or the next epoch if the current one is done.

`stop` in training: the iteration ends right after the draw that takes the last unseen example
of any domain (MoDoMoDo). A trainer must then stop: Hugging Face's Trainer does so when a new
epoch yields nothing ("There seems not to be a single sample in your epoch_iterator").
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Sampler

from modomodo._core import MixtureSamplerCore

__all__ = [
    "MixtureSampler",
    "MixtureSamplerMixin",
    "MixtureGRPOTrainer",  # noqa: F822 (module __getattr__: imports TRL when asked for)
    "domain_sizes_of",
    "trl_mixture_sampler",
]

ON_EXHAUSTED = ("reshuffle", "stop", "drop")


def _int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"invalid {name} {value!r}: expected an integer >= {minimum}") from None
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
        raise ValueError(f"invalid {name} {number}: expected {bound}")
    return number


def _float(name: str, value: Any) -> float:
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"invalid {name} {value!r}: expected a finite number >= 0") from None


def _domains(domain_sizes: Mapping[Any, int] | Sequence[int]) -> tuple[list[str], list[int]]:
    if isinstance(domain_sizes, Mapping):
        items = [(str(name), size) for name, size in domain_sizes.items()]
    elif isinstance(domain_sizes, (str, bytes)) or not isinstance(domain_sizes, Sequence | np.ndarray):
        raise ValueError(
            f"invalid domain_sizes {domain_sizes!r}: expected a sequence of sizes or a mapping from domain name to size"
        )
    else:
        items = [(str(i), size) for i, size in enumerate(domain_sizes)]
    if not items:
        raise ValueError("invalid domain_sizes []: expected at least one domain")
    names = [name for name, _ in items]
    if len(set(names)) != len(names):
        raise ValueError(f"invalid domain_sizes {domain_sizes!r}: expected distinct domain names")
    sizes = [_int(f"size of domain {name!r}", size, 0) for name, size in items]
    return names, sizes


def _weights(names: list[str], weights: Mapping[Any, float] | Sequence[float]) -> list[float]:
    """Weights in domain order. A mapping may leave domains out (weight 0) but may not name
    an unknown one."""
    if isinstance(weights, Mapping):
        out = [0.0] * len(names)
        position = {name: i for i, name in enumerate(names)}
        for key, value in weights.items():
            name = str(key)
            if name not in position:
                raise ValueError(f"invalid weight for unknown domain {key!r}: expected one of {names}")
            out[position[name]] = _float(f"weight of domain {name!r}", value)
        return out
    if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence | np.ndarray):
        raise ValueError(
            f"invalid weights {weights!r}: expected a sequence of weights or a mapping from domain name to weight"
        )
    if len(weights) != len(names):
        raise ValueError(f"invalid weights {list(weights)!r}: expected {len(names)} weights, one per domain")
    return [_float(f"weight of domain {name!r}", w) for name, w in zip(names, weights)]


class MixtureSampler(Sampler[int]):
    """Indices into the concatenation of `domain_sizes`, drawn by `weights` (see the module).

    `domain_sizes` and `weights` are sequences (domains named "0", "1", ...) or mappings
    keyed by domain name (a weights mapping may leave domains out: weight 0). `batch_size`
    and `repeat_count` have the meaning of TRL's `RepeatSampler` (defaults: plain draws).

    Iterating pulls one index at a time from Rust (the state is exact after every index);
    `draw(n)` returns the next `n` as an int64 array in one call.
    """

    def __init__(
        self,
        domain_sizes: Mapping[Any, int] | Sequence[int],
        weights: Mapping[Any, float] | Sequence[float],
        *,
        seed: int = 0,
        num_generations: int = 1,
        replacement: bool = False,
        on_exhausted: str = "reshuffle",
        rank: int = 0,
        world_size: int = 1,
        batch_size: int = 1,
        repeat_count: int = 1,
    ) -> None:
        names, sizes = _domains(domain_sizes)
        if on_exhausted not in ON_EXHAUSTED:
            raise ValueError(f"invalid on_exhausted {on_exhausted!r}: expected one of {list(ON_EXHAUSTED)}")
        world_size = _int("world_size", world_size, 1)
        rank = _int("rank", rank, 0)
        if rank >= world_size:
            raise ValueError(
                f"invalid rank {rank}: expected an integer in [0, {world_size - 1}] (world_size is {world_size})"
            )
        self._core = MixtureSamplerCore(
            names,
            sizes,
            _weights(names, weights),
            seed=_int("seed", seed, 0, 2**64 - 1),
            num_generations=_int("num_generations", num_generations, 1),
            replacement=bool(replacement),
            on_exhausted=on_exhausted,
            rank=rank,
            world_size=world_size,
            batch_size=_int("batch_size", batch_size, 1),
            repeat_count=_int("repeat_count", repeat_count, 1),
        )
        self.domains: tuple[str, ...] = tuple(names)
        self.domain_sizes: dict[str, int] = dict(zip(names, sizes))
        self.seed = seed
        self.num_generations = num_generations
        self.replacement = bool(replacement)
        self.on_exhausted = on_exhausted
        self.rank = rank
        self.world_size = world_size
        self.batch_size = batch_size
        self.repeat_count = repeat_count
        self._offsets = np.cumsum([0, *sizes])

    # -- the stream -------------------------------------------------------------------

    def __iter__(self) -> Iterator[int]:
        # The Rust object is the iterator: no Python frame per index.
        return self._core.begin_epoch()

    def __len__(self) -> int:
        """Indices in the current epoch (a finite stream: all of it, exactly)."""
        return len(self._core)

    def draw(self, n: int) -> np.ndarray:
        """The next `n` indices (across epochs) as int64; shorter only if a finite stream ends."""
        return self._core.draw(_int("n", n, 0))

    def fill(self, out: np.ndarray) -> int:
        """Writes the next indices into a contiguous int64 array (reused, nothing allocated);
        returns how many were written, fewer than `len(out)` only if a finite stream ends."""
        if not isinstance(out, np.ndarray) or out.dtype != np.int64 or out.ndim != 1:
            raise ValueError(f"invalid out {type(out).__name__}: expected a 1-d int64 NumPy array")
        return self._core.fill(out)

    def set_epoch(self, epoch: int) -> None:
        """Moves forward to the start of `epoch` (never back), as if the epochs before had been
        iterated. Hugging Face's Trainer calls it at each epoch, which makes its resume (a
        fresh sampler, then skipping the batches already trained) replay the exact stream."""
        self._core.set_epoch(_int("epoch", epoch, 0))

    @property
    def epoch(self) -> int:
        return self._core.epoch

    @property
    def exhausted(self) -> bool:
        """True once a finite stream has nothing left."""
        return not self._core.infinite and len(self._core) == self._core.epoch_pos

    # -- weights and logging ----------------------------------------------------------

    @property
    def weights(self) -> dict[str, float]:
        """Current weights by domain, normalised to sum 1."""
        return dict(zip(self.domains, self._core.weights))

    def set_weights(self, weights: Mapping[Any, float] | Sequence[float]) -> None:
        """New weights (same rules as the constructor), used from the next draw on. With
        `batch_size > 1` the draws of a chunk already begun were made with the old ones;
        under `drop`, dropped domains stay dropped."""
        self._core.set_weights(_weights(list(self.domains), weights))

    def domain_of(self, index: int) -> str:
        """Name of the domain whose block of the concatenation holds `index`."""
        total = int(self._offsets[-1])
        i = _int("index", index, 0)
        if i >= total:
            raise ValueError(f"invalid index {i}: expected an index in [0, {total})")
        return self.domains[self._core.domain_of(i)]

    def domains_of(self, indices: Sequence[int] | np.ndarray) -> list[str]:
        """`domain_of` for many indices at once."""
        idx = np.asarray(indices, dtype=np.int64)
        total = int(self._offsets[-1])
        if idx.size and (idx.min() < 0 or idx.max() >= total):
            bad = int(idx[(idx < 0) | (idx >= total)][0])
            raise ValueError(f"invalid index {bad}: expected an index in [0, {total})")
        positions = np.searchsorted(self._offsets, idx, side="right") - 1
        return [self.domains[p] for p in positions]

    @property
    def domain_counts(self) -> dict[str, int]:
        """Draws made so far for this rank, by domain (a draw counts once, however many times
        it is repeated). Under a DataLoader these run ahead of training by its prefetch."""
        return dict(zip(self.domains, self._core.counts))

    @property
    def dropped(self) -> tuple[str, ...]:
        """Domains removed by `on_exhausted="drop"`."""
        return tuple(name for name, gone in zip(self.domains, self._core.dropped) if gone)

    # -- state ------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The exact state (plain JSON types): loading it into a sampler built with the same
        arguments continues the identical stream, weights changes and epoch included."""
        return json.loads(self._core.state_json())

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if not isinstance(state, Mapping):
            raise ValueError(f"invalid state {type(state).__name__}: expected the dict from state_dict()")
        self._core.load_state_json(json.dumps(dict(state)))

    def __repr__(self) -> str:
        weights = ", ".join(f"{d}: {w:.4g}" for d, w in self.weights.items())
        return (
            f"MixtureSampler({{{weights}}}, sizes={list(self.domain_sizes.values())}, seed={self.seed}, "
            f"num_generations={self.num_generations}, on_exhausted={self.on_exhausted!r}, "
            f"rank={self.rank}/{self.world_size})"
        )


def domain_sizes_of(dataset: Any, column: str = "domain") -> dict[str, int]:
    """Sizes of the domains of a dataset that is a concatenation of domains: the `column`
    values must form one contiguous block per domain. Sizes are in order of appearance."""
    try:
        values = dataset[column]
    except (KeyError, ValueError, TypeError):
        raise ValueError(f"invalid dataset: expected a {column!r} column naming each row's domain") from None
    sizes: dict[str, int] = {}
    previous = None
    for row, value in enumerate(values):
        name = str(value)
        if name != previous and name in sizes:
            raise ValueError(
                f"invalid dataset: the rows of domain {name!r} are not contiguous (again at row {row}); "
                "concatenate the domains one after another"
            )
        sizes[name] = sizes.get(name, 0) + 1
        previous = name
    if not sizes:
        raise ValueError("invalid dataset: expected at least one row")
    return sizes


def trl_mixture_sampler(
    dataset: Any,
    args: Any,
    *,
    num_generations: int,
    num_iterations: int,
    weights: Mapping[Any, float] | Sequence[float],
    domain_sizes: Mapping[Any, int] | Sequence[int] | None = None,
    replacement: bool = False,
    on_exhausted: str = "reshuffle",
) -> MixtureSampler:
    """The `MixtureSampler` that stands in for TRL's `RepeatSampler` in a `GRPOTrainer`
    configured by `args` (a `GRPOConfig`), over `dataset` (the concatenation of the domains;
    `domain_sizes` by default read from its `domain` column): the same global stream on every
    process (seed `args.seed`), each draw repeated `num_generations` times, chunks of
    `generation_batch_size / num_generations` draws each yielded
    `num_iterations × steps_per_generation` times."""
    sizes = domain_sizes_of(dataset) if domain_sizes is None else domain_sizes
    total = sum(sizes.values()) if isinstance(sizes, Mapping) else sum(sizes)
    if total != len(dataset):
        raise ValueError(
            f"invalid domain_sizes {sizes!r}: they add up to {total} but the dataset has {len(dataset)} rows"
        )
    return MixtureSampler(
        sizes,
        weights,
        seed=args.seed,
        num_generations=num_generations,
        replacement=replacement,
        on_exhausted=on_exhausted,
        batch_size=args.generation_batch_size // num_generations,
        repeat_count=num_iterations * args.steps_per_generation,
    )


class MixtureSamplerMixin:
    """Makes a TRL `GRPOTrainer` draw its prompts with a `MixtureSampler`, for those who compose
    their own trainer: `class MyTrainer(MixtureSamplerMixin, GRPOTrainer)` (or use
    `MixtureGRPOTrainer`). modomodo's own `ModomodoGRPOTrainer` does the same through the same
    functions. Extra keyword arguments:

    - `mixture_weights`: weights by domain name (a mapping; missing domains get 0) or in
      domain order;
    - `domain_sizes`: the sizes of the domains in the order they are concatenated in
      `train_dataset`; by default read from its `domain` column (`domain_sizes_of`);
    - `replacement`, `on_exhausted`: as in `MixtureSampler`.

    It replaces TRL's `RepeatSampler` one for one (`trl_mixture_sampler`), and Accelerate
    splits each chunk across processes as it does for `RepeatSampler`. The sampler is
    `self.mixture_sampler`: call its `set_weights` to change the mixture during training. When
    the dataset has a `domain` column, the prompts of each domain the trainer has generated
    for so far are logged as `domain/<domain>/draws` (the sampler's own `domain_counts` run
    ahead by what the DataLoader prefetched). With `on_exhausted="stop"` the epoch ends when a
    domain runs out and training stops at the start of the next epoch.

    Resuming with `trainer.train(resume_from_checkpoint=...)` replays the same stream
    (`set_epoch`, then the Trainer skips the batches already trained) as long as the weights
    were not changed during the run; if they were, restore `mixture_sampler.load_state_dict`
    from a saved `state_dict()` and set `ignore_data_skip=True`.
    """

    mixture_sampler: MixtureSampler
    domain_draws: dict[str, int]
    # Provided by the GRPOTrainer this is mixed into.
    args: Any
    model: Any
    train_dataset: Any
    num_generations: Any
    num_iterations: Any

    def __init__(
        self,
        *args: Any,
        mixture_weights: Mapping[Any, float] | Sequence[float],
        domain_sizes: Mapping[Any, int] | Sequence[int] | None = None,
        replacement: bool = False,
        on_exhausted: str = "reshuffle",
        **kwargs: Any,
    ) -> None:
        self._mixture_options: dict[str, Any] = {
            "weights": mixture_weights,
            "domain_sizes": domain_sizes,
            "replacement": replacement,
            "on_exhausted": on_exhausted,
        }
        super().__init__(*args, **kwargs)
        self.mixture_sampler = self._mixture_sampler_for(self.train_dataset)
        self.domain_draws = dict.fromkeys(self.mixture_sampler.domains, 0)

    def _mixture_sampler_for(self, dataset: Any) -> MixtureSampler:
        return trl_mixture_sampler(
            dataset,
            self.args,
            num_generations=self.num_generations,
            num_iterations=self.num_iterations,
            **self._mixture_options,
        )

    def _get_train_sampler(self, dataset: Any = None) -> MixtureSampler:
        # The Trainer passes the training set again, possibly as a new object with the same rows.
        if dataset is not None and len(dataset) != sum(self.mixture_sampler.domain_sizes.values()):
            return self._mixture_sampler_for(dataset)
        return self.mixture_sampler

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)  # type: ignore[misc]
        if self.model.training and "domain" in inputs[0]:
            from accelerate.utils import gather_object

            from modomodo.train.domain_stats import draws_per_domain

            domains = gather_object([str(x["domain"]) for x in inputs])
            for domain, n in draws_per_domain(domains, self.num_generations).items():
                self.domain_draws[domain] = self.domain_draws.get(domain, 0) + n
        return output

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # the per-step training logs (evaluation logs eval_loss)
            from modomodo.train.domain_stats import draw_metrics

            logs.update(draw_metrics(self.domain_draws))
        super().log(logs, start_time)  # type: ignore[misc]


def __getattr__(name: str) -> Any:
    # `MixtureGRPOTrainer` imports TRL only when asked for.
    if name == "MixtureGRPOTrainer":
        from trl import GRPOTrainer

        class MixtureGRPOTrainer(MixtureSamplerMixin, GRPOTrainer):
            """TRL's `GRPOTrainer` with `MixtureSamplerMixin`: `MixtureGRPOTrainer(..., mixture_weights=...)`."""

        MixtureGRPOTrainer.__qualname__ = name
        globals()[name] = MixtureGRPOTrainer
        return MixtureGRPOTrainer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
