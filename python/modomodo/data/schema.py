"""The unified column schema: what every domain is loaded into, defined once.

- `image`: the image (`datasets.Image()`, read back as a PIL image),
- `prompt`: a TRL conversational prompt (one user turn: an image block, then the text),
- `solution`: the gold answer in the form the domain's rewards read (an option letter,
  `yes`/`no`, a number, text, or a JSON list of boxes),
- `domain`: the spec's name (what `routed(spec)` dispatches on),
- `image_size`: `[width, height]` of the stored image.

Loaders add their own columns after these (`question`, `src_row`, `sft_completion`, the
source's other columns); `features(**extra)` gives the Arrow features of both.
"""

from __future__ import annotations

from typing import Any

COLUMNS = ("image", "prompt", "solution", "domain", "image_size")


def features(**extra: Any):
    """The Arrow features of the unified columns, then `extra` (column name -> feature)."""
    from datasets import Features, List, Value
    from datasets import Image as HFImage

    unified = {
        "image": HFImage(),
        "prompt": List(
            {"role": Value("string"), "content": List({"type": Value("string"), "text": Value("string")})}
        ),
        "solution": Value("string"),
        "domain": Value("string"),
        "image_size": List(Value("int32"), length=2),
    }
    clash = sorted(set(unified) & set(extra))
    if clash:
        raise ValueError(f"extra columns {clash} would replace unified columns; expected other names")
    return Features({**unified, **extra})
