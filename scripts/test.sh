#!/usr/bin/env bash
# Install what the tests need (system packages when root), then lint, type-check and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
.venv/bin/ruff check posture_agent tests benchmarks scripts
.venv/bin/mypy
exec .venv/bin/pytest "$@"
