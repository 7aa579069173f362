#!/usr/bin/env bash
# Installs modomodo from this checkout into a fresh virtual environment and runs every
# check and test: the Rust formatter and linter, the Rust core's `cargo test`, the Python
# formatter, linter and type checker (any finding fails the script), then pytest against the
# installed wheel.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${MODOMODO_TEST_VENV:-.venv-test}
case $venv in /*) ;; *) venv=$PWD/$venv ;; esac # absolute: pytest runs from tests/
python=${PYTHON:-python3}

echo "== cargo fmt --check"
cargo fmt --all --check
# Clippy shares `cargo test`'s profile and target folder: the dependencies' build scripts and
# proc macros are compiled once for both.
echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== cargo test (modomodo-core)"
cargo test -p modomodo-core --quiet

echo "== fresh virtual environment: $venv"
rm -rf "$venv" "$venv-verl" dist
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip maturin

echo "== maturin build (release wheel)"
"$venv/bin/maturin" build --release --quiet --out dist
wheel=$(ls dist/modomodo-*.whl)
"$venv/bin/pip" install --quiet "${wheel}[test,math]"

# ruff and mypy (pinned in the `test` extra) read their settings from pyproject.toml.
echo "== ruff check"
"$venv/bin/ruff" check .
echo "== ruff format --check"
"$venv/bin/ruff" format --check .
echo "== mypy python/modomodo"
"$venv/bin/mypy" python/modomodo

# verl 0.9 pins transformers<5.11 and an old antlr, so it cannot live in the main test
# environment. Its own environment holds verl and those pins only, and sees everything
# else (torch, numpy, modomodo) from the main one through a .pth file placed after its
# own site-packages.
echo "== verl environment for the verl adapter test: $venv-verl"
rm -rf "$venv-verl"
"$python" -m venv "$venv-verl"
"$venv-verl/bin/pip" install --quiet --no-deps verl==0.9.1 tensordict==0.15.3 omegaconf==2.4.0 \
    codetiming==1.4.0 cloudpickle==3.1.2 pyvers==0.2.3 antlr4-python3-runtime==4.9.3
main_site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
verl_site=$("$venv-verl/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$main_site" > "$verl_site/zz_main_test_env.pth"

export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TRITON_INTERPRET=1
export TOKENIZERS_PARALLELISM=false

# Runs pytest from tests/ (so that nothing in the checkout shadows the installed package)
# and turns pytest's "no tests collected" (exit 5) into a failure.
run_pytest() {
    local py=$1; shift
    local status=0
    (cd tests && "$py" -m pytest -q -p no:cacheprovider "$@") || status=$?
    if [ "$status" -eq 5 ]; then
        echo "pytest collected no tests: that is a failure here" >&2
        return 1
    fi
    return "$status"
}

echo "== pytest against the installed package"
status=0
run_pytest "$venv/bin/python" --ignore=test_rewards_verl.py "$@" . || status=$?
echo "== pytest: the verl adapter under the real verl"
run_pytest "$venv-verl/bin/python" test_rewards_verl.py || status=$?
exit "$status"
