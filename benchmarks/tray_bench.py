"""The tray app's figures beside Workrave's, on one virtual desktop in one run.

    .venv/bin/python benchmarks/tray_bench.py [--runs 5] [--idle 15] [--no-real-prompt] [--tray xfce4-panel]

1. launch to docked icon: `posture-agent --home H start` (the real app: lock, store, agent,
   tray) vs Workrave, each started `--runs` times; "docked" = its window appears inside the tray
   host (trayer), or with `--tray xfce4-panel` (a StatusNotifierItem host too) also: the panel's
   watcher lists a new item (our `start` chooses its own D-Bus backend there; Workrave docks its
   XEmbed icon); with the floor, benchmarks/bare_tray.py (pystray alone) on each backend, whose
   launch and idle memory are reported too;
2. prompt due to check-in window on screen (target < 0.5 s):
   - in the real `start`, a car check-in configured for the next minute: from its due time (wall
     clock) until `xdotool` sees the window (one sample; waits up to a minute). Where the
     notification server has action buttons (dunst does) the check-in is asked in its
     notification and no window comes: the line says so (benchmarks/notify_bench.py times that);
   - in the same App driven by tests/ui_harness.py (clock moved by the benchmark): from the agent's
     event to the window's process having mapped it (measured by the app) and until `xdotool` sees
     it (measured outside); cold (the first window process) and warm;
3. the idle `start` process: RSS/PSS, CPU seconds and context switches over `--idle` seconds,
   beside Workrave (started once before, so that its everyday start is measured: _peers.py);
   and, from /proc/PID/maps, whether Tk or matplotlib were loaded before any window or chart
   was needed.

Needs Xvfb, dbus, dunst, trayer, xdotool (scripts/bootstrap.sh test) and Debian's `workrave`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._peers import settle_first_run  # noqa: E402
from posture_agent.session_bus import DBusAddress, new_method_call, open_router, unwrap_msg  # noqa: E402
from posture_agent.ui.sni_protocol import WATCHER  # noqa: E402
from tests.desktop import Desktop, stop_process  # noqa: E402  (the tests' virtual desktop, started by PID)

FLOOR_BACKENDS = ("gtk", "appindicator", "xorg")
"""benchmarks/bare_tray.py is launched with each: what the tray library costs before our code
(with `--tray xfce4-panel`: our StatusNotifierItem backend, gtk and appindicator)."""
SNI_FLOOR_BACKENDS = ("sni", "gtk", "appindicator")
HEAVY = {"Tk": ("libtk", "_tkinter"), "matplotlib": ("matplotlib/",), "numpy": ("numpy/",)}
"""Shared objects that show a part is loaded, as they appear in /proc/PID/maps."""


def loaded_parts(pid: int) -> list[str]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return [name for name, marks in HEAVY.items() if any(m in maps for m in marks)]


def real_config(home: Path, car: datetime | None) -> None:
    """Zone UTC; nothing due near now except, optionally, a car check-in at `car`."""
    far = f"{(datetime.now(UTC) + timedelta(hours=6)):%H:%M}"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("\n".join([
        "[general]", 'timezone = "UTC"', "[desk]", "days = []", "[sofa]", "days = []", "[circuit]", "days = []",
        "[drills]", f'time = "{far}"', "[soreness]", f'next_morning = "{far}"',
        "[car]", 'days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]',
        f'times = ["{f"{car:%H:%M}" if car else far}"]',
    ]) + "\n", encoding="utf-8")


def docked_children(d: Desktop, panel: str) -> int:
    """Icons docked: windows inside the tray host's slots that carry a name or class (XEmbed), and
    in xfce4-panel the StatusNotifierItems its watcher lists."""
    text = d.run("xwininfo", "-tree", "-id", panel).stdout
    xembed = sum(1 for line in text.splitlines() if line.strip().startswith("0x") and '("' in line)
    return xembed + (len(registered_items(d)) if d.tray == "xfce4-panel" else 0)


_ROUTERS: dict[str, Any] = {}
"""One bus connection per desktop for asking its watcher (polled every few ms while a launch docks)."""


def registered_items(d: Desktop) -> list[str]:
    """The watcher's RegisteredStatusNotifierItems, asked over the desktop's bus."""
    address = d.env["DBUS_SESSION_BUS_ADDRESS"]
    if address not in _ROUTERS:
        _ROUTERS[address] = open_router(bus=address)
    watcher = DBusAddress("/StatusNotifierWatcher", bus_name=WATCHER, interface="org.freedesktop.DBus.Properties")
    call = new_method_call(watcher, "Get", "ss", (WATCHER, "RegisteredStatusNotifierItems"))
    try:
        ((_sig, items),) = unwrap_msg(_ROUTERS[address].send_and_get_reply(call, timeout=2))
    except Exception:  # the panel restarting: none listed
        return []
    return list(items)


def desktop_with_workrave(root: Path, tray: str) -> Desktop:
    """The virtual desktop started with `tray`, where Workrave, the peer, is installed; else why not."""
    import _pytest.outcomes

    try:
        d = Desktop(root, tray=tray).start()
    except _pytest.outcomes.Skipped as exc:
        raise SystemExit(f"cannot benchmark: {exc}") from None
    if shutil.which("workrave") is None:
        d.stop()
        raise SystemExit("cannot benchmark: workrave is not installed (Debian package `workrave`)")
    return d


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.005) -> float | None:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if predicate():
            return time.perf_counter() - start
        time.sleep(interval)
    return None



def memory(pid: int) -> tuple[float, float]:
    """RSS and PSS in MB."""
    rss = pss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, pss


def cpu_and_switches(pid: int) -> tuple[float, dict[str, int]]:
    """CPU seconds (user + system) of the process, and context switches of each of its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    switches: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if "ctxt_switches" in line:
                    switches[task.name] = switches.get(task.name, 0) + int(line.split()[1])
        except OSError:
            continue
    return cpu, switches


def idle_figures(pid: int, seconds: float) -> dict[str, float]:
    rss, pss = memory(pid)
    cpu0, sw0 = cpu_and_switches(pid)
    time.sleep(seconds)
    cpu1, sw1 = cpu_and_switches(pid)
    # threads that lived through the whole window (a thread that ended takes its count with it)
    switched = sum(sw1[t] - sw0[t] for t in sw0.keys() & sw1.keys())
    return {"rss": rss, "pss": pss, "cpu_per_min": (cpu1 - cpu0) * 60 / seconds,
            "switches_per_min": switched * 60 / seconds}


def launch_to_dock(d: Desktop, panel: str, cmd: list[str], env: dict[str, str], runs: int,
                   keep_last: bool = False) -> tuple[list[float], subprocess.Popen[str] | None]:
    times: list[float] = []
    last = None
    base = docked_children(d, panel)
    for i in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        took = wait_until(lambda: docked_children(d, panel) > base, timeout=20)
        if took is None:
            stop_process(proc)
            raise SystemExit(f"{cmd[0]} did not dock within 20 s")
        times.append(time.perf_counter() - start)
        if keep_last and i == runs - 1:
            last = proc
        else:
            stop_process(proc)
            wait_until(lambda: docked_children(d, panel) == base, timeout=10, interval=0.05)
    return times, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=15.0, help="seconds of idle measurement")
    parser.add_argument("--no-real-prompt", action="store_true", help="skip the real start's prompt (waits ~1 min)")
    parser.add_argument("--tray", choices=("trayer", "xfce4-panel"), default="trayer",
                        help="the tray host: trayer (XEmbed) or xfce4-panel (StatusNotifierItem and XEmbed)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pa-bench-"))
    d = desktop_with_workrave(root, args.tray)
    try:
        panel = d.panel()
        assert panel is not None
        env = dict(d.env, PYTHONPATH=str(ROOT), HOME=str(root / "home"))
        (root / "home").mkdir()
        python = sys.executable

        home = root / "start-home"
        real_config(home, None)
        start_cmd = [python, "-m", "posture_agent", "--home", str(home), "start"]
        ours, tray_proc = launch_to_dock(d, panel, start_cmd, env, args.runs, keep_last=True)
        assert tray_proc is not None
        time.sleep(2)
        our_idle = idle_figures(tray_proc.pid, args.idle)
        modules = loaded_parts(tray_proc.pid)
        stop_process(tray_proc)
        settle_first_run(["workrave"], env)  # the everyday start, not the first-run setup
        wr, wr_proc = launch_to_dock(d, panel, ["workrave"], env, args.runs, keep_last=True)
        assert wr_proc is not None
        time.sleep(2)
        wr_idle = idle_figures(wr_proc.pid, args.idle)
        stop_process(wr_proc)
        # the floor: pystray and each backend with a one-item menu, before any code of ours
        floors: dict[str, tuple[list[float], dict[str, float]]] = {}
        for backend in SNI_FLOOR_BACKENDS if args.tray == "xfce4-panel" else FLOOR_BACKENDS:
            times, bare = launch_to_dock(d, panel, [python, str(ROOT / "benchmarks" / "bare_tray.py"), backend],
                                         env, args.runs, keep_last=True)
            assert bare is not None
            time.sleep(2)
            floors[backend] = (times, idle_figures(bare.pid, args.idle))
            stop_process(bare)

        real_prompt = float("nan")
        if not args.no_real_prompt:
            car = (datetime.now(UTC) + timedelta(seconds=70)).replace(second=0, microsecond=0)
            prompt_home = root / "prompt-home"
            real_config(prompt_home, car)
            proc = subprocess.Popen([python, "-m", "posture_agent", "--home", str(prompt_home), "start"], env=env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seen = wait_until(lambda: d.window("^Posture check-in$") is not None,
                              timeout=(car - datetime.now(UTC)).total_seconds() + 10, interval=0.002)
            # a server with action buttons (dunst) is asked in the notification: no window then
            real_prompt = (datetime.now(UTC) - car).total_seconds() if seen is not None else float("nan")
            stop_process(proc)

        # the whole app: tray + store + journal, windows in their own processes; then prompts
        home = root / "app-home"
        home.mkdir()
        (home / "config.toml").write_text('[general]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
        events = root / "events.jsonl"
        app = subprocess.Popen(
            [python, "-m", "tests.ui_harness", "--home", str(home), "--events", str(events),
             "--clock", "2026-11-25T12:00:00+01:00"],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
            cwd=ROOT,
        )
        assert app.stdin is not None

        def event_lines() -> list[dict[str, object]]:
            return [json.loads(x) for x in events.read_text().splitlines()] if events.exists() else []

        wait_until(lambda: any(e["event"] == "tray_ready" for e in event_lines()), timeout=20)
        time.sleep(1)
        inside: list[float] = []
        outside: list[float] = []
        for _ in range(args.runs + 1):
            seen = len([e for e in event_lines() if e["event"] == "mapped"])
            app.stdin.write("due\n")  # the next check-in, 45 min on: the agent shows it at once
            app.stdin.flush()
            took = wait_until(lambda: d.window("^Posture check-in$") is not None, timeout=10)
            outside.append(took if took is not None else float("nan"))
            wait_until(lambda: len([e for e in event_lines() if e["event"] == "mapped"]) > seen, timeout=5)  # noqa: B023
            mapped = [e for e in event_lines() if e["event"] == "mapped"][-1]
            inside.append(float(str(mapped["after"])))
            win = d.window("^Posture check-in$")
            if win:
                d.run("xdotool", "windowfocus", "--sync", win, "key", "1")
            wait_until(lambda: d.window("^Posture check-in$") is None, timeout=5)
            time.sleep(0.3)
        app_after = memory(app.pid)
        app.stdin.write("quit\n")
        app.stdin.flush()
        try:
            app.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop_process(app)
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)

    med = statistics.median
    print(f"tray benchmark ({args.runs} runs, idle {args.idle:g} s, same Xvfb + {args.tray} + session bus)")
    print()
    print(f"{'launch to docked icon':34} {'median s':>9} {'min s':>7} {'max s':>7}")
    print(f"{'posture-agent start':34} {med(ours):9.3f} {min(ours):7.3f} {max(ours):7.3f}")
    print(f"{'workrave':34} {med(wr):9.3f} {min(wr):7.3f} {max(wr):7.3f}")
    for backend, (times, _) in floors.items():
        print(f"{'bare pystray, ' + backend:34} {med(times):9.3f} {min(times):7.3f} {max(times):7.3f}")
    print(f"{'ratio ours / workrave':34} {med(ours) / med(wr):9.2f}")
    for backend, (times, _) in floors.items():
        print(f"{'ratio bare ' + backend + ' / workrave':34} {med(times) / med(wr):9.2f}")
    print()
    print(f"{'idle process':34} {'RSS MB':>9} {'PSS MB':>7} {'CPU s/min':>10} {'switches/min':>13}")
    rows = [("posture-agent start (tray)", our_idle), ("workrave", wr_idle)]
    rows += [(f"bare pystray, {backend}", fig) for backend, (_, fig) in floors.items()]
    for name, fig in rows:
        print(f"{name:34} {fig['rss']:9.1f} {fig['pss']:7.1f} {fig['cpu_per_min']:10.3f} "
              f"{fig['switches_per_min']:13.0f}")
    print(f"{'ratio RSS / workrave':34} {our_idle['rss'] / wr_idle['rss']:9.2f}")
    print(f"{'ratio PSS / workrave':34} {our_idle['pss'] / wr_idle['pss']:9.2f}")
    print(f"{'app after check-in windows':34} {app_after[0]:9.1f} {app_after[1]:7.1f}")
    print()
    print("prompt due -> check-in window on screen (target < 0.5 s)")
    if real_prompt == real_prompt:  # not NaN: a window came
        print(f"{'real start, due time -> xdotool sees it':44} {real_prompt:9.3f}")
    elif not args.no_real_prompt:
        print("real start: no window, the check-in was asked in its notification (the server has actions;"
              " benchmarks/notify_bench.py times that)")
    print(f"{'harness (same App)':34} {'cold s':>9} {'warm median s':>14} {'warm max s':>11}")
    print(f"{'event -> mapped (its process)':34} {inside[0]:9.3f} {med(inside[1:]):14.3f} {max(inside[1:]):11.3f}")
    print(f"{'tick -> visible to xdotool':34} {outside[0]:9.3f} {med(outside[1:]):14.3f} {max(outside[1:]):11.3f}")
    print()
    print(f"loaded in the idle, docked `start` (/proc/PID/maps): {', '.join(modules) or 'none'} "
          f"(checked: {', '.join(HEAVY)})")


if __name__ == "__main__":
    main()
