#!/usr/bin/env bash
# Sets up and starts the shop on the default data (GUIDE_DATA_DIR, else ../shared/data) and the shipped model.
# When the data directory has none of the data sets, they are downloaded first (`python -m guide data fetch`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
export HF_HUB_OFFLINE=1
if .venv/bin/python -c 'import sys; from guide.config import data_dir; from guide.data.fetch import is_empty; sys.exit(0 if is_empty(data_dir()) else 1)'; then
  echo "no data sets found; fetching them (python -m guide data fetch)" >&2
  .venv/bin/python -m guide data fetch
fi
exec .venv/bin/streamlit run app.py "$@"
