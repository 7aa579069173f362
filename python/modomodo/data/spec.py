"""`DomainSpec`: one domain of multi-domain RLVR, validated when it is built.

A spec says where the rows come from (`source`, `split`, `config`), how the source's
columns map onto the unified schema (`columns`), how the question is put to the model
(`template`), what kind of gold answer it has (`answer_kind`), which rewards score it and
with which weights (`rewards`), the box coordinate convention (`coords`) and its role in a
study (`train`, `in` for in-domain tests, `out` for out-of-distribution benchmarks).

Every check happens here, at construction, so that a misspelt reward or column fails
before a model is built, never mid-training.
"""

from __future__ import annotations

import dataclasses
import math
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modomodo.data.prompts import TEMPLATES
from modomodo.rewards.registry import ACCURACY_KINDS, COORDS, IOU_MODES, REWARD_NAMES, REWARDS

__all__ = [
    "ACCURACY_KINDS",
    "ANSWER_KINDS",
    "COORDS",
    "IOU_MODES",
    "REWARD_NAMES",
    "DomainSpec",
    "RewardSpec",
    "SpecError",
    "load_specs",
    "reward_spec",
]

# Reward names, their options and the accuracy kinds, iou modes and coordinates are the
# reward registry's (modomodo.rewards.registry); they are re-exported here.
# What a gold answer is. The accuracy kinds, plus `boxes` (scored by `iou`) and `open`
# (free text scored by `bmas`).
ANSWER_KINDS = (*ACCURACY_KINDS, "boxes", "open")
ROLES = ("train", "in", "out")
# Keys of `columns`: unified field -> source column.
COLUMN_KEYS = ("image", "question", "solution", "choices")
MULTI_IMAGE = ("error", "first", "drop")
SYNTHETIC_PREFIX = "synthetic:"


class SpecError(ValueError):
    """A domain spec is invalid: the message names the domain, the field and the value."""


def _err(domain: str, what: str, value: Any, expected: str) -> SpecError:
    return SpecError(f"domain {domain!r}: {what} = {value!r} is invalid; expected {expected}")


@dataclass(frozen=True)
class RewardSpec:
    """One reward of a domain: a `modomodo.rewards.trl` function name, its weight, options."""

    name: str
    weight: float = 1.0
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "weight": self.weight, "options": dict(self.options)}


@dataclass(frozen=True)
class DomainSpec:
    """A domain: source, column mapping, prompt template, answer kind, rewards, role.

    Build one from keyword arguments, `DomainSpec.from_dict(...)`, `DomainSpec.from_yaml(path)`
    or `DomainSpec.builtin(name, **overrides)`. Any field can be overridden with
    `spec.replace(field=value)`; the result is validated again.

    Loading options (all validated):
    - `explode`: a list-valued source column; each element becomes its own row (LISA lists
      several instructions per image).
    - `keep_if`: `{column: regex}`; rows whose value does not match are dropped, and the
      count is logged.
    - `multi_image`: what to do when the image column holds several images: `error`,
      `first` (keep the first), `drop` (drop the row, counted in the log).
    - `max_side`: shrink images whose longer side exceeds it (aspect kept; absolute boxes are
      scaled with the image).
    - `clip_boxes`: clip gold boxes that leave the image (counted) instead of raising.
    - `image_root`: folder for relative image paths (default: the folder of a local source).
    - `keep_columns`: original columns to keep (default: every column that is not an image).
    - `n`: keep the first n rows (for synthetic sources: how many to generate).
    - `seed`, `image_size`: synthetic sources only.
    """

    name: str
    source: str
    answer_kind: str
    # RewardSpecs or `{name, weight, options}` mappings; stored as a tuple of RewardSpec.
    rewards: Sequence[Any]
    split: str = "train"
    config: str | Sequence[str] | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    template: str = "modomodo"
    system: str | None = None
    coords: str = "absolute"
    role: str = "train"
    n: int | None = None
    seed: int = 0
    image_size: int | None = None
    explode: str | None = None
    keep_if: Mapping[str, str] = field(default_factory=dict)
    multi_image: str = "error"
    max_side: int | None = None
    clip_boxes: bool = False
    image_root: str | None = None
    keep_columns: Sequence[str] | None = None
    description: str = ""
    skills: Sequence[str] = ()
    schema_source: str = ""

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
            raise SpecError(f"domain name {name!r} is invalid; expected letters, digits, '_', '.', '-'")
        if not isinstance(self.source, str) or not self.source.strip():
            raise _err(name, "source", self.source, "a hub id, a local path or 'synthetic:<name>'")
        if self.answer_kind not in ANSWER_KINDS:
            raise _err(name, "answer_kind", self.answer_kind, f"one of {list(ANSWER_KINDS)}")
        if self.coords not in COORDS:
            raise _err(name, "coords", self.coords, f"one of {list(COORDS)}")
        if self.role not in ROLES:
            raise _err(name, "role", self.role, f"one of {list(ROLES)}")
        if self.multi_image not in MULTI_IMAGE:
            raise _err(name, "multi_image", self.multi_image, f"one of {list(MULTI_IMAGE)}")
        if not isinstance(self.split, str) or not self.split:
            raise _err(name, "split", self.split, "a split name such as 'train'")
        config = self.config
        if config is not None:
            configs = [config] if isinstance(config, str) else list(config)
            if not configs or not all(isinstance(c, str) and c for c in configs):
                raise _err(name, "config", config, "a config name or a non-empty list of them")
            object.__setattr__(self, "config", config if isinstance(config, str) else tuple(configs))
        for key in ("n", "max_side", "image_size"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise _err(name, key, value, "a positive integer or null")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise _err(name, "seed", self.seed, "a non-negative integer")
        if not isinstance(self.clip_boxes, bool):
            raise _err(name, "clip_boxes", self.clip_boxes, "true or false")
        self._check_template()
        self._check_columns()
        object.__setattr__(self, "rewards", tuple(self._check_rewards()))
        object.__setattr__(self, "skills", tuple(self.skills))
        if self.keep_columns is not None:
            object.__setattr__(self, "keep_columns", tuple(self.keep_columns))
        for col, pattern in dict(self.keep_if).items():
            try:
                re.compile(pattern)
            except (re.error, TypeError) as exc:
                raise _err(
                    name, f"keep_if[{col!r}]", pattern, f"a valid regular expression ({exc})"
                ) from None
        object.__setattr__(self, "keep_if", dict(self.keep_if))
        object.__setattr__(self, "columns", dict(self.columns))

    # -- checks ---------------------------------------------------------------------------

    @property
    def is_synthetic(self) -> bool:
        return self.source.startswith(SYNTHETIC_PREFIX)

    @property
    def synthetic_name(self) -> str:
        return self.source[len(SYNTHETIC_PREFIX) :]

    def _check_template(self) -> None:
        t = self.template
        if not isinstance(t, str) or not t:
            raise _err(
                self.name, "template", t, f"a template name {sorted(TEMPLATES)} or text with {{question}}"
            )
        if t in TEMPLATES:
            return
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(t) if f is not None}
        except ValueError as exc:
            raise _err(self.name, "template", t, f"valid format text ({exc})") from None
        if fields != {"question"}:
            raise _err(
                self.name,
                "template",
                t,
                f"a template name {sorted(TEMPLATES)} or text whose only placeholder is {{question}}",
            )

    def _check_columns(self) -> None:
        cols = self.columns
        if not isinstance(cols, Mapping):
            raise _err(self.name, "columns", cols, "a mapping from unified field to source column")
        for key, col in cols.items():
            if key not in COLUMN_KEYS:
                raise _err(self.name, f"columns key {key!r}", col, f"keys among {list(COLUMN_KEYS)}")
            if not isinstance(col, str) or not col:
                raise _err(self.name, f"columns[{key!r}]", col, "a source column name")
        if self.is_synthetic:
            from modomodo.data.synthetic import TASKS

            task = TASKS.get(self.synthetic_name)
            if task is None:
                raise _err(
                    self.name, "source", self.source, f"'synthetic:<domain>' with a domain in {list(TASKS)}"
                )
            if self.answer_kind != task.answer_kind:
                raise _err(
                    self.name,
                    "answer_kind",
                    self.answer_kind,
                    f"{task.answer_kind!r}, the kind of {self.source}",
                )
            if self.coords != "absolute":
                raise _err(
                    self.name, "coords", self.coords, "'absolute' (synthetic boxes are pixel coordinates)"
                )
            if cols:
                raise _err(self.name, "columns", dict(cols), "no mapping for a synthetic source")
        else:
            missing = [k for k in ("image", "question", "solution") if k not in cols]
            if missing:
                raise _err(self.name, "columns", dict(cols), f"a mapping for {missing} as well")
            if self.image_size is not None:
                raise _err(self.name, "image_size", self.image_size, "null for a non-synthetic source")

    def _check_rewards(self) -> list[RewardSpec]:
        name = self.name
        if (
            isinstance(self.rewards, (str, bytes))
            or not isinstance(self.rewards, Sequence)
            or not self.rewards
        ):
            raise _err(name, "rewards", self.rewards, "a non-empty list of {name, weight, options}")
        out: list[RewardSpec] = []
        for i, r in enumerate(self.rewards):
            if isinstance(r, RewardSpec):
                r = r.to_dict()
            if not isinstance(r, Mapping):
                raise _err(name, f"rewards[{i}]", r, "a mapping {name, weight, options}")
            extra = set(r) - {"name", "weight", "options"}
            if extra:
                raise _err(name, f"rewards[{i}] keys", sorted(extra), "only name, weight, options")
            rname = r.get("name")
            if not isinstance(rname, str) or rname not in REWARDS:
                raise _err(name, f"rewards[{i}].name", rname, f"one of {list(REWARD_NAMES)}")
            weight = r.get("weight", 1.0)
            if (
                isinstance(weight, bool)
                or not isinstance(weight, (int, float))
                or not math.isfinite(weight)
                or weight <= 0
            ):
                raise _err(name, f"rewards[{i}] ({rname}).weight", weight, "a finite number > 0")
            opts = dict(r.get("options") or {})
            allowed = REWARDS[rname].options
            for k, v in opts.items():
                where = f"rewards[{i}] ({rname}) option {k!r}"
                if k not in allowed:
                    raise _err(name, where, v, f"options among {sorted(allowed)}")
                if not allowed[k].accepts(v):
                    raise _err(name, where, v, allowed[k].expected())
            self._fill_and_check_options(i, rname, opts)
            out.append(RewardSpec(rname, float(weight), opts))
        names = [r.name for r in out]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise _err(name, "rewards", names, f"each reward at most once (repeated: {dupes})")
        if all(n == "format" for n in names):
            raise _err(name, "rewards", names, "at least one reward besides `format`")
        if "iou" in names and self.answer_kind != "boxes":
            raise _err(name, "answer_kind", self.answer_kind, "'boxes' for a domain scored by `iou`")
        if self.answer_kind == "boxes" and "iou" not in names:
            raise _err(name, "rewards", names, "an `iou` reward for answer_kind 'boxes'")
        if self.answer_kind == "open" and not {"bmas"} & set(names):
            raise _err(name, "rewards", names, "a `bmas` reward for answer_kind 'open'")
        return out

    def _fill_and_check_options(self, i: int, rname: str, opts: dict[str, Any]) -> None:
        """The spec's defaults for a reward's options (accuracy kind, iou coords), and the
        rules that tie options to the spec; the registry has checked each value already."""
        if rname == "accuracy" and "kind" not in opts:
            opts["kind"] = self.answer_kind if self.answer_kind in ACCURACY_KINDS else "auto"
        if rname == "iou":
            opts.setdefault("mode", "continuous")
            opts.setdefault("coords", self.coords)
            if opts["coords"] != self.coords:
                where = f"rewards[{i}] ({rname}) option 'coords'"
                raise _err(self.name, where, opts["coords"], f"the spec's coords {self.coords!r}")

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DomainSpec:
        """A spec from a mapping (parsed YAML/JSON); unknown keys raise `SpecError`."""
        if isinstance(data, DomainSpec):
            return data
        if not isinstance(data, Mapping):
            raise SpecError(f"a domain spec must be a mapping, got {type(data).__name__}: {data!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        label = data.get("name", "<unnamed>")
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(
                f"domain {label!r}: unknown spec key(s) {unknown}; expected keys among {sorted(known)}"
            )
        missing = [k for k in ("name", "source", "answer_kind", "rewards") if k not in data]
        if missing:
            raise SpecError(f"domain {label!r}: missing required key(s) {missing}")
        return cls(**dict(data))

    @classmethod
    def from_yaml(cls, path: str | Path) -> DomainSpec:
        """A spec from a YAML file holding one mapping."""
        specs = load_specs(path)
        if len(specs) != 1:
            raise SpecError(f"{path}: expected one domain spec, found {len(specs)}; use load_specs()")
        return specs[0]

    @classmethod
    def builtin(cls, name: str, **overrides: Any) -> DomainSpec:
        """A built-in spec (see `builtin_names()`), with fields overridden."""
        from modomodo.data.builtin import builtin_spec

        return builtin_spec(name, **overrides)

    def replace(self, **changes: Any) -> DomainSpec:
        """A copy with fields changed, validated again."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise SpecError(
                f"domain {self.name!r}: unknown spec key(s) {unknown}; expected keys among {sorted(known)}"
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "rewards":
                v = [r.to_dict() for r in v]
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, Mapping):
                v = dict(v)
            out[f.name] = v
        return out

    def reward_config(self) -> list[dict[str, Any]]:
        """This domain's rewards as `[{name, weight, options}]`, the form `routed(spec)` takes."""
        return [r.to_dict() for r in self.rewards]


def reward_spec(specs: Sequence[DomainSpec]) -> dict[str, list[dict[str, Any]]]:
    """`{domain name: [{name, weight, options}, ...]}` for `modomodo.rewards.trl.routed`."""
    out: dict[str, list[dict[str, Any]]] = {}
    for s in specs:
        if s.name in out:
            raise SpecError(f"domain {s.name!r} is defined twice")
        out[s.name] = s.reward_config()
    return out


def load_specs(path: str | Path) -> list[DomainSpec]:
    """Specs from a YAML file: one mapping, a list of mappings, or `{domains: [...]}`."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read spec file {str(p)!r}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{str(p)!r} is not valid YAML: {exc}") from None
    if isinstance(data, Mapping) and "domains" in data and "name" not in data:
        data = data["domains"]
    items = data if isinstance(data, list) else [data]
    specs = []
    for item in items:
        try:
            specs.append(DomainSpec.from_dict(item))
        except SpecError as exc:
            raise SpecError(f"{str(p)!r}: {exc}") from None
    return specs
