"""The agent's chores that need the database file itself (`journal_port.Chores`), done in the
process that holds the store: the worker process for `posture-agent start`, the agent's own process
where an agent is built on a store (tests, benchmarks). The sync engine and the importers are loaded
by their first use, so a home that neither syncs nor watches a folder never carries them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

from posture_agent.agent.import_job import import_from_folder
from posture_agent.clock import Clock
from posture_agent.journal import Journal
from posture_agent.paths import Paths
from posture_agent.store import sharing
from posture_agent.store.backup import daily_backup
from posture_agent.store.db import Store


class StoreChores:
    """`Chores` on an open store; `journal()`: the journal in use (the import folder writes through it)."""

    def __init__(self, paths: Paths, store: Store, clock: Clock, journal: Callable[[], Journal]) -> None:
        self.paths, self.store, self.clock, self.journal = paths, store, clock, journal

    def daily_backup(self, now: datetime, zone: tzinfo) -> None:
        daily_backup(self.paths, now, zone)

    def sync_set_up(self) -> bool:
        with self.store.transaction() as conn:
            return sharing.read_state(conn, sharing.SYNC_FOLDER) is not None

    def sync_round(self, device_name: str) -> tuple[str, bool]:
        from posture_agent.sync import engine as sync_engine  # only where a shared folder is set up

        synced = sync_engine.housekeeping(self.store, self.clock, device_name)
        return synced.news or "", bool(synced.new_device_id)

    def import_folder(self, folder: str) -> None:
        import_from_folder(self.journal(), folder)

    def data_changed(self, stamp: tuple[Any, ...]) -> bool:
        """Any change counts here (this process's own writes too, as before the worker existed)."""
        return True

    def warm(self) -> None:
        """The store is open already."""

    def close(self) -> None:
        """The store is its opener's to close."""
