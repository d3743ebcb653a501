"""Every window on a real X server: found on screen by its title, driven with real clicks and keys
(xdotool), and storing through its callbacks into a real SQLite file via `Journal`. The windows
themselves never see the journal; the tests hand them callbacks, as the app does.

Tk runs on a thread of its own behind the `Dispatcher` (tests/ui_thread.py; in the app each window
is a process of its own, window_process.py); the test thread only posts work to it and drives the
mouse and keyboard.
"""

from __future__ import annotations

import concurrent.futures
import os
import sqlite3
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from posture_agent.clock import FixedClock
from posture_agent.config import Settings, load_settings
from posture_agent.domain import advice as rules
from posture_agent.errors import UserError
from posture_agent.journal import Journal
from posture_agent.store.db import open_store
from tests.desktop import Desktop, desktop, wait_for

__all__ = ["desktop"]

pytestmark = pytest.mark.desktop
T = TypeVar("T")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN)


class Ui:
    """The UI thread of the app, started on the test's virtual display."""

    def __init__(self, display: str) -> None:
        from posture_agent.ui.style import make_root
        from tests.ui_thread import Dispatcher

        self.dispatcher = Dispatcher(root_factory=lambda: make_root(display))
        self.held: dict[str, Any] = {}
        """Windows a test keeps; released on the UI thread (Tk objects must die where they live)."""
        self.thread = threading.Thread(target=self.dispatcher.run, daemon=True)
        self.thread.start()

    def call(self, fn: Callable[[Any], T], timeout: float = 10) -> T:
        """Run `fn(root)` on the UI thread and return its result (or raise its exception)."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def work(root: Any) -> None:
            try:
                future.set_result(fn(root))
            except BaseException as exc:
                future.set_exception(exc)

        self.dispatcher.post(work)
        return future.result(timeout)

    def stop(self) -> None:
        import gc

        self.call(lambda _root: (self.held.clear(), gc.collect()))
        self.dispatcher.stop()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the UI thread did not stop"


@pytest.fixture
def ui(desktop: Desktop) -> Iterator[Ui]:
    pytest.importorskip("tkinter", reason="Tk is not installed (Debian: python3-tk)")
    u = Ui(desktop.env["DISPLAY"])
    yield u
    u.stop()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    store = open_store(tmp_path / "data" / "posture-agent.db", tmp_path / "backups")
    yield Journal(store, Settings(timezone="Europe/Berlin"), FixedClock(NOW))
    store.close()


def rows(journal: Journal, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(journal.store.db_file)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def shot(desktop: Desktop, name: str, window: str) -> Path | None:
    """Keep a screenshot of `window` when POSTURE_AGENT_SHOTS names a folder (to look at it)."""
    folder = os.environ.get("POSTURE_AGENT_SHOTS")
    if not folder:
        return None
    x, y, w, h = desktop.geometry(window)
    Path(folder).mkdir(parents=True, exist_ok=True)
    return desktop.screenshot(Path(folder) / f"{name}.png", crop=f"{w + 20}x{h + 20}+{max(0, x - 10)}+{max(0, y - 10)}")


def find(desktop: Desktop, title: str) -> str:
    found: list[str] = []
    assert wait_for(lambda: found.append(desktop.window(title) or "") or found[-1], timeout=5), f"no window {title!r}"
    return found[-1]


def click(desktop: Desktop, ui: Ui, widget: Callable[[Any], Any]) -> None:
    """Click the middle of a widget, located on the UI thread."""

    def where(_root: Any) -> tuple[int, int]:
        w = widget(_root)
        w.update_idletasks()
        return w.winfo_rootx() + w.winfo_width() // 2, w.winfo_rooty() + w.winfo_height() // 2

    x, y = ui.call(where)
    desktop.run("xdotool", "mousemove", str(x), str(y), "click", "1", check=True)


def keys(desktop: Desktop, window: str, *names: str) -> None:
    desktop.run("xdotool", "windowfocus", "--sync", window, "key", "--delay", "30", *names, check=True)


def type_text(desktop: Desktop, window: str, text: str) -> None:
    """Replace the focused entry's text (Ctrl+/ selects all in Tk) with `text`, typed."""
    keys(desktop, window, "ctrl+slash", "BackSpace")
    desktop.run("xdotool", "type", "--delay", "30", text, check=True)


# --- check-in --------------------------------------------------------------------------------------


def test_checkin_key_stores_answer_and_closes(desktop: Desktop, ui: Ui, journal: Journal) -> None:
    from posture_agent.ui.windows.checkin import CheckinPrompt, CheckinWindow

    outcomes: list[str] = []

    def answer(posture: str, context: str) -> None:
        journal.record_checkin(posture, context, source="prompt", prompted=True)
        outcomes.append(posture)

    holder = ui.held
    ui.call(lambda root: holder.setdefault(
        "w", CheckinWindow(root, CheckinPrompt("sofa", 120), answer, outcomes.append, lambda: outcomes.append("missed"))
    ))
    win = find(desktop, "^Posture check-in$")
    x, y, w, h = desktop.geometry(win)
    assert x + w > 1024 - 120 and y < 200, "appears near the tray, in the top-right corner"
    assert w <= 700 and h <= 320, "a small prompt, not a dialog that covers the screen"
    assert ui.call(lambda _r: holder["w"].win.attributes("-topmost")) == 1
    shot(desktop, "checkin", win)
    keys(desktop, win, "c", "3")  # context car, then "standing"
    assert wait_for(lambda: desktop.window("^Posture check-in$") is None, timeout=8), "one key and it is gone"
    assert outcomes == ["standing"]
    assert rows(journal, "select posture, context, prompted from checkins") == [("standing", "car", 1)]


def test_checkin_click_on_a_big_button(desktop: Desktop, ui: Ui, journal: Journal) -> None:
    from posture_agent.ui.windows.checkin import CheckinPrompt, CheckinWindow

    holder = ui.held
    ui.call(lambda root: holder.setdefault("w", CheckinWindow(
        root, CheckinPrompt("desk", 120),
        lambda p, c: journal.record_checkin(p, c, source="prompt", prompted=True), print, print,
    )))
    win = find(desktop, "^Posture check-in$")

    def slouched(_root: Any) -> Any:
        button = holder["w"].buttons["slouched"]
        assert "Slouched" in str(button.cget("text"))
        assert button.winfo_height() >= 48, "big enough to hit without aiming"
        return button

    click(desktop, ui, slouched)
    assert wait_for(lambda: desktop.window("^Posture check-in$") is None, timeout=8)
    assert win
    assert rows(journal, "select posture, context from checkins") == [("slouched", "desk")]


def test_checkin_timeout_stores_missed(desktop: Desktop, ui: Ui, journal: Journal) -> None:
    from posture_agent.ui.windows.checkin import CheckinPrompt, CheckinWindow

    timed_out = threading.Event()

    def on_timeout() -> None:
        journal.record_checkin("missed", "desk", source="prompt", prompted=True)
        timed_out.set()

    ui.call(lambda root: CheckinWindow(root, CheckinPrompt("desk", 2), print, print, on_timeout))
    find(desktop, "^Posture check-in$")
    assert timed_out.wait(6), "the window closes itself at the timeout"
    assert desktop.window("^Posture check-in$") is None
    assert rows(journal, "select posture, prompted from checkins") == [("missed", 1)]


def test_checkin_does_not_take_the_keyboard(desktop: Desktop, ui: Ui) -> None:
    """The window asks the window manager not to focus it (_NET_WM_USER_TIME = 0)."""
    from posture_agent.ui.windows.checkin import CheckinPrompt, CheckinWindow

    ui.call(lambda root: CheckinWindow(root, CheckinPrompt("desk", 60), print, print, print))
    win = find(desktop, "^Posture check-in$")
    out = desktop.run("xprop", "-id", win, "_NET_WM_USER_TIME").stdout
    assert "_NET_WM_USER_TIME(CARDINAL) = 0" in out


# --- drills and circuit ----------------------------------------------------------------------------


def test_drills_ticks_are_saved_at_once(desktop: Desktop, ui: Ui, journal: Journal) -> None:
    from posture_agent.ui.windows.drills import DrillItem, DrillsWindow

    zone = journal.zone
    items = [DrillItem(s.drill.name, s.drill.title, s.drill.how, s.drill.dose) for s in journal.drills_for()]
    assert [i.name for i in items] == ["wall-alignment", "chin-tuck"]

    def tick(name: str) -> str:
        done = journal.record_drills([name], source="tray")[0]
        return f"{done.at.astimezone(zone):%H:%M}"

    holder = ui.held
    ui.call(lambda root: holder.setdefault("w", DrillsWindow(root, items, tick)))
    win = find(desktop, "^Today's drills$")
    click(desktop, ui, lambda _r: holder["w"].checks["chin-tuck"])
    assert wait_for(lambda: any(s.done for s in journal.drills_for()), timeout=8), "saved before the window closes"
    done = {s.drill.name: s.done for s in journal.drills_for()}
    assert done == {"wall-alignment": False, "chin-tuck": True}
    assert ui.call(lambda _r: str(holder["w"].stamps["chin-tuck"].cget("text"))) == "done 12:00"
    assert ui.call(lambda _r: str(holder["w"].summary.cget("text"))) == "1 of 2 done"
    shot(desktop, "drills", win)


def test_drills_refusal_unticks_and_says_why(desktop: Desktop, ui: Ui) -> None:
    from posture_agent.ui.windows.drills import DrillItem, DrillsWindow

    def refuse(name: str) -> None:
        raise UserError(f"unknown drill {name!r}")

    holder = ui.held
    ui.call(lambda root: holder.setdefault("w", DrillsWindow(root, [DrillItem("x", "X drill", "how", "1 x")], refuse)))
    find(desktop, "^Today's drills$")
    click(desktop, ui, lambda _r: holder["w"].checks["x"])
    assert wait_for(lambda: ui.call(lambda _r: str(holder["w"].error.cget("text"))) == "unknown drill 'x'", timeout=8)
    assert ui.call(lambda _r: holder["w"].vars["x"].get()) is False


def test_circuit_saves_the_rounds_ticked(desktop: Desktop, ui: Ui, journal: Journal) -> None:
    from posture_agent.ui.windows.drills import CircuitWindow, DrillItem

    cat = journal.settings.catalogue
    exercises = [DrillItem(n, cat[n].title, cat[n].how, cat[n].dose) for n in journal.settings.circuit_exercises]
    holder = ui.held
    ui.call(lambda root: holder.setdefault(
        "w", CircuitWindow(root, exercises, 2, lambda n: journal.record_circuit(n, source="tray"))
    ))
    win = find(desktop, "^Strength circuit$")
    _x, _y, _w, h = desktop.geometry(win)
    assert h <= 720, "fits a 768-pixel laptop screen"
    click(desktop, ui, lambda _r: holder["w"].save)
    assert ui.call(lambda _r: str(holder["w"].error.cget("text"))) == "Tick the rounds you have done first."
    assert rows(journal, "select count(*) from circuits") == [(0,)]
    for i in range(2):
        click(desktop, ui, lambda _r, i=i: holder["w"].round_checks[i])
    assert ui.call(lambda _r: holder["w"].rounds_done()) == 2
    shot(desktop, "circuit", win)
    keys(desktop, win, "Return")
    assert wait_for(lambda: desktop.window("^Strength circuit$") is None, timeout=8)
    assert rows(journal, "select rounds from circuits") == [(2,)]


# --- run -------------------------------------------------------------------------------------------


def _run_window(ui: Ui, journal: Journal, holder: dict[str, Any]) -> None:
    from posture_agent.ui.windows.run import RunWindow, run_defaults

    def save(start: datetime, duration: timedelta, km: float) -> str | None:
        return journal.add_run(start, duration, km, source="tray").warning

    ui.call(lambda root: holder.setdefault(
        "w", RunWindow(root, run_defaults(journal.now().astimezone(journal.zone)), journal.zone, save)
    ))


def test_run_defaults_and_save(desktop: Desktop, ui: Ui, journal: Journal) -> None:
    holder = ui.held
    _run_window(ui, journal, holder)
    win = find(desktop, "^Log a run$")
    fields = ui.call(lambda _r: {k: v.get() for k, v in holder["w"].vars.items()})
    assert fields == {"date": "2026-11-25", "time": "11:00", "distance_km": "10", "duration": "1:00:00"}
    shot(desktop, "run", win)
    type_text(desktop, win, "12,5")  # the distance field has focus
    keys(desktop, win, "Return")
    closed = wait_for(lambda: desktop.window("^Log a run$") is None, timeout=8)
    assert closed, ui.call(lambda _r: {k: v.get() for k, v in holder["w"].vars.items()}
                           | {"message": str(holder["w"].message.cget("text"))})
    runs = journal.runs()
    assert len(runs) == 1 and runs[0].distance_km == 12.5
    assert runs[0].start == datetime(2026, 11, 25, 11, 0, tzinfo=BERLIN)
    assert runs[0].duration == timedelta(hours=1)


def test_run_start_follows_a_changed_duration_until_a_start_is_typed(desktop: Desktop, ui: Ui,
                                                                     journal: Journal) -> None:
    """Prefilled to end about now (12:00): 1:00:00 from 11:00; typing 45:00 moves the start to 11:15,
    so the run still ends about now; once the user types a start, the duration no longer moves it."""
    holder = ui.held
    _run_window(ui, journal, holder)
    win = find(desktop, "^Log a run$")
    fields = lambda: ui.call(lambda _r: {k: v.get() for k, v in holder["w"].vars.items()})  # noqa: E731
    keys(desktop, win, "Tab")  # from the distance to the duration
    type_text(desktop, win, "45:00")
    assert wait_for(lambda: fields()["time"] == "11:15", timeout=8), fields()
    desktop.run("xdotool", "type", "--delay", "30", ":", check=True)  # "45:00:" does not read: no move
    time.sleep(0.3)
    assert fields()["time"] == "11:15"
    keys(desktop, win, "BackSpace")
    shot(desktop, "run-duration-moves-start", win)
    keys(desktop, win, "shift+Tab", "shift+Tab")  # the start time
    type_text(desktop, win, "07:00")
    keys(desktop, win, "Tab", "Tab")
    type_text(desktop, win, "1:30:00")
    time.sleep(0.3)
    assert fields() == {"date": "2026-11-25", "time": "07:00", "distance_km": "10", "duration": "1:30:00"}


def test_run_errors_are_shown_inline_and_nothing_is_saved(desktop: Desktop, ui: Ui, journal: Journal) -> None:
    holder = ui.held
    _run_window(ui, journal, holder)
    win = find(desktop, "^Log a run$")
    message = lambda: ui.call(lambda _r: str(holder["w"].message.cget("text")))  # noqa: E731
    type_text(desktop, win, "abc")
    keys(desktop, win, "Return")
    assert wait_for(lambda: message() == "Distance 'abc' is not a number of kilometres (e.g. 10.5)", timeout=8)
    type_text(desktop, win, "90")  # 90 km in an hour: the journal refuses it
    keys(desktop, win, "Return")
    assert wait_for(lambda: "faster than any runner" in message(), timeout=8)
    shot(desktop, "run-error", win)
    assert desktop.window("^Log a run$") is not None, "the window stays open to fix the field"
    assert journal.runs() == []


def test_run_in_si_protocol_shows_the_warning(desktop: Desktop, ui: Ui, journal: Journal) -> None:
    journal.record_soreness({"si_joint": 6}, at=NOW - timedelta(days=2))
    holder = ui.held
    _run_window(ui, journal, holder)
    win = find(desktop, "^Log a run$")
    keys(desktop, win, "Return")
    said = lambda: ui.call(lambda _r: str(holder["w"].message.cget("text")))  # noqa: E731
    assert wait_for(lambda: "SI-joint protocol" in said() and "Running again from Tue 08 Dec" in said(), timeout=8)
    shot(desktop, "run-si-warning", win)
    assert len(journal.runs()) == 1, "saved, and warned about"
    assert ui.call(lambda _r: str(holder["w"].save.cget("text"))) == "Close"


# --- soreness ----------------------------------------------------------------------------------------


def test_soreness_si_joint_shows_the_protocol_at_once(desktop: Desktop, ui: Ui, journal: Journal) -> None:
    from posture_agent.ui.windows.soreness import SorenessWindow

    def save(values: dict[str, int], form: frozenset[str], si_pain: bool) -> list[str]:
        _report, advice = journal.record_soreness(dict(values), form=form, si_pain=si_pain, source="tray")
        return rules.messages(advice, journal.zone)

    holder = ui.held
    ui.call(lambda root: holder.setdefault("w", SorenessWindow(root, save)))
    win = find(desktop, "^How's my back\\?$")
    keys(desktop, win, "Tab", "Tab", "Tab", "6")  # upper back has focus; Tab to the SI joint, type 6
    keys(desktop, win, "Left")  # arrows move by whole steps: 5
    click(desktop, ui, lambda _r: holder["w"].body.winfo_children()[-1])  # the last form check: arms crossing
    shot(desktop, "soreness", win)
    keys(desktop, win, "Return")
    assert wait_for(lambda: ui.call(lambda _r: holder["w"].saved), timeout=8)
    got = rows(journal, "select upper_back, mid_back, lower_back, si_joint, form from soreness_reports")
    assert got == [(0, 0, 0, 5, "arms_crossing")]
    shown = ui.call(lambda _r: [str(w.cget("text")) for w in holder["w"].advice.winfo_children()])
    shot(desktop, "soreness-advice", win)
    assert any("SI-joint protocol, day 1 of 15 (SI joint 5/10 on Wed 25 Nov): no running; your first running day "
               "is Thu 10 Dec" in t for t in shown)
    assert any("not medical advice" in t for t in shown)
    assert journal.advice().si_protocol is not None
    shot(desktop, "soreness-advice", win)


# --- settings ----------------------------------------------------------------------------------------


CONFIG = """\
# mine
[general]
timezone = "Europe/Berlin"  # home

[desk]
# start = "09:00"
every_minutes = 30
"""


def _settings_window(ui: Ui, path: Path, holder: dict[str, Any]) -> None:
    from posture_agent.ui.settings_file import save_settings
    from posture_agent.ui.windows.settings import SettingsWindow, settings_values

    ui.call(lambda root: holder.setdefault("w", SettingsWindow(
        root, settings_values(load_settings(path)), lambda changes: save_settings(path, changes), str(path)
    )))


def settings_on_tab(desktop: Desktop, ui: Ui, path: Path, tab: int) -> tuple[dict[str, Any], str]:
    """The Settings window on the file `path` (written with CONFIG), showing tab `tab`: (the holder
    of the window object, its X window)."""
    path.write_text(CONFIG, encoding="utf-8")
    holder = ui.held
    _settings_window(ui, path, holder)
    win = find(desktop, "settings$")
    ui.call(lambda _r: holder["w"].notebook.select(tab))
    return holder, win


def test_settings_saved_into_the_users_file(desktop: Desktop, ui: Ui, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    holder = ui.held
    _settings_window(ui, path, holder)
    win = find(desktop, "settings$")
    shot(desktop, "settings", win)
    ui.call(lambda _r: holder["w"].notebook.select(1))
    click(desktop, ui, lambda _r: holder["w"].first["desk.start"])
    type_text(desktop, win, "08:15")
    keys(desktop, win, "Return")
    assert wait_for(lambda: desktop.window("settings$") is None, timeout=8)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# mine\n") and 'timezone = "Europe/Berlin"  # home' in text
    assert tomllib.loads(text)["desk"] == {"start": "08:15", "every_minutes": 30}
    assert load_settings(path).desk.start.strftime("%H:%M") == "08:15"


def test_settings_invalid_value_is_named_and_file_untouched(desktop: Desktop, ui: Ui, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    holder, win = settings_on_tab(desktop, ui, path, 1)
    click(desktop, ui, lambda _r: holder["w"].first["desk.end"])
    type_text(desktop, win, "08:00")
    keys(desktop, win, "Return")
    message = lambda: ui.call(lambda _r: str(holder["w"].message.cget("text")))  # noqa: E731
    assert wait_for(lambda: message() == "Desk until (desk.end): must be later than start (09:00)", timeout=8)
    assert ui.call(lambda _r: str(holder["w"].labels["desk.end"].cget("style"))) == "Error.TLabel"
    shot(desktop, "settings-error", win)
    assert path.read_text(encoding="utf-8") == CONFIG


def test_settings_show_the_zone_in_use_in_a_list_and_soreness_on_0_to_10(
    desktop: Desktop, ui: Ui, tmp_path: Path,
) -> None:
    """The time zone is chosen from zoneinfo's list (not typed as free text), the one in use selected;
    typing letters jumps in the list; the soreness threshold speaks of the file's 0–10 scale."""
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    holder = ui.held
    _settings_window(ui, path, holder)
    win = find(desktop, "settings$")
    box = lambda _r: holder["w"].zones["general.timezone"].widget  # noqa: E731
    assert ui.call(lambda r: str(box(r).get())) == "Europe/Berlin"
    assert ui.call(lambda r: str(box(r).cget("state"))) == "readonly"
    values = ui.call(lambda r: list(box(r).cget("values")))
    assert values[0].startswith("System (") and "Asia/Tokyo" in values and len(values) > 300
    texts = ui.call(lambda _r: _all_text(holder["w"].win))
    assert [t for t in texts if "region rated" in t] == ["of 0–10: a region rated this or more is sore"]
    shot(desktop, "settings-zone-list", win)
    click(desktop, ui, box)  # the list drops down
    time.sleep(0.3)
    shot(desktop, "settings-zone-list-open", win)
    keys(desktop, win, "Escape")
    ui.call(lambda r: box(r).focus_set())
    desktop.run("xdotool", "type", "--delay", "60", "america/new", check=True)
    assert wait_for(lambda: ui.call(lambda r: str(box(r).get())) == "America/New_York", timeout=5)
    keys(desktop, win, "Return")
    assert wait_for(lambda: desktop.window("settings$") is None, timeout=8)
    assert tomllib.loads(path.read_text(encoding="utf-8"))["general"]["timezone"] == "America/New_York"


# --- about -------------------------------------------------------------------------------------------


def test_about_says_version_folder_and_not_medical_advice(desktop: Desktop, ui: Ui, tmp_path: Path) -> None:
    from posture_agent import __version__
    from posture_agent.ui.windows.about import AboutWindow

    holder = ui.held
    config = "/home/someone-with-a-long-name/.config/posture-agent/profiles/the-work-laptop/config.toml"
    ui.call(lambda root: holder.setdefault("w", AboutWindow(root, __version__, str(tmp_path / "data"), config)))
    win = find(desktop, "^About posture-agent$")
    texts = ui.call(lambda _r: _all_text(holder["w"].win))
    assert f"posture-agent {__version__}" in texts
    assert str(tmp_path / "data") in texts and config in texts
    # the whole path is on screen: wrapped onto lines that the window is wide enough to show
    shown = ui.call(lambda _r: [(c.count("1.0", "end", "displaylines"), int(c.cget("height")), c.winfo_width(),
                                 c.winfo_reqwidth()) for c in _texts(holder["w"].win)])
    assert all(lines[0] <= height and width >= wanted for lines, height, width, wanted in shown), shown
    assert shown[-1][0][0] >= 2, "the long config path wraps"
    assert any("not medical advice" in t for t in texts)
    shot(desktop, "about", win)
    keys(desktop, win, "Return")
    assert wait_for(lambda: desktop.window("^About posture-agent$") is None, timeout=8)


def _all_text(widget: Any) -> list[str]:
    out = []
    for child in widget.winfo_children():
        if child.winfo_class() == "TLabel":
            out.append(str(child.cget("text")))
        elif child.winfo_class() == "TEntry":
            out.append(child.get())
        elif child.winfo_class() == "Text":
            out.append(child.get("1.0", "end-1c"))
        out += _all_text(child)
    return out


def _texts(widget: Any) -> list[Any]:
    """The Text widgets in `widget`, in order."""
    out = []
    for child in widget.winfo_children():
        out += [child] if child.winfo_class() == "Text" else _texts(child)
    return out


# --- the dispatcher ----------------------------------------------------------------------------------


def test_work_from_many_threads_runs_on_the_ui_thread_in_order(ui: Ui, desktop: Desktop) -> None:
    """Tray, scheduler and test threads all post; every piece runs on the one Tk thread, and
    each poster's work keeps its order, also while a window is open and Tk's loop is running."""
    from posture_agent.ui.windows.about import AboutWindow

    ui.call(lambda root: ui.held.setdefault("w", AboutWindow(root, "0", "/data")))
    find(desktop, "^About posture-agent$")
    seen: list[tuple[int, int, str]] = []

    def poster(n: int) -> None:
        for i in range(50):
            ui.dispatcher.post(lambda _root, i=i: seen.append((n, i, threading.current_thread().name)))  # type: ignore[misc]

    posters = [threading.Thread(target=poster, args=(n,)) for n in range(4)]
    for t in posters:
        t.start()
    for t in posters:
        t.join()
    assert wait_for(lambda: len(seen) == 200, timeout=5)
    assert {name for _, _, name in seen} == {ui.thread.name}
    for n in range(4):
        assert [i for m, i, _ in seen if m == n] == list(range(50))
