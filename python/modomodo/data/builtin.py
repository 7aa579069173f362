"""Built-in domain specs: MoDoMoDo's domains and benchmarks, Mixed-R1's kinds, and the
synthetic suite (the embedded default).

The real-dataset specs live as YAML files in `modomodo/data/specs/` (copy one to start a
new domain); each says in `schema_source` where its column layout was confirmed, or that it
was not. The synthetic specs are built from `modomodo.data.synthetic.TASKS`.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

from modomodo.data.spec import DomainSpec, SpecError, load_specs
from modomodo.data.synthetic import IN_DOMAIN_TESTS, OOD_DOMAINS, TASKS, TRAIN_DOMAINS

MODOMODO_TRAIN = ("coco", "lisa", "geoqav", "sat", "scienceqa")
MODOMODO_IN = ("lisa_test", "sat_test", "scienceqa_test")
MODOMODO_OUT = ("chartqa", "infovqa", "mathvista", "mmmu")
MIXED_R1 = ("mixed_r1_yesno", "mixed_r1_mcq", "mixed_r1_chart", "mixed_r1_grounding", "mixed_r1_caption")


@lru_cache(maxsize=1)
def _yaml_specs() -> dict[str, DomainSpec]:
    out: dict[str, DomainSpec] = {}
    folder = resources.files("modomodo.data") / "specs"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            with resources.as_file(entry) as path:
                for spec in load_specs(path):
                    out[spec.name] = spec
    return out


def synthetic_suite(
    n_train: int = 1000, n_eval: int = 200, image_size: int = 112, seed: int = 0
) -> list[DomainSpec]:
    """The embedded default: 8 training domains, 3 in-domain tests (`<name>_test`, an
    independent stream of the training generator) and 4 out-of-distribution domains."""
    specs = []

    def make(name: str, task_name: str, role: str, split: str, n: int, rewards: Any = None) -> DomainSpec:
        t = TASKS[task_name]
        return DomainSpec(
            name=name,
            source=f"synthetic:{task_name}",
            split=split,
            template=t.template,
            answer_kind=t.answer_kind,
            rewards=list(rewards if rewards is not None else t.rewards),
            coords="absolute",
            role=role,
            n=n,
            seed=seed,
            image_size=image_size,
            description=t.description,
            skills=t.skills,
            schema_source=f"synthetic (modomodo.data.synthetic.{task_name}); mirrors {t.mirrors}; "
            "boxes in absolute pixels of the image",
        )

    for d in TRAIN_DOMAINS:
        specs.append(make(d, d, "train", "train", n_train))
    for d in IN_DOMAIN_TESTS:
        # Evaluation scores the answer only (MoDoMoDo: exact match, mean IoU for LISA).
        rewards = [r | {"weight": 1.0} for r in TASKS[d].rewards if r["name"] != "format"]
        specs.append(make(f"{d}_test", d, "in", "test", n_eval, rewards))
    for d in OOD_DOMAINS:
        specs.append(make(d, d, "out", "test", n_eval))
    return specs


@lru_cache(maxsize=1)
def _synthetic_defaults() -> dict[str, DomainSpec]:
    return {s.name: s for s in synthetic_suite()}


def builtin_names() -> list[str]:
    """Names of every built-in spec: real datasets first, then the synthetic suite."""
    return [*_yaml_specs(), *_synthetic_defaults()]


def builtin_spec(name: str, **overrides: Any) -> DomainSpec:
    """The built-in spec `name`, with fields replaced by `overrides` (validated)."""
    spec = _yaml_specs().get(name) or _synthetic_defaults().get(name)
    if spec is None:
        raise SpecError(f"unknown built-in domain {name!r}; expected one of {builtin_names()}")
    return spec.replace(**overrides) if overrides else spec
