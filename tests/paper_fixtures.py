"""Local stand-ins for the papers' data sets, in each real schema, for end-to-end tests.

`write_fixture(name, folder, n)` writes `n` generated rows of the built-in spec `name` in the
layout its source has on the hub (parquet with `datasets` image features stored as
`{"bytes", "path"}`, list-of-image columns, index answers, list answers ...) or on disk
(LISA's JSON with image files, Mixed-R1's JSONL), and returns the domain entry that points
the spec there: `{"builtin": name, "source": path}`. The rows are valid in their schema;
their content is random (a tiny random model cannot answer them anyway).
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

from datasets import Dataset, Features, List, Value
from datasets import Image as HFImage
from PIL import Image, ImageDraw

COLOURS = [(200, 30, 30), (30, 160, 40), (40, 60, 210), (220, 200, 40)]


def _png(rng: random.Random, w: int = 96, h: int = 72, fmt: str = "PNG") -> bytes:
    img = Image.new("RGB", (w, h), (0, 0, 0))
    x, y = rng.randrange(w // 2), rng.randrange(h // 2)
    ImageDraw.Draw(img).rectangle((x, y, x + w // 3, y + h // 3), fill=rng.choice(COLOURS))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def _img(rng: random.Random, w: int = 96, h: int = 72) -> dict:
    return {"bytes": _png(rng, w, h), "path": None}  # how the hub's parquet files store an image


def _parquet(folder: Path, name: str, data: dict, features: dict) -> Path:
    path = folder / f"{name}.parquet"
    Dataset.from_dict(data, features=Features(features)).to_parquet(str(path))
    return path


def _coco(folder: Path, n: int, rng: random.Random) -> Path:
    problem = (
        "Detect all objects belonging to the category 'square' in the image, and provide the bounding "
        "boxes (between 0 and 1000, integer) and confidence (between 0 and 1, with two decimal places)."
    )
    solutions = []
    for _ in range(n):
        x, y = rng.randrange(0, 500), rng.randrange(0, 500)
        solutions.append(
            f"<answer>[{{'Position': [{x}, {y}, {x + 300}, {y + 300}], 'Confidence': 1}}]</answer>"
        )
    data = {"image": [_img(rng) for _ in range(n)], "problem": [problem] * n, "solution": solutions}
    return _parquet(
        folder, "coco", data, {"image": HFImage(), "problem": Value("string"), "solution": Value("string")}
    )


def _lisa(folder: Path, n: int, rng: random.Random, name: str) -> Path:
    (folder / "lisa_images").mkdir(exist_ok=True)
    rows = []
    for i in range(n):
        file = f"lisa_images/{name}_{i}.jpg"
        (folder / file).write_bytes(_png(rng, 96, 72, fmt="JPEG"))
        x, y = rng.randrange(0, 40), rng.randrange(0, 30)
        rows.append(
            {"image_path": file, "instruction": ["what would hold water?"], "boxes": [[x, y, x + 30, y + 30]]}
        )
    path = folder / f"{name}.json"
    path.write_text(json.dumps(rows))
    return path


def _geoqav(folder: Path, n: int, rng: random.Random) -> Path:
    data = {
        "image": [_img(rng) for _ in range(n)],
        "problem": ["In circle O, find angle ABC. Choices: A: 30 B: 45 C: 60 D: 90"] * n,
        "solution": [f"<answer>{rng.choice('ABCD')}</answer>" for _ in range(n)],
    }
    return _parquet(
        folder, "geoqav", data, {"image": HFImage(), "problem": Value("string"), "solution": Value("string")}
    )


def _sat(folder: Path, n: int, rng: random.Random, name: str) -> Path:
    answers = [rng.sample(["left", "right", "above", "below"], 2) for _ in range(n)]
    data = {
        "image_bytes": [[_img(rng)] for _ in range(n)],
        "question": ["Is the square left or right of the centre?"] * n,
        "answers": answers,
        "question_type": ["obj_rel"] * n,
        "correct_answer": [a[rng.randrange(2)] for a in answers],
    }
    feats = {
        "image_bytes": List(HFImage()),
        "question": Value("string"),
        "answers": List(Value("string")),
        "question_type": Value("string"),
        "correct_answer": Value("string"),
    }
    return _parquet(folder, name, data, feats)


def _scienceqa(folder: Path, n: int, rng: random.Random, name: str) -> Path:
    text = {
        k: [""] * n for k in ("hint", "task", "grade", "subject", "topic", "category", "skill", "lecture")
    }
    data = {
        "image": [_img(rng) for _ in range(n)],
        "question": ["Which colour is the square?"] * n,
        "choices": [["red", "green", "blue"]] * n,
        "answer": [rng.randrange(3) for _ in range(n)],
        **text,
        "solution": ["Look at the square."] * n,
    }
    feats = {
        "image": HFImage(),
        "question": Value("string"),
        "choices": List(Value("string")),
        "answer": Value("int8"),
        **{k: Value("string") for k in text},
        "solution": Value("string"),
    }
    return _parquet(folder, name, data, feats)


def _chartqa(folder: Path, n: int, rng: random.Random) -> Path:
    data = {
        "image": [_img(rng) for _ in range(n)],
        "query": ["What is the highest value?"] * n,
        "label": [[str(rng.randrange(100))] for _ in range(n)],
        "human_or_machine": [rng.randrange(2) for _ in range(n)],
    }
    feats = {
        "image": HFImage(),
        "query": Value("string"),
        "label": List(Value("string")),
        "human_or_machine": Value("int64"),
    }
    return _parquet(folder, "chartqa", data, feats)


def _infovqa(folder: Path, n: int, rng: random.Random) -> Path:
    data = {
        "questionId": [str(i) for i in range(n)],
        "question": ["What percentage of people use email?"] * n,
        "answers": [[f"{p}%", str(p)] for p in (rng.randrange(100) for _ in range(n))],
        "answer_type": [["single span"]] * n,
        "image": [_img(rng, 72, 120) for _ in range(n)],
        "image_url": ["x.jpeg"] * n,
        "operation/reasoning": [[]] * n,
        "ocr": ["{}"] * n,
        "data_split": ["val"] * n,
    }
    feats = {
        "questionId": Value("string"),
        "question": Value("string"),
        "answers": List(Value("string")),
        "answer_type": List(Value("string")),
        "image": HFImage(),
        "image_url": Value("string"),
        "operation/reasoning": List(Value("string")),
        "ocr": Value("string"),
        "data_split": Value("string"),
    }
    return _parquet(folder, "infovqa", data, feats)


def _mathvista(folder: Path, n: int, rng: random.Random) -> Path:
    meta = {
        "category": "math-targeted-vqa",
        "context": "geometry diagram",
        "grade": "high school",
        "img_height": 72,
        "img_width": 96,
        "language": "english",
        "skills": ["geometry reasoning"],
        "source": "GeoQA+",
        "split": "testmini",
        "task": "geometry problem solving",
    }
    free = [i % 2 == 1 for i in range(n)]
    data = {
        "pid": [str(i) for i in range(n)],
        "question": ["How many dots?" if f else "Find the angle." for f in free],
        "image": [f"images/{i}.jpg" for i in range(n)],
        "decoded_image": [_img(rng) for _ in range(n)],
        "choices": [None if f else ["30°", "60°", "90°"] for f in free],
        "unit": [None] * n,
        "precision": [None] * n,
        "answer": [str(rng.randrange(10)) if f else "60°" for f in free],
        "question_type": ["free_form" if f else "multi_choice" for f in free],
        "answer_type": ["integer" if f else "text" for f in free],
        "metadata": [meta] * n,
        "query": ["..."] * n,
    }
    feats = {
        "pid": Value("string"),
        "question": Value("string"),
        "image": Value("string"),
        "decoded_image": HFImage(),
        "choices": List(Value("string")),
        "unit": Value("string"),
        "precision": Value("float64"),
        "answer": Value("string"),
        "question_type": Value("string"),
        "answer_type": Value("string"),
        "metadata": {
            "category": Value("string"),
            "context": Value("string"),
            "grade": Value("string"),
            "img_height": Value("int64"),
            "img_width": Value("int64"),
            "language": Value("string"),
            "skills": List(Value("string")),
            "source": Value("string"),
            "split": Value("string"),
            "task": Value("string"),
        },
        "query": Value("string"),
    }
    return _parquet(folder, "mathvista", data, feats)


def _mmmu(folder: Path, n: int, rng: random.Random) -> Path:
    open_q = [i % 2 == 1 for i in range(n)]
    data = {
        "id": [f"validation_Art_{i}" for i in range(n)],
        "question": ["<image 1> x = ?" if o else "<image 1> Which style?" for o in open_q],
        "options": ["[]" if o else "['Baroque', 'Gothic', 'Rococo']" for o in open_q],
        "explanation": [""] * n,
        "image_1": [_img(rng) for _ in range(n)],
        **{f"image_{k}": [None] * n for k in range(2, 8)},
        "img_type": ["['Paintings']"] * n,
        "answer": [str(rng.randrange(20)) if o else rng.choice("ABC") for o in open_q],
        "topic_difficulty": ["Easy"] * n,
        "question_type": ["open" if o else "multiple-choice" for o in open_q],
        "subfield": ["Art History"] * n,
    }
    feats = {
        "id": Value("string"),
        "question": Value("string"),
        "options": Value("string"),
        "explanation": Value("string"),
        **{f"image_{k}": HFImage() for k in range(1, 8)},
        "img_type": Value("string"),
        "answer": Value("string"),
        "topic_difficulty": Value("string"),
        "question_type": Value("string"),
        "subfield": Value("string"),
    }
    return _parquet(folder, "mmmu", data, feats)


_MIXED_R1_SOLUTIONS = {
    "mixed_r1_yesno": lambda rng: rng.choice(["Yes.", "No."]),
    "mixed_r1_mcq": lambda rng: f"<answer>({rng.choice('ABCD')})</answer>",
    "mixed_r1_chart": lambda rng: f"<answer>{rng.randrange(2000):,}</answer>",
    "mixed_r1_grounding": lambda rng: json.dumps({"bbox_2d": [4, 5, 4 + rng.randrange(10, 60), 40]}),
    "mixed_r1_caption": lambda rng: rng.choice(["A red square on black.", "A blue square in a corner."]),
}


def _mixed_r1(folder: Path, n: int, rng: random.Random, name: str) -> Path:
    (folder / "mixed_r1_images").mkdir(exist_ok=True)
    lines = []
    for i in range(n):
        file = f"mixed_r1_images/{name}_{i}.png"
        (folder / file).write_bytes(_png(rng))
        row = {"image": file, "problem": "Look at the image.", "solution": _MIXED_R1_SOLUTIONS[name](rng)}
        lines.append(json.dumps(row))
    path = folder / f"{name}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


WRITERS = {
    "coco": lambda f, n, r: _coco(f, n, r),
    "lisa": lambda f, n, r: _lisa(f, n, r, "lisa_train"),
    "geoqav": lambda f, n, r: _geoqav(f, n, r),
    "sat": lambda f, n, r: _sat(f, n, r, "sat_train"),
    "scienceqa": lambda f, n, r: _scienceqa(f, n, r, "scienceqa_train"),
    "lisa_test": lambda f, n, r: _lisa(f, n, r, "lisa_test"),
    "sat_test": lambda f, n, r: _sat(f, n, r, "sat_val"),
    "scienceqa_test": lambda f, n, r: _scienceqa(f, n, r, "scienceqa_test"),
    "chartqa": lambda f, n, r: _chartqa(f, n, r),
    "infovqa": lambda f, n, r: _infovqa(f, n, r),
    "mathvista": lambda f, n, r: _mathvista(f, n, r),
    "mmmu": lambda f, n, r: _mmmu(f, n, r),
    **{name: (lambda f, n, r, name=name: _mixed_r1(f, n, r, name)) for name in _MIXED_R1_SOLUTIONS},
}


def write_fixture(name: str, folder: str | Path, n: int, *, seed: int = 0) -> dict[str, str]:
    """Write `n` rows of built-in spec `name` in its real schema under `folder`; return the
    domain entry `{"builtin": name, "source": path}` that loads them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = WRITERS[name](folder, n, random.Random(f"{name}/{seed}"))
    return {"builtin": name, "source": str(path)}
