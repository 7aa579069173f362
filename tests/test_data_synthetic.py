"""The synthetic suite: schema, determinism, exact answers, and self-consistency with the
domain's own rewards (the gold, wrapped as a completion, scores 1.0; a wrong answer less)."""

import json
import re
from collections import Counter

import numpy as np
import pytest

from modomodo.data import builtin_spec, load_domain, reward_spec, synthetic_suite
from modomodo.data import synthetic as S
from modomodo.data.prompts import completion

ALL_SPECS = synthetic_suite(n_train=24, n_eval=24)


def test_suite_lists_every_domain_with_skills():
    assert set(S.DOMAINS) == set(S.TRAIN_DOMAINS) | set(S.OOD_DOMAINS)
    roles = Counter(s.role for s in ALL_SPECS)
    assert roles == {"train": 8, "in": 3, "out": 4}
    for s in ALL_SPECS:
        assert s.skills and s.description and s.source == f"synthetic:{s.name.removesuffix('_test')}"
    # Each out-of-distribution domain combines at least two skills that training domains teach
    # (the new parts: addition, and reading a digit, seen only on the chart's axis).
    taught = {k for d in S.TRAIN_DOMAINS for k in S.TASKS[d].skills}
    for d in S.OOD_DOMAINS:
        assert len(set(S.TASKS[d].skills) & taught) >= 2, d


@pytest.mark.parametrize("domain", S.DOMAINS)
def test_schema_and_sft_target(domain):
    ds = S.generate(domain, 6, seed=1)
    assert ds.column_names == [
        "image",
        "prompt",
        "solution",
        "domain",
        "image_size",
        "question",
        "sft_completion",
    ]
    for row in ds:
        assert row["image"].size == (112, 112) and row["image"].mode == "RGB"
        assert row["image_size"] == [112, 112] and row["domain"] == domain
        (turn,) = row["prompt"]
        assert turn["content"][0]["type"] == "image"
        assert turn["content"][1]["text"].startswith(row["question"] + "  Output the thinking process")
        think, answer = re.fullmatch(
            r"<think>(.+)</think><answer>(.+)</answer>", row["sft_completion"]
        ).groups()
        assert answer == row["solution"] and "<" not in think


def test_deterministic_by_seed_and_split():
    a, b = S.generate("detect", 8, seed=5), S.generate("detect", 8, seed=5)
    assert a["solution"] == b["solution"] and a["question"] == b["question"]
    assert [np.asarray(x).tobytes() for x in a["image"]] == [np.asarray(x).tobytes() for x in b["image"]]
    assert S.generate("detect", 8, seed=6)["solution"] != a["solution"]
    assert S.generate("detect", 8, seed=5, split="test")["solution"] != a["solution"]
    # Row i does not depend on n: a prefix of a longer run.
    assert S.generate("detect", 12, seed=5)["solution"][:8] == a["solution"]


def boxes_of(solution):
    v = json.loads(solution)
    return [v] if isinstance(v[0], int) else v


def coloured_bbox(image, box, margin):
    """Bounding box of the non-background pixels around `box` (searched `margin` px out)."""
    a = np.asarray(image)
    w, h = image.size
    x1, y1, x2, y2 = box
    X1, Y1, X2, Y2 = max(0, x1 - margin), max(0, y1 - margin), min(w, x2 + margin), min(h, y2 + margin)
    ys, xs = np.nonzero(a[Y1:Y2, X1:X2].max(axis=2) > 0)
    return X1 + xs.min(), Y1 + ys.min(), X1 + xs.max() + 1, Y1 + ys.max() + 1


@pytest.mark.parametrize("size", [64, 112, 224])
def test_gold_boxes_are_the_drawn_shapes_at_any_image_size(size):
    for domain in ("detect", "ground"):
        ds = S.generate(domain, 30, seed=2, image_size=size)
        for row in ds:
            assert row["image"].size == (size, size)
            m = re.search(r"the (\w+) (\w+)\?", row["question"])
            for box in boxes_of(row["solution"]):
                x1, y1, x2, y2 = box
                assert 0 <= x1 < x2 <= size and 0 <= y1 < y2 <= size
                # The shape fills its box: its pixels' bounding box is the gold box (±1 px of
                # anti-aliasing-free rasterisation), and nothing else is drawn close by.
                got = coloured_bbox(row["image"], box, margin=2)
                assert all(abs(g - b) <= 1 for g, b in zip(got, box)), (
                    domain,
                    size,
                    row["question"],
                    box,
                    got,
                )
                if m:  # ground: the pixel at the box centre has the named colour
                    colour = m.group(1)
                    centre = row["image"].getpixel(((x1 + x2) // 2, (y1 + y2) // 2))
                    assert centre == S.COLOURS[colour]


def test_answers_are_balanced_and_exact():
    def counts(domain, n=300):
        return Counter(S.generate(domain, n, seed=0)["solution"])

    yes = counts("yesno")
    assert set(yes) == {"yes", "no"} and 0.4 < yes["yes"] / 300 < 0.6
    assert set(counts("spatial")) == {"left", "right", "above", "below"}
    for d in ("geometry", "attribute", "multi_mc"):
        letters = counts(d)
        assert set(letters) <= set("ABCD") and min(letters.values()) > 30, (d, letters)
    chart = counts("chart")
    assert set(chart) == {str(v) for v in range(1, S.CHART_MAX + 1)}
    # Answers re-derived from the question for the arithmetic domain.
    for row in S.generate("count_math", 50, seed=3):
        s1, s2 = re.match(r"How many (\w+)s and (\w+)s", row["question"]).groups()
        n1, n2 = (int(v) for v in re.findall(r"(\d+) (?:\w+)s? plus (\d+)", row["sft_completion"])[0])
        assert row["solution"] == str(n1 + n2)


def test_chart_bars_have_the_stated_values():
    for row in S.generate("chart", 40, seed=4):
        colour = re.match(r"What is the value of the (\w+) bar", row["question"]).group(1)
        a = np.asarray(row["image"])
        mask = np.all(a == S.COLOURS[colour], axis=2)
        rows = np.nonzero(mask.any(axis=1))[0]
        size = 112
        top, bottom = max(4, size // 14), size - max(4, size // 18)
        unit = (bottom - top) / S.CHART_MAX
        assert round((bottom - rows.min()) / unit) == int(row["solution"])


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"unknown synthetic domain 'nope'; expected one of \['detect'"):
        S.generate("nope", 2)
    with pytest.raises(ValueError, match=r"image_size = 16 is invalid"):
        S.generate("ground", 2, image_size=16)
    with pytest.raises(ValueError, match=r"n = -1 is invalid"):
        S.generate("ground", -1)


def test_load_domain_through_a_spec():
    ds = load_domain(builtin_spec("ground_test", n=5, image_size=96))
    assert len(ds) == 5 and set(ds["domain"]) == {"ground_test"} and ds[0]["image"].size == (96, 96)
    assert ds["solution"] != load_domain(builtin_spec("ground", n=5, image_size=96))["solution"]


# -- self-consistency with modomodo.rewards ----------------------------------------------------


def wrong_answer(kind, solution, rng):
    if kind == "boxes":  # shift every box by half its width: IoU 1/3, below `match`'s 0.5
        return (
            "["
            + ",".join(
                "[" + ",".join(str(v) for v in (x1 + (x2 - x1) // 2, y1, x2 + (x2 - x1) // 2, y2)) + "]"
                for x1, y1, x2, y2 in boxes_of(solution)
            )
            + "]"
        )
    if kind == "mcq":
        return rng.choice([c for c in "ABCD" if c != solution])
    if kind == "yesno":
        return {"yes": "no", "no": "yes"}[solution]
    if kind in ("numeric", "count"):
        return str(int(solution) + 1)
    if kind == "exact":
        words = (
            ["left", "right", "above", "below"]
            if solution in ("left", "right", "above", "below")
            else list(S.COLOURS)
        )
        return rng.choice([w for w in words if w != solution])
    if kind == "open":  # other colours and shapes, same sentence frame
        cyc = {
            **{c: n for c, n in zip(S.COLOURS, list(S.COLOURS)[1:] + list(S.COLOURS)[:1])},
            **{s: n for s, n in zip(S.SHAPES, S.SHAPES[1:] + S.SHAPES[:1])},
        }
        return " ".join(cyc.get(w.strip(","), w) for w in solution.split())
    raise AssertionError(kind)


@pytest.fixture(scope="module")
def embedder():
    from modomodo.rewards.bmas import TokenEmbedder
    from modomodo.tiny import build_tokenizer, tiny_text_model

    tok = build_tokenizer(S.text_corpus(16))
    return TokenEmbedder(tiny_text_model(tok), tok)


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.name)
def test_gold_scores_one_and_a_wrong_answer_less_under_the_domains_own_rewards(spec, embedder):
    from modomodo.rewards.trl import reward, routed

    rng = np.random.default_rng(0)
    ds = load_domain(spec)
    kw = {"solution": ds["solution"], "domain": ds["domain"], "image_size": ds["image_size"]}
    gold = ds["sft_completion"]
    wrong = [completion(wrong_answer(spec.answer_kind, s, rng), "a guess") for s in ds["solution"]]
    prompts = ds["prompt"]
    for r in spec.rewards:
        opts = dict(r.options) | ({"embedder": embedder} if r.name == "bmas" else {})
        f = reward(r.name, **opts)
        assert f(prompts, gold, **kw) == [1.0] * len(ds), (spec.name, r.name)
        if r.name != "format":
            bad = f(prompts, wrong, **kw)
            assert all(b < 1.0 for b in bad), (spec.name, r.name, bad)
    total = sum(r.weight for r in spec.rewards)
    f = routed(reward_spec([spec]), embedder=embedder)
    assert f(prompts, gold, **kw) == pytest.approx([total] * len(ds))
    assert all(v < total for v in f(prompts, wrong, **kw))


def test_prompts_go_through_trls_multimodal_path_with_the_tiny_processor():
    from trl.data_utils import prepare_multimodal_messages

    from modomodo.data import unify
    from modomodo.tiny import build_vl_processor

    specs = synthetic_suite(n_train=2, n_eval=2)
    ds = unify([load_domain(s) for s in specs])  # one training set, as TRL takes it
    assert len(ds) == 2 * len(specs) and set(ds["domain"]) == {s.name for s in specs}
    assert "sft_completion" in ds.column_names
    proc = build_vl_processor(corpus=S.text_corpus(8))
    for row in ds.select([0, 7, len(ds) - 1]):
        msgs = prepare_multimodal_messages(row["prompt"], images=[row["image"]])
        text = proc.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        assert text.count("<|image_pad|>") == 1 and row["question"] in text
        out = proc(text=[text], images=[row["image"]], return_tensors="pt")
        assert out["image_grid_thw"][0].tolist() == [1, 8, 8]  # 112 px = 8 x 8 patches of 14 px
