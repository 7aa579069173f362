"""The multi-domain GRPO trainer: TRL's `GRPOTrainer` with modomodo's sampler, rewards and loss.

`make_trainer(...)` assembles a `GRPOTrainer` subclass from mixins, outermost first:

- `MultiDomainMixin` (here): per-domain logging (draws, reward, format pass rate, fraction
  of zero-variance groups; the per-reward means come from `routed`), the optional data
  engine (drop groups that are all correct or all wrong, counted), `DIR/metrics.jsonl`,
  the per-domain draw counts kept in checkpoints, and a checkpoint on Ctrl-C;
- `modomodo.sampling.MixtureSamplerMixin`: prompts drawn by `MixtureSampler` (the mixture,
  `stop` ends training at the first exhausted domain), resumable by replay;
- `modomodo.loss.FusedGRPOLossMixin` unless `loss_backend == "trl"`: the loss is
  `grpo_loss` with the chosen backend (advantages recomputed inside it);
- `trl.GRPOTrainer`: generation (transformers, or vLLM with `use_vllm`), reference model,
  DeepSpeed / FSDP through Accelerate, `report_to`.

Rewards are one `routed(spec)` function: each row is scored by its own domain's rewards,
with MoDoMoDo's format gate.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from trl import GRPOTrainer as _TrainerBase
else:
    _TrainerBase = object

logger = logging.getLogger(__name__)

STATE_FILE = "modomodo_state.json"
EPS = 1e-6


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


class MultiDomainMixin(_TrainerBase):
    """Per-domain logging, data engine and checkpoint extras for a `GRPOTrainer`.

    Extra keyword arguments: `domain_max_reward` (domain -> best attainable reward, the
    sum of its reward weights: "all correct" for the data engine), `data_engine` (bool).
    """

    def __init__(
        self,
        *args: Any,
        domain_max_reward: Mapping[str, float],
        data_engine: bool = False,
        draws_path: str | os.PathLike | None = None,
        **kwargs: Any,
    ) -> None:
        self.domain_max_reward = dict(domain_max_reward)
        self.draws_path = Path(draws_path) if draws_path is not None else None
        self.data_engine = bool(data_engine)
        self.domain_draws: dict[str, int] = {d: 0 for d in self.domain_max_reward}
        self.data_engine_counts = {"all_correct": 0, "all_wrong": 0, "kept": 0}
        self._batch_info: dict[str, Any] | None = None
        super().__init__(*args, **kwargs)

    # -- rewards and per-domain statistics ------------------------------------------------

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        from accelerate.utils import gather_object

        from modomodo.rewards import format_reward
        from modomodo.rewards.trl import completion_text

        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        device = rewards_per_func.device
        domains = gather_object([str(x["domain"]) for x in inputs])
        fmt_local = torch.tensor(
            format_reward([completion_text(c) for c in completions], strict=True),
            dtype=torch.float32,
            device=device,
        )
        fmt = self.accelerator.gather(fmt_local)
        weights = self.reward_weights.to(device)
        total = (rewards_per_func * weights.unsqueeze(0)).nansum(dim=1)
        total[torch.isnan(rewards_per_func).all(dim=1)] = math.nan
        mode = "train" if self.model.training else "eval"
        group = self.num_generations if mode == "train" else self.num_generations_eval
        self._batch_info = {"domains": domains, "total": total, "group": group}
        self._log_domain_stats(mode, domains, total, fmt, group)
        if mode == "train" and self.draws_path is not None and "row_id" in inputs[0]:
            self._record_draws(domains, group, [int(x["row_id"]) for x in inputs])
        return rewards_per_func

    def _record_draws(self, domains: list[str], group: int, local_rows: list[int]) -> None:
        """One JSON line per generation batch: the domain of each group (global order) and the
        dataset rows each process received (to check resume and the ranks' shares)."""
        from accelerate.utils import gather_object

        per_rank = gather_object([(self.accelerator.process_index, local_rows)])
        if self.accelerator.is_main_process and self.draws_path is not None:
            record = {
                "step": self.state.global_step,
                "domains": domains[::group],
                "rows": {str(rank): rows for rank, rows in per_rank},
            }
            with self.draws_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")

    def _log_domain_stats(
        self, mode: str, domains: list[str], total: torch.Tensor, fmt: torch.Tensor, group: int
    ) -> None:
        metrics = self._metrics[mode]
        n_groups = len(domains) // group
        grouped = total.view(n_groups, group)
        finite = torch.nan_to_num(grouped, nan=0.0)
        zero_std = (finite.max(dim=1).values - finite.min(dim=1).values).abs() <= EPS
        by_domain: dict[str, list[int]] = defaultdict(list)
        for g in range(n_groups):
            by_domain[domains[g * group]].append(g)
        for d, groups in sorted(by_domain.items()):
            rows = [g * group + k for g in groups for k in range(group)]
            r = total[rows]
            r = r[~torch.isnan(r)]
            if r.numel():
                metrics[f"domain/{d}/reward"].append(r.mean().item())
            metrics[f"domain/{d}/format_pass"].append(fmt[rows].mean().item())
            metrics[f"domain/{d}/zero_std_frac"].append(zero_std[groups].float().mean().item())
            if mode == "train":
                self.domain_draws[d] = self.domain_draws.get(d, 0) + len(groups)
        if mode == "train":
            for d, n in self.domain_draws.items():
                metrics[f"domain/{d}/draws"] = [float(n)]  # cumulative: keep only the latest

    # -- data engine ----------------------------------------------------------------------

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        if self.data_engine and self.model.training and self._batch_info is not None:
            self._apply_data_engine(output)
        return output

    def _apply_data_engine(self, output: dict[str, Any]) -> None:
        info = self._batch_info
        assert info is not None
        domains, total, group = info["domains"], info["total"], info["group"]
        n_groups = len(domains) // group
        grouped = torch.nan_to_num(total.view(n_groups, group), nan=0.0)
        best = torch.tensor(
            [self.domain_max_reward.get(domains[g * group], math.inf) for g in range(n_groups)],
            device=grouped.device,
        )
        all_correct = (grouped >= best.unsqueeze(1) - EPS).all(dim=1)
        all_wrong = (grouped <= EPS).all(dim=1)
        drop = all_correct | all_wrong
        counts = {
            "all_correct": int(all_correct.sum()),
            "all_wrong": int(all_wrong.sum()),
            "kept": int((~drop).sum()),
        }
        for k, v in counts.items():
            self.data_engine_counts[k] += v
            self._metrics["train"][f"data_engine/{k}"].append(float(v))
        if not drop.any():
            return
        # Rows of this process: TRL slices the gathered batch by process index.
        n_local = output["completion_mask"].size(0)
        start = self.accelerator.process_index * n_local
        drop_rows = drop.repeat_interleave(group)[start : start + n_local].to(
            output["completion_mask"].device
        )
        output["completion_mask"] = output["completion_mask"] * (~drop_rows).unsqueeze(1).to(
            output["completion_mask"].dtype
        )
        mask = output["completion_mask"]
        if "tool_mask" in output:
            mask = mask * output["tool_mask"]
        # DAPO normalises by the tokens left in the whole batch; never 0 (all groups dropped).
        output["num_items_in_batch"] = self.accelerator.gather(mask.sum()).sum().clamp(min=1)

    # -- logging and checkpoints ----------------------------------------------------------

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        if not self.args.should_save:
            return
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

        folder = Path(self._get_output_dir(trial=trial)) / f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        state = {
            "domain_draws": self.domain_draws,
            "data_engine_counts": self.data_engine_counts,
            "sampler": self.mixture_sampler.state_dict(),
        }
        (folder / STATE_FILE).write_text(json.dumps(state))

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
        path = Path(checkpoint) / STATE_FILE
        if path.exists():
            state = json.loads(path.read_text())
            self.domain_draws.update({k: int(v) for k, v in state.get("domain_draws", {}).items()})
            self.data_engine_counts.update(state.get("data_engine_counts", {}))


def make_trainer_class(loss_backend: str) -> type:
    """The trainer class for a loss backend: `trl` (TRL's own loss) or a `grpo_loss` backend."""
    from trl import GRPOTrainer

    from modomodo.sampling import MixtureSamplerMixin

    if loss_backend == "trl":
        bases: tuple[type, ...] = (MultiDomainMixin, MixtureSamplerMixin, GRPOTrainer)
        attrs: dict[str, Any] = {}
    else:
        from modomodo.loss import FusedGRPOLossMixin

        bases = (MultiDomainMixin, MixtureSamplerMixin, FusedGRPOLossMixin, GRPOTrainer)
        attrs = {"fused_loss_backend": loss_backend}
    return type("ModomodoGRPOTrainer", bases, {"__module__": __name__, **attrs})


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
    data_engine: bool = False,
    metrics_path: str | os.PathLike | None = None,
    draws_path: str | os.PathLike | None = None,
    embedder=None,
    callbacks: Sequence[Any] = (),
):
    """A ready `GRPOTrainer` for a multi-domain run (see the module docstring). Its
    `interrupt` attribute is the Ctrl-C callback (`interrupt.interrupted` after train())."""
    from modomodo.rewards.trl import routed

    if embedder is None and any(e.get("name") == "bmas" for entries in reward_spec.values() for e in entries):
        from modomodo.rewards.bmas import TokenEmbedder

        embedder = TokenEmbedder(model, processor.tokenizer)
    reward = routed(reward_spec, embedder=embedder, name="routed")
    max_reward = {d: sum(float(e.get("weight", 1.0)) for e in entries) for d, entries in reward_spec.items()}
    cls = make_trainer_class(loss_backend)
    interrupt = interrupt_callback()
    all_callbacks = [metrics_callback(metrics_path)] if metrics_path is not None else []
    all_callbacks += [interrupt, *callbacks]
    trainer = cls(
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
        domain_max_reward=max_reward,
        data_engine=data_engine,
        draws_path=draws_path,
    )
    trainer.interrupt = interrupt
    return trainer
