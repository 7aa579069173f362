"""The TRL adapters: each reward with TRL's signature, `routed(spec)` with weights, the
format gate and eager validation, and `routed` as the reward of a real `trl.GRPOTrainer`."""

import math

import numpy as np
import pytest

from modomodo.rewards import trl as mtrl

GOOD = "<think>the second option</think><answer>B</answer>"


def conv(text):
    return [{"role": "assistant", "content": text}]


# --- completions and the plain functions -----------------------------------------------


def test_completion_text_reads_strings_and_messages():
    assert mtrl.completion_text("abc") == "abc"
    assert mtrl.completion_text(conv("abc")) == "abc"
    parts = [
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}],
        }
    ]
    assert mtrl.completion_text(parts) == "ab"
    assert mtrl.completion_text(None) == ""
    assert mtrl.completion_text(42) == ""


def test_plain_functions_score_plain_and_conversational_completions():
    for completions in ([GOOD, "B"], [conv(GOOD), conv("B")]):
        assert mtrl.format(None, completions) == [1.0, 0.0]
        assert mtrl.accuracy(None, completions, solution=["B", "C"]) == [1.0, 0.0]
        assert mtrl.chart(None, completions, solution=["B", "B"]) == [1.0, 1.0]
    boxes = [conv("<answer>[0, 0, 10, 10]</answer>"), conv("<answer>[0, 0, 5, 10]</answer>")]
    got = mtrl.iou(
        None, boxes, solution=["[0, 0, 10, 10]", [0, 0, 10, 10]], image_size=[[100, 100], [100, 100]]
    )
    assert got == [1.0, 0.5]


def test_functions_have_names_trl_logs():
    from trl.trainer.utils import get_callable_name

    for name in ("format", "accuracy", "iou", "chart", "bmas"):
        assert get_callable_name(getattr(mtrl, name)) == name
    assert get_callable_name(mtrl.reward("iou", mode="match")) == "iou"
    assert get_callable_name(mtrl.routed({"d": [{"name": "format"}]})) == "routed"


def test_rows_without_a_solution_are_not_applicable():
    # TRL's convention: None -> NaN, left out of the means.
    assert mtrl.accuracy(None, [GOOD, GOOD], solution=[None, "B"]) == [None, 1.0]
    with pytest.raises(ValueError, match="solution"):
        mtrl.accuracy(None, [GOOD])


def test_trl_keyword_arguments_are_ignored():
    extra = dict(trainer_state=object(), log_extra=lambda *a: None, completion_ids=[[1, 2]], image=[None])
    assert mtrl.accuracy(None, [GOOD], solution=["B"], **extra) == [1.0]


def test_reward_factory_validates_options_now():
    assert mtrl.reward("accuracy", kind="numeric")(None, ["<answer>1,000</answer>"], solution=["1000"]) == [
        1.0
    ]
    assert mtrl.reward("format", strict=False)(None, ["<answer>B</answer>"]) == [1.0]
    with pytest.raises(ValueError, match="bogus"):
        mtrl.reward("accuracy", kind="bogus")
    with pytest.raises(ValueError, match="colour"):
        mtrl.reward("iou", colour="red")
    with pytest.raises(ValueError, match="embedder"):
        mtrl.bmas(None, [GOOD], solution=["B"])


def test_bmas_with_an_embedder():
    def embed(text):
        return np.array([[1.0, 0.0]] * len(text.split()), dtype=np.float32).reshape(-1, 2)

    f = mtrl.reward("bmas", embedder=embed)
    assert f(None, [GOOD, "<answer></answer>"], solution=["B", "B"]) == [pytest.approx(1.0), 0.0]


# --- routed --------------------------------------------------------------------------------

SPEC = {
    "sqa": [
        {"name": "format", "weight": 1.0},
        {"name": "accuracy", "weight": 2.0, "options": {"kind": "mcq"}},
    ],
    "coco": [
        {"name": "format", "weight": 1.0},
        {"name": "iou", "weight": 2.0, "options": {"mode": "match", "coords": "norm1000"}},
    ],
    "chartqa": [{"name": "chart", "weight": 0.5}],  # no format entry: no gate
    "unscored": [],
}


def test_routed_weights_gate_and_domains():
    f = mtrl.routed(SPEC)
    metrics = []
    completions = [
        conv(GOOD),  # format ok, right -> 1 + 2
        conv("<think>x</think><answer>C</answer>"),  # format ok, wrong -> 1
        conv("B"),  # right answer, failed format -> gated to 0
        conv("<think>x</think><answer>[{'Position': [0, 0, 500, 500], 'Confidence': 1}]</answer>"),
        conv("<answer>[0, 0, 500, 500]</answer>"),  # a perfect box, failed format -> 0
        conv("<answer>12.4</answer>"),  # chart within 5 % of 12, no gate
        conv("anything"),
    ]
    got = f(
        None,
        completions,
        domain=["sqa", "sqa", "sqa", "coco", "coco", "chartqa", "unscored"],
        solution=["B", "B", "B", "[0, 0, 50, 50]", "[0, 0, 50, 50]", "12", "x"],
        image_size=[[100, 100]] * 7,
        log_metric=lambda name, value: metrics.append((name, value)),
    )
    assert got == [3.0, 1.0, 0.0, 3.0, 0.0, 0.5, None]
    logged = dict(metrics)
    assert logged["routed/sqa"] == pytest.approx(4 / 3)
    assert logged["routed/sqa/accuracy"] == pytest.approx(2 / 3)  # raw scores, before the gate
    assert logged["routed/coco/iou"] == 1.0
    assert "routed/unscored" not in logged


def test_routed_gate_can_be_turned_off():
    f = mtrl.routed({"sqa": SPEC["sqa"]}, gate=False)
    assert f(None, ["B"], domain=["sqa"], solution=["B"]) == [2.0]


def test_routed_unknown_domain_and_missing_column_raise():
    f = mtrl.routed(SPEC)
    with pytest.raises(ValueError, match="'lisa'"):
        f(None, [GOOD], domain=["lisa"], solution=["B"])
    with pytest.raises(ValueError, match="domain"):
        f(None, [GOOD], solution=["B"])


@pytest.mark.parametrize(
    "spec, match",
    [
        ({}, "spec"),
        ([("sqa", [])], "spec"),
        ({"sqa": {"name": "format"}}, "sqa"),
        ({"sqa": [{"name": "acc"}]}, "acc"),
        ({"sqa": [{"name": "accuracy", "weight": "heavy"}]}, "heavy"),
        ({"sqa": [{"name": "accuracy", "weight": math.inf}]}, "weight"),
        ({"sqa": [{"name": "accuracy", "options": {"kind": "bogus"}}]}, "bogus"),
        ({"sqa": [{"name": "accuracy", "options": {"rel_tol": -1.0}}]}, "rel_tol"),
        ({"sqa": [{"name": "iou", "options": {"mode": "best"}}]}, "best"),
        ({"sqa": [{"name": "iou", "options": {"coords": "pixels"}}]}, "pixels"),
        ({"sqa": [{"name": "iou", "options": {"thresh": 0.5}}]}, "thresh"),
        ({"sqa": [{"name": "bmas"}]}, "embedder"),
        ({"sqa": [{"name": "format", "wieght": 2}]}, "wieght"),
    ],
)
def test_routed_validates_the_spec_when_called(spec, match):
    with pytest.raises(ValueError, match=match):
        mtrl.routed(spec)


def test_routed_with_columns_of_another_length_names_the_lengths():
    f = mtrl.routed(SPEC)
    with pytest.raises(ValueError, match=r"completions has 2 items but solution has 1"):
        f(None, [GOOD, GOOD], domain=["sqa", "sqa"], solution=["B"])
    with pytest.raises(ValueError, match=r"completions has 1 items but image_size has 2"):
        f(None, [GOOD], domain=["coco"], solution=["[0, 0, 5, 5]"], image_size=[[9, 9], [9, 9]])
    with pytest.raises(ValueError, match=r"completions has 2 items but domain has 3"):
        f(None, [GOOD, GOOD], domain=["sqa"] * 3, solution=["B", "B"])
    # The single rewards check their columns too (a short column left rows unscored).
    with pytest.raises(ValueError, match=r"completions has 2 items but solution has 1"):
        mtrl.accuracy(None, [GOOD, GOOD], solution=["B"])


# --- the registry: one table for DomainSpec, routed and verl ----------------------------------


def test_registry_values_are_the_ones_the_rust_core_accepts():
    from modomodo.rewards import accuracy_reward, iou_reward
    from modomodo.rewards.registry import ACCURACY_KINDS, COORDS, IOU_MODES

    for kind in ACCURACY_KINDS:
        assert accuracy_reward(["<answer>1</answer>"], ["1"], kind=kind) == [1.0]
    for mode in IOU_MODES:
        for coords in COORDS:
            iou_reward(["[0, 0, 1, 1]"], ["[0, 0, 1, 1]"], mode=mode, coords=coords, image_sizes=(10, 10))
    with pytest.raises(ValueError):
        accuracy_reward(["1"], ["1"], kind="letters")
    with pytest.raises(ValueError):
        iou_reward(["[0, 0, 1, 1]"], ["[0, 0, 1, 1]"], mode="best")
    with pytest.raises(ValueError):
        iou_reward(["[0, 0, 1, 1]"], ["[0, 0, 1, 1]"], coords="pixels")


@pytest.mark.parametrize("rel_tol", [0.0, 0.5, 1e300, -1e-9, float("inf"), float("nan")])
def test_registry_tolerances_are_the_ones_the_rust_core_accepts(rel_tol):
    from modomodo.rewards import accuracy_reward, chart_reward
    from modomodo.rewards.registry import REWARDS

    for name, func in (("accuracy", accuracy_reward), ("chart", chart_reward)):
        try:
            func(["1"], ["1"], rel_tol=rel_tol)
            rust_ok = True
        except ValueError:
            rust_ok = False
        assert REWARDS[name].options["rel_tol"].accepts(rel_tol) == rust_ok, (name, rel_tol)


def test_registry_options_are_the_keyword_options_of_each_function():
    import inspect

    from modomodo.rewards.registry import REWARDS

    for name, r in REWARDS.items():
        params = inspect.signature(r.func).parameters
        assert getattr(mtrl, name).__name__ == name
        for option in r.options:
            assert params[option].kind is inspect.Parameter.KEYWORD_ONLY, (name, option)
        assert ("embedder" in params) == r.needs_embedder
        assert ("solutions" in params) == r.needs_solution


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "accuracy", "options": {"kind": "mcq"}},
        {"name": "accuracy", "options": {"kind": "bogus"}},
        {"name": "accuracy", "options": {"kind": 3}},
        {"name": "accuracy", "options": {"rel_tol": 0}},
        {"name": "accuracy", "options": {"rel_tol": -0.5}},
        {"name": "accuracy", "options": {"rel_tol": float("nan")}},
        {"name": "chart", "options": {"rel_tol": float("inf")}},
        {"name": "accuracy", "options": {"rel_tol": True}},
        {"name": "accuracy", "options": {"mode": "match"}},
        {"name": "chart", "options": {"rel_tol": 0.1}},
        {"name": "chart", "options": {"rel_tol": "5%"}},
        {"name": "format", "options": {"strict": False}},
        {"name": "format", "options": {"strict": 1}},
        {"name": "iou", "options": {"mode": "threshold", "threshold": 0.75}},
        {"name": "iou", "options": {"threshold": 1.5}},
        {"name": "iou", "options": {"mode": "best"}},
        {"name": "acuracy"},
        {"name": ["accuracy"]},
    ],
)
def test_domain_spec_and_routed_accept_and_refuse_the_same_entries(entry):
    from modomodo.data import DomainSpec, SpecError

    kind = "boxes" if entry["name"] == "iou" else "exact"
    columns = {"image": "i", "question": "q", "solution": "s"}
    # A spec needs a reward besides format; the same list goes to both.
    rewards = [entry, {"name": "accuracy"}] if entry["name"] == "format" else [entry]
    try:
        DomainSpec(name="d", source="x/y", answer_kind=kind, columns=columns, rewards=rewards)
        spec_ok = True
    except SpecError:
        spec_ok = False
    try:
        mtrl.routed({"d": rewards})
        routed_ok = True
    except ValueError:
        routed_ok = False
    assert spec_ok == routed_ok


def test_routed_passes_its_embedder_to_bmas_entries():
    def embed(text):
        return np.ones((len(text.split()), 3), dtype=np.float32)

    f = mtrl.routed({"open": [{"name": "bmas", "weight": 1.0}]}, embedder=embed)
    assert f(
        None, ["<answer>a b</answer>", "<answer></answer>"], domain=["open", "open"], solution=["c", "c"]
    ) == [
        pytest.approx(1.0),
        0.0,
    ]


# --- a real GRPOTrainer run ----------------------------------------------------------------


def test_routed_as_the_reward_of_a_grpo_trainer(tmp_path):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from modomodo.rewards import TokenEmbedder
    from modomodo.tiny import build_tokenizer, tiny_text_model

    tok = build_tokenizer()
    policy = tiny_text_model(tok, seed=0)
    # BMAS reads a frozen copy, so that the values can be recomputed after training.
    embedder = TokenEmbedder(tiny_text_model(tok, seed=1), tok)
    spec = {
        "sqa": SPEC["sqa"],
        "coco": [
            {"name": "format", "weight": 1.0},
            {"name": "iou", "weight": 2.0, "options": {"mode": "match"}},
        ],
        "open": [{"name": "bmas", "weight": 1.0}],
    }
    reward = mtrl.routed(spec, embedder=embedder)
    rows = {
        "sqa": ("Which option is green? A. red B. green", "B"),
        "coco": ("Find the circle.", "[{'Position': [12, 34, 56, 78]}]"),
        "open": ("Describe the image.", "a red circle left of a blue square"),
    }
    domains = ["sqa", "coco", "open", "sqa", "coco", "open", "sqa", "open"]
    data = Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": f"[{d}] {rows[d][0]}"}] for d in domains],
            "solution": [rows[d][1] for d in domains],
            "domain": domains,
            "image_size": [[100, 100]] * len(domains),
        }
    )
    args = GRPOConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        max_steps=2,
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=8,
        learning_rate=1e-3,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        bf16=False,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=policy, reward_funcs=[reward], args=args, train_dataset=data, processing_class=tok
    )
    trainer.train()

    logs = [entry for entry in trainer.state.log_history if "rewards/routed/mean" in entry]
    assert len(logs) == 2
    for entry in logs:
        assert math.isfinite(entry["rewards/routed/mean"])
        # Per-domain means come from routed's own log_metric calls inside TRL.
        assert any(key.startswith("routed/") for key in entry)

    # The rewards TRL logged for the last batch are exactly routed's on those completions.
    prompts = list(trainer._logs["prompt"])
    completions = list(trainer._logs["completion"])
    logged = list(trainer._logs["rewards"]["routed"])
    assert len(completions) == len(logged) == 4
    ds = [p[-1]["content"].split("]")[0][1:] for p in prompts]
    again = reward(
        prompts, completions, domain=ds, solution=[rows[d][1] for d in ds], image_size=[[100, 100]] * 4
    )
    assert again == pytest.approx(logged, abs=1e-6)


def test_a_spec_can_send_undecided_math_to_math_verify(monkeypatch):
    import dataclasses

    from modomodo.rewards import registry

    seen = []

    def spy(completions, solutions, **options):
        seen.append(options)
        return [1.0] * len(completions)

    accuracy = dataclasses.replace(registry.REWARDS["accuracy"], func=spy)
    monkeypatch.setitem(registry.REWARDS, "accuracy", accuracy)
    options = {"kind": "math", "math_verify": True, "math_timeout": 2.5}
    f = mtrl.routed({"m": [{"name": "accuracy", "weight": 1.0, "options": options}]}, gate=False)
    assert f(None, ["<answer>x</answer>"], domain=["m"], solution=["1"]) == [1.0]
    assert seen == [options]
    with pytest.raises(ValueError, match="math_timeout"):
        mtrl.routed({"m": [{"name": "accuracy", "weight": 1.0, "options": {"math_timeout": -1.0}}]})
