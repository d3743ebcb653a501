"""Builds the Linux one-folder app with PyInstaller (`installer/build.py`) into a temporary folder,
once per run, and runs the frozen program as a user would: `--version`, `doctor`, recording and
reading back through the CLI (its Alembic migration included), `autostart enable` pointing at the
frozen executable, `install.sh`, the weekly HTML report with its charts, and `start` docking its
icon on a virtual desktop. The bundle must carry no test packages. Takes a few minutes (marked `bundle`)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posture_agent import __version__
from posture_agent import autostart as a
from tests.desktop import Desktop, desktop, stop_process, wait_for

__all__ = ["desktop"]

pytestmark = pytest.mark.bundle
ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("scipy", "pytest", "_pytest", "hypothesis", "PyInstaller", "mypy", "PyQt5", "PySide6")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not sys.platform.startswith("linux"):
        pytest.skip("the bundle test builds the Linux app; Windows and macOS builds are not run by these tests")
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip('PyInstaller is not installed: pip install -e ".[build]"')
    if shutil.which("objdump") is None:
        pytest.skip("PyInstaller needs objdump on Linux (Debian package binutils)")
    tmp = tmp_path_factory.mktemp("bundle")
    done = subprocess.run(
        [sys.executable, str(ROOT / "installer" / "build.py"),
         "--dist", str(tmp / "dist"), "--work", str(tmp / "work")],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield tmp / "dist" / "posture-agent"
    shutil.rmtree(tmp, ignore_errors=True)


def frozen(bundle: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bundle / "posture-agent"), *args], capture_output=True, text=True, timeout=120,
                          env=env, check=False)


def pyz_modules(program: Path) -> set[str]:
    """The Python modules inside the frozen program's archive."""
    from PyInstaller.archive.readers import CArchiveReader

    return set(CArchiveReader(str(program)).open_embedded_archive("PYZ.pyz").toc)


def test_bundle_carries_no_test_packages(bundle: Path) -> None:
    modules = pyz_modules(bundle / "posture-agent")
    packed = sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)
    assert not packed, f"in the frozen archive: {packed[:10]}"
    files = sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*")
                   if any(part.split(".")[0] in FORBIDDEN for part in p.relative_to(bundle).parts))
    assert not files, f"in the bundle folder: {files[:10]}"


def test_bundle_carries_what_is_loaded_by_name(bundle: Path) -> None:
    modules = pyz_modules(bundle / "posture-agent")
    for name in ("pystray._appindicator", "pystray._gtk", "pystray._xorg", "plyer.platforms.linux.notification",
                 "apscheduler.triggers.cron", "sqlalchemy.dialects.sqlite", "posture_agent.commands.autostart"):
        assert name in modules, name
    internal = bundle / "_internal"
    assert (internal / "posture_agent/store/migrations/versions/0001_initial_schema.py").is_file()
    for state in ("normal", "paused", "protocol"):
        assert (internal / "posture_agent/data/icons" / f"{state}.png").is_file()
    assert (bundle / "share/applications/posture-agent.desktop").is_file()
    assert (bundle / "share/icons/hicolor/48x48/apps/posture-agent.png").is_file()


def test_frozen_version_and_doctor(bundle: Path, tmp_path: Path) -> None:
    done = frozen(bundle, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"posture-agent {__version__}"
    home = tmp_path / "Zoë's home"
    done = frozen(bundle, "--home", str(home), "doctor", "--json")
    # exit 1 is doctor finding no notification daemon on this headless machine; the store must be fine
    assert done.returncode in (0, 1), done.stderr
    checks = {c["check"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["config"]["ok"] and checks["database"]["ok"] and str(home) in checks["database"]["detail"]
    assert done.returncode == (0 if all(c["ok"] for c in checks.values()) else 1)


def test_frozen_records_and_reads_back(bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "Zoë Müller" / "posture data"
    h = ("--home", str(home))
    assert frozen(bundle, *h, "checkin", "slouched", "--context", "sofa").returncode == 0
    drills = json.loads(frozen(bundle, *h, "drills", "--json").stdout)
    first = drills["drills"][0]["name"]
    assert drills["drills"][0]["done"] is False
    done = frozen(bundle, *h, "drill", "done", first)
    assert done.returncode == 0, done.stderr
    after = json.loads(frozen(bundle, *h, "drills", "--json").stdout)
    assert next(d for d in after["drills"] if d["name"] == first)["done"] is True
    export: dict[str, Any] = json.loads(frozen(bundle, *h, "export", "--format", "json").stdout)
    checkins = [r for r in export["records"] if r["type"] == "checkin"]
    assert [(c["posture"], c["context"]) for c in checkins] == [("slouched", "sofa")]
    assert (home / "data" / "posture-agent.db").is_file()  # made by the migration inside the bundle
    bad = frozen(bundle, *h, "checkin", "sideways")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_frozen_weekly_report_draws_its_charts(bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    h = ("--home", str(home))
    assert frozen(bundle, *h, "checkin", "slouched").returncode == 0
    page = tmp_path / "week.html"
    done = frozen(bundle, *h, "report", "--html", str(page))
    assert done.returncode == 0, done.stderr
    html = page.read_text(encoding="utf-8")
    assert html.count("<svg") >= 4 and "http://" not in html.replace("http://www.w3.org", "")


def test_frozen_autostart_points_at_the_frozen_program(bundle: Path, tmp_path: Path) -> None:
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"))
    home = tmp_path / "home with space"
    done = frozen(bundle, "--home", str(home), "autostart", "enable", "--json", env=env)
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["command"] == [str(bundle / "posture-agent"), "--home", str(home), "start"]
    assert status["target_exists"] is True
    entry = tmp_path / "config" / "autostart" / "posture-agent.desktop"
    exec_value = next(line[5:] for line in entry.read_text().splitlines() if line.startswith("Exec="))
    assert a.exec_split(exec_value) == status["command"]
    assert frozen(bundle, "autostart", "disable", env=env).returncode == 0 and not entry.exists()


def test_install_sh_installs_the_real_bundle(bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "user"
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    done = subprocess.run([str(bundle / "install.sh")], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    installed = home / ".local" / "bin" / "posture-agent"
    ran = subprocess.run([str(installed), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert ran.stdout.strip() == f"posture-agent {__version__}"
    assert (home / ".local/share/applications/posture-agent.desktop").is_file()


@pytest.mark.desktop
def test_frozen_start_docks_its_icon(bundle: Path, tmp_path: Path, desktop: Desktop) -> None:
    panel = desktop.panel()
    assert panel is not None
    width_before = desktop.geometry(panel)[2]
    home = tmp_path / "home"
    env = dict(desktop.env, TMPDIR=str(tmp_path))
    proc = subprocess.Popen([str(bundle / "posture-agent"), "--home", str(home), "start"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        docked = wait_for(lambda: desktop.geometry(panel)[2] > width_before, timeout=30)
        shots = Path(os.environ.get("POSTURE_AGENT_SHOTS") or tmp_path)
        desktop.screenshot(shots / "frozen-tray.png", crop="200x40+824+0")
        assert docked, "the frozen app's icon did not dock in the tray"
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert "posture-agent" in desktop.run("xwininfo", "-tree", "-id", panel).stdout, "our icon, by name"
        assert wait_for(lambda: (home / "data" / "posture-agent.db").is_file(), timeout=10), "the agent's store"
        proc.terminate()
        assert proc.wait(timeout=10) == 0, "SIGTERM stops the frozen app cleanly"
        assert proc.stderr is not None and b"tray" not in proc.stderr.read(), "no tray fallback message"
    finally:
        stop_process(proc)
