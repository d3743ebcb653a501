"""Peers to measure beside: started the way a user meets them every day, not on their first run.

Workrave's first start in an empty HOME builds its configuration and stays at about 93 MB RSS
(64 MB PSS) for the rest of that run; every later start settles at about 41 MB. A benchmark that
measures the first run compares us with a Workrave no user lives with, so it is run once first.
"""

from __future__ import annotations

import subprocess
import time

from tests.desktop import stop_process

FIRST_RUN_S = 4.0
"""Long enough for Workrave to write its configuration (seen done within 1 s here)."""


def settle_first_run(cmd: list[str], env: dict[str, str]) -> None:
    """Start `cmd` once in `env` (its HOME and XDG folders), give it time to set itself up, stop it."""
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(FIRST_RUN_S)
    stop_process(proc)
