#!/usr/bin/env bash
# Install what the tests need (system packages when root), then lint, type-check and run the tests.
# Arguments go to pytest: scripts/test.sh -k report, scripts/test.sh tests/test_cli_records.py.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
started=$SECONDS
.venv/bin/ruff check posture_agent tests benchmarks scripts
.venv/bin/mypy
if [ $# -eq 0 ]; then
  echo "posture-agent: the whole suite (about 600 tests, some on a virtual desktop and in a browser) takes" \
       "tens of minutes; scripts/test.sh -k WORD or a test file runs a part (arguments go to pytest)" >&2
fi
status=0
.venv/bin/pytest "$@" || status=$?
echo "posture-agent: tests done in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s" >&2
exit $status
