"""Prompt windows as the resident app shows them: one at a time, and a check-in's window in a
process of its own (`posture_agent.window_process`), so Tk never enters the resident for it.

`OneAtATime` is thread-safe: the agent's thread offers windows, whichever thread sees a window go
says so. A window waiting its turn whose prompt closes meanwhile is dropped, never shown late.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from posture_agent import WINDOW_PROCESS
from posture_agent.agent.events import ActivePrompt

log = logging.getLogger(__name__)

Show = Callable[[], None]
"""Puts the prompt's window on screen; whoever shows it calls `OneAtATime.gone(id)` when it goes
(or at once, if it decided not to show it)."""


class OneAtATime:
    def __init__(self, trace: Callable[..., None]) -> None:
        self.trace = trace
        self._lock = threading.Lock()
        self.current: ActivePrompt | None = None
        """The prompt whose window is on screen (or being put there)."""
        self.waiting: list[tuple[ActivePrompt, Show]] = []

    def offer(self, active: ActivePrompt, show: Show) -> None:
        with self._lock:
            if self.current is not None:
                self.waiting.append((active, show))
                self.trace("waiting", prompt=active.id, kind=active.prompt.kind, behind=self.current.id)
                return
            self.current = active
        show()

    def gone(self, prompt_id: str) -> None:
        """The window of `prompt_id` closed (or was not shown): the next one waiting gets its turn."""
        with self._lock:
            if self.current is None or self.current.id != prompt_id:
                return
            self.current = None
            nxt = self.waiting.pop(0) if self.waiting else None
        if nxt is not None:
            self.offer(*nxt)

    def drop(self, keep: Callable[[ActivePrompt], bool]) -> None:
        """Forget the waiting prompts for which `keep` is false (closed, or replaced by a newer one)."""
        with self._lock:
            self.waiting = [(a, s) for a, s in self.waiting if keep(a)]


class CheckinProcess:
    """A check-in's window in its own process. `on_mapped(seconds since start)` and `on_gone()` are
    called from a watcher thread, which sleeps on the child's stdout (no polling)."""

    def __init__(self, active: ActivePrompt, runtime_dir: Path, seconds_left: float, log_file: Path | None,
                 on_mapped: Callable[[float], None], on_gone: Callable[[], None]) -> None:
        self.active = active
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
            [*module, "checkin", "--runtime", str(runtime_dir), "--prompt", active.id,
             "--context", active.prompt.context or "desk", "--seconds-left", f"{seconds_left:.0f}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True,
        )
        if not isinstance(err, int):
            err.close()
        self._on_mapped, self._on_gone = on_mapped, on_gone
        threading.Thread(target=self._watch, name="checkin-window", daemon=True).start()

    def _watch(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip() == "mapped":
                self._on_mapped(time.perf_counter() - self.started)
        self.proc.wait()
        self._on_gone()

    def close(self) -> None:
        """The prompt closed another way: the window goes without storing anything."""
        if self.proc.poll() is None:
            self.proc.terminate()
