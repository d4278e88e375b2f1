#!/usr/bin/env bash
# Command 2 of the README: install everything the tests need (Debian packages such as chromium and postgresql when
# missing, the Python test extras), start a throwaway local PostgreSQL unless TEST_DATABASE_URL is set, then run
# ruff, mypy and the whole pytest suite (browser and slow tests included). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

bash scripts/bootstrap.sh --test

pg_dir=""
stop_postgres() {
  if [[ -n $pg_dir ]]; then
    .venv/bin/python -m tests.support.postgres stop "$pg_dir" || true
    pg_dir=""
  fi
}
trap stop_postgres EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z ${TEST_DATABASE_URL:-} ]]; then
  echo "==> starting a local PostgreSQL for the database tests"
  pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/test-pg.XXXXXX")
  TEST_DATABASE_URL=$(.venv/bin/python -m tests.support.postgres start "$pg_dir")
  export TEST_DATABASE_URL
  echo "    $TEST_DATABASE_URL"
fi

echo "==> ruff"
.venv/bin/ruff check .
echo "==> mypy"
.venv/bin/mypy
echo "==> pytest"
.venv/bin/pytest -q "$@"
echo "==> all checks passed in $((SECONDS - started)) s"
