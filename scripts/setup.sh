#!/usr/bin/env bash
# vigil set-up for a fresh Debian/Ubuntu machine with Node.js 20+:
# system packages (C++ tool chain, libtorch, OpenBLAS, Fashion-MNIST, PyTorch for the side-by-side
# benchmarks), then the npm dependencies, the native engine (built by npm's install step) and the
# TypeScript build (npm's prepare step).
set -euo pipefail
cd "$(dirname "$0")/.."

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "vigil needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none)). Install it first, e.g. from https://nodejs.org or NodeSource." >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# chromium: the browser tests of the HTML report and of the web page (test/report, test/server)
packages=(build-essential python3 libtorch-dev libopenblas0-pthread dataset-fashion-mnist chromium)
# PyTorch itself is only for bench/ (the side-by-side reference); skip with VIGIL_NO_PYTORCH=1
if [ "${VIGIL_NO_PYTORCH:-0}" != "1" ]; then packages+=(python3-torch); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "vigil: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

npm ci --no-fund --no-audit
