"""The text rewards of `modomodo.rewards`: every kind's behaviour from DESIGN.md, the
reward-hacking cases, argument errors, and the bounded math-verify fallback."""

from __future__ import annotations

import math
import threading
import time

import pytest

from modomodo import rewards
from modomodo.rewards import accuracy_reward, chart_reward, extract_answer, format_reward, math_fallback


def acc(pred: str, gold: str, kind: str = "auto", **kw: object) -> float:
    [score] = accuracy_reward([pred], [gold], kind=kind, **kw)
    return score


# --- extract_answer -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, want",
    [
        ("<think>hmm</think><answer> 42 </answer>", "42"),
        ("<answer>first</answer> then <answer>\n second\n line \n</answer>", "second\n line"),
        ("<answer>closed</answer><answer>never closed", "closed"),
        ("<answer></answer>", ""),
        ("so \\boxed{1} or rather \\boxed{ \\frac{1}{2} }", "\\frac{1}{2}"),
        ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
        ("\\boxed{5} and \\boxed{unbalanced", "5"),
        ("<answer>7</answer> \\boxed{8}", "7"),
        ("plain text", None),
        ("</answer> reversed <answer>", None),
        ("<answer>42</answer></answer>", "42"),  # a stray closing tag (a sampling glitch)
        ("<think>t</think><answer>42</answer>\n</answer>\n</answer>", "42"),
    ],
)
def test_extract_answer(text: str, want: str | None) -> None:
    assert extract_answer(text) == want


def test_stray_closing_tag_keeps_the_answer_and_fails_strict_format() -> None:
    stray = "<think>t</think><answer>42</answer></answer>"
    for kind in ("auto", "numeric", "math", "count"):
        assert acc(stray, "42", kind) == 1.0
        assert acc(stray, "41", kind) == 0.0
    assert format_reward([stray], strict=True) == [0.0]
    assert format_reward([stray], strict=False) == [1.0]


def test_extract_answer_list_keeps_order() -> None:
    assert extract_answer(["<answer>a</answer>", "none", "\\boxed{b}"]) == ["a", None, "b"]


# --- format_reward --------------------------------------------------------------------


def test_format_strict_and_lenient() -> None:
    good = "<think>step 1\nstep 2</think>\n<answer>\n42\n</answer>\n"
    cases = [
        good,
        "text before " + good,
        "<think>a</think> words <answer>1</answer>",
        "<think>a</think><answer>1</answer><answer>2</answer>",
        "<answer>1</answer>",
        "<think>a</think>",
        "nothing",
    ]
    assert format_reward(cases) == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert format_reward(cases, strict=False) == [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]


def test_single_string_gives_list_of_one() -> None:
    assert format_reward("<think>a</think><answer>b</answer>") == [1.0]
    assert accuracy_reward("<answer>B</answer>", "B") == [1.0]
    assert chart_reward("<answer>10</answer>", "10") == [1.0]
    assert accuracy_reward(("x", "y"), ["x", "z"], kind="exact") == [1.0, 0.0]


# --- exact ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pred, want",
    [
        ("<answer>New   York City.</answer>", 1.0),
        ('"new york city"', 1.0),
        ("(New York City)", 1.0),
        ("**NEW YORK\nCITY**", 1.0),
        ("New York", 0.0),
        ("New York City, USA", 0.0),
        ("<answer> </answer>", 0.0),
    ],
)
def test_exact(pred: str, want: float) -> None:
    assert acc(pred, "<answer>New York City</answer>", "exact") == want


# --- mcq ------------------------------------------------------------------------------

MCQ_FORMS = ["B", "(B)", "B.", "B) cat", "Option B", "The answer is B", "b", "[B]", "**B**", "Answer: B"]


@pytest.mark.parametrize("pred", MCQ_FORMS)
@pytest.mark.parametrize("gold", ["B", "(B) cat", "<answer>B</answer>"])
def test_mcq_forms(pred: str, gold: str) -> None:
    assert acc(f"<think>...</think><answer>{pred}</answer>", gold, "mcq") == 1.0
    assert acc(pred, gold, "mcq") == 1.0  # no answer block: the whole completion


@pytest.mark.parametrize("pred", ["A", "(C) dog", "Option D", "The answer is E"])
def test_mcq_wrong_letter(pred: str) -> None:
    assert acc(pred, "(B) cat", "mcq") == 0.0


@pytest.mark.parametrize(
    "pred",
    ["A, B, C, D", "B or C", "B and C", "(B) (C)", "B/C", "A B C D E F G H", "The answer is B. No wait, C."],
)
def test_mcq_naming_several_letters_scores_zero(pred: str) -> None:
    assert acc(pred, "B", "mcq") == 0.0
    assert acc(pred, "B", "auto") == 0.0


@pytest.mark.parametrize(
    "pred, letter",
    [
        ("A. Because B is not valid", "A"),
        ("(C) The area doubles, so B and D are wrong", "C"),
        ("B) cat, since A is a dog", "B"),
        ("**D.** Only D fits", "D"),
        ("[e] because (A) is wrong", "E"),
    ],
)
def test_mcq_leading_marked_letter_names_the_answer(pred: str, letter: str) -> None:
    # an answer opening with a marked option letter and an explanation names that letter
    for gold in "ABCDE":
        want = 1.0 if gold == letter else 0.0
        assert acc(pred, gold, "mcq") == want, gold
        assert acc(f"<answer>{pred}</answer>", f"({gold}) x", "mcq") == want, gold


@pytest.mark.parametrize(
    "pred", ["A or B", "A, B", "A. or B", "A. B", "(A) (B)", "A: B is right", "A. and C"]
)
def test_mcq_two_options_still_score_zero(pred: str) -> None:
    for gold in "ABC":
        assert acc(pred, gold, "mcq") == 0.0
        assert acc(pred, gold, "auto") == 0.0


def test_mcq_article_and_option_text() -> None:
    assert acc("B) A cat", "B", "mcq") == 1.0  # "A cat": the article, not option A
    assert acc("A is correct", "A", "mcq") == 1.0
    assert acc("cat", "(B) cat", "mcq") == 1.0  # the gold option's text, no letter
    assert acc("dog", "(B) cat", "mcq") == 0.0


# --- yes / no -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pred, want_yes",
    [("Yes", 1.0), ("yes.", 1.0), ("YES, there is a dog", 1.0), ("<answer>no</answer>", 0.0), ("No.", 0.0)],
)
def test_yesno(pred: str, want_yes: float) -> None:
    assert acc(pred, "yes", "yesno") == want_yes
    assert acc(pred, "Yes", "auto") == want_yes
    assert acc(pred, "no", "yesno") == 1.0 - want_yes


@pytest.mark.parametrize(
    "pred", ["yes and no", "Yes/No", "No... actually yes", "eyes", "I know", "nope", "yesterday", ""]
)
def test_yesno_hacks_and_lookalikes_score_zero(pred: str) -> None:
    assert acc(pred, "yes", "yesno") == 0.0
    assert acc(pred, "no", "yesno") == 0.0


# --- numeric --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pred, gold",
    [
        ("42", "42"),
        ("-3.5", "-3.5"),
        ("−3.5", "-3.5"),
        ("+7", "7"),
        ("1,234,567", "1234567"),
        ("1{,}000", "1000"),
        ("1.5e3", "1500"),
        ("2.5E-2", "0.025"),
        ("3 \\times 10^{4}", "30000"),
        ("45%", "45"),
        ("45%", "0.45"),
        ("3/4", "0.75"),
        ("\\frac{3}{4}", "0.75"),
        ("\\dfrac{-1}{8}", "-0.125"),
        ("12 cm", "12"),
        ("60 km/h", "60"),
        ("$1,200", "1200"),
        ("The answer is 17.", "17"),
        ("<answer>0.5</answer>", "<answer>1/2</answer>"),
    ],
)
def test_numeric_forms(pred: str, gold: str) -> None:
    assert acc(pred, gold, "numeric") == 1.0
    assert acc(pred, gold, "auto") == 1.0


@pytest.mark.parametrize("sep", [" ", "\u00a0", "\u2009", "\u202f"])
def test_thousands_separated_by_spaces(sep: str) -> None:
    for kind in ("numeric", "auto", "count", "math"):
        assert acc(f"1{sep}000", "1000", kind) == 1.0, kind
        assert acc(f"There are 12{sep}345 people", "12345", kind if kind != "math" else "numeric") == 1.0
        assert acc(f"1{sep}000", "1001", kind) == 0.0, kind
    assert chart_reward([f"2{sep}500{sep}000"], ["2.5e6"]) == [1.0]
    # a group has three digits: `1 00`, `12 3456` are not one number
    assert acc(f"1{sep}00", "100", "numeric") == 0.0
    assert acc(f"12{sep}3456", "123456", "numeric") == 0.0


def test_numeric_tolerance_is_relative_to_gold() -> None:
    assert acc("100.00001", "100", "numeric") == 1.0  # default rel_tol 1e-6
    assert acc("100.1", "100", "numeric") == 0.0
    assert acc("100.1", "100", "numeric", rel_tol=1e-2) == 1.0
    assert acc("1e-10", "0", "numeric", rel_tol=0.0) == 1.0  # 1e-9 absolute


@pytest.mark.parametrize("pred", ["5 or 6", "5, 6", "between 4 and 6", "x2", "five", ""])
def test_numeric_unclear_answers_score_zero(pred: str) -> None:
    assert acc(pred, "5", "numeric") == 0.0


@pytest.mark.parametrize(
    "value", ["1e999", "-1e400", "1/0", "\\frac{1}{0}", "NaN", "nan", "inf", "-inf", "Infinity", "∞"]
)
def test_non_finite_numbers_never_match(value: str) -> None:
    for kind in ("numeric", "auto"):
        assert acc(value, value, kind) == 0.0
        assert acc(value, "1", kind) == 0.0
    assert chart_reward([value], [value]) == [0.0]
    assert acc(f"<answer>{value}</answer>", "1e308", "numeric") == 0.0


# --- count ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pred, gold, want",
    [
        ("3", "3", 1.0),
        ("three", "3", 1.0),
        ("There are 3 dogs.", "three", 1.0),
        ("Twenty", "20", 1.0),
        ("zero", "0", 1.0),
        ("3.0", "3", 1.0),
        ("3.5", "3", 0.0),
        ("two or three", "3", 0.0),
        ("4", "3", 0.0),
        ("someone", "1", 0.0),
    ],
)
def test_count(pred: str, gold: str, want: float) -> None:
    assert acc(pred, gold, "count") == want


# --- math -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pred, gold",
    [
        ("\\frac{1}{2}", "0.5"),
        ("\\dfrac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"),
        ("2\\sqrt{3}", "\\sqrt{12}"),
        ("\\frac{\\pi}{3}", "\\dfrac{\\pi}{3}"),
        ("x = 5", "5"),
        ("$\\boxed{2\\pi}$", "2\\pi"),
        ("90^\\circ", "90"),
        ("5\\text{ cm}", "5"),
        ("\\left(\\frac{1}{2}\\right)^2", "\\frac{1}{4}"),
        ("\\frac{x}{2}", "\\dfrac{x}{ 2 }"),
    ],
)
def test_math_equivalences(pred: str, gold: str) -> None:
    assert acc(f"<answer>{pred}</answer>", gold, "math") == 1.0


@pytest.mark.parametrize(
    "pred, gold", [("3", "4"), ("2x", "2"), ("6.28", "2\\pi"), ("\\sqrt{2}", "2"), ("", "1")]
)
def test_math_differences(pred: str, gold: str) -> None:
    assert acc(pred, gold, "math") == 0.0


def test_math_equation_gold_is_not_its_right_hand_side() -> None:
    # only a lone variable or simple symbol on the left may be dropped
    for pred in ("3", "x = 3", "\\boxed{3}"):
        assert acc(pred, "2x + 1 = 3", "math") == 0.0
    assert acc("0", "a + 3z = 0", "math") == 0.0
    assert acc("2x+1=3", "3", "math") == 0.0
    assert acc("AB = 5", "5", "math") == 0.0  # undecided: two letters are no lone variable
    # the right answers still score
    assert acc("2x + 1 = 3", "2x+1=3", "math") == 1.0
    for pred, gold in [
        ("x = 1", "1"),
        ("1", "x = 1"),
        ("y = 2x + 1", "2x+1"),
        ("f(x) = 4", "4"),
        ("\\theta = \\frac{\\pi}{2}", "\\frac{\\pi}{2}"),
        ("a_{n} = 7", "7"),
        ("x = 2 + 3 = 5", "5"),
    ]:
        assert acc(pred, gold, "math") == 1.0, (pred, gold)


def test_math_split_boxes_are_one_answer() -> None:
    assert acc("So \\boxed{1},\\boxed{2},\\boxed{3}", "{1,2,3}", "math") == 1.0
    assert acc("$\\boxed{3}$ and $\\boxed{1}$, $\\boxed{2}$", "\\{1, 2, 3\\}", "math") == 1.0
    assert acc("\\boxed{1},\\boxed{2},\\boxed{4}", "{1,2,3}", "math") == 0.0
    assert acc("\\boxed{1},\\boxed{2}", "{1,2,3}", "math") == 0.0
    assert acc("\\boxed{3}", "{1,2,3}", "math") == 0.0
    # one box still reads as before
    assert acc("first \\boxed{2} is wrong, so x = \\boxed{3}", "3", "math") == 1.0


def test_math_undecided_pairs_score_zero_without_the_fallback() -> None:
    from modomodo import _core

    undecided = [
        ("-x >= -1", "x <= 1"),  # inequalities
        ("x < 2", "x <= 2"),
        ("(1, 2)", "[1, 2]"),  # intervals
        ("3", "2x + 1 = 3"),  # equations
        ("x + 1", "1 + x"),  # expressions with variables
    ]
    preds, golds = [p for p, _ in undecided], [g for _, g in undecided]
    assert _core.math_verdicts(preds, golds) == [-1] * len(undecided)
    assert accuracy_reward(preds, golds, kind="math") == [0.0] * len(undecided)
    # proven: equal (1), unequal (0)
    assert _core.math_verdicts(
        ["\\frac94\\pi", "x <= 1", "4", "\\{2,1\\}"], ["\\frac{9}{4}\\pi", "x<=1", "3", "\\{1,2\\}"]
    ) == [1, 1, 0, 1]


def test_math_latex_shorthand_arguments() -> None:
    # `\\frac94` is 9/4 in LaTeX (one character per brace-less argument), not 94/...
    assert acc("Therefore $\\boxed{\\frac94\\pi}$.", "$\\frac{9}{4}\\pi$", "math") == 1.0
    assert acc("\\frac12", "0.5", "math") == 1.0
    assert acc("\\frac94\\pi", "\\frac{94}{\\pi}", "math") == 0.0


# --- auto and solutions ----------------------------------------------------------------


def test_auto_dispatch() -> None:
    assert acc("The answer is C", "C", "auto") == 1.0  # mcq
    assert acc("yes", "Yes.", "auto") == 1.0  # yesno
    assert acc("1,000", "1000", "auto") == 1.0  # numeric
    assert acc("  The Eiffel Tower. ", "the eiffel tower", "auto") == 1.0  # exact
    assert acc("Eiffel", "the eiffel tower", "auto") == 0.0


def test_solution_may_be_wrapped_in_answer_tags() -> None:
    for kind in ("exact", "mcq", "yesno", "numeric", "count", "math", "auto"):
        gold = {"mcq": "B", "yesno": "no", "exact": "paris"}.get(kind, "7")
        assert acc(f"<answer>{gold}</answer>", f"<answer> {gold} </answer>", kind) == 1.0, kind


def test_empty_answer_scores_zero_for_every_kind() -> None:
    for kind in ("exact", "mcq", "yesno", "numeric", "count", "math", "auto"):
        assert acc("<think>x</think><answer>  </answer>", "", kind) == 0.0
        assert acc("<answer></answer>", "B", kind) == 0.0
        assert acc("", "", kind) == 0.0
    assert chart_reward(["<answer></answer>"], ["0"]) == [0.0]


# --- chart ----------------------------------------------------------------------------


def test_chart_relaxed_accuracy() -> None:
    preds = ["<answer>104</answer>", "96", "106", "45%", "1,040", "Paris.", "paris, france", "nothing"]
    golds = ["100", "100", "100", "45", "1000", "paris", "paris", "12"]
    assert chart_reward(preds, golds) == [1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    assert chart_reward(["106"], ["100"], rel_tol=0.1) == [1.0]
    assert chart_reward(["100.5"], ["100"], rel_tol=0.0) == [0.0]


# --- arguments ------------------------------------------------------------------------


def test_bad_arguments_raise_value_error_naming_them() -> None:
    with pytest.raises(ValueError, match=r"kind.*'?\"?fuzzy"):
        accuracy_reward(["a"], ["a"], kind="fuzzy")
    with pytest.raises(ValueError, match=r"length mismatch.*completions has 2.*solutions has 1"):
        accuracy_reward(["a", "b"], ["a"])
    with pytest.raises(ValueError, match=r"length mismatch"):
        chart_reward(["a"], [])
    with pytest.raises(ValueError, match=r"rel_tol -0\.1"):
        accuracy_reward(["a"], ["a"], rel_tol=-0.1)
    with pytest.raises(ValueError, match=r"rel_tol -1"):
        chart_reward(["a"], ["a"], rel_tol=-1)
    with pytest.raises(ValueError, match=r"rel_tol NaN"):
        accuracy_reward(["a"], ["a"], rel_tol=math.nan)
    with pytest.raises(ValueError, match=r"math_timeout 0"):
        accuracy_reward(["a"], ["a"], kind="math", math_verify=True, math_timeout=0)
    with pytest.raises(TypeError):
        accuracy_reward([None], ["a"])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "bad, given", [(None, "None"), (b"abc", "bytes"), ({"a": "b"}, "a dict"), ({"a"}, "a set")]
)
def test_lists_of_the_wrong_type_are_refused_naming_them(bad: object, given: str) -> None:
    for call in (
        lambda: accuracy_reward(bad, ["a"]),  # type: ignore[arg-type]
        lambda: accuracy_reward(["a"], bad, kind="math", math_verify=False),  # type: ignore[arg-type]
        lambda: chart_reward(["a"], bad),  # type: ignore[arg-type]
        lambda: format_reward(bad),  # type: ignore[arg-type]
        lambda: extract_answer(bad),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError, match=f"expected a list of str, got {given}"):
            call()
    # a generator is read as a list
    assert accuracy_reward((c for c in ["1", "2"]), iter(["1", "3"])) == [1.0, 0.0]


def test_batch_results_keep_input_order() -> None:
    n = 5000
    preds = [f"<answer>{i}</answer>" for i in range(n)]
    golds = [str(i) if i % 7 else "x" for i in range(n)]
    assert accuracy_reward(preds, golds) == [0.0 if i % 7 == 0 else 1.0 for i in range(n)]


def test_batch_call_releases_the_gil() -> None:
    """While a long batch is scored in another thread, this thread keeps running Python:
    the largest pause it sees is a small part of the call (a call holding the GIL would
    stall it for the whole call)."""
    # No answer block: the whole 2 KB text is read, so the Rust work (GIL released) far
    # outweighs reading the list and building the result (GIL held).
    completion = "word " * 400 + "1,234.5 kg"
    t0 = time.perf_counter()
    accuracy_reward([completion] * 20_000, ["1234.5"] * 20_000, kind="numeric")
    per_item = (time.perf_counter() - t0) / 20_000
    n = int(min(max(0.3 / per_item, 20_000), 2_000_000))  # a call of about 0.3 s
    preds, golds = [completion] * n, ["1234.5"] * n
    span: list[float] = []

    def work() -> None:
        t0 = time.perf_counter()
        accuracy_reward(preds, golds, kind="numeric")
        span.append(time.perf_counter() - t0)

    worker = threading.Thread(target=work)
    worker.start()
    last, max_gap = time.perf_counter(), 0.0
    while worker.is_alive():
        now = time.perf_counter()
        max_gap, last = max(max_gap, now - last), now
    worker.join()
    print(f"call {span[0]:.3f} s, largest pause of the other thread {max_gap:.4f} s")
    assert span[0] > 0.05, "the batch is too small to tell"
    assert max_gap < 0.5 * span[0]


# --- math-verify fallback -------------------------------------------------------------

needs_math_verify = pytest.mark.skipif(not math_fallback.available(), reason="math-verify not installed")


@pytest.fixture(scope="module")
def warm_worker() -> None:
    # the first call starts the worker process (imports sympy): give it room once
    accuracy_reward(["1+x"], ["x+1"], kind="math", math_verify=True, math_timeout=60)


@needs_math_verify
def test_math_verify_decides_what_rust_cannot(warm_worker: None) -> None:
    preds = ["<answer>x+1</answer>", "\\boxed{-x >= -1}", "(x-1)(x+1)", "x+2", "0.5"]
    golds = ["1+x", "x \\le 1", "x^2-1", "1+x", "\\frac{1}{2}"]
    assert accuracy_reward(preds, golds, kind="math") == [0.0, 0.0, 0.0, 0.0, 1.0]  # Rust alone
    assert accuracy_reward(preds, golds, kind="math", math_verify=True) == [1.0, 1.0, 1.0, 0.0, 1.0]


@needs_math_verify
def test_math_verify_receives_every_undecided_pair(warm_worker: None) -> None:
    cases = [
        ("-x >= -1", "x <= 1", 1.0),  # an inequality
        ("Therefore $\\boxed{\\frac94\\pi}$.", "$\\frac{9}{4}\\pi$", 1.0),  # text around a box
        ("\\boxed{1},\\boxed{2},\\boxed{3}", "{1,2,3}", 1.0),  # split boxes
        ("\\boxed{3}, \\boxed{1}", "\\{1, 3\\}", 1.0),
        ("(1, 2)", "(1,2)", 1.0),
        ("3", "2x + 1 = 3", 0.0),  # the right-hand side of an equation is not its answer
        ("\\boxed{1},\\boxed{2}", "{1,2,3}", 0.0),
        ("x < 1", "x <= 1", 0.0),
    ]
    preds, golds, want = zip(*cases)
    assert accuracy_reward(list(preds), list(golds), kind="math", math_verify=True, math_timeout=60) == list(
        want
    )


@needs_math_verify
def test_math_verify_is_time_bounded_and_recovers(warm_worker: None) -> None:
    # sympy does not return on this gold; the call must, within its bound, scoring 0
    t0 = time.perf_counter()
    got = accuracy_reward(
        ["5", "x+1"], ["10^{10^{10^{10}}}", "1+x"], kind="math", math_verify=True, math_timeout=2.0
    )
    elapsed = time.perf_counter() - t0
    print(f"bounded call took {elapsed:.2f} s")
    assert got == [0.0, 0.0]  # the second pair was not reached before the deadline
    assert elapsed < 2.0 + 5.0  # the bound plus killing the worker, generously
    # a later call starts a fresh worker and works again
    assert accuracy_reward(["x+1"], ["1+x"], kind="math", math_verify=True, math_timeout=60) == [1.0]


@needs_math_verify
def test_math_verify_works_off_the_main_thread(warm_worker: None) -> None:
    out: list[object] = []

    def run() -> None:
        try:
            out.append(
                accuracy_reward(["y+1", "???", "\\frac{"], ["1+y", "1", "2"], kind="math", math_verify=True)
            )
        except BaseException as e:  # pragma: no cover - the failure being tested for
            out.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join(120)
    assert out == [[1.0, 0.0, 0.0]]


def test_worker_that_never_answers_is_cut_off() -> None:
    # a stand-in worker that says ready, then never replies: the deadline still holds
    silent = math_fallback.Worker(
        argv=[__import__("sys").executable, "-c", "import time; print('ready', flush=True); time.sleep(600)"]
    )
    try:
        t0 = time.perf_counter()
        assert silent.verify([("1", "1"), ("2", "2")], timeout=1.0) == [False, False]
        assert time.perf_counter() - t0 < 1.0 + 5.0
    finally:
        silent.close()


def test_public_names() -> None:
    for name in (
        "extract_answer",
        "format_reward",
        "accuracy_reward",
        "chart_reward",
        "parse_boxes",
        "iou_reward",
        "bmas_reward",
        "TokenEmbedder",
    ):
        assert name in rewards.__all__ and callable(getattr(rewards, name))
