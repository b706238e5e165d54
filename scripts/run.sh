#!/usr/bin/env bash
# Sets up and starts the shop on the default data (../shared/data or GUIDE_DATA_DIR) and the shipped model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
export HF_HUB_OFFLINE=1
exec .venv/bin/streamlit run app.py "$@"
