"""Signals reach the agent through a thread of their own, never inside the handler.

The deadlock this prevents: the main thread holds the lock of the Event (or Queue) it waits on at
the moment the signal arrives, and a handler that sets that Event needs the same lock. Here the
main thread holds the lock on purpose while it signals itself, so the old way hangs every time.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.processes import unfaked_env

HOLDS_THE_LOCK = """
import os, signal, sys, threading, time
from posture_agent.agent.signals import route_signals

stop, reloaded = threading.Event(), threading.Event()
route_signals(stop.set, reloaded.set)
with stop._cond:  # what Event.wait holds for an instant before it blocks
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.3)  # the handler has run by now; the callback waits for the lock on its own thread
print("stopped" if stop.wait(5) else "not stopped", flush=True)
os.kill(os.getpid(), signal.SIGHUP)
print("reloaded" if reloaded.wait(5) else "not reloaded", flush=True)
os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt: routed like SIGTERM
time.sleep(0.3)
print("alive", flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_signal_while_the_main_thread_holds_the_lock_still_stops() -> None:
    # The test is about threads and signals: under libfaketime their condition variables are wrapped.
    out = subprocess.run(
        [sys.executable, "-c", HOLDS_THE_LOCK], capture_output=True, text=True, timeout=30, env=unfaked_env()
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["stopped", "reloaded", "alive"]
