"""What the PyInstaller spec adds by hand, per platform: modules loaded by name at run time (so the
import analysis cannot see them) and packages the bundle must not carry. Kept apart from the spec
so a test can check every name against the installed distributions."""

from __future__ import annotations

# plyer picks `plyer.platforms.<platform>.notification` by name; pystray imports `pystray._<backend>`.
DYNAMIC = {
    "linux": [
        "plyer.platforms.linux",
        "plyer.platforms.linux.notification",
        "dbus",  # plyer's notification uses dbus-python when present (expiring notifications)
        "dbus.mainloop.glib",
        "pystray._appindicator",
        "pystray._gtk",
        "pystray._xorg",
        "pystray._dummy",  # imported by name (PYSTRAY_BACKEND=dummy) under our StatusNotifierItem backend
        "posture_agent.ui.sni",
    ],
    "win32": [
        "plyer.platforms.win",
        "plyer.platforms.win.notification",
        "plyer.platforms.win.libs.balloontip",
        "pystray._win32",
    ],
    "darwin": [
        "plyer.platforms.macosx",
        "plyer.platforms.macosx.notification",
        "pystray._darwin",
    ],
}

# Every platform: plug-ins found by name (SQLAlchemy dialect, APScheduler's entry points, Alembic's
# SQLite support and the logging config used by the migrations' env.py), the Tk windows and the
# chart backends.
COMMON = [
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "apscheduler.triggers.date",
    "apscheduler.triggers.interval",
    "apscheduler.triggers.cron",
    "apscheduler.executors.pool",
    "apscheduler.jobstores.memory",
    "alembic.runtime.migration",
    "alembic.ddl.sqlite",
    "logging.config",
    "tkinter",
    "tkinter.ttk",
]

# Not used by the agent, or only by its tests and tools. The weekly report draws its charts as inline
# SVG written by report/charts.py: no plotting library, and so no numpy, goes in.
EXCLUDES = [
    "matplotlib",
    "numpy",
    "scipy",
    "pandas",
    # the camera extra (about 160 MB) stays an extra: the built app asks for check-ins as usual
    "cv2",
    "skimage",
    "pytest",
    "_pytest",
    "hypothesis",
    "mypy",
    "ruff",
    "PyInstaller",
    "IPython",
    "setuptools",
    "pkg_resources",
    "pip",
    "PIL.ImageQt",
    "PyQt5",
    "PyQt6",
    "PySide2",
    "PySide6",
]


def platform_key(platform: str) -> str:
    return "win32" if platform == "win32" else "darwin" if platform == "darwin" else "linux"


def hidden_imports(platform: str) -> list[str]:
    return [*DYNAMIC[platform_key(platform)], *COMMON]


def excludes() -> list[str]:
    return list(EXCLUDES)
