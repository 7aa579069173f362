#!/usr/bin/env bash
# The checks that CPU-only CI cannot make, ready for the first machine with a GPU.
#
#   bash scripts/gpu_check.sh            # with modomodo installed (the README's test venv works)
#   PYTHON=.venv-test/bin/python bash scripts/gpu_check.sh
#
# On a machine with CUDA it runs, in order:
#   1. the Triton kernel tests compiled for the GPU (not the interpreter), on CUDA tensors;
#   2. benches/bench_loss.py and benches/bench_logps.py (their CUDA sections compare the fused
#      kernels with TRL's eager loss and Liger's, and fail on a numerical mismatch);
#   3. a short GRPO run of the tiny model on the GPU (vLLM colocated when vLLM is installed).
# It prints one table and exits non-zero if any check failed. Without CUDA it says so and
# exits 0. Logs of each check are kept in $GPU_CHECK_DIR (a temp folder by default).
set -uo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! "$python" -c 'import torch, modomodo' 2>/dev/null; then
    echo "gpu_check: $python cannot import torch and modomodo; install modomodo first (see README)" >&2
    exit 2
fi
if ! "$python" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no CUDA device here (torch.cuda.is_available() is False); nothing to check. exit 0"
    exit 0
fi

logs=${GPU_CHECK_DIR:-$(mktemp -d -t modomodo-gpu-check.XXXXXX)}
mkdir -p "$logs"
export TRITON_INTERPRET=0 MODOMODO_TEST_DEVICE=cuda TOKENIZERS_PARALLELISM=false
"$python" -c 'import torch; print("gpu_check:", torch.cuda.get_device_name(), "| torch", torch.__version__)'

names=()
outcomes=()
failed=0
check() { # check NAME COMMAND...: runs COMMAND, logs it, records ok / FAIL with the log's last line
    local name=$1 log="$logs/$(echo "$1" | tr -c 'a-zA-Z0-9' '_').log"
    shift
    echo "== $name"
    local start=$SECONDS
    if "$@" >"$log" 2>&1; then
        outcomes+=("ok    $((SECONDS - start)) s   $(tail -n 1 "$log" | cut -c1-70)")
    else
        outcomes+=("FAIL  $((SECONDS - start)) s   see $log")
        failed=1
    fi
    names+=("$name")
}

kernel_tests=()
for t in tests/test_loss.py tests/test_linear_logps.py; do
    [ -f "$t" ] && kernel_tests+=("../$t")
done
check "Triton kernels compiled (pytest)" bash -c "cd tests && '$python' -m pytest -q -p no:cacheprovider ${kernel_tests[*]}"
check "bench_loss (CUDA section)" "$python" benches/bench_loss.py
if [ -f benches/bench_logps.py ]; then
    check "bench_logps (CUDA section)" "$python" benches/bench_logps.py
fi

run_dir="$logs/grpo-run"
vllm_args=()
if "$python" -c 'import vllm' 2>/dev/null; then
    vllm_args=(--use_vllm true --vllm_mode colocate)
fi
check "GRPO tiny model on GPU${vllm_args[*]:+ (vLLM colocate)}" "$python" -m modomodo.train.cli \
    --output-dir "$run_dir" --overwrite --max_steps 10 --warmstart_steps 20 --eval false "${vllm_args[@]}"
if [ -f "$run_dir/summary.json" ]; then
    check "GRPO run wrote its summary" "$python" -c "
import json, math, sys
s = json.load(open('$run_dir/summary.json'))
ok = s.get('steps') == 10 and all(math.isfinite(v) for v in s['reward'].values())
print('steps', s.get('steps'), 'reward', s['reward'])
sys.exit(0 if ok else 1)"
fi

echo
printf '%-44s %s\n' "check" "outcome"
for i in "${!names[@]}"; do
    printf '%-44s %s\n' "${names[$i]}" "${outcomes[$i]}"
done
echo "logs: $logs"
exit "$failed"
