"""Tiny models, tokenizers and processors built locally, with no download.

They serve the tests and the embedded default run: nothing in modomodo's default path may
fetch weights or a tokenizer from a hub. The tokenizer is a byte-level BPE trained in a
fraction of a second on a small corpus (so any string round-trips), with the Qwen2-VL
special tokens and a chat template in Qwen's `<|im_start|>` form that understands image
content blocks.
"""

from __future__ import annotations

from collections.abc import Iterable

# Qwen2-VL's control tokens: the processor looks up `<|image_pad|>` and friends by name.
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
# Reasoning tags are single tokens so that a tiny model can emit the format cheaply.
TAG_TOKENS = ["<think>", "</think>", "<answer>", "</answer>"]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or 'image' in part %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_BASE_CORPUS = [
    "<think> I look at the image. </think> <answer> yes </answer>",
    "<think> The answer is B. </think> <answer> B </answer>",
    "What is in the image? How many objects are there? Which option is correct?",
    "A. red B. green C. blue D. yellow E. black F. white G. orange H. purple",
    "circle square triangle left right above below inside outside larger smaller",
    "[{'Position': [12, 34, 56, 78], 'Confidence': 1.0}] {\"bbox_2d\": [1, 2, 3, 4]}",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 25 50 75 100 0.5 1.5 -3 1e3 50%",
    "zero one two three four five six seven eight nine ten yes no true false",
    "Answer with the reasoning in <think> </think> and the final answer in <answer> </answer> tags.",
]


def build_tokenizer(corpus: Iterable[str] | None = None, vocab_size: int = 512):
    """A byte-level BPE `PreTrainedTokenizerFast` trained on `corpus` (plus a base corpus).

    Deterministic for a given corpus. `vocab_size` counts the 256 byte symbols, the merges
    and the special and tag tokens.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = list(_BASE_CORPUS) + (list(corpus) if corpus is not None else [])
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    tokenizer.add_tokens(TAG_TOKENS)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.padding_side = "left"
    return tokenizer


def tiny_text_model(
    tokenizer,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    seed: int = 0,
):
    """A randomly initialised Qwen2-architecture causal LM sized to `tokenizer`."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model
