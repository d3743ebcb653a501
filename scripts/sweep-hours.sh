#!/usr/bin/env bash
# Runs the test suite once per fake start time (scripts/faketime-run.sh), then prints a table
# start time -> passed/failed, so a failure that only shows at some hour or on some day is seen.
# Usage: scripts/sweep-hours.sh [START...] [-- PYTEST-ARGS...]
#   default starts (Berlin time): 02:00, 07:29, 17:44, 23:58 on a Wednesday, a Sunday, the last
#   Sunday of October (2 minutes before the clocks go back) and the second Sunday of March (when
#   New York's clocks go forward); default pytest arguments: -q -m "not bundle".
# Logs: sweep-logs/ (one file per start time). Exit status: 1 when any start time failed.
set -uo pipefail
cd "$(dirname "$0")/.."
starts=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do starts+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(-q -m "not bundle")
[ ${#starts[@]} -eq 0 ] && starts=(
  "2026-11-25 02:00" "2026-11-25 07:29" "2026-11-25 17:44" "2026-11-25 23:58"
  "2026-11-29 10:00" "2026-10-25 02:58 CEST" "2027-03-14 07:58"
)
mkdir -p sweep-logs
results=()
failed=0
for start in "${starts[@]}"; do
  log="sweep-logs/$(echo "$start" | tr -c 'A-Za-z0-9\n' '-').log"
  began=$(date +%s)
  base=$(mktemp -d)  # pytest's own temporary folders, apart from any other run's
  if scripts/faketime-run.sh "$start" .venv/bin/pytest -p no:cacheprovider --basetemp="$base" "${args[@]}" \
      >"$log" 2>&1; then
    verdict=passed
  else
    verdict=failed
    failed=1
  fi
  rm -rf "$base"
  summary=$(tail -n 1 "$log")
  results+=("$(printf '%-22s %-7s %4ss  %s' "$start" "$verdict" "$(($(date +%s) - began))" "$summary")")
  echo "${results[-1]}"
done
echo
printf '%-22s %-7s %5s  %s\n' "start (Berlin)" result wall "pytest's summary (log in sweep-logs/)"
printf '%s\n' "${results[@]}"
exit $failed
