"""Tiny models, tokenizers and processors built locally, with no download.

They serve the tests and the embedded default run: nothing in modomodo's default path may
fetch weights or a tokenizer from a hub. The tokenizer is a byte-level BPE trained in a
fraction of a second on a small corpus (so any string round-trips), with the Qwen2-VL
special tokens and a chat template in Qwen's `<|im_start|>` form that understands image
content blocks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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


def build_tokenizer(
    corpus: Iterable[str] | None = None, vocab_size: int = 512, *, phrases: Iterable[str] = ()
):
    """A byte-level BPE `PreTrainedTokenizerFast` trained on `corpus` (plus a base corpus).

    Deterministic for a given corpus. `vocab_size` counts the 256 byte symbols, the merges
    and the special and tag tokens. `phrases` (e.g. the fixed instruction text of a prompt
    template) become single tokens, matched verbatim: they halve the prompt length of the
    synthetic suite, and sequence length is what a CPU step costs.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
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
    extra = sorted({p for p in phrases if p and p not in TAG_TOKENS}, key=lambda p: (-len(p), p))
    if extra:
        tokenizer.add_tokens([AddedToken(p, normalized=False, special=False) for p in extra])
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


# ---------------------------------------------------------------------------------------
# Vision-language: a tiny Qwen2.5-VL and its processor, both built locally.
# ---------------------------------------------------------------------------------------

# Qwen2-VL's patch geometry: 14-pixel patches merged 2x2, so image sides are multiples of 28.
PATCH_SIZE = 14
MERGE_SIZE = 2


def build_vl_processor(
    tokenizer=None,
    *,
    image_size: int = 112,
    corpus: Iterable[str] | None = None,
    architecture: str = "qwen2_5_vl",
):
    """A `Qwen2_5_VLProcessor` (or, with `architecture="qwen2_vl"`, a `Qwen2VLProcessor`)
    built locally: Qwen2-VL's image processor with min/max pixels that keep an
    `image_size`×`image_size` image at that size, and `build_tokenizer(corpus)` (or the given
    tokenizer) with its chat template.

    A 112×112 image becomes 8×8 patches of 14 pixels, merged 2×2 into 16 image tokens.
    """
    from transformers import (
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    processor_class = {"qwen2_5_vl": Qwen2_5_VLProcessor, "qwen2_vl": Qwen2VLProcessor}.get(architecture)
    if processor_class is None:
        raise ValueError(f"architecture={architecture!r}: expected 'qwen2_5_vl' or 'qwen2_vl'")

    factor = PATCH_SIZE * MERGE_SIZE
    if image_size < factor or image_size % factor:
        raise ValueError(f"image_size={image_size!r}: expected a positive multiple of {factor}")
    if tokenizer is None:
        tokenizer = build_tokenizer(corpus)
    pixels = image_size * image_size
    image_processor = Qwen2VLImageProcessor(
        min_pixels=pixels,
        max_pixels=pixels,
        patch_size=PATCH_SIZE,
        temporal_patch_size=2,
        merge_size=MERGE_SIZE,
    )
    # The processor class insists on a video processor; modomodo never feeds videos.
    video_processor = Qwen2VLVideoProcessor(
        min_pixels=pixels, max_pixels=pixels, patch_size=PATCH_SIZE, merge_size=MERGE_SIZE
    )
    processor = processor_class(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=tokenizer.chat_template,
    )
    return processor


def _text_config(tokenizer, hidden_size, num_layers, num_heads, num_kv_heads, intermediate_size) -> dict:
    """The language model half of a tiny Qwen VL config (shared by both architectures)."""
    head_dim = hidden_size // num_heads
    if hidden_size % num_heads or head_dim % 4:
        raise ValueError(
            f"hidden_size={hidden_size!r}, num_heads={num_heads!r}: expected a head size divisible by 4"
        )
    # M-RoPE splits the rotary half of each head between time, height and width (Qwen: 16/24/24 of 64).
    half = head_dim // 2
    mrope = [half // 4, (half - half // 4) // 2]
    mrope.append(half - sum(mrope))
    return dict(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=2048,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope},
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )


def _vision_token_ids(tokenizer) -> dict[str, Any]:
    ids = {name: tokenizer.convert_tokens_to_ids(name) for name in SPECIAL_TOKENS}
    return dict(
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )


def _initialised(model_class, config, tokenizer, seed: int):
    """`model_class(config)` with weights drawn under `seed`, generating with the tokenizer's ids."""
    import torch

    torch.manual_seed(seed)
    model = model_class(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = None
    return model


def tiny_vl_model(
    tokenizer,
    *,
    hidden_size: int = 128,
    num_layers: int = 3,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 256,
    vision_hidden_size: int = 96,
    vision_depth: int = 2,
    vision_heads: int = 4,
    vision_intermediate_size: int = 192,
    seed: int = 0,
):
    """A randomly initialised Qwen2.5-VL-architecture model (~1M parameters by default).

    `tokenizer` may be a tokenizer or a processor (its tokenizer is used). The default size
    was chosen by measurement: on 112×112 images it learns to count 1–4 squares to ~99 %
    greedy accuracy in a few minutes of supervised training on the CPU, while a ~350k one
    on 56×56 images stayed at chance.
    """
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tokenizer = getattr(tokenizer, "tokenizer", tokenizer)
    config = Qwen2_5_VLConfig(
        text_config=_text_config(
            tokenizer, hidden_size, num_layers, num_heads, num_kv_heads, intermediate_size
        ),
        vision_config=dict(
            depth=vision_depth,
            hidden_size=vision_hidden_size,
            intermediate_size=vision_intermediate_size,
            num_heads=vision_heads,
            out_hidden_size=hidden_size,
            patch_size=PATCH_SIZE,
            spatial_merge_size=MERGE_SIZE,
            temporal_patch_size=2,
            window_size=112,
            fullatt_block_indexes=[vision_depth - 1],
        ),
        **_vision_token_ids(tokenizer),
        tie_word_embeddings=True,
    )
    return _initialised(Qwen2_5_VLForConditionalGeneration, config, tokenizer, seed)


def tiny_qwen2vl_model(
    tokenizer,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    vision_embed_dim: int = 32,
    vision_depth: int = 1,
    vision_heads: int = 2,
    seed: int = 0,
):
    """A randomly initialised Qwen2-VL-architecture model (`Qwen2VLForConditionalGeneration`,
    MoDoMoDo's model class), tiny: it exists so that the paper's recipe can run end to end
    in tests. Use with `build_vl_processor(..., architecture="qwen2_vl")`.
    """
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    tokenizer = getattr(tokenizer, "tokenizer", tokenizer)
    config = Qwen2VLConfig(
        text_config=_text_config(
            tokenizer, hidden_size, num_layers, num_heads, num_kv_heads, intermediate_size
        ),
        vision_config=dict(
            depth=vision_depth,
            embed_dim=vision_embed_dim,
            hidden_size=hidden_size,
            mlp_ratio=2,
            num_heads=vision_heads,
            patch_size=PATCH_SIZE,
            spatial_merge_size=MERGE_SIZE,
            temporal_patch_size=2,
        ),
        **_vision_token_ids(tokenizer),
        tie_word_embeddings=True,
    )
    return _initialised(Qwen2VLForConditionalGeneration, config, tokenizer, seed)
