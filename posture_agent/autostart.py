"""Starting the agent at login: an XDG autostart entry on Linux, the per-user Run key on Windows, a
LaunchAgent on macOS. Each entry runs the installed program directly (no shell in between), with
its arguments quoted the way that platform's launcher unquotes them, so paths with spaces and
non-ASCII letters survive.

Each mechanism is a small class over an injected location (a folder, or a winreg-like object), so
tests exercise the real file formats and the real registry calls against a temporary folder or a
fake registry.
"""

from __future__ import annotations

import logging
import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from posture_agent.errors import UserError

log = logging.getLogger(__name__)

APP_ID = "posture-agent"
MAC_LABEL = "org.posture-agent.agent"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


@dataclass(frozen=True)
class AutostartStatus:
    """What `autostart status` reports: is it on, where it lives, and what it would start."""

    enabled: bool
    mechanism: str
    location: str
    command: list[str] | None = None
    target: str | None = None
    target_exists: bool | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Autostart(Protocol):
    mechanism: str

    def enable(self, argv: Sequence[str]) -> AutostartStatus: ...
    def disable(self) -> AutostartStatus: ...
    def status(self) -> AutostartStatus: ...


def launch_command(
    *,
    frozen: bool | None = None,
    executable: str | None = None,
    platform: str | None = None,
    home: str | os.PathLike[str] | None = None,
) -> list[str]:
    """The argv that starts the agent as it is installed now.

    A frozen app starts its own executable (its windowed launcher where there is one); an
    installed package its console script beside the interpreter (where pip put it); failing that,
    `python -m posture_agent`. `home` is passed on as `--home`, because the login session does
    not inherit this shell's POSTURE_AGENT_HOME.
    """
    frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    exe = Path(executable or sys.executable).absolute()
    platform = platform or sys.platform
    if frozen:
        # Windows and macOS builds carry a windowed launcher beside the console program: at login
        # it starts the tray with no console window (and as the menu-bar .app on macOS).
        launcher = exe.parent / ("posture-agent-app.exe" if platform == "win32" else "posture-agent-app")
        argv = [str(launcher)] if platform in ("win32", "darwin") and launcher.is_file() else [str(exe)]
    else:
        script = exe.parent / (f"{APP_ID}.exe" if platform == "win32" else APP_ID)
        argv = [str(script)] if script.is_file() else [str(exe), "-m", "posture_agent"]
    if home is not None:
        argv += ["--home", str(Path(home).expanduser().absolute())]
    return [*argv, "start"]


def _target_status(mechanism: str, location: str, command: list[str] | None) -> AutostartStatus:
    if command is None:
        return AutostartStatus(False, mechanism, location)
    target = command[0] if command else ""
    exists = bool(target) and (Path(target).is_file() or shutil.which(target) is not None)
    return AutostartStatus(True, mechanism, location, command, target, exists)


def _check_args(argv: Sequence[str]) -> list[str]:
    if not argv:
        raise ValueError("an autostart entry needs a program to start")
    for arg in argv:
        if any(c in arg for c in "\n\r\0"):
            raise UserError(f"cannot write an autostart entry: the argument {arg!r} contains a line break")
    return list(argv)


# --- Linux and other XDG desktops ------------------------------------------------------------

# Desktop Entry Specification (1.4 and 1.5), "The Exec key": an argument with any of these is quoted.
_EXEC_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")
_EXEC_ESCAPED_IN_QUOTES = set('"`$\\')


def exec_quote(argv: Sequence[str]) -> str:
    """The Exec value for `argv`, as it is written in the file (string escapes included).

    Two layers, in the spec's order: quote each argument (double quotes; `"`, backquote, `$`, `\\`
    backslash-escaped inside), double `%` so no field code is seen, then escape backslashes again
    because the Exec value is a desktop-entry string.
    """
    parts = []
    for arg in argv:
        arg = arg.replace("%", "%%")
        if arg == "" or any(c in _EXEC_RESERVED for c in arg):
            arg = '"' + "".join("\\" + c if c in _EXEC_ESCAPED_IN_QUOTES else c for c in arg) + '"'
        parts.append(arg)
    return " ".join(parts).replace("\\", "\\\\")


def _unescape_string(value: str) -> str:
    """Undo the desktop-entry string escapes (\\s \\n \\t \\r \\\\)."""
    out, i = [], 0
    table = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in table:
            out.append(table[value[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def exec_split(value: str) -> list[str]:
    """Parse an Exec value as a launcher does: the inverse of `exec_quote`."""
    text = _unescape_string(value)
    args: list[str] = []
    cur: list[str] = []
    in_arg = in_quotes = False
    i = 0
    while i < len(text):
        c = text[i]
        if in_quotes:
            if c == "\\" and i + 1 < len(text) and text[i + 1] in _EXEC_ESCAPED_IN_QUOTES:
                cur.append(text[i + 1])
                i += 1
            elif c == '"':
                in_quotes = False
            else:
                cur.append(c)
        elif c == '"':
            in_quotes = in_arg = True
        elif c == " ":
            if in_arg:
                args.append("".join(cur))
                cur, in_arg = [], False
        else:
            cur.append(c)
            in_arg = True
        i += 1
    if in_quotes:
        raise ValueError(f"unterminated quote in Exec value {value!r}")
    if in_arg:
        args.append("".join(cur))
    return [a.replace("%%", "%") for a in args]


def xdg_config_home(environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """$XDG_CONFIG_HOME if set and absolute (the spec ignores a relative one), else ~/.config."""
    env = os.environ if environ is None else environ
    value = env.get("XDG_CONFIG_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path(env.get("HOME") or Path.home()) / ".config"


class XdgAutostart:
    """`$XDG_CONFIG_HOME/autostart/posture-agent.desktop`, read by GNOME, KDE, Xfce, LXQt and others."""

    mechanism = "xdg-autostart"

    def __init__(self, config_home: Path | None = None) -> None:
        self.path = (config_home or xdg_config_home()) / "autostart" / f"{APP_ID}.desktop"

    def entry(self, argv: Sequence[str]) -> str:
        return "\n".join(
            [
                "[Desktop Entry]",
                "Type=Application",
                "Version=1.4",
                "Name=posture-agent",
                "Comment=Posture nudges, drills and recovery rules for runners who sit all day",
                f"Exec={exec_quote(_check_args(argv))}",
                f"Icon={APP_ID}",
                "Terminal=false",
                "NoDisplay=true",
                "X-GNOME-Autostart-enabled=true",
                "",
            ]
        )

    def enable(self, argv: Sequence[str]) -> AutostartStatus:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(self.entry(argv), encoding="utf-8")
        os.replace(tmp, self.path)
        log.info("autostart entry written: %s", self.path)
        return self.status()

    def disable(self) -> AutostartStatus:
        self.path.unlink(missing_ok=True)
        return self.status()

    def read_command(self) -> list[str] | None:
        if not self.path.is_file():
            return None
        in_main = False
        hidden = False
        command: list[str] | None = None
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.startswith("["):
                in_main = line.strip() == "[Desktop Entry]"
            elif in_main and "=" in line:
                key, value = (s.strip() for s in line.split("=", 1))
                if key == "Exec":
                    command = exec_split(value)
                elif (key, value) in (("Hidden", "true"), ("X-GNOME-Autostart-enabled", "false")):
                    hidden = True  # how the spec, and GNOME's settings, switch an entry off
        return None if hidden else command

    def status(self) -> AutostartStatus:
        return _target_status(self.mechanism, str(self.path), self.read_command())


# --- Windows ----------------------------------------------------------------------------------


def windows_argv0(command_line: str) -> str:
    """The program of a Windows command line, as CommandLineToArgvW finds argv[0]: up to the next
    quote when it starts with one, else up to the first space or tab (no escapes in argv[0])."""
    s = command_line.lstrip(" \t")
    if s.startswith('"'):
        end = s.find('"', 1)
        return s[1:] if end < 0 else s[1:end]
    for i, c in enumerate(s):
        if c in " \t":
            return s[:i]
    return s


def windows_split(command_line: str) -> list[str]:
    """The whole argv of a command line under the MSVC rules (the inverse of list2cmdline)."""
    argv0 = windows_argv0(command_line)
    s = command_line.lstrip(" \t")
    rest = s[len(argv0) + 2 :] if s.startswith('"') else s[len(argv0) :]
    args = [argv0]
    cur: list[str] = []
    in_arg = in_quotes = False
    i = 0
    while i < len(rest):
        c = rest[i]
        if c == "\\":
            n = 0
            while i < len(rest) and rest[i] == "\\":
                n += 1
                i += 1
            if i < len(rest) and rest[i] == '"':
                cur.append("\\" * (n // 2))
                if n % 2:
                    cur.append('"')
                    i += 1
            else:
                cur.append("\\" * n)
            in_arg = True
            continue
        if c == '"':
            in_quotes = not in_quotes
            in_arg = True
        elif c in " \t" and not in_quotes:
            if in_arg:
                args.append("".join(cur))
                cur, in_arg = [], False
        else:
            cur.append(c)
            in_arg = True
        i += 1
    if in_arg:
        args.append("".join(cur))
    return args


class WindowsRunKey:
    """A value named posture-agent under HKCU\\...\\CurrentVersion\\Run: per user, no admin rights.

    `registry` is the `winreg` module or anything with its API (OpenKey, CreateKeyEx, SetValueEx,
    QueryValueEx, DeleteValue, CloseKey and the HKEY_CURRENT_USER/REG_SZ/KEY_* constants).
    """

    mechanism = "windows-run-key"

    def __init__(self, registry: Any = None) -> None:
        if registry is None:
            import winreg as registry  # only on Windows
        self.reg = registry
        self.location = rf"HKEY_CURRENT_USER\{RUN_KEY}\{APP_ID}"

    @staticmethod
    def command_line(argv: Sequence[str]) -> str:
        """argv[0] always in quotes (Windows finds the program by the first quoted span), the rest
        by the MSVC rules that CommandLineToArgvW undoes."""
        args = _check_args(argv)
        if '"' in args[0]:
            raise UserError(f"cannot write an autostart entry: the program path {args[0]!r} contains a quote")
        rest = subprocess.list2cmdline(args[1:])
        return f'"{args[0]}"' + (f" {rest}" if rest else "")

    def enable(self, argv: Sequence[str]) -> AutostartStatus:
        reg = self.reg
        key = reg.CreateKeyEx(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE)
        try:
            reg.SetValueEx(key, APP_ID, 0, reg.REG_SZ, self.command_line(argv))
        finally:
            reg.CloseKey(key)
        return self.status()

    def disable(self) -> AutostartStatus:
        reg = self.reg
        try:
            key = reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE)
        except FileNotFoundError:
            return self.status()
        try:
            reg.DeleteValue(key, APP_ID)
        except FileNotFoundError:
            pass
        finally:
            reg.CloseKey(key)
        return self.status()

    def read_value(self) -> str | None:
        reg = self.reg
        try:
            key = reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_READ)
        except FileNotFoundError:
            return None
        try:
            value, kind = reg.QueryValueEx(key, APP_ID)
        except FileNotFoundError:
            return None
        finally:
            reg.CloseKey(key)
        if kind not in (reg.REG_SZ, getattr(reg, "REG_EXPAND_SZ", reg.REG_SZ)):
            return None
        return str(value)

    def status(self) -> AutostartStatus:
        value = self.read_value()
        return _target_status(self.mechanism, self.location, None if value is None else windows_split(value))


# --- macOS ------------------------------------------------------------------------------------


class MacLaunchAgent:
    """~/Library/LaunchAgents/org.posture-agent.agent.plist, loaded by launchd at the next login."""

    mechanism = "launch-agent"

    def __init__(self, agents_dir: Path | None = None) -> None:
        self.path = (agents_dir or Path.home() / "Library" / "LaunchAgents") / f"{MAC_LABEL}.plist"

    @staticmethod
    def plist(argv: Sequence[str]) -> dict[str, Any]:
        return {
            "Label": MAC_LABEL,
            "ProgramArguments": _check_args(argv),  # an argv list: launchd runs it with no shell
            "RunAtLoad": True,
            "KeepAlive": False,
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",  # only in a graphical login, where the menu bar is
        }

    def enable(self, argv: Sequence[str]) -> AutostartStatus:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("wb") as f:
            plistlib.dump(self.plist(argv), f, fmt=plistlib.FMT_XML)
        os.replace(tmp, self.path)
        return self.status()

    def disable(self) -> AutostartStatus:
        self.path.unlink(missing_ok=True)
        return self.status()

    def read_command(self) -> list[str] | None:
        if not self.path.is_file():
            return None
        with self.path.open("rb") as f:
            data = plistlib.load(f)
        if not isinstance(data, dict) or data.get("Disabled") is True:
            return None
        args = data.get("ProgramArguments")
        if not isinstance(args, list):
            return None
        return [str(a) for a in args]

    def status(self) -> AutostartStatus:
        return _target_status(self.mechanism, str(self.path), self.read_command())


def for_platform(platform: str | None = None) -> Autostart:
    """The mechanism of the running system (XDG for Linux and the BSDs)."""
    platform = platform or sys.platform
    if platform == "win32":
        return WindowsRunKey()
    if platform == "darwin":
        return MacLaunchAgent()
    return XdgAutostart()
