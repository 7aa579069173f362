"""MoDoMoDo's instruction templates and the TRL conversational prompt with an image block.

MoDoMoDo (arXiv 2505.24871, Sec. 3.1 and Fig. 2) appends a reasoning instruction to every
question: the reasoning in `<think> </think>`, the final answer in `<answer> </answer>`.
The multiple-choice form says "final answer (option)"; the grounding form also shows the
box the reward reads. COCO rows of Visual-RFT already carry their instruction in the
question text, hence `plain`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_REASON = "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
_REASON_OPTION = (
    "Output the thinking process in <think> </think> and final answer (option) in <answer> </answer> tags."
)

TEMPLATES: dict[str, str] = {
    # Free-form and numeric answers.
    "modomodo": "{question}  " + _REASON,
    # Multiple choice / short options (SAT, ScienceQA, GeoQAV in MoDoMoDo's loader; Fig. 2).
    "modomodo_option": "{question}  " + _REASON_OPTION,
    # One box in absolute pixels, the JSON list the `iou` reward reads.
    "modomodo_box": "{question}  "
    + _REASON
    + " The output answer format should be as follows:\n<think> ... </think> <answer>[x1, y1, x2, y2]</answer>\n"
    "Please strictly follow the format.",
    # Several boxes (detection), a JSON list of boxes.
    "modomodo_boxes": "{question}  "
    + _REASON
    + " The output answer format should be as follows:\n<think> ... </think> "
    "<answer>[[x1, y1, x2, y2], ...]</answer>\nPlease strictly follow the format.",
    # The question text already holds its instruction (Visual-RFT COCO `problem`).
    "plain": "{question}",
}

LETTERS = "ABCDEFGH"


def render_template(template: str, question: str) -> str:
    """The prompt text: a template name from `TEMPLATES` or a text with `{question}`."""
    text = TEMPLATES.get(template, template)
    return text.format(question=question)


def render_choices(question: str, choices: Sequence[str] | None, lettered: bool) -> str:
    """The question with its options appended, as MoDoMoDo's ScienceQA prompt does
    ("... Why?\\nA. It eats another organism. B. It makes its own food. ...")."""
    if not choices:
        return question
    if lettered:
        opts = " ".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(choices))
    else:
        opts = "Options: " + ", ".join(str(c) for c in choices)
    return f"{question}\n{opts}"


def conversation(text: str, system: str | None = None) -> list[dict[str, Any]]:
    """A TRL conversational prompt: one user turn with an image block then the text.

    The image block is a placeholder (`{"type": "image"}`); TRL fills it from the row's
    `image` column (`trl.data_utils.prepare_multimodal_messages`). Every block carries both
    keys so that rows share one Arrow type.
    """
    msgs: list[dict[str, Any]] = []
    if system:
        msgs.append({"role": "system", "content": [{"type": "text", "text": system}]})
    msgs.append(
        {"role": "user", "content": [{"type": "image", "text": None}, {"type": "text", "text": text}]}
    )
    return msgs


def completion(answer: str, think: str = "") -> str:
    """A model completion in MoDoMoDo's format: `<think>…</think><answer>…</answer>`."""
    return f"<think>{think}</think><answer>{answer}</answer>"
