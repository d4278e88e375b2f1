#!/usr/bin/env bash
# Command 1 of the README: install what is needed, then run the app on http://localhost:3000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m web serve "$@"
