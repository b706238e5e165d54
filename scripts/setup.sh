#!/usr/bin/env bash
# Creates .venv and installs the pinned requirements (idempotent; fast when already installed).
# Usage: bash scripts/setup.sh [requirements file]
set -euo pipefail
cd "$(dirname "$0")/.."
req="${1:-requirements.txt}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
# torch first, pinned: the CPU wheel (a plain `torch` would pull a multi-GB CUDA build)
.venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -r "$req"
