"""The presence check at the moment a prompt falls due, and what the presence backends cost in memory.

On the virtual desktop (Xvfb, a private session bus, dunst; tests/desktop.py), a child process:
1. reads its PSS (/proc/self/smaps_rollup) with the agent's core loaded (journal, plan, prompt
   service), then after importing the presence backends, then after the first check (which loads
   libxcb and jeepney and opens the X and bus connections);
2. times the full check this desktop gets (X11 idle and fullscreen, the D-Bus signals, and a
   calendar file of 200 meetings, a quarter of them weekly) N times, beside a baseline measured in
   the same run: the prompt service's own work at fire time (`due(now)` on a real SQLite file);
3. arms the one-shot "active again" watch (a silent stand-in owns org.freedesktop.ScreenSaver)
   and counts its thread's context switches, and the whole process's, over an idle window.

Run from the repository root:  .venv/bin/python benchmarks/presence_bench.py [--runs N]
Targets: presence check median < 20 ms; PSS delta <= 3 MB; the armed watch adds no wake-ups.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.desktop import Desktop  # noqa: E402

CHILD = r'''
import json, statistics, sys, time
from datetime import UTC, datetime, timedelta
from pathlib import Path

def pss_kb():
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0

folder, runs, watch_seconds = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
from zoneinfo import ZoneInfo
from posture_agent.agent.events import EventBus
from posture_agent.agent.prompts import PromptService
from posture_agent.clock import FixedClock
from posture_agent.config import Settings
from posture_agent.journal import Journal
from posture_agent.store.db import open_store

zone = ZoneInfo("Europe/Berlin")
now = datetime(2026, 11, 25, 10, 30, 5, tzinfo=zone).astimezone(UTC)
(folder / "bench.db").unlink(missing_ok=True)
store = open_store(folder / "bench.db", folder / "backups")
service = PromptService(Journal(store, Settings(timezone="Europe/Berlin"), FixedClock(now)), EventBus())
service.due(now)
base = pss_kb()
from posture_agent.presence.calendar import CalendarFile
from posture_agent.presence.desktop import presence_check
imported = pss_kb()
import os
calendar = CalendarFile(folder / "work.ics", zone, folder)
calendar.refresh(now, 30)  # the expansion (a child process) the agent does off its lock, ahead of the check
check = presence_check(300, calendar, os.environ)
first_read = {}
for signal in check.signals:  # each signal's first read: its library, its connection
    before = pss_kb()
    try:
        signal.away(now)
    except Exception:
        pass
    first_read[signal.source] = pss_kb() - before
first = pss_kb()

def median_ms(call):
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), max(samples)

presence_med, presence_max = median_ms(lambda: check(now))
due_med, due_max = median_ms(lambda: service.due(now))
per_signal = {}
for signal in check.signals:
    def one(signal=signal):
        try:
            signal.away(now)
        except Exception:
            pass
    per_signal[signal.source] = [median_ms(one)[0], first_read[signal.source]]

def switches(task):
    total = 0
    for line in Path(f"/proc/self/task/{task}/status").read_text().splitlines():
        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
            total += int(line.split()[1])
    return total

from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection
from posture_agent.presence.dbus import ActiveAgainWatch
import os, threading
saver = open_dbus_connection(bus=os.environ["DBUS_SESSION_BUS_ADDRESS"])  # a screen saver to watch, silent
saver.send_and_get_reply(message_bus.RequestName("org.freedesktop.ScreenSaver"), timeout=5)
watch, fired = ActiveAgainWatch(), []
watch.arm(lambda: fired.append(True))
time.sleep(2)  # connected and subscribed
armed = [t for t in threading.enumerate() if t.name == "presence-active-again"]
tasks = [int(t) for t in os.listdir("/proc/self/task")]
start = {t: switches(t) for t in tasks}
time.sleep(watch_seconds)
thread_switches = switches(armed[0].native_id) - start[armed[0].native_id] if armed else None
process_switches = sum(switches(t) - start[t] for t in tasks if Path(f"/proc/self/task/{t}").exists())
watch.disarm()
print(json.dumps({
    "watch": [bool(armed) and armed[0].is_alive(), thread_switches, process_switches, bool(fired)],
    "pss_base_kb": base, "pss_import_kb": imported - base, "pss_first_check_kb": first - base,
    "presence_ms": [presence_med, presence_max], "due_ms": [due_med, due_max],
    "offers": [[o.kind, o.source, o.available] for o in check.offers(now)], "per_signal_ms": per_signal,
}))
store.close()
'''


def calendar(path: Path, meetings: int = 200) -> None:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//EN"]
    for n in range(meetings):
        day = 1 + n % 28
        lines += ["BEGIN:VEVENT", f"UID:{n}@bench", f"SUMMARY:Meeting {n}",
                  f"DTSTART;TZID=Europe/Berlin:202611{day:02d}T{8 + n % 9:02d}0000",
                  f"DTEND;TZID=Europe/Berlin:202611{day:02d}T{8 + n % 9:02d}4500"]
        if n % 4 == 0:
            lines.append("RRULE:FREQ=WEEKLY;BYDAY=MO,WE")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--watch-seconds", type=float, default=30.0, help="idle window with the watch armed")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pa-presence-bench-"))
    desktop = Desktop(root / "desktop", with_tray=False)
    try:
        desktop.start()
        calendar(root / "work.ics")
        # bytecode cached in a folder of its own, written by a first run: an installed app has its
        # .pyc files, and compiling at import would count the compiler's memory as the backends'
        env = dict(desktop.env, PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(root / "pycache"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for runs, watch_seconds in ((1, 0.0), (args.runs, args.watch_seconds)):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(root), str(runs), str(watch_seconds)],
                capture_output=True, text=True, env=env, cwd=ROOT, check=False,
            )
        if out.returncode != 0:
            sys.exit(f"the measuring process failed: {out.stderr.strip().splitlines()[-1:]}")
        data = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        desktop.stop()
        shutil.rmtree(root, ignore_errors=True)
    offered = ", ".join(f"{kind} ({source})" for kind, source, ok in data["offers"] if ok)
    print(f"signals offered here: {offered or 'none'}")
    print(f"{'at fire time, ' + str(args.runs) + ' runs':<46}{'median ms':>10}{'max ms':>10}")
    print(f"{'presence check (all signals)':<46}{data['presence_ms'][0]:>10.2f}{data['presence_ms'][1]:>10.2f}")
    print(f"{'baseline: prompt service due(now), SQLite':<46}{data['due_ms'][0]:>10.2f}{data['due_ms'][1]:>10.2f}")
    print(f"{'each signal (median ms, PSS of its first read)':<46}")
    for source, (ms, kb) in data["per_signal_ms"].items():
        print(f"  {source:<44}{ms:>10.3f}{kb / 1024:>9.2f} MB")
    print(f"PSS with the agent's core: {data['pss_base_kb'] / 1024:.1f} MB; "
          f"+{data['pss_import_kb'] / 1024:.2f} MB importing presence/, "
          f"+{data['pss_first_check_kb'] / 1024:.2f} MB after the first check (libxcb, jeepney, connections)")
    alive, thread_switches, process_switches, fired = data["watch"]
    print(f"active-again watch armed for {args.watch_seconds:.0f} s: "
          f"{'armed' if alive else 'NOT ARMED'}, its thread {thread_switches} context switches, "
          f"the whole process {process_switches}{' (it fired)' if fired else ''}")
    print(f"targets: median < 20 ms -> {'met' if data['presence_ms'][0] < 20 else 'MISSED'}; "
          f"PSS <= 3 MB -> {'met' if data['pss_first_check_kb'] <= 3 * 1024 else 'MISSED'}; "
          f"no wake-ups from the watch -> {'met' if alive and thread_switches == 0 else 'MISSED'}")


if __name__ == "__main__":
    os.environ.setdefault("TZ", "Europe/Berlin")
    main()
