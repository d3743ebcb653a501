"""What `posture-agent start` does before the agent runs: the settings and the database, checked the
way a resident process must check them.

- A broken config file does not stop the agent: it runs with the defaults, and the user is told
  (stderr, the log and a desktop notification) which file and line are wrong. The file is never
  rewritten; fixing it is picked up by the agent's config reload (housekeeping or SIGHUP).
- The database gets the full `quick_check` whatever its size (`open_store(check=True)`). A damaged
  file is moved aside by the store (never overwritten); a database from a newer version is refused
  and left untouched. Either way the agent does not start, and the same line that goes to stderr
  also goes to a desktop notification: an agent started at login has no terminal to print to.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from posture_agent.config import Settings, ensure_config, load_settings_kept
from posture_agent.errors import StoreError
from posture_agent.paths import Paths

log = logging.getLogger(__name__)

CONFIG_TITLE = "posture-agent: your config file has a mistake"
STORE_TITLE = "posture-agent did not start: database problem"
T = TypeVar("T")


def tell(title: str, message: str, notifier: Any = None) -> None:
    """One line on stderr and a desktop notification (best effort: no daemon is not an error here)."""
    print(f"posture-agent: {message}", file=sys.stderr, flush=True)
    if notifier is None:
        from posture_agent.agent.notify import Notifier

        notifier = Notifier()
    notifier.notify(title, message)


def prepare(paths: Paths, open_data: Callable[[Settings], T]) -> tuple[Settings, T]:
    """Settings (defaults when the file is broken) and `open_data(settings)`: the data, opened on
    the checked store (`posture-agent start`: by the worker process, which runs `open_store(check=True)`).
    Raises StoreError when the agent must not start (damaged, newer or locked database), after
    telling the user."""
    ensure_config(paths.config_file)  # writes the commented defaults only when there is no file
    loaded = load_settings_kept(paths.config_file)
    settings = loaded.settings
    if loaded.problem is not None:
        line = loaded.problem_line("running with")
        log.error("%s", line)
        tell(CONFIG_TITLE, line)
    paths.make_dirs()
    try:
        data = open_data(settings)
    except StoreError as exc:
        log.error("agent not started: %s", exc)
        from posture_agent.agent.notify import Notifier

        Notifier().notify(STORE_TITLE, str(exc))  # the CLI prints the same line on stderr
        raise
    return settings, data
