#!/usr/bin/env bash
# Installs modomodo from this checkout into a fresh virtual environment and runs every
# test: the Rust core's `cargo test`, then pytest against the installed wheel.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${MODOMODO_TEST_VENV:-.venv-test}
python=${PYTHON:-python3}

echo "== cargo test (modomodo-core)"
cargo test -p modomodo-core --quiet

echo "== fresh virtual environment: $venv"
rm -rf "$venv" dist
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip maturin

echo "== maturin build (release wheel)"
"$venv/bin/maturin" build --release --quiet --out dist
wheel=$(ls dist/modomodo-*.whl)
"$venv/bin/pip" install --quiet "${wheel}[test,math]"

echo "== pytest against the installed package"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TRITON_INTERPRET=1
export TOKENIZERS_PARALLELISM=false
set +e
# Run from tests/ so that nothing in the checkout shadows the installed package.
(cd tests && "../$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" .)
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$status"
