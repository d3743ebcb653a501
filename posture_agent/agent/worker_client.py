"""The resident's side of the worker process: the journal and the chores (`journal_port`) served by
a child that holds the store, so that the resident never loads SQLAlchemy or the store.

`WorkerLink` starts the child on the first request (our own executable with `--worker-process`, as
the window, calendar and camera children), sends one request at a time under a lock, and closes the
child's stdin once no request came for `IDLE_SECONDS` (the child then exits). A child that died (killed,
crashed) is started again once and the request sent again: a write that a killed child had not
committed is then stored once; one it had committed is a closed prompt's answer, which the journal
refuses to store twice (see `answer_prompt` in worker.py). A child that cannot be started is a
`WorkerUnavailable` (a StoreError): said once in the log and to the user, and every answer is kept
and retried, as for a busy database. `WorkerJournal` and `WorkerChores` are the two interfaces on a link.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from typing import IO, Any, cast

from posture_agent import WORKER_PROCESS
from posture_agent.agent.housekeeping import data_files_stamp
from posture_agent.agent.journal_port import Checkin
from posture_agent.agent.worker_wire import (
    Hello,
    Request,
    WorkerUnavailable,
    read_message,
    result_of,
    write_message,
)
from posture_agent.clock import Clock
from posture_agent.config import Settings
from posture_agent.domain import advice as rules
from posture_agent.domain import records as r
from posture_agent.paths import Paths
from posture_agent.recorded import DrillState, RunSaved, TakenBack

log = logging.getLogger(__name__)

IDLE_SECONDS = 60.0
"""The worker exits after this long without a request (the next one starts it again)."""
START_TIMEOUT_S = 60.0
"""How long a new worker may take to open the store (a migration, the full check of a big file)."""
REPLY_TIMEOUT_S = 300.0
"""A request that takes longer is a hung worker: it is killed (the request then fails)."""


def worker_command() -> list[str]:
    """How to start the worker: our own executable (a frozen build has no `python -m`)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, WORKER_PROCESS]
    return [sys.executable, "-m", "posture_agent", WORKER_PROCESS]


class WorkerLink:
    """The worker process, started on demand and stopped when idle; one request at a time."""

    def __init__(self, paths: Paths, command: list[str] | None = None, idle_seconds: float = IDLE_SECONDS) -> None:
        self.paths = paths
        self.command = command or worker_command()
        self.idle_seconds = idle_seconds
        self.check: bool | None = True
        """The first worker runs the full database check (the agent's start); later ones do not."""
        self.tell: Callable[[str], object] = lambda line: None
        """How the user hears, once, that the worker cannot start (a notification, set by the agent)."""
        self.starts = 0
        """How many workers were started (the benchmark and the tests read it)."""
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sent: Settings | None = None
        self._last = time.monotonic()
        self._told = False
        self._closed = False
        self._idle = threading.Condition()
        self._watcher: threading.Thread | None = None
        self.own_stamp: tuple[Any, ...] | None = None
        """The database files' stamp after this link's last request (or its worker's exit, whose
        connection's close checkpoints the WAL): the agent's own writes, not news from elsewhere."""
        self.foreign = False
        """The files changed between two of this link's requests: another process wrote."""

    # --- requests ------------------------------------------------------------------------------

    def call(self, settings: Settings, now: datetime, method: str, *args: Any, **kwargs: Any) -> Any:
        """`method(*args, **kwargs)` in the worker, at the resident's `now`; its value, or its error."""
        with self._lock:
            self._before()
            try:
                for attempt in (1, 2):
                    proc = self._running(settings, now)
                    request = Request(method, now, args, kwargs, settings if settings is not self._sent else None)
                    try:
                        assert proc.stdin is not None and proc.stdout is not None
                        write_message(proc.stdin, request)
                        self._sent = settings
                        reply = self._reply(proc, REPLY_TIMEOUT_S)
                    except (OSError, EOFError) as exc:
                        code = self._reap(proc)
                        if attempt == 2:
                            raise WorkerUnavailable(
                                f"the worker process ended twice during {method} (exit {code}): {exc}") from exc
                        log.warning("the worker process ended during %s (exit %s); starting it again", method, code)
                        continue
                    return result_of(reply)
                raise AssertionError("unreachable")
            finally:
                self._last = time.monotonic()
                self.own_stamp = data_files_stamp(self.paths.db_file)

    def warm(self, settings: Settings, now: datetime) -> None:
        """Start the worker now, if it is not running (a prompt falls due in a moment)."""
        with self._lock:
            self._running(settings, now)
            self._last = time.monotonic()

    def running(self) -> bool:
        """A worker was started and not yet stopped (one that died meanwhile is found by the next request)."""
        return self._proc is not None

    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def close(self) -> None:
        """Stop the worker (the agent stops): it finishes the request it is on first."""
        with self._lock:
            self._closed = True
            self._stop_worker()
        with self._idle:
            self._idle.notify_all()

    # --- the child -----------------------------------------------------------------------------

    def _running(self, settings: Settings, now: datetime) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        if self._proc is not None:
            self._reap(self._proc)
        try:
            proc = self._spawn(settings, now)
        except WorkerUnavailable as exc:
            if not self._told:
                self._told = True
                log.error("%s", exc)
                self.tell(str(exc))
            raise
        if self._told:
            log.info("the worker process started again")
            self._told = False
        self._proc, self._sent = proc, settings
        self.starts += 1
        self.check = None
        with self._idle:
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch_idle, name="worker-idle", daemon=True)
                self._watcher.start()
            self._idle.notify_all()
        return proc

    def _spawn(self, settings: Settings, now: datetime) -> subprocess.Popen[bytes]:
        err: IO[bytes] | int = subprocess.DEVNULL
        with contextlib.suppress(OSError):
            err = self.paths.log_file.open("ab")  # a crash's traceback belongs in the log
        try:
            proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                    close_fds=True)
        except OSError as exc:
            raise WorkerUnavailable(f"the worker process could not be started ({exc.strerror or exc}): "
                                    "answers are kept and saved once it starts") from exc
        finally:
            if not isinstance(err, int):
                err.close()
        try:
            assert proc.stdin is not None
            write_message(proc.stdin, Hello(self.paths, settings, now, self.check))
            result_of(self._reply(proc, START_TIMEOUT_S))
        except (OSError, EOFError) as exc:
            code = self._reap(proc)
            raise WorkerUnavailable(f"the worker process ended as it started (exit {code}; see the log): "
                                    "answers are kept and saved once it starts") from exc
        except BaseException:  # the store refused to open (StoreError): said by the caller
            self._reap(proc)
            raise
        log.info("worker process %d started", proc.pid)
        return proc

    def _reply(self, proc: subprocess.Popen[bytes], timeout: float) -> Any:
        assert proc.stdout is not None
        if os.name == "posix":  # Windows pipes cannot be waited on with select: no timeout there
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            if not ready:
                proc.kill()
                raise EOFError(f"no reply within {timeout:.0f} s")
        return read_message(proc.stdout)

    def _reap(self, proc: subprocess.Popen[bytes]) -> int | None:
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        if proc is self._proc:
            self.own_stamp = data_files_stamp(self.paths.db_file)  # its close checkpointed the WAL
            self._proc = None
        return code

    def _stop_worker(self) -> None:
        if self._proc is not None:
            log.info("worker process %d stopped", self._proc.pid)
            self._before()
            self._reap(self._proc)  # its stdin closed: it ends its loop and exits

    def _before(self) -> None:
        if self.own_stamp is not None and data_files_stamp(self.paths.db_file) != self.own_stamp:
            self.foreign = True

    def _watch_idle(self) -> None:
        """Wakes once per idle period while a worker runs, never while none does."""
        while not self._closed:
            with self._idle:
                if not self.running():
                    self._idle.wait()
                    continue
                left = self._last + self.idle_seconds - time.monotonic()
                if left > 0:
                    self._idle.wait(left)
                    continue
            if self._lock.acquire(blocking=False):
                try:
                    if time.monotonic() - self._last >= self.idle_seconds:
                        self._stop_worker()
                finally:
                    self._lock.release()
            else:
                with self._idle:
                    self._idle.wait(1.0)  # a request is under way: its end moves `_last`


class WorkerJournal:
    """`JournalPort` over a `WorkerLink`: the same names, answered by the worker's Journal."""

    def __init__(self, link: WorkerLink, settings: Settings, clock: Clock) -> None:
        self.link, self.settings, self.clock = link, settings, clock
        self.zone: tzinfo = settings.zone()
        self._installed: datetime | None = None

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.link.call(self.settings, self.clock.now(), method, *args, **kwargs)

    def now(self) -> datetime:
        return self.clock.now()

    def configured(self, settings: Settings) -> WorkerJournal:
        return WorkerJournal(self.link, settings, self.clock)

    def forget_device(self) -> None:
        self._call("forget_device")

    def installed_at(self) -> datetime | None:
        if self._installed is None:  # fixed once the database exists
            self._installed = cast("datetime | None", self._call("installed_at"))
        return self._installed

    def history(self, start: datetime | None = None, end: datetime | None = None) -> r.History:
        return cast(r.History, self._call("history", start, end))

    def advice(self, at: datetime | None = None) -> rules.Advice:
        return cast(rules.Advice, self._call("advice", at))

    def drills_for(self, day: date | None = None) -> list[DrillState]:
        return cast("list[DrillState]", self._call("drills_for", day))

    def runs(self) -> list[r.Run]:
        return cast("list[r.Run]", self._call("runs"))

    def prompts_shown(self, start: datetime | None = None, end: datetime | None = None) -> list[r.PromptShown]:
        return cast("list[r.PromptShown]", self._call("prompts_shown", start, end))

    def open_prompts(self) -> list[r.PromptShown]:
        return cast("list[r.PromptShown]", self._call("open_prompts"))

    def record_prompt_shown(self, kind: str, due: datetime, context: str | None) -> r.PromptShown | None:
        return cast("r.PromptShown | None", self._call("record_prompt_shown", kind, due, context))

    def record_prompt_away(self, kind: str, due: datetime, context: str | None) -> bool:
        return bool(self._call("record_prompt_away", kind, due, context))

    def close_prompt(self, prompt_id: str, outcome: str, missed_checkin: tuple[str, datetime] | None = None) -> bool:
        return bool(self._call("close_prompt", prompt_id, outcome, missed_checkin))

    def answer_prompt(self, prompt_id: str, outcome: str, checkin: Checkin | None = None, by: str = "user",
                      measures: tuple[float | None, float | None] = (None, None)) -> bool:
        return bool(self._call("answer_prompt", prompt_id, outcome, checkin, by, measures))

    def record_checkin(
        self, posture: str, context: str = "desk", at: datetime | None = None, source: str = "cli",
        prompted: bool = False, by: str = "user", measures: tuple[float | None, float | None] = (None, None),
    ) -> r.CheckIn:
        return cast(r.CheckIn, self._call("record_checkin", posture, context, at, source, prompted, by, measures))

    def answer_drills(self, names: list[str], at: datetime | None = None, source: str = "cli",
                      answers: str | None = None) -> tuple[list[r.DrillDone], bool]:
        return cast("tuple[list[r.DrillDone], bool]", self._call("answer_drills", names, at, source, answers))

    def answer_circuit(self, rounds: int | None = None, at: datetime | None = None, source: str = "cli",
                       answers: str | None = None) -> tuple[r.Circuit, bool]:
        return cast("tuple[r.Circuit, bool]", self._call("answer_circuit", rounds, at, source, answers))

    def answer_soreness(
        self, values: dict[str, int | None], at: datetime | None = None, run: str | None = None,
        form: frozenset[str] = frozenset(), si_pain: bool = False, source: str = "cli", answers: str | None = None,
    ) -> tuple[tuple[r.Soreness, rules.Advice], bool]:
        return cast("tuple[tuple[r.Soreness, rules.Advice], bool]",
                    self._call("answer_soreness", values, at, run, form, si_pain, source, answers))

    def add_run(
        self, start: datetime | None, duration: timedelta, distance_km: float, source: str = "cli",
        sport: str = "running", moving: timedelta | None = None, fingerprint: str | None = None,
        origin: str | None = None,
    ) -> RunSaved:
        return cast(RunSaved, self._call("add_run", start, duration, distance_km, source, sport, moving,
                                         fingerprint, origin))

    def undo(self, source: str = "cli") -> TakenBack:
        return cast(TakenBack, self._call("undo", source))


class WorkerChores:
    """`Chores` over a `WorkerLink`. Whether sync is set up is asked once, then again only when the
    database files changed (`data_changed`): an idle housekeeping minute starts no worker."""

    def __init__(self, link: WorkerLink, settings: Callable[[], Settings], clock: Clock) -> None:
        self.link, self.settings, self.clock = link, settings, clock
        self._sync: bool | None = None

    def _call(self, method: str, *args: Any) -> Any:
        return self.link.call(self.settings(), self.clock.now(), method, *args)

    def daily_backup(self, now: datetime, zone: tzinfo) -> None:
        self._call("daily_backup", now, zone)

    def sync_set_up(self) -> bool:
        if self._sync is None:
            self._sync = bool(self._call("sync_set_up"))
        return self._sync

    def data_changed(self, stamp: tuple[Any, ...]) -> bool:
        """Whether another process wrote: the files moved since this link's last request, or
        between two of them; the agent's own worker's writes (and its exit's checkpoint) are not news."""
        news = self.link.foreign or stamp != self.link.own_stamp
        self.link.foreign = False
        if news:
            self._sync = None
        return news

    def sync_round(self, device_name: str) -> tuple[str, bool]:
        return cast("tuple[str, bool]", self._call("sync_round", device_name))

    def import_folder(self, folder: str) -> None:
        self._call("import_folder", folder)

    def warm(self) -> None:
        self.link.warm(self.settings(), self.clock.now())

    def close(self) -> None:
        self.link.close()
