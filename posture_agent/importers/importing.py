"""Taking parsed activities into the journal: running legs become runs (source "import"), other
sports are skipped with their sport, and a run already in the log (same file, or an overlapping time
from another format or typed by hand) is not stored twice.

Every leg of a file is checked before any is stored, so a file with one absurd leg stores nothing.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from posture_agent.errors import StoreError, UserError
from posture_agent.filenames import printable, stored
from posture_agent.importers.activity import Activity, ParsedFile, ParseError
from posture_agent.importers.reader import read_file
from posture_agent.journal import FUTURE_TOLERANCE, MIN_DURATION, Journal, check_run
from posture_agent.store import queries as q

log = logging.getLogger(__name__)

IMPORTED, ALREADY, SKIPPED, FAILED = "imported", "already_imported", "skipped", "failed"
STATUSES = (IMPORTED, ALREADY, SKIPPED, FAILED)
PENDING = "pending"
"""A leg judged importable, not yet stored (never in a returned outcome)."""


@dataclass(frozen=True)
class LegOutcome:
    """What became of one activity (one leg of a multisport file)."""

    activity: Activity
    status: str
    detail: str
    run_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one file."""

    path: str
    status: str
    detail: str
    format: str | None = None
    damage: str | None = None
    """The track was damaged; the runs came from the file's intact summary alone."""
    legs: tuple[LegOutcome, ...] = field(default_factory=tuple)

    @property
    def run_ids(self) -> list[str]:
        return [leg.run_id for leg in self.legs if leg.run_id and leg.status == IMPORTED]

    @property
    def partial(self) -> bool:
        """Runs were taken (or recognised) from a damaged file's intact summary."""
        return self.damage is not None and self.status != FAILED


def fingerprint(sha256: str, leg: int) -> str:
    """The same leg of the same file content, wherever the file lies."""
    return hashlib.sha256(f"{sha256}:{leg}".encode()).hexdigest()


def clock_text(span: timedelta) -> str:
    seconds = round(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def describe(activity: Activity) -> str:
    """"6.00 km in 32:33 (moving 32:33), 2020-12-10 07:27 +01:00"."""
    start = activity.local_start
    offset = start.strftime("%z")
    zone = f"{offset[:3]}:{offset[3:]}" if activity.utc_offset is not None else "UTC"
    km = f"{activity.distance_km:.2f} km" if activity.distance_km is not None else "no distance"
    pauses = activity.moving is not None and activity.moving != activity.elapsed
    moving = f" (moving {clock_text(activity.moving)})" if activity.moving and pauses else ""
    return f"{km} in {clock_text(activity.elapsed)}{moving}, {start:%Y-%m-%d %H:%M} {zone}"


def sport_text(activity: Activity) -> str:
    """"cycling (MTB)", "running (type 9 in the file)", "running (no sport in the file: from the pace)"."""
    label, sport = activity.label, activity.sport
    if activity.sport_inferred:
        return f"{sport} (no sport in the file: taken from the pace)"
    if label == "not given" and sport == "other":
        return "no sport in the file, and its pace is not a running pace"
    if label in (sport, "not given") or label.lower() == sport:
        return sport
    if label.isdigit():
        return f"{sport} (Strava type {label})"
    return f"{sport} ({label})"


@dataclass(frozen=True)
class FileRead:
    """What reading one file gave: its digest and activities, or why it cannot be read."""

    sha256: str | None = None
    parsed: ParsedFile | None = None
    error: str | None = None


def read_one(path: Path) -> FileRead:
    """Parse one file; never raises for a bad file (a parser bug is logged with its traceback)."""
    try:
        content, parsed = read_file(path)
    except ParseError as exc:
        log.info("import of %s failed: %s", path, exc)
        return FileRead(error=str(exc))
    except Exception as exc:  # a parser bug must not stop the other files; the log has the trace
        log.exception("unexpected error reading %s", path)
        return FileRead(error=f"cannot be read ({exc.__class__.__name__}: {exc})")
    return FileRead(content.sha256, parsed)


MAX_WORKERS = 4
PARALLEL_FROM = 3
"""Files in one command from which parsing (pure Python, CPU-bound) is spread over processes."""


class Reading:
    """Files being parsed, in worker processes when there are several files and CPUs.

    Started before the database is opened, so parsing overlaps opening (and migrating) the store.
    Workers are forked, which is only safe from a single-threaded process: the command line, not
    the running agent (its folder scans read files one by one).
    """

    def __init__(self, paths: Sequence[Path], parallel: bool = True) -> None:
        self.paths = list(paths)
        self._pool: Executor | None = None
        self._futures: dict[int, Future[FileRead]] = {}
        workers = min(os.cpu_count() or 1, MAX_WORKERS, len(self.paths))
        if parallel and workers > 1 and len(self.paths) >= PARALLEL_FROM and sys.platform == "linux":
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
            # Largest first, so one big file does not finish last on its own.
            for index in sorted(range(len(self.paths)), key=lambda i: -_size(self.paths[i])):
                self._futures[index] = self._pool.submit(read_one, self.paths[index])

    def results(self) -> Iterator[tuple[Path, FileRead]]:
        try:
            for index, path in enumerate(self.paths):
                future = self._futures.get(index)
                yield path, future.result() if future else read_one(path)
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def import_files(
    journal: Journal | Callable[[], Journal], paths: Iterable[Path], parallel: bool = False,
) -> list[Outcome]:
    """Import every file, in order. `journal` may be a function opening it, called once parsing has
    started, so that a parallel read overlaps opening the database."""
    reading = Reading(list(paths), parallel)
    opened = journal if isinstance(journal, Journal) else journal()
    return [store_safely(opened, path, read) for path, read in reading.results()]


def store_safely(journal: Journal, path: Path, read: FileRead) -> Outcome:
    """`store`, where an unexpected error fails this file alone (the log has the trace); a broken
    database (StoreError) still stops the command, since no other file could be stored either."""
    try:
        return store(journal, path, read)
    except StoreError:
        raise
    except Exception as exc:
        log.exception("unexpected error storing %s", printable(str(path)))
        return Outcome(str(path), FAILED, f"cannot be stored ({exc.__class__.__name__}: {printable(str(exc))})")


def import_file(journal: Journal, path: Path) -> Outcome:
    """Read one file and store its running legs; never raises for a bad file."""
    return store_safely(journal, path, read_one(path))


def store(journal: Journal, path: Path, read: FileRead) -> Outcome:
    """Store the running legs of a file already read."""
    shown = str(path)
    if read.parsed is None or read.sha256 is None:
        return Outcome(shown, FAILED, read.error or "cannot be read")
    parsed, sha256 = read.parsed, read.sha256
    if not parsed.activities:
        return Outcome(shown, SKIPPED, parsed.no_activity_reason or "no activity in the file", parsed.format)
    legs = [_judge(journal, a, fingerprint(sha256, a.leg)) for a in parsed.activities]
    failed = [leg for leg in legs if leg.status == FAILED]
    if failed:
        several = len(legs) > 1
        why = "; ".join((f"leg {x.activity.leg + 1}: " if several else "") + x.detail for x in failed)
        return _failed(shown, parsed, legs, why)
    stored = [_store(journal, leg, fingerprint(sha256, leg.activity.leg), path) for leg in legs]
    return _summarise(shown, parsed, stored)


def _judge(journal: Journal, activity: Activity, print_: str) -> LegOutcome:
    """Decide a leg's fate without writing: skipped, already imported, failed, or to import."""
    if activity.sport != "running":
        return LegOutcome(activity, SKIPPED, sport_text(activity))
    if activity.elapsed < MIN_DURATION:
        seconds = activity.elapsed.total_seconds()
        return LegOutcome(activity, SKIPPED, f"too short for a run ({seconds:.0f} s; at least 1 minute)")
    if activity.distance_km is None:
        return LegOutcome(activity, FAILED, "no distance in the file")
    try:
        check_run(activity.distance_km, activity.elapsed)
    except UserError as exc:
        return LegOutcome(activity, FAILED, str(exc))
    if activity.end > journal.now() + FUTURE_TOLERANCE:
        return LegOutcome(activity, FAILED, f"ends in the future ({describe(activity)}): is the device's clock wrong?")
    with journal.store.transaction() as s:
        same = q.run_by_fingerprint(s, print_)
        if same is not None:
            if q.taken_back(s, same.id):  # deleted or edited since: the file does not bring it back
                return LegOutcome(activity, ALREADY, f"same file as run {same.id[:8]}, since deleted or edited",
                                  same.id)
            return LegOutcome(activity, ALREADY, f"same file as run {same.id[:8]}", same.id)
        overlapping = q.runs_overlapping(s, activity.start, activity.end)
    if overlapping:
        other = overlapping[0]
        return LegOutcome(
            activity, ALREADY,
            f"same run as {other.id[:8]} ({other.distance_km:.2f} km at "
            f"{other.start.astimezone(journal.zone):%Y-%m-%d %H:%M}, from {other.source}): overlapping in time",
            other.id,
        )
    return LegOutcome(activity, PENDING, "to import")


def _store(journal: Journal, leg: LegOutcome, print_: str, path: Path) -> LegOutcome:
    if leg.status != PENDING:
        return leg
    a = leg.activity
    assert a.distance_km is not None
    try:
        saved = journal.add_run(
            a.start, a.elapsed, a.distance_km, source="import", sport="running", moving=a.moving,
            fingerprint=print_, origin=stored(path.resolve()),
        )
    except UserError as exc:
        return LegOutcome(a, FAILED, str(exc))
    detail = describe(a) + (f"; {saved.warning}" if saved.warning else "")
    return LegOutcome(a, IMPORTED, detail, saved.run.id)


def _failed(shown: str, parsed: ParsedFile, legs: list[LegOutcome], why: str) -> Outcome:
    prefix = f"{parsed.damage}; " if parsed.damage else ""
    legs = [
        LegOutcome(leg.activity, SKIPPED, "not stored: another leg of the file failed") if leg.status == PENDING
        else leg
        for leg in legs
    ]
    return Outcome(shown, FAILED, prefix + why, parsed.format, parsed.damage, tuple(legs))


def _summarise(shown: str, parsed: ParsedFile, legs: list[LegOutcome]) -> Outcome:
    imported = [leg for leg in legs if leg.status == IMPORTED]
    already = [leg for leg in legs if leg.status == ALREADY]
    failed = [leg for leg in legs if leg.status == FAILED]
    several = len(legs) > 1
    note = f" (partial: {parsed.damage}; read from the file's own summary, which is intact)" if parsed.damage else ""

    def leg_text(leg: LegOutcome) -> str:
        return (f"leg {leg.activity.leg + 1}: " if several else "") + leg.detail

    if failed:
        return _failed(shown, parsed, legs, "; ".join(leg_text(x) for x in failed))
    if imported:
        text = "; ".join(leg_text(x) for x in imported)
        if several:
            text = f"{len(imported)} running leg{'s' if len(imported) > 1 else ''} of {len(legs)}: {text}"
        if not several:
            text = f"{sport_text(imported[0].activity)}, {text}"
        return Outcome(shown, IMPORTED, text + note, parsed.format, parsed.damage, tuple(legs))
    if already:
        return Outcome(shown, ALREADY, "; ".join(leg_text(x) for x in already) + note, parsed.format,
                       parsed.damage, tuple(legs))
    if parsed.damage:
        # Nothing usable was salvaged from a damaged file: it is refused, not quietly skipped.
        return _failed(shown, parsed, legs, "nothing importable in its intact summary (" +
                       "; ".join(leg_text(x) for x in legs) + ")")
    return Outcome(shown, SKIPPED, "; ".join(dict.fromkeys(leg_text(x) for x in legs)), parsed.format,
                   None, tuple(legs))
