#!/usr/bin/env bash
# The predecessor's one-click connection check, now a wrapper of `python -m web diagnose`:
#   scripts/diagnose-connection.sh [URL] [--email E --password P] [--json] [--local]
# URL defaults to http://localhost:$PORT (3000). On the server host, --local adds the database, log queue,
# event-loop and upstream-configuration checks. Exit status: 0 all good, 1 a check failed, 2 usage error.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=.venv/bin/python
[ -x "$PYTHON" ] || PYTHON=python3
url="http://localhost:${PORT:-3000}"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  url="$1"
  shift
fi
exec "$PYTHON" -m web diagnose "$url" "$@"
