#!/usr/bin/env bash
# Install (first time) and start the posture-agent tray agent. Data goes to the user's data folder.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh run
exec .venv/bin/posture-agent "${@:-start}"
