"""A real virtual desktop for tests: Xvfb, a private session D-Bus, the dunst notification daemon
and the trayer system tray (XEmbed), or xfce4-panel with its systray plugin (a StatusNotifierItem
host too: `Desktop(root, tray="xfce4-panel")`), each started and stopped by PID.

dunst runs with a config of its own (`dunstrc`): its context menu (`dunstctl context`) goes to a
`dmenu` stand-in script that picks the line named by `press()`, so a test presses a notification's
action as a user would, and a left click on a notification invokes its default action and closes it
(`click_notification()`). Another D-Bus client cannot fake a press: only the server sends
`ActionInvoked`.

`Desktop.start()` raises `pytest.skip` naming what is missing when a program is not installed
(scripts/test.sh installs them when run as root), so a machine without them never passes silently.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PROGRAMS = ("Xvfb", "dbus-daemon", "dunst", "dunstctl", "trayer", "xdotool", "import")


def missing_programs(programs: tuple[str, ...] = PROGRAMS) -> list[str]:
    return [p for p in programs if shutil.which(p) is None]


def stop_process(proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


XFCE_PANEL_CONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
 <property name="configver" type="int" value="2"/>
 <property name="panels" type="array"><value type="int" value="1"/>
  <property name="panel-1" type="empty"><property name="position" type="string" value="p=6;x=0;y=0"/>
   <property name="length" type="uint" value="100"/><property name="position-locked" type="bool" value="true"/>
   <property name="size" type="uint" value="32"/>
   <property name="plugin-ids" type="array"><value type="int" value="1"/></property></property></property>
 <property name="plugins" type="empty"><property name="plugin-1" type="string" value="systray"/></property>
</channel>
"""
"""One panel along the top with only the systray plugin (xfconf reads it from XDG_CONFIG_HOME)."""


class Desktop:
    def __init__(self, root: Path, with_tray: bool = True, tray: str = "trayer") -> None:
        self.root = root
        self.with_tray = with_tray
        self.tray = tray
        """"trayer" (XEmbed only) or "xfce4-panel" (StatusNotifierItem and XEmbed)."""
        self.tray_proc: subprocess.Popen[bytes] | None = None
        self.procs: list[subprocess.Popen[bytes]] = []
        self.bus_pid: int | None = None
        self.env: dict[str, str] = {}

    @property
    def dunst_log(self) -> Path:
        return self.root / "dunst.log"

    def _dunst_config(self) -> Path:
        """A dunstrc whose context menu is a script: it keeps what dunst offered (`dmenu-input`,
        written whole) and answers with the first line containing the text in `dmenu-choice`."""
        script = self.root / "dmenu.sh"
        script.write_text(
            "#!/bin/sh\n"
            f'cat > "{self.root}/dmenu-input.part"\n'
            f'mv "{self.root}/dmenu-input.part" "{self.root}/dmenu-input"\n'  # whole, or not there yet
            f'grep -m1 -F -- "$(cat "{self.root}/dmenu-choice")" "{self.root}/dmenu-input"\n',
            encoding="utf-8",
        )
        script.chmod(0o755)
        config = self.root / "dunstrc"
        config.write_text(
            "[global]\n"
            f"    dmenu = {script}\n"
            "    mouse_left_click = do_action, close_current\n"
            "    show_indicators = yes\n",
            encoding="utf-8",
        )
        return config

    def press(self, label: str) -> str:
        """Press the action labelled `label` of the notifications on screen, through dunst's context
        menu; returns the menu dunst offered."""
        (self.root / "dmenu-input").unlink(missing_ok=True)
        (self.root / "dmenu-choice").write_text(f"#{label} ", encoding="utf-8")
        self.run("dunstctl", "context", check=True)
        menu = self.root / "dmenu-input"
        wait_for(menu.exists, timeout=5)
        return menu.read_text(errors="replace") if menu.exists() else ""

    def displayed(self) -> int:
        """How many notifications dunst shows now."""
        out = self.run("dunstctl", "count", "displayed").stdout.strip()
        return int(out) if out.isdigit() else 0

    def notification_window(self) -> str | None:
        """dunst's window while a notification is shown."""
        ids = self.run("xdotool", "search", "--onlyvisible", "--class", "Dunst").stdout.split()
        return ids[-1] if ids else None

    def click_notification(self) -> None:
        """A left click on the body of the notification on screen."""
        win = self.notification_window()
        assert win is not None, "a notification is on screen"
        x, y, w, h = self.geometry(win)
        self.run("xdotool", "mousemove", str(x + w // 2), str(y + h // 2), "click", "1", check=True)

    def start(self) -> Desktop:
        bare = ("Xvfb", "dbus-daemon", "dunst", "dunstctl", "xdotool")
        wanted = (*bare, "import", self.tray) if self.with_tray else bare
        missing = missing_programs(wanted)
        if missing:
            pytest.skip(
                f"virtual desktop unavailable: missing {', '.join(missing)} (scripts/test.sh installs them as root)"
            )
        for sub in ("config", "cache", "data", "runtime", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "runtime", 0o700)
        env = dict(os.environ)
        env.update(
            TMPDIR=str(self.root / "tmp"), XDG_CONFIG_HOME=str(self.root / "config"),
            XDG_CACHE_HOME=str(self.root / "cache"), XDG_DATA_HOME=str(self.root / "data"),
            XDG_RUNTIME_DIR=str(self.root / "runtime"), NO_AT_BRIDGE="1", GSETTINGS_BACKEND="memory",
        )
        read_fd, write_fd = os.pipe()
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        os.close(write_fd)
        self.procs.append(xvfb)
        number = b""
        with os.fdopen(read_fd, "rb") as pipe:
            number = pipe.readline().strip()
        if not number:
            self.stop()
            pytest.skip("virtual desktop unavailable: Xvfb did not start")
        env["DISPLAY"] = f":{number.decode()}"
        bus = subprocess.run(
            ["dbus-daemon", "--session", "--fork", "--nopidfile", "--print-address=1", "--print-pid=1"],
            capture_output=True, text=True, env=env, check=True,
        )
        address, pid = bus.stdout.split("\n")[:2]
        env["DBUS_SESSION_BUS_ADDRESS"] = address.strip()
        self.bus_pid = int(pid)
        self.env = env
        log = self.dunst_log.open("wb")
        self.procs.append(subprocess.Popen(["dunst", "-print", "-config", str(self._dunst_config())],
                                           stdout=log, stderr=subprocess.STDOUT, env=env))
        if self.with_tray:
            self.start_tray()
        ready = wait_for(lambda: self.notifications_ready() and (not self.with_tray or self.tray_ready()))
        if not ready:
            self.stop()
            pytest.skip("virtual desktop unavailable: the tray or the notification daemon did not come up")
        return self

    def start_tray(self) -> None:
        """Start the tray host (again, after `stop_tray`): trayer, or xfce4-panel with its systray."""
        if self.tray == "xfce4-panel":
            folder = self.root / "config/xfce4/xfconf/xfce-perchannel-xml"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "xfce4-panel.xml").write_text(XFCE_PANEL_CONFIG, encoding="utf-8")
            cmd = ["xfce4-panel", "--disable-wm-check"]
        else:
            cmd = ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32",
                   "--SetDockType", "true", "--transparent", "false", "--tint", "0x888888"]
        self.tray_proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env)
        self.procs.append(self.tray_proc)

    def stop_tray(self) -> None:
        """Kill the tray host (as a crashing panel goes: SIGKILL, no goodbye to its items)."""
        if self.tray_proc is not None:
            self.tray_proc.kill()
            self.tray_proc.wait(timeout=5)

    def tray_ready(self) -> bool:
        """The tray's window is up, and for xfce4-panel its StatusNotifierWatcher is on the bus."""
        if self.tray == "xfce4-panel" and not self.name_owned("org.kde.StatusNotifierWatcher"):
            return False
        return self.panel() is not None

    def name_owned(self, name: str) -> bool:
        out = self.run("dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/",
                       "org.freedesktop.DBus.NameHasOwner", f"string:{name}")
        return "boolean true" in out.stdout

    def run(self, *cmd: str, check: bool = False, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(cmd), env=self.env, capture_output=True, text=True, check=check, timeout=timeout)

    def notifications_ready(self) -> bool:
        return "DBUS_SESSION_BUS_ADDRESS" in self.env and self.name_owned("org.freedesktop.Notifications")

    def panel(self) -> str | None:
        """The tray host's window. xdotool's search walks every window and can come back empty when
        one (a menu closing) is destroyed during the walk, so a miss is asked again for a moment."""
        for _ in range(20):
            if self.tray == "xfce4-panel":  # its panel window, not the 10x10 helper windows it also maps
                found = self.run("xdotool", "search", "--onlyvisible", "--class", "xfce4-panel").stdout.split()
                ids = [w for w in found if self.geometry(w)[2] > 100]
            else:
                ids = self.run("xdotool", "search", "--name", "^panel$").stdout.split()
            if ids:
                return ids[0]
            time.sleep(0.1)
        return None

    def popup_menus(self) -> int:
        """How many popup menus (the tray's menu, its submenus) are on screen now."""
        shown = self.run("xdotool", "search", "--onlyvisible", "--name", "").stdout.split()
        return sum(
            "_NET_WM_WINDOW_TYPE_POPUP_MENU" in self.run("xprop", "-id", wid, "_NET_WM_WINDOW_TYPE").stdout
            for wid in shown
        )

    def wait_for_menus(self, count: int, timeout: float = 10) -> None:
        """Wait until `count` popup menus are open: keys sent before a menu maps go nowhere, which a
        fixed sleep cannot promise on a busy machine."""
        assert wait_for(lambda: self.popup_menus() >= count, timeout=timeout), f"{count} menu(s) did not open"

    def window(self, name: str) -> str | None:
        out = self.run("xdotool", "search", "--onlyvisible", "--name", name)
        ids = out.stdout.split()
        return ids[-1] if ids else None

    def geometry(self, window: str) -> tuple[int, int, int, int]:
        """x, y, width, height of a window on screen."""
        out = self.run("xdotool", "getwindowgeometry", "--shell", window, check=True).stdout
        values = dict(line.split("=", 1) for line in out.split() if "=" in line)
        return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])

    def screenshot(self, path: Path, crop: str | None = None) -> Path:
        self.run("import", "-window", "root", str(path), check=True)
        if crop:
            self.run("convert", str(path), "-crop", crop, "+repage", str(path), check=True)
        return path

    def notifications(self) -> str:
        return self.dunst_log.read_text(errors="replace") if self.dunst_log.exists() else ""

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        if self.bus_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.bus_pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


def _session(with_tray: bool, tray: str = "trayer") -> Iterator[Desktop]:
    root = Path(tempfile.mkdtemp(prefix="pa-desktop-"))
    d = Desktop(root, with_tray=with_tray, tray=tray).start()
    try:
        yield d
    finally:
        d.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def desktop() -> Iterator[Desktop]:
    yield from _session(with_tray=True)


@pytest.fixture
def sni_desktop() -> Iterator[Desktop]:
    """The desktop with xfce4-panel as its tray: a StatusNotifierItem host (and an XEmbed one)."""
    yield from _session(with_tray=True, tray="xfce4-panel")


@pytest.fixture
def bare_desktop() -> Iterator[Desktop]:
    """Xvfb and a session bus, no tray host yet (as at login, before the panel is up)."""
    yield from _session(with_tray=False)
