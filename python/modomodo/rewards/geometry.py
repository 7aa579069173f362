"""Boxes in model output and the IoU rewards (the work is done in Rust, `modomodo._core`).

Predicted boxes come from the completion's answer (`extract_answer`), or from the whole
completion when it has no answer block, as for `accuracy_reward`. Gold boxes are absolute
pixels; `coords` describes the numbers the model writes (`absolute`, `norm1000` as in
Qwen2-VL, or `norm1`), which are scaled by the row's image size.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from typing import Any

from modomodo import _core

Box = tuple[float, float, float, float]


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlist = _REPR.maxtuple = 8


def _short_repr(value: Any) -> str:
    """`repr(value)` cut to a readable length for an error message."""
    return _REPR.repr(value)


def _is_size(value: Any) -> bool:
    """A single image size (two numbers, an array of two, or {width, height}), as opposed
    to a list with one size per item."""
    if isinstance(value, dict):
        return True
    if hasattr(value, "tolist"):  # numpy arrays, torch tensors
        value = value.tolist()
    return (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )


def _sizes(value: Any, n: int) -> Any:
    """`None`, one size repeated for every item, or the per-item sizes as given (Rust
    checks each one and names the bad `image_sizes[i]`)."""
    if value is None:
        return None
    if _is_size(value):
        return [value] * n
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(
            f"invalid image_sizes {_short_repr(value)}: expected (width, height) or one per item"
        )
    return value


def parse_boxes(
    text: str | Sequence[str],
    *,
    coords: str = "absolute",
    image_size: Any = None,
) -> list[Box] | list[list[Box]]:
    """Every box in `text`, in order, as absolute `(x1, y1, x2, y2)`, `x1 <= x2`, `y1 <= y2`.

    Reads `[x1, y1, x2, y2]`, JSON or Python-literal dicts with a `bbox`, `bbox_2d`,
    `Position` or `box` key (and lists of them), `<box>(x1,y1),(x2,y2)</box>` and
    `<|box_start|>(x1,y1),(x2,y2)<|box_end|>`. `coords="norm1000"` or `"norm1"` scale by
    `image_size=(w, h)`; given an image size, boxes are clipped to it. Non-finite and
    zero-area boxes are dropped. A list of texts gives one list of boxes per text (in one
    Rust call over threads); its `image_size` is one size for all or one per text.
    """
    if isinstance(text, str):
        return _core.parse_boxes(text, coords, image_size)
    texts = list(text)
    return _core.parse_boxes_batch(texts, coords, _sizes(image_size, len(texts)))


def iou_reward(
    completions: str | Sequence[str],
    solutions: Any,
    *,
    mode: str = "continuous",
    threshold: float = 0.5,
    coords: str = "absolute",
    image_sizes: Any = None,
) -> list[float]:
    """IoU reward of each completion against its solution (a box, a list of boxes, or text).

    - `continuous`: IoU of the first predicted box with the first gold box;
    - `threshold`: 1.0 when that IoU is at least `threshold` (and the boxes overlap);
    - `match`: one-to-one greedy matching by descending IoU over pairs with IoU >=
      `threshold`; the sum of matched IoUs / max(#predicted, #gold) (Visual-RFT COCO).

    A completion without a box, or a solution without one, scores 0.0. `image_sizes` is
    one `(w, h)` for all completions or one per completion (needed for normalised coords).
    """
    if isinstance(completions, str):
        completions, solutions = [completions], [solutions]
    elif isinstance(solutions, (str, bytes, dict)) or not isinstance(solutions, Sequence):
        raise ValueError(
            f"invalid solutions {_short_repr(solutions)}: expected one solution per completion (a list)"
        )
    n = len(solutions)
    return _core.iou_reward(completions, solutions, mode, float(threshold), coords, _sizes(image_sizes, n))
