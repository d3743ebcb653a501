"""For tests/test_agent_safety_crash.py: the worker process (`--worker-process`) SIGKILLs itself just
before its Nth write statement or commit (KILL_WORKER_BEFORE_WRITE), once: only while the marker
file KILL_WORKER_MARK exists, which it removes first. Any other `sitecustomize` further on the path
(the suite's libfaketime one) still runs."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _install(number: int, mark: Path) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    seen = [0]

    def hit() -> None:
        seen[0] += 1
        if seen[0] == number and mark.exists():
            mark.unlink()
            os.kill(os.getpid(), signal.SIGKILL)

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            hit()

    event.listen(Engine, "before_cursor_execute", on_execute)
    event.listen(Engine, "commit", lambda conn: hit())


def _chain() -> None:
    for folder in sys.path:
        other = Path(folder or ".").resolve() / "sitecustomize.py"
        if folder and other.parent != HERE and other.is_file():
            exec(compile(other.read_text(), str(other), "exec"), {"__name__": "sitecustomize", "__file__": str(other)})
            return


if "--worker-process" in getattr(sys, "orig_argv", []) and os.environ.get("KILL_WORKER_BEFORE_WRITE"):
    _install(int(os.environ["KILL_WORKER_BEFORE_WRITE"]), Path(os.environ["KILL_WORKER_MARK"]))
_chain()
