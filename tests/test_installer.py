"""The installer files, without building: the PyInstaller spec evaluated for Linux, Windows and
macOS with recording stand-ins for PyInstaller's build classes (nothing is built for Windows or
macOS here; only what the spec asks for is checked), every hand-listed module checked against the
installed distributions, the Inno Setup script checked for what it must do, and the Linux
`install.sh` run for real into a temporary home."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import plistlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from posture_agent import __version__
from posture_agent import autostart as a

ROOT = Path(__file__).resolve().parent.parent
INSTALLER = ROOT / "installer"


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bundle_modules = load(INSTALLER / "bundle_modules.py", "bundle_modules")


def module_file_exists(name: str) -> bool:
    """Is `name` a module or package in an installed distribution (or the standard library)?
    Looked up as files, so Windows- and macOS-only modules can be checked on Linux."""
    parts = name.split(".")
    top = parts[0]
    if top in sys.stdlib_module_names:
        return importlib.util.find_spec(name) is not None
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return spec is not None and len(parts) == 1
    base = Path(next(iter(spec.submodule_search_locations)))
    rel = base.joinpath(*parts[1:])
    return (rel / "__init__.py").is_file() or rel.with_suffix(".py").is_file() or len(parts) == 1


@pytest.mark.parametrize("platform", ["linux", "win32", "darwin"])
def test_every_hand_listed_module_exists(platform: str) -> None:
    """A typo in a hidden import is only a warning in PyInstaller, then a crash in the frozen app."""
    missing = [m for m in bundle_modules.hidden_imports(platform) if not module_file_exists(m)]
    if platform == "linux" and importlib.util.find_spec("dbus") is None:
        missing = [m for m in missing if not m.startswith("dbus")]  # optional: dbus-python (no extra installs it)
    assert not missing


def test_pystray_backends_and_plyer_platforms_are_all_covered() -> None:
    """Every backend pystray ships and the notification module of each plyer platform we build for."""
    pystray_files = {str(f) for f in importlib.metadata.files("pystray") or []}
    backends = {Path(f).stem for f in pystray_files if re.fullmatch(r"pystray/_[a-z0-9]+\.py", f)}
    backends -= {"_base", "_info", "_dummy"}  # not backends a user's system picks
    listed = {m.split(".")[1] for p in ("linux", "win32", "darwin") for m in bundle_modules.DYNAMIC[p]
              if m.startswith("pystray.")}
    assert backends <= listed, backends - listed
    for platform, folder in (("linux", "linux"), ("win32", "win"), ("darwin", "macosx")):
        assert f"plyer.platforms.{folder}.notification" in bundle_modules.DYNAMIC[platform]


def test_excludes_test_packages_and_plotting_libraries() -> None:
    default = bundle_modules.excludes()
    for name in ("scipy", "pytest", "_pytest", "hypothesis", "PyInstaller", "matplotlib", "numpy", "cv2", "skimage"):
        assert name in default  # the weekly report's charts are SVG the package writes itself


# --- the spec, evaluated per platform with stand-ins for PyInstaller's build classes -------------


class Recorder:
    """Stands in for Analysis/PYZ/EXE/COLLECT/BUNDLE: keeps the arguments the spec passes."""

    made: list[Recorder]

    def __init__(self, kind: str, *args: Any, **kwargs: Any) -> None:
        self.kind, self.args, self.kwargs = kind, args, kwargs
        self.pure = self.scripts = self.binaries = self.datas = [kind]
        Recorder.made.append(self)


def evaluate_spec(platform: str, monkeypatch: pytest.MonkeyPatch) -> list[Recorder]:
    pytest.importorskip("PyInstaller", reason="PyInstaller is not installed (the build extra)")
    Recorder.made = []
    monkeypatch.setattr(sys, "platform", platform)
    namespace: dict[str, Any] = {"SPECPATH": str(INSTALLER), "__name__": "__main__"}
    for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"):
        namespace[kind] = lambda *args, _k=kind, **kwargs: Recorder(_k, *args, **kwargs)
    code = compile((INSTALLER / "posture-agent.spec").read_text(encoding="utf-8"), "posture-agent.spec", "exec")
    exec(code, namespace)
    return Recorder.made


@pytest.fixture(scope="module")
def spec_runs() -> dict[str, list[Recorder]]:
    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        for platform in ("linux", "win32", "darwin"):
            runs[platform] = evaluate_spec(platform, mp)
            mp.undo()
    return runs


def made(records: list[Recorder], kind: str) -> list[Recorder]:
    return [r for r in records if r.kind == kind]


def test_spec_linux_one_console_program_with_migrations_and_icons(spec_runs: dict[str, list[Recorder]]) -> None:
    runs = spec_runs["linux"]
    (analysis,) = made(runs, "Analysis")
    assert analysis.args[0][0].endswith(os.path.join("posture_agent", "__main__.py"))
    hidden = analysis.kwargs["hiddenimports"]
    assert {"pystray._appindicator", "pystray._gtk", "plyer.platforms.linux.notification"} <= set(hidden)
    assert "posture_agent.commands.autostart" in hidden
    assert "pytest" in analysis.kwargs["excludes"] and "matplotlib" in analysis.kwargs["excludes"]
    dests = {Path(dest).as_posix() + "/" + Path(src).name for src, dest in analysis.kwargs["datas"]}
    assert "posture_agent/store/migrations/env.py" in dests
    assert "posture_agent/store/migrations/versions/0001_initial_schema.py" in dests
    assert {f"posture_agent/data/icons/{s}.{kind}" for s in ("normal", "paused", "protocol")
            for kind in ("png", "pixmaps")} <= dests, "the tray's icons, and their pixels for the D-Bus tray"
    assert {"pystray._dummy", "posture_agent.ui.sni"} <= set(hidden), "our StatusNotifierItem tray, loaded lazily"
    assert "posture_agent/data/drills.toml" in dests
    (exe,) = made(runs, "EXE")
    assert exe.kwargs["name"] == "posture-agent" and exe.kwargs["console"] is True
    assert made(runs, "COLLECT")[0].kwargs["name"] == "posture-agent" and not made(runs, "BUNDLE")


def test_spec_windows_adds_a_windowed_launcher_with_the_ico(spec_runs: dict[str, list[Recorder]]) -> None:
    runs = spec_runs["win32"]
    exes = {e.kwargs["name"]: e for e in made(runs, "EXE")}
    assert set(exes) == {"posture-agent", "posture-agent-app"}
    assert exes["posture-agent"].kwargs["console"] is True
    assert exes["posture-agent-app"].kwargs["console"] is False  # no console window behind the tray
    assert exes["posture-agent-app"].kwargs["icon"].endswith("posture-agent.ico")
    assert Path(exes["posture-agent-app"].kwargs["icon"]).is_file()
    hidden = made(runs, "Analysis")[0].kwargs["hiddenimports"]
    assert "pystray._win32" in hidden and "plyer.platforms.win.notification" in hidden
    assert "pystray._appindicator" not in hidden


def test_spec_macos_bundle_lives_in_the_menu_bar_only(spec_runs: dict[str, list[Recorder]], tmp_path: Path) -> None:
    runs = spec_runs["darwin"]
    (bundle,) = made(runs, "BUNDLE")
    info = bundle.kwargs["info_plist"]
    assert info["LSUIElement"] is True  # no Dock icon
    assert info["CFBundleExecutable"] == "posture-agent-app"
    assert info["CFBundleShortVersionString"] == __version__
    assert bundle.kwargs["name"] == "Posture Agent.app" and bundle.kwargs["icon"].endswith(".icns")
    assert Path(bundle.kwargs["icon"]).is_file()
    # The Info.plist survives a plistlib round trip with LSUIElement as a real boolean.
    path = tmp_path / "Info.plist"
    path.write_bytes(plistlib.dumps(info))
    assert plistlib.loads(path.read_bytes())["LSUIElement"] is True
    # The .app's executable is the windowed launcher: it must come first in COLLECT.
    (coll,) = made(runs, "COLLECT")
    assert coll.args[0].kwargs["name"] == "posture-agent-app"
    assert "pystray._darwin" in made(runs, "Analysis")[0].kwargs["hiddenimports"]


def test_launcher_starts_the_agent_when_no_command_is_given() -> None:
    entry = load(INSTALLER / "app_entry.py", "app_entry")
    assert entry.launcher_args([]) == ["start"]
    assert entry.launcher_args(["-psn_0_12345"]) == ["start"]
    assert entry.launcher_args(["--home", "D:\\data"]) == ["--home", "D:\\data", "start"]
    assert entry.launcher_args(["doctor"]) == ["doctor"]
    assert entry.launcher_args(["start", "--no-tray"]) == ["start", "--no-tray"]


# --- Windows: the Inno Setup script -------------------------------------------------------------


def iss_sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(";") or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
        else:
            sections.setdefault(current, []).append(line)
    return sections


def iss_entry(line: str) -> dict[str, str]:
    """`Name: "x"; Flags: a b` → {"Name": "x", "Flags": "a b"} (quotes doubled inside values)."""
    out = {}
    for m in re.finditer(r'(\w+):\s*("(?:[^"]|"")*"|[^;]*)\s*(?:;|$)', line):
        value = m.group(2).strip()
        out[m.group(1)] = value[1:-1].replace('""', '"') if value.startswith('"') else value
    return out


ISS = INSTALLER / "windows" / "posture-agent.iss"


def test_inno_setup_script() -> None:
    text = ISS.read_text(encoding="utf-8")
    defines = dict(re.findall(r'#define (\w+) "([^"]*)"', text))
    sections = iss_sections(text)
    setup = dict(line.split("=", 1) for line in sections["Setup"])
    assert setup["PrivilegesRequired"] == "lowest"  # per user, like the Run key
    assert defines["AppVersion"] == __version__
    assert defines["AppExe"] == "posture-agent-app.exe"  # the spec's windowed launcher
    icon = setup["SetupIconFile"].replace("\\", "/")
    assert (ISS.parent / icon).resolve() == ROOT / "assets" / "icons" / "posture-agent.ico"
    build_dir = defines["BuildDir"].replace("\\", "/")
    assert (ISS.parent / build_dir).resolve() == ROOT / "dist" / "posture-agent"  # where build.py puts it

    icons = [iss_entry(line) for line in sections["Icons"]]
    assert any(i["Name"].startswith("{group}\\") and i["Filename"] == "{app}\\{#AppExe}" for i in icons)
    assert any(i["Filename"] == "{uninstallexe}" for i in icons)  # an uninstaller in the Start menu

    (task,) = [iss_entry(line) for line in sections["Tasks"]]
    assert task["Name"] == "autostart" and "unchecked" in task["Flags"]  # optional, off by default
    (reg,) = [iss_entry(line) for line in sections["Registry"]]
    assert reg["Root"] == "HKCU" and reg["Subkey"] == a.RUN_KEY and reg["ValueName"] == a.APP_ID
    assert reg["Tasks"] == "autostart" and "uninsdeletevalue" in reg["Flags"]
    # The value is the same command line `autostart enable` writes for the frozen launcher, so
    # `autostart status` and `disable` understand an installer-made entry.
    app_dir = "C:\\Users\\Zoë\\AppData\\Local\\Programs\\posture-agent"
    value = reg["ValueData"].replace("{app}", app_dir).replace("{#AppExe}", defines["AppExe"])
    argv = [f"{app_dir}\\posture-agent-app.exe", "start"]
    assert value == a.WindowsRunKey.command_line(argv)
    assert a.windows_split(value) == argv


# --- Linux: the menu entry and install.sh ---------------------------------------------------------


def validate(path: Path) -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate is not installed (Debian package desktop-file-utils)")
    done = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout


def test_linux_menu_entry_validates() -> None:
    validate(INSTALLER / "linux" / "posture-agent.desktop")


@pytest.fixture
def fake_bundle(tmp_path: Path) -> Path:
    """A folder laid out as build.py lays out the PyInstaller output, with a stand-in program."""
    build = load(INSTALLER / "build.py", "installer_build")
    folder = tmp_path / "dist" / "posture-agent"
    folder.mkdir(parents=True)
    exe = folder / "posture-agent"
    exe.write_text('#!/bin/sh\necho "posture-agent 0.1.0 $*"\n')
    exe.chmod(0o755)
    build.add_linux_menu_files(folder)
    return folder


def test_install_sh_installs_for_the_user_and_uninstalls(fake_bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "Zoë Müller"
    prefix = home / "My Apps" / "posture-agent"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "POSTURE_AGENT_PREFIX": str(prefix),
    }
    done = subprocess.run([str(fake_bundle / "install.sh")], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    data = home / ".local" / "share"
    entry = data / "applications" / "posture-agent.desktop"
    exec_line = next(line for line in entry.read_text().splitlines() if line.startswith("Exec="))
    assert a.exec_split(exec_line[5:]) == [str(prefix / "posture-agent"), "start"]
    for n in (16, 22, 48, 256):
        assert (data / "icons" / "hicolor" / f"{n}x{n}" / "apps" / "posture-agent.png").is_file()
    link = home / ".local" / "bin" / "posture-agent"
    ran = subprocess.run([str(link), "--version"], capture_output=True, text=True, check=True)
    assert ran.stdout.startswith("posture-agent 0.1.0")
    if shutil.which("desktop-file-validate"):
        validate(entry)

    done = subprocess.run([str(prefix / "install.sh"), "--uninstall"], env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert not entry.exists() and not link.exists() and not prefix.exists()
    assert not list((data / "icons").rglob("posture-agent.png"))
