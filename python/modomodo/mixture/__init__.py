"""Choosing the domain mixture from pilot runs (MoDoMoDo's mixture method).

- `seed_mixtures`, `dirichlet_mixtures`, `simplex_lattice`: pilot designs (design.py);
- `alpha`, `coli`, `norm`: the paper's heuristics from the seed results (heuristics.py);
- `QuadraticSurrogate`, `LinearSurrogate`, `MixingLawSurrogate`: score from weights,
  with cross-validation and bootstrap spread (surrogate.py);
- `optimize`, `propose`: best mixtures, and the next most informative pilots (search.py);
- `RunRecord`, `load_records`, `append_record`: run records as JSON lines (records.py);
- `paired_difference`: arms compared seed by seed, as the study's report does (report.py);
- `modomodo.mixture.policies.make_policy`: the mixture policies of `weights: adaptive`.

The command `modomodo-mix plan | fit | propose | run` is in cli.py; the whole study that
`run` drives (pilots, heuristics, surrogate picks, final and adaptive runs) in loop.py.
"""

from modomodo.mixture.design import dirichlet_mixtures, seed_mixtures, simplex_lattice
from modomodo.mixture.heuristics import alpha, coli, heuristic_mixtures, norm
from modomodo.mixture.records import (
    RunRecord,
    append_record,
    load_records,
    load_table,
    records_to_arrays,
    save_records,
    weighted_score,
)
from modomodo.mixture.report import PairedDifference, paired_difference
from modomodo.mixture.search import Candidate, optimize, propose
from modomodo.mixture.surrogate import (
    CVResult,
    LinearSurrogate,
    MixingLawSurrogate,
    MixtureSurrogate,
    QuadraticSurrogate,
    make_surrogate,
)

__all__ = [
    "CVResult",
    "Candidate",
    "LinearSurrogate",
    "MixingLawSurrogate",
    "MixtureSurrogate",
    "PairedDifference",
    "QuadraticSurrogate",
    "RunRecord",
    "alpha",
    "append_record",
    "coli",
    "dirichlet_mixtures",
    "heuristic_mixtures",
    "load_records",
    "load_table",
    "make_surrogate",
    "norm",
    "optimize",
    "paired_difference",
    "propose",
    "records_to_arrays",
    "save_records",
    "seed_mixtures",
    "simplex_lattice",
    "weighted_score",
]
