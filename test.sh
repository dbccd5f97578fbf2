#!/usr/bin/env bash
# claimbench's test command: installs what the tests need, then runs them all.
#   ./test.sh
# 1. Debian packages the tests use (chromium for the report test).
# 2. The sample servers' npm and pip packages (claimbench targets setup).
# 3. cargo test over the workspace: unit tests, then the integration tests
#    (real servers on 127.0.0.1:0, the real Express/FastAPI/Django/... targets).
# 4. One `claimbench run --quick`, so the main job's whole path stays working.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
cargo build --release --workspace --locked
target/release/claimbench targets setup
cargo test --workspace --locked
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
target/release/claimbench run --quick --out "$out/quick"
test -s "$out/quick/results.json"
test -s "$out/quick/summary.md"
test -s "$out/quick/report.html"
echo "run --quick: results, summary.md and report.html written"
