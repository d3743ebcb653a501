"""Meetings from the user's calendar files: is one going on now? (docs/presence.md)

The calendar is other people's input, so the agent never reads it while it holds its lock and
never parses it in its own process. When a file changes (modification time, size, inode) or a new
day begins, a short-lived child process (`presence/ics.py`, icalendar and recurring-ical-events)
expands the files into the meetings of the next days and writes them to `calendar.json` in the
data folder, atomically; commands reuse that file. The check at fire time only bisects the busy
intervals read from it. The refresh runs on a thread of its own before the agent's pass takes
its lock; the pass waits for it a few seconds at most, and the child is killed past its budget.
A FIFO, a device, a file past the size cap, a hung mount: each is one line for `doctor`, and
prompts go on as if there were no calendar.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import stat
import subprocess
import sys
import tempfile
import threading
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from posture_agent import CALENDAR_PROCESS
from posture_agent.outputs import write_atomically
from posture_agent.presence.base import SignalUnavailable

log = logging.getLogger(__name__)

CACHE_FILE = "calendar.json"
FORMAT = 1
DAYS_AHEAD = 4
"""Today and the next three days are expanded; the command asks for other days itself."""
MAX_BYTES = 20 * 1024 * 1024
"""A larger calendar file is refused (named by doctor), never read."""
MAX_FOLDER_FILES = 200
"""The .ics files read from one folder; more are named as not read."""
EXPAND_SECONDS = 10.0
"""The child's budget: past it, it is killed and the calendar is unreadable until a file changes."""
WAIT_SECONDS = 3.0
"""How long a due prompt's pass waits for a refresh under way (outside the agent's lock)."""


@dataclass(frozen=True)
class Problem:
    """A file refused whole (no line) or one event skipped (its BEGIN:VEVENT line)."""

    file: str
    line: int | None
    problem: str

    def text(self) -> str:
        return f"{self.file}, line {self.line}: {self.problem}" if self.line else f"{self.file}: {self.problem}"

    def short(self) -> str:
        name = Path(self.file).name
        return f"{name}:{self.line}: {self.problem}" if self.line else f"{name}: {self.problem}"


@dataclass(frozen=True, order=True)
class Meeting:
    """One occurrence that holds prompts (UTC)."""

    start: datetime
    end: datetime
    summary: str = field(compare=False)
    file: str = field(compare=False)
    line: int | None = field(compare=False, default=None)


@dataclass(frozen=True)
class Request:
    """What the child expands: which files, in which zone (floating times), for which instants."""

    sources: tuple[str, ...]
    zone: str
    hold_tentative: bool
    start: datetime
    end: datetime
    out: Path

    def to_json(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources), "zone": self.zone, "hold_tentative": self.hold_tentative,
            "start": self.start.isoformat(), "end": self.end.isoformat(), "out": str(self.out),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Request:
        return cls(
            tuple(data["sources"]), data["zone"], bool(data["hold_tentative"]),
            datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"]), Path(data["out"]),
        )

    def same_reading(self, other: Request) -> bool:
        """The same files, zone and tentative rule: only the window may differ."""
        return (self.sources, self.zone, self.hold_tentative) == (other.sources, other.zone, other.hold_tentative)


@dataclass(frozen=True)
class Expansion:
    """What the child made of the calendar (the cache file's content)."""

    request: Request
    stamps: list[list[Any]]
    files: tuple[str, ...]
    events: int
    problems: tuple[Problem, ...]
    meetings: tuple[Meeting, ...]

    def covers(self, start: datetime, end: datetime) -> bool:
        return self.request.start <= start and end <= self.request.end

    def unreadable(self) -> str | None:
        """The one line saying why nothing could be read, or None when a file was."""
        if self.files or not self.problems:
            return None
        return self.problems[0].text() if len(self.problems) == 1 else "; ".join(p.text() for p in self.problems)

    def state(self) -> str:
        """The calendar's state in one line (doctor)."""
        broken = self.unreadable()
        if broken:
            return broken
        files = len(self.files)
        line = f"{files} file{'s' if files != 1 else ''} read, {self.events} event{'s' if self.events != 1 else ''}"
        if self.problems:
            line += f", {len(self.problems)} skipped ({'; '.join(p.short() for p in self.problems[:3])}"
            line += ", …)" if len(self.problems) > 3 else ")"
        return line

    def between(self, start: datetime, end: datetime) -> list[Meeting]:
        return [m for m in self.meetings if m.end > start and m.start < end]

    def holding(self, at: datetime) -> Meeting | None:
        """The meeting going on at `at` that ends last (it holds a prompt due then), or None."""
        going_on = [m for m in self.meetings if m.start <= at < m.end]
        return max(going_on, key=lambda m: m.end) if going_on else None

    def to_json(self) -> dict[str, Any]:
        starts, ends = busy_blocks(self.meetings)
        return {
            "format": FORMAT, "request": self.request.to_json(), "stamps": self.stamps,
            "files": list(self.files), "events": self.events,
            "problems": [[p.file, p.line, p.problem] for p in self.problems],
            "busy": [starts, ends],
            "meetings": [[m.start.timestamp(), m.end.timestamp(), m.summary, m.file, m.line] for m in self.meetings],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], meetings: bool = True) -> Expansion:
        """The expansion a cache file holds; without its meetings (the resident needs only the
        busy spans) when `meetings` is False."""
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        return cls(
            Request.from_json(data["request"]), list(data["stamps"]), tuple(data["files"]), int(data["events"]),
            tuple(Problem(str(f), line, str(p)) for f, line, p in data["problems"]),
            tuple(
                Meeting(datetime.fromtimestamp(s, UTC), datetime.fromtimestamp(e, UTC), str(t), str(f), line)
                for s, e, t, f, line in data["meetings"]
            ) if meetings else (),
        )


def write_expansion(path: Path, expansion: Expansion) -> None:
    write_atomically(path, json.dumps(expansion.to_json(), separators=(",", ":")), prefix=".calendar-")


def read_expansion(path: Path) -> Expansion | None:
    """The cached expansion; None when there is none or it is damaged (logged: it is made again)."""
    found = _read_cache(path, meetings=True)
    return found[0] if found else None


def _read_cache(path: Path, meetings: bool) -> tuple[Expansion, list[float], list[float]] | None:
    """The cache file's expansion (with or without its meetings) and its busy spans."""
    try:
        data = json.loads(path.read_bytes())
        starts, ends = ([float(x) for x in column] for column in data["busy"])
        return Expansion.from_json(data, meetings), starts, ends
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.warning("calendar cache %s not read (%s): it is made again", path, exc)
        return None


# --- which files, and whether they changed ---------------------------------------------------------


def calendar_files(sources: Sequence[str]) -> tuple[list[Path], list[Problem]]:
    """The files the configured paths name: a file itself, or a folder's .ics files (not followed
    out of the folder through a link; at most MAX_FOLDER_FILES). Problems name what is not read."""
    files: list[Path] = []
    problems: list[Problem] = []
    for source in sources:
        path = Path(source)
        try:
            is_folder = stat.S_ISDIR(path.stat().st_mode)
        except OSError as exc:
            problems.append(Problem(source, None, f"cannot be read: {exc.strerror or exc}"))
            continue
        if not is_folder:
            files.append(path)
            continue
        folder = path.resolve()
        found = []
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as exc:
            problems.append(Problem(source, None, f"cannot be listed: {exc.strerror or exc}"))
            continue
        for entry in entries:
            if not entry.name.lower().endswith(".ics") or entry.name.startswith("."):
                continue
            if entry.is_symlink() and Path(entry.path).resolve().parent != folder:
                problems.append(Problem(entry.path, None, "a link out of its folder: not read"))
                continue
            found.append(Path(entry.path))
        if len(found) > MAX_FOLDER_FILES:
            problem = f"has {len(found)} .ics files: the first {MAX_FOLDER_FILES} are read"
            problems.append(Problem(source, None, problem))
        files += found[:MAX_FOLDER_FILES]
    return files, problems


def stamps(sources: Sequence[str]) -> list[list[Any]]:
    """What changes when a calendar file or folder does: [path, mtime_ns, size, inode] (or the
    error) for each configured path and each .ics file of a folder."""
    out: list[list[Any]] = []
    files, _ = calendar_files(sources)
    for name in [*sources, *(str(f) for f in files if str(f) not in sources)]:
        try:
            st = os.stat(name)
        except OSError as exc:
            out.append([name, exc.errno])
        else:
            out.append([name, st.st_mtime_ns, st.st_size, st.st_ino])
    return out


# --- the child process ----------------------------------------------------------------------------


def child_command(request: Request) -> list[str]:
    """The program started for one expansion (a frozen build has no `python -m`)."""
    arg = json.dumps(request.to_json())
    if getattr(sys, "frozen", False):
        return [sys.executable, CALENDAR_PROCESS, arg]
    return [sys.executable, "-m", "posture_agent", CALENDAR_PROCESS, arg]


def expand_in_child(request: Request, budget: float = EXPAND_SECONDS) -> Expansion:
    """Run the child for `request` and read what it wrote; a child that fails or outlives its
    budget gives an expansion naming why (no file read)."""
    try:
        done = subprocess.run(
            child_command(request), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, timeout=budget, check=False,
        )
    except subprocess.TimeoutExpired:
        return _failed(request, f"not read within {budget:g} s (a hung mount, or too many repeats)")
    except OSError as exc:
        return _failed(request, f"the calendar reader could not start: {exc.strerror or exc}")
    expansion = read_expansion(request.out) if done.returncode == 0 else None
    if expansion is None:
        why = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no result"])[-1]
        return _failed(request, f"the calendar reader failed: {why[:200]}")
    return expansion


def _failed(request: Request, why: str) -> Expansion:
    label = request.sources[0] if len(request.sources) == 1 else f"calendar ({len(request.sources)} paths)"
    return Expansion(request, [], (), 0, (Problem(label, None, why),), ())


def window(now: datetime, zone: tzinfo, days: int = DAYS_AHEAD) -> tuple[datetime, datetime]:
    """From the local midnight that began today, `days` local days on (UTC)."""
    today = now.astimezone(zone).date()
    begins = datetime.combine(today, datetime.min.time()).replace(tzinfo=zone)
    ends = datetime.combine(today + timedelta(days=days), datetime.min.time()).replace(tzinfo=zone)
    return begins.astimezone(UTC), ends.astimezone(UTC)


def zone_name(zone: tzinfo) -> str:
    """The IANA name the child rebuilds the zone from ("" = the system's, as here)."""
    return str(getattr(zone, "key", "") or "")


def busy_blocks(meetings: Sequence[Meeting]) -> tuple[list[float], list[float]]:
    """Meetings merged into disjoint busy spans (starts, ends as POSIX seconds), for bisecting."""
    starts: list[float] = []
    ends: list[float] = []
    for m in sorted(meetings):
        s, e = m.start.timestamp(), m.end.timestamp()
        if ends and s <= ends[-1]:
            ends[-1] = max(ends[-1], e)
        else:
            starts.append(s)
            ends.append(e)
    return starts, ends


# --- the signal -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    """The cache file as the resident holds it: its stamp, the expansion without meetings, and the
    busy spans (POSIX seconds, sorted, disjoint) the check bisects."""

    stamp: tuple[int, int, int] | None = None
    expansion: Expansion | None = None
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)


class CalendarFile:
    """The calendar signal. `refresh(now)` (off the agent's lock) brings the cache up to date;
    `away(now)` only bisects the busy spans read from it."""

    kind = "calendar"

    def __init__(
        self, sources: Sequence[str | Path] | str | Path, zone: tzinfo, data_dir: Path,
        hold_tentative: bool = True, budget: float = EXPAND_SECONDS,
    ) -> None:
        listed = [sources] if isinstance(sources, (str, Path)) else list(sources)
        self.sources = tuple(str(s) for s in listed)
        self.zone = zone
        self.cache = data_dir / CACHE_FILE
        self.hold_tentative = hold_tentative
        self.budget = budget
        names = [Path(s).name for s in self.sources]
        self.source = f"calendar file {names[0]}" if len(names) == 1 else f"calendars {', '.join(names)}"
        self._guard = threading.Lock()
        self._worker: threading.Thread | None = None
        self._worker_started = 0.0
        self._loaded: _Loaded = _Loaded()

    def request(self, start: datetime, end: datetime, out: Path | None = None) -> Request:
        return Request(self.sources, zone_name(self.zone), self.hold_tentative, start, end, out or self.cache)

    # --- keeping the cache fresh (never under the agent's lock) ----------------------------------

    def refresh(self, now: datetime, wait: float = WAIT_SECONDS) -> None:
        """Expand again if a file changed or the day did, on a thread; wait for it `wait` s at most.
        The thread only compares the files' stamps with the cache's (a stat may hang on a network
        mount) and runs the child; a refresh still under way from before is not waited for again."""
        current = self.expansion()
        with self._guard:
            worker = self._worker
            if worker is None or not worker.is_alive():
                worker = threading.Thread(
                    target=self._refresh, args=(now, current), name="calendar-refresh", daemon=True
                )
                self._worker, self._worker_started = worker, _time.monotonic()
                worker.start()
            elif _time.monotonic() - self._worker_started > self.budget + wait:
                return
        if wait <= 0:
            return  # housekeeping only starts it: the next pass waits for it
        worker.join(wait)
        if worker.is_alive():
            log.warning("calendar still being read after %.0f s; the last reading holds prompts meanwhile", wait)

    def _refresh(self, now: datetime, current: Expansion | None) -> None:
        try:
            wanted = self.request(*window(now, self.zone))
            if current is not None and current.request == wanted and current.stamps == stamps(self.sources):
                return
            log.info("calendar read again (%s)", "changed" if current is not None else "first reading")
            expansion = expand_in_child(wanted, self.budget)
            if expansion.problems:
                log.warning("calendar: %s", expansion.state())
            if not expansion.stamps:  # the child wrote nothing: keep why, so it is not retried every pass
                write_expansion(self.cache, Expansion(wanted, stamps(self.sources), (), 0, expansion.problems, ()))
        except Exception:  # a failed refresh leaves the last reading; the log says why
            log.exception("calendar refresh failed")

    # --- reading the cache ------------------------------------------------------------------------

    def expansion(self) -> Expansion | None:
        """The cached expansion without its meetings, read again when the cache file changed."""
        return self._load().expansion

    def _load(self) -> _Loaded:
        """What the cache holds now, replaced as a whole (the agent's jobs may ask from two threads)."""
        try:
            st = os.stat(self.cache)
        except OSError:
            self._loaded = _Loaded()
            return self._loaded
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        loaded = self._loaded
        if stamp != loaded.stamp:
            found = _read_cache(self.cache, meetings=False)
            loaded = _Loaded(stamp, *found) if found else _Loaded(stamp)
            self._loaded = loaded
        return loaded

    def away(self, now: datetime) -> str | None:
        loaded = self._load()
        expansion = loaded.expansion
        if expansion is None or not expansion.request.same_reading(self.request(now, now)):
            raise SignalUnavailable("calendar not read yet")
        broken = expansion.unreadable()
        if broken:
            raise SignalUnavailable(f"calendar {broken}")
        if not expansion.covers(now, now):
            raise SignalUnavailable("calendar not read for today yet")
        at = now.timestamp()
        i = bisect.bisect_right(loaded.starts, at) - 1
        if i < 0 or loaded.ends[i] <= at:
            return None
        until = datetime.fromtimestamp(loaded.ends[i], UTC).astimezone(self.zone)
        return f"in a meeting until {until:%H:%M}"

    def meetings(self, start: datetime, end: datetime, now: datetime) -> Expansion:
        """For commands: the meetings between two instants, as the agent reads them. The cache when
        it is fresh and covers them (refreshed first), else a child of its own for that window."""
        today = window(now, self.zone)
        if today[0] <= start and end <= today[1]:
            self.refresh(now, wait=self.budget + 1)
            cached = read_expansion(self.cache)
            same = cached is not None and cached.request.same_reading(self.request(start, end))
            if cached is not None and same and cached.covers(start, end):
                return cached
        self.cache.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".calendar-query-", suffix=".json", dir=self.cache.parent)
        os.close(fd)
        try:
            return expand_in_child(self.request(start, end, Path(name)), self.budget)
        finally:
            Path(name).unlink(missing_ok=True)
