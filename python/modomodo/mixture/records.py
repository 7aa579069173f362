"""Run records: one JSON line per trained mixture.

A record holds the mixture's weights by domain, the per-benchmark scores, and the
In-/Out-Scores (means of the per-benchmark scores weighted by test-set size, as in the
paper: `modomodo.summary.weighted_score`, re-exported here). Loading is strict but loses nothing: weights slightly off one are renormalised
with a warning, anything else that is wrong raises a `ValueError` naming the record, the
value and what was expected. NaN scores are kept (a failed run is still a fact); the
functions that need finite scores say which records lack them.

    {"name": "uniform", "weights": {"COCO": 0.2, ...}, "scores": {"ChartQA": 0.48, ...},
     "in_score": 0.56, "out_score": 0.46, "kind": "seed", "seed": 0, "meta": {}}
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modomodo.summary import weighted_score

__all__ = [
    "PAPER_DOMAINS",
    "PAPER_IN_SIZES",
    "PAPER_OUT_SIZES",
    "RunRecord",
    "append_record",
    "load_records",
    "load_table",
    "normalise_weights",
    "record_from_dict",
    "records_to_arrays",
    "save_records",
    "weight_matrix",
    "weighted_score",
]

# Default tolerance on |sum(weights) - 1|: within it weights are renormalised with a
# warning, beyond it the record is refused.
WEIGHT_TOLERANCE = 0.02
_EXACT = 1e-9

PAPER_DOMAINS = ("COCO", "LISA", "GeoQAV", "SAT", "ScienceQA")
# Test-set sizes from the paper: In-Score and Out-Score are means weighted by them.
PAPER_IN_SIZES = {"LISA_test": 3397, "SAT_test": 1928, "ScienceQA_test": 2017}
PAPER_OUT_SIZES = {"ChartQA": 2500, "InfoVQA": 2801, "MathVista": 1000, "MMMU": 900}


@dataclass
class RunRecord:
    """One trained mixture and its evaluation."""

    name: str
    weights: dict[str, float]
    scores: dict[str, float] = field(default_factory=dict)
    in_score: float = math.nan
    out_score: float = math.nan
    kind: str = "pilot"
    seed: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        """What makes a run unique: its name and its training seed."""
        return (self.name, self.seed)

    def score(self, target: str) -> float:
        """`in_score`, `out_score`, or one benchmark's score (NaN when absent)."""
        if target in ("in_score", "out_score"):
            return float(getattr(self, target))
        return float(self.scores.get(target, math.nan))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "weights": dict(self.weights),
            "scores": {k: _json_float(v) for k, v in self.scores.items()},
            "in_score": _json_float(self.in_score),
            "out_score": _json_float(self.out_score),
            "kind": self.kind,
            "seed": self.seed,
            "meta": self.meta,
        }


def _json_float(x: float) -> float | None:
    # NaN is not JSON: written as null, read back as NaN.
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _as_float(value: Any, what: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{what}: expected a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{what}: expected a number, got {value!r}") from None


def normalise_weights(
    weights: Mapping[str, Any], *, name: str = "record", tol: float = WEIGHT_TOLERANCE
) -> dict[str, float]:
    """Check a mixture: finite non-negative weights summing to one (renormalised with a
    warning when the sum is off by at most `tol`, refused beyond)."""
    if not isinstance(weights, Mapping) or not weights:
        raise ValueError(f"{name}: weights {weights!r}: expected a non-empty mapping domain -> weight")
    out = {}
    for dom, w in weights.items():
        v = _as_float(w, f"{name}: weight of {dom!r}")
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"{name}: weight of {dom!r} is {w!r}; expected a finite number >= 0")
        out[str(dom)] = v
    total = sum(out.values())
    if abs(total - 1.0) > tol:
        raise ValueError(
            f"{name}: weights sum to {total:.6g}; expected 1 (within {tol:g}; "
            f"renormalise the mixture yourself if {dict(out)} is what you meant)"
        )
    if abs(total - 1.0) > _EXACT:
        warnings.warn(f"{name}: weights sum to {total:.6g}, not 1; renormalised", UserWarning, stacklevel=3)
        out = {k: v / total for k, v in out.items()}
    return out


def record_from_dict(
    data: Mapping[str, Any], *, where: str = "record", tol: float = WEIGHT_TOLERANCE
) -> RunRecord:
    """Validate one JSON object into a `RunRecord`."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: 'name' is {name!r}; expected a non-empty string")
    where = f"{where} ({name!r})"
    if "weights" not in data:
        raise ValueError(f"{where}: no 'weights'; expected a mapping domain -> weight")
    weights = normalise_weights(data["weights"], name=where, tol=tol)
    raw_scores = data.get("scores") or {}
    if not isinstance(raw_scores, Mapping):
        raise ValueError(f"{where}: 'scores' is {raw_scores!r}; expected a mapping benchmark -> score")
    scores = {str(k): _as_float(v, f"{where}: score {k!r}") for k, v in raw_scores.items()}
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"{where}: 'seed' is {seed!r}; expected an integer")
    meta = data.get("meta") or {}
    if not isinstance(meta, Mapping):
        raise ValueError(f"{where}: 'meta' is {meta!r}; expected a mapping")
    return RunRecord(
        name=name,
        weights=weights,
        scores=scores,
        in_score=_as_float(data.get("in_score"), f"{where}: in_score"),
        out_score=_as_float(data.get("out_score"), f"{where}: out_score"),
        kind=str(data.get("kind", "pilot")),
        seed=seed,
        meta=dict(meta),
    )


def _read_text(path: Path, what: str, expected: str) -> str:
    """The whole file as text; a missing, unreadable or binary file is a `ValueError` naming it."""
    if not path.is_file():
        raise ValueError(f"{what} {str(path)!r} does not exist; expected {expected}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{what} {str(path)!r} is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); "
            f"expected {expected}"
        ) from None
    if "\0" in text:
        raise ValueError(
            f"{what} {str(path)!r} is binary (a NUL byte at offset {text.index(chr(0))}); expected {expected}"
        )
    return text


def _is_torn(line: str) -> bool:
    """A last line without its newline that is not a whole JSON value: cut by a crash."""
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return True
    return False


def load_records(path: str | Path, *, tol: float = WEIGHT_TOLERANCE) -> list[RunRecord]:
    """Read a JSON-lines file of run records (blank lines ignored). A last line cut short
    by a crash (no newline, not valid JSON) is skipped with a warning."""
    path = Path(path)
    text = _read_text(path, "records file", "a JSON-lines file of run records")
    lines = text.split("\n")
    records = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        if lineno == len(lines) and _is_torn(line):
            warnings.warn(
                f"{where}: the last line is cut short (a crash while writing?); ignored",
                UserWarning,
                stacklevel=2,
            )
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{where}: not valid JSON ({exc.msg}); expected one record object per line"
            ) from None
        records.append(record_from_dict(data, where=where, tol=tol))
    return records


def repair_torn_tail(path: str | Path) -> None:
    """Before appending to a records file after a crash: cut a torn last line (with a
    warning), or end a whole last line that lacks its newline."""
    path = Path(path)
    if not path.is_file():
        return
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return
    cut = data.rfind(b"\n") + 1
    tail = data[cut:].decode("utf-8", errors="replace")
    with path.open("r+b") as fh:
        if _is_torn(tail):
            warnings.warn(
                f"{path}: dropped a last line cut short by a crash: {tail[:80]!r}"
                + ("..." if len(tail) > 80 else ""),
                UserWarning,
                stacklevel=2,
            )
            fh.truncate(cut)
        else:
            fh.seek(0, os.SEEK_END)
            fh.write(b"\n")
        fh.flush()
        os.fsync(fh.fileno())


def append_record(path: str | Path, record: RunRecord) -> None:
    """Append one record as a JSON line (the file is created if needed): one `write` of
    the whole line to a file opened for appending, then fsync, so a line is never
    interleaved with another writer's and is on disk before the caller goes on."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record.to_json(), allow_nan=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, line)
        if written != len(line):  # a short write (disk full): leave a torn line for the reader to drop
            raise OSError(f"{path}: wrote {written} of {len(line)} bytes of a record")
        os.fsync(fd)
    finally:
        os.close(fd)


def save_records(path: str | Path, records: Iterable[RunRecord]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r.to_json(), allow_nan=False) + "\n")


def load_table(
    path: str | Path,
    domains: Sequence[str] = PAPER_DOMAINS,
    *,
    exclude: Sequence[str] = ("base",),
    kind: str = "seed",
) -> list[RunRecord]:
    """Read a tab-separated table laid out like `modomodo_table2_seeds.tsv`: a `run`
    column, one weight column per domain, benchmark columns, `in_score`, `out_score`.
    Rows named in `exclude` (the base model has no mixture) are skipped."""
    path = Path(path)
    text = _read_text(path, "table", "a tab-separated table of runs")
    if not text.strip():
        raise ValueError(f"table {str(path)!r} is empty; expected a header line and one row per run")
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter="\t"))
    if not rows:
        raise ValueError(f"table {str(path)!r} has no rows")
    header = list(rows[0])
    need = ["run", *domains, "in_score", "out_score"]
    missing = [c for c in need if c not in header]
    if missing:
        raise ValueError(f"table {str(path)!r} lacks columns {missing}; expected {need} among {header}")
    benchmarks = [c for c in header if c not in need]
    out = []
    for i, row in enumerate(rows, 2):
        if row["run"] in exclude:
            continue
        where = f"{path}:{i}"
        out.append(
            record_from_dict(
                {
                    "name": row["run"],
                    "weights": {d: row[d] for d in domains},
                    "scores": {b: row[b] for b in benchmarks},
                    "in_score": row["in_score"],
                    "out_score": row["out_score"],
                    "kind": kind,
                },
                where=where,
            )
        )
    return out


def record_domains(records: Sequence[RunRecord]) -> list[str]:
    """Every domain named by any record, in order of first appearance."""
    seen: dict[str, None] = {}
    for r in records:
        for d in r.weights:
            seen.setdefault(d, None)
    return list(seen)


def weight_matrix(
    records: Sequence[RunRecord], domains: Sequence[str] | None = None, *, missing: str = "error"
) -> tuple[np.ndarray, list[str]]:
    """The (n_records, n_domains) weight matrix and the domain order.

    A domain named by some records but absent from others is an error (it may be a
    typo or a record from another study) unless `missing="zero"`, which reads an absent
    domain as weight 0. A record naming a domain outside `domains` is always an error.
    """
    if missing not in ("error", "zero"):
        raise ValueError(f"missing={missing!r}; expected 'error' or 'zero'")
    doms = list(domains) if domains is not None else record_domains(records)
    if len(set(doms)) != len(doms):
        raise ValueError(f"domains {doms} repeat a name; expected distinct domains")
    W = np.zeros((len(records), len(doms)))
    gaps: list[str] = []
    for i, r in enumerate(records):
        extra = [d for d in r.weights if d not in doms]
        if extra:
            raise ValueError(f"record {r.name!r} names domains {extra} outside the study's domains {doms}")
        absent = [d for d in doms if d not in r.weights]
        if absent:
            gaps.append(f"{r.name!r} lacks {absent}")
        for j, d in enumerate(doms):
            W[i, j] = r.weights.get(d, 0.0)
    if gaps and missing == "error":
        raise ValueError(
            "a domain is missing from some records: "
            + "; ".join(gaps)
            + f". Expected every record to give a weight for each of {doms} "
            "(pass missing='zero' / --missing zero to read an absent domain as weight 0)"
        )
    return W, doms


def targets(records: Sequence[RunRecord], target: str = "out_score", *, nan: str = "error") -> np.ndarray:
    """Scores of `target` for every record. NaN scores raise (naming the records) unless
    `nan="drop"`, in which case use `finite_records` first."""
    y = np.array([r.score(target) for r in records], dtype=float)
    bad = [r.name for r, v in zip(records, y) if not math.isfinite(v)]
    if bad and nan == "error":
        raise ValueError(
            f"{target} is NaN or missing for records {bad}; expected finite scores "
            "(drop them with nan='drop' / --drop-nan, or re-run them)"
        )
    return y


def finite_records(records: Sequence[RunRecord], target: str = "out_score") -> list[RunRecord]:
    """The records whose `target` is finite; warns naming the others (which stay in the file)."""
    keep = [r for r in records if math.isfinite(r.score(target))]
    dropped = [r.name for r in records if not math.isfinite(r.score(target))]
    if dropped:
        warnings.warn(f"ignoring records with NaN {target}: {dropped}", UserWarning, stacklevel=2)
    return keep


def records_to_arrays(
    records: Sequence[RunRecord],
    target: str = "out_score",
    domains: Sequence[str] | None = None,
    *,
    missing: str = "error",
    nan: str = "error",
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(W, y, domains) ready for a surrogate, with the checks above."""
    if nan not in ("error", "drop"):
        raise ValueError(f"nan={nan!r}; expected 'error' or 'drop'")
    if nan == "drop":
        records = finite_records(records, target)
    W, doms = weight_matrix(records, domains, missing=missing)
    y = targets(records, target, nan="error")
    return W, y, doms
