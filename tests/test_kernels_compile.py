"""The Triton kernels compile for a GPU.

The rest of the suite runs the kernels in Triton's interpreter (there is no GPU here), which
does not apply every rule of the compiler: a kernel that reads a module-level global which is
not a `tl.constexpr` runs in the interpreter but does not compile. Compiling needs no GPU: each
kernel is lowered to a CUDA binary for an sm_80 target, in a subprocess, since the interpreter
is chosen when the kernels are defined (TRITON_INTERPRET=1 in conftest)."""

import os
import subprocess
import sys

COMPILE_EVERY_KERNEL = """
import itertools

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from modomodo.kernels import grpo_loss, linear_logps

SCALARS = {"B": "i32", "T": "i32", "G": "i32", "V": "i32", "NORM": "fp32", "CLIP_LO": "fp32",
           "CLIP_HI": "fp32", "DELTA": "fp32", "BETA": "fp32", "TEMPERATURE": "fp32"}
POINTERS = {"MASK": "*i1", "TOKEN_IDS": "*i64"}  # any other upper-case argument: *fp32


def compile_for_gpu(kernel, **constexprs):
    signature = {}
    for param in kernel.params:
        name = param.name
        if param.is_constexpr:
            constexprs.setdefault(name, 64 if name.startswith("BLOCK_") else True)
            signature[name] = "constexpr"
        elif name.startswith("stride"):
            signature[name] = "i32"
        else:
            signature[name] = SCALARS.get(name) or POINTERS.get(name, "*fp32")
    triton.compile(ASTSource(kernel, signature, constexprs), target=GPUTarget("cuda", 80, 32))


for sequence_level, kl_in_loss in itertools.product([False, True], repeat=2):
    flags = dict(SEQUENCE_LEVEL=sequence_level, KL_IN_LOSS=kl_in_loss)
    compile_for_gpu(grpo_loss._grpo_loss_fwd_kernel, SCALE=2, BLOCK_G=8, **flags)
    for loss_type in grpo_loss.LOSS_TYPES.values():
        compile_for_gpu(grpo_loss._grpo_loss_reduce_kernel, LOSS_TYPE=loss_type, SEQUENCE_LEVEL=sequence_level)
        compile_for_gpu(grpo_loss._grpo_loss_bwd_kernel, LOSS_TYPE=loss_type, **flags)
for with_entropy in (False, True):
    compile_for_gpu(linear_logps._linear_logps_fwd_kernel, HAS_ENTROPY=with_entropy)
    compile_for_gpu(linear_logps._linear_logps_bwd_kernel, HAS_ENTROPY_GRAD=with_entropy)
print("compiled")
"""


def test_every_kernel_compiles_for_a_gpu():
    env = dict(os.environ, TRITON_INTERPRET="0", TRITON_DEFAULT_FP_FUSION="1")
    proc = subprocess.run(
        [sys.executable, "-c", COMPILE_EVERY_KERNEL], capture_output=True, text=True, env=env, timeout=900
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "compiled", proc.stdout + proc.stderr[-4000:]
