"""Windows as the resident app shows them: each in a process of its own
(`posture_agent.window_process`, started and watched by `WindowProcess`), so Tk never enters the
resident, and prompt windows one at a time (`OneAtATime`).

`OneAtATime` is thread-safe: the agent's thread offers windows, whichever thread sees a window go
says so. A window waiting its turn whose prompt closes meanwhile is dropped, never shown late.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from posture_agent import WINDOW_PROCESS
from posture_agent.agent.events import ActivePrompt
from posture_agent.domain.plan import PromptKind

log = logging.getLogger(__name__)

Show = Callable[[], None]
"""Puts the prompt's window on screen; whoever shows it calls `OneAtATime.gone(id)` when it goes
(or at once, if it decided not to show it)."""


TASKS = frozenset({PromptKind.DRILLS, PromptKind.CIRCUIT})
"""Prompts whose windows a user may keep open for a long while (answerable until the end of the
day). A check-in due once such a window has been open `BESIDE_AFTER_S` is shown beside it (the
check-in's window sits in the tray's corner, the task's in the middle of the screen) instead of
waiting behind it until it is too late."""


BESIDE_AFTER_S = 600.0
"""How long a task's window must have been on screen before a check-in is shown beside it: prompts due
together (at start, after sleep) still come one after another."""


class OneAtATime:
    def __init__(self, trace: Callable[..., None], monotonic: Callable[[], float] = time.monotonic) -> None:
        self.trace = trace
        self.monotonic = monotonic
        self._since = 0.0
        self._lock = threading.Lock()
        self.current: ActivePrompt | None = None
        """The prompt whose window is on screen (or being put there)."""
        self.waiting: list[tuple[ActivePrompt, Show]] = []
        self.held: str | None = None
        """A window that is not a prompt's holding the screen (the welcome), by name."""
        self.beside: ActivePrompt | None = None
        """A check-in shown while a task's window (`TASKS`) is open, in the tray's corner."""

    def hold(self, name: str) -> bool:
        """Keep the screen for the window `name` (not a prompt's: the welcome); the prompts offered
        meanwhile wait until `gone(name)`. False: the screen is taken, show it later or not at all."""
        with self._lock:
            if self.current is not None or self.held is not None:
                return False
            self.held = name
            return True

    def offer(self, active: ActivePrompt, show: Show) -> None:
        with self._lock:
            free = self.current is None and self.held is None
            beside = (
                not free and self.held is None and self.beside is None and self.current is not None
                and self.current.prompt.kind in TASKS and active.prompt.kind == PromptKind.CHECKIN
                and self.monotonic() - self._since >= BESIDE_AFTER_S
            )
            if not (free or beside):
                self.waiting.append((active, show))
                behind = self.current.id if self.current is not None else self.held
                self.trace("waiting", prompt=active.id, kind=active.prompt.kind, behind=behind)
                return
            if free:
                self.current, self._since = active, self.monotonic()
            else:
                self.beside = active
                self.trace("beside", prompt=active.id, task=self.current.id if self.current else None)
        show()

    def gone(self, prompt_id: str) -> None:
        """The window of `prompt_id` closed (or was not shown): the next one waiting gets its turn.
        A check-in shown beside a task's window takes the screen when the task's window goes."""
        with self._lock:
            if self.held is not None and self.held == prompt_id:
                self.held = None
            elif self.beside is not None and self.beside.id == prompt_id:
                self.beside = None
            elif self.current is None or self.current.id != prompt_id:
                return
            else:
                self.current, self.beside, self._since = self.beside, None, self.monotonic()
            nxt = self.waiting.pop(0) if self.waiting else None
        if nxt is not None:
            self.offer(*nxt)

    def drop(self, keep: Callable[[ActivePrompt], bool]) -> None:
        """Forget the waiting prompts for which `keep` is false (closed, or replaced by a newer one)."""
        with self._lock:
            self.waiting = [(a, s) for a, s in self.waiting if keep(a)]


class WindowProcess:
    """One window (`kind`: checkin, drills, …) in its own process, given `args` (its command line
    after the kind and the runtime folder). `on_mapped(seconds since start)`, `on_said(data)` (a
    JSON line the window printed: an answer the agent took) and `on_gone()` are called from a
    watcher thread, which sleeps on the child's stdout (no polling)."""

    def __init__(self, kind: str, args: list[str], runtime_dir: Path, log_file: Path | None,
                 on_mapped: Callable[[float], None], on_gone: Callable[[], None],
                 on_said: Callable[[dict[str, Any]], None] | None = None,
                 active: ActivePrompt | None = None) -> None:
        self.kind = kind
        self.active = active
        """The prompt this window answers, if a prompt opened it."""
        self.closing = False
        """Told to go (`close`): a new window of its kind does not wait for it."""
        self.started = time.perf_counter()
        frozen = getattr(sys, "frozen", False)  # its own executable, which has no `python -m`
        module = [sys.executable, WINDOW_PROCESS] if frozen else [sys.executable, "-m", "posture_agent.window_process"]
        err: IO[Any] | int = subprocess.DEVNULL
        if log_file is not None:
            try:
                err = log_file.open("ab")  # a crash's traceback belongs in the log, not on screen
            except OSError:
                err = subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [*module, kind, "--runtime", str(runtime_dir), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True,
        )
        if not isinstance(err, int):
            err.close()
        self._on_mapped, self._on_gone, self._on_said = on_mapped, on_gone, on_said
        threading.Thread(target=self._watch, name=f"{kind}-window", daemon=True).start()

    def _watch(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            text = line.strip()
            if text == "mapped":
                self._on_mapped(time.perf_counter() - self.started)
            elif text.startswith("{") and self._on_said is not None:
                try:
                    self._on_said(json.loads(text))
                except ValueError:
                    log.info("the %s window said %r", self.kind, text)
        self.proc.wait()
        self._on_gone()

    def running(self) -> bool:
        return self.proc.poll() is None and not self.closing

    def lift(self) -> None:
        """Its menu item again: the window comes to the front (SIGUSR1)."""
        if self.running() and hasattr(signal, "SIGUSR1"):
            self.proc.send_signal(signal.SIGUSR1)

    def close(self) -> None:
        """The prompt closed another way: the window goes without storing anything."""
        if self.running():
            self.closing = True
            self.proc.terminate()
