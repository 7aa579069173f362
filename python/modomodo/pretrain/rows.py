"""The base model's curriculum: generic rows that teach it to see, read and speak.

The shipped base model (`model: tiny-base`) plays the part of MoDoMoDo's starting point,
an instruction-tuned VLM: it can describe a scene and answer plain questions about it, and
it can use what its prompt offers, but the synthetic suite's tasks are left to RL. So these
rows draw on the synthetic world (its shapes, colours, grid and charts) but never ask a
training domain's question in its form, nor an out-of-distribution one:

| kind        | image | teaches                                | example                                    |
|-------------|-------|----------------------------------------|--------------------------------------------|
| describe    | yes   | seeing: every shape, in reading order  | What is in the picture? → I see a red circle and a blue square. |
| ask         | yes   | plain questions, answered in words     | Which colour does the circle have? → blue |
| bars        | yes   | a chart's bar colours, left to right   | Name the bar colours from left to right. → red, green, blue |
| lookup      | no    | finding a word's option in a list       | (A) red (B) blue … Which option says blue? → B |
| match       | no    | several lookups at once                | (A) red (B) blue … Give the option of each word: blue, red. → blue is B, red is A |
| recall      | no    | reading an option by its label          | … What does option C say? → green |
| copy        | no    | copying a number or a name              | The code is 47. What is the code? → 47 |
| see_pick    | yes   | seeing, then looking the answer up      | Which option names the colour of the circle? (1) red (2) blue → 2 |

About half the rows append MoDoMoDo's reasoning instruction (`modomodo.data.prompts`) and
are answered `<think>…</think><answer>…</answer>`; the rest are answered plainly. So the
base model follows the format on generic tasks, and GRPO's format reward is not all there
is to learn.

Not taught here (RL's job): boxes (detect, ground), polygons (geometry), left/right and
above/below (spatial), an option letter for a colour or shape in the `A. x B. y` form
(attribute; `see_pick` uses other option forms), a bar's value (chart), yes/no presence
(yesno), the caption domain's "Describe the image." question, and every OOD question (the
tallest bar, digits in boxes, sums of counts, relations with options).

Every row is determined by (kind, split, seed, index); `split` selects an independent
stream (`probe` rows are never trained on).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image

from modomodo.data.prompts import TEMPLATES, completion, conversation
from modomodo.data.synthetic import (
    COLOURS,
    SHAPES,
    _bars,
    _draw_all,
    _draw_chart,
    _listing,
    _scene,
)

# Option labels and how an option list is written. The synthetic suite's own form
# ("A. red B. blue", `modomodo.data.synthetic._with_options`) is used by text-only rows
# only; see_pick rows use the other trained forms, and the probe's form is never trained.
LABELS = {"upper": "ABCDE", "digit": "12345"}
TRAIN_FORMS = ("paren", "close", "dot")
PICK_FORMS = ("paren", "close")
PROBE_FORM = "colon"

WORDS = {
    "colour": list(COLOURS) + ["black", "white", "orange", "purple", "pink", "brown", "grey"],
    "shape": list(SHAPES) + ["pentagon", "hexagon", "star", "oval", "line", "arrow"],
    "name": ["Tom", "Ann", "Bob", "Eve", "Max", "Zoe", "Sam", "Ida", "Leo", "Mia", "Kai", "Ola"],
    "animal": ["cat", "dog", "fox", "owl", "cow", "bee", "ant", "hen", "elk", "yak"],
    "number": [str(v) for v in range(100)],
}

MATCH_QUERIES = 8  # words asked per match row (every option at least once)

REASON = TEMPLATES["modomodo"].replace("{question}", "")
REASON_OPTION = TEMPLATES["modomodo_option"].replace("{question}", "")


@dataclass(frozen=True)
class Row:
    kind: str
    question: str
    answer: str
    think: str
    image: Image.Image | None
    instructed: bool  # the reasoning instruction appended; answered in <think>/<answer>

    @property
    def prompt(self) -> list[dict]:
        text = self.question + ((REASON_OPTION if self.is_option else REASON) if self.instructed else "")
        if self.image is None:
            return [{"role": "user", "content": [{"type": "text", "text": text}]}]
        return conversation(text)

    @property
    def is_option(self) -> bool:
        return self.kind in ("lookup", "see_pick")

    @property
    def target(self) -> str:
        return completion(self.answer, self.think) if self.instructed else self.answer

    def as_dict(self) -> dict:
        """The row as `modomodo.train.warmstart.collate` reads it."""
        return {"prompt": self.prompt, "image": self.image, "sft_completion": self.target}


def options_text(words: Sequence[str], form: str, labels: str) -> str:
    if form == "paren":
        return " ".join(f"({labels[i]}) {w}" for i, w in enumerate(words))
    if form == "close":
        return " ".join(f"{labels[i]}) {w}" for i, w in enumerate(words))
    if form == "dot":
        return " ".join(f"{labels[i]}. {w}" for i, w in enumerate(words))
    if form == "colon":
        return "; ".join(f"{labels[i]}: {w}" for i, w in enumerate(words))
    raise ValueError(f"option form {form!r}: expected paren, close, dot or colon")


def _options(rng: random.Random, pool: Sequence[str], must: str, lo: int = 2, hi: int = 5) -> list[str]:
    k = rng.randint(lo, min(hi, len(pool)))
    words = [must] + rng.sample([w for w in pool if w != must], k - 1)
    rng.shuffle(words)
    return words


def _scene_image(rng: random.Random, size: int, n: int, unique: str):
    objs = _scene(rng, size, n, unique=unique)
    img = Image.new("RGB", (size, size))
    _draw_all(objs)(img, size)
    return objs, img


# -- the kinds -------------------------------------------------------------------------------


def describe(rng: random.Random, size: int) -> tuple[str, str, str, Image.Image | None]:
    objs, img = _scene_image(rng, size, rng.randint(1, 4), "desc")
    question = rng.choice(["What is in the picture?", "What do you see?", "Tell me what is shown."])
    n = len(objs)
    return question, f"I see {_listing(objs)}.", f"There {'is' if n == 1 else 'are'} {n} shapes.", img


def ask(rng: random.Random, size: int):
    if rng.random() < 0.5:
        objs, img = _scene_image(rng, size, rng.randint(1, 3), "shape")
        t = rng.choice(objs)
        question = rng.choice(
            [f"Which colour does the {t.shape} have?", f"Name the colour of the {t.shape}."]
        )
        return question, t.colour, f"The {t.shape} is {t.colour}.", img
    objs, img = _scene_image(rng, size, rng.randint(1, 3), "colour")
    t = rng.choice(objs)
    question = rng.choice([f"Which shape is {t.colour}?", f"Name the shape that is {t.colour}."])
    return question, t.shape, f"The {t.colour} one is a {t.shape}.", img


def bars(rng: random.Random, size: int):
    chart = _bars(rng, distinct_max=False)
    img = Image.new("RGB", (size, size))
    _draw_chart(chart)(img, size)
    answer = ", ".join(c for c, _ in chart)
    return "Name the bar colours from left to right.", answer, f"There are {len(chart)} bars.", img


def lookup(rng: random.Random, size: int, form: str | None = None, max_options: int = 5):
    pool = WORDS[rng.choice(tuple(WORDS))]
    target = rng.choice(pool)
    words = _options(rng, pool, target, hi=max_options)
    labels = LABELS[rng.choice(tuple(LABELS))]
    opts = options_text(words, form or rng.choice(TRAIN_FORMS), labels)
    label = labels[words.index(target)]
    question = rng.choice(
        [
            f"{opts}\nWhich option says {target}?",
            f"Which option says {target}?\n{opts}",
            f"The answer is {target}. Which option is it?\n{opts}",
        ]
    )
    return question, label, f"{target} is option {label}.", None


def match(rng: random.Random, size: int, max_options: int = 5):
    """Several lookups in one row: each word is followed by its option label, so every
    answered word is a supervised lookup (one per row would leave the circuit starved)."""
    pool = WORDS[rng.choice(tuple(WORDS))]
    words = _options(rng, pool, rng.choice(pool), hi=max_options)
    labels = LABELS[rng.choice(tuple(LABELS))]
    opts = options_text(words, rng.choice(TRAIN_FORMS), labels)
    order = rng.sample(range(len(words)), len(words))
    order += [rng.randrange(len(words)) for _ in range(MATCH_QUERIES - len(order))]
    answer = ", ".join(f"{words[i]} is {labels[i]}" for i in order)
    asked = ", ".join(words[i] for i in order)
    return f"{opts}\nGive the option of each word: {asked}.", answer, f"There are {len(words)} options.", None


def recall(rng: random.Random, size: int, max_options: int = 5):
    pool = WORDS[rng.choice(tuple(WORDS))]
    words = _options(rng, pool, rng.choice(pool), hi=max_options)
    labels = LABELS[rng.choice(tuple(LABELS))]
    i = rng.randrange(len(words))
    opts = options_text(words, rng.choice(TRAIN_FORMS), labels)
    return (
        f"{opts}\nWhat does option {labels[i]} say?",
        words[i],
        f"Option {labels[i]} says {words[i]}.",
        None,
    )


def copy(rng: random.Random, size: int):
    if rng.random() < 0.5:
        value, what = rng.choice(WORDS["number"]), rng.choice(["code", "number", "total", "score"])
    else:
        value, what = rng.choice(WORDS["name"]), rng.choice(["name", "winner", "friend"])
    filler = rng.choice(["", "It is late. ", "The room is quiet. ", "We met today. "])
    return (
        f"{filler}The {what} is {value}. What is the {what}?",
        value,
        f"The text says the {what} is {value}.",
        None,
    )


def see_pick(rng: random.Random, size: int, form: str | None = None):
    """A colour or shape seen in the image, answered by its option label (never in the
    attribute domain's `A. x B. y` form)."""
    if rng.random() < 0.5:
        objs, img = _scene_image(rng, size, rng.randint(1, 3), "shape")
        t = rng.choice(objs)
        target, pool, question = t.colour, list(COLOURS), f"Which option names the colour of the {t.shape}?"
    else:
        objs, img = _scene_image(rng, size, rng.randint(1, 3), "colour")
        t = rng.choice(objs)
        target, pool, question = t.shape, list(SHAPES), f"Which option names the shape that is {t.colour}?"
    words = _options(rng, pool, target, lo=2, hi=len(pool))
    labels = LABELS[rng.choice(tuple(LABELS))]
    opts = options_text(words, form or rng.choice(PICK_FORMS), labels)
    label = labels[words.index(target)]
    return f"{question}\n{opts}", label, f"It is a {t.desc}. {target} is option {label}.", img


KINDS: dict[str, Callable[..., tuple[str, str, str, Image.Image | None]]] = {
    "describe": describe,
    "ask": ask,
    "bars": bars,
    "lookup": lookup,
    "match": match,
    "recall": recall,
    "copy": copy,
    "see_pick": see_pick,
}
IMAGE_KINDS = ("describe", "ask", "bars", "see_pick")
TEXT_KINDS = ("lookup", "match", "recall", "copy")
LIST_KINDS = ("lookup", "match", "recall")  # text rows with an option list of 2 to `max_options`


def row(
    kind: str,
    index: int,
    *,
    seed: int = 0,
    split: str = "train",
    image_size: int = 112,
    instructed: float = 0.5,
    form: str | None = None,
    max_options: int = 5,
) -> Row:
    """Row `index` of a kind's stream; `instructed` is the chance of the reasoning
    instruction; `form` fixes the option form (lookup, see_pick); `max_options` caps the
    option list of the text kinds that have one (lookup, match, recall; at least 2)."""
    if kind not in KINDS:
        raise ValueError(f"unknown pretraining row kind {kind!r}; expected one of {list(KINDS)}")
    if not 2 <= max_options <= 5:
        raise ValueError(f"max_options={max_options!r}: expected 2 to 5 (the option labels are A–E)")
    rng = random.Random(f"pretrain/{kind}/{split}/{seed}/{index}")
    make = KINDS[kind]
    extra: dict = {"form": form} if form else {}
    if kind in LIST_KINDS:
        extra["max_options"] = max_options
    question, answer, think, image = make(rng, image_size, **extra)
    return Row(kind, question, answer, think, image, rng.random() < instructed)


def corpus(n_per_kind: int = 64, seed: int = 0) -> list[str]:
    """Questions and completions of every kind, for the tokenizer."""
    out = []
    for kind in KINDS:
        for i in range(n_per_kind):
            r = row(kind, i, seed=seed, instructed=0.0)
            out += [r.question, completion(r.answer, r.think)]
    return out
