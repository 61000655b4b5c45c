#!/usr/bin/env bash
# Set up once: a virtualenv in .venv with torch and the requirements. Without a GPU it takes
# torch's CPU build (an unpinned torch from PyPI is a multi-GB CUDA build). demo.sh and
# test.sh run this first; running it again does nothing new.
set -euo pipefail
cd "$(dirname "$0")"
[ -d .venv ] || python3 -m venv .venv
. .venv/bin/activate
if ! python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    python -m pip install --quiet torch
  elif python -c "import urllib.request; urllib.request.urlopen('https://download.pytorch.org/whl/cpu/', timeout=5)" 2>/dev/null; then
    python -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
  else  # offline: a CPU build from the package index this machine has
    python -m pip install --quiet torch==2.13.0
  fi
fi
python -m pip install --quiet -r requirements.txt
