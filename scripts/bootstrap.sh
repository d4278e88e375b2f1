#!/usr/bin/env bash
# Installs everything the app (and, with --test, the test suite) needs on a fresh Debian machine
# with Python 3.11: Debian packages when missing, then a virtualenv in .venv with the pinned packages.
set -euo pipefail
cd "$(dirname "$0")/.."

WANT_TEST=0
[[ "${1:-}" == "--test" ]] && WANT_TEST=1

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    echo "==> installing Debian packages: ${missing[*]}"
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

PY=${PYTHON:-python3}
if ! $PY -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
  apt_install python3 python3-venv python3-pip
  PY=python3
fi
$PY -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

if ((WANT_TEST)); then
  apt_install chromium fonts-wqy-microhei espeak-ng sox postgresql iproute2 util-linux
  # Firefox for the browser tests (driven by puppeteer-core over WebDriver BiDi), with a PulseAudio null sink as its
  # audio output: headless Firefox without an output device never runs an AudioContext
  apt_install firefox-esr pulseaudio
  # real TURN relay and simulated networks (namespaces with NAT and firewall rules) for the network tests
  apt_install coturn nftables
  # several gateway nodes behind a real load balancer (tests/test_cluster_nodes.py)
  apt_install haproxy
  # the AudioWorklet DSP tests run the page's worklet under Node.js
  command -v node >/dev/null 2>&1 || apt_install nodejs
  command -v npm >/dev/null 2>&1 || apt_install npm
  # tests/js (Agents SDK 0.20.0, puppeteer-core 24.43.1) runs on Node 18 (Debian 12) and 20; some dependencies
  # declare newer engines (openai: >=22), which npm only warns about (EBADENGINE)
  NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
  if ((NODE_MAJOR < 18)); then
    echo "error: tests/js needs Node.js 18 or newer, found $(node --version); install a newer nodejs" >&2
    exit 1
  fi
  # the real OpenAI clients (Agents SDK) for the OpenAI-compatible API tests, pinned by tests/js/package-lock.json
  JS_STAMP=tests/js/node_modules/.installed-$(sha256sum tests/js/package-lock.json | cut -c1-16)
  if [[ ! -f $JS_STAMP ]]; then
    echo "==> installing tests/js (npm ci)"
    (cd tests/js && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    touch "$JS_STAMP"
  fi
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating .venv"
  $PY -m venv .venv
fi
STAMP=.venv/.installed-$( (cat pyproject.toml requirements.lock requirements-test.lock; echo "$WANT_TEST") | sha256sum | cut -c1-16)
if [[ ! -f $STAMP ]]; then
  echo "==> installing Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  # Exact versions with their hashes (refresh with `bash scripts/lock.sh`), then the project itself, editable.
  if ((WANT_TEST)); then
    .venv/bin/python -m pip install -q --require-hashes -r requirements-test.lock
  else
    .venv/bin/python -m pip install -q --require-hashes -r requirements.lock
  fi
  .venv/bin/python -m pip install -q --no-deps -e .
  rm -f .venv/.installed-*
  touch "$STAMP"
fi
