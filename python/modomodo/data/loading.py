"""`load_domain(spec)`: any source, one schema.

The source is read with `datasets` (a hub id, a local file or folder, or `synthetic:<name>`);
images are decoded with Pillow; the spec's columns are mapped onto the unified schema:

- `image`: the image (`datasets.Image()`, read back as a PIL image),
- `prompt`: a TRL conversational prompt (one user turn: an image block, then the text),
- `solution`: the gold answer in the form the domain's rewards read (an option letter,
  `yes`/`no`, a number, text, or a JSON list of boxes),
- `domain`: the spec's name (what `routed(spec)` dispatches on),
- `image_size`: `[width, height]` of the stored image,

plus `question` (the question text before the template), `src_row` (the row of the source)
and the source's other non-image columns (renamed `src_<name>` where a name collides).

Everything is checked here: a missing column, an image that does not decode, a box outside
its image, an answer that is not of the spec's kind each raise `DataError` naming the
domain, the row and the value. Rows are only dropped where the spec asks for it
(`keep_if`, `multi_image: drop`), and every drop is counted in the log.
"""

from __future__ import annotations

import ast
import io
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from modomodo.data.prompts import LETTERS, conversation, render_choices, render_template
from modomodo.data.spec import DomainSpec, SpecError

log = logging.getLogger("modomodo.data")

UNIFIED = ("image", "prompt", "solution", "domain", "image_size", "question", "src_row")
DEFAULT_SYNTHETIC_N = 1000
_FILE_BUILDERS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv", ".arrow": "arrow"}
_LETTER = re.compile(r"^\(?\s*([A-Ha-h])\s*\)?[.):]?$")
_NUMBER = re.compile(
    r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+-]?\d+)?\s*%?$|^[+-]?\d+\s*/\s*\d+$"
)
_BOX_KEYS = ("Position", "bbox_2d", "bbox", "box", "boxes")
_MAX_TEXT = 1_000_000  # a gold answer longer than this is not a box list worth parsing


class DataError(ValueError):
    """A row or source does not fit its spec: the message names domain, row and value."""


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def _row_error(spec: DomainSpec, row: Any, column: str | None, value: Any, expected: str) -> DataError:
    col = f", column {column!r}" if column else ""
    return DataError(f"domain {spec.name!r}, row {row}{col}: {_short(value)} is invalid; expected {expected}")


# -- public entry --------------------------------------------------------------------------


def load_domain(spec: DomainSpec | Mapping[str, Any] | str | Path, **overrides: Any):
    """Load a domain as a `datasets.Dataset` in the unified schema.

    `spec` is a `DomainSpec`, a mapping, the path of a YAML file, or a built-in name
    (`modomodo.data.builtin_names()`); `overrides` replace spec fields (e.g. `source=` a
    local copy, `n=` a row limit).
    """
    spec = resolve_spec(spec)
    if overrides:
        spec = spec.replace(**overrides)
    if spec.is_synthetic:
        from modomodo.data.synthetic import generate

        ds = generate(
            spec.synthetic_name,
            spec.n if spec.n is not None else DEFAULT_SYNTHETIC_N,
            spec.seed,
            image_size=spec.image_size or 112,
            split=spec.split,
            template=spec.template,
            name=spec.name,
            system=spec.system,
        )
        log.info(
            "domain %r: %d synthetic rows (%s, split %s, seed %d)",
            spec.name,
            len(ds),
            spec.source,
            spec.split,
            spec.seed,
        )
        return ds
    return _load_real(spec)


def resolve_spec(spec: DomainSpec | Mapping[str, Any] | str | Path) -> DomainSpec:
    if isinstance(spec, DomainSpec):
        return spec
    if isinstance(spec, Mapping):
        return DomainSpec.from_dict(spec)
    if isinstance(spec, (str, Path)):
        from modomodo.data.builtin import builtin_names, builtin_spec

        if str(spec) in builtin_names():
            return builtin_spec(str(spec))
        p = Path(spec)
        if p.suffix in (".yaml", ".yml") and p.exists():
            return DomainSpec.from_yaml(p)
        raise SpecError(
            f"{str(spec)!r} is neither a built-in domain {sorted(builtin_names())} nor a YAML spec file"
        )
    raise SpecError(
        f"a domain spec must be a DomainSpec, a mapping, a YAML path or a built-in name, got {spec!r}"
    )


# -- source -------------------------------------------------------------------------------


def _load_source(spec: DomainSpec):
    import datasets

    configs = [spec.config] if spec.config is None or isinstance(spec.config, str) else list(spec.config)
    path = Path(spec.source).expanduser()
    try:
        if path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists()):
            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                if spec.split not in loaded:
                    raise DataError(
                        f"domain {spec.name!r}: split {spec.split!r} not in {str(path)!r}; it has {list(loaded)}"
                    )
                loaded = loaded[spec.split]
            return loaded
        if path.is_file():
            builder = _FILE_BUILDERS.get(path.suffix.lower())
            if builder is None:
                raise DataError(
                    f"domain {spec.name!r}: source file {str(path)!r} has an unknown type; expected one of {sorted(_FILE_BUILDERS)}"
                )
            return datasets.load_dataset(builder, data_files={spec.split: str(path)}, split=spec.split)
        if path.is_dir():
            return datasets.load_dataset(str(path), split=spec.split)
        if spec.source.startswith((".", "/", "~")) or Path(spec.source).suffix.lower() in _FILE_BUILDERS:
            raise DataError(f"domain {spec.name!r}: source {spec.source!r} does not exist")
        parts = [datasets.load_dataset(spec.source, c, split=spec.split) for c in configs]
        return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
    except DataError:
        raise
    except Exception as exc:  # datasets raises many types; name the domain and the source
        raise DataError(
            f"domain {spec.name!r}: cannot load source {spec.source!r} (config {spec.config!r}, split {spec.split!r}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _is_image_feature(feat: Any) -> bool:
    from datasets import Image as HFImage
    from datasets import List
    from datasets import Sequence as HFSequence

    if isinstance(feat, HFImage):
        return True
    if isinstance(feat, (List, HFSequence)):
        return _is_image_feature(feat.feature)
    return False


def _undecoded(feat: Any) -> Any:
    from datasets import Image as HFImage
    from datasets import List
    from datasets import Sequence as HFSequence

    if isinstance(feat, HFImage):
        return HFImage(decode=False)
    if isinstance(feat, List):
        return List(_undecoded(feat.feature), length=feat.length)
    if isinstance(feat, HFSequence):
        return HFSequence(_undecoded(feat.feature), length=feat.length)
    return feat


# -- values -------------------------------------------------------------------------------


def _image_bytes(spec: DomainSpec, row: int, col: str, value: Any, root: Path | None) -> bytes:
    if isinstance(value, Mapping):
        if value.get("bytes"):
            return bytes(value["bytes"])
        value = value.get("path")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, Image.Image):
        buf = io.BytesIO()
        value.save(buf, format="PNG")
        return buf.getvalue()
    if isinstance(value, str) and value:
        p = Path(value).expanduser()
        if not p.is_absolute() and root is not None:
            p = root / p
        try:
            return p.read_bytes()
        except OSError as exc:
            raise _row_error(spec, row, col, value, f"a readable image file ({exc.strerror})") from None
    raise _row_error(spec, row, col, value, "an image (bytes, a file path or a {bytes, path} dict)")


def _decode(spec: DomainSpec, row: int, col: str, value: Any, root: Path | None) -> tuple[bytes, Image.Image]:
    data = _image_bytes(spec, row, col, value, root)
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        shown = (
            value.get("path")
            if isinstance(value, Mapping) and value.get("path")
            else value
            if isinstance(value, str)
            else f"<{len(data)} bytes>"
        )
        raise _row_error(
            spec, row, col, shown, f"an image Pillow can decode ({type(exc).__name__}: {exc})"
        ) from None
    return data, img


def _store_image(data: bytes, img: Image.Image, max_side: int | None) -> tuple[dict, tuple[int, int], float]:
    """The bytes to store, the stored size, and the scale applied (1.0 when untouched)."""
    w, h = img.size
    scale = 1.0
    if max_side is not None and max(w, h) > max_side:
        scale = max_side / max(w, h)
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    if scale == 1.0 and img.mode in ("RGB", "L") and img.format in ("PNG", "JPEG", "WEBP", "BMP", "GIF"):
        return {"bytes": data, "path": None}, (w, h), 1.0
    fmt = "JPEG" if img.format == "JPEG" else "PNG"
    rgb = img.convert("RGB")
    buf = io.BytesIO()
    rgb.save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {"compress_level": 1}))
    return {"bytes": buf.getvalue(), "path": None}, rgb.size, scale


def _parse_literal(text: str) -> Any:
    # Gold answers come from the dataset, not from a model; still, only literals are read.
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return None


def _strip_answer_tags(text: str) -> str:
    m = re.search(r"<answer>(.*?)</answer>", text, re.DOTALL)
    return (m.group(1) if m else text).strip()


def _collect_boxes(obj: Any, out: list[list[float]]) -> bool:
    if isinstance(obj, Mapping):
        for key in _BOX_KEYS:
            if key in obj:
                return _collect_boxes(obj[key], out)
        return False
    if isinstance(obj, (list, tuple)):
        if len(obj) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in obj):
            out.append([v for v in obj])
            return True
        return all(_collect_boxes(o, out) for o in obj) and len(obj) > 0
    if hasattr(obj, "tolist"):  # numpy arrays from Arrow
        return _collect_boxes(obj.tolist(), out)
    return False


def _boxes(spec: DomainSpec, row: int, col: str, value: Any) -> list[list[float]]:
    obj = value
    if isinstance(value, str):
        text = _strip_answer_tags(value)
        if len(text) > _MAX_TEXT:
            raise _row_error(spec, row, col, value, "a box list of reasonable length")
        obj = _parse_literal(text)
        if obj is None:
            pairs = re.findall(
                r"\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)\s*,\s*\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)", text
            )
            obj = [[float(v) for v in p] for p in pairs] or None
    out: list[list[float]] = []
    if obj is None or not _collect_boxes(obj, out) or not out:
        raise _row_error(
            spec,
            row,
            col,
            value,
            f"boxes: [x1, y1, x2, y2], a list of them, or dicts with a {'/'.join(_BOX_KEYS)} key",
        )
    return out


def _check_boxes(
    spec: DomainSpec,
    row: int,
    col: str,
    boxes: list[list[float]],
    size: tuple[int, int],
    scale: float,
    clipped: Counter,
) -> list[list[float]]:
    w, h = size
    if spec.coords == "absolute":
        boxes = [[v * scale for v in b] for b in boxes] if scale != 1.0 else boxes
        limit = (w, h)
    else:
        limit = (1000, 1000) if spec.coords == "norm1000" else (1, 1)
    out = []
    for b in boxes:
        x1, y1, x2, y2 = (float(v) for v in b)
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)) or x2 <= x1 or y2 <= y1:
            raise _row_error(spec, row, col, b, "a box [x1, y1, x2, y2] with x1 < x2, y1 < y2, finite")
        inside = 0 <= x1 and 0 <= y1 and x2 <= limit[0] and y2 <= limit[1]
        if not inside:
            if not spec.clip_boxes:
                raise _row_error(
                    spec,
                    row,
                    col,
                    b,
                    f"a box inside the image: 0 <= x <= {limit[0]}, 0 <= y <= {limit[1]} ({spec.coords} coords, "
                    f"image {w}x{h}); set clip_boxes: true to clip",
                )
            x1, y1, x2, y2 = max(0.0, x1), max(0.0, y1), min(float(limit[0]), x2), min(float(limit[1]), y2)
            if x2 <= x1 or y2 <= y1:
                raise _row_error(spec, row, col, b, f"a box that overlaps the image ({w}x{h})")
            clipped["boxes clipped to the image"] += 1
        vals = [x1, y1, x2, y2]
        if scale != 1.0 and spec.coords == "absolute":
            vals = [round(v) for v in vals]
        out.append([int(v) if float(v).is_integer() else round(v, 2) for v in vals])
    return out


def _box_text(boxes: list[list[float]]) -> str:
    one = lambda b: "[" + ",".join(str(v) for v in b) + "]"  # noqa: E731
    return one(boxes[0]) if len(boxes) == 1 else "[" + ",".join(one(b) for b in boxes) + "]"


def _choices(spec: DomainSpec, row: int, col: str, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        parsed = _parse_literal(value) if value.strip() else []
        if not isinstance(parsed, (list, tuple)):
            raise _row_error(spec, row, col, value, "a list of options (or its JSON / Python-literal text)")
        value = parsed
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise _row_error(spec, row, col, value, "a list of options")
    return [str(v).strip() for v in value]


def _solution(
    spec: DomainSpec, row: int, col: str, value: Any, choices: list[str], stats: Counter
) -> tuple[str, bool]:
    """The gold answer text for a non-box kind, and whether it is an option letter."""
    kind = spec.answer_kind
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        if not value:
            raise _row_error(spec, row, col, value, "a non-empty answer")
        if len(value) > 1:
            stats["rows with several gold answers (the first is used)"] += 1
        value = value[0]
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        raise _row_error(spec, row, col, value, f"a gold answer of kind {kind!r}")
    if kind == "mcq" or (choices and kind == "auto"):
        letter = _letter(value, choices)
        if letter is not None:
            return letter, True
        if kind == "mcq":
            raise _row_error(
                spec,
                row,
                col,
                value,
                f"an option letter A-{LETTERS[max(len(choices), 1) - 1]}, "
                f"an option index, or the text of one of the options {choices}",
            )
    if isinstance(value, bool):
        value = "yes" if value else "no"
    text = _strip_answer_tags(str(value)) if isinstance(value, str) else str(value)
    if not text:
        raise _row_error(spec, row, col, value, "a non-empty answer")
    if kind == "yesno":
        if text.lower().rstrip(".") not in ("yes", "no"):
            raise _row_error(spec, row, col, value, "'yes' or 'no'")
        return text.lower().rstrip("."), False
    if kind == "numeric" and not _NUMBER.match(text.replace(" ", "")):
        raise _row_error(spec, row, col, value, "a number (e.g. 3, -1.5, 1,234, 12%, 3/4)")
    if kind == "count" and not re.fullmatch(r"\d+", text):
        raise _row_error(spec, row, col, value, "a whole number >= 0")
    return text, False


def _letter(value: Any, choices: list[str]) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return LETTERS[value] if choices and 0 <= value < min(len(choices), len(LETTERS)) else None
    if not isinstance(value, str):
        return None
    text = _strip_answer_tags(value)
    m = _LETTER.match(text)
    if m:
        letter = m.group(1).upper()
        if not choices or LETTERS.index(letter) < len(choices):
            return letter
        return None
    if text in choices and choices.index(text) < len(LETTERS):
        return LETTERS[choices.index(text)]
    return None


# -- real sources -------------------------------------------------------------------------


def _load_real(spec: DomainSpec):
    from datasets import Features, List, Value
    from datasets import Image as HFImage

    ds = _load_source(spec)
    available = list(ds.column_names)
    needed = dict(spec.columns)
    if spec.explode:
        needed["explode"] = spec.explode
    for key, col in (
        list(needed.items())
        + [(f"keep_if[{c!r}]", c) for c in spec.keep_if]
        + [("keep_columns", c) for c in (spec.keep_columns or ())]
    ):
        if col not in available:
            raise DataError(
                f"domain {spec.name!r}: {key} maps to column {col!r}, which the source {spec.source!r} "
                f"(split {spec.split!r}) does not have; its columns are {available}"
            )
    n_source = len(ds)
    drops: Counter = Counter()
    ds = ds.add_column("src_row", list(range(n_source))) if "src_row" not in available else ds

    if spec.explode:
        col = spec.explode

        def explode(batch: dict) -> dict:
            out: dict[str, list] = {k: [] for k in batch}
            for i, value in enumerate(batch[col]):
                items = value if isinstance(value, (list, tuple)) else [value]
                if not items:
                    drops[f"rows with an empty {col!r} list"] += 1
                for item in items:
                    for k in batch:
                        out[k].append(item if k == col else batch[k][i])
            return out

        feats = ds.features.copy()
        inner = feats[col]
        feats[col] = getattr(inner, "feature", inner)
        ds = ds.map(
            explode, batched=True, features=feats, load_from_cache_file=False, desc=f"{spec.name}: explode"
        )

    for col, pattern in spec.keep_if.items():
        rx = re.compile(pattern)
        before = len(ds)
        ds = ds.filter(
            lambda v, rx=rx: v is not None and rx.search(str(v)) is not None,
            input_columns=[col],
            load_from_cache_file=False,
        )
        if len(ds) < before:
            drops[f"rows whose {col!r} does not match keep_if {pattern!r}"] += before - len(ds)
    if spec.n is not None and len(ds) > spec.n:
        ds = ds.select(range(spec.n))

    image_col = spec.columns["image"]
    image_cols = [c for c, f in ds.features.items() if _is_image_feature(f)]
    for c in image_cols:
        ds = ds.cast_column(c, _undecoded(ds.features[c]))
    keep = (
        list(spec.keep_columns)
        if spec.keep_columns is not None
        else [c for c in ds.column_names if c not in image_cols and c != image_col and c != "src_row"]
    )
    dropped_images = [c for c in image_cols if c != image_col]
    if dropped_images:
        log.info(
            "domain %r: image columns %s are not kept (only %r is used)", spec.name, dropped_images, image_col
        )
    renamed = {c: (f"src_{c}" if c in UNIFIED else c) for c in keep}
    out_features = Features(
        {
            "image": HFImage(),
            "prompt": List(
                {"role": Value("string"), "content": List({"type": Value("string"), "text": Value("string")})}
            ),
            "solution": Value("string"),
            "domain": Value("string"),
            "image_size": List(Value("int32"), length=2),
            "question": Value("string"),
            "src_row": Value("int64"),
            **{renamed[c]: ds.features[c] for c in keep},
        }
    )
    root = Path(spec.image_root).expanduser() if spec.image_root else _default_root(spec)
    stats: Counter = Counter()

    def convert(batch: dict) -> dict:
        out: dict[str, list] = {k: [] for k in out_features}
        for i in range(len(batch["src_row"])):
            row = batch["src_row"][i]
            value = batch[image_col][i]
            if isinstance(value, (list, tuple)):
                if not value:
                    raise _row_error(spec, row, image_col, value, "at least one image")
                if len(value) > 1:
                    if spec.multi_image == "error":
                        raise _row_error(
                            spec,
                            row,
                            image_col,
                            f"<{len(value)} images>",
                            "one image per row (set multi_image: first or drop)",
                        )
                    if spec.multi_image == "drop":
                        drops[f"rows with several images in {image_col!r} (multi_image: drop)"] += 1
                        continue
                    stats["rows with several images, first kept (multi_image: first)"] += 1
                value = value[0]
            data, img = _decode(spec, row, image_col, value, root)
            stored, size, scale = _store_image(data, img, spec.max_side)
            q = batch[spec.columns["question"]][i]
            if not isinstance(q, str) or not q.strip():
                raise _row_error(spec, row, spec.columns["question"], q, "a non-empty question text")
            choices = (
                _choices(spec, row, spec.columns["choices"], batch[spec.columns["choices"]][i])
                if "choices" in spec.columns
                else []
            )
            if spec.answer_kind == "mcq" and len(choices) > len(LETTERS):
                raise _row_error(
                    spec, row, spec.columns["choices"], choices, f"at most {len(LETTERS)} options"
                )
            sol_col = spec.columns["solution"]
            if spec.answer_kind == "boxes":
                boxes = _boxes(spec, row, sol_col, batch[sol_col][i])
                solution, lettered = (
                    _box_text(_check_boxes(spec, row, sol_col, boxes, size, scale, stats)),
                    False,
                )
            else:
                solution, lettered = _solution(spec, row, sol_col, batch[sol_col][i], choices, stats)
            question = render_choices(q.strip(), choices, lettered or spec.answer_kind == "mcq")
            out["image"].append(stored)
            out["prompt"].append(conversation(render_template(spec.template, question), spec.system))
            out["solution"].append(solution)
            out["domain"].append(spec.name)
            out["image_size"].append(list(size))
            out["question"].append(question)
            out["src_row"].append(row)
            for c in keep:
                out[renamed[c]].append(batch[c][i])
        return out

    ds = ds.map(
        convert,
        batched=True,
        batch_size=64,
        remove_columns=ds.column_names,
        features=out_features,
        load_from_cache_file=False,
        desc=f"{spec.name}: decode and map",
    )
    for what, count in sorted(drops.items()):
        log.warning("domain %r: dropped %d %s", spec.name, count, what)
    for what, count in sorted(stats.items()):
        log.warning("domain %r: %d %s", spec.name, count, what)
    log.info(
        "domain %r: %d rows from %d source rows of %s (split %s)",
        spec.name,
        len(ds),
        n_source,
        spec.source,
        spec.split,
    )
    if len(ds) == 0:
        raise DataError(f"domain {spec.name!r}: no rows left from source {spec.source!r} ({dict(drops)})")
    return ds


def _default_root(spec: DomainSpec) -> Path | None:
    p = Path(spec.source).expanduser()
    if p.is_file():
        return p.parent
    if p.is_dir():
        return p
    return None


def unify(datasets_: Sequence[Any]):
    """Concatenate domains into one dataset with the unified columns plus the columns every
    domain shares with one type (e.g. `question`), as one TRL training set needs."""
    from datasets import concatenate_datasets

    if not datasets_:
        raise ValueError("unify() needs at least one dataset")
    common = [
        c
        for c in datasets_[0].column_names
        if all(c in d.column_names and d.features[c] == datasets_[0].features[c] for d in datasets_[1:])
    ]
    missing = [c for c in ("image", "prompt", "solution", "domain", "image_size") if c not in common]
    if missing:
        raise ValueError(f"datasets do not all have the unified columns {missing} with one type")
    return concatenate_datasets([d.select_columns(common) for d in datasets_])
