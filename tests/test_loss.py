"""modomodo.loss.grpo_loss: the torch reference by hand, and the Triton kernels (run in
Triton's interpreter on CPU tensors) against the reference.

TRL's own trainer as the outside oracle is in test_loss_trl.py.
"""

import math

import pytest
import torch

import modomodo.kernels.grpo_loss as kernels
import modomodo.loss
from modomodo.loss import METRIC_NAMES, grpo_advantages, grpo_loss

pytestmark = pytest.mark.filterwarnings(
    # The interpreter evaluates 0/0 for all-NaN groups and fully masked rows, on purpose.
    "ignore:invalid value encountered:RuntimeWarning",
    "ignore:divide by zero encountered:RuntimeWarning",
)

LOSS_TYPES = ["grpo", "bnpo", "dr_grpo", "dapo"]
LEVELS = ["token", "sequence"]
# (dtype of logps/old/ref, atol, rtol). Both backends compute in fp32; in bf16 the gradient
# is rounded to bf16 on the way out, so one bf16 ulp (2^-8 relative) may separate them.
DTYPE_CASES = [(torch.float32, 1e-6, 1e-5), (torch.bfloat16, 1e-6, 1e-2)]


@pytest.fixture
def small_blocks(monkeypatch):
    # Force the kernels' loop over T to take several blocks, the last one partial.
    monkeypatch.setattr(kernels, "MAX_BLOCK_T", 16)


def make_batch(B=9, T=37, G=3, dtype=torch.float32, seed=0):
    """Rewards and log-probs with every awkward case: a group with a NaN reward, a group of
    equal rewards, a fully masked row, ratios far enough from 1 to clip both ways."""
    g = torch.Generator().manual_seed(seed)
    logps = -torch.rand(B, T, generator=g) * 3
    # A per-row shift as well, so that whole sequences clip too.
    old = logps + 0.4 * torch.randn(B, T, generator=g) + 0.4 * torch.randn(B, 1, generator=g)
    ref = logps + 0.4 * torch.randn(B, T, generator=g)
    rewards = torch.randint(0, 3, (B,), generator=g).float() + 0.1 * torch.randn(B, generator=g)
    rewards[1] = math.nan
    if B >= 2 * G:
        rewards[G : 2 * G] = 0.5  # all-equal group
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    mask = torch.arange(T)[None, :] < lengths[:, None]
    mask[min(5, B - 1)] = False  # fully masked row
    return {
        "logps": logps.to(dtype),
        "old_logps": old.to(dtype),
        "ref_logps": ref.to(dtype),
        "rewards": rewards,
        "mask": mask,
        "group_size": G,
    }


def run(backend, batch, **kwargs):
    """(output, gradient wrt logps) of one backend on a fresh leaf copy of logps."""
    batch = dict(batch)
    logps = batch.pop("logps").detach().clone().requires_grad_(True)
    out = grpo_loss(logps, backend=backend, **batch, **kwargs)
    out.loss.backward()
    return out, logps.grad


def assert_backends_agree(batch, atol=1e-6, rtol=1e-5, **kwargs):
    ref_out, ref_grad = run("torch", batch, **kwargs)
    tri_out, tri_grad = run("triton", batch, **kwargs)
    assert tri_out.loss.dtype == torch.float32 and tri_out.loss.shape == ()
    torch.testing.assert_close(tri_out.loss, ref_out.loss, atol=atol, rtol=rtol)
    torch.testing.assert_close(tri_out.advantages, ref_out.advantages, atol=1e-6, rtol=1e-5)
    assert tri_out.metrics.keys() == ref_out.metrics.keys()
    for name in ref_out.metrics:
        torch.testing.assert_close(
            tri_out.metrics[name], ref_out.metrics[name], atol=atol, rtol=rtol, equal_nan=True, msg=name
        )
    assert tri_grad.dtype == ref_grad.dtype == batch["logps"].dtype
    torch.testing.assert_close(tri_grad.float(), ref_grad.float(), atol=atol, rtol=rtol)
    return ref_out, ref_grad


# ---------------------------------------------------------------------------------------
# The reference, against values worked out by hand.
# ---------------------------------------------------------------------------------------


def test_group_advantages_by_hand():
    nan = math.nan
    rewards = torch.tensor([1.0, 2.0, 3.0, nan, 5.0, 5.0, 5.0, 5.0, nan, nan, nan, nan, 7.0, nan, nan, nan])
    adv = grpo_advantages(rewards, 4, "group")
    # Group 0: mean 2 and Bessel std 1 over the three scored values; the NaN one gets 0.
    s = 1 + 1e-4
    expected = [-1 / s, 0.0, 1 / s, 0.0] + [0.0] * 4 + [0.0] * 4 + [0.0] * 4
    torch.testing.assert_close(adv, torch.tensor(expected))
    # No scaling: reward minus the group mean.
    torch.testing.assert_close(grpo_advantages(rewards, 4, "none")[:4], torch.tensor([-1.0, 0.0, 1.0, 0.0]))


def test_batch_scaled_advantages_use_the_batch_std():
    rewards = torch.tensor([0.0, 2.0, 10.0, 14.0])
    std = torch.tensor([0.0, 2.0, 10.0, 14.0]).std()  # Bessel, as TRL's nanstd
    expected = torch.tensor([-1.0, 1.0, -2.0, 2.0]) / (std + 1e-4)
    torch.testing.assert_close(grpo_advantages(rewards, 2, "batch"), expected)


def test_on_policy_loss_by_hand():
    # On policy the ratio is 1 and nothing clips, so each token's loss is -A.
    rewards = torch.tensor([1.0, 0.0, 1.0, 0.0])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0], [0, 0, 0], [1, 1, 0]])
    logps = torch.full((4, 3), -1.0, requires_grad=True)
    a = 0.5 / (math.sqrt(0.5) + 1e-4)  # groups (1, 0): mean 0.5, Bessel std sqrt(1/2)
    advantages = torch.tensor([a, -a, a, -a])
    per_row_tokens = torch.tensor([3.0, 1.0, 0.0, 2.0])
    expected = {
        "dapo": -(advantages * per_row_tokens).sum() / 6,
        "bnpo": -(advantages * per_row_tokens).sum() / 6,
        "dr_grpo": -(advantages * per_row_tokens).sum() / (4 * 10),
        # A fully masked row adds 0 but still counts in the mean over rows.
        "grpo": -(advantages * (per_row_tokens > 0)).sum() / 4,
    }
    for loss_type, value in expected.items():
        out = grpo_loss(
            logps, rewards, mask, group_size=2, loss_type=loss_type, max_completion_length=10, backend="torch"
        )
        torch.testing.assert_close(out.loss, value, msg=loss_type)
        torch.testing.assert_close(out.advantages, advantages)
        assert out.metrics["clip_ratio/region_mean"] == 0
        assert "kl" not in out.metrics


def test_clipping_and_its_metrics_by_hand():
    # One token per row: ratios 2.0 (A>0: clipped high), 0.5 (A<0: clipped low), 2.0 with A<0
    # (unclipped branch is the min, so the ratio counts fully; with delta=1.5 it is capped).
    logps = torch.log(torch.tensor([[2.0], [0.5], [2.0], [1.0]])).requires_grad_()
    old = torch.zeros(4, 1)
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0])  # groups (1,0) and (0,1): A = +a, -a, -a, +a
    mask = torch.ones(4, 1)
    a = 0.5 / (math.sqrt(0.5) + 1e-4)
    out = grpo_loss(logps, rewards, mask, group_size=2, old_logps=old, loss_type="bnpo", backend="torch")
    # per-token losses: -(1.2 a), -(0.8 * -a), -(2.0 * -a), -(1.0 a)
    torch.testing.assert_close(out.loss, torch.tensor((-1.2 * a + 0.8 * a + 2.0 * a - a) / 4))
    assert out.metrics["clip_ratio/high_mean"] == pytest.approx(0.25)
    assert out.metrics["clip_ratio/low_mean"] == pytest.approx(0.25)
    assert out.metrics["clip_ratio/region_mean"] == pytest.approx(0.5)
    out.loss.backward()
    # Clipped tokens get no gradient; unclipped ones d(-r A)/dlogp = -r A / 4.
    torch.testing.assert_close(logps.grad, torch.tensor([[0.0], [0.0], [2.0 * a / 4], [-a / 4]]))

    capped = grpo_loss(
        logps, rewards, mask, group_size=2, old_logps=old, loss_type="bnpo", delta=1.5, backend="torch"
    )
    torch.testing.assert_close(capped.loss, torch.tensor((-1.2 * a + 0.8 * a + 1.5 * a - a) / 4))


def test_sequence_level_ratio_is_the_masked_mean_log_ratio():
    logps = torch.tensor([[0.3, 0.1, 5.0], [0.0, -0.3, 0.0]])
    old = torch.zeros(2, 3)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    rewards = torch.tensor([1.0, 0.0])
    out = grpo_loss(
        logps, rewards, mask, group_size=2, old_logps=old, importance_sampling_level="sequence",
        epsilon_low=10.0, epsilon_high=10.0, loss_type="grpo", backend="torch",
    )  # fmt: skip
    a = 0.5 / (math.sqrt(0.5) + 1e-4)
    # Ratios exp(mean log-ratio over the row's tokens): the masked 5.0 does not count.
    expected = (-math.exp(0.2) * a + math.exp(-0.1) * a) / 2
    torch.testing.assert_close(out.loss, torch.tensor(expected))


# ---------------------------------------------------------------------------------------
# Triton against the reference.
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype,atol,rtol", DTYPE_CASES, ids=["fp32", "bf16"])
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_triton_matches_reference_with_everything_on(small_blocks, loss_type, level, dtype, atol, rtol):
    batch = make_batch(dtype=dtype)
    out, grad = assert_backends_agree(
        batch, atol=atol, rtol=rtol, loss_type=loss_type, importance_sampling_level=level,
        beta=0.05, delta=1.5, epsilon_high=0.28, max_completion_length=48,
    )  # fmt: skip
    # The batch does exercise what it is meant to: clipping, a KL, unscorable rows.
    assert 0 < out.metrics["clip_ratio/region_mean"] < 1
    assert out.metrics["kl"] > 0
    assert out.advantages[1] == 0 and (out.advantages[3:6] == 0).all() and out.advantages[0] != 0
    assert (grad[5] == 0).all() and grad.abs().sum() > 0


# (old_logps given, ref_logps and beta, delta): each value of each option meets every loss
# type and level, without the full product (the interpreter runs about 1 ms per operation).
OPTION_COMBOS = [
    (True, "none", None),
    (False, "metric_only", 1.5),
    (True, "in_loss_uncorrected", 1.5),
    (False, "in_loss", None),
    (True, "in_loss", 1.5),
]
OPTION_CASES = [(lt, lvl, *combo) for lt in LOSS_TYPES for lvl in LEVELS for combo in OPTION_COMBOS]


@pytest.mark.parametrize("loss_type,level,with_old,kl_mode,delta", OPTION_CASES)
def test_triton_matches_reference_for_each_option(loss_type, level, with_old, kl_mode, delta):
    batch = make_batch(B=8, T=20, G=4, seed=1)
    if not with_old:
        del batch["old_logps"]
    options = {"loss_type": loss_type, "importance_sampling_level": level, "delta": delta}
    if kl_mode == "none":
        del batch["ref_logps"]
    elif kl_mode == "metric_only":
        options["beta"] = 0.0
    else:
        options["beta"] = 0.1
        options["use_bias_correction_kl"] = kl_mode == "in_loss"
    out, _ = assert_backends_agree(batch, **options)
    assert ("kl" in out.metrics) == (kl_mode != "none")


@pytest.mark.parametrize("scale_rewards", ["group", "batch", "none"])
@pytest.mark.parametrize("group_size", [1, 3, 12])
def test_triton_advantages_match_reference(scale_rewards, group_size):
    batch = make_batch(B=12, T=5, G=group_size, seed=2)
    batch["rewards"][7:9] = math.nan
    out, _ = assert_backends_agree(batch, scale_rewards=scale_rewards, beta=0.0)
    assert torch.isfinite(out.advantages).all()


def test_triton_all_nan_and_single_scored_groups():
    batch = make_batch(B=8, T=6, G=4, seed=3)
    batch["rewards"][:4] = math.nan  # nothing scorable: advantages 0
    batch["rewards"][4:7] = math.nan  # one scored value: no std, advantage 0
    for scale in ("group", "batch", "none"):
        out, _ = assert_backends_agree(batch, scale_rewards=scale)
        assert (out.advantages == 0).all()


def test_triton_all_rows_masked():
    batch = make_batch(B=4, T=6, G=2, seed=4)
    batch["mask"][:] = False
    outs = {}
    for level in LEVELS:
        outs[level], grad = assert_backends_agree(batch, importance_sampling_level=level, beta=0.1)
        assert outs[level].loss == 0 and (grad == 0).all()
    # At token level no row has a clip fraction (0/0), and TRL's nanmin/nanmax give NaN; at
    # sequence level every row has a ratio (1, as no token counts) and nothing clips.
    assert math.isnan(outs["token"].metrics["clip_ratio/low_min"])
    assert math.isnan(outs["token"].metrics["clip_ratio/high_max"])
    assert outs["sequence"].metrics["clip_ratio/low_min"] == 0


def test_triton_reads_non_contiguous_inputs_in_place(small_blocks):
    batch = make_batch(B=8, T=21, G=4, seed=5)
    strided = {}
    for name in ("logps", "old_logps", "ref_logps"):
        wide = torch.zeros(8, 2 * 21, dtype=batch[name].dtype)
        wide[:, ::2] = batch[name]
        strided[name] = wide[:, ::2]  # column stride 2
    strided["mask"] = batch["mask"].t().contiguous().t()  # column-major
    strided["rewards"] = torch.stack([batch["rewards"], torch.zeros(8)], 1)[:, 0]  # stride 2
    assert not any(t.is_contiguous() for t in strided.values())
    strided["group_size"] = 4
    out_strided, grad_strided = assert_backends_agree(strided, beta=0.1, loss_type="grpo")
    out_dense, grad_dense = run("triton", batch, beta=0.1, loss_type="grpo")
    torch.testing.assert_close(out_strided.loss, out_dense.loss)
    torch.testing.assert_close(grad_strided, grad_dense)


@pytest.mark.parametrize("mask_dtype", [torch.int64, torch.float32, torch.uint8])
def test_triton_mask_dtypes(mask_dtype):
    batch = make_batch(B=4, T=9, G=2, seed=6)
    batch["mask"] = batch["mask"].to(mask_dtype)
    assert_backends_agree(batch, beta=0.1)


def test_triton_long_completions_loop_over_t():
    # T = 32k with the default block sizes: the forward walks each row in 2048-token blocks,
    # the backward runs 32 blocks per row.
    batch = make_batch(B=4, T=32768, G=2, seed=7)
    for level in LEVELS:
        assert_backends_agree(batch, importance_sampling_level=level, beta=0.05, atol=1e-6, rtol=1e-4)


def test_loss_is_differentiable_only_through_logps():
    batch = make_batch(B=4, T=5, G=2)
    old = batch["old_logps"].requires_grad_()
    ref = batch["ref_logps"].requires_grad_()
    rewards = batch["rewards"].requires_grad_()
    for backend in ("torch", "triton"):
        logps = batch["logps"].clone().requires_grad_()
        out = grpo_loss(
            logps,
            rewards,
            batch["mask"],
            group_size=2,
            old_logps=old,
            ref_logps=ref,
            beta=0.1,
            backend=backend,
        )
        assert not out.advantages.requires_grad
        assert not any(v.requires_grad for v in out.metrics.values())
        out.loss.backward()
        assert logps.grad is not None
    assert old.grad is None and ref.grad is None and rewards.grad is None


# ---------------------------------------------------------------------------------------
# Backend choice and arguments.
# ---------------------------------------------------------------------------------------


def test_auto_backend_uses_the_reference_on_cpu(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the Triton path ran for CPU tensors")

    monkeypatch.setattr(kernels, "triton_grpo_loss", fail)
    batch = make_batch(B=4, T=5, G=2)
    out = grpo_loss(**batch)
    assert torch.isfinite(out.loss)
    assert set(out.metrics) == set(METRIC_NAMES)


def test_triton_backend_on_cpu_needs_the_interpreter(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    batch = make_batch(B=4, T=5, G=2)
    with pytest.raises(ValueError, match="TRITON_INTERPRET=1"):
        grpo_loss(**batch, backend="triton")


def _bad(**changes):
    batch = make_batch(B=4, T=5, G=2)
    batch.update(changes)
    return batch


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(loss_type="ppo"), "loss_type='ppo'"),
        (dict(importance_sampling_level="seq"), "importance_sampling_level='seq'"),
        (dict(scale_rewards="max"), "scale_rewards='max'"),
        (dict(backend="cuda"), "backend='cuda'"),
        (dict(group_size=3), "group_size=3: expected a divisor of the batch size B=4"),
        (dict(group_size=0), "group_size=0"),
        (dict(beta=0.1, ref_logps=None), "beta=0.1 needs ref_logps"),
        (dict(beta=math.nan), "beta=nan"),
        (dict(epsilon_low=-0.1), "epsilon_low=-0.1"),
        (dict(epsilon_high=-1.0), "epsilon_high=-1.0"),
        (dict(delta=0.0), "delta=0.0"),
        (dict(max_completion_length=0), "max_completion_length=0"),
        (dict(mask=torch.ones(4, 6)), r"mask=tensor\(shape=\(4, 6\)"),
        (dict(old_logps=torch.zeros(4, 4)), r"old_logps=tensor\(shape=\(4, 4\)"),
        (dict(rewards=torch.zeros(3)), r"rewards=tensor\(shape=\(3,\)"),
        (dict(logps=torch.zeros(4, 5, dtype=torch.long)), "logps=tensor"),
        (dict(logps=torch.zeros(20)), r"logps=tensor\(shape=\(20,\)"),
        (dict(use_bias_correction_kl="yes"), "use_bias_correction_kl='yes'"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_value(kwargs, match):
    kwargs = dict(kwargs)
    backend = kwargs.pop("backend", "torch")
    with pytest.raises(ValueError, match=match):
        grpo_loss(**_bad(**kwargs), backend=backend)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(advantages=torch.zeros(4)), "rewards and advantages both given"),
        (dict(rewards=None, advantages=torch.zeros(3)), r"advantages=tensor\(shape=\(3,\)"),
        (dict(rewards=None, advantages=torch.zeros(4, dtype=torch.long)), "expected a floating-point"),
        (dict(rewards=None), "rewards=None: expected a real tensor"),
        (dict(group_size=None), "group_size=None: expected a positive integer"),
        (dict(loss_normalizer=10.0, loss_type="grpo"), "loss_normalizer=10.0 with loss_type='grpo'"),
        (dict(loss_normalizer=0.0), "loss_normalizer=0.0: expected a positive number"),
        (dict(loss_normalizer=torch.ones(2)), r"loss_normalizer=tensor\(shape=\(2,\)"),
    ],
)
def test_bad_advantages_and_normalizers_raise_value_error_naming_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        grpo_loss(**_bad(**kwargs), backend="torch")


# ---------------------------------------------------------------------------------------
# A share of a larger batch: the advantages and the token count given (the trainer's use
# on several processes or accumulation steps).
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_given_advantages_and_normalizer_are_a_share_of_the_whole_batch_loss(loss_type):
    """Rows shuffled and split in two shares, each with the whole batch's advantages and, for
    dapo, the whole batch's token count: the shares' losses add up to the whole batch's (the
    mean-over-rows and dr_grpo losses as an average of two halves, TRL's accumulation)."""
    batch = make_batch(B=12, T=9, G=3)
    whole, whole_grad = run("torch", batch, loss_type=loss_type, beta=0.04)
    order = torch.randperm(12, generator=torch.Generator().manual_seed(1))
    tokens = batch["mask"].sum()
    total = torch.zeros(())
    grad = torch.zeros_like(whole_grad)
    for share in order.view(2, 6):
        part = {k: v[share] for k, v in batch.items() if k not in ("rewards", "group_size")}
        normalizer = tokens.float() if loss_type == "dapo" else None
        out_torch, g_torch = run(
            "torch", part, rewards=None, advantages=whole.advantages[share], loss_normalizer=normalizer,
            loss_type=loss_type, beta=0.04, max_completion_length=9,
        )  # fmt: skip
        out_tri, g_tri = run(
            "triton", part, rewards=None, advantages=whole.advantages[share], loss_normalizer=normalizer,
            loss_type=loss_type, beta=0.04, max_completion_length=9,
        )  # fmt: skip
        torch.testing.assert_close(out_tri.loss, out_torch.loss, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(g_tri, g_torch, atol=1e-7, rtol=1e-5)
        torch.testing.assert_close(out_tri.advantages, whole.advantages[share])
        for name in out_torch.metrics:
            torch.testing.assert_close(
                out_tri.metrics[name], out_torch.metrics[name], equal_nan=True, msg=name
            )
        scale = 1.0 if loss_type == "dapo" else 0.5
        total += scale * out_torch.loss.detach()
        grad[share] += scale * g_torch
    if loss_type != "bnpo":  # bnpo normalises each share by its own token count, as TRL does
        torch.testing.assert_close(total, whole.loss.detach(), atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(grad, whole_grad, atol=1e-7, rtol=1e-5)


def test_scale_rewards_accepts_trl_booleans():
    batch = make_batch(B=4, T=5, G=2)
    for flag, name in ((True, "group"), (False, "none")):
        a = grpo_loss(**batch, scale_rewards=flag, backend="torch").advantages
        b = grpo_loss(**batch, scale_rewards=name, backend="torch").advantages
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("loss_type", ["cispo", "sapo", "luspo", "vespo"])
def test_loss_types_without_kernels_run_on_the_reference(monkeypatch, caplog, loss_type):
    # TRL's own trainer is their oracle (test_loss_trl.py); here the backend choice. An explicit
    # Triton backend is refused; auto on CUDA (simulated) falls back to the reference, logged once.
    batch = make_batch(B=4, T=5, G=2)
    with pytest.raises(ValueError, match=f"loss_type='{loss_type}' with backend='triton'"):
        grpo_loss(**batch, loss_type=loss_type, backend="triton")

    def fail(*args, **kwargs):
        raise AssertionError("the Triton path ran for a loss type it does not compute")

    monkeypatch.setattr(kernels, "triton_grpo_loss", fail)
    monkeypatch.setattr(modomodo.loss, "_resolve_backend", lambda backend, tensor: "triton")
    monkeypatch.setattr(modomodo.loss, "_FALLBACKS_LOGGED", set())
    with caplog.at_level("WARNING", logger="modomodo.loss"):
        auto = grpo_loss(**batch, loss_type=loss_type, beta=0.1)
        grpo_loss(**batch, loss_type=loss_type, beta=0.1)
    reference = grpo_loss(**batch, loss_type=loss_type, beta=0.1, backend="torch")
    torch.testing.assert_close(auto.loss, reference.loss)
    assert [r.getMessage() for r in caplog.records] == [
        f"grpo_loss: loss_type='{loss_type}' has no Triton kernel; it runs on the torch reference"
    ]


def test_importance_sampling_ratio_weights_the_policy_loss_on_the_reference(monkeypatch, caplog):
    # TRL's trainer is its oracle (test_loss_trl.py); here its meaning by hand and the backend.
    batch = make_batch(B=4, T=5, G=2)
    half = torch.full((4, 5), 0.5)
    with pytest.raises(ValueError, match="vLLM's importance_sampling_ratio with backend='triton'"):
        grpo_loss(**batch, importance_sampling_ratio=half, backend="triton")
    with pytest.raises(ValueError, match=r"importance_sampling_ratio=tensor\(shape=\(4, 3\)"):
        grpo_loss(**batch, importance_sampling_ratio=torch.ones(4, 3), backend="torch")
    policy = grpo_loss(**batch, beta=0.0, backend="torch").loss
    weighted = grpo_loss(**batch, beta=0.0, importance_sampling_ratio=half, backend="torch").loss
    torch.testing.assert_close(weighted, policy / 2)
    with_kl = grpo_loss(**batch, beta=0.1, importance_sampling_ratio=half, backend="torch").loss
    kl_only = grpo_loss(**batch, beta=0.1, backend="torch").loss - policy
    torch.testing.assert_close(with_kl, policy / 2 + kl_only)  # the KL term is not weighted
    monkeypatch.setattr(kernels, "triton_grpo_loss", lambda *a, **k: pytest.fail("the kernels ran"))
    monkeypatch.setattr(modomodo.loss, "_resolve_backend", lambda backend, tensor: "triton")
    monkeypatch.setattr(modomodo.loss, "_FALLBACKS_LOGGED", set())
    with caplog.at_level("WARNING", logger="modomodo.loss"):
        auto = grpo_loss(**batch, beta=0.0, importance_sampling_ratio=half)
    torch.testing.assert_close(auto.loss, weighted)
    assert "importance_sampling_ratio has no Triton kernel; it runs on the torch reference" in caplog.text


def test_triton_launches_two_kernels_forward_and_one_backward(monkeypatch):
    # The advantages are fused into the loss kernel (no separate first pass): forward is
    # the per-row kernel then the reduction, backward a single kernel.
    launches = []

    class Counted:
        def __init__(self, name, kernel):
            self.name, self.kernel = name, kernel

        def __getitem__(self, grid):
            launches.append(self.name)
            return self.kernel[grid]

    for name in ("_grpo_loss_fwd_kernel", "_grpo_loss_reduce_kernel", "_grpo_loss_bwd_kernel"):
        monkeypatch.setattr(kernels, name, Counted(name, getattr(kernels, name)))
    batch = make_batch(B=4, T=5, G=2)
    for scale in ("group", "batch"):
        launches.clear()
        logps = batch["logps"].clone().requires_grad_()
        out = grpo_loss(
            logps, batch["rewards"], batch["mask"], group_size=2, scale_rewards=scale, backend="triton"
        )
        assert launches == ["_grpo_loss_fwd_kernel", "_grpo_loss_reduce_kernel"]
        out.loss.backward()
        assert launches[2:] == ["_grpo_loss_bwd_kernel"]
