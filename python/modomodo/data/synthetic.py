"""The synthetic multi-domain suite: procedurally drawn images whose answers are exact.

It is the embedded default of modomodo, so it is sized for a ~1M-parameter vision-language
model trained for minutes on a CPU at 112×112: few, large, high-contrast shapes on black,
four colours and three shapes, short questions and short answers. Objects sit in the cells
of a 4×4 grid (28 px at 112 px, two 14-px vision patches) with a few pixels of jitter, so
that positions are learnable yet boxes are not trivial.

Training domains mirror MoDoMoDo's five task types and Mixed-R1's reward families:

| domain    | mirrors               | answer                              | reward        |
|-----------|-----------------------|-------------------------------------|---------------|
| detect    | COCO (Visual-RFT)     | every box of a class `[[x1,y1,x2,y2],…]` | iou `match` |
| ground    | LISA                  | the described object's box          | iou `continuous` |
| geometry  | GeoQAV                | option letter (sides / name of a drawn polygon) | accuracy `mcq` |
| spatial   | SAT                   | `left`/`right`/`above`/`below`      | accuracy `exact` |
| attribute | ScienceQA             | option letter (colour or shape)     | accuracy `mcq` |
| chart     | Mixed-R1 chart        | a bar's value                       | chart         |
| yesno     | Mixed-R1 matching     | `yes`/`no`                          | accuracy `yesno` |
| caption   | Mixed-R1 open-ended   | "a red circle and a blue square"    | bmas          |

Out-of-distribution evaluation domains combine training skills (see `TASKS[...].skills`):

- chart_compare: which bar is tallest, answered by its colour (chart + attribute).
- read_number: the digit written in the box of a given colour (ground/attribute + digit
  reading, seen only on the chart's axis labels).
- count_math: how many of two shape classes there are in total (detect's finding and
  counting + addition, which no training domain asks for).
- multi_mc: the colour of the shape left of/above another, as a multiple choice
  (spatial + attribute + mcq).

Boxes are absolute pixel coordinates `[x1, y1, x2, y2]` of the image (x2, y2 exclusive:
the shape's pixels span x1..x2-1). Every row is determined by (domain, split, seed, index).
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from modomodo.data import schema
from modomodo.data.prompts import LETTERS, completion, conversation, render_template

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (235, 45, 45),
    "green": (40, 205, 75),
    "blue": (60, 110, 255),
    "yellow": (245, 225, 40),
}
SHAPES = ("square", "circle", "triangle")
GRID = 4
BACKGROUND = (0, 0, 0)

Draw = Callable[[Image.Image, int], None]


@dataclass
class Sample:
    """One generated row before rendering: the question, gold answer, short reasoning, and
    a function that draws the image onto a blank canvas of the given size."""

    question: str
    answer: str
    think: str
    draw: Draw


@dataclass(frozen=True)
class Task:
    name: str
    make: Callable[[random.Random, int], Sample]
    answer_kind: str
    template: str
    mirrors: str
    skills: tuple[str, ...]
    description: str
    rewards: tuple[dict, ...] = field(default=())


# -- drawing helpers ---------------------------------------------------------------------


@lru_cache(maxsize=64)
def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(6, px))


@lru_cache(maxsize=1024)
def _glyph(text: str, px: int, anchor: str) -> tuple[Image.Image, int, int]:
    # Text is rendered once per (text, size) and pasted through its mask: FreeType
    # rendering at every sample would dominate generation time.
    font = _font(px)
    x0, y0, x1, y1 = (int(v) for v in font.getbbox(text, anchor=anchor))
    mask = Image.new("L", (max(1, x1 - x0), max(1, y1 - y0)), 0)
    ImageDraw.Draw(mask).text((-x0, -y0), text, fill=255, font=font, anchor=anchor)
    return mask, x0, y0


def _text(img: Image.Image, xy: tuple[float, float], text: str, px: int, fill, anchor: str = "mm") -> None:
    mask, x0, y0 = _glyph(text, max(6, px), anchor)
    img.paste(fill, (round(xy[0]) + x0, round(xy[1]) + y0), mask)


@dataclass(frozen=True)
class Obj:
    shape: str
    colour: str
    row: int
    col: int
    box: tuple[int, int, int, int]

    @property
    def desc(self) -> str:
        return f"{self.colour} {self.shape}"


def _cell_box(row: int, col: int, size: int) -> tuple[int, int, int, int]:
    c = size / GRID
    return round(col * c), round(row * c), round((col + 1) * c), round((row + 1) * c)


def _place(rng: random.Random, size: int, shape: str, colour: str, row: int, col: int) -> Obj:
    x0, y0, x1, y1 = _cell_box(row, col, size)
    hi = max(2, (x1 - x0) // 5)
    m = [rng.randint(2, hi) for _ in range(4)] if x1 - x0 >= 8 else [0, 0, 0, 0]
    return Obj(shape, colour, row, col, (x0 + m[0], y0 + m[1], x1 - m[2], y1 - m[3]))


def _draw_obj(d: ImageDraw.ImageDraw, o: Obj) -> None:
    x1, y1, x2, y2 = o.box
    fill = COLOURS[o.colour]
    if o.shape == "square":
        d.rectangle((x1, y1, x2 - 1, y2 - 1), fill=fill)
    elif o.shape == "circle":
        d.ellipse((x1, y1, x2 - 1, y2 - 1), fill=fill)
    else:
        d.polygon([(x1, y2 - 1), (x2 - 1, y2 - 1), ((x1 + x2 - 1) / 2, y1)], fill=fill)


def _scene(
    rng: random.Random,
    size: int,
    n: int,
    *,
    unique: str = "desc",
    cells: Sequence[tuple[int, int]] | None = None,
) -> list[Obj]:
    """n objects in distinct cells. `unique`: 'desc' (colour+shape pairs distinct),
    'shape', 'colour', or '' (no constraint)."""
    if cells is None:
        cells = rng.sample([(r, c) for r in range(GRID) for c in range(GRID)], n)
    objs: list[Obj] = []
    used: set = set()
    for row, col in cells:
        while True:
            shape, colour = rng.choice(SHAPES), rng.choice(tuple(COLOURS))
            key = {"desc": (shape, colour), "shape": shape, "colour": colour}.get(unique)
            if key is None or key not in used:
                break
        used.add(key)
        objs.append(_place(rng, size, shape, colour, row, col))
    return objs


def _reading_order(objs: Sequence[Obj]) -> list[Obj]:
    return sorted(objs, key=lambda o: (o.row, o.col))


def _draw_all(objs: Sequence[Obj]) -> Draw:
    def draw(img: Image.Image, size: int) -> None:
        d = ImageDraw.Draw(img)
        for o in objs:
            _draw_obj(d, o)

    return draw


def _box_text(box: Sequence[int]) -> str:
    return "[" + ",".join(str(int(v)) for v in box) + "]"


def _plural(shape: str) -> str:
    return shape + "s"


def _count(n: int, shape: str) -> str:
    return f"{n} {shape if n == 1 else _plural(shape)}"


def _listing(objs: Sequence[Obj]) -> str:
    parts = [f"a {o.desc}" for o in _reading_order(objs)]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _mcq(rng: random.Random, correct: str, options: Sequence[str]) -> tuple[list[str], str]:
    opts = list(options)
    rng.shuffle(opts)
    return opts, LETTERS[opts.index(correct)]


def _with_options(question: str, opts: Sequence[str]) -> str:
    return question + "\n" + " ".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(opts))


# -- training domains --------------------------------------------------------------------


def _detect(rng: random.Random, size: int) -> Sample:
    objs = _scene(rng, size, rng.randint(2, 4), unique="")
    pick = rng.choice(objs)
    if rng.random() < 0.5:
        targets = [o for o in objs if o.shape == pick.shape]
        what, name = f"every {pick.shape}", _plural(pick.shape) if len(targets) > 1 else pick.shape
    else:
        targets = [o for o in objs if o.colour == pick.colour]
        what, name = f"every {pick.colour} shape", f"{pick.colour} shape" + ("s" if len(targets) > 1 else "")
    targets = _reading_order(targets)
    answer = "[" + ",".join(_box_text(o.box) for o in targets) + "]"
    return Sample(f"Find {what}.", answer, f"I see {len(targets)} {name}.", _draw_all(objs))


def _ground(rng: random.Random, size: int) -> Sample:
    objs = _scene(rng, size, rng.randint(2, 4))
    t = rng.choice(objs)
    return Sample(
        f"Where is the {t.desc}?",
        _box_text(t.box),
        f"The {t.desc} is in row {t.row + 1}, column {t.col + 1}.",
        _draw_all(objs),
    )


_POLYGONS = {3: "triangle", 4: "square", 5: "pentagon", 6: "hexagon"}


def _geometry(rng: random.Random, size: int) -> Sample:
    import math

    k = rng.choice(tuple(_POLYGONS))
    cx = size / 2 + rng.uniform(-0.06, 0.06) * size
    cy = size / 2 + rng.uniform(-0.06, 0.06) * size
    radius = rng.uniform(0.28, 0.36) * size
    rot = rng.uniform(0, 2 * math.pi)
    colour = COLOURS[rng.choice(tuple(COLOURS))]
    pts = [
        (cx + radius * math.cos(rot + 2 * math.pi * i / k), cy + radius * math.sin(rot + 2 * math.pi * i / k))
        for i in range(k)
    ]
    labels = [(cx + 1.22 * (x - cx), cy + 1.22 * (y - cy)) for x, y in pts]
    if rng.random() < 0.5:
        opts, letter = _mcq(rng, str(k), [str(v) for v in _POLYGONS])
        question = _with_options("How many sides does the figure have?", opts)
    else:
        opts, letter = _mcq(rng, _POLYGONS[k], list(_POLYGONS.values()))
        question = _with_options("Which shape is drawn?", opts)

    def draw(img: Image.Image, size: int) -> None:
        ImageDraw.Draw(img).polygon(pts, outline=colour, width=max(2, size // 36))
        for i, (x, y) in enumerate(labels):
            _text(img, (x, y), LETTERS[i], size // 11, (255, 255, 255))

    return Sample(question, letter, f"The figure has {k} sides, a {_POLYGONS[k]}.", draw)


def _line_pair(rng: random.Random) -> tuple[list[tuple[int, int]], bool]:
    """Two distinct cells on one row (horizontal=True) or one column."""
    horizontal = rng.random() < 0.5
    line, a, b = rng.randrange(GRID), *rng.sample(range(GRID), 2)
    cells = [(line, a), (line, b)] if horizontal else [(a, line), (b, line)]
    return cells, horizontal


def _off_line(
    rng: random.Random, cells: Sequence[tuple[int, int]], horizontal: bool
) -> list[tuple[int, int]]:
    """Up to one extra cell off the pair's row/column, so no relation is ambiguous."""
    if rng.random() < 0.5:
        return []
    line = cells[0][0] if horizontal else cells[0][1]
    free = [(r, c) for r in range(GRID) for c in range(GRID) if (r if horizontal else c) != line]
    return [rng.choice(free)]


def _spatial(rng: random.Random, size: int) -> Sample:
    cells, horizontal = _line_pair(rng)
    objs = _scene(rng, size, 0, cells=cells + _off_line(rng, cells, horizontal))
    a, b = objs[0], objs[1]
    if horizontal:
        answer = "left" if a.col < b.col else "right"
        q = f"Is the {a.desc} left or right of the {b.desc}?"
        think = f"The {a.desc} is in column {a.col + 1}, the {b.desc} in column {b.col + 1}."
    else:
        answer = "above" if a.row < b.row else "below"
        q = f"Is the {a.desc} above or below the {b.desc}?"
        think = f"The {a.desc} is in row {a.row + 1}, the {b.desc} in row {b.row + 1}."
    return Sample(q, answer, think, _draw_all(objs))


def _attribute(rng: random.Random, size: int) -> Sample:
    if rng.random() < 0.5:
        objs = _scene(rng, size, rng.randint(1, 3), unique="shape")
        t = rng.choice(objs)
        opts, letter = _mcq(rng, t.colour, list(COLOURS))
        question = _with_options(f"What colour is the {t.shape}?", opts)
    else:
        objs = _scene(rng, size, rng.randint(1, 3), unique="colour")
        t = rng.choice(objs)
        opts, letter = _mcq(rng, t.shape, list(SHAPES))
        question = _with_options(f"What shape is the {t.colour} one?", opts)
    return Sample(question, letter, f"It is a {t.desc}.", _draw_all(objs))


CHART_MAX = 8


def _bars(rng: random.Random, distinct_max: bool) -> list[tuple[str, int]]:
    k = rng.randint(3, 4)
    colours = rng.sample(list(COLOURS), k)
    while True:
        values = [rng.randint(1, CHART_MAX) for _ in range(k)]
        if not distinct_max or values.count(max(values)) == 1:
            return list(zip(colours, values))


def _chart_frame(size: int) -> tuple[int, int, int, int]:
    """left, right, top, bottom of the plot area."""
    return round(0.16 * size), size - max(2, size // 28), max(4, size // 14), size - max(4, size // 18)


@lru_cache(maxsize=8)
def _chart_axes(size: int) -> Image.Image:
    """Grid lines and axis labels, the same for every chart of a size (drawn once)."""
    img = Image.new("RGB", (size, size), BACKGROUND)
    d = ImageDraw.Draw(img)
    left, right, top, bottom = _chart_frame(size)
    unit = (bottom - top) / CHART_MAX
    for v in range(CHART_MAX + 1):
        y = round(bottom - v * unit)
        d.line((left, y, right, y), fill=(70, 70, 70) if v else (200, 200, 200), width=1)
        if v % 2 == 0:
            _text(img, (left - 3, y), str(v), size // 11, (255, 255, 255), anchor="rm")
    d.line((left, top, left, bottom), fill=(200, 200, 200), width=1)
    return img


def _draw_chart(bars: Sequence[tuple[str, int]]) -> Draw:
    def draw(img: Image.Image, size: int) -> None:
        img.paste(_chart_axes(size))
        d = ImageDraw.Draw(img)
        left, right, top, bottom = _chart_frame(size)
        unit = (bottom - top) / CHART_MAX
        slot = (right - left) / len(bars)
        width = slot * 0.6
        for i, (colour, value) in enumerate(bars):
            x0 = left + slot * i + (slot - width) / 2
            d.rectangle(
                (round(x0), round(bottom - value * unit), round(x0 + width), bottom - 1), fill=COLOURS[colour]
            )

    return draw


def _chart(rng: random.Random, size: int) -> Sample:
    bars = _bars(rng, distinct_max=False)
    colour, value = rng.choice(bars)
    return Sample(
        f"What is the value of the {colour} bar?",
        str(value),
        f"The {colour} bar reaches {value}.",
        _draw_chart(bars),
    )


def _yesno(rng: random.Random, size: int) -> Sample:
    objs = _scene(rng, size, rng.randint(2, 4))
    present = {(o.shape, o.colour) for o in objs}
    if rng.random() < 0.5:
        shape, colour = rng.choice(sorted(present))
        answer = "yes"
    else:
        shape, colour = rng.choice(sorted({(s, c) for s in SHAPES for c in COLOURS} - present))
        answer = "no"
    return Sample(f"Is there a {colour} {shape}?", answer, f"I see {_listing(objs)}.", _draw_all(objs))


def _caption(rng: random.Random, size: int) -> Sample:
    objs = _scene(rng, size, rng.randint(1, 3))
    n = len(objs)
    return Sample(
        "Describe the image.", _listing(objs), f"I see {n} shape{'s' if n > 1 else ''}.", _draw_all(objs)
    )


# -- out-of-distribution domains ---------------------------------------------------------


def _chart_compare(rng: random.Random, size: int) -> Sample:
    bars = _bars(rng, distinct_max=True)
    colour = max(bars, key=lambda b: b[1])[0]
    think = ", ".join(f"{c} {v}" for c, v in bars) + f"; {colour} is tallest."
    return Sample("Which bar is the tallest?", colour, think, _draw_chart(bars))


def _read_number(rng: random.Random, size: int) -> Sample:
    k = rng.randint(2, 3)
    colours = rng.sample(list(COLOURS), k)
    cells = rng.sample([(0, 0), (0, 1), (1, 0), (1, 1)], k)
    digits = [rng.randint(0, 9) for _ in range(k)]
    half = size / 2
    boxes = []
    for r, c in cells:
        m = [rng.randint(3, max(3, size // 14)) for _ in range(4)]
        boxes.append(
            (
                round(c * half) + m[0],
                round(r * half) + m[1],
                round((c + 1) * half) - m[2],
                round((r + 1) * half) - m[3],
            )
        )
    i = rng.randrange(k)

    def draw(img: Image.Image, size: int) -> None:
        d = ImageDraw.Draw(img)
        for colour, digit, (x1, y1, x2, y2) in zip(colours, digits, boxes):
            d.rectangle((x1, y1, x2 - 1, y2 - 1), fill=COLOURS[colour])
            ink = (255, 255, 255) if colour == "blue" else (0, 0, 0)
            _text(img, ((x1 + x2) / 2, (y1 + y2) / 2), str(digit), round(size * 0.26), ink)

    return Sample(
        f"What number is in the {colours[i]} box?",
        str(digits[i]),
        f"The {colours[i]} box shows {digits[i]}.",
        draw,
    )


def _count_math(rng: random.Random, size: int) -> Sample:
    objs = _scene(rng, size, rng.randint(3, 6), unique="")
    s1, s2 = rng.sample(SHAPES, 2)
    n1 = sum(o.shape == s1 for o in objs)
    n2 = sum(o.shape == s2 for o in objs)
    return Sample(
        f"How many {_plural(s1)} and {_plural(s2)} are there in total?",
        str(n1 + n2),
        f"{_count(n1, s1)} plus {_count(n2, s2)} is {n1 + n2}.",
        _draw_all(objs),
    )


def _multi_mc(rng: random.Random, size: int) -> Sample:
    cells, horizontal = _line_pair(rng)
    objs = _scene(rng, size, 0, cells=cells + _off_line(rng, cells, horizontal), unique="shape")
    a, b = objs[0], objs[1]  # ask for a's colour, relative to b (named by its unique shape)
    if horizontal:
        rel = "left of" if a.col < b.col else "right of"
    else:
        rel = "above" if a.row < b.row else "below"
    opts, letter = _mcq(rng, a.colour, list(COLOURS))
    question = _with_options(f"What colour is the shape {rel} the {b.shape}?", opts)
    return Sample(question, letter, f"The shape {rel} the {b.shape} is a {a.desc}.", _draw_all(objs))


def _rw(*rewards: tuple[str, float, dict]) -> tuple[dict, ...]:
    return tuple({"name": n, "weight": w, "options": o} for n, w, o in rewards)


_FMT: tuple[str, float, dict] = ("format", 1.0, {})

TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        Task(
            "detect",
            _detect,
            "boxes",
            "modomodo_boxes",
            "COCO (Visual-RFT)",
            ("detection", "counting"),
            "Boxes of every shape of a class or colour among 2-4 shapes (the reasoning states the count).",
            _rw(("iou", 2.0, {"mode": "match", "threshold": 0.5}), _FMT),
        ),
        Task(
            "ground",
            _ground,
            "boxes",
            "modomodo_box",
            "LISA",
            ("grounding",),
            "The box of the shape described by colour and shape.",
            _rw(("iou", 2.0, {"mode": "continuous"}), _FMT),
        ),
        Task(
            "geometry",
            _geometry,
            "mcq",
            "modomodo_option",
            "GeoQAV",
            ("geometry", "mcq"),
            "Sides or name of a drawn regular polygon with labelled vertices, as an option letter.",
            _rw(("accuracy", 2.0, {"kind": "mcq"}), _FMT),
        ),
        Task(
            "spatial",
            _spatial,
            "exact",
            "modomodo_option",
            "SAT",
            ("spatial",),
            "Whether one shape is left/right of (or above/below) another.",
            _rw(("accuracy", 2.0, {"kind": "exact"}), _FMT),
        ),
        Task(
            "attribute",
            _attribute,
            "mcq",
            "modomodo_option",
            "ScienceQA",
            ("attribute", "mcq"),
            "The colour of a shape or the shape of a colour, as an option letter.",
            _rw(("accuracy", 2.0, {"kind": "mcq"}), _FMT),
        ),
        Task(
            "chart",
            _chart,
            "numeric",
            "modomodo",
            "Mixed-R1 chart",
            ("chart",),
            "The value of a coloured bar in a bar chart with labelled axis.",
            _rw(("chart", 2.0, {}), _FMT),
        ),
        Task(
            "yesno",
            _yesno,
            "yesno",
            "modomodo",
            "Mixed-R1 yes/no matching",
            ("attribute", "existence"),
            "Whether a shape of a given colour is present.",
            _rw(("accuracy", 2.0, {"kind": "yesno"}), _FMT),
        ),
        Task(
            "caption",
            _caption,
            "open",
            "modomodo",
            "Mixed-R1 open-ended",
            ("attribute", "description"),
            "A description listing the shapes in reading order.",
            _rw(("bmas", 2.0, {}), _FMT),
        ),
        Task(
            "chart_compare",
            _chart_compare,
            "exact",
            "modomodo",
            "ChartQA",
            ("chart", "attribute"),
            "The colour of the tallest bar: read every bar (chart) and name it (attribute).",
            _rw(("accuracy", 1.0, {"kind": "exact"})),
        ),
        Task(
            "read_number",
            _read_number,
            "numeric",
            "modomodo",
            "InfoVQA",
            ("grounding", "attribute", "reading"),
            "The digit in the box of a given colour: find it by colour (ground/attribute) and read "
            "a digit (seen only on chart axes in training).",
            _rw(("accuracy", 1.0, {"kind": "numeric"})),
        ),
        Task(
            "count_math",
            _count_math,
            "count",
            "modomodo",
            "MathVista",
            ("detection", "counting", "arithmetic"),
            "The total count of two shape classes: find every shape of a class (detect) then add.",
            _rw(("accuracy", 1.0, {"kind": "count"})),
        ),
        Task(
            "multi_mc",
            _multi_mc,
            "mcq",
            "modomodo_option",
            "MMMU",
            ("spatial", "attribute", "mcq"),
            "The colour of the shape left of/above a named shape, as an option letter: a spatial "
            "relation (spatial) then a colour (attribute) then an option (mcq).",
            _rw(("accuracy", 1.0, {"kind": "mcq"})),
        ),
    ]
}
DOMAINS: tuple[str, ...] = tuple(TASKS)
TRAIN_DOMAINS = ("detect", "ground", "geometry", "spatial", "attribute", "chart", "yesno", "caption")
OOD_DOMAINS = ("chart_compare", "read_number", "count_math", "multi_mc")
# In-domain tests, as MoDoMoDo has for LISA, SAT and ScienceQA.
IN_DOMAIN_TESTS = ("ground", "spatial", "attribute")


# -- generation --------------------------------------------------------------------------


def _task(domain: str) -> Task:
    try:
        return TASKS[domain]
    except KeyError:
        raise ValueError(f"unknown synthetic domain {domain!r}; expected one of {list(DOMAINS)}") from None


def _rng(domain: str, split: str, seed: int, index: int) -> random.Random:
    # A str seed is hashed with SHA-512 by `random`: stable across processes and platforms.
    return random.Random(f"{domain}/{split}/{seed}/{index}")


def _check_args(n: int, seed: int, image_size: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n = {n!r} is invalid; expected an integer >= 0")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed = {seed!r} is invalid; expected an integer >= 0")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 32:
        raise ValueError(f"image_size = {image_size!r} is invalid; expected an integer >= 32")


def sample(domain: str, index: int, *, seed: int = 0, split: str = "train", image_size: int = 112) -> Sample:
    """Row `index` of a domain, before rendering (question, answer, reasoning, drawing)."""
    return _task(domain).make(_rng(domain, split, seed, index), image_size)


def render(s: Sample, image_size: int = 112) -> Image.Image:
    img = Image.new("RGB", (image_size, image_size), BACKGROUND)
    s.draw(img, image_size)
    return img


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def features():
    """The Arrow features of the unified schema as the synthetic suite writes it."""
    from datasets import Value

    return schema.features(question=Value("string"), sft_completion=Value("string"))


def generate(
    domain: str,
    n: int,
    seed: int = 0,
    *,
    image_size: int = 112,
    split: str = "train",
    template: str | None = None,
    name: str | None = None,
    system: str | None = None,
):
    """`n` rows of a synthetic domain as a `datasets.Dataset` in the unified schema.

    Columns: `image` (PIL, `datasets.Image()`), `prompt` (TRL conversational with an image
    block), `solution` (the gold answer in the form the domain's reward reads), `domain`
    (`name`, default the domain), `image_size` ([w, h]), `question`, and `sft_completion`
    (`<think>…</think><answer>gold</answer>`, a supervised warm-start target).
    Deterministic in (domain, split, seed, index); `split` selects an independent stream.
    """
    from datasets import Dataset

    task = _task(domain)
    _check_args(n, seed, image_size)
    tmpl = template or task.template
    cols: dict[str, list] = {k: [] for k in features()}
    for i in range(n):
        s = task.make(_rng(domain, split, seed, i), image_size)
        cols["image"].append({"bytes": _png(render(s, image_size)), "path": None})
        cols["prompt"].append(conversation(render_template(tmpl, s.question), system))
        cols["solution"].append(s.answer)
        cols["domain"].append(name or domain)
        cols["image_size"].append([image_size, image_size])
        cols["question"].append(s.question)
        cols["sft_completion"].append(completion(s.answer, s.think))
    return Dataset.from_dict(cols, features=features())


def text_corpus(n_per_domain: int = 64, seed: int = 0, domains: Sequence[str] = DOMAINS) -> list[str]:
    """Questions, prompts and completions of the suite, without images: a corpus to train a
    tiny tokenizer on (`modomodo.tiny.build_tokenizer(corpus)`)."""
    out = []
    for d in domains:
        task = _task(d)
        for i in range(n_per_domain):
            s = task.make(_rng(d, "train", seed, i), 112)
            out += [render_template(task.template, s.question), completion(s.answer, s.think)]
    return out
