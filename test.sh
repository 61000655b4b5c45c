#!/usr/bin/env bash
# The second command: the tests, exactly as CI runs them (bash .ci/run: this, in a fresh clone).
set -euo pipefail
cd "$(dirname "$0")"
bash setup.sh
. .venv/bin/activate
# offline: GPT-2's BPE ranks from ../shared (with internet tiktoken downloads them)
if [ -d ../shared/tiktoken ]; then export TIKTOKEN_CACHE_DIR="$(cd ../shared/tiktoken && pwd)"; fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
set +e
python -m pytest -q tests "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
