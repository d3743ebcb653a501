"""The agent built on an open store in this process: `AgentCore` (agent/core.py) with the journal
and the chores of this process's store. Tests, benchmarks and tools that hold a store use it;
`posture-agent start` builds the core on the worker process's client instead (worker_client.py),
so that the resident never loads the store.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable

from posture_agent.agent.chores import StoreChores
from posture_agent.agent.core import AgentCore
from posture_agent.clock import Clock
from posture_agent.config import Settings
from posture_agent.journal import Journal
from posture_agent.paths import Paths
from posture_agent.presence.base import ActiveWatch, Check
from posture_agent.store.db import Store


class Agent(AgentCore):
    """`AgentCore` on `store`, in this process (see agent/core.py for what it does)."""

    def __init__(
        self, paths: Paths, settings: Settings, store: Store, clock: Clock, presence: Check | None = None,
        monotonic: Callable[[], float] = _time.monotonic, watch: ActiveWatch | None = None,
    ) -> None:
        self.store = store
        chores = StoreChores(paths, store, clock, lambda: self.journal)
        super().__init__(paths, Journal(store, settings, clock), chores, clock, presence, monotonic, watch)

    @property
    def journal(self) -> Journal:
        journal = self.service.journal
        assert isinstance(journal, Journal)
        return journal
