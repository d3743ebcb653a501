"""The resident agent over a simulated day, beside Workrave in the same run.

    .venv/bin/python benchmarks/day_bench.py [--idle 60] [--checkins 10] [--json] [--no-sub-benches]
                                             [--tray xfce4-panel]

On one virtual desktop (tests/desktop.py: Xvfb + a private session bus + dunst + trayer, or with
`--tray xfce4-panel` a StatusNotifierItem host, where the resident serves its own D-Bus tray):
1. the resident (tests/ui_harness.py: the real App and Agent on a real SQLite file, the agent's
   notifier open as in `start`, its clock moved by the benchmark) idle before its first prompt, then
   a Wednesday: the 07:30 drills prompt's window closed with Escape and the drills window opened from
   the menu and left open for the rest of the day, then `--checkins` check-ins, every other one
   answered by pressing Upright in its notification in dunst (its context menu, as
   tests/test_notify_actions.py does), the others by a click on the notification's body and key 1 in
   the check-in window (xdotool); then the weekly report opened from the menu (its page written by a
   child `posture-agent report`). PSS (/proc/PID/smaps_rollup) idle before the first prompt and
   after the day, with the drills window open and after it is closed; which of Tk, matplotlib, numpy
   are mapped in /proc/PID/maps after the day;
2. wake-ups over `--idle` seconds each: the resident's context switches per minute (all its threads)
   before the first prompt, with the drills window open and after it is closed, and the open window
   process's per second. The harness runs no scheduler, so these are all beyond the real `start`'s
   once-a-minute housekeeping; the real `posture-agent start` (an everyday start: nothing due) and
   Workrave (started once before: _peers.py) are measured idle in the same spell, side by side;
3. the GDK_GL effect: RSS/PSS of the first GTK client (benchmarks/bare_tray.py gtk) on a display
   whose root window has no GDK_VISUALS property yet (a fresh display) and on one where it is set
   (one GTK client started and stopped first), each with and without GDK_GL=disable;
4. benchmarks/notify_bench.py and benchmarks/prompt_window_bench.py, run as they are, their lines
   kept.
The load average is printed beside the figures (a busy machine slows the timings, not the counts).

Needs Xvfb, dbus, dunst, trayer, xdotool, xprop (scripts/bootstrap.sh test). Without Debian's
`workrave` the Workrave figures and ratios are reported as unavailable. Not a timed test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._peers import settle_first_run  # noqa: E402
from benchmarks.tray_bench import HEAVY, cpu_and_switches, memory, real_config  # noqa: E402
from posture_agent.paths import Paths  # noqa: E402
from tests.desktop import Desktop, stop_process, wait_for  # noqa: E402

PYTHON = sys.executable
DAY_START = "2026-11-25T07:00:00+01:00"
"""A Wednesday: drills at 07:30, the car check-in at 09:00, desk check-ins every 45 min from 09:45."""
CHECKIN = "^Posture check-in$"
ASKED = "Press your answer"
"""In a check-in's notification (dunst prints each one it shows)."""
TITLES = {"drills": "^Today's drills", "circuit": "^Strength circuit$", "soreness": "^How's my back\\?$"}
"""The prompt windows' titles (posture_agent/ui/windows/), as xdotool finds them."""
SETTLE_S = 3.0


def switches(pid: int) -> int:
    return sum(cpu_and_switches(pid)[1].values())


def mapped_parts(pid: int) -> dict[str, bool]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {name: any(m in maps for m in marks) for name, marks in HEAVY.items()}


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def per_minute(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """Context switches per minute of each process (all its threads) over `seconds`."""
    before = {name: switches(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    return {name: (switches(pid) - before[name]) * 60 / seconds for name, pid in pids.items()}


def memory3(pid: int) -> dict[str, float]:
    """RSS, PSS, USS (its private pages: Private_Clean + Private_Dirty) and anonymous memory in MB.
    PSS and USS move with the other processes on the machine that map the same libraries (any GTK
    program starting or ending shares or unshares ~5 MB of libgtk-3): the anonymous memory (the
    process's own heap, stacks and arenas) and RSS are what the day itself changes."""
    rss, pss = memory(pid)
    kb: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split()[:2]
        kb[name] = int(value)
    uss = kb.get("Private_Clean:", 0) + kb.get("Private_Dirty:", 0)
    return {"rss": rss, "pss": pss, "uss": uss / 1024, "anon": kb.get("Anonymous:", 0) / 1024}


def idle_alone(pid: int, seconds: float) -> dict[str, float]:
    """Settled, then its memory and its context switches and CPU over `seconds`."""
    time.sleep(SETTLE_S)
    mem = memory3(pid)
    cpu0 = cpu_and_switches(pid)[0]
    spell = per_minute({"p": pid}, seconds)["p"]
    return {**mem, "switches_per_min": spell, "cpu_per_min": (cpu_and_switches(pid)[0] - cpu0) * 60 / seconds}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- the GDK_GL effect -----------------------------------------------------------------------------

def gdk_visuals(d: Desktop) -> bool:
    return "GDK_VISUALS(" in d.run("xprop", "-root", "GDK_VISUALS").stdout


def gtk_client(d: Desktop, gl_disable: bool) -> tuple[float, float]:
    env = dict(d.env, PYTHONPATH=str(ROOT))
    env.pop("GDK_GL", None)
    if gl_disable:
        env["GDK_GL"] = "disable"
    proc = subprocess.Popen([PYTHON, str(ROOT / "benchmarks" / "bare_tray.py"), "gtk"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(SETTLE_S)
        return memory(proc.pid)
    finally:
        stop_process(proc)


def gdk_gl_effect(root: Path) -> list[dict[str, Any]]:
    rows = []
    for primed in (False, True):
        for disable in (False, True):
            d = Desktop(root / f"gl-{int(primed)}{int(disable)}").start()
            try:
                if primed:
                    gtk_client(d, gl_disable=False)  # the first GTK client probes GLX and sets GDK_VISUALS
                had = gdk_visuals(d)
                rss, pss = gtk_client(d, gl_disable=disable)
                rows.append({"display": "GDK_VISUALS already set" if had else "fresh (no GDK_VISUALS)",
                             "gdk_gl": "disable" if disable else "unset", "rss": rss, "pss": pss,
                             "visuals_after": gdk_visuals(d)})
            finally:
                d.stop()
    return rows


# --- the day ---------------------------------------------------------------------------------------

class Day:
    def __init__(self, d: Desktop, root: Path, backend: str = "gtk") -> None:
        self.d = d
        self.home = root / "day-home"
        self.home.mkdir()
        (self.home / "config.toml").write_text('[general]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
        self.events = root / "day-events.jsonl"
        env = dict(d.env, PYTHONPATH=str(ROOT), TZ="Europe/Berlin", BROWSER="true")
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "tests.ui_harness", "--home", str(self.home), "--events", str(self.events),
             "--clock", DAY_START, "--backend", backend, "--notify"],
            stdin=subprocess.PIPE, text=True, stdout=subprocess.DEVNULL,
            stderr=(root / "day.err").open("wb"), env=env, cwd=ROOT)
        self.pid = self.proc.pid
        self.fallbacks = 0
        """Body clicks that opened no window, followed by the notification's Open action."""

    def log(self) -> list[dict[str, Any]]:
        if not self.events.exists():
            return []
        return [json.loads(line) for line in self.events.read_text().splitlines() if line.strip()]

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait_event(self, name: str, since: int, timeout: float = 20, **match: Any) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def seen() -> bool:
            found[:] = [e for e in self.log()[since:] if e["event"] == name
                        and all(e.get(k) == v for k, v in match.items())]
            return bool(found)

        if not wait_for(seen, timeout=timeout):
            raise SystemExit(f"the day stopped: no {name!r} {match or ''} within {timeout:.0f} s")
        return found[0]

    def answered(self) -> int:
        conn = sqlite3.connect(Paths.resolve(self.home).db_file)
        try:
            return int(conn.execute("select count(*) from checkins where posture != 'missed'").fetchone()[0])
        except sqlite3.OperationalError:
            return 0
        finally:
            conn.close()

    def key(self, window: str, key: str) -> None:
        self.d.run("xdotool", "windowfocus", "--sync", window, "key", key)

    def checkin(self, by_press: bool) -> None:
        before = self.answered()
        if by_press:
            self.d.press("Upright")
        else:
            self.d.click_notification()
            if not wait_for(lambda: self.d.window(CHECKIN) is not None, timeout=5):
                self.fallbacks += 1  # the click missed (the body under another window): its Open action
                self.d.press("Open")
            assert wait_for(lambda: self.d.window(CHECKIN) is not None, timeout=15), "the check-in window maps"
            win = self.d.window(CHECKIN)
            assert win is not None
            self.key(win, "1")
        if not wait_for(lambda: self.answered() > before, timeout=20):
            raise SystemExit("a check-in answer was not stored")
        wait_for(lambda: self.d.displayed() == 0, timeout=10)
        wait_for(lambda: self.d.window(CHECKIN) is None, timeout=10)

    def run_day(self, checkins: int) -> dict[str, Any]:
        """Through the drills prompt and `checkins` check-ins to the weekly report; the drills window
        (opened from the menu) is left open. Returns how each check-in was answered."""
        ways: list[str] = []
        drills_pid: int | None = None
        while len(ways) < checkins:
            seen = len(self.log())
            asked = self.d.notifications().count(ASKED)
            self.send("due")
            due = self.wait_event("due", seen)
            if due["kind"] == "checkin":
                assert wait_for(lambda a=asked: self.d.notifications().count(ASKED) > a,  # type: ignore[misc]
                                timeout=10), "its notification is shown"
                by_press = len(ways) % 2 == 0
                self.checkin(by_press)
                ways.append("notification press" if by_press else "window, key 1")
            elif due["kind"] in ("drills", "circuit", "soreness"):
                shown = wait_for(lambda s=seen, k=due["kind"]: any(  # type: ignore[misc]
                    e["event"] in ("mapped", "raised") and e.get("window") == k for e in self.log()[s:]), timeout=20)
                if shown and any(e["event"] == "raised" for e in self.log()[seen:]):
                    continue  # the window left open (a day before) takes the prompt
                title = TITLES[due["kind"]]
                win = None
                if wait_for(lambda t=title: self.d.window(t) is not None, timeout=10):  # type: ignore[misc]
                    win = self.d.window(title)
                if win:
                    self.key(win, "Escape")  # dismissed: the drills prompt stays answerable all day
                self.wait_event("gone", seen, window=due["kind"])
                self.d.run("dunstctl", "close-all")  # its plain notification, read
                if due["kind"] == "drills" and drills_pid is None:
                    seen = len(self.log())
                    self.send("open drills")
                    self.wait_event("mapped", seen, window="drills")
                    drills_pid = children(self.pid)[0]
        seen = len(self.log())
        self.send("open report")
        self.wait_event("browser", seen, timeout=120)
        return {"ways": ways, "drills_pid": drills_pid, "click_fallbacks": self.fallbacks}


def start_idle(d: Desktop, root: Path) -> subprocess.Popen[bytes]:
    """The real `posture-agent start`, nothing due for hours: an everyday start (run once before)."""
    home = root / "start-home"
    real_config(home, None)
    env = dict(d.env, PYTHONPATH=str(ROOT), HOME=str(root / "home"))
    cmd = [PYTHON, "-m", "posture_agent", "--home", str(home), "start"]
    settle_first_run(cmd, env)
    return subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=ROOT)


def sub_bench(name: str, *args: str) -> list[str]:
    done = subprocess.run([PYTHON, str(ROOT / "benchmarks" / name), *args], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0:
        lines.append(f"(exited {done.returncode}: {done.stderr.strip().splitlines()[-1:] or ''})")
    return lines


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "n/a" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of each idle measurement")
    parser.add_argument("--checkins", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--no-sub-benches", action="store_true", help="skip notify_bench and prompt_window_bench")
    parser.add_argument("--tray", choices=("trayer", "xfce4-panel"), default="trayer",
                        help="the tray host; with xfce4-panel the resident chooses its StatusNotifierItem tray")
    args = parser.parse_args()
    import _pytest.outcomes

    fig: dict[str, Any] = {"load_before": load(), "idle_s": args.idle}
    root = Path(tempfile.mkdtemp(prefix="pa-day-bench-"))
    workrave = shutil.which("workrave")
    try:
        try:
            fig["gdk_gl"] = gdk_gl_effect(root)
            d = Desktop(root / "desk", tray=args.tray).start()
        except _pytest.outcomes.Skipped as exc:
            raise SystemExit(f"cannot benchmark: {exc}") from None
        procs: list[subprocess.Popen[Any]] = []
        try:
            # each measured alone: PSS shares a library's pages among the processes mapping it
            fig["idle_before"] = {}
            start = start_idle(d, root)
            procs.append(start)
            fig["idle_before"]["start"] = idle_alone(start.pid, args.idle)
            stop_process(start)
            if workrave:
                env = dict(d.env, HOME=str(root / "home"))
                settle_first_run([workrave], env)  # the everyday start, not the first-run setup
                wr = subprocess.Popen([workrave], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
                procs.append(wr)
                fig["idle_before"]["workrave"] = idle_alone(wr.pid, args.idle)
                stop_process(wr)
            day = Day(d, root, backend="" if args.tray == "xfce4-panel" else "gtk")  # "": the app chooses
            procs.append(day.proc)
            day.wait_event("tray_ready", 0, timeout=30)
            fig["idle_before"]["resident"] = idle_alone(day.pid, args.idle)

            t0 = time.perf_counter()
            done = day.run_day(args.checkins)
            fig["day"] = {"ways": done["ways"], "click_fallbacks": done["click_fallbacks"],
                          "seconds": time.perf_counter() - t0}
            time.sleep(SETTLE_S)
            drills = done["drills_pid"]
            fig["after_day_window_open"] = memory3(day.pid)
            if drills:
                open_idle = per_minute({"resident": day.pid, "window": drills}, args.idle)
                fig["after_day_window_open"].update(
                    resident_switches_per_min=open_idle["resident"],
                    window_switches_per_s=open_idle["window"] / 60,
                    window=memory3(drills))
                win = d.window(TITLES["drills"])
                if win:
                    day.key(win, "Escape")
                wait_for(lambda: not children(day.pid), timeout=10)
            time.sleep(SETTLE_S)
            closed_idle = per_minute({"resident": day.pid}, args.idle)
            fig["after_day"] = {**memory3(day.pid), "switches_per_min": closed_idle["resident"],
                                "mapped": mapped_parts(day.pid), "threads": len(os.listdir(f"/proc/{day.pid}/task"))}
            day.send("quit")
            with contextlib.suppress(subprocess.TimeoutExpired):
                day.proc.wait(timeout=15)
        finally:
            for proc in procs:
                stop_process(proc)
            d.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if not args.no_sub_benches:
        fig["notify_bench"] = sub_bench("notify_bench.py", "--runs", "10", "--idle", "20")
        fig["prompt_window_bench"] = sub_bench("prompt_window_bench.py", "--runs", "10", "--idle", "30")
    fig["load_after"] = load()
    fig["workrave"] = workrave is not None
    report(fig)
    if args.json:
        print(json.dumps(fig, indent=2))


def report(fig: dict[str, Any]) -> None:
    before = fig["idle_before"]
    res = before["resident"]
    wr = before.get("workrave")
    after, opened = fig["after_day"], fig["after_day_window_open"]
    ratio: Callable[[float], str] = lambda x: f"{x / wr['pss']:.2f}" if wr else "n/a"  # noqa: E731
    print(f"day benchmark (idle spells {fig['idle_s']:g} s; load average {fig['load_before']} before, "
          f"{fig['load_after']} after; 2 cores)")
    if not fig["workrave"]:
        print("workrave is not installed (Debian package `workrave`): its figures and the ratios are unavailable")
    print()
    print(f"{'memory (MB)':44} {'RSS':>6} {'PSS':>6} {'USS':>6} {'anon':>6} {'vs idle: PSS':>13} "
          f"{'RSS':>5} {'anon':>5} {'PSS / workrave':>15}")

    def row(name: str, m: dict[str, float], delta: bool = False) -> None:
        change = (f"{m['pss'] - res['pss']:+13.1f} {m['rss'] - res['rss']:+5.1f} {m['anon'] - res['anon']:+5.1f}"
                  if delta else f"{'':13} {'':5} {'':5}")
        print(f"{name:44} {m['rss']:6.1f} {m['pss']:6.1f} {m['uss']:6.1f} {m['anon']:6.1f} {change} "
              f"{ratio(m['pss']):>15}")

    row("resident, idle before the first prompt", res)
    row("resident, after the day, drills window open", opened, delta=True)
    row("resident, after the day, all windows closed", after, delta=True)
    row("real `start`, everyday start, idle", before["start"])
    if wr:
        row("workrave, everyday start, idle", wr)
    print(f"the day: {len(fig['day']['ways'])} check-ins ("
          f"{sum(w == 'notification press' for w in fig['day']['ways'])} by notification press, "
          f"{sum(w == 'window, key 1' for w in fig['day']['ways'])} in the window), drills window left open, "
          f"weekly report; {fig['day']['seconds']:.1f} s; body clicks that opened nothing, then Open pressed: "
          f"{fig['day']['click_fallbacks']}")
    print("mapped in the resident after the day (/proc/PID/maps): "
          + ", ".join(f"{k} {'YES' if v else 'no'}" for k, v in after["mapped"].items()))
    print()
    print(f"{'wake-ups':52} {'switches/min':>13}")
    print(f"{'resident, idle before the first prompt':52} {res['switches_per_min']:13.1f}")
    if "resident_switches_per_min" in opened:
        print(f"{'resident, after the day, drills window open':52} {opened['resident_switches_per_min']:13.1f}")
    print(f"{'resident, after the day, no window':52} {after['switches_per_min']:13.1f}")
    print(f"{'real `start` idle (housekeeping once a minute incl.)':52} {before['start']['switches_per_min']:13.1f}")
    print(f"{'workrave idle':52} {fmt(wr['switches_per_min'] if wr else None):>13}")
    if "window_switches_per_s" in opened:
        print(f"open drills window process: {opened['window_switches_per_s']:.2f} switches/s "
              f"(RSS {opened['window']['rss']:.1f} MB, PSS {opened['window']['pss']:.1f} MB)")
    print()
    print(f"{'first GTK client (bare pystray gtk)':42} {'GDK_GL':>8} {'RSS MB':>7} {'PSS MB':>7}")
    for row in fig["gdk_gl"]:
        print(f"{row['display']:42} {row['gdk_gl']:>8} {row['rss']:7.1f} {row['pss']:7.1f}")
    for name in ("notify_bench", "prompt_window_bench"):
        if name in fig:
            print()
            print(f"benchmarks/{name}.py:")
            for line in fig[name]:
                print(f"  {line}")


if __name__ == "__main__":
    main()
