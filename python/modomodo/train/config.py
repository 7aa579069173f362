"""The training configuration: one flat mapping, read by TRL's own parser.

A config (YAML file, then `--key value` flags on top) holds two kinds of keys:

- modomodo's own (`RunArgs` below): the model, the domains, the mixture weights, the
  sampler, the loss backend, vision freezing, the data engine, the warm start, evaluation;
- every field of TRL's `GRPOConfig` (`learning_rate`, `num_generations`, `beta`,
  `max_steps`, `output_dir`, `use_vllm`, `deepspeed`, `fsdp`, …), passed through unchanged.

`ConfigParser` is `trl.TrlParser` over both dataclasses: every key has its type and help
text (`modomodo-train --help`), every value — from the YAML file or a flag — goes through
that type before any model is built. On top of TRL's parser: a misspelt key gets a
suggestion, an error names the file it came from, a bare name (`modomodo_qwen2vl_2b`)
reads a config shipped in `modomodo/configs/`, and only the keys a config sets are handed
to `GRPOConfig` (the rest keep TRL's defaults).

Then the cross-key checks: a weight for a domain the config does not define, weights that
leave a training domain out (unless `others: W` gives the rest a weight), negative or
all-zero weights, a domain without rewards, an output directory that holds another run
(unless `resume` or `overwrite`), lies below a file or cannot be written, a resume whose
config differs from the run's (unless `allow_config_change`). Errors are `ConfigError`
(a `ValueError`) naming the key and the value.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import os
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from trl import GRPOConfig, TrlParser

LOSS_BACKENDS = ("auto", "torch", "triton", "trl")
ON_EXHAUSTED = ("reshuffle", "stop", "drop")
TINY = "tiny"
SYNTHETIC = "synthetic"
# In `weights`: the weight of every training domain the mapping does not name.
OTHERS = "others"
# `weights: adaptive`: the mixture changes during the run (`mixture_policy`).
ADAPTIVE = "adaptive"
MIXTURE_POLICIES = ("dump", "thompson", "target")
# Files that mark a directory as holding a modomodo run.
RUN_MARKERS = ("run_config.yaml", "metrics.jsonl", "summary.json")
# Keys that steer this invocation rather than define the run: a resume may change them.
RUN_CONTROL = ("resume", "overwrite", "dry_run", "allow_config_change", "output_dir")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key, the value and what was expected."""


def _bad(key: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"config key {key!r} = {value!r} is invalid; expected {expected}")


@dataclass
class RunArgs:
    """modomodo's own keys. Every other key of a config is a TRL `GRPOConfig` field."""

    _argument_group_name = "modomodo (RunArgs)"

    model: str = field(
        default=TINY,
        metadata={"help": "'tiny' (the tiny Qwen2.5-VL built locally), a hub id or a local path."},
    )
    image_size: int = field(
        default=112,
        metadata={"help": "Image side of the tiny model and the synthetic images (a multiple of 28)."},
    )
    freeze_vision: bool = field(default=True, metadata={"help": "Freeze the vision tower during RL."})
    domains: list | str | None = field(
        default=SYNTHETIC,
        metadata={
            "help": "Training domains: 'synthetic' (the suite) or a YAML list of built-in names, spec mappings "
            "({builtin: name, ...overrides} or DomainSpec fields) and YAML spec files."
        },
    )
    eval_domains: list | str | None = field(
        default=SYNTHETIC, metadata={"help": "Evaluation domains, as 'domains' (roles in/out)."}
    )
    train_size: int | None = field(
        default=None, metadata={"help": "Rows per training domain (synthetic: generated); null: all."}
    )
    eval_size: int | None = field(default=None, metadata={"help": "Rows per evaluation domain; null: all."})
    synthetic_seed: int = field(
        default=0, metadata={"help": "Seed of the synthetic suite (TRL's data_seed seeds its samplers)."}
    )
    weights: dict[str, float] | str | None = field(
        default=None,
        metadata={
            "help": "Mixture weights by training domain, e.g. '{coco: 2, lisa: 1, others: 0}' (null: uniform). Every "
            f"training domain needs a weight: '{OTHERS}: W' gives W to the domains not named. '{ADAPTIVE}': start "
            "uniform and let mixture_policy change the weights during the run."
        },
    )
    mixture_policy: str = field(
        default="dump",
        metadata={
            "help": f"With weights: {ADAPTIVE}, one of {list(MIXTURE_POLICIES)} (modomodo.mixture.policies): 'dump' "
            "UCB on mean |advantage|, 'thompson' Beta posterior on learnability, 'target' reward on held-out "
            "out-of-distribution rows."
        },
    )
    mixture_update_every: int | None = field(
        default=None,
        metadata={
            "help": "Generation batches between weight updates (target: between target measurements); null: 1, "
            "and 10 for target."
        },
    )
    mixture_floor: float | None = field(
        default=None,
        metadata={
            "help": "Least weight of every domain, at most 1/domains (null: 0.02/domains; 0: may starve)."
        },
    )
    mixture_smoothing: float = field(
        default=0.5, metadata={"help": "EMA factor in [0, 1) on the weights (0: no smoothing)."}
    )
    mixture_window: int = field(
        default=64, metadata={"help": "dump: groups in each domain's sliding window of |advantage|."}
    )
    mixture_ucb_c: float = field(default=0.5, metadata={"help": "dump: exploration coefficient c of UCB."})
    mixture_temperature: float = field(
        default=0.1, metadata={"help": "dump: temperature of the softmax over UCB scores."}
    )
    mixture_discount: float = field(
        default=0.9, metadata={"help": "thompson: discount in (0, 1] of the Beta posteriors at each batch."}
    )
    mixture_samples: int = field(
        default=256,
        metadata={"help": "thompson: posterior draws estimating each domain's chance to be best."},
    )
    mixture_step_size: float = field(
        default=10.0, metadata={"help": "target: step size of the exponentiated-gradient update."}
    )
    mixture_target_rows: int = field(
        default=32,
        metadata={
            "help": "target: held-out rows scored (greedy) at each measurement, spread over the 'out' "
            "eval_domains (synthetic: an independent 'target' stream, not the evaluation's rows)."
        },
    )
    on_exhausted: str = field(
        default="reshuffle", metadata={"help": f"When a domain runs out: one of {list(ON_EXHAUSTED)}."}
    )
    replacement: bool = field(
        default=False, metadata={"help": "Draw the examples of a domain with replacement."}
    )
    loss_backend: str = field(
        default="auto",
        metadata={
            "help": f"One of {list(LOSS_BACKENDS)}: grpo_loss ('auto': Triton on CUDA, torch otherwise) or TRL's own loss."
        },
    )
    linear_logps: bool = field(
        default=True,
        metadata={
            "help": "With a grpo_loss backend: per-token log-probs by modomodo.loss.linear_logps from the last "
            "hidden states (false: TRL's fused head)."
        },
    )
    data_engine: bool = field(
        default=False, metadata={"help": "Drop groups whose completions are all correct or all wrong."}
    )
    warmstart_steps: int = field(
        default=0, metadata={"help": "Supervised warm-start steps on gold completions (synthetic)."}
    )
    warmstart_batch_size: int = field(default=32, metadata={"help": "Batch size of the warm start."})
    warmstart_learning_rate: float = field(
        default=1e-3, metadata={"help": "Learning rate of the warm start."}
    )
    warmstart_cache_dir: str | None = field(
        default=None, metadata={"help": "Cache of warm-started weights (null: user cache)."}
    )
    eval: bool = field(
        default=True, metadata={"help": "Evaluate on eval_domains after RL (greedy decoding)."}
    )
    eval_before: bool = field(default=True, metadata={"help": "Evaluate before RL as well."})
    eval_batch_size: int = field(default=64, metadata={"help": "Batch size of evaluation."})
    eval_max_new_tokens: int = field(default=64, metadata={"help": "New tokens per evaluation answer."})
    plot: bool = field(default=True, metadata={"help": "Write DIR/reward_curves.png."})
    resume: bool = field(
        default=False, metadata={"help": "Continue the run in --output-dir from its newest valid checkpoint."}
    )
    overwrite: bool = field(
        default=False, metadata={"help": "Replace the run in --output-dir (its outputs are removed)."}
    )
    allow_config_change: bool = field(
        default=False,
        metadata={"help": "With --resume: accept a changed config (recorded in DIR/history.jsonl)."},
    )
    dry_run: bool = field(
        default=False,
        metadata={"help": "Validate the config and the local data up to the model; write nothing."},
    )

    def __post_init__(self) -> None:
        for key in ("domains", "eval_domains", "weights"):  # given as YAML text on the command line
            value = getattr(self, key)
            if isinstance(value, str) and value != SYNTHETIC:
                setattr(self, key, _yaml_text(key, value))
        self._check_types()
        if self.model != TINY and not self.model.strip():
            raise _bad("model", self.model, "'tiny', a hub id or a local path")
        if self.image_size < 28 or self.image_size % 28:
            raise _bad("image_size", self.image_size, "a positive multiple of 28 (14-px patches merged 2x2)")
        if self.on_exhausted not in ON_EXHAUSTED:
            raise _bad("on_exhausted", self.on_exhausted, f"one of {list(ON_EXHAUSTED)}")
        if self.loss_backend not in LOSS_BACKENDS:
            raise _bad("loss_backend", self.loss_backend, f"one of {list(LOSS_BACKENDS)}")
        for key in ("train_size", "eval_size"):
            v = getattr(self, key)
            if v is not None and v < 1:
                raise _bad(key, v, "a positive integer or null")
        for key in ("warmstart_steps", "synthetic_seed"):
            if getattr(self, key) < 0:
                raise _bad(key, getattr(self, key), "an integer >= 0")
        for key in ("warmstart_batch_size", "eval_batch_size", "eval_max_new_tokens"):
            if getattr(self, key) < 1:
                raise _bad(key, getattr(self, key), "a positive integer")
        if not (math.isfinite(self.warmstart_learning_rate) and self.warmstart_learning_rate > 0):
            raise _bad("warmstart_learning_rate", self.warmstart_learning_rate, "a finite number > 0")
        if self.resume and self.overwrite:
            raise ConfigError("config keys 'resume' and 'overwrite' are both set; expected at most one")
        if self.allow_config_change and not self.resume:
            raise ConfigError(
                "config key 'allow_config_change' is set without 'resume'; expected it with --resume"
            )
        if self.mixture_policy not in MIXTURE_POLICIES:
            raise _bad("mixture_policy", self.mixture_policy, f"one of {list(MIXTURE_POLICIES)}")
        for key in ("mixture_update_every", "mixture_window", "mixture_samples", "mixture_target_rows"):
            v = getattr(self, key)
            if v is not None and v < 1:
                raise _bad(key, v, "a positive integer")
        if self.mixture_floor is not None and not 0 <= self.mixture_floor <= 1:
            raise _bad("mixture_floor", self.mixture_floor, "a number in [0, 1/domains], or null")
        if not 0 <= self.mixture_smoothing < 1:
            raise _bad("mixture_smoothing", self.mixture_smoothing, "a number in [0, 1)")
        if self.mixture_ucb_c < 0:
            raise _bad("mixture_ucb_c", self.mixture_ucb_c, "a number >= 0")
        for key in ("mixture_temperature", "mixture_step_size"):
            if getattr(self, key) <= 0:
                raise _bad(key, getattr(self, key), "a number > 0")
        if not 0 < self.mixture_discount <= 1:
            raise _bad("mixture_discount", self.mixture_discount, "a number in (0, 1]")
        if self.weights is not None and self.weights != ADAPTIVE:
            if not isinstance(self.weights, Mapping) or not self.weights:
                raise _bad(
                    "weights",
                    self.weights,
                    f"a non-empty mapping from domain name to weight, null or '{ADAPTIVE}'",
                )
            for name, w in self.weights.items():
                if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                    raise _bad(f"weights[{name!r}]", w, "a finite number >= 0")
            if not any(w > 0 for w in self.weights.values()):
                raise _bad("weights", dict(self.weights), "at least one weight > 0 (they are all zero)")

    @property
    def adaptive(self) -> bool:
        """`weights: adaptive`: a mixture policy changes the weights during the run."""
        return self.weights == ADAPTIVE

    def mixture(self) -> Mapping[str, float] | None:
        """`weights` as validated (a mapping, or None: uniform, which is also where an adaptive
        run starts; the text form is parsed on construction)."""
        return None if self.adaptive else typing.cast("Mapping[str, float] | None", self.weights)

    def mixture_policy_options(self, seed: int) -> dict[str, Any]:
        """Keyword arguments of `modomodo.mixture.policies.make_policy(self.mixture_policy, ...)`."""
        every = self.mixture_update_every
        common = {
            "seed": seed,
            "floor": self.mixture_floor,
            "smoothing": self.mixture_smoothing,
            "update_every": every if every is not None else (10 if self.mixture_policy == "target" else 1),
        }
        own: dict[str, dict[str, Any]] = {
            "dump": {
                "window": self.mixture_window,
                "c": self.mixture_ucb_c,
                "temperature": self.mixture_temperature,
            },
            "thompson": {"discount": self.mixture_discount, "samples": self.mixture_samples},
            "target": {"step_size": self.mixture_step_size},
        }
        return {**common, **own[self.mixture_policy]}

    def _check_types(self) -> None:
        """The parser types every value; this catches a wrong type given from Python."""
        for f in dataclasses.fields(self):
            value, hint = getattr(self, f.name), _RUN_HINTS[f.name]
            if not _is_instance(value, hint):
                raise _bad(f.name, value, f"a value of type {hint}")
            if isinstance(value, float) and not math.isfinite(value):
                raise _bad(f.name, value, "a finite number")


def _is_instance(value: Any, hint: Any) -> bool:
    if typing.get_origin(hint) in (typing.Union, __import__("types").UnionType):
        return any(_is_instance(value, h) for h in typing.get_args(hint))
    origin = typing.get_origin(hint) or hint
    if origin is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is dict:
        return isinstance(value, Mapping)
    return isinstance(value, origin)


_RUN_HINTS = typing.get_type_hints(RunArgs)


def _yaml_text(key: str, text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _bad(key, text, f"YAML (a list, a mapping or a name): {str(exc).splitlines()[0]}") from None


# -- GRPOConfig values that TRL accepts but that cannot train ------------------------------------


def _positive(v: float) -> bool:
    return math.isfinite(v) and v > 0


GRPO_RANGES: dict[str, tuple[typing.Callable[[Any], bool], str]] = {
    "learning_rate": (_positive, "a finite number > 0"),
    "temperature": (_positive, "a finite number > 0"),
    "beta": (lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0"),
    "seed": (lambda v: v >= 0, "an integer >= 0"),
    "max_steps": (
        lambda v: v > 0 or v == -1,
        "a positive number of steps (or -1: train for num_train_epochs)",
    ),
    "num_generations": (
        lambda v: v is None or v >= 2,
        "an integer >= 2 (GRPO compares completions of a prompt)",
    ),
}


def check_grpo_ranges(grpo: Mapping[str, Any]) -> None:
    for key, (ok, expected) in GRPO_RANGES.items():
        if key in grpo and not ok(grpo[key]):
            raise _bad(key, grpo[key], expected)


# -- the parser -----------------------------------------------------------------------------


class _BadValue(Exception):
    """Raised by a key's type converter; not a ValueError, so argparse lets it through."""

    def __init__(self, key: str, value: Any, expected: str):
        super().__init__(key, value, expected)
        self.key, self.value, self.expected = key, value, expected


class _Typed:
    """A key's argparse `type`: TRL's converter, with failures naming the key, the value and
    what was expected (and NaN refused for every number)."""

    def __init__(self, key: str, convert: Any, choices: Any) -> None:
        self.key, self.convert, self.choices = key, convert, choices
        self.__name__ = getattr(convert, "__name__", "value")

    @property
    def expected(self) -> str:
        if self.choices is not None:
            return f"one of {[str(c) for c in self.choices]}"
        names = {"int": "an integer", "float": "a number", "string_to_bool": "true or false"}
        return names.get(self.__name__, f"a value of type {self.__name__}")

    def __call__(self, text: str) -> Any:
        try:
            value = self.convert(text)
        except (ValueError, TypeError, argparse.ArgumentTypeError):
            raise _BadValue(self.key, text, self.expected) from None
        if self.choices is not None and value not in self.choices:
            raise _BadValue(self.key, text, self.expected)
        if isinstance(value, float) and math.isnan(value):
            raise _BadValue(self.key, text, "a number (not NaN)")
        return value

    @property
    def takes_text(self) -> bool:
        """A plain-string key: a YAML structure (list, mapping) is passed through as it is."""
        return self.convert is str


_UNSET = object()


class _GRPOArgs(GRPOConfig):
    """GRPOConfig's fields under their own heading in `--help`, after modomodo's."""

    _argument_group_name = "TRL (GRPOConfig)"


class ConfigParser(TrlParser):
    """`trl.TrlParser` over `RunArgs` and `GRPOConfig`, reading a YAML config then flags."""

    def __init__(self, prog: str = "modomodo-train") -> None:
        dataclasses_: list[Any] = [RunArgs, _GRPOArgs]
        super().__init__(
            dataclasses_,
            prog=prog,
            usage=f"{prog} [--config FILE.yaml|NAME] [--key value ...] --output-dir DIR",
            description="Multi-domain GRPO (MoDoMoDo) on TRL. Without --config: the embedded default "
            "(synthetic suite, tiny model, CPU). Keys may also be set in the YAML config file.",
            allow_abbrev=False,
            exit_on_error=False,
        )
        self.add_argument(
            "--config",
            metavar="FILE.yaml|NAME",
            help="YAML config (a path, or the name of a config shipped in modomodo/configs). "
            "Flags override its keys.",
        )
        self.keys: dict[str, argparse.Action] = {}  # key -> its option (not the --no_* twin)
        self.types: dict[str, _Typed] = {}
        for action in self._actions:
            if action.type is not None:
                action.type = self.types.setdefault(
                    action.dest, _Typed(action.dest, action.type, action.choices)
                )
            if (
                action.option_strings
                and action.dest not in self.keys
                and action.dest not in ("help", "config")
            ):
                self.keys[action.dest] = action

    def error(self, message: str) -> typing.NoReturn:
        raise ConfigError(message)

    def typed_yaml(self, data: Mapping[str, Any], where: str) -> dict[str, Any]:
        """The YAML values, each through its key's type (structures only where a key takes text)."""
        out: dict[str, Any] = {}
        for key, value in data.items():
            self.check_key(key, where)
            action, convert = self.keys[key], self.types.get(key)
            try:
                if value is None or convert is None:
                    out[key] = value
                elif action.nargs == "+":
                    out[key] = [convert(_text(v)) for v in (value if isinstance(value, list) else [value])]
                elif isinstance(value, (list, dict)):
                    if not convert.takes_text:
                        raise _BadValue(key, value, convert.expected)
                    out[key] = value
                else:
                    out[key] = convert(_text(value))
            except _BadValue as exc:
                raise _value_error(exc, where) from None
        return out

    def check_key(self, key: Any, where: str) -> None:
        if key in ("config", "env"):
            raise ConfigError(f"config key {key!r} in {where} is reserved")
        if key not in self.keys:
            close = difflib.get_close_matches(str(key), sorted(self.keys), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown config key {key!r} in {where}{hint}")

    def parse_config(self, path: str | os.PathLike | None, argv: Sequence[str]) -> tuple[dict[str, Any], str]:
        """(the keys the config file and the flags set, typed; the config's source)."""
        argv = list(argv)
        cli_path = pop_option(argv, "--config")
        if cli_path is not None:
            path = cli_path
        src = Path(path) if path is not None else default_config_path()
        src, data = read_yaml(src)
        given = self.typed_yaml(data, str(src))
        namespace = argparse.Namespace(**{key: _UNSET for key in self.keys})
        vars(namespace).update(given)
        try:
            namespace, rest = self.parse_known_args(argv, namespace)
        except _BadValue as exc:
            raise _value_error(exc, "the command line") from None
        except argparse.ArgumentError as exc:
            raise ConfigError(f"command line: {exc}") from None
        for key in parse_flags(rest):
            self.check_key(key, "the command line")
        return {k: v for k, v in vars(namespace).items() if v is not _UNSET and k in self.keys}, str(src)


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _value_error(exc: _BadValue, where: str) -> ConfigError:
    return ConfigError(
        f"config key {exc.key!r} = {exc.value!r} is invalid (in {where}); expected {exc.expected}"
    )


def pop_option(argv: list[str], flag: str) -> str | None:
    """Remove `flag VALUE` or `flag=VALUE` from argv; return VALUE."""
    for i, a in enumerate(argv):
        if a == flag or a.replace("_", "-") == flag:
            if i + 1 >= len(argv):
                raise ConfigError(f"{flag} needs a value")
            value = argv[i + 1]
            del argv[i : i + 2]
            return value
        if a.startswith(flag + "="):
            del argv[i]
            return a.split("=", 1)[1]
    return None


def parse_flags(argv: Sequence[str]) -> dict[str, str | bool]:
    """TRL-style `--key value`, `--key=value` and bare `--flag` (true) into raw strings: the
    reading of what the parser did not recognise, to name the unknown keys."""
    out: dict[str, str | bool] = {}
    i = 0
    argv = list(argv)
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--") or arg == "--":
            raise ConfigError(f"unexpected argument {arg!r}; expected --key value")
        key, eq, value = arg[2:].partition("=")
        key = key.replace("-", "_")
        if not key:
            raise ConfigError(f"unexpected argument {arg!r}; expected --key value")
        if eq:
            out[key] = value
        elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            out[key] = argv[i + 1]
            i += 1
        else:
            out[key] = True
        i += 1
    return out


# -- the whole config ------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """A validated run configuration: `run` (modomodo's keys), `grpo` (the GRPOConfig keywords
    the config sets), and the resolved domain specs (`train_specs`, `eval_specs`)."""

    run: RunArgs
    grpo: dict[str, Any]
    train_specs: list = field(default_factory=list)
    eval_specs: list = field(default_factory=list)
    target_specs: list = field(default_factory=list)  # the `target` mixture policy's held-out rows
    source: str = "<defaults>"

    @property
    def output_dir(self) -> Path:
        return Path(self.grpo["output_dir"])

    @property
    def train_domains(self) -> list[str]:
        return [s.name for s in self.train_specs]

    def mixture_weights(self) -> dict[str, float]:
        """Weights by training domain, in domain order (uniform when none were given)."""
        weights = self.run.mixture()
        if weights is None:
            return {n: 1.0 for n in self.train_domains}
        rest = weights.get(OTHERS, 0.0)
        return {n: float(weights.get(n, rest)) for n in self.train_domains}

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self.run)
        out.update(self.grpo)
        return out

    def grpo_config(self, **changes: Any) -> GRPOConfig:
        """TRL's `GRPOConfig` for this run (its own validation runs here)."""
        import torch

        kwargs = {**self.grpo, **changes}
        # TRL defaults to bf16, which TrainingArguments refuses without a GPU: unless the
        # config asks for it, train in fp32 there.
        if kwargs.get("bf16") is None and kwargs.get("fp16") is None and not torch.cuda.is_available():
            kwargs["bf16"] = False
        # Without a GPU, processes started by `accelerate launch` join one gloo world only under
        # `use_cpu`; otherwise each runs alone as rank 0 of a world of one, and they all write
        # the same output directory.
        if not torch.cuda.is_available() and kwargs.get("use_cpu") is None:
            kwargs["use_cpu"] = True
        # TRL's default (gradient checkpointing on) under its non-deprecated name.
        if "gradient_checkpointing" not in kwargs:
            kwargs.setdefault("activation_checkpointing", True)
        try:
            return GRPOConfig(**kwargs)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"invalid GRPO settings: {exc}") from None


def default_config_path() -> Path:
    """The embedded default, shipped inside the package."""
    with resources.as_file(resources.files("modomodo.configs") / "default.yaml") as p:
        return Path(p)


def shipped_config(name: str) -> Path:
    """A config shipped in `modomodo/configs/` (e.g. `modomodo_qwen2vl_2b.yaml`)."""
    folder = resources.files("modomodo.configs")
    names = sorted(e.name for e in folder.iterdir() if e.name.endswith(".yaml"))
    if name not in names:
        raise ConfigError(f"no shipped config {name!r}; expected one of {names}")
    with resources.as_file(folder / name) as p:
        return Path(p)


def read_yaml(path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """(the file read, its mapping). A bare name such as `modomodo_qwen2vl_2b` that is not a
    file here names a config shipped in the package."""
    import yaml

    p = Path(path)
    if not p.exists() and p.parent == Path("."):
        shipped = p.name if p.suffix == ".yaml" else p.name + ".yaml"
        if resources.files("modomodo.configs").joinpath(shipped).is_file():
            p = shipped_config(shipped)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {str(p)!r} is not UTF-8 text (byte {exc.start}: {exc.object[exc.start : exc.start + 1]!r}); "
            "expected a YAML file"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(p)!r}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(p)!r} is not valid YAML: {exc}") from None
    if data is None:
        return p, {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a mapping of keys, got {type(data).__name__}")
    return p, data


def load_config(
    path: str | os.PathLike | None = None, argv: Sequence[str] = (), *, eval_only: bool = False
) -> TrainConfig:
    """Read a config (the embedded default when `path` is None), apply `argv` flags, validate
    everything, resolve the domain specs. No model is built.
    `eval_only` (modomodo-eval): no output directory is needed or checked."""
    values, source = ConfigParser().parse_config(path, argv)
    run = RunArgs(**{k: v for k, v in values.items() if k in _RUN_HINTS})
    grpo = {k: v for k, v in values.items() if k not in _RUN_HINTS}
    if eval_only:
        grpo.setdefault("output_dir", ".")
    elif not grpo.get("output_dir"):
        raise ConfigError("config key 'output_dir' is missing; expected --output-dir DIR")
    grpo["output_dir"] = str(grpo["output_dir"])
    check_grpo_ranges(grpo)
    cfg = TrainConfig(run=run, grpo=grpo, source=source)
    validate(cfg, check_dir=not eval_only)
    return cfg


# -- cross-key checks ---------------------------------------------------------------------------


def resolve_domains(value: Any, *, key: str, roles: Sequence[str], run: RunArgs, size: int | None) -> list:
    """Domain specs from a config value: "synthetic", or a list of built-in names, spec
    mappings (`{builtin: name, ...overrides}` or DomainSpec fields) and YAML spec files."""
    from modomodo.data import DomainSpec, SpecError, builtin_spec, load_specs, synthetic_suite

    def sized(spec):
        if size is not None:
            spec = spec.replace(n=size)
        if spec.is_synthetic and spec.image_size != run.image_size and run.model == TINY:
            spec = spec.replace(image_size=run.image_size)
        return spec

    if value is None or value == []:
        return []
    try:
        if value == SYNTHETIC:
            suite = synthetic_suite(image_size=run.image_size, seed=run.synthetic_seed)
            return [sized(s) for s in suite if s.role in roles]
        if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
            raise _bad(key, value, f"'{SYNTHETIC}' or a list of domain names, spec mappings or YAML files")
        specs = []
        for i, item in enumerate(value):
            if isinstance(item, str) and item.endswith((".yaml", ".yml")):
                specs += [sized(s) for s in load_specs(item)]
            elif isinstance(item, str):
                specs.append(sized(builtin_spec(item)))
            elif isinstance(item, Mapping):
                item = dict(item)
                if "builtin" in item:
                    specs.append(sized(builtin_spec(item.pop("builtin"), **item)))
                else:
                    specs.append(sized(DomainSpec.from_dict(item)))
            else:
                raise _bad(f"{key}[{i}]", item, "a domain name, a spec mapping or a YAML file")
    except SpecError as exc:
        raise ConfigError(f"config key {key!r}: {exc}") from None
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _bad(key, names, f"each domain once (repeated: {dupes})")
    return specs


def validate(cfg: TrainConfig, *, check_dir: bool = True) -> None:
    run = cfg.run
    cfg.train_specs = resolve_domains(
        run.domains, key="domains", roles=("train",), run=run, size=run.train_size
    )
    if not cfg.train_specs:
        raise _bad("domains", run.domains, "at least one training domain")
    for s in cfg.train_specs:
        if not s.rewards:
            raise ConfigError(
                f"config key 'domains': domain {s.name!r} has no rewards; expected at least one"
            )
    cfg.eval_specs = (
        resolve_domains(
            run.eval_domains, key="eval_domains", roles=("in", "out"), run=run, size=run.eval_size
        )
        if run.eval
        else []
    )
    for s in cfg.eval_specs:
        if s.role not in ("in", "out"):
            raise ConfigError(
                f"config key 'eval_domains': domain {s.name!r} has role {s.role!r}; expected 'in' or 'out' "
                "(In-Score and Out-Score are computed from the roles)"
            )
    check_weights(run.mixture(), cfg.train_domains)
    if run.adaptive:
        cfg.target_specs = check_adaptive(cfg)
    if run.warmstart_steps and not all(s.is_synthetic for s in cfg.train_specs):
        missing = [s.name for s in cfg.train_specs if not s.is_synthetic]
        raise ConfigError(
            f"config key 'warmstart_steps' = {run.warmstart_steps} needs gold completions, which domain(s) "
            f"{missing} do not have (only synthetic domains do); expected 0 for them"
        )
    if check_dir:
        from modomodo.train.rundir import check_output_dir

        check_output_dir(cfg)


def check_weights(weights: Mapping[str, float] | None, domains: Sequence[str]) -> None:
    """Weights name training domains only, and every one of them (or `others` covers the rest)."""
    if weights is None:
        return
    unknown = sorted(set(weights) - set(domains) - {OTHERS})
    if unknown:
        raise ConfigError(
            f"config key 'weights' names domain(s) {unknown} that the config does not define; "
            f"expected names among the training domains {list(domains)}"
        )
    unnamed = [d for d in domains if d not in weights]
    if unnamed and OTHERS not in weights:
        raise ConfigError(
            f"config key 'weights' gives no weight to training domain(s) {unnamed}; expected a weight for "
            f"every training domain, or '{OTHERS}: W' for the ones not named (e.g. '{OTHERS}: 0')"
        )


def check_adaptive(cfg: TrainConfig) -> list:
    """The floor fits the domains; the `target` policy has held-out rows, which it returns:
    `mixture_target_rows` spread over the `out` evaluation domains (a synthetic domain gives
    an independent `target` stream; another gives its first rows, the evaluation's own)."""
    run, m = cfg.run, len(cfg.train_specs)
    if run.mixture_floor is not None and run.mixture_floor > 1 / m:
        raise _bad("mixture_floor", run.mixture_floor, f"a number in [0, 1/{m}] for {m} training domains")
    if run.mixture_policy != "target":
        return []
    out = [
        s
        for s in resolve_domains(run.eval_domains, key="eval_domains", roles=("out",), run=run, size=None)
        if s.role == "out"
    ]
    if not out:
        raise ConfigError(
            "config key 'mixture_policy' = 'target' needs held-out rows; expected at least one eval_domains "
            "domain with role 'out'"
        )
    share, extra = divmod(run.mixture_target_rows, len(out))
    specs = []
    for i, spec in enumerate(out[: run.mixture_target_rows]):
        n = share + (i < extra)
        specs.append(spec.replace(split="target", n=n) if spec.is_synthetic else spec.replace(n=n))
    return specs


def dump(cfg: TrainConfig) -> str:
    """The resolved config as YAML (written to DIR/run_config.yaml)."""
    import yaml

    return yaml.safe_dump(plain(cfg.to_dict()), sort_keys=False)


def plain(data: Any) -> Any:
    """`data` as JSON/YAML reads it back (tuples as lists, other objects as strings)."""
    return json.loads(json.dumps(data, default=str))


def effective(values: Mapping[str, Any], key: str) -> Any:
    """A key's value in a dumped config, or its default when the config does not set it."""
    if key in values:
        return values[key]
    fields = {f.name: f for f in (*dataclasses.fields(RunArgs), *dataclasses.fields(GRPOConfig))}
    f = fields.get(key)
    if f is None:
        return None
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    return plain(default)


def config_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{key: (old value, new value)} for the keys that define the run, between two dumped configs."""
    keys = [k for k in dict.fromkeys([*old, *new]) if k not in RUN_CONTROL]
    return {k: (effective(old, k), effective(new, k)) for k in keys if effective(old, k) != effective(new, k)}
