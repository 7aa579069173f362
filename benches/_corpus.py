"""Deterministic corpus of realistic model completions for the reward benchmark.

Every case carries the reward DESIGN.md gives it (`gold`), known by construction: the
generator decides what the completion says, then writes it in one of the forms a model
uses (answer tags, \\boxed{}, each box and number form, MCQ and yes/no phrasings) or
breaks it (noise, truncation, degenerate boxes, reward hacks). Cases whose reward the
design leaves open are not generated, so a mismatch with `gold` is a real finding.

`build_corpus(n_per_family, seed)` returns one `Family` per scored call; the same seed
gives the same strings in every process (string seeds go through SHA-512 in `random`).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

# --- families ---------------------------------------------------------------------------


@dataclass
class Family:
    """One scored call: `modomodo.rewards.<func>(completions, solutions?, **kwargs)`."""

    name: str
    func: str  # format_reward | accuracy_reward | chart_reward | iou_reward
    kwargs: dict
    completions: list[str] = field(default_factory=list)
    solutions: list = field(default_factory=list)  # str; or box values (iou_gold_* families)
    golds: list[float] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    image_sizes: list[tuple[int, int]] | None = None

    def add(self, completion: str, solution: str, gold: float, variant: str, size=None) -> None:
        self.completions.append(completion)
        self.solutions.append(solution)
        self.golds.append(float(gold))
        self.variants.append(variant)
        if size is not None:
            if self.image_sizes is None:
                self.image_sizes = []
            self.image_sizes.append(size)

    def __len__(self) -> int:
        return len(self.completions)

    def subset(self, idx: list[int]) -> Family:
        sub = Family(self.name, self.func, dict(self.kwargs))
        for i in idx:
            sub.add(
                self.completions[i],
                self.solutions[i],
                self.golds[i],
                self.variants[i],
                None if self.image_sizes is None else self.image_sizes[i],
            )
        return sub


# --- shared text pieces -----------------------------------------------------------------

# Reasoning filler: lower-case words only. No digits, no single letters, no yes/no words,
# so a completion without an answer block cannot accidentally carry an answer.
WORDS = (
    "the image shows several objects near center left right side of frame looking "
    "carefully background foreground color shape size region there appear count each "
    "visible item compare with question options consider first then check again bright "
    "dark small large person car tree building sign table chair window road sky water "
    "grass animal dog cat bird because therefore since so thus hence likely clearly seems "
    "probably mostly partly behind front above below between inside outside top bottom "
    "corner edge middle area pixels label chart bar line axis value values title legend "
    "trend increase decrease highest lowest total sum difference ratio estimate roughly "
    "about nearly exactly step reasoning think careful observe detail"
).split()

PHRASES = [
    "red",
    "blue",
    "green",
    "golden retriever",
    "new york city",
    "eiffel tower",
    "tennis racket",
    "fire hydrant",
    "stop sign",
    "traffic light",
    "wooden table",
    "umbrella",
    "giraffe",
    "pizza",
    "sailboat",
    "snowboard",
    "kitchen",
    "living room",
    "parking lot",
    "bus station",
    "brown horse",
    "black and white cat",
    "running",
    "sitting",
    "sunny",
    "cloudy",
    "winter",
    "baseball bat",
    "teddy bear",
    "laptop computer",
    "mountain bike",
    "cell phone",
]
OPTION_TEXTS = [
    "cat",
    "dog",
    "horse",
    "bicycle",
    "red car",
    "blue bus",
    "two people",
    "bird",
    "the left one",
    "the right one",
    "morning",
    "evening",
    "kitchen",
    "beach",
    "snow",
    "grass",
    "water",
    "bridge",
]
LETTERS = "ABCDEFGH"
NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
UNITS = ["cm", "m", "kg", "km", "meters", "dollars", "apples", "people", "units"]
LABELS = ["dog", "cat", "person", "car", "bus", "chair", "cup", "bird", "horse", "bottle"]


def think(rng: random.Random, lo: int = 15, hi: int = 90) -> str:
    # Mostly short reasoning, sometimes a long chain (a few hundred words).
    n = rng.randint(lo, hi) if rng.random() < 0.85 else rng.randint(150, 500)
    words = rng.choices(WORDS, k=n)
    # A few sentence breaks and newlines, as real reasoning has.
    for i in range(rng.randint(0, 4)):
        j = rng.randrange(len(words))
        words[j] = words[j] + rng.choice([".", ",", ".\n", ";"])
    return " ".join(words)


def noise(rng: random.Random) -> str:
    """Garbage that names no answer, number or box: words, stray tags and braces."""
    parts = rng.choices(WORDS, k=rng.randint(3, 60))
    junk = [
        "<think>",
        "</think>",
        "<answer>",
        "{",
        "}",
        "[",
        "]",
        "(",
        ")",
        "\\boxed{",
        ":",
        "<|box_start|>",
        "<box>",
        '"',
        "'",
        "```json",
        "```",
        "...",
        "\n",
        "%",
        "/",
    ]
    for _ in range(rng.randint(1, 8)):
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(junk))
    return rng.choice(["", " "]).join(parts)


def tagged(rng: random.Random, answer: str) -> str:
    """`<think>…</think><answer>…</answer>` with the spacing styles models produce."""
    t = think(rng)
    style = rng.randrange(4)
    if style == 0:
        return f"<think>{t}</think><answer>{answer}</answer>"
    if style == 1:
        return f"<think>\n{t}\n</think>\n<answer>{answer}</answer>"
    if style == 2:
        return f"<think> {t} </think> <answer> {answer} </answer>"
    return f"<think>\n{t}\n</think>\n\n<answer>\n{answer}\n</answer>"


def boxed(rng: random.Random, answer: str) -> str:
    """Reasoning prose ending in \\boxed{answer}, no answer tags (R1-style math output)."""
    t = think(rng)
    return rng.choice(
        [
            f"{t}. Therefore the final answer is $\\boxed{{{answer}}}$.",
            f"{t}\n\n\\boxed{{{answer}}}",
            f"<think>{t}</think> so the answer is \\boxed{{{answer}}}",
        ]
    )


def truncated(rng: random.Random) -> str:
    """A completion cut off inside its answer block (no closing tag, nothing answered)."""
    return f"<think>{think(rng)}</think><answer>{rng.choice(['', 'the', 'it is', 'so the'])}"


def wrap_solution(rng: random.Random, sol: str) -> str:
    return sol if rng.random() < 0.75 else f"<answer>{sol}</answer>"


def pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    names, weights = zip(*weighted)
    return rng.choices(names, weights=weights)[0]


# --- format -----------------------------------------------------------------------------

FORMAT_VARIANTS = [
    # name, weight, strict gold, lenient gold
    ("ok", 30, 1, 1),
    ("ok_spaced", 10, 1, 1),
    ("ok_outer_ws", 5, 1, 1),
    ("no_think", 8, 0, 1),
    ("no_answer", 8, 0, 0),
    ("answer_first", 5, 0, 1),
    ("text_before", 6, 0, 1),
    ("text_after", 6, 0, 1),
    ("two_answers", 5, 0, 1),
    ("two_thinks", 4, 0, 1),
    ("junk_between", 5, 0, 1),
    ("unclosed", 4, 0, 0),
    ("noise", 3, 0, 0),
    ("empty", 1, 0, 0),
]


def gen_format(fam: Family, rng: random.Random, n: int, lenient: bool) -> None:
    table = {v[0]: v[2:] for v in FORMAT_VARIANTS}
    weights = [(v[0], v[1]) for v in FORMAT_VARIANTS]
    for _ in range(n):
        v = pick(rng, weights)
        t, a = think(rng), rng.choice(PHRASES + OPTION_TEXTS)
        if rng.random() < 0.2:
            t = t + " so x < y and y > z"  # comparison signs inside reasoning are not tags
        c = {
            "ok": lambda: f"<think>{t}</think><answer>{a}</answer>",
            "ok_spaced": lambda: f"<think>\n{t}\n</think>\n\n<answer>\n{a}\n</answer>",
            "ok_outer_ws": lambda: f"\n  <think>{t}</think> <answer>{a}</answer>\n",
            "no_think": lambda: f"<answer>{a}</answer>",
            "no_answer": lambda: f"<think>{t}</think> {a}",
            "answer_first": lambda: f"<answer>{a}</answer><think>{t}</think>",
            "text_before": lambda: f"Sure, here it is. <think>{t}</think><answer>{a}</answer>",
            "text_after": lambda: f"<think>{t}</think><answer>{a}</answer> Hope this helps!",
            "two_answers": lambda: f"<think>{t}</think><answer>{a}</answer><answer>{a}</answer>",
            "two_thinks": lambda: f"<think>{t}</think><think>{t}</think><answer>{a}</answer>",
            "junk_between": lambda: f"<think>{t}</think> so <answer>{a}</answer>",
            "unclosed": lambda: f"<think>{t}</think><answer>{a}",
            "noise": lambda: noise(rng).replace("<answer>", ""),
            "empty": lambda: "",
        }[v]()
        fam.add(c, "", table[v][1 if lenient else 0], v)


# --- exact ------------------------------------------------------------------------------


def gen_exact(fam: Family, rng: random.Random, n: int) -> None:
    weights = [
        ("tag", 20),
        ("case", 10),
        ("spaces", 8),
        ("quotes", 6),
        ("brackets", 6),
        ("period", 8),
        ("boxed", 6),
        ("bare", 5),
        ("last_block", 4),
        ("wrong", 12),
        ("partial", 5),
        ("extra_words", 5),
        ("sentence_bare", 3),
        ("earlier_block", 3),
        ("truncated", 2),
        ("noise", 3),
    ]
    for _ in range(n):
        v = pick(rng, weights)
        gold = rng.choice(PHRASES)
        other = rng.choice([p for p in PHRASES if p != gold])
        sol = wrap_solution(rng, gold if rng.random() < 0.7 else gold.title())
        g = 1.0
        if v == "tag":
            c = tagged(rng, gold)
        elif v == "case":
            c = tagged(rng, rng.choice([gold.upper(), gold.title(), gold.capitalize()]))
        elif v == "spaces":
            c = tagged(rng, "  " + gold.replace(" ", rng.choice(["  ", " \n ", "\t"])) + " ")
        elif v == "quotes":
            q = rng.choice(['"', "'"])
            c = tagged(rng, f"{q}{gold}{q}")
        elif v == "brackets":
            o, cl = rng.choice([("(", ")"), ("[", "]")])
            c = tagged(rng, f"{o}{gold}{cl}")
        elif v == "period":
            c = tagged(rng, gold.capitalize() + ".")
        elif v == "boxed":
            c = boxed(rng, gold)
        elif v == "bare":
            c = gold
        elif v == "last_block":
            c = f"<think>{think(rng)}</think><answer>{other}</answer> wait, <answer>{gold}</answer>"
        elif v == "earlier_block":
            c = f"<think>{think(rng)}</think><answer>{gold}</answer> wait, <answer>{other}</answer>"
            g = 0.0
        elif v == "wrong":
            c, g = tagged(rng, other), 0.0
        elif v == "partial":
            c, g = tagged(rng, gold.split()[0] + "ish"), 0.0
        elif v == "extra_words":
            c, g = tagged(rng, f"it is {gold} here"), 0.0
        elif v == "sentence_bare":
            c, g = f"the answer is {gold}", 0.0
        elif v == "truncated":
            c, g = truncated(rng), 0.0
        else:
            c, g = noise(rng), 0.0
        fam.add(c, sol, g, v)


# --- mcq --------------------------------------------------------------------------------


def mcq_forms(rng: random.Random, letter: str) -> str:
    return rng.choice(
        [
            letter,
            f"({letter})",
            f"{letter}.",
            f"{letter}) {rng.choice(OPTION_TEXTS)}",
            f"Option {letter}",
            f"The answer is {letter}",
            f"The answer is {letter}.",
            # an option text starting with the article "A" names no second option
            f"{letter}. {rng.choice(['A red car', 'A bird', 'A man on a horse'])}",
        ]
    )


def gen_mcq(fam: Family, rng: random.Random, n: int, letter_solutions: bool = False) -> None:
    weights = [
        ("tag", 40),
        ("boxed", 6),
        ("bare", 6),
        ("wrong", 25),
        ("multi", 10),
        ("empty", 3),
        ("truncated", 3),
        ("noise", 4),
        ("last_block", 3),
    ]
    for _ in range(n):
        v = pick(rng, weights)
        k = rng.choice([4, 4, 4, 5, 6, 8])
        gold = LETTERS[rng.randrange(k)]
        other = rng.choice([x for x in LETTERS[:k] if x != gold])
        sol = rng.choice([gold, gold, f"({gold}) {rng.choice(OPTION_TEXTS)}"])
        if letter_solutions:  # `auto` reads only a bare letter as an MCQ gold
            sol = gold
        sol = wrap_solution(rng, sol)
        g = 1.0
        if v == "tag":
            c = tagged(rng, mcq_forms(rng, gold))
        elif v == "boxed":
            c = boxed(rng, gold)
        elif v == "bare":
            c = mcq_forms(rng, gold)
        elif v == "last_block":
            c = f"<think>{think(rng)}</think><answer>{other}</answer><answer>{gold}</answer>"
        elif v == "wrong":
            c, g = tagged(rng, mcq_forms(rng, other)), 0.0
        elif v == "multi":
            a, b = (gold, other) if rng.random() < 0.5 else (other, gold)
            c = tagged(
                rng,
                rng.choice(
                    [f"{a} or {b}", f"{a}, {b}", f"({a}) ({b})", f"{a} and {b}", f"The answer is {a} or {b}"]
                ),
            )
            g = 0.0
        elif v == "empty":
            c, g = tagged(rng, ""), 0.0
        elif v == "truncated":
            c, g = truncated(rng), 0.0
        else:
            c, g = noise(rng), 0.0
        fam.add(c, sol, g, v)


# --- yes/no -----------------------------------------------------------------------------

YES_FORMS = [
    "yes",
    "Yes",
    "YES",
    "Yes.",
    "yes!",
    "Yes, there is a {o} in the image.",
    "yes, the {o} is visible",
    "Definitely yes.",
]
NO_FORMS = ["no", "No", "NO", "No.", "No, there is no {o}.", "no, the {o} is missing", "No, it is not."]
# Words that contain "yes"/"no" as letters but must not count as answers.
TRAPS = [
    "The {o} has blue eyes, so {ans}.",
    "We know the {o} is there: {ans}.",
    "Looking north and at the {o}'s nose: {ans}.",
    "Unlike yesterday, {ans}.",
    "Nobody would doubt it, {ans}.",
]


def gen_yesno(fam: Family, rng: random.Random, n: int) -> None:
    weights = [
        ("tag", 40),
        ("bare", 8),
        ("boxed", 4),
        ("trap", 10),
        ("wrong", 20),
        ("both", 8),
        ("neither", 4),
        ("truncated", 2),
        ("noise", 4),
    ]
    for _ in range(n):
        v = pick(rng, weights)
        gold = rng.choice(["yes", "no"])
        other = "no" if gold == "yes" else "yes"
        sol = wrap_solution(rng, rng.choice([gold, gold.capitalize()]))
        o = rng.choice(LABELS)

        def say(ans: str) -> str:
            return rng.choice(YES_FORMS if ans == "yes" else NO_FORMS).format(o=o)

        g = 1.0
        if v == "tag":
            c = tagged(rng, say(gold))
        elif v == "bare":
            c = say(gold)
        elif v == "boxed":
            c = boxed(rng, rng.choice([gold, gold.capitalize()]))
        elif v == "trap":
            c = tagged(rng, rng.choice(TRAPS).format(o=o, ans=gold))
        elif v == "wrong":
            c, g = tagged(rng, rng.choice([say(other), rng.choice(TRAPS).format(o=o, ans=other)])), 0.0
        elif v == "both":
            c, g = tagged(rng, rng.choice(["yes and no", "Yes. No.", "no, yes", "Yes or no?"])), 0.0
        elif v == "neither":
            c, g = tagged(rng, rng.choice(["maybe", "unclear", "it depends", "cannot tell"])), 0.0
        elif v == "truncated":
            c, g = truncated(rng), 0.0
        else:
            c, g = noise(rng), 0.0
        fam.add(c, sol, g, v)


# --- numbers ----------------------------------------------------------------------------


def fmt_thousands(x: int) -> str:
    return f"{x:,}"


def draw_number(rng: random.Random, allow_percent: bool = True):
    """(value as Fraction, canonical solution text, kind). Values are exact decimals."""
    kind = rng.choice(
        ["int", "int", "big", "dec", "frac", "neg", "sci_small", "sci_big"]
        + (["pct"] if allow_percent else [])
    )
    if kind == "int":
        x = rng.randint(0, 999)
        return Fraction(x), str(x), kind
    if kind == "big":
        x = rng.randint(1000, 99_999_999)
        return Fraction(x), str(x), kind
    if kind == "dec":
        x = Fraction(rng.randint(1, 99_999), 100)
        return x, f"{float(x):.2f}", kind
    if kind == "frac":
        q = rng.choice([2, 4, 5, 8, 10, 16, 20, 25])
        p = rng.randint(1, 4 * q)
        x = Fraction(p, q)
        return x, repr(float(x)), kind
    if kind == "neg":
        x = -Fraction(rng.randint(1, 99_999), rng.choice([1, 10, 100]))
        return x, str(float(x)) if x.denominator > 1 else str(int(x)), kind
    if kind == "sci_small":
        # >= 1.1e-5: a wrong answer 3 % off stays far outside the 1e-9 absolute tolerance
        m, e = rng.randint(11, 99), rng.randint(3, 5)
        x = Fraction(m, 10 * 10**e)
        return x, f"{m / 10}e-{e}", kind
    if kind == "sci_big":
        m, e = rng.randint(11, 99), rng.randint(6, 12)
        x = Fraction(m * 10**e, 10)
        return x, str(int(x)), kind
    x = Fraction(rng.randint(1, 9999), 10)
    return x, f"{float(x):.1f}%", kind  # percent on both sides; value compared as written


def number_forms(rng: random.Random, x: Fraction, canon: str, kind: str) -> tuple[str, str]:
    """A correct way to write `x` (the variant name, the text)."""
    if kind == "pct":
        return "percent", canon
    forms = ["plain", "sci", "unit", "trailing_zero", "near"]
    if x.denominator == 1 and abs(x) >= 1000:
        forms += ["thousands", "thousands"]
    if kind == "frac":
        forms += ["slash", "latex_frac", "dfrac"]
    f = rng.choice(forms)
    v = float(x)
    if f == "plain":
        return f, canon
    if f == "sci":
        return f, rng.choice([f"{v:.9e}", f"{v:.9E}"])
    if f == "unit":
        return f, f"{canon} {rng.choice(UNITS)}"
    if f == "trailing_zero":
        if "e" in canon:
            return "plain", canon
        return f, canon + "0" if "." in canon else canon + ".0"
    if f == "near":
        return f, repr(v * (1 + 3e-8))
    if f == "thousands":
        return f, fmt_thousands(int(x))
    if f == "slash":
        return f, f"{x.numerator}/{x.denominator}"
    if f == "latex_frac":
        return f, f"\\frac{{{x.numerator}}}{{{x.denominator}}}"
    return f, f"\\dfrac{{{x.numerator}}}{{{x.denominator}}}"


def wrong_number(rng: random.Random, x: Fraction, canon: str, kind: str) -> str:
    if kind == "pct":
        return f"{float(x) * rng.choice([0.5, 0.9, 1.1, 2.0]):.1f}%"
    v = float(x)
    if v == 0:
        return str(rng.randint(1, 9))
    w = v * rng.choice([0.5, 0.9, 0.97, 1.03, 1.1, 2.0, -1.0])
    if x.denominator == 1 and abs(x) < 1000:
        w = int(x) + rng.choice([-2, -1, 1, 2])
    return repr(w)


def gen_numeric(fam: Family, rng: random.Random, n: int, allow_percent: bool = True) -> None:
    weights = [
        ("right", 55),
        ("boxed", 8),
        ("bare", 5),
        ("wrong", 20),
        ("non_finite", 4),
        ("truncated", 3),
        ("noise", 5),
    ]
    for _ in range(n):
        v = pick(rng, weights)
        x, canon, kind = draw_number(rng, allow_percent)
        sol_text = canon
        if kind == "big" and rng.random() < 0.3:
            sol_text = fmt_thousands(int(x))
        sol = wrap_solution(rng, sol_text)
        g = 1.0
        if v in ("right", "boxed", "bare"):
            form, text = number_forms(rng, x, canon, kind)
            if v == "boxed" and form == "unit":
                form, text = "plain", canon
            c = {"right": tagged, "boxed": boxed}.get(v, lambda _r, t: t)(rng, text)
            v = f"{v}:{form}"
        elif v == "wrong":
            c, g = tagged(rng, wrong_number(rng, x, canon, kind)), 0.0
        elif v == "non_finite":
            c, g = tagged(rng, rng.choice(["inf", "-inf", "nan", "NaN", "1e999", "3/0", "Infinity"])), 0.0
        elif v == "truncated":
            c, g = truncated(rng), 0.0
        else:
            c, g = noise(rng), 0.0
        fam.add(c, sol, g, v)


def gen_count(fam: Family, rng: random.Random, n: int) -> None:
    weights = [
        ("digits", 35),
        ("word", 15),
        ("boxed", 6),
        ("bare", 6),
        ("wrong", 20),
        ("wrong_word", 6),
        ("fractional", 4),
        ("truncated", 3),
        ("noise", 5),
    ]
    for _ in range(n):
        v = pick(rng, weights)
        k = rng.randint(0, 20) if rng.random() < 0.8 else rng.randint(21, 500)
        other = k + rng.choice([-2, -1, 1, 2, 3]) if k > 2 else k + rng.randint(1, 4)
        sol = wrap_solution(rng, str(k))
        g = 1.0
        if v == "digits":
            c = tagged(rng, str(k))
        elif v == "word":
            if k > 20:
                c, v = tagged(rng, str(k)), "digits"
            else:
                w = NUMBER_WORDS[k]
                c = tagged(rng, rng.choice([w, w.capitalize(), w.upper()]))
        elif v == "boxed":
            c = boxed(rng, str(k))
        elif v == "bare":
            c = str(k)
        elif v == "wrong":
            c, g = tagged(rng, str(other)), 0.0
        elif v == "wrong_word":
            c, g = tagged(rng, rng.choice([w for i, w in enumerate(NUMBER_WORDS) if i != k])), 0.0
        elif v == "fractional":
            c, g = tagged(rng, f"{k}.5"), 0.0
        elif v == "truncated":
            c, g = truncated(rng), 0.0
        else:
            c, g = noise(rng), 0.0
        fam.add(c, sol, g, v)


# --- math -------------------------------------------------------------------------------

SQRT_FREE = [2, 3, 5, 6, 7, 10, 11, 13, 14, 15, 17, 19, 21, 22, 23]


def draw_math(rng: random.Random):
    """(gold latex, list of (variant, correct answer), list of wrong answers)."""
    kind = rng.choice(["frac", "frac", "int", "sqrt", "pi", "deg", "eq"])
    if kind == "frac":
        while True:
            q = rng.randint(2, 40)
            p = rng.randint(1, 3 * q)
            if math.gcd(p, q) == 1:
                break
        gold = f"\\frac{{{p}}}{{{q}}}"
        right = [
            ("frac", gold),
            ("dfrac", f"\\dfrac{{{p}}}{{{q}}}"),
            ("slash", f"{p}/{q}"),
            ("dollars", f"${gold}$"),
            ("unreduced", f"\\frac{{{2 * p}}}{{{2 * q}}}"),
        ]
        if all(f in (2, 5) for f in prime_factors(q)):
            right.append(("decimal", repr(p / q)))
        wrong = [
            f"\\frac{{{p + 1}}}{{{q}}}",
            f"\\frac{{{q}}}{{{p}}}" if p != q else "\\frac{1}{7}",
            f"{p}/{q + 1}",
        ]
        return kind, gold, right, wrong
    if kind == "int":
        k = rng.randint(-50, 500)
        gold = str(k)
        right = [
            ("int", gold),
            ("x_eq", f"x = {k}"),
            ("dollars", f"${k}$"),
            ("boxed_in_answer", f"\\boxed{{{k}}}"),
            ("float", f"{k}.0"),
        ]
        return kind, gold, right, [str(k + 1), f"x = {k - 1}", str(-k - 1)]
    if kind == "sqrt":
        m = rng.choice(SQRT_FREE)
        gold = f"\\sqrt{{{m}}}"
        right = [("sqrt", gold), ("dollars", f"${gold}$"), ("decimal", f"{math.sqrt(m):.10f}")]
        return kind, gold, right, [f"\\sqrt{{{m + 1}}}", f"{math.sqrt(m) + 0.1:.4f}", str(m)]
    if kind == "pi":
        k = rng.choice([1, 2, 3, 4, 6])
        gold = "\\pi" if k == 1 else f"{k}\\pi"
        right = [("pi", gold), ("dollars", f"${gold}$"), ("decimal", f"{k * math.pi:.10f}")]
        return kind, gold, right, [f"{k + 1}\\pi", f"{k * 3.14 + 1:.2f}", str(k)]
    if kind == "deg":
        d = rng.choice([15, 30, 36, 45, 60, 72, 90, 108, 120, 135, 150])
        gold = rng.choice([f"{d}^\\circ", f"{d}^{{\\circ}}", str(d)])
        right = [("deg", f"{d}^\\circ"), ("deg_braced", f"{d}^{{\\circ}}"), ("deg_plain", str(d))]
        return kind, gold, right, [f"{d + 5}^\\circ", str(d - 10)]
    k = rng.randint(-20, 99)
    gold = str(k)
    right = [("x_eq", f"x = {k}"), ("x_eq_tight", f"x={k}"), ("y_eq", f"y = {k}")]
    return "eq", gold, right, [f"x = {k + 2}", f"x = {-k - 3}"]


def prime_factors(q: int) -> set[int]:
    out, d = set(), 2
    while d * d <= q:
        while q % d == 0:
            out.add(d)
            q //= d
        d += 1
    if q > 1:
        out.add(q)
    return out


def gen_math(fam: Family, rng: random.Random, n: int) -> None:
    weights = [("tag", 45), ("boxed", 20), ("wrong", 25), ("truncated", 3), ("noise", 7)]
    for _ in range(n):
        v = pick(rng, weights)
        kind, gold, right, wrong = draw_math(rng)
        sol = rng.choice([gold, gold, f"${gold}$", f"<answer>{gold}</answer>"])
        g = 1.0
        if v in ("tag", "boxed"):
            form, text = rng.choice(right)
            if v == "boxed" and form in ("dollars", "boxed_in_answer"):
                form, text = right[0]
            c = tagged(rng, text) if v == "tag" else boxed(rng, text)
            v = f"{v}:{kind}:{form}"
        elif v == "wrong":
            c, g = rng.choice([tagged, boxed])(rng, rng.choice(wrong)), 0.0
            v = f"wrong:{kind}"
        elif v == "truncated":
            c, g = truncated(rng), 0.0
        else:
            c, g = noise(rng), 0.0
        fam.add(c, sol, g, v)


# --- chart ------------------------------------------------------------------------------

CHART_TEXT = [
    "Brazil",
    "United States",
    "Germany",
    "Online",
    "Male",
    "Q3",
    "Facebook",
    "Very likely",
    "Agree",
    "Electricity",
    "Asia Pacific",
]


def chart_number(y: float) -> str:
    return f"{y:.2f}" if y < 100 else str(int(round(y)))


def gen_chart(fam: Family, rng: random.Random, n: int) -> None:
    weights = [
        ("num_exact", 25),
        ("num_close", 15),
        ("num_thousands", 6),
        ("num_far", 18),
        ("pct", 8),
        ("text", 10),
        ("text_case", 5),
        ("text_wrong", 6),
        ("noise", 4),
        ("truncated", 3),
    ]
    for _ in range(n):
        v = pick(rng, weights)
        g = 1.0
        if v.startswith("num") or v == "pct":
            x = rng.choice([rng.randint(1, 100), rng.randint(100, 20000), round(rng.uniform(0.5, 99.9), 1)])
            gold = str(x)
            if v == "num_exact":
                a = gold
            elif v == "num_close":
                a = chart_number(x * (1 + rng.choice([-1, 1]) * rng.uniform(0.0, 0.04)))
                if abs(float(a) - x) > 0.045 * x:
                    a = gold
            elif v == "num_thousands":
                x = rng.randint(1000, 9_999_999)
                gold, a = str(x), f"{x:,}"
            elif v == "num_far":
                a, g = chart_number(x * rng.choice([0.5, 0.8, 0.93, 1.07, 1.3, 3.0])), 0.0
            else:  # percent on both sides
                p = round(rng.uniform(1, 99), 1)
                gold = f"{p}%"
                close = rng.random() < 0.5
                a = f"{p * (1.02 if close else 1.2):.2f}%"
                g = 1.0 if close else 0.0
            c = tagged(rng, a)
            sol = wrap_solution(rng, gold)
        elif v.startswith("text"):
            gold = rng.choice(CHART_TEXT)
            if v == "text":
                a = gold
            elif v == "text_case":
                a = rng.choice([gold.lower(), gold.upper()])
            else:
                a, g = rng.choice([t for t in CHART_TEXT if t != gold]), 0.0
            c, sol = tagged(rng, a), wrap_solution(rng, gold)
        else:
            sol = wrap_solution(rng, str(rng.randint(1, 500)))
            c, g = (noise(rng) if v == "noise" else truncated(rng)), 0.0
        fam.add(c, sol, g, v)


# --- boxes ------------------------------------------------------------------------------


def iou(a, b) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def match_reward(pred, gold, threshold: float) -> float:
    """DESIGN.md `match`: one-to-one greedy by descending IoU over pairs >= threshold."""
    if not pred or not gold:
        return 0.0
    pairs = sorted(
        ((iou(p, g), i, j) for i, p in enumerate(pred) for j, g in enumerate(gold)), key=lambda t: -t[0]
    )
    used_p, used_g, total = set(), set(), 0.0
    for v, i, j in pairs:
        if v > 0 and v >= threshold and i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
            total += v
    return total / max(len(pred), len(gold))


def num(rng: random.Random, x: float) -> str:
    """A coordinate as a model writes it: mostly integers, sometimes decimals."""
    r = rng.random()
    if r < 0.8:
        return str(int(round(x)))
    if r < 0.95:
        return f"{x:.1f}"
    return f"{x:.2f}"


def gold_box(rng: random.Random, w: int, h: int):
    bw, bh = rng.uniform(0.05, 0.6) * w, rng.uniform(0.05, 0.6) * h
    x1, y1 = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
    return [int(x1), int(y1), int(x1 + bw), int(y1 + bh)]


def jitter(rng: random.Random, b, w: int, h: int, level: str):
    bw, bh = b[2] - b[0], b[3] - b[1]
    if level == "exact":
        return [float(v) for v in b]
    if level == "disjoint":
        x = b[2] + rng.uniform(1, 50) if b[2] + 60 < w else max(0.0, b[0] - bw - 60)
        return [x, b[1], x + rng.uniform(10, 80), b[3]]
    s = {"small": 0.06, "medium": 0.2, "large": 0.5}[level]
    return [
        b[0] + rng.gauss(0, s) * bw,
        b[1] + rng.gauss(0, s) * bh,
        b[2] + rng.gauss(0, s) * bw,
        b[3] + rng.gauss(0, s) * bh,
    ]


BOX_FORMS = [
    "list",
    "json_bbox_2d",
    "json_list",
    "json_fence",
    "json_label_first",
    "py_bbox",
    "position",
    "box_key",
    "box_tag",
    "qwen_tag",
    "list_of_lists",
    "prose",
]


def write_boxes(rng: random.Random, boxes: list[list[str]], form: str) -> str:
    """Boxes (already formatted coordinate strings) in one of the DESIGN.md forms."""

    def lst(b, sp=", "):
        return "[" + sp.join(b) + "]"

    lab = lambda: rng.choice(LABELS)  # noqa: E731
    if form == "list":
        sp = rng.choice([", ", ",", " , "])
        return " ".join(lst(b, sp) for b in boxes)
    if form == "list_of_lists":
        return "[" + ", ".join(lst(b) for b in boxes) + "]"
    if form == "json_bbox_2d":
        return ", ".join(f'{{"bbox_2d": {lst(b)}, "label": "{lab()}"}}' for b in boxes)
    if form == "json_label_first":  # Qwen2.5-VL grounding output, fenced without a language
        body = ",\n  ".join(f'{{"label": "{lab()}", "bbox_2d": {lst(b)}}}' for b in boxes)
        return f"```\n[\n  {body}\n]\n```"
    if form in ("json_list", "json_fence"):
        body = "[" + ", ".join(f'{{"bbox_2d": {lst(b)}, "label": "{lab()}"}}' for b in boxes) + "]"
        return f"```json\n{body}\n```" if form == "json_fence" else body
    if form == "py_bbox":
        return "[" + ", ".join(f"{{'bbox': {lst(b)}, 'label': '{lab()}'}}" for b in boxes) + "]"
    if form == "position":
        return (
            "["
            + ", ".join(
                f"{{'Position': {lst(b)}, 'Confidence': {rng.choice(['0.9', '0.75', '1.0'])}}}" for b in boxes
            )
            + "]"
        )
    if form == "box_key":
        return "[" + ", ".join(f'{{"box": {lst(b)}}}' for b in boxes) + "]"
    if form == "box_tag":
        return "".join(f"<box>({b[0]},{b[1]}),({b[2]},{b[3]})</box>" for b in boxes)
    if form == "qwen_tag":
        return "".join(
            f"<|object_ref_start|>{lab()}<|object_ref_end|><|box_start|>({b[0]},{b[1]}),({b[2]},{b[3]})<|box_end|>"
            for b in boxes
        )
    # prose around bare lists
    return "The " + lab() + " is at " + " and ".join(lst(b) for b in boxes) + "."


def place(rng: random.Random, answer: str) -> str:
    r = rng.random()
    if r < 0.8:
        return tagged(rng, answer)
    if r < 0.9:
        return answer  # no tags: the whole completion is read
    return f"<think>{think(rng)}</think>\n{answer}"  # no answer block: whole text read


def norm_for(b, w, h, coords):
    if coords == "norm1000":
        return [b[0] / w * 1000, b[1] / h * 1000, b[2] / w * 1000, b[3] / h * 1000]
    return list(b)


def to_pixels(raw: list[str], coords: str, size) -> list[float] | None:
    """DESIGN.md parse_boxes semantics for one box of written numbers."""
    v = [float(x) for x in raw]
    if coords == "norm1000":
        w, h = size
        v = [v[0] / 1000 * w, v[1] / 1000 * h, v[2] / 1000 * w, v[3] / 1000 * h]
    if not all(math.isfinite(t) for t in v):
        return None
    x1, x2 = sorted((v[0], v[2]))
    y1, y2 = sorted((v[1], v[3]))
    if size is not None:
        w, h = size
        x1, x2 = min(max(x1, 0), w), min(max(x2, 0), w)
        y1, y2 = min(max(y1, 0), h), min(max(y2, 0), h)
    if (x2 - x1) * (y2 - y1) <= 0:
        return None
    return [x1, y1, x2, y2]


def gen_boxes(fam: Family, rng: random.Random, n: int, mode: str, coords: str = "absolute") -> None:
    """Grounding (first box) or detection (`match`) completions with their exact reward."""
    with_size = coords != "absolute"
    weights = [
        ("exact", 10),
        ("small", 25),
        ("medium", 20),
        ("large", 12),
        ("disjoint", 6),
        ("swapped", 5),
        ("degenerate_first", 4),
        ("nan_first", 2),
        ("three_numbers", 2),
        ("truncated_json", 3),
        ("noise", 4),
        ("outside", 4 if with_size else 0),
    ]
    if mode == "match":
        weights += [("duplicates", 4), ("whole_image", 3), ("extra", 6), ("missing", 6)]
    for _ in range(n):
        for _attempt in range(50):
            case = box_case(rng, pick(rng, weights), mode, coords)
            if case is not None:
                break
        c, sol, g, v, size = case
        fam.add(c, sol, g, v, size if with_size else None)


def box_case(rng: random.Random, v: str, mode: str, coords: str):
    w, h = rng.randint(320, 1920), rng.randint(240, 1440)
    size = (w, h)
    n_gold = rng.randint(1, 5) if mode == "match" else 1
    golds = [gold_box(rng, w, h) for _ in range(n_gold)]
    sol_boxes = golds if mode == "match" else golds[:1]
    sol = (
        ("[" + ", ".join(str(b) for b in sol_boxes) + "]")
        if len(sol_boxes) > 1 or rng.random() < 0.3
        else str(sol_boxes[0])
    )
    sol = wrap_solution(rng, sol)
    level = v if v in ("exact", "small", "medium", "large", "disjoint") else rng.choice(["small", "medium"])
    preds = [jitter(rng, b, w, h, level) for b in golds]
    if mode == "match":
        rng.shuffle(preds)
        if v == "extra":
            preds.append(jitter(rng, gold_box(rng, w, h), w, h, "small"))
        elif v == "missing" and len(preds) > 1:
            preds.pop()
        elif v == "duplicates":
            preds = [preds[0]] * rng.randint(2, 6)
        elif v == "whole_image":
            preds = [[0, 0, w, h]]
    if v == "outside":
        b = preds[0]
        preds[0] = [b[0] - rng.uniform(5, 80), b[1], b[2] + rng.uniform(5, 80), b[3] + rng.uniform(0, 60)]
    written = [[num(rng, t) for t in norm_for(b, w, h, coords)] for b in preds]
    if v == "swapped":
        written[0] = [written[0][2], written[0][3], written[0][0], written[0][1]]
    lead: list[list[str]] = []
    if v == "degenerate_first":
        x = num(rng, rng.uniform(0, 300))
        lead = [[x, "10", x, "90"]]
    elif v == "nan_first":
        lead = [["nan", "10", "50", "90"]]
    form = rng.choice(BOX_FORMS)
    if v == "nan_first" and form.startswith("json"):
        form = rng.choice(["list", "py_bbox", "prose"])  # JSON has no NaN; Python repr does
    if form in ("box_tag", "qwen_tag") and any("-" in x or "nan" in x for b in written + lead for x in b):
        form = "list"
    if v == "three_numbers":
        answer = "[" + ", ".join(written[0][:3]) + "]"
        c = place(rng, answer)
        return c, sol, 0.0, f"{v}:{form}", size
    if v == "truncated_json":
        c = tagged(rng, f'[{{"bbox_2d": [{written[0][0]}, {written[0][1]}, {written[0][2]}')
        return c, sol, 0.0, v, size
    if v == "noise":
        return noise(rng), sol, 0.0, v, size
    c = place(rng, write_boxes(rng, lead + written, form))
    frame_size = size if coords != "absolute" else None
    pred_px = [p for p in (to_pixels(b, coords, frame_size) for b in lead + written) if p is not None]
    gold_px = [to_pixels([str(t) for t in b], "absolute", frame_size) for b in sol_boxes]
    if not pred_px:
        g = 0.0
    elif mode == "match":
        g = match_reward(pred_px, gold_px, 0.5)
        if any(abs(iou(p, q) - 0.5) < 1e-6 for p in pred_px for q in gold_px):
            return None
    else:
        val = iou(pred_px[0], gold_px[0])
        if mode == "threshold":
            if abs(val - 0.5) < 1e-3:
                return None  # too close to the threshold for a stable gold
            g = 1.0 if val >= 0.5 else 0.0
        else:
            g = val
    return c, sol, g, f"{v}:{form}", size


# --- the corpus -------------------------------------------------------------------------

GENERATORS: dict[str, tuple[str, dict, Callable]] = {
    "format": ("format_reward", {"strict": True}, lambda f, r, n: gen_format(f, r, n, lenient=False)),
    "format_lenient": ("format_reward", {"strict": False}, lambda f, r, n: gen_format(f, r, n, lenient=True)),
    "exact": ("accuracy_reward", {"kind": "exact"}, gen_exact),
    "mcq": ("accuracy_reward", {"kind": "mcq"}, gen_mcq),
    "yesno": ("accuracy_reward", {"kind": "yesno"}, gen_yesno),
    "numeric": ("accuracy_reward", {"kind": "numeric"}, gen_numeric),
    "count": ("accuracy_reward", {"kind": "count"}, gen_count),
    "math": ("accuracy_reward", {"kind": "math"}, gen_math),
    "auto": ("accuracy_reward", {"kind": "auto"}, None),  # mixes exact/mcq/yesno/numeric cases
    "chart": ("chart_reward", {}, gen_chart),
    "iou": ("iou_reward", {"mode": "continuous"}, lambda f, r, n: gen_boxes(f, r, n, "continuous")),
    "iou_norm1000": (
        "iou_reward",
        {"mode": "continuous", "coords": "norm1000"},
        lambda f, r, n: gen_boxes(f, r, n, "continuous", "norm1000"),
    ),
    "iou_threshold": (
        "iou_reward",
        {"mode": "threshold", "threshold": 0.5},
        lambda f, r, n: gen_boxes(f, r, n, "threshold"),
    ),
    "iou_match": (
        "iou_reward",
        {"mode": "match", "threshold": 0.5},
        lambda f, r, n: gen_boxes(f, r, n, "match"),
    ),
    # the `iou` cases with golds as Python values: lists, tuples, numpy arrays
    "iou_gold_list": ("iou_reward", {"mode": "continuous"}, lambda f, r, n: gen_box_values(f, r, n, list)),
    "iou_gold_tuple": (
        "iou_reward",
        {"mode": "continuous"},
        lambda f, r, n: gen_box_values(f, r, n, _tuples),
    ),
    "iou_gold_array": ("iou_reward", {"mode": "continuous"}, lambda f, r, n: gen_box_values(f, r, n, _array)),
}


def gen_box_values(fam: Family, rng: random.Random, n: int, as_value) -> None:
    """The `iou` cases with each gold given as a Python value (the usual dataset column)
    instead of text: `as_value` of the gold's boxes (one box, or a list of boxes)."""
    gen_boxes(fam, rng, n, "continuous")
    fam.solutions = [as_value(json.loads(re.sub(r"</?answer>", "", s))) for s in fam.solutions]


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _array(value):
    import numpy as np

    return np.asarray(value, dtype=np.float64)


def gen_auto(fam: Family, rng: random.Random, n: int) -> None:
    parts = [
        (gen_exact, {}),
        (gen_mcq, {"letter_solutions": True}),
        (gen_yesno, {}),
        (gen_numeric, {"allow_percent": False}),
    ]
    for _ in range(n):
        g, kw = rng.choice(parts)
        tmp = Family("tmp", "", {})
        g(tmp, rng, 1, **kw)
        fam.add(
            tmp.completions[0],
            tmp.solutions[0],
            tmp.golds[0],
            g.__name__.removeprefix("gen_") + ":" + tmp.variants[0],
        )


# families built from the cases of another (the same draws), differing only in form
SAME_CASES_AS = {"iou_gold_list": "iou", "iou_gold_tuple": "iou", "iou_gold_array": "iou"}


def build_corpus(n_per_family: int, seed: int = 0, families: list[str] | None = None) -> dict[str, Family]:
    out = {}
    for name in families or list(GENERATORS):
        func, kwargs, gen = GENERATORS[name]
        fam = Family(name, func, dict(kwargs))
        rng = random.Random(f"modomodo-bench:{seed}:{SAME_CASES_AS.get(name, name)}")
        (gen or gen_auto)(fam, rng, n_per_family)
        out[name] = fam
    return out


def fingerprint(corpus: dict[str, Family]) -> str:
    h = hashlib.sha256()
    for name, fam in corpus.items():
        h.update(name.encode())
        for c, s in zip(fam.completions, fam.solutions):
            h.update(c.encode())
            h.update(b"\0")
            h.update(s.encode() if isinstance(s, str) else repr(s).encode())
    return h.hexdigest()[:16]
