"""What the idle resident agent does not need is not loaded: the sync engine (no shared folder set
up), the calendar libraries (calendars are read in a child process), the importers (no import
folder), Pillow (the icon's pixels are shipped as bytes, tests/test_tray_sni.py) — and the sync
engine is loaded once the user sets a shared folder up.
Each check runs the real Agent on a real SQLite file in a fresh interpreter, through a housekeeping
round and a tick, as `start` does every minute.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WATCHED = ("posture_agent.sync.engine", "icalendar", "recurring_ical_events", "posture_agent.importers", "PIL")

RESIDENT = """
import json, sys
from posture_agent.agent.runtime import Agent
from posture_agent.clock import SystemClock
from posture_agent.config import ensure_config, load_settings
from posture_agent.paths import Paths
from posture_agent.presence.desktop import calendar_signal, presence_check
from posture_agent.store.db import open_store

paths = Paths.resolve(sys.argv[1]); paths.make_dirs()
ensure_config(paths.config_file)
settings = load_settings(paths.config_file)
store = open_store(paths.db_file, paths.backup_dir)
presence = presence_check(300, calendar_signal(settings, paths.data_dir), {})
agent = Agent(paths, settings, store, SystemClock(), presence)
agent.housekeeping(); agent.tick()
print(json.dumps(sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)))
"""


ENV = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}


def loaded_after_a_round(home: Path) -> list[str]:
    out = subprocess.run([sys.executable, "-c", RESIDENT, str(home), json.dumps(WATCHED)], capture_output=True,
                         text=True, timeout=60, cwd=ROOT, env=ENV)
    assert out.returncode == 0, out.stderr
    loaded: list[str] = json.loads(out.stdout)
    return loaded


def test_an_idle_resident_holds_no_sync_calendar_importers_or_pillow(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    ics = tmp_path / "work.ics"
    ics.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nEND:VCALENDAR\r\n", encoding="utf-8")
    (home / "config.toml").write_text(f'[presence]\ncalendar = "{ics}"\n', encoding="utf-8")
    assert loaded_after_a_round(home) == []


def test_the_sync_engine_is_loaded_once_a_shared_folder_is_set_up(tmp_path: Path) -> None:
    home, folder = tmp_path / "home", tmp_path / "shared"
    folder.mkdir()
    setup = subprocess.run([sys.executable, "-m", "posture_agent", "--home", str(home), "sync", "setup", str(folder)],
                           capture_output=True, text=True, timeout=60, cwd=ROOT, env=ENV)
    assert setup.returncode == 0, setup.stderr
    assert loaded_after_a_round(home) == ["posture_agent.sync.engine"]
