"""`DomainSpec`: validation at construction, YAML/dict round trips, built-ins, reward names."""

import importlib.util

import pytest
import yaml

from modomodo.data import DomainSpec, SpecError, builtin_names, builtin_spec, load_specs, reward_spec
from modomodo.data.builtin import MIXED_R1, MODOMODO_IN, MODOMODO_OUT, MODOMODO_TRAIN
from modomodo.data.spec import REWARD_NAMES

BASE = dict(
    name="d",
    source="some/dataset",
    answer_kind="mcq",
    columns={"image": "image", "question": "question", "solution": "answer"},
    rewards=[{"name": "accuracy", "weight": 2.0}, {"name": "format", "weight": 1.0}],
)


def spec(**changes):
    return DomainSpec.from_dict({**BASE, **changes})


def test_defaults_are_filled_from_the_spec():
    s = spec()
    acc, fmt = s.rewards
    assert (acc.name, acc.weight, dict(acc.options)) == ("accuracy", 2.0, {"kind": "mcq"})
    assert (fmt.name, fmt.weight) == ("format", 1.0)
    g = spec(
        answer_kind="boxes", coords="norm1000", rewards=[{"name": "iou", "weight": 2}, {"name": "format"}]
    )
    assert dict(g.rewards[0].options) == {"mode": "continuous", "coords": "norm1000"}
    assert spec(answer_kind="open", rewards=[{"name": "bmas"}]).rewards[0].options == {}
    assert spec(answer_kind="boxes", rewards=[{"name": "iou"}]).role == "train"


@pytest.mark.parametrize(
    "changes,message",
    [
        (
            {"answer_kind": "letters"},
            r"domain 'd': answer_kind = 'letters' is invalid; expected one of \['exact'",
        ),
        (
            {"rewards": [{"name": "acuracy"}]},
            r"rewards\[0\].name = 'acuracy' is invalid; expected one of \['format', 'accuracy', 'iou', 'chart', 'bmas'\]",
        ),
        ({"rewards": []}, r"rewards = \[\] is invalid"),
        ({"rewards": [{"name": "format"}]}, r"at least one reward besides `format`"),
        (
            {"rewards": [{"name": "accuracy", "weight": -1}]},
            r"\(accuracy\).weight = -1 is invalid; expected a finite number > 0",
        ),
        ({"rewards": [{"name": "accuracy", "weight": float("nan")}]}, r"weight = nan is invalid"),
        (
            {"rewards": [{"name": "accuracy", "options": {"kind": "fuzzy"}}]},
            r"option 'kind' = 'fuzzy' is invalid",
        ),
        (
            {"rewards": [{"name": "accuracy", "options": {"rel_tol": -0.1}}]},
            r"option 'rel_tol' = -0.1 is invalid",
        ),
        (
            {"rewards": [{"name": "accuracy", "options": {"mode": "match"}}]},
            r"option 'mode' = 'match' is invalid; expected options among \['kind', 'math_timeout', 'math_verify', 'rel_tol'\]",
        ),
        ({"rewards": [{"name": "accuracy"}, {"name": "accuracy"}]}, r"each reward at most once"),
        (
            {"rewards": [{"name": "iou"}]},
            r"answer_kind = 'mcq' is invalid; expected 'boxes' for a domain scored by `iou`",
        ),
        ({"answer_kind": "boxes"}, r"an `iou` reward for answer_kind 'boxes'"),
        (
            {"answer_kind": "boxes", "rewards": [{"name": "iou", "options": {"threshold": 1.5}}]},
            r"option 'threshold' = 1.5",
        ),
        (
            {"answer_kind": "boxes", "rewards": [{"name": "iou", "options": {"coords": "norm1"}}]},
            r"expected the spec's coords 'absolute'",
        ),
        ({"coords": "pixels"}, r"coords = 'pixels' is invalid"),
        ({"role": "test"}, r"role = 'test' is invalid; expected one of \['train', 'in', 'out'\]"),
        ({"columns": {"image": "image", "question": "q"}}, r"a mapping for \['solution'\] as well"),
        ({"columns": {**BASE["columns"], "answer": "x"}}, r"columns key 'answer'"),
        ({"template": "{question} {choices}"}, r"template = '\{question\} \{choices\}' is invalid"),
        ({"template": "no placeholder"}, r"whose only placeholder is \{question\}"),
        (
            {"keep_if": {"answer": "([A-D"}},
            r"keep_if\['answer'\] = '\(\[A-D' is invalid; expected a valid regular expression",
        ),
        ({"n": 0}, r"n = 0 is invalid"),
        ({"multi_image": "all"}, r"multi_image = 'all' is invalid"),
        ({"name": "bad name"}, r"domain name 'bad name' is invalid"),
        (
            {"source": "synthetic:nope", "columns": {}},
            r"source = 'synthetic:nope' is invalid; expected 'synthetic:<domain>' with a domain in",
        ),
        (
            {"source": "synthetic:ground", "columns": {}, "answer_kind": "mcq"},
            r"answer_kind = 'mcq' is invalid; expected 'boxes'",
        ),
        ({"source": "synthetic:attribute"}, r"expected no mapping for a synthetic source"),
        ({"image_size": 64}, r"image_size = 64 is invalid; expected null for a non-synthetic source"),
    ],
)
def test_bad_specs_raise_naming_domain_field_and_value(changes, message):
    with pytest.raises(SpecError, match=message):
        spec(**changes)


def test_unknown_and_missing_keys():
    with pytest.raises(SpecError, match=r"domain 'd': unknown spec key\(s\) \['answer_kinds'\]"):
        DomainSpec.from_dict({**BASE, "answer_kinds": "mcq"})
    with pytest.raises(SpecError, match=r"missing required key\(s\) \['rewards'\]"):
        DomainSpec.from_dict({k: v for k, v in BASE.items() if k != "rewards"})
    with pytest.raises(SpecError, match=r"unknown spec key\(s\) \['sourc'\]"):
        spec().replace(sourc="x")


def test_replace_revalidates():
    s = spec()
    assert s.replace(split="test").split == "test"
    with pytest.raises(SpecError, match="answer_kind = 'bogus'"):
        s.replace(answer_kind="bogus")


def test_yaml_round_trip(tmp_path):
    s = spec(keep_if={"answer": "^[A-D]$"}, skills=["mcq"], config=["a", "b"])
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(s.to_dict()))
    assert DomainSpec.from_yaml(path) == s
    both = tmp_path / "two.yaml"
    both.write_text(yaml.safe_dump({"domains": [s.to_dict(), s.replace(name="e").to_dict()]}))
    assert [x.name for x in load_specs(both)] == ["d", "e"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nsource: y\nanswer_kind: exact\ncolumns: {image: i, question: q, solution: s}\nrewards: [{name: nope}]\n"
    )
    with pytest.raises(SpecError, match=r"bad.yaml'.*rewards\[0\].name = 'nope'"):
        load_specs(bad)


def test_builtins_cover_the_paper_and_mixed_r1_and_say_where_their_schema_came_from():
    names = builtin_names()
    for n in (*MODOMODO_TRAIN, *MODOMODO_IN, *MODOMODO_OUT, *MIXED_R1):
        assert n in names
        s = builtin_spec(n)
        assert s.schema_source.startswith(("Confirmed", "Partly confirmed", "Unconfirmed", "As `")), n
    # The paper's rewards and weights: IoU or accuracy 2.0 plus format 1.0 on training domains.
    for n in MODOMODO_TRAIN:
        s = builtin_spec(n)
        assert s.role == "train"
        assert [(r.name, r.weight) for r in s.rewards] == [
            ("iou" if n in ("coco", "lisa") else "accuracy", 2.0),
            ("format", 1.0),
        ]
    assert builtin_spec("coco").rewards[0].options["mode"] == "match"
    assert builtin_spec("lisa").rewards[0].options["mode"] == "continuous"
    assert {builtin_spec(n).role for n in MODOMODO_IN} == {"in"}
    assert {builtin_spec(n).role for n in MODOMODO_OUT} == {"out"}
    assert builtin_spec("mixed_r1_caption").rewards[0].name == "bmas"
    assert builtin_spec("mixed_r1_chart").rewards[0].name == "chart"
    assert builtin_spec("scienceqa", split="test").split == "test"


def test_reward_spec_is_what_routed_takes():
    specs = [builtin_spec("scienceqa"), builtin_spec("lisa")]
    table = reward_spec(specs)
    assert table["scienceqa"] == [
        {"name": "accuracy", "weight": 2.0, "options": {"kind": "mcq"}},
        {"name": "format", "weight": 1.0, "options": {}},
    ]
    assert table["lisa"][0] == {
        "name": "iou",
        "weight": 2.0,
        "options": {"mode": "continuous", "coords": "absolute"},
    }
    with pytest.raises(SpecError, match="defined twice"):
        reward_spec(specs + [builtin_spec("lisa")])


def test_reward_names_match_modomodo_rewards_trl():
    # The spec's allowed names are hard-coded in one place; they must be the TRL adapters'.
    if importlib.util.find_spec("modomodo.rewards.trl") is None:
        pytest.fail("modomodo.rewards.trl is not importable; cannot check reward names against it")
    import modomodo.rewards.trl as trl

    for name in REWARD_NAMES:
        assert callable(getattr(trl, name, None)), f"modomodo.rewards.trl has no reward function {name!r}"
