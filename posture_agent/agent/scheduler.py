"""The agent's jobs on APScheduler 3: a BackgroundScheduler in UTC whose jobs all coalesce, run one
at a time and have a misfire grace time (a laptop waking from sleep gets one pass, not a burst),
behind the few things the agent asks of it. APScheduler is imported only when the agent starts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 6 * 3600
"""APScheduler runs a late job up to this late; the prompt service applies each prompt's own grace."""


def guarded(job: Callable[[], Any]) -> Callable[[], None]:
    """`job`, with its failure logged instead of raised: the next wake-up tries again."""

    def run() -> None:
        try:
            job()
        except Exception:  # a failing pass is logged; the next wake-up tries again
            log.exception("agent job %s failed", getattr(job, "__name__", job))

    run.__name__ = getattr(job, "__name__", "job")
    return run


class Jobs:
    """Named jobs: run once now, once at a time, or every so often; each guarded."""

    def __init__(self, guard: Callable[[Callable[[], Any]], Callable[[], None]] = guarded) -> None:
        """`guard` wraps every job: the agent's also records repeated failures for `doctor`."""
        from apscheduler.schedulers.background import BackgroundScheduler

        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": {"type": "threadpool", "max_workers": 2}},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
        )
        self._guard = guard

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        self._scheduler.shutdown(wait=False)

    def now(self, job_id: str, job: Callable[[], Any]) -> None:
        """`job` once now, replacing one of that id not run yet."""
        self._scheduler.add_job(self._guard(job), id=job_id, replace_existing=True)

    def every(self, job_id: str, job: Callable[[], Any], **interval: float) -> None:
        """`job` every `seconds=` or `minutes=`; once per id."""
        if self._scheduler.get_job(job_id) is None:
            self._scheduler.add_job(self._guard(job), "interval", id=job_id, **interval)

    def at(self, job_id: str, job: Callable[[], Any], when: datetime | None) -> None:
        """`job` once at `when`, replacing the job of that id; None: no such job any more."""
        if when is None:
            self.cancel(job_id)
        else:
            self._scheduler.add_job(self._guard(job), "date", run_date=when, id=job_id, replace_existing=True)

    def cancel(self, job_id: str) -> None:
        if self._scheduler.get_job(job_id) is not None:
            self._scheduler.remove_job(job_id)
