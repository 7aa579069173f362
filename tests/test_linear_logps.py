"""modomodo.loss.linear_logps against the plain rule `log_softmax(hidden @ weight.T / T)` gather.

Both paths are checked: the chunked torch path (`backend="torch"`, the CPU path) and the
Triton kernels (`backend="triton"`, run in Triton's interpreter on CPU tensors). Log-probs,
entropies and the gradients with respect to hidden, weight and bias must equal the plain
rule's, computed by autograd over the full logits.
"""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import modomodo.kernels.linear_logps as kernels
from modomodo.loss import CHUNK_LOGITS, linear_logps

BACKENDS = ["torch", "triton"]
# (dtype of hidden/weight/bias, atol, rtol). In bf16 the logits are rounded to bf16 by the
# matmul (as the model's own head does, and the plain rule too); chunking may move a
# product by one bf16 ulp, which moves a log-prob by up to about 2^-8 of the logits' size.
DTYPE_CASES = [(torch.float32, 2e-5, 1e-5), (torch.bfloat16, 3e-2, 2e-2)]


@pytest.fixture
def small_blocks(monkeypatch):
    # Force the kernels' loop over the vocabulary to take several blocks, the last one partial.
    monkeypatch.setattr(kernels, "MAX_BLOCK_V", 16)


def make_inputs(shape=(2, 9), H=19, V=53, dtype=torch.float32, bias=False, seed=0):
    """Hidden states and an lm-head whose logits spread over a few units (peaked rows and flat
    ones), token ids that hit the first and last vocabulary rows, a mask with a fully masked
    row and padding, and upstream gradients for the log-probs and the entropies."""
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(*shape, H, generator=g)
    weight = torch.randn(V, H, generator=g) * (2.0 / H**0.5)
    ids = torch.randint(0, V, shape, generator=g)
    ids.view(-1)[0], ids.view(-1)[-1] = 0, V - 1
    mask = torch.rand(shape, generator=g) > 0.25
    mask.view(-1, shape[-1])[0] = False  # a fully masked row
    return {
        "hidden": hidden.to(dtype),
        "weight": weight.to(dtype),
        "bias": (torch.randn(V, generator=g) * 0.5).to(dtype) if bias else None,
        "token_ids": ids,
        "mask": mask,
        "grad_logps": torch.randn(shape, generator=g),
        "grad_entropies": torch.randn(shape, generator=g),
    }


def plain_rule(hidden, weight, bias, token_ids, temperature):
    logits = hidden @ weight.t()
    if bias is not None:
        logits = logits + bias
    logits = logits.float() / temperature
    log_p = logits.log_softmax(-1)
    logps = log_p.gather(-1, token_ids.unsqueeze(-1)).squeeze(-1)
    entropies = -(log_p.exp() * log_p).sum(-1)
    return logps, entropies


def forward_backward(fn, inputs, with_entropy_grad=True):
    """Outputs and gradients of a masked loss sum(g * logps + g_H * entropies) over the kept
    positions, with respect to fresh leaf copies of hidden, weight (and bias)."""
    leaves = {
        k: inputs[k].detach().clone().requires_grad_(True)
        for k in ("hidden", "weight", "bias")
        if inputs[k] is not None
    }
    logps, entropies = fn(leaves["hidden"], leaves["weight"], leaves.get("bias"), inputs["token_ids"])
    mask = inputs["mask"]
    loss = (logps * inputs["grad_logps"] * mask).sum()
    if with_entropy_grad:
        loss = loss + (entropies * inputs["grad_entropies"] * mask).sum()
    loss.backward()
    return logps.detach(), entropies.detach(), {k: v.grad for k, v in leaves.items()}


def assert_matches_plain_rule(backend, inputs, temperature=1.0, atol=2e-5, rtol=1e-5, **kwargs):
    def ours(hidden, weight, bias, ids):
        return linear_logps(
            hidden,
            weight,
            ids,
            temperature=temperature,
            bias=bias,
            return_entropy=True,
            backend=backend,
            **kwargs,
        )

    def plain(hidden, weight, bias, ids):
        return plain_rule(hidden, weight, bias, ids, temperature)

    logps, entropies, grads = forward_backward(ours, inputs)
    ref_logps, ref_entropies, ref_grads = forward_backward(plain, inputs)
    assert logps.dtype == entropies.dtype == torch.float32
    assert logps.shape == entropies.shape == inputs["token_ids"].shape
    torch.testing.assert_close(logps, ref_logps, atol=atol, rtol=rtol)
    torch.testing.assert_close(entropies, ref_entropies, atol=atol, rtol=rtol)
    assert grads.keys() == ref_grads.keys()
    for name, grad in grads.items():
        assert grad.dtype == inputs[name].dtype, name
        # bf16 gradients are sums over many rounded terms: compare them at the scale of the gradient.
        scale = ref_grads[name].float().abs().max().item()
        torch.testing.assert_close(
            grad.float(), ref_grads[name].float(), atol=atol * max(scale, 1.0), rtol=rtol, msg=name
        )
    return logps, entropies, grads


# ---------------------------------------------------------------------------------------
# Against the plain rule.
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype,atol,rtol", DTYPE_CASES, ids=["fp32", "bf16"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_plain_rule_with_everything_on(small_blocks, backend, dtype, atol, rtol):
    # Odd sizes: 2 x 9 tokens in chunks of 4 (the last one partial), H = 19, V = 53 in
    # vocabulary blocks of 16 (Triton), temperature != 1, a bias.
    inputs = make_inputs(dtype=dtype, bias=True)
    logps, entropies, grads = assert_matches_plain_rule(
        backend, inputs, temperature=0.7, atol=atol, rtol=rtol, chunk_size=4
    )
    # The case is not vacuous: spread-out log-probs and entropies, masked rows get no gradient.
    assert logps.min() < -3 and logps.max() > -2
    assert entropies.min() > 0 and entropies.max() - entropies.min() > 0.5
    assert (grads["hidden"][0] == 0).all() and grads["hidden"][1].abs().sum() > 0


@pytest.mark.parametrize(
    "shape,H,V,temperature,bias,chunk_size",
    [
        ((7,), 5, 3, 1.0, False, None),  # 1-D, a tiny vocabulary, the default chunk
        ((3, 5), 8, 37, 1.3, False, 1),  # one token per chunk
        ((2, 3, 4), 6, 17, 0.5, True, 5),  # 3-D leading shape, a chunk across rows
        ((4, 6), 16, 16, 1.0, True, 100),  # chunk larger than the batch, V a power of two
        ((1, 3), 4, 1, 2.0, False, 2),  # a single-token vocabulary: log-prob 0, entropy 0
    ],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_plain_rule_across_sizes(small_blocks, backend, shape, H, V, temperature, bias, chunk_size):
    inputs = make_inputs(shape=shape, H=H, V=V, bias=bias, seed=V)
    if len(shape) == 1:
        inputs["mask"][:] = True
    assert_matches_plain_rule(backend, inputs, temperature=temperature, chunk_size=chunk_size)


@pytest.mark.parametrize("backend", BACKENDS)
def test_logps_only_and_entropy_only_gradients(backend):
    inputs = make_inputs(shape=(2, 5), V=29, seed=3)
    hidden = inputs["hidden"].requires_grad_()
    weight = inputs["weight"].requires_grad_()
    # Log-probs alone (no entropies returned).
    logps = linear_logps(hidden, weight, inputs["token_ids"], temperature=0.9, backend=backend, chunk_size=3)
    assert isinstance(logps, torch.Tensor)
    (logps * inputs["grad_logps"]).sum().backward()
    ref_logps, ref_entropies = plain_rule(hidden, weight, None, inputs["token_ids"], 0.9)
    ref_grads = torch.autograd.grad(
        (ref_logps * inputs["grad_logps"]).sum(), (hidden, weight), retain_graph=True
    )
    torch.testing.assert_close(logps, ref_logps, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(hidden.grad, ref_grads[0], atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(weight.grad, ref_grads[1], atol=2e-5, rtol=1e-5)
    # Entropies alone carry the gradient (the log-probs unused).
    hidden.grad = weight.grad = None
    _, entropies = linear_logps(
        hidden, weight, inputs["token_ids"], temperature=0.9, return_entropy=True, backend=backend
    )
    (entropies * inputs["grad_entropies"]).sum().backward()
    ref_grads = torch.autograd.grad((ref_entropies * inputs["grad_entropies"]).sum(), (hidden, weight))
    torch.testing.assert_close(hidden.grad, ref_grads[0], atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(weight.grad, ref_grads[1], atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_frozen_head_and_no_grad(backend):
    inputs = make_inputs(shape=(3, 4), V=23, seed=4)
    # A frozen head (the weight needs no gradient): only hidden gets one.
    hidden = inputs["hidden"].requires_grad_()
    logps = linear_logps(hidden, inputs["weight"], inputs["token_ids"], backend=backend)
    (logps * inputs["grad_logps"]).sum().backward()
    ref = plain_rule(hidden, inputs["weight"], None, inputs["token_ids"], 1.0)[0]
    (ref_grad,) = torch.autograd.grad((ref * inputs["grad_logps"]).sum(), hidden)
    torch.testing.assert_close(hidden.grad, ref_grad, atol=2e-5, rtol=1e-5)
    # Reference / old-policy log-probs are computed without grad.
    with torch.no_grad():
        logps = linear_logps(hidden, inputs["weight"], inputs["token_ids"], backend=backend)
    assert logps.grad_fn is None
    torch.testing.assert_close(logps, ref.detach(), atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_contiguous_hidden(backend):
    inputs = make_inputs(shape=(4, 6), H=10, V=31, seed=5)
    wide = torch.zeros(4, 6, 20)
    wide[..., ::2] = inputs["hidden"]
    inputs["hidden"] = wide[..., ::2]
    assert not inputs["hidden"].is_contiguous()
    assert_matches_plain_rule(backend, inputs, chunk_size=5)


def test_extreme_logits_stay_finite():
    # Logits in the hundreds, one row with a single dominant token: both paths subtract the
    # running max before exponentiating.
    inputs = make_inputs(shape=(2, 3), H=8, V=40, seed=6)
    inputs["weight"] = inputs["weight"] * 100
    for backend in BACKENDS:
        logps, entropies, _ = assert_matches_plain_rule(backend, inputs, atol=1e-3, rtol=1e-4, chunk_size=2)
        assert torch.isfinite(logps).all() and torch.isfinite(entropies).all()


# ---------------------------------------------------------------------------------------
# Never more than one chunk of logits.
# ---------------------------------------------------------------------------------------


class LargestTensor(TorchDispatchMode):
    """Records the largest number of elements of any tensor an op produces."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.largest = max(self.largest, t.numel())
        return out


def test_torch_path_holds_one_chunk_of_logits_at_a_time():
    N, H, V, chunk = 64, 4, 300, 8
    inputs = make_inputs(shape=(N,), H=H, V=V, seed=7)
    hidden = inputs["hidden"].requires_grad_()
    weight = inputs["weight"].requires_grad_()
    with LargestTensor() as seen:
        logps, entropies = linear_logps(
            hidden, weight, inputs["token_ids"], chunk_size=chunk, return_entropy=True, backend="torch"
        )
        (logps.sum() + entropies.sum()).backward()
    # Nothing larger than a chunk of logits (chunk x V values; the torch path lays them out as
    # more tokens by fewer columns) or the weight; no (N, V) logits exist.
    assert V * H <= seen.largest <= max(chunk * V, V * H) < N * V
    with LargestTensor() as seen:
        plain_rule(hidden, weight, None, inputs["token_ids"], 1.0)[0].sum().backward()
    assert seen.largest == N * V  # the check can see the logits when they are there


def test_default_chunk_keeps_the_logits_within_the_budget(monkeypatch):
    seen_chunks = []
    original = kernels.linear_logps_forward

    def spy(hidden, weight, bias, ids, temperature, chunk_size, *rest):
        seen_chunks.append(chunk_size)
        return original(hidden, weight, bias, ids, temperature, chunk_size, *rest)

    monkeypatch.setattr(kernels, "linear_logps_forward", spy)
    vocab = 151_936  # Qwen2-VL's
    linear_logps(torch.zeros(3, 4), torch.zeros(vocab, 4), torch.zeros(3, dtype=torch.long), backend="triton")
    assert seen_chunks == [CHUNK_LOGITS // vocab] and seen_chunks[0] * vocab <= CHUNK_LOGITS


# ---------------------------------------------------------------------------------------
# Backend choice and arguments.
# ---------------------------------------------------------------------------------------


def test_auto_backend_uses_the_torch_path_on_cpu(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the Triton path ran for CPU tensors")

    monkeypatch.setattr(kernels, "triton_linear_logps", fail)
    inputs = make_inputs(shape=(2, 3), V=11)
    logps = linear_logps(inputs["hidden"], inputs["weight"], inputs["token_ids"])
    torch.testing.assert_close(
        logps, plain_rule(inputs["hidden"], inputs["weight"], None, inputs["token_ids"], 1.0)[0]
    )


def test_triton_backend_on_cpu_needs_the_interpreter(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    inputs = make_inputs(shape=(2, 3), V=11)
    with pytest.raises(ValueError, match="TRITON_INTERPRET=1"):
        linear_logps(inputs["hidden"], inputs["weight"], inputs["token_ids"], backend="triton")


@pytest.mark.parametrize(
    "change,match",
    [
        (
            dict(hidden=torch.zeros(2, 3, dtype=torch.long)),
            r"hidden=tensor\(shape=\(2, 3\), dtype=torch.int64\)",
        ),
        (
            dict(weight=torch.zeros(11, 5)),
            r"weight=tensor\(shape=\(11, 5\).*expected a tensor of shape \(V, 4\)",
        ),
        (dict(weight=torch.zeros(0, 4)), "expected a vocabulary of at least one token"),
        (dict(token_ids=torch.zeros(2, 4, dtype=torch.long)), r"token_ids=tensor\(shape=\(2, 4\)"),
        (dict(token_ids=torch.zeros(2, 3)), r"token_ids=tensor\(shape=\(2, 3\), dtype=torch.float32\)"),
        (dict(token_ids=torch.full((2, 3), 11)), r"token_ids holds 11: expected ids in \[0, 11\)"),
        (dict(token_ids=torch.full((2, 3), -100)), r"token_ids holds -100"),
        (dict(bias=torch.zeros(10)), r"bias=tensor\(shape=\(10,\)"),
        (dict(temperature=0.0), "temperature=0.0: expected a number > 0"),
        (dict(temperature=float("nan")), "temperature=nan"),
        (dict(chunk_size=0), "chunk_size=0: expected a positive number of tokens or None"),
        (dict(chunk_size=2.5), "chunk_size=2.5"),
        (dict(backend="cuda"), "backend='cuda'"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_value(change, match):
    args = {
        "hidden": torch.zeros(2, 3, 4),
        "weight": torch.zeros(11, 4),
        "token_ids": torch.zeros(2, 3, dtype=torch.long),
    }
    for key in ("hidden", "weight", "token_ids"):
        if key in change:
            args[key] = change.pop(key)
    if args["hidden"].ndim == 2 and args["hidden"].dtype == torch.long:
        args["token_ids"] = torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match=match):
        linear_logps(args["hidden"], args["weight"], args["token_ids"], **change)


# ---------------------------------------------------------------------------------------
# In the trainer: linear_logps_head in place of TRL's fused head.
# ---------------------------------------------------------------------------------------


def tiny_qwen2_vl(processor, seed=0):
    """A randomly initialised Qwen2-VL (the architecture of MoDoMoDo's Qwen2-VL-2B), tiny."""
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    from modomodo.tiny import MERGE_SIZE, PATCH_SIZE

    tok = processor.tokenizer
    config = Qwen2VLConfig(
        text_config=dict(
            vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
            pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=None,
        ),
        vision_config=dict(
            depth=1, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2, patch_size=PATCH_SIZE,
            spatial_merge_size=MERGE_SIZE, temporal_patch_size=2,
        ),
        image_token_id=tok.convert_tokens_to_ids("<|image_pad|>"),
        video_token_id=tok.convert_tokens_to_ids("<|video_pad|>"),
        vision_start_token_id=tok.convert_tokens_to_ids("<|vision_start|>"),
        vision_end_token_id=tok.convert_tokens_to_ids("<|vision_end|>"),
        tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(seed)
    return Qwen2VLForConditionalGeneration(config)


def model_and_inputs(kind):
    """A tiny model of each family the trainer serves, and a padded batch of two sequences
    (with an image each for the vision-language ones)."""
    from PIL import Image

    from modomodo.tiny import build_tokenizer, build_vl_processor, tiny_text_model, tiny_vl_model

    if kind == "qwen2-text":
        tok = build_tokenizer()
        model = tiny_text_model(tok, seed=0)
        batch = tok(["how many squares are there", "yes"], return_tensors="pt", padding=True)
    else:
        processor = build_vl_processor(image_size=56)
        model = tiny_vl_model(processor, seed=0) if kind == "qwen2.5-vl" else tiny_qwen2_vl(processor)
        image = "<|vision_start|><|image_pad|><|vision_end|>"
        images = [Image.new("RGB", (56, 56), color) for color in ("red", "blue")]
        texts = [f"{image}how many squares are there", f"{image}yes"]
        batch = processor(text=texts, images=images, return_tensors="pt", padding=True)
    model.float().train()
    return model, dict(batch)


@pytest.mark.parametrize("logits_to_keep", [4, None], ids=["completion-only", "all-positions"])
@pytest.mark.parametrize("kind", ["qwen2-text", "qwen2.5-vl", "qwen2-vl"])
def test_linear_logps_head_equals_trls_fused_head(kind, logits_to_keep):
    """The model call TRL's GRPOTrainer makes for every per-token log-prob gives the same
    log-probs, entropies and parameter gradients through linear_logps as through TRL's head."""
    from trl.trainer.utils import add_fused_lm_head

    from modomodo.loss import linear_logps_head, linear_logps_head_unsupported

    model, batch = model_and_inputs(kind)
    assert linear_logps_head_unsupported(model) == []
    add_fused_lm_head(model, temperature=0.9, outputs=("log_probs", "entropy"))
    # TRL's labels: the ids, -100 at padding and (with logits_to_keep) before the completion.
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    if logits_to_keep is not None:
        labels[:, :-logits_to_keep] = -100

    trls_forward = vars(model)["forward"]

    def run(use_linear_logps):
        model.zero_grad()
        if use_linear_logps:
            with linear_logps_head(model, temperature=0.9, backend="torch"):
                out = model(**batch, labels=labels, fused_lm_head=True)
        else:
            out = model(**batch, labels=labels, fused_lm_head=True)
        g = torch.Generator().manual_seed(0)
        weights = torch.randn(out.log_probs.shape, generator=g)
        ((out.log_probs + 0.3 * out.entropy) * weights).sum().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        return out, grads

    ours, our_grads = run(True)
    assert vars(model)["forward"] is trls_forward  # TRL's head is back
    trl, trl_grads = run(False)
    torch.testing.assert_close(ours.label_mask, trl.label_mask)
    kept = trl.label_mask
    assert kept.sum() >= (8 if logits_to_keep is None else 4) and not kept.all()  # padding is left out
    torch.testing.assert_close(ours.log_probs, trl.log_probs, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.entropy, trl.entropy, atol=1e-5, rtol=1e-5)
    assert (ours.log_probs[~kept] == 0).all() and (ours.log_probs[kept] < 0).all()
    assert our_grads.keys() == trl_grads.keys() and len(our_grads) > 10
    for name, grad in trl_grads.items():
        torch.testing.assert_close(our_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_linear_logps_head_passes_other_calls_through():
    from modomodo.loss import linear_logps_head

    model, batch = model_and_inputs("qwen2-text")
    plain = model(**batch).logits
    with linear_logps_head(model, temperature=1.0):
        torch.testing.assert_close(model(**batch).logits, plain)  # generation's call
    assert "forward" not in vars(model)  # the class's forward again


def test_linear_logps_head_refuses_scaled_or_capped_logits():
    from modomodo.loss import linear_logps_head_unsupported

    model, _ = model_and_inputs("qwen2-text")
    model.config.final_logit_softcapping = 30.0
    model.config.logit_scale = 0.5
    reasons = linear_logps_head_unsupported(model)
    assert any("final_logit_softcapping=30.0" in r for r in reasons)
    assert any("logit_scale=0.5" in r for r in reasons)


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
def test_a_trainer_step_with_and_without_linear_logps(tmp_path, monkeypatch):
    """On the tiny model, one generation batch (with reference and old-policy log-probs): the
    per-token log-probs of the policy and of the reference, the loss and every parameter's
    gradient are the same with linear_logps (the default) and with TRL's head (switched off).
    In float32: under bf16 autocast both heads multiply in bf16, and TRL also rounds the
    logits' gradient to bf16 where linear_logps keeps it in float32."""
    from test_train_trainer import text_dataset
    from trl import GRPOConfig

    import modomodo.loss
    from modomodo.tiny import build_tokenizer, tiny_text_model
    from modomodo.train.trainer import ModomodoGRPOTrainer

    calls = []
    real = modomodo.loss.linear_logps

    def counted(*args, **kwargs):
        calls.append(kwargs["backend"])
        return real(*args, **kwargs)

    monkeypatch.setattr(modomodo.loss, "linear_logps", counted)

    def length(prompts, completions, **kwargs):
        return [float(len(c[0]["content"]) % 4) for c in completions]

    tok = build_tokenizer()
    model_dir = tmp_path / "tiny"  # TRL loads the KL reference from the policy's path
    tiny_text_model(tok, seed=0).save_pretrained(model_dir)
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"), use_cpu=True, max_steps=1, per_device_train_batch_size=8, num_generations=4,
        max_completion_length=6, beta=0.04, num_iterations=2, temperature=0.8, report_to="none", bf16=False,
        save_strategy="no", disable_tqdm=True, seed=1,
    )  # fmt: skip
    trainer = ModomodoGRPOTrainer(
        model=str(model_dir), reward_funcs=[length], args=args, train_dataset=text_dataset(),
        processing_class=tok, mixture_weights={"a": 0.5, "b": 0.5}, loss_backend="torch",
    )  # fmt: skip
    assert trainer.linear_logps  # the default with a grpo_loss backend
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1  # set by train(); one batch here
    inputs = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    # Generation scored the old policy and the reference through linear_logps.
    assert calls == ["torch", "torch"] and "ref_per_token_logps" in inputs and "old_per_token_logps" in inputs

    # As after an update: old-policy log-probs apart from the policy's, so that ratios clip and
    # the loss is not the on-policy 0 of equal-length completions.
    g = torch.Generator().manual_seed(0)
    old = inputs["old_per_token_logps"]
    inputs["old_per_token_logps"] = old + 0.3 * torch.randn(old.shape, generator=g)

    def logps_loss_and_grads(on):
        trainer.linear_logps = on
        trainer.model.zero_grad()
        ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], 1)
        mask = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], 1)
        width = inputs["completion_ids"].size(1)
        with torch.no_grad():
            ref = trainer._get_per_token_logps_and_entropies(trainer.ref_model, ids, mask, width)[0]
        loss = trainer._compute_loss(trainer.model, inputs)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
        return ref, loss.detach(), grads, trainer._metrics["train"]["entropy"][-1]

    calls.clear()
    ref_on, loss_on, grads_on, entropy_on = logps_loss_and_grads(True)
    assert calls == ["torch", "torch"]  # the reference and the policy in the loss
    calls.clear()
    ref_off, loss_off, grads_off, entropy_off = logps_loss_and_grads(False)
    assert calls == []
    completion = inputs["completion_mask"].bool()
    torch.testing.assert_close(ref_on[completion], ref_off[completion], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ref_on, inputs["ref_per_token_logps"], atol=1e-5, rtol=1e-5)
    assert loss_on != 0 and all(grad.abs().sum() > 0 for grad in grads_on.values())
    torch.testing.assert_close(loss_on, loss_off, atol=1e-6, rtol=1e-5)
    assert entropy_on == pytest.approx(entropy_off, rel=1e-5)
    assert grads_on.keys() == grads_off.keys() and len(grads_on) > 10
    for name, grad in grads_off.items():
        torch.testing.assert_close(grads_on[name], grad, atol=1e-6, rtol=1e-4, msg=name)
