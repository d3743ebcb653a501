#!/usr/bin/env bash
# Runs a command with the wall clock moved to START (Europe/Berlin time unless START names its zone)
# and running on at real speed from there, for the command and all its children (libfaketime, from
# Debian's `faketime` package). Timeouts stay real (FAKETIME_DONT_FAKE_MONOTONIC=1); file times
# stay real too, which libfaketime cannot move.
# Usage: scripts/faketime-run.sh "2026-11-24 21:30" COMMAND [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  echo "usage: scripts/faketime-run.sh START COMMAND [ARGS...]" >&2
  exit 2
fi
start=$1
shift
lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1 2>/dev/null | head -n 1 || true)
if [ -z "$lib" ]; then
  echo "faketime-run: libfaketime is missing: install Debian's faketime package (apt-get install faketime)" >&2
  exit 2
fi
if ! target=$(TZ=Europe/Berlin date -d "$start" +%s 2>/dev/null); then
  echo "faketime-run: not a start time: $start (try \"2026-11-24 21:30\")" >&2
  exit 2
fi
# A relative offset (not "@START"), so every child process agrees on the time; tests/processes.py
# reads it to pin its own agents' clocks.
export FAKETIME="$(printf '%+d' $((target - $(date +%s))))"
export LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}"
export FAKETIME_DONT_FAKE_MONOTONIC=1
# libfaketime with a real monotonic clock breaks Python's time.sleep; this sitecustomize mends it.
export PYTHONPATH="$PWD/tests/faketime${PYTHONPATH:+:$PYTHONPATH}"
exec "$@"
