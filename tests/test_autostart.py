"""Autostart at login: the XDG entry for real in a temporary XDG_CONFIG_HOME (checked by GLib's own
launcher and desktop-file-validate when present), the Windows Run key through a fake with winreg's
API, and the macOS LaunchAgent through plistlib. Windows and macOS are not run here: only the
values they would read are checked."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posture_agent import autostart as a
from posture_agent.errors import UserError
from tests.conftest import Cli

AWKWARD = "Zoë's \"runs\" $HOME `x` 50% (a&b); c\\d"  # every character the Exec rules care about


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG_CONFIG_HOME (with a space and non-ASCII), so no test touches the real one."""
    folder = tmp_path / "config häm"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    return folder


def program(folder: Path) -> Path:
    """A real executable that records the argv it was started with, beside itself."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "posture agënt"
    script.write_text(
        f"#!{sys.executable}\nimport json, pathlib, sys\n"
        "pathlib.Path(sys.argv[0]).with_name('argv.json').write_text(json.dumps(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


# --- the command the entry starts -------------------------------------------------------------


def test_launch_command_frozen_app_starts_its_own_executable(tmp_path: Path) -> None:
    exe = tmp_path / "My Apps" / "posture-agent"
    assert a.launch_command(frozen=True, executable=str(exe)) == [str(exe), "start"]


@pytest.mark.parametrize(("platform", "name"), [("win32", "posture-agent-app.exe"), ("darwin", "posture-agent-app")])
def test_launch_command_frozen_prefers_the_windowed_launcher(tmp_path: Path, platform: str, name: str) -> None:
    """No console window at login on Windows; the menu-bar .app's own executable on macOS."""
    exe = tmp_path / "Posture Agent" / ("posture-agent.exe" if platform == "win32" else "posture-agent")
    exe.parent.mkdir()
    assert a.launch_command(frozen=True, executable=str(exe), platform=platform) == [str(exe), "start"]
    (exe.parent / name).write_bytes(b"")
    assert a.launch_command(frozen=True, executable=str(exe), platform=platform) == [str(exe.parent / name), "start"]


def test_launch_command_prefers_the_console_script_beside_the_interpreter(tmp_path: Path) -> None:
    bindir = tmp_path / "venv dir" / "bin"
    bindir.mkdir(parents=True)
    (bindir / "posture-agent").write_text("#!/bin/sh\n")
    python = bindir / "python"
    assert a.launch_command(frozen=False, executable=str(python), platform="linux") == [
        str(bindir / "posture-agent"),
        "start",
    ]
    # On Windows the script is posture-agent.exe; without it, python -m posture_agent.
    assert a.launch_command(frozen=False, executable=str(python), platform="win32") == [
        str(python),
        "-m",
        "posture_agent",
        "start",
    ]


def test_launch_command_carries_an_explicit_home_as_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = a.launch_command(frozen=True, executable="/opt/pa/posture-agent", home="my home")
    assert argv == ["/opt/pa/posture-agent", "--home", str(tmp_path / "my home"), "start"]


# --- Linux: XDG autostart ---------------------------------------------------------------------


def test_exec_quoting_follows_the_desktop_entry_spec() -> None:
    # Plain words stay bare; a space means double quotes; inside them " ` $ \ get a backslash, and
    # the string layer doubles every backslash; % is doubled so it is no field code.
    assert a.exec_quote(["/usr/bin/posture-agent", "start"]) == "/usr/bin/posture-agent start"
    assert a.exec_quote(["/opt/My Apps/pa", "100%"]) == '"/opt/My Apps/pa" 100%%'
    assert a.exec_quote(['a"b', "c\\d", "$x"]) == '"a\\\\"b" "c\\\\\\\\d" "\\\\$x"'
    assert a.exec_quote(["/home/zoë/pa"]) == "/home/zoë/pa"
    assert a.exec_quote([""]) == '""'


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_characters="\n\r\x00", blacklist_categories=("Cs",))), min_size=1))
def test_exec_value_reads_back_as_the_same_argv(argv: list[str]) -> None:
    assert a.exec_split(a.exec_quote(argv)) == argv


def test_xdg_entry_content_and_round_trip(xdg: Path, tmp_path: Path) -> None:
    exe = program(tmp_path / "Apps with spaces")
    home = tmp_path / "Zoë Müller" / AWKWARD
    argv = [str(exe), "--home", str(home), "start"]
    mech = a.XdgAutostart(a.xdg_config_home())
    assert mech.path == xdg / "autostart" / "posture-agent.desktop"
    assert mech.status().enabled is False

    status = mech.enable(argv)
    text = mech.path.read_text(encoding="utf-8")
    assert text.startswith("[Desktop Entry]\nType=Application\n")
    assert f"Exec={a.exec_quote(argv)}\n" in text
    assert "Terminal=false" in text and "X-GNOME-Autostart-enabled=true" in text
    assert (status.enabled, status.command, status.target, status.target_exists) == (True, argv, str(exe), True)

    mech.enable(argv)  # enabling twice leaves one entry, the same
    assert mech.path.read_text(encoding="utf-8") == text
    assert list(mech.path.parent.iterdir()) == [mech.path]

    assert mech.disable().enabled is False
    assert not mech.path.exists()
    assert mech.disable().enabled is False  # disabling twice is fine


@pytest.mark.parametrize(
    ("old", "new"),
    [("Terminal=false", "Terminal=false\nHidden=true"),
     ("X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false")],
)
def test_xdg_entry_switched_off_by_the_user_counts_as_off(xdg: Path, old: str, new: str) -> None:
    mech = a.XdgAutostart()
    assert mech.enable(["/usr/bin/true"]).enabled is True
    mech.path.write_text(mech.path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    assert mech.status().enabled is False


def test_xdg_config_home_falls_back_to_dot_config() -> None:
    assert a.xdg_config_home({"HOME": "/h"}) == Path("/h/.config")
    assert a.xdg_config_home({"HOME": "/h", "XDG_CONFIG_HOME": "relative"}) == Path("/h/.config")
    assert a.xdg_config_home({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}) == Path("/x")


def test_xdg_entry_passes_desktop_file_validate(xdg: Path, tmp_path: Path) -> None:
    validate = shutil.which("desktop-file-validate")
    if validate is None:
        pytest.skip("desktop-file-validate is not installed (Debian package desktop-file-utils)")
    mech = a.XdgAutostart()
    mech.enable([str(tmp_path / "My Apps" / "pa"), "--home", str(tmp_path / AWKWARD), "start"])
    done = subprocess.run([validate, str(mech.path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_glib_launches_the_entry_with_the_exact_argv(xdg: Path, tmp_path: Path) -> None:
    """GLib's launcher (what GNOME and others use for autostart) starts the program with our argv,
    spaces, quotes, dollars and non-ASCII intact, and no shell expanding anything."""
    gio = shutil.which("gio")
    if gio is None:
        pytest.skip("gio (Debian package libglib2.0-bin) is not installed")
    exe = program(tmp_path / "Apps with spaces")
    argv = [str(exe), "--home", str(tmp_path / AWKWARD), "start"]
    mech = a.XdgAutostart()
    mech.enable(argv)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["DBUS_SESSION_BUS_ADDRESS"] = "disabled:"  # no stray bus from this test
    done = subprocess.run(
        [gio, "launch", str(mech.path)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    record = exe.with_name("argv.json")
    for _ in range(100):
        if record.exists():
            break
        time.sleep(0.05)
    assert json.loads(record.read_text()) == argv[1:]


def test_cli_enable_status_disable(cli: Cli, xdg: Path, home: Path) -> None:
    if sys.platform in ("win32", "darwin"):
        pytest.skip("this round trip checks the XDG entry; other systems are covered through their fakes")
    on = cli.ok("autostart", "enable", "--json").json()
    assert isinstance(on, dict)
    expected = a.launch_command(home=home)
    assert on["enabled"] is True and on["mechanism"] == "xdg-autostart"
    assert on["command"] == expected and on["command"][-3:] == ["--home", str(home), "start"]
    assert on["target_exists"] is True
    assert Path(on["location"]).is_file() and Path(on["location"]).is_relative_to(xdg)

    status = cli.ok("autostart", "status")
    assert "autostart: on" in status.out and str(home) in status.out

    # The program the entry points at is real and runs (here: --version instead of start).
    done = subprocess.run([*expected[:-1], "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.startswith("posture-agent "), done.stderr

    off = cli.ok("autostart", "disable", "--json").json()
    assert isinstance(off, dict) and off["enabled"] is False and not Path(on["location"]).exists()
    assert "autostart: off" in cli.ok("autostart", "status").out


def test_cli_status_flags_an_entry_whose_program_is_gone(cli: Cli, xdg: Path, tmp_path: Path) -> None:
    if sys.platform in ("win32", "darwin"):
        pytest.skip("checks the XDG entry")
    a.XdgAutostart().enable([str(tmp_path / "uninstalled" / "posture-agent"), "start"])
    result = cli("autostart", "status")
    assert result.code == 1
    assert "does not exist" in result.out and "autostart enable" in result.out


def test_control_characters_are_refused_in_one_line(xdg: Path) -> None:
    with pytest.raises(UserError, match="line break"):
        a.XdgAutostart().enable(["/usr/bin/pa", "--home", "a\nb", "start"])
    assert not a.XdgAutostart().path.exists()


# --- Windows: the per-user Run key, through a fake with winreg's API ---------------------------


class FakeWinreg:
    """The part of `winreg` the Run key uses, with its errors: a missing key or value raises
    FileNotFoundError, writing through a key opened read-only raises PermissionError."""

    HKEY_CURRENT_USER = 0x80000001
    HKEY_LOCAL_MACHINE = 0x80000002
    KEY_READ = 0x20019
    KEY_SET_VALUE = 0x0002
    REG_SZ = 1
    REG_EXPAND_SZ = 2
    REG_DWORD = 4

    class Handle:
        def __init__(self, path: tuple[int, str], access: int) -> None:
            self.path, self.access, self.closed = path, access, False

    def __init__(self) -> None:
        self.keys: dict[tuple[int, str], dict[str, tuple[Any, int]]] = {}
        self.handles: list[FakeWinreg.Handle] = []

    def _handle(self, root: int, sub: str, access: int) -> Handle:
        h = self.Handle((root, sub.lower()), access)
        self.handles.append(h)
        return h

    def OpenKey(self, key: int, sub_key: str, reserved: int = 0, access: int = KEY_READ) -> Handle:
        if (key, sub_key.lower()) not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self._handle(key, sub_key, access)

    def CreateKeyEx(self, key: int, sub_key: str, reserved: int = 0, access: int = KEY_SET_VALUE) -> Handle:
        self.keys.setdefault((key, sub_key.lower()), {})
        return self._handle(key, sub_key, access)

    def _values(self, h: Handle, write: bool) -> dict[str, tuple[Any, int]]:
        assert not h.closed, "used a closed key"
        if write and not h.access & self.KEY_SET_VALUE:
            raise PermissionError(5, "Access is denied")
        return self.keys[h.path]

    def SetValueEx(self, h: Handle, name: str, reserved: int, kind: int, value: Any) -> None:
        self._values(h, write=True)[name.lower()] = (value, kind)

    def QueryValueEx(self, h: Handle, name: str) -> tuple[Any, int]:
        values = self._values(h, write=False)
        if name.lower() not in values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return values[name.lower()]

    def DeleteValue(self, h: Handle, name: str) -> None:
        values = self._values(h, write=True)
        if name.lower() not in values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del values[name.lower()]

    def CloseKey(self, h: Handle) -> None:
        h.closed = True


RUN = (FakeWinreg.HKEY_CURRENT_USER, r"software\microsoft\windows\currentversion\run")


def test_windows_run_key_round_trip(tmp_path: Path) -> None:
    reg = FakeWinreg()
    mech = a.WindowsRunKey(reg)
    assert mech.status().enabled is False
    assert mech.disable().enabled is False  # no Run key at all yet: nothing to do, no error

    exe = r"C:\Program Files\posture-agent\posture-agent.exe"
    argv = [exe, "--home", "C:\\Users\\Zoë Müller\\posture data\\", "start"]
    status = mech.enable(argv)
    value, kind = reg.keys[RUN]["posture-agent"]
    assert kind == reg.REG_SZ
    assert value == (
        '"C:\\Program Files\\posture-agent\\posture-agent.exe" --home "C:\\Users\\Zoë Müller\\posture data\\\\" start'
    )
    assert (status.enabled, status.command, status.target) == (True, argv, exe)
    assert status.target_exists is False  # no such file on this machine, and status says so
    assert status.location == r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run\posture-agent"

    reg.keys[RUN]["onedrive"] = ('"C:\\OneDrive.exe" /background', reg.REG_SZ)  # someone else's entry
    assert mech.disable().enabled is False
    assert "posture-agent" not in reg.keys[RUN] and "onedrive" in reg.keys[RUN]
    assert all(h.closed for h in reg.handles), "every key handle is closed"
    assert reg.HKEY_LOCAL_MACHINE not in {k[0] for k in reg.keys}, "per user only: no admin rights needed"


def test_windows_status_points_at_an_existing_program(tmp_path: Path) -> None:
    exe = tmp_path / "Posture Agent" / "posture-agent.exe"
    exe.parent.mkdir()
    exe.write_bytes(b"MZ")
    status = a.WindowsRunKey(FakeWinreg()).enable([str(exe), "start"])
    assert status.target == str(exe) and status.target_exists is True


@settings(max_examples=300, deadline=None)
@given(
    st.text(st.characters(blacklist_characters='"\n\r\x00', blacklist_categories=("Cs",)), min_size=1),
    st.lists(st.text(st.characters(blacklist_characters="\n\r\x00", blacklist_categories=("Cs",))), max_size=4),
)
def test_windows_command_line_reads_back_as_the_same_argv(program_path: str, rest: list[str]) -> None:
    argv = [program_path, *rest]
    assert a.windows_split(a.WindowsRunKey.command_line(argv)) == argv


# --- macOS: the LaunchAgent, through plistlib ---------------------------------------------------


def test_mac_launch_agent_plist_round_trip(tmp_path: Path) -> None:
    agents = tmp_path / "Library" / "LaunchAgents"
    mech = a.MacLaunchAgent(agents)
    exe = tmp_path / "Applications" / "Posture Agent.app" / "Contents" / "MacOS" / "posture-agent"
    exe.parent.mkdir(parents=True)
    exe.write_text("")
    argv = [str(exe), "--home", f"/Users/zoë/{AWKWARD}", "start"]
    status = mech.enable(argv)
    assert mech.path == agents / "org.posture-agent.agent.plist"
    with mech.path.open("rb") as f:
        data = plistlib.load(f)
    assert data["Label"] == "org.posture-agent.agent"
    assert data["ProgramArguments"] == argv  # a list, not a command line: no shell, no quoting
    assert data["RunAtLoad"] is True and data["KeepAlive"] is False
    assert data["LimitLoadToSessionType"] == "Aqua"
    assert mech.path.read_bytes().startswith(b"<?xml")  # XML, as launchctl and plutil expect
    assert (status.enabled, status.target, status.target_exists) == (True, str(exe), True)

    data["Disabled"] = True
    mech.path.write_bytes(plistlib.dumps(data))
    assert mech.status().enabled is False
    assert mech.disable().enabled is False and not mech.path.exists()


def test_platform_choice() -> None:
    assert isinstance(a.for_platform("linux"), a.XdgAutostart)
    assert isinstance(a.for_platform("freebsd14"), a.XdgAutostart)
    assert isinstance(a.for_platform("darwin"), a.MacLaunchAgent)
