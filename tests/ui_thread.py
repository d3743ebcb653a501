"""A Tk thread for the window tests: a queue that the UI thread drains.

The app shows each window in a process of its own (posture_agent/window_process.py); the window
tests (tests/test_ui_windows.py) build the windows in the test process instead, on one thread
(Tk must only ever be touched from one thread): other threads call `post(work)`, and the thread
that called `run()` does the work with the Tk root it owns. Until the first window Tk is not
imported; with no window open the UI thread sleeps in `queue.get()`; while one is open Tk's
`after` polls the queue every 50 ms.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tkinter as tk

log = logging.getLogger(__name__)

Work = Callable[["tk.Tk"], Any]
"""A unit of UI work: called on the UI thread with the (hidden) Tk root."""

POLL_MS = 50
_STOP = object()


class Dispatcher:
    def __init__(self, root_factory: Callable[[], tk.Tk] | None = None) -> None:
        self._queue: queue.Queue[object] = queue.Queue()
        self._root: tk.Tk | None = None
        self._root_factory = root_factory
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.windows_open = threading.Event()
        """Set while at least one window is open (for tests and the benchmark)."""

    # --- any thread ------------------------------------------------------------------------------

    def post(self, work: Work) -> None:
        """Run `work(root)` on the UI thread as soon as it is free. Safe from any thread."""
        self._queue.put(work)

    def stop(self) -> None:
        """Close every window and make `run()` return. Safe from any thread."""
        self._queue.put(_STOP)

    # --- the UI thread ---------------------------------------------------------------------------

    def run(self) -> None:
        """Serve posted work until `stop()`: blocks the calling thread, which becomes the Tk thread."""
        self._thread = threading.current_thread()
        try:
            while not self._stopping:
                item = self._queue.get()
                if item is _STOP:
                    break
                self._do(item)
                if self._root is not None and self._has_windows():
                    self._serve_windows()
        finally:
            self._destroy_root()

    def _do(self, item: object) -> None:
        try:
            root = self._ensure_root()
            assert callable(item)
            item(root)
        except Exception:  # one broken window must not take the tray down with it
            log.exception("UI work failed")

    def _ensure_root(self) -> tk.Tk:
        if self._root is None:
            if self._root_factory is not None:
                self._root = self._root_factory()
            else:
                from posture_agent.ui.style import make_root

                self._root = make_root()
        return self._root

    def _has_windows(self) -> bool:
        assert self._root is not None
        try:
            return any(w.winfo_exists() for w in self._root.winfo_children() if w.winfo_class() == "Toplevel")
        except Exception:
            return False

    def _serve_windows(self) -> None:
        """Tk's main loop while windows are open; returns when the last one closes."""
        root = self._root
        assert root is not None
        self.windows_open.set()

        def drain() -> None:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._stopping = True
                    root.quit()
                    return
                self._do(item)
            if not self._has_windows():
                # Closed windows leave Tk objects in reference cycles; collect them here, on the
                # Tk thread: a collection on another thread would call into Tcl from the wrong thread.
                gc.collect()
                root.quit()
                return
            root.after(POLL_MS, drain)

        root.after(POLL_MS, drain)
        root.mainloop()
        # A window destroyed by posted work (not by one of its own events) is only unmapped once
        # Tk talks to the X server again: flush now, or it stays on screen while we sleep in get().
        try:
            root.update()
        except Exception:
            log.debug("Tk update after the last window failed", exc_info=True)
        self.windows_open.clear()

    def _destroy_root(self) -> None:
        if self._root is not None:
            try:
                self._root.destroy()
            except Exception:
                log.debug("Tk root already gone", exc_info=True)
            self._root = None
            gc.collect()
        self.windows_open.clear()
