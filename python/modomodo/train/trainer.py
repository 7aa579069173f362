"""The multi-domain GRPO trainer: `ModomodoGRPOTrainer`, TRL's `GRPOTrainer` with modomodo's
sampler, per-domain statistics, data engine and loss, and `make_trainer` that builds it for a run.

What it changes in TRL's `GRPOTrainer`, in the order of a training step:

- prompts are drawn by a `MixtureSampler` (`modomodo.sampling.trl_mixture_sampler`): the
  mixture, `stop` ending training at the first exhausted domain, resumable by replay;
- rewards and advantages are TRL's (here one `routed(spec)` function: each row scored by its
  own domain's rewards, with MoDoMoDo's format gate), called once per completion; the
  weighted reward of each completion (`modomodo.loss.weighted_rewards`) feeds the statistics;
- per-domain statistics and the optional data engine (groups that are all correct or all
  wrong are masked out of the loss, and counted) are the plain functions of
  `modomodo.train.domain_stats`, applied to the generation batch gathered from all processes;
- the loss is `grpo_loss` with the chosen backend (`grpo_loss_for_trainer`: everything read
  from TRL's batch, on any number of processes and accumulation steps, normalised as TRL
  does), or TRL's own (`loss_backend="trl"`, and the logged fall-back for `auto` where
  grpo_loss cannot run: see `modomodo.loss.fused_loss_unsupported`);
- with a `mixture_policy` (`weights: adaptive`), after each generation batch the policy
  observes the per-domain statistics of the gathered batch (`domain_stats.policy_stats`:
  the same on every process, so every process sets the same weights) and the sampler takes
  the weights it returns from its next draw (`MixtureSampler.set_weights`); the `target`
  policy's held-out reward is measured when it is due (`_target_reward`). Each change is
  recorded with the sampler's position (draws so far), so that a resumed run, which replays
  the stream from the start while the Trainer skips the batches already trained, sets the
  same weights at the same draws (`WeightSchedule`);
- checkpoints also hold `modomodo_state.json` (draws per domain, data-engine counts, the
  sampler's state, the mixture policy's state and its weight changes), written before TRL
  prunes older checkpoints, and a checkpoint is saved on Ctrl-C (`interrupt_callback`).

The per-token log-probabilities (of the policy in the loss, of the old policy and of the KL
reference) are all computed by one method, TRL's `_get_per_token_logps_and_entropies`; with a
grpo_loss backend (and `linear_logps=True`, the default) the model runs to its last hidden
states and `modomodo.loss.linear_logps` computes them (`linear_logps_head`) in place of
TRL's fused head.

Metrics (each logged once, under one name; evaluation logs carry TRL's `eval_` prefix):

- `domain/<d>/reward`: mean weighted reward of domain d's scorable completions this step;
- `domain/<d>/zero_std_frac`: fraction of d's groups whose rewards are all equal (no signal);
- `domain/<d>/draws`: prompts of d generated for so far in the run (cumulative, training);
- `data_engine/all_correct`, `data_engine/all_wrong`, `data_engine/kept`: groups this step
  (with `data_engine`);
- `mixture/weight/<d>`: d's weight in force at the step's log (adaptive runs);
- `mixture/target/reward`, `mixture/target/rows`, `mixture/target/seconds`: the `target`
  policy's held-out reward (mean normalised score), the rows scored and the seconds taken,
  at the steps where it was measured; `mixture/target/seconds_total`: all of them so far;
- from the `routed` reward function: `routed/<d>/<reward>`, the mean of each reward of d
  (`routed/<d>/format` is d's format pass rate);
- TRL's own: `loss`, `grad_norm`, `learning_rate`, `reward`, `reward_std`,
  `rewards/routed/mean`, `rewards/routed/std`, `frac_reward_zero_std`, `completions/*`,
  `num_tokens`, `entropy`, `kl` (beta != 0), `clip_ratio/*`, `step_time`, `epoch`.

`metrics_callback` appends every log to `DIR/metrics.jsonl`; with `draws_path` each generation
batch's domains and rows are appended to `DIR/draws.jsonl`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from trl import GRPOTrainer

from modomodo._io import atomic_write_json
from modomodo.loss import (
    BACKENDS,
    fused_loss_unsupported,
    grpo_loss_for_trainer,
    linear_logps_head,
    linear_logps_head_unsupported,
    weighted_rewards,
)
from modomodo.mixture.policies import MixturePolicy
from modomodo.sampling import MixtureSampler, trl_mixture_sampler
from modomodo.train.domain_stats import (
    DATA_ENGINE_COUNTS,
    data_engine_keep,
    domain_metrics,
    draw_metrics,
    draws_per_domain,
    policy_stats,
    weight_metrics,
)

logger = logging.getLogger(__name__)

STATE_FILE = "modomodo_state.json"
REWARD_NAME = "routed"  # the name of the one reward function: TRL logs rewards/routed/*, routed logs routed/*
LOSS_BACKENDS = ("trl", *BACKENDS)


def resolve_loss_backend(requested: str, args: Any) -> str:
    """The loss to train with: `trl` (TRL's own) or a `grpo_loss` backend (`auto`, `torch`,
    `triton`). `auto` is grpo_loss where it can run under `args` (a `GRPOConfig`; see
    `modomodo.loss.fused_loss_unsupported`) and TRL's own loss otherwise, with a warning; an
    explicit grpo_loss backend that cannot run is a ValueError."""
    if requested not in LOSS_BACKENDS:
        raise ValueError(f"invalid loss_backend {requested!r}: expected one of {list(LOSS_BACKENDS)}")
    reasons = [] if requested == "trl" else fused_loss_unsupported(args, requested)
    if not reasons:
        return requested
    if requested != "auto":
        raise ValueError(
            f"loss_backend={requested!r} (grpo_loss) cannot run with {'; '.join(reasons)}; expected 'auto' or 'trl'"
        )
    logger.warning("loss_backend auto: TRL's own loss (%s)", "; ".join(reasons))
    return "trl"


class WeightSchedule(torch.utils.data.Sampler[int]):
    """A `MixtureSampler` whose weight changes are recorded by stream position.

    `set_weights(w)` applies `w` from the sampler's next draw and records `(draws so far, w)`.
    A sampler replaying its stream from the start (a resumed run: the Trainer skips the
    batches already trained by drawing them again) is given the recorded `changes` and
    applies each one as the stream reaches its position, so it draws exactly what the
    original run drew. The sampler draws a whole chunk at once, and a change recorded at a
    position applies from the next chunk in both cases."""

    def __init__(
        self, sampler: MixtureSampler, changes: Sequence[tuple[int, Mapping[str, float]]] = ()
    ) -> None:
        self.sampler = sampler
        self.changes: list[tuple[int, dict[str, float]]] = [(int(p), dict(w)) for p, w in changes]
        self._replayed = 0  # changes already applied to this sampler

    def position(self) -> int:
        return sum(self.sampler.domain_counts.values())

    def set_weights(self, weights: Mapping[str, float]) -> None:
        self.sampler.set_weights(weights)
        self.changes.append((self.position(), dict(weights)))
        self._replayed = len(self.changes)

    def replay(self, changes: Sequence[tuple[int, Mapping[str, float]]]) -> None:
        """Sets the changes of an earlier run, to be applied while this sampler redraws its stream."""
        self.changes = [(int(p), dict(w)) for p, w in changes]
        self._replayed = 0

    def _catch_up(self) -> None:
        here = self.position()
        while self._replayed < len(self.changes) and self.changes[self._replayed][0] <= here:
            self.sampler.set_weights(self.changes[self._replayed][1])
            self._replayed += 1

    def __iter__(self):
        it = iter(self.sampler)
        while True:
            if self._replayed < len(self.changes):
                self._catch_up()
            try:
                yield next(it)
            except StopIteration:
                return

    def __len__(self) -> int:
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)


class ModomodoGRPOTrainer(GRPOTrainer):
    """TRL's `GRPOTrainer` for a multi-domain run (see the module docstring).

    Keyword arguments besides GRPOTrainer's:

    - `mixture_weights`, `domain_sizes`, `replacement`, `on_exhausted`: the `MixtureSampler`
      (`domain_sizes` by default from the dataset's `domain` column, which the trainer needs);
    - `loss_backend`: `trl` or a `grpo_loss` backend (`resolve_loss_backend`);
    - `linear_logps`: with a grpo_loss backend, compute the per-token log-probabilities with
      `modomodo.loss.linear_logps` (on by default; models it cannot serve keep TRL's head, logged);
    - `domain_max_reward`: domain -> best attainable reward ("all correct" for the data engine);
    - `data_engine`: drop groups that are all correct or all wrong;
    - `draws_path`: where to append each generation batch's domains and rows (JSON lines);
    - `mixture_policy`: a `modomodo.mixture.policies.MixturePolicy` over the sampler's
      domains, changing the weights after each generation batch (None: fixed weights);
    - `target_domains`: `(DomainSpec, rows)` pairs, the held-out rows of the `target`
      policy, scored greedily with up to `target_max_new_tokens` new tokens, in batches of
      `target_batch_size`, each process a share.
    """

    interrupt: Any = None  # the Ctrl-C callback, set by make_trainer

    def __init__(
        self,
        *args: Any,
        mixture_weights: Mapping[Any, float] | Sequence[float],
        domain_sizes: Mapping[Any, int] | Sequence[int] | None = None,
        replacement: bool = False,
        on_exhausted: str = "reshuffle",
        loss_backend: str = "auto",
        linear_logps: bool = True,
        domain_max_reward: Mapping[str, float] | None = None,
        data_engine: bool = False,
        draws_path: str | os.PathLike | None = None,
        mixture_policy: MixturePolicy | None = None,
        target_domains: Sequence[tuple[Any, Any]] = (),
        target_max_new_tokens: int = 64,
        target_batch_size: int = 64,
        **kwargs: Any,
    ) -> None:
        if data_engine and not domain_max_reward:
            raise ValueError(
                "data_engine=True needs domain_max_reward: expected domain -> best attainable reward"
            )
        if mixture_policy is not None and mixture_policy.needs_target and not target_domains:
            raise ValueError(
                f"mixture policy {mixture_policy.name!r} needs target_domains: expected held-out (spec, rows) pairs"
            )
        super().__init__(*args, **kwargs)
        self.loss_backend = resolve_loss_backend(loss_backend, self.args)
        self.linear_logps = bool(linear_logps) and self.loss_backend != "trl"
        reasons = linear_logps_head_unsupported(self.model) if self.linear_logps else []
        if reasons:
            logger.warning("linear_logps: TRL's fused head instead (%s)", "; ".join(reasons))
            self.linear_logps = False
        self._mixture_options: dict[str, Any] = {
            "weights": mixture_weights,
            "domain_sizes": domain_sizes,
            "replacement": replacement,
            "on_exhausted": on_exhausted,
        }
        self.mixture_sampler = self._mixture_sampler_for(self.train_dataset)
        self.mixture_policy = mixture_policy
        if mixture_policy is not None and set(mixture_policy.domains) != set(self.mixture_sampler.domains):
            raise ValueError(
                f"mixture policy over domains {list(mixture_policy.domains)}: expected the sampler's domains "
                f"{list(self.mixture_sampler.domains)}"
            )
        self.weight_schedule = WeightSchedule(self.mixture_sampler)
        self.target_domains = list(target_domains)
        self.target_max_new_tokens, self.target_batch_size = target_max_new_tokens, target_batch_size
        self.target_seconds = 0.0
        self.domain_max_reward = dict(domain_max_reward or {})
        self.data_engine = bool(data_engine)
        self.draws_path = Path(draws_path) if draws_path is not None else None
        self.domain_draws: dict[str, int] = dict.fromkeys(self.mixture_sampler.domains, 0)
        self.data_engine_counts: dict[str, int] = dict.fromkeys(DATA_ENGINE_COUNTS, 0)
        self._rewards_per_func: torch.Tensor | None = None

    # -- prompts: the mixture sampler ------------------------------------------------------

    def _mixture_sampler_for(self, dataset: Any) -> MixtureSampler:
        assert self.num_generations is not None  # GRPOConfig fills it in
        return trl_mixture_sampler(
            dataset,
            self.args,
            num_generations=self.num_generations,
            num_iterations=self.num_iterations,
            **self._mixture_options,
        )

    def _get_train_sampler(self, dataset: Any = None) -> MixtureSampler | WeightSchedule:
        # The Trainer passes the training set again, possibly as a new object with the same rows.
        if dataset is not None and len(dataset) != sum(self.mixture_sampler.domain_sizes.values()):
            return self._mixture_sampler_for(dataset)
        return self.mixture_sampler if self.mixture_policy is None else self.weight_schedule

    # -- rewards, per-domain statistics, data engine ---------------------------------------

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        # TRL's _generate_and_score_completions uses the rewards without returning them: they
        # are kept here for the method below, which turns them into the per-domain statistics.
        self._rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        return self._rewards_per_func

    def _generate_and_score_completions(self, inputs):
        from accelerate.utils import gather_object

        batch = super()._generate_and_score_completions(inputs)  # scores through _calculate_rewards
        assert self._rewards_per_func is not None
        # Every process's completions, in generation order (TRL gathers the rewards so); the
        # advantages in the batch are TRL's.
        rewards = weighted_rewards(self._rewards_per_func, self.reward_weights)
        self._rewards_per_func = None
        domains = gather_object([str(x["domain"]) for x in inputs])
        mode = "train" if self.model.training else "eval"
        group = self.num_generations if mode == "train" else self.num_generations_eval
        for name, value in domain_metrics(domains, rewards, group).items():
            self._metrics[mode][name].append(value)
        if mode == "train":
            for domain, n in draws_per_domain(domains, group).items():
                self.domain_draws[domain] = self.domain_draws.get(domain, 0) + n
            if self.data_engine:
                self._drop_uninformative_groups(batch, domains, rewards, group)
            if self.mixture_policy is not None:
                # TRL's advantages of the whole batch, in generation order (each process holds a slice).
                advantages = self.accelerator.gather(batch["advantages"].contiguous())
                self._update_mixture(policy_stats(domains, rewards, advantages.to(rewards.device), group))
            if self.draws_path is not None and "row_id" in inputs[0]:
                self._record_draws(domains, group, [int(x["row_id"]) for x in inputs])
        return batch

    # -- the adaptive mixture -------------------------------------------------------------

    def _update_mixture(self, stats) -> None:
        assert self.mixture_policy is not None
        target = None
        if self.mixture_policy.needs_target and self.mixture_policy.due():
            target = self._target_reward()
        before = dict(self.mixture_policy.weights)
        weights = self.mixture_policy.observe(stats, target_reward=target)
        if weights != before:
            self.weight_schedule.set_weights(weights)

    def _target_reward(self) -> float:
        """The mean normalised score of the greedy answers to the target rows (each process
        scores a share; the scores are gathered, so every process gets the same mean)."""
        from accelerate.utils import gather_object

        from modomodo.train.evaluate import generate_greedy, score_rows

        start = time.perf_counter()
        rank, world = self.accelerator.process_index, self.accelerator.num_processes
        model = self.accelerator.unwrap_model(self.model)
        scores: list[float] = []
        for spec, ds in self.target_domains:
            rows = [ds[i] for i in range(rank, len(ds), world)]
            if rows:
                completions = generate_greedy(
                    model, self.processing_class, rows,
                    batch_size=self.target_batch_size, max_new_tokens=self.target_max_new_tokens,
                )  # fmt: skip
                scores += score_rows(spec, rows, completions)
        everyone = gather_object(scores)
        seconds = time.perf_counter() - start
        self.target_seconds += seconds
        reward = sum(everyone) / len(everyone)
        for name, value in (("reward", reward), ("rows", len(everyone)), ("seconds", seconds)):
            self._metrics["train"][f"mixture/target/{name}"].append(float(value))
        return reward

    def _drop_uninformative_groups(
        self, batch: dict[str, Any], domains: list[str], rewards: torch.Tensor, group: int
    ) -> None:
        """The data engine: masks this process's rows of the groups `data_engine_keep` drops."""
        keep, counts = data_engine_keep(domains, rewards, group, self.domain_max_reward)
        for name, n in counts.items():
            self.data_engine_counts[name] += n
            self._metrics["train"][f"data_engine/{name}"].append(float(n))
        if keep.all():
            return
        completion_mask = batch["completion_mask"]
        n_local = completion_mask.size(0)  # TRL slices the gathered batch by process index
        start = self.accelerator.process_index * n_local
        keep_rows = keep.repeat_interleave(group)[start : start + n_local].to(completion_mask.device)
        batch["completion_mask"] = completion_mask * keep_rows.unsqueeze(1).to(completion_mask.dtype)
        mask = batch["completion_mask"]
        if "tool_mask" in batch:
            mask = mask * batch["tool_mask"]
        # DAPO normalises by the tokens left in the whole batch; never 0 (all groups dropped).
        batch["num_items_in_batch"] = self.accelerator.gather(mask.sum()).sum().clamp(min=1)

    def _record_draws(self, domains: list[str], group: int, local_rows: list[int]) -> None:
        """One JSON line per generation batch: the domain of each group (global order), the
        dataset rows each process received (to check resume and the ranks' shares) and, in an
        adaptive run, the weights each process set after the batch (they must agree)."""
        from accelerate.utils import gather_object

        weights = self.mixture_sampler.weights if self.mixture_policy is not None else None
        per_rank = gather_object([(self.accelerator.process_index, local_rows, weights)])
        if self.accelerator.is_main_process and self.draws_path is not None:
            record: dict[str, Any] = {
                "step": self.state.global_step,
                "domains": domains[::group],
                "rows": {str(rank): rows for rank, rows, _ in per_rank},
            }
            if weights is not None:
                record["weights"] = {str(rank): w for rank, _, w in per_rank}
            with self.draws_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")

    # -- the loss --------------------------------------------------------------------------

    def _get_per_token_logps_and_entropies(self, model, *args, compute_entropy=False, **kwargs):
        if not self.linear_logps:
            return super()._get_per_token_logps_and_entropies(
                model, *args, compute_entropy=compute_entropy, **kwargs
            )
        with linear_logps_head(
            self.accelerator.unwrap_model(model), temperature=self.temperature, backend=self.loss_backend,
            return_entropy=compute_entropy, cast_to_fp32=self.args.cast_lm_head_to_fp32,
        ):  # fmt: skip
            return super()._get_per_token_logps_and_entropies(
                model, *args, compute_entropy=compute_entropy, **kwargs
            )

    def _compute_loss(self, model, inputs):
        if self.loss_backend == "trl":
            return super()._compute_loss(model, inputs)
        return grpo_loss_for_trainer(self, model, inputs, backend=self.loss_backend)

    # -- logging and checkpoints -----------------------------------------------------------

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:  # the per-step training logs (evaluation logs eval_loss)
            logs.update(draw_metrics(self.domain_draws))
            if self.mixture_policy is not None:
                logs.update(weight_metrics(self.mixture_sampler.weights))
                if self.mixture_policy.needs_target:
                    logs["mixture/target/seconds_total"] = self.target_seconds
        super().log(logs, start_time)

    def _save_checkpoint(self, model, trial):
        # Written first: the Trainer prunes older checkpoints (save_total_limit) at the end of
        # its save, and a checkpoint without this file is not resumable (`rundir.checkpoint_problem`).
        if self.args.should_save:
            from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

            run_dir = Path(self._get_output_dir(trial=trial))
            folder = run_dir / f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
            folder.mkdir(parents=True, exist_ok=True)
            state = {
                "domain_draws": self.domain_draws,
                "data_engine_counts": self.data_engine_counts,
                "sampler": self.mixture_sampler.state_dict(),
            }
            if self.mixture_policy is not None:
                state["mixture_policy"] = self.mixture_policy.state_dict()
                state["mixture_changes"] = self.weight_schedule.changes
                state["mixture_target_seconds"] = self.target_seconds
            atomic_write_json(folder / STATE_FILE, state, indent=None)
        super()._save_checkpoint(model, trial)

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        # transformers' Trainer loads a checkpoint's raw safetensors keys, but save_pretrained
        # wrote them renamed to the hub layout (Qwen2.5-VL: `visual.*`, `model.layers.*`
        # instead of `model.visual.*`, `model.language_model.*`): nothing would load and
        # training would silently restart from the initial weights. from_pretrained maps them.
        target = model if model is not None else self.model
        folder = Path(resume_from_checkpoint)
        plain = any((folder / f).exists() for f in ("model.safetensors", "model.safetensors.index.json"))
        if not plain or self.is_fsdp_enabled or self.is_deepspeed_enabled or hasattr(target, "peft_config"):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        param = next(target.parameters())
        loaded = type(target).from_pretrained(str(folder), dtype=param.dtype)
        result = target.load_state_dict(loaded.state_dict(), strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise RuntimeError(
                f"checkpoint {str(folder)!r} does not match the model: missing {result.missing_keys[:5]}, "
                f"unexpected {result.unexpected_keys[:5]}"
            )
        del loaded

    def load_modomodo_state(self, checkpoint: str | os.PathLike) -> None:
        """Restores the draw and data-engine counts of `checkpoint` and the mixture policy's
        state (the sampler resumes by replay, with the weight changes of the run)."""
        path = Path(checkpoint) / STATE_FILE
        if path.exists():
            state = json.loads(path.read_text())
            self.domain_draws.update({k: int(v) for k, v in state.get("domain_draws", {}).items()})
            self.data_engine_counts.update(state.get("data_engine_counts", {}))
            if self.mixture_policy is not None:
                if "mixture_policy" not in state:
                    raise ValueError(
                        f"checkpoint {str(checkpoint)!r} has no mixture policy state: expected the checkpoint "
                        "of an adaptive run"
                    )
                self.mixture_policy.load_state_dict(state["mixture_policy"])
                self.weight_schedule.replay(state["mixture_changes"])
                self.target_seconds = float(state.get("mixture_target_seconds", 0.0))


# -- callbacks -----------------------------------------------------------------------------


def metrics_callback(path: str | os.PathLike):
    """A `TrainerCallback` appending each log of the main process to `path` (JSON lines)."""
    from transformers import TrainerCallback

    class MetricsJsonl(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            record = {"step": state.global_step, **{k: _plain(v) for k, v in logs.items()}}
            with Path(path).open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, allow_nan=False) + "\n")

    return MetricsJsonl()


def interrupt_callback():
    """A `TrainerCallback` that turns Ctrl-C (SIGINT) into a clean stop: the step under way
    finishes, a checkpoint is saved, training ends and `interrupted` is set. A second
    Ctrl-C interrupts at once. Across processes the flag is shared at each step end, so
    every rank stops at the same step."""
    import signal

    from transformers import TrainerCallback

    class GracefulInterrupt(TrainerCallback):
        def __init__(self) -> None:
            self.requested = False
            self.interrupted = False
            self._previous: Any = None

        def _handler(self, signum, frame):
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True
            logger.warning("Ctrl-C: finishing this step, then saving a checkpoint (Ctrl-C again to abort)")

        def on_train_begin(self, args, state, control, **kwargs):
            try:
                self._previous = signal.signal(signal.SIGINT, self._handler)
            except ValueError:  # not the main thread: leave signals alone
                self._previous = None

        def on_train_end(self, args, state, control, **kwargs):
            if self._previous is not None:
                signal.signal(signal.SIGINT, self._previous)
                self._previous = None

        def on_step_end(self, args, state, control, **kwargs):
            flag = self.requested
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                t = torch.tensor([1.0 if flag else 0.0])
                torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
                flag = bool(t.item() > 0)
            if flag:
                self.interrupted = True
                control.should_save = True
                control.should_training_stop = True
                control.should_log = True

    return GracefulInterrupt()


def _plain(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def make_trainer(
    *,
    model,
    processor,
    train_dataset,
    reward_spec: Mapping[str, Sequence[Mapping[str, Any]]],
    args,
    weights: Mapping[str, float],
    domain_sizes: Mapping[str, int],
    on_exhausted: str = "reshuffle",
    replacement: bool = False,
    loss_backend: str = "auto",
    linear_logps: bool = True,
    data_engine: bool = False,
    metrics_path: str | os.PathLike | None = None,
    draws_path: str | os.PathLike | None = None,
    embedder=None,
    callbacks: Sequence[Any] = (),
    mixture_policy: MixturePolicy | None = None,
    target_domains: Sequence[tuple[Any, Any]] = (),
    target_max_new_tokens: int = 64,
    target_batch_size: int = 64,
) -> ModomodoGRPOTrainer:
    """A ready `ModomodoGRPOTrainer` for a multi-domain run, rewarded by `routed(reward_spec)`.
    Its `interrupt` attribute is the Ctrl-C callback (`interrupt.interrupted` after train())."""
    from modomodo.rewards.trl import routed

    if embedder is None and any(e.get("name") == "bmas" for entries in reward_spec.values() for e in entries):
        from modomodo.rewards.bmas import TokenEmbedder

        embedder = TokenEmbedder(model, processor.tokenizer)
    # The per-domain reward is the trainer's domain/<d>/reward: routed logs only its parts.
    reward = routed(reward_spec, embedder=embedder, name=REWARD_NAME, log_totals=False)
    max_reward = {d: sum(float(e.get("weight", 1.0)) for e in entries) for d, entries in reward_spec.items()}
    interrupt = interrupt_callback()
    all_callbacks = [metrics_callback(metrics_path)] if metrics_path is not None else []
    all_callbacks += [interrupt, *callbacks]
    trainer = ModomodoGRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=train_dataset,
        processing_class=processor,
        callbacks=all_callbacks,
        mixture_weights=dict(weights),
        domain_sizes=dict(domain_sizes),
        replacement=replacement,
        on_exhausted=on_exhausted,
        loss_backend=loss_backend,
        linear_logps=linear_logps,
        domain_max_reward=max_reward,
        data_engine=data_engine,
        draws_path=draws_path,
        mixture_policy=mixture_policy,
        target_domains=target_domains,
        target_max_new_tokens=target_max_new_tokens,
        target_batch_size=target_batch_size,
    )
    trainer.interrupt = interrupt
    return trainer
