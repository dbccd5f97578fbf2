#!/usr/bin/env bash
# Installs the Debian packages claimbench's tests and benchmarks use, when
# missing: chromium (the report.html test opens the report in a real
# headless browser), python3-venv (the Python targets' virtualenvs), curl.
# Node.js, npm, Python 3 and Rust come with the machine; the targets' npm and
# pip packages are installed by `claimbench targets setup`.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v curl >/dev/null 2>&1 || need+=(curl)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
for tool in node npm python3 cargo; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is missing; install it first (Node 20, Python 3.11, Rust 1.95)" >&2; exit 2; }
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages: ${need[*]}; run: sudo apt-get install -y ${need[*]}" >&2
    exit 2
  fi
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
