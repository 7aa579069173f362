"""The training configuration: one flat mapping, like TRL's own scripts.

A config (YAML file, then `--key value` flags on top) holds two kinds of keys:

- modomodo's own (`RunArgs` below): the model, the domains, the mixture weights, the
  sampler, the loss backend, vision freezing, the data engine, the warm start, evaluation;
- every field of TRL's `GRPOConfig` (`learning_rate`, `num_generations`, `beta`,
  `max_steps`, `output_dir`, `use_vllm`, `deepspeed`, `fsdp`, …), passed through unchanged.

Everything is checked here, before any model is built: a misspelt key (with a suggestion),
a weight for a domain the config does not define, negative or all-zero weights, a domain
without rewards, an output directory that holds another run (unless `resume` or
`overwrite`). Errors are `ConfigError` (a `ValueError`) naming the key and the value.
"""

from __future__ import annotations

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

LOSS_BACKENDS = ("auto", "torch", "triton", "trl")
ON_EXHAUSTED = ("reshuffle", "stop", "drop")
TINY = "tiny"
SYNTHETIC = "synthetic"
# Files that mark a directory as holding a modomodo run.
RUN_MARKERS = ("run_config.yaml", "metrics.jsonl", "summary.json")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key, the value and what was expected."""


def _bad(key: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"config key {key!r} = {value!r} is invalid; expected {expected}")


@dataclass
class RunArgs:
    """modomodo's own keys. Every other key of a config is a TRL `GRPOConfig` field."""

    # Model: "tiny" builds the tiny Qwen2.5-VL locally; otherwise a hub id or a local path.
    model: str = TINY
    image_size: int = 112  # the tiny model's processor and synthetic images (multiple of 28)
    freeze_vision: bool = True
    # Domains: "synthetic" (the suite), or a list of built-in names, spec mappings
    # ({builtin: name, ...overrides} or full DomainSpec fields) or YAML spec files.
    domains: Any = SYNTHETIC
    eval_domains: Any = SYNTHETIC
    train_size: int | None = None  # rows per training domain (synthetic: rows generated)
    eval_size: int | None = None  # rows per evaluation domain
    data_seed: int = 0  # seed of the synthetic suite
    # Mixture: weights by domain name (None: uniform), realised by MixtureSampler.
    weights: dict[str, float] | None = None
    on_exhausted: str = "reshuffle"
    replacement: bool = False
    # Loss: grpo_loss with a backend ("auto": Triton on CUDA, torch otherwise) or TRL's own.
    loss_backend: str = "auto"
    # Data engine: drop groups whose completions are all correct or all wrong.
    data_engine: bool = False
    # Supervised warm start on gold completions (synthetic domains), cached.
    warmstart_steps: int = 0
    warmstart_batch_size: int = 32
    warmstart_learning_rate: float = 1e-3
    warmstart_cache_dir: str | None = None
    # Evaluation: greedy decoding on eval_domains, before RL and after.
    eval: bool = True
    eval_before: bool = True
    eval_batch_size: int = 64
    eval_max_new_tokens: int = 64
    plot: bool = True
    # Run control.
    resume: bool = False
    overwrite: bool = False
    dry_run: bool = False

    def __post_init__(self) -> None:
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
        for key in ("warmstart_steps", "data_seed"):
            if getattr(self, key) < 0:
                raise _bad(key, getattr(self, key), "an integer >= 0")
        for key in ("warmstart_batch_size", "eval_batch_size", "eval_max_new_tokens"):
            if getattr(self, key) < 1:
                raise _bad(key, getattr(self, key), "a positive integer")
        if not (math.isfinite(self.warmstart_learning_rate) and self.warmstart_learning_rate > 0):
            raise _bad("warmstart_learning_rate", self.warmstart_learning_rate, "a finite number > 0")
        if self.resume and self.overwrite:
            raise ConfigError("config keys 'resume' and 'overwrite' are both set; expected at most one")
        if self.weights is not None:
            if not isinstance(self.weights, Mapping) or not self.weights:
                raise _bad("weights", self.weights, "a non-empty mapping from domain name to weight, or null")
            for name, w in self.weights.items():
                if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                    raise _bad(f"weights[{name!r}]", w, "a finite number >= 0")
            if not any(w > 0 for w in self.weights.values()):
                raise _bad("weights", dict(self.weights), "at least one weight > 0 (they are all zero)")

    def _check_types(self) -> None:
        hints = typing.get_type_hints(RunArgs)
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            ok = _is_instance(value, hints[f.name])
            if not ok:
                raise _bad(f.name, value, f"a value of type {_type_name(hints[f.name])}")
            if isinstance(value, float) and hints[f.name] is float and not math.isfinite(value):
                raise _bad(f.name, value, "a finite number")


def _is_instance(value: Any, hint: Any) -> bool:
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return any(_is_instance(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is dict:
        return isinstance(value, Mapping)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


# -- the whole config ------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """A validated run configuration: `run` (modomodo's keys), `grpo` (GRPOConfig keywords),
    and the resolved domain specs (`train_specs`, `eval_specs`)."""

    run: RunArgs
    grpo: dict[str, Any]
    train_specs: list = field(default_factory=list)
    eval_specs: list = field(default_factory=list)
    source: str = "<defaults>"

    @property
    def output_dir(self) -> Path:
        return Path(self.grpo["output_dir"])

    @property
    def train_domains(self) -> list[str]:
        return [s.name for s in self.train_specs]

    def mixture_weights(self) -> dict[str, float]:
        """Weights by training domain, in domain order (uniform when none were given)."""
        if self.run.weights is None:
            return {n: 1.0 for n in self.train_domains}
        return {n: float(self.run.weights.get(n, 0.0)) for n in self.train_domains}

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self.run)
        out.update(self.grpo)
        return out

    def grpo_config(self):
        """TRL's `GRPOConfig` for this run (its own validation runs here)."""
        import torch
        from trl import GRPOConfig

        kwargs = dict(self.grpo)
        # TRL defaults to bf16, which TrainingArguments refuses without a GPU: unless the
        # config asks for it, train in fp32 there.
        if "bf16" not in kwargs and "fp16" not in kwargs and not torch.cuda.is_available():
            kwargs["bf16"] = False
        # TRL's default (gradient checkpointing on) under its non-deprecated name.
        if "gradient_checkpointing" not in kwargs:
            kwargs.setdefault("activation_checkpointing", True)
        try:
            return GRPOConfig(**kwargs)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"invalid GRPO settings: {exc}") from None


def grpo_fields() -> dict[str, dataclasses.Field]:
    from trl import GRPOConfig

    return {f.name: f for f in dataclasses.fields(GRPOConfig) if f.init}


def run_fields() -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(RunArgs)}


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


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    import yaml

    p = Path(path)
    if not p.exists() and p.parent == Path("."):
        # A bare name such as `modomodo_qwen2vl_2b` names a config shipped in the package.
        shipped = p.name if p.suffix == ".yaml" else p.name + ".yaml"
        if resources.files("modomodo.configs").joinpath(shipped).is_file():
            p = shipped_config(shipped)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(p)!r}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(p)!r} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a mapping of keys, got {type(data).__name__}")
    return data


def parse_flags(argv: Sequence[str]) -> dict[str, str | bool]:
    """TRL-style `--key value`, `--key=value` and bare `--flag` (true) into raw strings."""
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


def _coerce(key: str, raw: Any, hint: Any) -> Any:
    """A flag's string value converted to the key's type (YAML for structures)."""
    import yaml

    if not isinstance(raw, str):
        return raw
    text = hint if isinstance(hint, str) else str(hint)
    text = text.replace("typing.", "")
    if raw.lower() in ("none", "null") and ("None" in text or "Optional" in text):
        return None
    try:
        if text in ("bool", "bool | None"):
            low = raw.lower()
            if low in ("true", "yes", "1", "on"):
                return True
            if low in ("false", "no", "0", "off"):
                return False
            raise ValueError(raw)
        if text in ("int", "int | None"):
            return int(raw)
        if text in ("float", "float | None"):
            return float(raw)
    except ValueError:
        raise _bad(key, raw, f"a value of type {text}") from None
    if text in ("str", "str | None"):
        return raw
    # Structures (weights, domains, lists, dicts) and unions: YAML, so `{a: 1}` and `[x, y]` work.
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    if isinstance(value, str) and "float" in text:
        try:
            return float(value)
        except ValueError:
            pass
    return value


def _suggest(key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def merge(base: Mapping[str, Any], flags: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """`base` (from YAML) with flags on top, each checked against the known keys and typed."""
    rf, gf = run_fields(), grpo_fields()
    known = sorted(set(rf) | set(gf))
    out: dict[str, Any] = {}
    for origin, mapping in ((where, base), ("the command line", flags)):
        for key, value in mapping.items():
            if key in ("config", "env"):
                raise ConfigError(f"config key {key!r} in {origin} is reserved")
            if key not in rf and key not in gf:
                raise ConfigError(f"unknown config key {key!r} in {origin}{_suggest(key, known)}")
            hint = typing.get_type_hints(RunArgs)[key] if key in rf else gf[key].type
            out[key] = _coerce(key, value, hint) if origin == "the command line" else value
    return out


def load_config(
    path: str | os.PathLike | None = None,
    argv: Sequence[str] = (),
    *,
    overrides: Mapping[str, Any] | None = None,
    eval_only: bool = False,
) -> TrainConfig:
    """Read a config (the embedded default when `path` is None), apply `argv` flags and
    `overrides`, validate everything, resolve the domain specs. No model is built.
    `eval_only` (modomodo-eval): no output directory is needed or checked."""
    src = Path(path) if path is not None else default_config_path()
    base = read_yaml(src)
    flags = dict(parse_flags(argv))
    if overrides:
        flags.update(overrides)
    values = merge(base, flags, where=str(src))
    rf = run_fields()
    run_kwargs = {k: v for k, v in values.items() if k in rf}
    grpo = {k: v for k, v in values.items() if k not in rf}
    if eval_only:
        grpo.setdefault("output_dir", ".")
    elif "output_dir" not in grpo or not grpo["output_dir"]:
        raise ConfigError("config key 'output_dir' is missing; expected --output-dir DIR")
    grpo["output_dir"] = str(grpo["output_dir"])
    try:
        run = RunArgs(**run_kwargs)
    except TypeError as exc:  # pragma: no cover - merge() rejects unknown keys first
        raise ConfigError(str(exc)) from None
    cfg = TrainConfig(run=run, grpo=grpo, source=str(src))
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
            suite = synthetic_suite(image_size=run.image_size, seed=run.data_seed)
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
    if run.weights is not None:
        unknown = sorted(set(run.weights) - set(cfg.train_domains))
        if unknown:
            raise ConfigError(
                f"config key 'weights' names domain(s) {unknown} that the config does not define; "
                f"expected names among the training domains {cfg.train_domains}"
            )
    if run.warmstart_steps and not all("sft_completion" in _columns_of(s) for s in cfg.train_specs):
        missing = [s.name for s in cfg.train_specs if "sft_completion" not in _columns_of(s)]
        raise ConfigError(
            f"config key 'warmstart_steps' = {run.warmstart_steps} needs gold completions, which domain(s) "
            f"{missing} do not have (only synthetic domains do); expected 0 for them"
        )
    for key in ("num_generations", "max_steps"):
        v = cfg.grpo.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise _bad(key, v, "an integer")
    if run.model == TINY and run.freeze_vision is not True and run.freeze_vision is not False:
        raise _bad("freeze_vision", run.freeze_vision, "true or false")
    if check_dir:
        check_output_dir(cfg.output_dir, resume=run.resume, overwrite=run.overwrite)


def _columns_of(spec) -> set[str]:
    return {"sft_completion"} if spec.is_synthetic else set()


def check_output_dir(path: Path, *, resume: bool, overwrite: bool) -> None:
    """A directory holding another run needs `resume` (continue it) or `overwrite`."""
    if not path.exists():
        if resume:
            raise ConfigError(f"--resume: output directory {str(path)!r} does not exist; nothing to resume")
        return
    if not path.is_dir():
        raise _bad("output_dir", str(path), "a directory (it is a file)")
    held = sorted(p.name for p in path.iterdir() if p.name in RUN_MARKERS or p.name.startswith("checkpoint-"))
    if resume:
        if not any(n.startswith("checkpoint-") for n in held):
            raise ConfigError(
                f"--resume: output directory {str(path)!r} holds no checkpoint-* to resume from"
            )
        return
    if held and not overwrite:
        raise ConfigError(
            f"output directory {str(path)!r} holds another run ({', '.join(held[:4])}); "
            "pass --resume to continue it or --overwrite to replace it"
        )


def dump(cfg: TrainConfig) -> str:
    """The resolved config as YAML (written to DIR/run_config.yaml)."""
    import yaml

    data = cfg.to_dict()
    return yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False)
