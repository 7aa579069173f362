"""Plain-Python reward baselines, written fresh in the style of VLM-R1 / R1-V / Visual-RFT.

Those projects score completions one by one in Python: `re` to pull the last
`<answer>…</answer>` block (`re.findall(r'<answer>(.*?)</answer>', content, re.DOTALL)[-1]`),
`float()` / `json.loads` / `ast.literal_eval` to read the answer, and Python loops over box
pairs for IoU. Each function below keeps that style and cost, but covers the answer forms
modomodo reads (thousands separators, \\frac, every box form...) so that the two can be
compared case by case. Where a reference project behaves differently it is noted.

Every baseline takes `(completions, solutions, image_sizes)` and returns a list of floats.
"""

from __future__ import annotations

import ast
import json
import math
import re

ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
WS_RE = re.compile(r"\s+")


def last_boxed(text: str) -> str | None:
    """Content of the last balanced \\boxed{...} (Hendrycks MATH `last_boxed_only_string`)."""
    i = text.rfind("\\boxed{")
    if i < 0:
        return None
    depth, start = 0, i + len("\\boxed{")
    for j in range(start - 1, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[start:j]
    return None


def extract(content: str) -> str:
    """VLM-R1 `clean_text` / `default_accuracy_reward`: the last answer block, else the
    last \\boxed{} (open-r1 style), else the whole completion; stripped."""
    blocks = ANSWER_RE.findall(content)
    if blocks:
        return blocks[-1].strip()
    b = last_boxed(content)
    return (b if b is not None else content).strip()


def gold_text(sol: str) -> str:
    m = ANSWER_RE.search(sol)
    return (m.group(1) if m else sol).strip()


# --- format (R1-V / Visual-RFT) -----------------------------------------------------------

FORMAT_RE = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
LENIENT_RE = re.compile(r"<answer>.*?</answer>", re.DOTALL)


def format_strict(completions, solutions=None, image_sizes=None):
    # R1-V: re.fullmatch on the raw content (no surrounding white space allowed).
    return [1.0 if FORMAT_RE.fullmatch(c) else 0.0 for c in completions]


def format_lenient(completions, solutions=None, image_sizes=None):
    return [1.0 if LENIENT_RE.search(c) else 0.0 for c in completions]


# --- exact ------------------------------------------------------------------------------


def normalize_exact(s: str) -> str:
    s = WS_RE.sub(" ", s.lower()).strip()
    s = s.strip("\"'").strip("()[]").strip()
    return s[:-1].strip() if s.endswith(".") else s


def exact(completions, solutions, image_sizes=None):
    return [
        1.0 if normalize_exact(extract(c)) == normalize_exact(gold_text(s)) else 0.0
        for c, s in zip(completions, solutions)
    ]


# --- mcq (VLM-R1 extract_choice_letter style) ---------------------------------------------

CHOICE_PATTERNS = [
    re.compile(r"^\(?([A-H])[.):]?(?:\s|$)"),
    re.compile(r"(?:answer|option)\s*(?:is)?\s*:?\s*\(?([A-H])\b", re.IGNORECASE),
    re.compile(r"\b([A-H])\b"),
]


def choice_letter(text: str) -> str | None:
    text = text.strip()
    for pat in CHOICE_PATTERNS:
        m = pat.search(text)
        if m:
            return m.group(1).upper()
    return None


def mcq(completions, solutions, image_sizes=None):
    out = []
    for c, s in zip(completions, solutions):
        pred, gold = choice_letter(extract(c)), choice_letter(gold_text(s))
        out.append(1.0 if pred is not None and pred == gold else 0.0)
    return out


# --- yes/no (VLM-R1 yes_no_reward) --------------------------------------------------------

YESNO_RE = re.compile(r"(yes|no)")


def yesno(completions, solutions, image_sizes=None):
    out = []
    for c, s in zip(completions, solutions):
        g = YESNO_RE.search(gold_text(s).lower())
        p = YESNO_RE.search(extract(c).lower())
        out.append(1.0 if g and p and g.group(1) == p.group(1) else 0.0)
    return out


# --- numbers ------------------------------------------------------------------------------

NUM_RE = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
FRAC_RE = re.compile(r"^\\d?frac\{([-+]?\d+)\}\{([-+]?\d+)\}$")
SLASH_RE = re.compile(r"^([-+]?\d+)\s*/\s*([-+]?\d+)$")


def to_number(text: str) -> float | None:
    """float() after the usual clean-ups: thousands commas, %, a trailing unit, a/b, \\frac."""
    s = text.strip().replace(",", "")
    if s.endswith("%"):
        s = s[:-1].strip()
    m = FRAC_RE.match(s) or SLASH_RE.match(s)
    if m:
        den = int(m.group(2))
        return int(m.group(1)) / den if den else None
    m = NUM_RE.match(s)
    if not m:
        return None
    rest = s[m.end() :].strip()
    if rest and not rest.isalpha():
        return None
    try:
        v = float(m.group(0))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def numeric(completions, solutions, image_sizes=None, rel_tol=1e-6):
    out = []
    for c, s in zip(completions, solutions):
        p, g = to_number(extract(c)), to_number(gold_text(s))
        ok = p is not None and g is not None and math.isclose(p, g, rel_tol=rel_tol, abs_tol=1e-9)
        out.append(1.0 if ok else 0.0)
    return out


WORD_NUMS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}


def to_count(text: str) -> int | None:
    t = text.strip().lower()
    if t in WORD_NUMS:
        return WORD_NUMS[t]
    try:
        return int(t)
    except ValueError:
        return None


def count(completions, solutions, image_sizes=None):
    out = []
    for c, s in zip(completions, solutions):
        p, g = to_count(extract(c)), to_count(gold_text(s))
        out.append(1.0 if p is not None and p == g else 0.0)
    return out


# --- math (Hendrycks MATH strip_string style, plus a float fallback) ----------------------

SQRT_RE = re.compile(r"^(\d*)\\sqrt\{(\d+)\}$")
PI_RE = re.compile(r"^(\d*)\\pi$")


def strip_math(s: str) -> str:
    s = s.strip()
    b = last_boxed(s)
    if b is not None:
        s = b
    for a, z in (
        ("$", ""),
        ("\\(", ""),
        ("\\)", ""),
        ("\\left", ""),
        ("\\right", ""),
        ("\\!", ""),
        ("\\dfrac", "\\frac"),
        ("\\tfrac", "\\frac"),
        ("^{\\circ}", ""),
        ("^\\circ", ""),
        (" ", ""),
    ):
        s = s.replace(a, z)
    if len(s) > 2 and s[1] == "=" and s[0].isalpha():  # "x=5" -> "5"
        s = s[2:]
    return s.rstrip(".")


def math_value(s: str) -> float | None:
    v = to_number(s)
    if v is not None:
        return v
    m = SQRT_RE.match(s)
    if m:
        return (int(m.group(1)) if m.group(1) else 1) * math.sqrt(int(m.group(2)))
    m = PI_RE.match(s)
    if m:
        return (int(m.group(1)) if m.group(1) else 1) * math.pi
    return None


def math_plain(completions, solutions, image_sizes=None):
    out = []
    for c, s in zip(completions, solutions):
        p, g = strip_math(extract(c)), strip_math(gold_text(s))
        if p and p == g:
            out.append(1.0)
            continue
        pv, gv = math_value(p), math_value(g)
        out.append(
            1.0
            if pv is not None and gv is not None and math.isclose(pv, gv, rel_tol=1e-6, abs_tol=1e-9)
            else 0.0
        )
    return out


def auto(completions, solutions, image_sizes=None):
    """VLM-R1 `default_accuracy_reward`-style dispatch on the gold's shape."""
    out = []
    for c, s in zip(completions, solutions):
        g = gold_text(s)
        if len(g) == 1 and g in "ABCDEFGH":
            fn = mcq
        elif g.lower() in ("yes", "no"):
            fn = yesno
        elif to_number(g) is not None:
            fn = numeric
        else:
            fn = exact
        out.append(fn([c], [s])[0])
    return out


# --- chart (ChartQA relaxed accuracy, as in pix2struct / the ChartQA evaluation) -----------


def _chart_float(text: str) -> float | None:
    try:
        if text.endswith("%"):
            return float(text.rstrip("%")) / 100.0
        return float(text)
    except ValueError:
        return None


def chart(completions, solutions, image_sizes=None, max_relative_change=0.05):
    out = []
    for c, s in zip(completions, solutions):
        pred, target = extract(c), gold_text(s)
        pf, tf = _chart_float(pred), _chart_float(target)
        if pf is not None and tf:
            ok = abs(pf - tf) / abs(tf) <= max_relative_change
        else:
            ok = normalize_exact(pred) == normalize_exact(target)
        out.append(1.0 if ok else 0.0)
    return out


# --- boxes (VLM-R1 REC iou_reward / Visual-RFT detection reward style) ---------------------

_N = r"\s*(-?\d+(?:\.\d+)?)\s*"
LIST_RE = re.compile(r"\[" + ",".join([_N] * 4) + r"\]")
TAG_RE = re.compile(
    r"(?:<box>|<\|box_start\|>)\("
    + _N
    + ","
    + _N
    + r"\),\s*\("
    + _N
    + ","
    + _N
    + r"\)(?:</box>|<\|box_end\|>)"
)
BOX_KEYS = ("bbox_2d", "bbox", "Position", "box")
FENCE_RE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def _boxes_from_value(v, out) -> None:
    if isinstance(v, dict):
        for k in BOX_KEYS:
            if k in v:
                b = v[k]
                if (
                    isinstance(b, (list, tuple))
                    and len(b) == 4
                    and all(isinstance(x, (int, float)) for x in b)
                ):
                    out.append([float(x) for x in b])
                return
    elif isinstance(v, (list, tuple)):
        if len(v) == 4 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            out.append([float(x) for x in v])
        else:
            for x in v:
                _boxes_from_value(x, out)


def parse_boxes(text: str) -> list[list[float]]:
    """json.loads, then ast.literal_eval (Visual-RFT / VLM-R1), then regexes for the rest."""
    m = FENCE_RE.search(text)
    body = (m.group(1) if m else text).strip()
    for loader in (json.loads, ast.literal_eval):
        try:
            value = loader(body)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        out: list[list[float]] = []
        _boxes_from_value(value, out)
        if out:
            return out
        break
    tags = TAG_RE.findall(text)
    if tags:
        return [[float(x) for x in t] for t in tags]
    return [[float(x) for x in t] for t in LIST_RE.findall(text)]


def gold_boxes(sol) -> list[list[float]]:
    """A gold given as text (parsed as a completion's answer) or as a value: one box or a
    list of boxes, as lists, tuples or arrays (read through `tolist()`)."""
    if isinstance(sol, str):
        return parse_boxes(gold_text(sol))
    out: list[list[float]] = []
    _boxes_from_value(sol.tolist() if hasattr(sol, "tolist") else sol, out)
    return out


def box_iou(a, b) -> float:
    # Visual-RFT `calculate_iou` (continuous; VLM-R1's REC reward uses a +1 pixel convention).
    x1, y1, x2, y2 = a
    x1_2, y1_2, x2_2, y2_2 = b
    xi1, yi1, xi2, yi2 = max(x1, x1_2), max(y1, y1_2), min(x2, x2_2), min(y2, y2_2)
    if xi2 <= xi1 or yi2 <= yi1:
        return 0.0
    inter = (xi2 - xi1) * (yi2 - yi1)
    union = (x2 - x1) * (y2 - y1) + (x2_2 - x1_2) * (y2_2 - y1_2) - inter
    return inter / union if union > 0 else 0.0


def resize(b, size):
    """VLM-R1 `resize_bbox`: model coords (thousandths) to pixels, then clip to the image."""
    w, h = size
    x1, y1, x2, y2 = b[0] / 1000 * w, b[1] / 1000 * h, b[2] / 1000 * w, b[3] / 1000 * h
    return [min(max(x1, 0), w), min(max(y1, 0), h), min(max(x2, 0), w), min(max(y2, 0), h)]


def _first_ious(completions, solutions, image_sizes, norm1000: bool):
    for i, (c, s) in enumerate(zip(completions, solutions)):
        try:
            pred = parse_boxes(extract(c))
            gold = gold_boxes(s)
            if norm1000:
                pred = [resize(b, image_sizes[i]) for b in pred]
            yield box_iou(pred[0], gold[0]) if pred and gold else 0.0
        except Exception:  # the reference rewards wrap everything in try/except
            yield 0.0


def iou_continuous(completions, solutions, image_sizes=None):
    return list(_first_ious(completions, solutions, image_sizes, False))


def iou_norm1000(completions, solutions, image_sizes=None):
    return list(_first_ious(completions, solutions, image_sizes, True))


def iou_threshold(completions, solutions, image_sizes=None, threshold=0.5):
    return [1.0 if v >= threshold else 0.0 for v in _first_ious(completions, solutions, image_sizes, False)]


def iou_match(completions, solutions, image_sizes=None, threshold=0.5):
    """Greedy one-to-one matching by descending IoU (Visual-RFT's COCO-style reward:
    sum of matched IoUs / max(#pred, #gold)); Visual-RFT walks predictions by confidence
    instead, which is the same when every prediction has one best gold."""
    out = []
    for c, s in zip(completions, solutions):
        try:
            pred = parse_boxes(extract(c))
            gold = gold_boxes(s)
        except Exception:
            out.append(0.0)
            continue
        if not pred or not gold:
            out.append(0.0)
            continue
        pairs = []
        for i, p in enumerate(pred):
            for j, g in enumerate(gold):
                v = box_iou(p, g)
                if v >= threshold:
                    pairs.append((v, i, j))
        pairs.sort(reverse=True)
        used_p, used_g, total = set(), set(), 0.0
        for v, i, j in pairs:
            if i not in used_p and j not in used_g:
                used_p.add(i)
                used_g.add(j)
                total += v
        out.append(min(1.0, total / max(len(pred), len(gold))))
    return out


PLAIN = {
    "format": format_strict,
    "format_lenient": format_lenient,
    "exact": exact,
    "mcq": mcq,
    "yesno": yesno,
    "numeric": numeric,
    "count": count,
    "math": math_plain,
    "auto": auto,
    "chart": chart,
    "iou": iou_continuous,
    "iou_norm1000": iou_norm1000,
    "iou_threshold": iou_threshold,
    "iou_match": iou_match,
    "iou_gold_list": iou_continuous,
    "iou_gold_tuple": iou_continuous,
    "iou_gold_array": iou_continuous,
}


# --- math-verify (R1-V / VLM-R1 accuracy_reward) -----------------------------------------


def math_verify(completions, solutions, image_sizes=None):
    """R1-V's symbolic check: `verify(parse(gold), parse(answer))`, 0 on any exception.
    As in VLM-R1's `default_accuracy_reward` the answer is the last answer block; a text
    without LaTeX delimiters is retried wrapped in `$…$` so plain LaTeX answers parse."""
    from math_verify import parse, verify

    def parse_any(text: str):
        got = parse(text)
        if not got and "$" not in text:
            got = parse(f"${text}$")
        return got

    out = []
    for c, s in zip(completions, solutions):
        try:
            blocks = ANSWER_RE.findall(c)
            answer = blocks[-1].strip() if blocks else c
            out.append(1.0 if verify(parse_any(gold_text(s)), parse_any(answer)) else 0.0)
        except Exception:
            out.append(0.0)
    return out
