"""Domains and data: domain specs, loaders into one schema, and the synthetic suite.

- `DomainSpec` (`spec.py`): a domain's source, column mapping, template, answer kind,
  rewards, coordinates and role, validated when built (from keywords, a dict or YAML).
- `load_domain(spec)` (`loading.py`): a `datasets.Dataset` with the unified columns
  `image`, `prompt`, `solution`, `domain`, `image_size` (`schema.py`, where they are
  defined) plus the source's other columns.
- `builtin_spec(name)` / `builtin_names()` (`builtin.py`): MoDoMoDo's domains and
  benchmarks, Mixed-R1's kinds, and `synthetic_suite()`, the embedded default.
- `modomodo.data.synthetic`: `DOMAINS` and `generate(domain, n, seed)`.
"""

from modomodo.data.builtin import builtin_names, builtin_spec, synthetic_suite
from modomodo.data.loading import DataError, load_domain, unify
from modomodo.data.spec import DomainSpec, RewardSpec, SpecError, load_specs, reward_spec

__all__ = [
    "DataError",
    "DomainSpec",
    "RewardSpec",
    "SpecError",
    "builtin_names",
    "builtin_spec",
    "load_domain",
    "load_specs",
    "reward_spec",
    "synthetic_suite",
    "unify",
]
