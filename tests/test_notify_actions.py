"""A check-in answered from its notification: the real agent on a real SQLite file, its clock
pinned, its notifications on a private session bus — dunst (which has action buttons) under Xvfb,
or a small notification service of the test's own that reports no `actions` capability."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jeepney import DBusAddress, HeaderFields, message_bus, new_signal
from jeepney.io.blocking import open_dbus_connection

from posture_agent.agent.events import PROMPT_DUE, WINDOW_WANTED, Event
from posture_agent.agent.notify import Notifier
from posture_agent.store.sqlite_file import BUSY_TIMEOUT_MS
from tests.desktop import Desktop, wait_for
from tests.notification_service import INTERFACE as NOTIFY_INTERFACE
from tests.notification_service import PATH as NOTIFY_PATH
from tests.notification_service import NotificationService, private_bus
from tests.test_agent_core import Rig, at, rig

__all__ = ["rig"]

jeepney = pytest.importorskip("jeepney", reason="jeepney (a dependency on Linux) is not installed")


@pytest.fixture
def dunst(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desktop]:
    d = Desktop(Path(tempfile.mkdtemp(prefix="pa-notify-")), with_tray=False).start()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", d.env["DBUS_SESSION_BUS_ADDRESS"])
    monkeypatch.setenv("DISPLAY", d.env["DISPLAY"])
    try:
        yield d
    finally:
        d.stop()
        shutil.rmtree(d.root, ignore_errors=True)


@pytest.fixture
def notifier(rig: Rig) -> Iterator[Notifier]:
    """The agent's notifier, closed before its bus goes away. The morning's first prompts (07:30
    drills, 09:00 car check-in) are shown and skipped before it opens, so the 09:45 check-in is the
    only notification the test meets."""
    rig.tick_at(at(25, 9, 1))
    for active in rig.agent.status().open_prompts:
        rig.agent.skip(active)
    rig.events.clear()
    made = rig.agent.open_notifier()
    yield made
    made.close()


SKIPPED_EARLIER = [("skipped", "car", 1, "prompt")]
"""The 09:00 car check-in, skipped before the notifier opened."""


def checkin_rows(rig: Rig) -> list[tuple[Any, ...]]:
    return rig.rows("select posture, context, prompted, source from checkins order by at")


def kinds(events: list[Event]) -> list[tuple[str, str | None]]:
    return [(e.kind, e.active.prompt.kind if e.active else None) for e in events]


@pytest.mark.desktop
def hold_write_lock(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the database's write lock for `seconds` (past the busy timeout);
    returns once it holds it."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time\n"
         f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
         "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True)\n"
         f"time.sleep({seconds}); c.execute('ROLLBACK')\n"],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_a_press_in_dunst_stores_the_answer_once_and_no_window(rig: Rig, dunst: Desktop, notifier: Notifier) -> None:
    shown = rig.tick_at(at(25, 9, 46))
    assert ("checkin", "desk", "09:45") in shown
    assert wait_for(lambda: dunst.displayed() == 1, timeout=5)
    assert "Press your answer" in dunst.notifications()
    assert "posture-agent checkin" not in dunst.notifications(), "no shell command for a desktop user"
    menu = dunst.press("Slouched")
    for label in ("Upright", "Slouched", "Standing", "Skip", "Open"):
        assert f"#{label} " in menu, menu
    answered = [*SKIPPED_EARLIER, ("slouched", "desk", 1, "prompt")]
    assert wait_for(lambda: checkin_rows(rig) == answered, timeout=5), checkin_rows(rig)
    assert ("checkin-desk", "answered") in rig.rows("select kind, outcome from prompts")
    assert wait_for(lambda: dunst.displayed() == 0, timeout=5), "the answered notification is withdrawn"
    dunst.press("Upright")  # nothing left to press: no second answer
    time.sleep(0.5)
    assert checkin_rows(rig) == answered
    assert (WINDOW_WANTED, "checkin") not in kinds(rig.events), "no window appears"


@pytest.mark.desktop
def test_a_click_on_the_body_asks_for_the_window(rig: Rig, dunst: Desktop, notifier: Notifier) -> None:
    rig.tick_at(at(25, 9, 46))
    assert wait_for(lambda: dunst.displayed() == 1, timeout=5)
    dunst.click_notification()
    assert wait_for(lambda: (WINDOW_WANTED, "checkin") in kinds(rig.events), timeout=5), kinds(rig.events)
    assert checkin_rows(rig) == SKIPPED_EARLIER, "a click on the body is not an answer"
    assert [a.prompt.kind for a in rig.agent.status().open_prompts].count("checkin") == 1


def impostor_press(address: str, nid: int, key: str, to: str | None = None) -> None:
    """Another client of the same session bus emits `ActionInvoked` for the agent's notification:
    broadcast, and sent to the agent's connection directly (`to`), which match rules do not filter."""
    conn = open_dbus_connection(bus=address)
    try:
        for destination in (None, to):
            message = new_signal(DBusAddress(NOTIFY_PATH, interface=NOTIFY_INTERFACE), "ActionInvoked", "us",
                                 (nid, key))
            if destination is not None:
                message.header.fields[HeaderFields.destination] = destination
            conn.send(message)
        conn.send_and_get_reply(message_bus.GetId(), timeout=5)  # both sent before this returns
    finally:
        conn.close()


def agent_connection(notifier: Notifier) -> str:
    desktop = notifier._desktop
    assert desktop is not None
    return str(desktop._conn.unique_name)


@pytest.mark.desktop
def test_a_press_from_another_bus_client_is_ignored(
        rig: Rig, dunst: Desktop, notifier: Notifier, caplog: pytest.LogCaptureFixture) -> None:
    rig.tick_at(at(25, 9, 46))
    assert wait_for(lambda: dunst.displayed() == 1, timeout=5)
    [nid] = notifier._asked
    impostor_press(dunst.env["DBUS_SESSION_BUS_ADDRESS"], nid, "slouched", to=agent_connection(notifier))
    impostor_press(dunst.env["DBUS_SESSION_BUS_ADDRESS"], nid, "default")
    time.sleep(0.5)
    assert checkin_rows(rig) == SKIPPED_EARLIER, "no answer from a client that is not the server"
    assert (WINDOW_WANTED, "checkin") not in kinds(rig.events)
    assert list(notifier._asked) == [nid] and dunst.displayed() == 1
    dunst.press("Upright")  # the server's own press still counts
    assert wait_for(lambda: checkin_rows(rig) == [*SKIPPED_EARLIER, ("upright", "desk", 1, "prompt")], timeout=5)


def test_only_the_current_notification_server_is_heard_and_a_new_one_is_followed(
        rig: Rig, notifier: Notifier, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's own server with buttons: a press from a bystander is ignored, the server's counts;
    the server replaced by another (a new unique name), the next check-in's press from it counts."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed (scripts/test.sh installs it as root)")
    with private_bus() as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        first = NotificationService(address).start()
        try:
            rig.tick_at(at(25, 9, 46))
            [nid] = notifier._asked
            impostor_press(address, nid, "slouched", to=agent_connection(notifier))
            time.sleep(0.3)
            assert checkin_rows(rig) == SKIPPED_EARLIER
            first.invoke(nid, "standing")
            assert wait_for(lambda: len(checkin_rows(rig)) == 2, timeout=5)
        finally:
            first.stop()
        second = NotificationService(address).start()
        try:
            rig.tick_at(at(25, 10, 31))
            assert wait_for(lambda: len(notifier._asked) == 1, timeout=5), notifier._asked
            [nid] = notifier._asked
            second.invoke(nid, "slouched")
            assert wait_for(lambda: len(checkin_rows(rig)) == 3, timeout=5), checkin_rows(rig)
        finally:
            notifier.close()
            second.stop()
    assert checkin_rows(rig) == [*SKIPPED_EARLIER, ("standing", "desk", 1, "prompt"), ("slouched", "desk", 1, "prompt")]


@pytest.mark.desktop
def test_the_soreness_question_is_a_notification_first_and_its_body_opens_the_window(
        rig: Rig, dunst: Desktop, notifier: Notifier, tmp_path: Path) -> None:
    """One surface per prompt: no window at once, a notification that stays (no expiry of its own)
    until its body is clicked; the click asks for the window and answers nothing."""
    rig.tick_at(at(25, 9, 46))
    for active in rig.agent.status().open_prompts:
        rig.agent.skip(active)
    assert wait_for(lambda: dunst.displayed() == 0, timeout=5)
    rig.events.clear()
    journal = rig.agent.journal
    journal.add_run(at(25, 7, 10), timedelta(minutes=45), 8.0)  # ends 07:55: asked at 09:55
    assert ("soreness", None, "09:55") in rig.tick_at(at(25, 9, 56))
    assert wait_for(lambda: dunst.displayed() == 1, timeout=5)
    said = dunst.notifications()
    assert "How does your back feel after the run?" in said and "Click here to rate" in said, said
    assert (WINDOW_WANTED, "soreness") not in kinds(rig.events), "the window waits for the click"
    last = said[said.rindex("summary: 'How does your back"):]
    assert "\ttimeout: 0\n" in last and '"rate": "Rate my back"' in last, "no expiry of its own; a button"
    dunst.screenshot(Path(os.environ.get("POSTURE_AGENT_SHOTS") or tmp_path) / "soreness-notification.png")
    rig.tick_at(at(25, 10, 5))  # ten minutes on, well past the 2-minute check-in timeout
    assert rig.rows("select outcome from prompts where kind = 'soreness'") == [(None,)]
    dunst.click_notification()
    assert wait_for(lambda: (WINDOW_WANTED, "soreness") in kinds(rig.events), timeout=5), kinds(rig.events)
    assert rig.rows("select count(*) from soreness_reports") == [(0,)], "a click on the body is not an answer"


# --- a notification service without action buttons ----------------------------------------------

@pytest.fixture
def plain_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[NotificationService]:
    """A private session bus whose notification service reports no `actions` capability."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed (scripts/test.sh installs it as root)")
    with private_bus() as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        service = NotificationService(address, capabilities=("body",)).start()
        try:
            yield service
        finally:
            service.stop()


def test_a_server_without_actions_gets_a_plain_notification_and_the_window(
        rig: Rig, plain_bus: NotificationService, notifier: Notifier) -> None:
    rig.tick_at(at(25, 9, 46))
    assert (PROMPT_DUE, "checkin") in kinds(rig.events)
    assert (WINDOW_WANTED, "checkin") in kinds(rig.events), kinds(rig.events)
    assert not notifier._asked, "no notification with buttons is waiting for a press"
    assert checkin_rows(rig) == SKIPPED_EARLIER
    assert "GetCapabilities" in plain_bus.calls
    # the plain notification itself goes through plyer, whose dbus-python keeps the first session
    # bus it met in this process: it reaches this bus when the test runs alone
    assert all(actions == [] for _title, actions in plain_bus.notified), plain_bus.notified


# --- an answer while another process holds the database -------------------------------------------

def test_an_answer_while_the_database_is_locked_is_stored_once_and_never_missed(rig: Rig) -> None:
    rig.tick_at(at(25, 9, 46))
    prompts = {a.prompt.kind: a for a in rig.agent.status().open_prompts}
    rig.agent.skip(prompts["drills"])  # only the check-in is left to close
    active = prompts["checkin"]
    hold_s = BUSY_TIMEOUT_MS / 1000 + 2
    holder = hold_write_lock(rig.paths.db_file, hold_s)
    try:
        rig.agent.answer_later(active, "upright")  # as a press in the notification does
        time.sleep(1)
        rig.tick_at(at(25, 9, 59))  # the prompt's time is up meanwhile: it must not become `missed`
        assert holder.wait(timeout=hold_s + 10) == 0
        assert wait_for(lambda: checkin_rows(rig) == [("upright", "desk", 1, "prompt")], timeout=20), (
            checkin_rows(rig))
    finally:
        if holder.poll() is None:
            holder.kill()
    rig.tick_at(at(25, 10, 5))
    assert checkin_rows(rig) == [("upright", "desk", 1, "prompt")], "stored once, nothing missed"
    assert rig.rows("select kind, outcome from prompts where kind like 'checkin%'") == [("checkin-desk", "answered")]


def test_a_window_answer_while_the_database_is_locked_is_stored_with_its_prompt_closing(rig: Rig) -> None:
    """A window's request (here the circuit's, on the control socket's handler) takes the same
    route: retried past the busy timeout, then the circuit and the prompt's closing land together."""
    rig.tick_at(at(27, 18, 31))  # a Friday: the default config's circuit at 18:30
    circuit = next(a for a in rig.agent.status().open_prompts if a.prompt.kind == "circuit")
    hold_s = BUSY_TIMEOUT_MS / 1000 + 2
    holder = hold_write_lock(rig.paths.db_file, hold_s)
    try:
        reply = rig.agent.handle_request({"cmd": "circuit", "rounds": 2})
        assert reply == {"ok": True}, reply
    finally:
        if holder.poll() is None:
            holder.kill()
    assert rig.rows("select rounds, source from circuits") == [(2, "tray")]
    assert rig.rows(f"select outcome from prompts where id = '{circuit.id}'") == [("answered",)]
    assert rig.agent.handle_request({"cmd": "circuit", "rounds": 11})["ok"] is False, "out of range: said"


class RecordingDesktop:
    """A freedesktop notification server with action buttons, in memory: what was sent."""

    sent: list[tuple[str, str]]

    def __init__(self, _pressed: Any, _closed: Any) -> None:
        self.sent = []

    def open(self) -> RecordingDesktop:
        return self

    def capabilities(self) -> set[str]:
        return {"actions", "body"}

    def notify(self, title: str, body: str, _actions: Any, _timeout: int) -> int:
        self.sent.append((title, body))
        return len(self.sent)

    def close_notification(self, _nid: int) -> None:
        pass

    def close(self) -> None:
        pass


class RecordingPlyer:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def notify(self, **kw: Any) -> None:
        self.sent.append(str(kw["title"]))


def test_the_ice_reminder_and_the_sofa_check_in_due_together_give_one_notification(rig: Rig) -> None:
    """The SI protocol's 20:30 ice and the 20:30 sofa check-in: one notification names both (the
    check-in's, with its buttons); the ice prompt is still shown and recorded."""
    rig.agent.journal.record_soreness({"si_joint": 7}, at=at(25, 8, 0))
    rig.tick_at(at(25, 20, 29))  # the 19:30 sofa check-in and the 18:30 circuit, before the notifier
    for active in rig.agent.status().open_prompts:
        rig.agent.skip(active)
    desktops: list[RecordingDesktop] = []

    def connect(pressed: Any, closed: Any) -> RecordingDesktop:
        desktops.append(RecordingDesktop(pressed, closed))
        return desktops[-1]

    plain = RecordingPlyer()
    notifier = Notifier(on_choice=rig.agent.answer_later, on_open=rig.agent.open_later, connect=connect)
    notifier._backend = plain
    rig.agent.notifier = notifier
    rig.agent.subscribe(notifier)
    shown = rig.tick_at(at(25, 20, 31))
    assert sorted(k for k, _, _ in shown) == ["checkin", "ice"], shown
    assert plain.sent == [], "no notification of its own for the ice reminder"
    assert len(desktops) == 1 and len(desktops[0].sent) == 1
    title, body = desktops[0].sent[0]
    assert title == "Posture check on the sofa · Ice the SI joint (15-20 minutes)"
    assert "Press your answer" in body and "ice pack on the SI joint" in body
    assert ("ice", None) in rig.rows("select kind, outcome from prompts")
