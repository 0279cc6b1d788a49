#!/usr/bin/env bash
# Runs every test of the project, installing whatever is missing first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
"$ROOT/.venv/bin/python" -m pytest -q models
# The plugin library itself, for the tests that load it the way applications do.
cargo build --locked --lib
# The retrieval benchmark's small case runs that library through gst-launch.
"$ROOT/.venv/bin/python" -m pytest -q tools
# The batch tool on a local Ray cluster, with the same library.
"$ROOT/.venv-batch/bin/python" -m pytest -q batch
cargo test --locked
