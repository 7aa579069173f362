"""`modomodo.rewards.verl.compute_score`: routing by data source and extra_info, MoDoMoDo's
weights and format gate, and the function loaded and called by verl's own reward machinery
(`get_custom_reward_fn` + `NaiveRewardManager` on a `DataProto`).

verl pins transformers < 5.11, so it is installed without its dependencies, plus the few
its reward path imports: `pip install --no-deps verl==0.9.1 tensordict omegaconf codetiming
cloudpickle pyvers antlr4-python3-runtime==4.9.3`.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modomodo.rewards import verl as mverl
from modomodo.rewards.verl import DATA_SOURCES, compute_score, rewards_for

THINK = "<think>looking</think>"


def answer(text):
    return f"{THINK}<answer>{text}</answer>"


@pytest.mark.parametrize(
    "source, reward, options",
    [
        ("lmms-lab/LISA", "iou", {"mode": "continuous"}),
        ("Visual-RFT/coco_detection", "iou", {"mode": "match"}),
        ("refcocog", "iou", {"mode": "continuous"}),
        ("HuggingFaceM4/ChartQA", "chart", {}),
        ("derek-thomas/ScienceQA", "accuracy", {"kind": "mcq"}),
        ("GeoQAV", "accuracy", {"kind": "mcq"}),
        ("array/SAT", "accuracy", {"kind": "auto"}),
        ("hiyouga/geometry3k", "accuracy", {"kind": "math"}),
        ("AI4Math/MathVista", "accuracy", {"kind": "math"}),
        ("something/else", "accuracy", {"kind": "auto"}),
    ],
)
def test_data_sources_map_to_modomodo_rewards(source, reward, options):
    entries = rewards_for(source)
    assert entries[0] == {"name": "format", "weight": 1.0}
    assert entries[1] == {"name": reward, "weight": 2.0, "options": options}


def test_scores_follow_weights_and_the_format_gate():
    assert compute_score("lmms-lab/LISA", answer("[0, 0, 10, 10]"), "[0, 0, 10, 10]") == 3.0
    assert compute_score("lmms-lab/LISA", answer("[0, 0, 5, 10]"), [0, 0, 10, 10]) == pytest.approx(2.0)
    assert compute_score("lmms-lab/LISA", "[0, 0, 10, 10]", "[0, 0, 10, 10]") == 0.0  # no format
    assert compute_score("ScienceQA", answer("(B) a cat"), "B") == 3.0
    assert compute_score("ScienceQA", answer("B or C"), "B") == 1.0  # two letters: wrong, format ok
    assert compute_score("ChartQA", answer("12.4"), "12") == 3.0
    assert compute_score("geometry3k", answer("\\frac{1}{2}"), "0.5") == 3.0
    coco_gold = "[{'Position': [0, 0, 10, 10]}, {'Position': [20, 20, 30, 30]}]"
    assert compute_score("coco", answer("[0, 0, 10, 10]"), coco_gold) == pytest.approx(1.0 + 2.0 * 0.5)


def test_extra_info_overrides_the_data_source():
    entries = [{"name": "accuracy", "weight": 1.0, "options": {"kind": "exact"}}]
    assert compute_score("coco", "red", "Red.", extra_info={"rewards": entries}) == 1.0
    assert (
        compute_score("unknown", answer("[0, 0, 10, 10]"), "[0,0,10,10]", extra_info={"domain": "lisa"})
        == 3.0
    )
    # Image size and coords for normalised boxes (Qwen2-VL style).
    got = compute_score(
        "lisa",
        answer("[0, 0, 500, 500]"),
        "[0, 0, 320, 240]",
        extra_info={"image_size": np.array([640, 480]), "coords": "norm1000", "num_turns": None},
    )
    assert got == 3.0


def test_bmas_through_reward_kwargs():
    def embed(text):
        return np.ones((len(text.split()), 4), dtype=np.float32)

    assert compute_score("caption", answer("a cat"), "a dog", embedder=embed) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="embedder"):
        compute_score("caption", answer("a cat"), "a dog")


def test_bad_extra_info_rewards_raise_value_error():
    with pytest.raises(ValueError, match="nope"):
        compute_score("x", "a", "a", extra_info={"rewards": [{"name": "nope"}]})
    with pytest.raises(ValueError, match="bogus"):
        compute_score(
            "x", "a", "a", extra_info={"rewards": [{"name": "accuracy", "options": {"kind": "bogus"}}]}
        )


def test_every_mapped_source_scores_garbage_as_zero():
    for source in DATA_SOURCES:
        if DATA_SOURCES[source][1]["name"] == "bmas":
            continue
        assert compute_score(source, "\x00 ]]} <answer>", "B") == 0.0


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(max_size=300),
    source=st.sampled_from(["lisa", "coco", "chartqa", "scienceqa", "math", "sat"]),
)
def test_any_response_scores_within_bounds(text, source):
    v = compute_score(source, text, "[10, 10, 50, 50]" if source in ("lisa", "coco") else "B")
    assert 0.0 <= v <= 3.0


# --- verl's own reward path ----------------------------------------------------------------


def _data_proto(tok, rows):
    """A verl DataProto as the PPO trainer hands it to the reward manager: left-padded
    prompts, right-padded responses, one attention mask over both."""
    import torch
    from verl import DataProto

    pad = tok.pad_token_id
    prompts = [tok(p, add_special_tokens=False)["input_ids"] for p, *_ in rows]
    responses = [tok(r, add_special_tokens=False)["input_ids"] for _, r, *_ in rows]
    P, R = max(map(len, prompts)), max(map(len, responses))
    prompt_ids = torch.tensor([[pad] * (P - len(p)) + p for p in prompts])
    response_ids = torch.tensor([r + [pad] * (R - len(r)) for r in responses])
    mask = torch.tensor(
        [
            [0] * (P - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (R - len(r))
            for p, r in zip(prompts, responses)
        ]
    )
    return DataProto.from_dict(
        tensors={
            "prompts": prompt_ids,
            "responses": response_ids,
            "input_ids": torch.cat([prompt_ids, response_ids], dim=1),
            "attention_mask": mask,
        },
        non_tensors={
            "data_source": np.array([source for *_, source, _ in rows], dtype=object),
            "reward_model": np.array(
                [{"ground_truth": gt, "style": "rule"} for *_, gt in rows], dtype=object
            ),
            "extra_info": np.array([{"index": i} for i in range(len(rows))], dtype=object),
        },
    ), [len(r) for r in responses]


@pytest.mark.parametrize("how", ["file", "pkg"])
def test_verl_loads_compute_score_and_its_reward_manager_scores_a_batch(how):
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager.naive import NaiveRewardManager

    from modomodo.tiny import build_tokenizer

    path = mverl.__file__ if how == "file" else "pkg://modomodo.rewards.verl"
    config = OmegaConf.create(
        {"reward": {"custom_reward_function": {"path": path, "name": "compute_score", "reward_kwargs": {}}}}
    )
    fn = get_custom_reward_fn(config)
    tok = build_tokenizer()
    rows = [
        ("Where is the cat?", answer("[0, 0, 10, 10]"), "lmms-lab/LISA", "[0, 0, 10, 10]"),
        ("Which option? A. red B. green", answer("B"), "derek-thomas/ScienceQA", "B"),
        ("Which option? A. red B. green", "B", "derek-thomas/ScienceQA", "B"),  # format fails
        ("What value?", answer("40"), "HuggingFaceM4/ChartQA", "41"),
        (
            "Find all.",
            answer("[{'Position': [0, 0, 10, 10], 'Confidence': 1}]"),
            "coco",
            "[[0,0,10,10],[20,20,30,30]]",
        ),
    ]
    data, lengths = _data_proto(tok, rows)
    manager = NaiveRewardManager(tokenizer=tok, num_examine=0, compute_score=fn)
    out = manager(data, return_dict=True)["reward_tensor"]
    expected = [3.0, 3.0, 0.0, 3.0, 2.0]
    for i, (n, want) in enumerate(zip(lengths, expected)):
        assert out[i, n - 1].item() == pytest.approx(want), rows[i]
        assert out[i].sum().item() == pytest.approx(want)  # the score sits on the last response token
