"""Which of the running agent's jobs keep failing: kept in a small file beside the lock, so that
`doctor` (another process) and the tray can say so, not only the log.

One entry per failing job: since when, how many times in a row, the last error in one line. A
job's next success removes its entry.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from posture_agent.filenames import printable
from posture_agent.outputs import write_atomically

log = logging.getLogger(__name__)

FILE = "failing-jobs.json"
REPEATED = 2
"""Failures in a row from which a job is reported as failing (one may be a passing hiccup)."""


@dataclass(frozen=True)
class Failing:
    job: str
    since: datetime
    times: int
    last_error: str

    def line(self) -> str:
        return f"the {self.job} job fails since {self.since:%Y-%m-%d %H:%M} ({self.times} times): {self.last_error}"


def _read(runtime_dir: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads((runtime_dir / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(runtime_dir: Path, data: dict[str, dict[str, object]]) -> None:
    try:
        if data:
            runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomically(runtime_dir / FILE, json.dumps(data, indent=1), prefix=".jobs-")
        else:
            (runtime_dir / FILE).unlink(missing_ok=True)
    except OSError:
        log.warning("could not keep the state of the agent's jobs in %s", runtime_dir, exc_info=True)


def one_line(error: BaseException) -> str:
    first = (str(error).splitlines() or [""])[0]
    return printable(f"{error.__class__.__name__}: {first}" if first else error.__class__.__name__)


def record_failure(runtime_dir: Path, job: str, error: BaseException, now: datetime) -> Failing:
    data = _read(runtime_dir)
    entry = data.get(job) or {"since": now.isoformat(), "times": 0}
    entry["times"] = int(str(entry.get("times", 0))) + 1
    entry["last_error"] = one_line(error)
    data[job] = entry
    _write(runtime_dir, data)
    return _parse(job, entry) or Failing(job, now, 1, one_line(error))


def record_success(runtime_dir: Path, job: str) -> None:
    data = _read(runtime_dir)
    if job in data:
        del data[job]
        _write(runtime_dir, data)


def _parse(job: str, entry: object) -> Failing | None:
    if not isinstance(entry, dict):
        return None
    try:
        since = datetime.fromisoformat(str(entry["since"]))
        return Failing(job, since, int(entry["times"]), str(entry.get("last_error", "")))
    except (KeyError, ValueError, TypeError):
        return None


def failing(runtime_dir: Path) -> list[Failing]:
    """The jobs that failed at least REPEATED times in a row, and still do."""
    found = (_parse(job, entry) for job, entry in sorted(_read(runtime_dir).items()))
    return [f for f in found if f is not None and f.times >= REPEATED]


def clear(runtime_dir: Path) -> None:
    """At the agent's start: failures of an earlier run say nothing about this one."""
    _write(runtime_dir, {})
