"""Loaded only when this folder is on PYTHONPATH, as the suite does for processes under libfaketime.

With FAKETIME_DONT_FAKE_MONOTONIC=1 (so timeouts and durations stay real while the wall clock is
moved), libfaketime 0.9.10 makes Python 3.11's `time.sleep` fail with EINVAL, and `subprocess`
waits with it. Sleeping on a held lock's timeout waits on the real monotonic clock instead.
"""

from __future__ import annotations

import errno
import threading
import time

_real_sleep = time.sleep


def _sleep(seconds: float) -> None:
    try:
        _real_sleep(seconds)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise
        held = threading.Lock()
        held.acquire()
        held.acquire(timeout=max(0.0, seconds))


time.sleep = _sleep
