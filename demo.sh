#!/usr/bin/env bash
# The first command: set up, get the data, train a model that thinks, and show its thinking.
# A self-reasoning-token model (one hidden slot after every character, config/reasoning_small.py,
# K=1) on tiny Shakespeare, about 3 minutes of training on 2 CPU cores; then samples, each
# character tinted by how much the reasoning slots helped predict it, and the same as a page
# (out-rt-small/sample.html) where hovering a character shows its alternatives.
set -euo pipefail
cd "$(dirname "$0")"
bash setup.sh
. .venv/bin/activate
if [ -d ../shared/tiktoken ]; then export TIKTOKEN_CACHE_DIR="$(cd ../shared/tiktoken && pwd)"; fi
if [ ! -f data/shakespeare_char/train.bin ]; then
  local_copy=../shared/data/tinyshakespeare/input.txt  # offline machines have it there; else it downloads
  if [ ! -f data/shakespeare_char/input.txt ] && [ -f "$local_copy" ]; then
    python data/shakespeare_char/prepare.py --input="$local_copy"
  else
    python data/shakespeare_char/prepare.py
  fi
fi
python train.py config/reasoning_small.py --out_dir=out-rt-small
python sample.py --out_dir=out-rt-small --num_samples=2 --max_new_tokens=300 \
  --html=out-rt-small/sample.html
echo "open out-rt-small/sample.html and hover a character; python sample.py --show_thoughts prints what the slots read as"
