"""modomodo's rewards in verl's custom-reward interface.

Point verl at this file (`custom_reward_function.path=<this file>`,
`custom_reward_function.name=compute_score`); verl calls
`compute_score(data_source, solution_str, ground_truth, extra_info)` once per response.

Which rewards score a row, first match wins:

1. `extra_info["rewards"]`: a list of `{"name", "weight", "options"}` (as in `routed`);
2. `extra_info["domain"]`, else `data_source`, looked up in `DATA_SOURCES` by its
   lower-cased alphanumeric words (`"lmms-lab/LISA"` -> `lisa`, `"hiyouga/geometry3k"` ->
   `geometry3k`);
3. anything else: format + `accuracy` with `kind="auto"`.

`DATA_SOURCES` follows MoDoMoDo (format 1.0 + task reward 2.0, format gate) and Mixed-R1:

| words                                          | task reward                         |
|------------------------------------------------|-------------------------------------|
| coco, lvis, detection                          | iou, mode="match" (Visual-RFT COCO) |
| lisa, refcoco, refcocog, rec, grounding        | iou, mode="continuous"              |
| chartqa, chart                                 | chart (relaxed accuracy)            |
| geoqa, geoqav, scienceqa, sqa, mcq, mmmu       | accuracy, kind="mcq"                |
| sat, infovqa, vqa, yesno                       | accuracy, kind="auto"               |
| math, geometry3k, geo3k, mathvista, mathverse  | accuracy, kind="math"               |
| openended, caption, bmas                       | bmas (needs an `embedder` keyword)  |

The score is the weighted sum (so 0 to 3 with MoDoMoDo's weights), 0 when the format check
fails. `extra_info["image_size"] = (w, h)` scales normalised boxes and clips boxes;
`extra_info["coords"]` sets the box coordinates of the iou reward. For `bmas`, pass the
embedder through verl's `custom_reward_function.reward_kwargs` (`embedder=...`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from modomodo.rewards.registry import Entry, check_entry, gated_sum, score

FORMAT = {"name": "format", "weight": 1.0}


def _task(name: str, **options: Any) -> list[dict[str, Any]]:
    return [FORMAT, {"name": name, "weight": 2.0, "options": options}]


_GROUPS: list[tuple[tuple[str, ...], list[dict[str, Any]]]] = [
    (("coco", "lvis", "detection"), _task("iou", mode="match")),
    (("lisa", "refcoco", "refcocog", "rec", "grounding"), _task("iou", mode="continuous")),
    (("chartqa", "chart"), _task("chart")),
    (("geoqa", "geoqav", "scienceqa", "sqa", "mcq", "mmmu"), _task("accuracy", kind="mcq")),
    (("sat", "infovqa", "vqa", "yesno"), _task("accuracy", kind="auto")),
    (("math", "geometry3k", "geo3k", "mathvista", "mathverse"), _task("accuracy", kind="math")),
    (("openended", "caption", "bmas"), _task("bmas")),
]

#: word of a data source -> its rewards (`{"name", "weight", "options"}` entries)
DATA_SOURCES: dict[str, list[dict[str, Any]]] = {w: rewards for words, rewards in _GROUPS for w in words}
DEFAULT = _task("accuracy", kind="auto")


def rewards_for(data_source: str, extra_info: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The reward entries that score a row of `data_source` (see the module docstring)."""
    extra = extra_info or {}
    if extra.get("rewards") is not None:
        return list(extra["rewards"])
    for source in (extra.get("domain"), data_source):
        if source is None:
            continue
        whole = str(source).lower()
        words = [whole] + re.findall(r"[a-z0-9]+", whole)
        # The last path part names the dataset better than its owner ("owner/chartqa").
        for word in reversed(words):
            if word in DATA_SOURCES:
                return DATA_SOURCES[word]
        if whole in DATA_SOURCES:
            return DATA_SOURCES[whole]
    return DEFAULT


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **reward_kwargs: Any,
) -> float:
    """The reward of one response, routed by `extra_info` / `data_source` (module docstring).

    Garbage responses score 0.0. `reward_kwargs` (from verl's `reward_kwargs`) fill in
    options, e.g. `embedder=` for `bmas`.
    """
    extra = dict(extra_info or {})
    text = solution_str if isinstance(solution_str, str) else str(solution_str)
    size = extra.get("image_size")
    entries = _entries(data_source, extra, reward_kwargs.get("embedder"))
    scores = [score(e.name, e.options, [text], [ground_truth], [size]) for e in entries]
    total = gated_sum(entries, scores)[0]
    return 0.0 if total is None else float(total)


def _entries(data_source: str, extra: Mapping[str, Any], embedder: Any) -> list[Entry]:
    entries: list[Entry] = []
    for k, raw in enumerate(rewards_for(data_source, extra)):
        if not isinstance(raw, Mapping):
            raise ValueError(
                f"invalid reward entry {raw!r} for data source {data_source!r}: expected a mapping"
            )
        options = raw.get("options")
        if raw.get("name") == "iou" and "coords" in extra and isinstance(options, (Mapping, type(None))):
            options = {"coords": extra["coords"], **(options or {})}
        where = f"{data_source!r} rewards[{k}]"
        entries.append(
            check_entry(raw.get("name"), raw.get("weight", 1.0), options, where, embedder=embedder)
        )
    return entries
