#!/usr/bin/env bash
# Refreshes the lock files from pyproject.toml (run after changing dependencies, then commit them):
#   requirements.lock       what the app needs: the Dockerfile and Heroku (requirements.txt) install it
#   requirements-test.lock  the same plus the test extras: scripts/bootstrap.sh --test installs it
# Every package is pinned with its hashes (pip-tools, pip-compile --generate-hashes), for Python 3.11 on Linux.
# Needs PyPI, or a mirror / local wheel folder given to pip the usual way (PIP_INDEX_URL, PIP_FIND_LINKS).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
TOOLS=${LOCK_TOOLS_VENV:-.venv-lock}
if [[ ! -x $TOOLS/bin/pip-compile ]]; then
  $PY -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install -q --upgrade pip 'pip-tools>=7.4,<8'
fi
compile() {
  "$TOOLS/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
    --no-emit-find-links --resolver=backtracking "$@" pyproject.toml
}
compile --output-file requirements.lock
compile --extra test --output-file requirements-test.lock
echo "==> wrote requirements.lock and requirements-test.lock; commit them with pyproject.toml"
