"""One command that builds the one-folder app for this platform: `python installer/build.py`.

Runs PyInstaller on `installer/posture-agent.spec` into `dist/posture-agent/` (macOS: also
`dist/Posture Agent.app`). On Linux it adds what the application menu needs beside the program
(`share/applications/posture-agent.desktop`, `share/icons/hicolor/…`) and `install.sh`, which
installs the folder for the current user. On Windows, compile `installer/windows/posture-agent.iss`
with Inno Setup afterwards (the script says so). Needs `pip install -e ".[build]"`.

Options: --dist DIR, --work DIR (default dist/ and build/ in the repository).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "installer" / "posture-agent.spec"


def add_linux_menu_files(folder: Path) -> None:
    """The .desktop entry, the hicolor icons and install.sh, beside the program."""
    apps = folder / "share" / "applications"
    apps.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "installer" / "linux" / "posture-agent.desktop", apps / "posture-agent.desktop")
    shutil.copytree(REPO / "assets" / "icons" / "hicolor", folder / "share" / "icons" / "hicolor", dirs_exist_ok=True)
    shutil.copy2(REPO / "installer" / "linux" / "install.sh", folder / "install.sh")
    (folder / "install.sh").chmod(0o755)


def build(dist: Path, work: Path) -> Path:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        sys.exit('PyInstaller is not installed: run `pip install -e ".[build]"` first')
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm", "--clean",
           "--distpath", str(dist), "--workpath", str(work), "--log-level", "WARN"]
    subprocess.run(cmd, check=True, env=env, cwd=REPO)
    folder = dist / "posture-agent"
    if sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
        add_linux_menu_files(folder)
    return folder


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the one-folder posture-agent app with PyInstaller.")
    parser.add_argument("--dist", type=Path, default=REPO / "dist")
    parser.add_argument("--work", type=Path, default=REPO / "build")
    args = parser.parse_args()
    started = time.monotonic()
    folder = build(args.dist.absolute(), args.work.absolute())
    took = time.monotonic() - started
    print(f"built {folder} ({folder_size(folder) / 1e6:.0f} MB) in {took:.0f} s")
    if sys.platform == "win32":
        print(r'next: "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" installer\windows\posture-agent.iss')
    elif sys.platform == "darwin":
        print(f"the menu-bar app: {args.dist / 'Posture Agent.app'}")
    else:
        print(f"install for this user: {folder / 'install.sh'}")


if __name__ == "__main__":
    main()
