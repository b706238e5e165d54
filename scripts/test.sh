#!/usr/bin/env bash
# Sets up (venv, pinned packages, Debian's Chromium for the browser tests) and runs lint + all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-dev.txt
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: /usr/bin/chromium missing and cannot be installed here; browser tests will be skipped" >&2
  fi
fi
export HF_HUB_OFFLINE=1
.venv/bin/ruff check .
# Two workers (GUIDE_TEST_WORKERS; 0 runs in this process), tests sharing a costly fixture on one (tests/conftest.py),
# the costliest groups handed out first (tests/scheduling.py: --no-loadscope-reorder keeps that order)
.venv/bin/python -m pytest -n "${GUIDE_TEST_WORKERS:-2}" --dist loadgroup --no-loadscope-reorder "$@"
