"""`load_domain(spec)`: any source, one schema.

The source is read with `datasets` (a hub id, a local file or folder, or `synthetic:<name>`);
images are decoded with Pillow; the spec's columns are mapped onto the unified schema
(`modomodo.data.schema`: `image`, `prompt`, `solution`, `domain`, `image_size`), plus
`question` (the question text before the template), `src_row` (the row of the source)
and the source's other non-image columns (renamed `src_<name>` where a name collides).
Gold boxes are read by `modomodo.rewards.parse_boxes`, as the `iou` reward reads them.

Everything is checked here: a missing column, an image that does not decode, a box outside
its image, an answer that is not of the spec's kind each raise `DataError` naming the
domain, the row and the value; a malformed JSON-lines file names its file and line. Rows are only dropped where the spec asks for it
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
from typing import Any, cast

from PIL import Image, UnidentifiedImageError

from modomodo.data import schema
from modomodo.data.prompts import LETTERS, conversation, render_choices, render_template
from modomodo.data.spec import DomainSpec, SpecError
from modomodo.rewards import parse_boxes

log = logging.getLogger("modomodo.data")

DEFAULT_SYNTHETIC_N = 1000
Box = tuple[float, float, float, float]
_FILE_BUILDERS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv", ".arrow": "arrow"}
_LETTER = re.compile(r"^\(?\s*([A-Ha-h])\s*\)?[.):]?$")
_NUMBER = re.compile(
    r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+-]?\d+)?\s*%?$|^[+-]?\d+\s*/\s*\d+$"
)


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
            return _load_file(spec, path, builder)
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


def _load_file(spec: DomainSpec, path: Path, builder: str):
    import datasets

    if path.stat().st_size == 0:
        raise DataError(f"domain {spec.name!r}: source file {str(path)!r} is empty; expected rows")
    try:
        return datasets.load_dataset(builder, data_files={spec.split: str(path)}, split=spec.split)
    except Exception as exc:
        problem = _json_problem(path) if builder == "json" else None
        if problem is None:
            raise
        raise DataError(f"domain {spec.name!r}: {problem}") from exc


def _json_problem(path: Path) -> str | None:
    """Where a JSON or JSON-lines file that `datasets` could not read is malformed (file,
    line and column), or that it holds no rows; None when it parses."""
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        lines = ((n, line) for n, line in enumerate(fh, 1) if line.strip())
        first = next(lines, None)
        if first is None:
            return f"source file {str(path)!r} holds only white space; expected rows"
        try:
            json.loads(first[1])
        except json.JSONDecodeError:
            first = None  # not JSON lines: one JSON document, read whole below
        if first is not None:
            for lineno, line in lines:
                try:
                    json.loads(line)
                except json.JSONDecodeError as exc:
                    return (
                        f"{str(path)!r} line {lineno}, column {exc.colno}: not valid JSON ({exc.msg}); "
                        "expected one JSON object per line"
                    )
            return None
    try:
        json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        return f"{str(path)!r} line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})"
    return None


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


def _boxes(spec: DomainSpec, row: int, col: str, value: Any) -> list[Box]:
    """The gold boxes of a row as `parse_boxes` reads them (in the spec's own coordinates)."""
    text = value if isinstance(value, str) else _box_json(value)
    # One text in, one list of boxes out.
    boxes = cast(list[Box], parse_boxes(text)) if text is not None else []
    if not boxes:
        raise _row_error(
            spec,
            row,
            col,
            value,
            "boxes of positive area: [x1, y1, x2, y2], a list of them, dicts with a "
            "bbox / bbox_2d / Position / box key, or <box>(x1,y1),(x2,y2)</box>",
        )
    return boxes


def _box_json(value: Any) -> str | None:
    # Arrow gives lists, dicts and numpy arrays; parse_boxes reads their JSON text.
    try:
        return json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))
    except (TypeError, ValueError, RecursionError):
        return None


def _check_boxes(
    spec: DomainSpec,
    row: int,
    col: str,
    boxes: list[Box],
    size: tuple[int, int],
    scale: float,
    clipped: Counter,
) -> list[list[float]]:
    """Boxes inside the image (clipped to it when the spec says so), scaled with a shrunk
    image, as plain numbers: integers where they are whole, else two decimals."""
    w, h = size
    if spec.coords == "absolute":
        boxes = [(x1 * scale, y1 * scale, x2 * scale, y2 * scale) for x1, y1, x2, y2 in boxes]
        limit = (w, h)
    else:
        limit = (1000, 1000) if spec.coords == "norm1000" else (1, 1)
    out = []
    for box in boxes:
        x1, y1, x2, y2 = box
        shown = _plain(box)
        if not (0 <= x1 and 0 <= y1 and x2 <= limit[0] and y2 <= limit[1]):
            if not spec.clip_boxes:
                raise _row_error(
                    spec,
                    row,
                    col,
                    shown,
                    f"a box inside the image: 0 <= x <= {limit[0]}, 0 <= y <= {limit[1]} ({spec.coords} coords, "
                    f"image {w}x{h}); set clip_boxes: true to clip",
                )
            x1, y1, x2, y2 = max(0.0, x1), max(0.0, y1), min(float(limit[0]), x2), min(float(limit[1]), y2)
            if x2 <= x1 or y2 <= y1:
                raise _row_error(spec, row, col, shown, f"a box that overlaps the image ({w}x{h})")
            clipped["boxes clipped to the image"] += 1
        values = [x1, y1, x2, y2]
        if scale != 1.0 and spec.coords == "absolute":
            values = [float(round(v)) for v in values]
        out.append(_plain(values))
    return out


def _plain(box: Sequence[float]) -> list[float]:
    return [int(v) if float(v).is_integer() else round(v, 2) for v in box]


def _box_text(boxes: list[list[float]]) -> str:
    return json.dumps(boxes[0] if len(boxes) == 1 else boxes, separators=(",", ":"))


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
    from datasets import Value

    ds = _load_source(spec)
    _check_columns(spec, ds.column_names)
    n_source = len(ds)
    drops: Counter = Counter()  # rows dropped, by reason
    stats: Counter = Counter()  # rows changed or noted, by what
    if "src_row" not in ds.column_names:
        ds = ds.add_column("src_row", list(range(n_source)))
    if spec.explode:
        ds = _explode(spec, ds, drops)
    ds = _keep_rows(spec, ds, drops)
    ds, keep = _undecoded_images(spec, ds)
    added = {"question": Value("string"), "src_row": Value("int64")}
    taken = {*schema.COLUMNS, *added}
    renamed = {c: (f"src_{c}" if c in taken else c) for c in keep}
    features = schema.features(**added, **{renamed[c]: ds.features[c] for c in keep})
    root = Path(spec.image_root).expanduser() if spec.image_root else _default_root(spec)

    def convert(batch: dict) -> dict:
        out: dict[str, list] = {k: [] for k in features}
        for i in range(len(batch["src_row"])):
            unified = _unified_row(spec, batch, i, root, drops, stats)
            if unified is None:
                continue
            for k, v in unified.items():
                out[k].append(v)
            for c in keep:
                out[renamed[c]].append(batch[c][i])
        return out

    ds = ds.map(
        convert,
        batched=True,
        batch_size=64,
        remove_columns=ds.column_names,
        features=features,
        load_from_cache_file=False,
        desc=f"{spec.name}: decode and map",
    )
    _report(spec, len(ds), n_source, drops, stats)
    return ds


def _report(spec: DomainSpec, n: int, n_source: int, drops: Counter, stats: Counter) -> None:
    """Log every drop and change by reason; no rows left is an error."""
    for what, count in sorted(drops.items()):
        log.warning("domain %r: dropped %d %s", spec.name, count, what)
    for what, count in sorted(stats.items()):
        log.warning("domain %r: %d %s", spec.name, count, what)
    log.info(
        "domain %r: %d rows from %d source rows of %s (split %s)",
        spec.name,
        n,
        n_source,
        spec.source,
        spec.split,
    )
    if n == 0:
        raise DataError(f"domain {spec.name!r}: no rows left from source {spec.source!r} ({dict(drops)})")


def _check_columns(spec: DomainSpec, available: Sequence[str]) -> None:
    """Every column the spec names exists in the source."""
    named = list(spec.columns.items())
    named += [("explode", spec.explode)] if spec.explode else []
    named += [(f"keep_if[{c!r}]", c) for c in spec.keep_if]
    named += [("keep_columns", c) for c in (spec.keep_columns or ())]
    for key, col in named:
        if col not in available:
            raise DataError(
                f"domain {spec.name!r}: {key} maps to column {col!r}, which the source {spec.source!r} "
                f"(split {spec.split!r}) does not have; its columns are {list(available)}"
            )


def _explode(spec: DomainSpec, ds, drops: Counter):
    """One row per element of the list column `spec.explode`."""
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
    feats[col] = getattr(feats[col], "feature", feats[col])
    return ds.map(
        explode, batched=True, features=feats, load_from_cache_file=False, desc=f"{spec.name}: explode"
    )


def _keep_rows(spec: DomainSpec, ds, drops: Counter):
    """The rows `keep_if` keeps, then the first `n`."""
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
    return ds


def _undecoded_images(spec: DomainSpec, ds) -> tuple[Any, list[str]]:
    """The dataset with its image columns left undecoded (decoded row by row here), and
    the source columns to keep beside the unified ones."""
    image_col = spec.columns["image"]
    image_cols = [c for c, f in ds.features.items() if _is_image_feature(f)]
    for c in image_cols:
        ds = ds.cast_column(c, _undecoded(ds.features[c]))
    dropped = [c for c in image_cols if c != image_col]
    if dropped:
        log.info("domain %r: image columns %s are not kept (only %r is used)", spec.name, dropped, image_col)
    if spec.keep_columns is not None:
        return ds, list(spec.keep_columns)
    skip = {*image_cols, image_col, "src_row"}
    return ds, [c for c in ds.column_names if c not in skip]


def _unified_row(
    spec: DomainSpec, batch: dict, i: int, root: Path | None, drops: Counter, stats: Counter
) -> dict[str, Any] | None:
    """Row `i` of `batch` in the unified schema (plus `question`, `src_row`); None when
    the spec drops it."""
    row = batch["src_row"][i]
    image_col, sol_col = spec.columns["image"], spec.columns["solution"]
    value = _one_image(spec, row, batch[image_col][i], drops, stats)
    if value is None:
        return None
    data, img = _decode(spec, row, image_col, value, root)
    stored, size, scale = _store_image(data, img, spec.max_side)
    q = batch[spec.columns["question"]][i]
    if not isinstance(q, str) or not q.strip():
        raise _row_error(spec, row, spec.columns["question"], q, "a non-empty question text")
    choices = []
    if "choices" in spec.columns:
        choices = _choices(spec, row, spec.columns["choices"], batch[spec.columns["choices"]][i])
        if spec.answer_kind == "mcq" and len(choices) > len(LETTERS):
            raise _row_error(spec, row, spec.columns["choices"], choices, f"at most {len(LETTERS)} options")
    if spec.answer_kind == "boxes":
        boxes = _check_boxes(
            spec, row, sol_col, _boxes(spec, row, sol_col, batch[sol_col][i]), size, scale, stats
        )
        solution, lettered = _box_text(boxes), False
    else:
        solution, lettered = _solution(spec, row, sol_col, batch[sol_col][i], choices, stats)
    question = render_choices(q.strip(), choices, lettered or spec.answer_kind == "mcq")
    return {
        "image": stored,
        "prompt": conversation(render_template(spec.template, question), spec.system),
        "solution": solution,
        "domain": spec.name,
        "image_size": list(size),
        "question": question,
        "src_row": row,
    }


def _one_image(spec: DomainSpec, row: int, value: Any, drops: Counter, stats: Counter) -> Any:
    """The row's image value; a list of images per `multi_image` (None: drop the row)."""
    if not isinstance(value, (list, tuple)):
        return value
    col = spec.columns["image"]
    if not value:
        raise _row_error(spec, row, col, value, "at least one image")
    if len(value) > 1:
        if spec.multi_image == "error":
            raise _row_error(
                spec, row, col, f"<{len(value)} images>", "one image per row (set multi_image: first or drop)"
            )
        if spec.multi_image == "drop":
            drops[f"rows with several images in {col!r} (multi_image: drop)"] += 1
            return None
        stats["rows with several images, first kept (multi_image: first)"] += 1
    return value[0]


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
    missing = [c for c in schema.COLUMNS if c not in common]
    if missing:
        raise ValueError(f"datasets do not all have the unified columns {missing} with one type")
    return concatenate_datasets([d.select_columns(common) for d in datasets_])
