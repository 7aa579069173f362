"""The locally built tokenizer and tiny model that tests and the default run rely on."""

import torch

from modomodo.tiny import TAG_TOKENS, build_tokenizer, tiny_text_model


def test_tokenizer_round_trips_any_text_and_keeps_tags_whole():
    tok = build_tokenizer()
    text = "<think> 3 + 4 = 7 ✓ </think><answer> [1, 2, 30, 40] </answer>"
    ids = tok(text)["input_ids"]
    assert tok.decode(ids) == text
    for tag in TAG_TOKENS:
        assert len(tok(tag, add_special_tokens=False)["input_ids"]) == 1


def test_tokenizer_is_deterministic():
    a, b = build_tokenizer(["some corpus text"]), build_tokenizer(["some corpus text"])
    assert a.get_vocab() == b.get_vocab()


def test_chat_template_renders_image_blocks():
    tok = build_tokenizer()
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Count."}]}]
    rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == (
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Count.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_tiny_text_model_generates():
    tok = build_tokenizer()
    model = tiny_text_model(tok)
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    inputs = tok(["<think>"], return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 5 or tok.eos_token_id in out[0].tolist()
    assert torch.isfinite(model(**inputs).logits).all()
