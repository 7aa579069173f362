"""parse_boxes and iou_reward: every box form, coordinates, clipping, degenerate boxes,
reward hacking, bad arguments, and arbitrary text (hypothesis)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from linear_time import BOUND, growth_ratio, repeat_to

from modomodo.rewards.geometry import iou_reward, parse_boxes

# --- parse_boxes: forms --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[10, 20, 30, 40]",
        "The box is [10.0,20.0,30.0,40.0].",
        '{"bbox": [10, 20, 30, 40]}',
        '{"bbox_2d": [10, 20, 30, 40], "label": "cat"}',
        '```json\n[{"bbox_2d": [10, 20, 30, 40], "label": "cat"}]\n```',
        "[{'Position': [10, 20, 30, 40], 'Confidence': 0.9}]",
        "{'box': (10, 20, 30, 40), 'visible': True, 'note': None}",
        "<box>(10,20),(30,40)</box>",
        "<box>( 10 , 20 ),( 30 , 40 )</box>",
        "<|object_ref_start|>the cat<|object_ref_end|><|box_start|>(10,20),(30,40)<|box_end|>",
        "[30, 40, 10, 20]",  # corners in the other order
    ],
)
def test_every_form_reads_one_box(text):
    assert parse_boxes(text) == [(10.0, 20.0, 30.0, 40.0)]


def test_lists_of_dicts_and_mixed_forms_keep_text_order():
    coco = (
        "<answer>[{'Position': [254, 303, 291, 365], 'Confidence': 1}, "
        "{'Position': [100.5, 80, 150, 120.25], 'Confidence': 0.5}]</answer>"
    )
    assert parse_boxes(coco) == [(254, 303, 291, 365), (100.5, 80, 150, 120.25)]
    mixed = (
        '<box>(1,1),(2,2)</box> then [{"bbox": [3,3,4,4]}] then [5,5,6,6] <|box_start|>(7,7),(8,8)<|box_end|>'
    )
    assert parse_boxes(mixed) == [(1, 1, 2, 2), (3, 3, 4, 4), (5, 5, 6, 6), (7, 7, 8, 8)]


def test_numbers_under_other_keys_of_a_box_dict_are_not_boxes():
    assert parse_boxes('{"bbox": [1, 2, 3, 4], "keypoints": [5, 6, 7, 8]}') == [(1, 2, 3, 4)]


def test_python_literals_are_parsed_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    text = f"[{{'bbox': [1, 2, 3, 4], 'x': __import__('os').system('touch {marker}')}}]"
    assert parse_boxes(text) == [(1, 2, 3, 4)]
    assert not marker.exists()


# --- parse_boxes: coordinates, clipping, degenerate boxes ----------------------------------


def test_norm1000_and_norm1_scale_by_the_image_size():
    assert parse_boxes("[100, 200, 500, 1000]", coords="norm1000", image_size=(640, 480)) == [
        (64, 96, 320, 480)
    ]
    assert parse_boxes("[0.1, 0.25, 0.5, 1.0]", coords="norm1", image_size=[200, 100]) == [(20, 25, 100, 100)]
    assert parse_boxes("[1, 2, 3, 4]", coords="absolute", image_size=(640, 480)) == [(1, 2, 3, 4)]


def test_boxes_are_clipped_to_the_image():
    assert parse_boxes("[-10, -5, 900, 50]", image_size=(100, 80)) == [(0, 0, 100, 50)]
    assert parse_boxes("[0, 0, 2000, 2000]", coords="norm1000", image_size=(64, 32)) == [(0, 0, 64, 32)]


def test_nan_infinite_and_zero_area_boxes_are_dropped():
    assert parse_boxes("[5, 5, 5, 9] [5, 5, 9, 5] [1e400, 0, 1, 1] {'bbox': [nan, 0, 1, 1]}") == []
    assert parse_boxes("{'bbox': [float('nan'), 0, 1, 1]}") == []
    # Entirely outside the image: no area left after clipping.
    assert parse_boxes("[200, 200, 300, 300]", image_size=(100, 100)) == []
    assert parse_boxes("[0, 0, 1, 1] [1, 1, 1, 1]") == [(0, 0, 1, 1)]


def test_a_list_of_texts_with_sizes_per_text_or_for_all():
    texts = ["[0, 0, 500, 500]", "no box", "<box>(0,0),(1000,1000)</box>"]
    got = parse_boxes(texts, coords="norm1000", image_size=[(100, 100), (1, 1), (10, 20)])
    assert got == [[(0, 0, 50, 50)], [], [(0, 0, 10, 20)]]
    assert parse_boxes(texts, coords="norm1000", image_size=(200, 100)) == [
        [(0, 0, 100, 50)],
        [],
        [(0, 0, 200, 100)],
    ]
    assert parse_boxes([]) == []


# --- parse_boxes: bad arguments ------------------------------------------------------------


def test_bad_coords_and_sizes_raise_value_error_naming_them():
    with pytest.raises(ValueError, match="coords.*pixels"):
        parse_boxes("[1, 2, 3, 4]", coords="pixels")
    with pytest.raises(ValueError, match="image_size"):
        parse_boxes("[1, 2, 3, 4]", coords="norm1000")
    with pytest.raises(ValueError, match="image_size"):
        parse_boxes("[1, 2, 3, 4]", image_size=(0, 10))
    with pytest.raises(ValueError, match="image_size"):
        parse_boxes("[1, 2, 3, 4]", image_size=(10, 10, 3))
    with pytest.raises(ValueError, match=r"image_sizes\[1\]"):
        parse_boxes(["a", "b"], coords="norm1", image_size=[(1, 1), None])
    with pytest.raises(ValueError, match="length mismatch"):
        parse_boxes(["a", "b"], image_size=[(1, 1)] * 3)


# --- iou_reward --------------------------------------------------------------------------


def test_continuous_and_threshold():
    gold = [0, 0, 10, 10]
    half = "<think>hmm</think><answer>[5, 0, 15, 10]</answer>"
    assert iou_reward([half], [gold]) == pytest.approx([50 / 150])
    assert iou_reward([half], [gold], mode="threshold", threshold=0.3) == [1.0]
    assert iou_reward([half], [gold], mode="threshold", threshold=0.5) == [0.0]
    assert iou_reward(half, gold) == pytest.approx([1 / 3])  # a single completion


def test_solution_forms():
    c = "<answer>[0, 0, 10, 10]</answer>"
    for sol in (
        [0, 0, 10, 10],
        (0, 0, 10, 10),
        [[0, 0, 10, 10], [50, 50, 60, 60]],
        np.array([0, 0, 10, 10], dtype=np.float32),
        "[0, 0, 10, 10]",
        "<answer><box>(0,0),(10,10)</box></answer>",
        [{"bbox_2d": [0, 0, 10, 10]}],
        {"bbox": [0, 0, 10, 10]},
    ):
        assert iou_reward([c], [sol]) == [1.0], sol


def test_boxes_are_read_from_the_answer_block_when_there_is_one():
    # Consistent with accuracy_reward: thinking out loud about a box earns nothing.
    gold = [[0, 0, 10, 10]]
    assert iou_reward(["<think>[0, 0, 10, 10]</think><answer>no idea</answer>"], gold) == [0.0]
    assert iou_reward(["I think it is [0, 0, 10, 10]"], gold) == [1.0]


def test_norm_coords_apply_to_predictions_only():
    got = iou_reward(
        ["<answer>[0, 0, 500, 500]</answer>"],
        ["[0, 0, 320, 240]"],
        coords="norm1000",
        image_sizes=[(640, 480)],
    )
    assert got == [1.0]


def test_match_mode_one_to_one():
    gold = "[{'Position': [0, 0, 10, 10]}, {'Position': [20, 20, 30, 30]}]"
    m = dict(mode="match", threshold=0.5)
    both = "<answer>[{'Position': [20, 20, 30, 30], 'Confidence': 1}, {'Position': [0, 0, 10, 10], 'Confidence': 1}]</answer>"
    assert iou_reward([both], [gold], **m) == [1.0]
    # Several boxes vs one gold: the extra boxes dilute the reward.
    assert iou_reward(["[0,0,10,10] [20,20,30,30] [40,40,50,50]"], ["[0,0,10,10]"], **m) == pytest.approx(
        [1 / 3]
    )
    # The same box twice matches one gold box once.
    assert iou_reward(["[0,0,10,10] [0,0,10,10]"], [gold], **m) == [0.5]
    assert iou_reward(["[5, 0, 15, 10]"], [gold], **m) == [0.0]  # below the threshold


def test_reward_hacking_whole_image_box_scores_low_in_match():
    size = (640, 480)
    gold = "[{'Position': [100, 100, 130, 140]}, {'Position': [400, 300, 420, 330]}]"
    whole = "<answer>[{'Position': [0, 0, 640, 480], 'Confidence': 1}]</answer>"
    honest = "<answer>[{'Position': [101, 99, 131, 140], 'Confidence': 1}]</answer>"
    hacked, fair = iou_reward([whole, honest], [gold, gold], mode="match", image_sizes=[size, size])
    assert hacked == 0.0
    assert fair > 0.4
    # Spamming many boxes to cover every target also scores low.
    grid = " ".join(f"[{x}, {y}, {x + 40}, {y + 40}]" for x in range(0, 640, 40) for y in range(0, 480, 40))
    assert iou_reward([grid], [gold], mode="match", image_sizes=[size])[0] < 0.05


def test_degenerate_predictions_score_zero():
    gold = [[0, 0, 10, 10]]
    for bad in ("[0, 0, 0, 10]", "[nan, 0, 10, 10]", "[0, 0, 1e999, 10]", "", "no box", "[0, 0, 10]"):
        for mode in ("continuous", "threshold", "match"):
            assert iou_reward([bad], gold, mode=mode) == [0.0], (bad, mode)


def test_bad_arguments_raise_value_error_naming_them():
    with pytest.raises(ValueError, match="mode.*best"):
        iou_reward(["x"], [[0, 0, 1, 1]], mode="best")
    with pytest.raises(ValueError, match="threshold"):
        iou_reward(["x"], [[0, 0, 1, 1]], threshold=1.5)
    with pytest.raises(ValueError, match="coords"):
        iou_reward(["x"], [[0, 0, 1, 1]], coords="pixel")
    with pytest.raises(ValueError, match="length mismatch"):
        iou_reward(["x", "y"], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="image_size"):
        iou_reward(["x"], [[0, 0, 1, 1]], coords="norm1000")
    with pytest.raises(ValueError, match=r"solutions\[0\]"):
        iou_reward(["x"], [None])
    with pytest.raises(ValueError, match=r"solutions\[1\]"):
        iou_reward(["x", "y"], [[0, 0, 1, 1], [1, 2, 3]])
    with pytest.raises(ValueError, match="solutions"):
        iou_reward(["x"], "[0, 0, 1, 1]")


def test_batch_order_matches_single_calls():
    rng = np.random.default_rng(0)
    comps, sols = [], []
    for _ in range(300):
        x, y = rng.integers(0, 50, 2)
        comps.append(f"<answer>[{x}, {y}, {x + rng.integers(1, 40)}, {y + rng.integers(1, 40)}]</answer>")
        sols.append([10, 10, 40, 40])
    batch = iou_reward(comps, sols)
    assert batch == [iou_reward(c, s)[0] for c, s in zip(comps, sols)]
    assert len(set(batch)) > 50


def _boxes_in_noise(length: int) -> str:
    """The answer box between two runs of unclosed box openings, about `length` characters."""
    half = length // 2
    return (
        repeat_to("noise [1, 2, ", half) + "<answer>[0, 0, 10, 10]</answer>" + repeat_to(" {'bbox': [", half)
    )


def _score_match(completion: str) -> None:
    assert iou_reward([completion], [[0, 0, 10, 10]], mode="match") == [1.0]


def test_box_parsing_takes_linear_time():
    _score_match(_boxes_in_noise(1 << 20))  # a megabyte scores (no hang)
    # the time on 64 KiB over the time on 4 KiB stays far below quadratic growth (`linear_time`)
    assert growth_ratio(_score_match, _boxes_in_noise) < BOUND


# --- arbitrary text -------------------------------------------------------------------------

box_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="[]{}()<>|'\",:.-+eE0123456789 abxnoTrueNone_/\\", max_size=300),
)


@settings(max_examples=300, deadline=None)
@given(
    text=box_text,
    w=st.floats(1, 4000),
    h=st.floats(1, 4000),
    coords=st.sampled_from(["absolute", "norm1000", "norm1"]),
)
def test_parse_boxes_never_raises_and_boxes_are_well_formed(text, w, h, coords):
    for x1, y1, x2, y2 in parse_boxes(text, coords=coords, image_size=(w, h)):
        assert all(math.isfinite(v) for v in (x1, y1, x2, y2))
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h


@settings(max_examples=300, deadline=None)
@given(text=box_text, mode=st.sampled_from(["continuous", "threshold", "match"]), t=st.floats(0, 1))
def test_iou_reward_is_in_unit_interval_for_any_text(text, mode, t):
    (v,) = iou_reward(
        [text], ["[10, 10, 50, 50] [0, 0, 5, 5]"], mode=mode, threshold=t, image_sizes=[(100, 100)]
    )
    assert 0.0 <= v <= 1.0


def test_gold_boxes_as_lists_tuples_and_arrays_score_as_text() -> None:
    comps = ["<answer>[0, 0, 10, 10]</answer>", "[0,0,10,10] [20,20,30,30]", "no box"] * 2
    as_text = ["[0, 0, 10, 5]", "[[0,0,10,10],[20,20,30,30]]", "[0, 0, 1, 1]"] * 2
    forms = [
        [[0, 0, 10, 5], [[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0, 1, 1]] * 2,
        [(0, 0, 10, 5.0), ((0, 0, 10, 10), (20, 20, 30, 30)), (0.0, 0, 1, 1)] * 2,
        [np.array([0, 0, 10, 5]), np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([0, 0, 1, 1.0])] * 2,
        [
            np.array([0, 0, 10, 5], dtype=np.float32),
            [np.array([0, 0, 10, 10]), (20, 20, 30, 30)],
            [0, 0, 1, 1],
        ]
        * 2,
    ]
    for mode in ("continuous", "match"):
        want = iou_reward(comps, as_text, mode=mode)
        assert want[:3] == [0.5, 1.0, 0.0]
        for golds in forms:
            assert iou_reward(comps, golds, mode=mode) == want


def test_bool_and_number_subclasses_in_gold_boxes_take_the_general_path() -> None:
    # exact floats and ints are read directly; anything else (numpy scalars) as before
    assert iou_reward(["[0,0,10,10]"], [[np.float64(0), 0, np.int64(10), 10]]) == [1.0]
    assert iou_reward(["[0,0,1,1]"], [[True, False, True, True]]) == iou_reward(["[0,0,1,1]"], [[1, 0, 1, 1]])
    assert iou_reward(["[0,0,10,10]"], [[]]) == [0.0]  # no gold box


@pytest.mark.parametrize("bad", [None, b"[0, 0, 1, 1]", {"a": [0, 0, 1, 1]}, {1, 2}])
def test_iou_lists_of_the_wrong_type_are_refused_naming_them(bad: object) -> None:
    with pytest.raises(ValueError, match="invalid solutions .*expected one solution per completion"):
        iou_reward(["[0, 0, 1, 1]"], bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="invalid completions: expected a list of str, got"):
        iou_reward(bad, [[0, 0, 1, 1]])  # type: ignore[arg-type]


def test_a_huge_bad_gold_gives_a_short_error() -> None:
    with pytest.raises(ValueError) as err:
        iou_reward(["[0, 0, 1, 1]"], [list(range(2_000_000))])
    message = str(err.value)
    assert "solutions[0]" in message and "expected a box" in message
    assert len(message) < 500, len(message)
    with pytest.raises(ValueError) as err:
        iou_reward(["[0, 0, 1, 1]"], list(range(2_000_000)))  # a length mismatch
    assert len(str(err.value)) < 500
    with pytest.raises(ValueError) as err:
        iou_reward(["a"], [[0, 0, 1, 1]], image_sizes=[list(range(1_000_000))])
    assert "image_sizes" in str(err.value) and len(str(err.value)) < 500
