"""The worker process: the resident agent's database work (`posture-agent --worker-process`, started
by agent/worker_client.py). It holds the store and the journal the command line uses (one data
path), answers one request at a time from its stdin (agent/worker_wire.py), and exits when the
resident closes its stdin (idle for a minute, the agent stopping, or the agent gone).

Each request carries the resident's "now": the journal here reads that time, so records are stamped
as the resident saw them, and a test that pins the resident's clock pins this one too.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import IO, Any

from posture_agent.agent.chores import StoreChores
from posture_agent.agent.worker_wire import Hello, Request, read_message, reply_for, write_message
from posture_agent.clock import FixedClock
from posture_agent.errors import UserError
from posture_agent.journal import Journal
from posture_agent.logsetup import setup_logging
from posture_agent.store.db import Store, open_store

log = logging.getLogger(__name__)

JOURNAL_METHODS = frozenset({
    "forget_device", "installed_at", "history", "advice", "drills_for", "runs", "prompts_shown", "open_prompts",
    "record_prompt_shown", "record_prompt_away", "close_prompt", "answer_prompt", "record_checkin",
    "answer_drills", "answer_circuit", "answer_soreness", "add_run", "undo",
})
"""What the resident may ask of the journal (journal_port.JournalPort); nothing else is called."""
CHORE_METHODS = frozenset({"daily_backup", "sync_set_up", "sync_round", "import_folder"})


class Worker:
    """The journal and the chores on one open store, at the time each request gives."""

    def __init__(self, hello: Hello) -> None:
        self.clock = FixedClock(hello.now)
        # a new database's install time is the system's, as `start` has always made it
        self.store: Store = open_store(hello.paths.db_file, hello.paths.backup_dir, check=hello.check)
        self.journal = Journal(self.store, hello.settings, self.clock)
        self.chores = StoreChores(hello.paths, self.store, self.clock, lambda: self.journal)

    def handle(self, request: Request) -> Any:
        self.clock.at = request.now
        if request.settings is not None:
            self.journal = self.journal.configured(request.settings)
        if request.method in JOURNAL_METHODS:
            target: object = self.journal
        elif request.method in CHORE_METHODS:
            target = self.chores
        else:
            raise UserError(f"the worker has no request {request.method!r}")
        return getattr(target, request.method)(*request.args, **request.kwargs)

    def close(self) -> None:
        self.store.close()


def serve(requests: IO[bytes], replies: IO[bytes]) -> int:
    """The loop: a Hello, then requests until the resident closes the pipe."""
    try:
        hello = read_message(requests)
    except EOFError:
        return 0
    setup_logging(hello.paths.log_file)
    try:
        worker = Worker(hello)
    except Exception as exc:  # a damaged or newer database: the resident says why
        if not isinstance(exc, UserError):
            log.exception("the worker could not open the store")
        write_message(replies, reply_for(exc))
        return 1
    write_message(replies, ("ok", None))
    log.info("worker process %d serving %s", os.getpid(), hello.paths.db_file)
    try:
        while True:
            try:
                request = read_message(requests)
            except EOFError:
                return 0
            try:
                reply: tuple[Any, ...] = ("ok", worker.handle(request))
            except UserError as exc:
                reply = reply_for(exc)
            except Exception as exc:  # a bug: the traceback here, one line to the resident
                log.exception("the worker's %s failed", request.method)
                reply = reply_for(exc)
            try:
                write_message(replies, reply)
            except OSError:  # the resident is gone (killed): what was committed stays committed
                log.info("the resident went away during %s; the worker ends", request.method)
                return 0
    finally:
        worker.close()


def main(argv: list[str] | None = None) -> int:
    """Our stdin and stdout are the resident's pipes; anything printed goes to stderr (the log)."""
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr
    try:
        return serve(requests, replies)
    finally:
        replies.close()

