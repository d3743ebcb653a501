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
# SQLite support and the logging config used by the migrations' env.py) and the Tk windows.
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

# Not used by the agent, or only by its tests and tools. numpy comes in through Pillow's optional
# hooks when it is installed; matplotlib (charts for `report --html`) needs it.
EXCLUDES = [
    "numpy",
    "matplotlib",
    "scipy",
    "pandas",
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
CHART_PACKAGES = ("numpy", "matplotlib")


def platform_key(platform: str) -> str:
    return "win32" if platform == "win32" else "darwin" if platform == "darwin" else "linux"


def hidden_imports(platform: str) -> list[str]:
    return [*DYNAMIC[platform_key(platform)], *COMMON]


def excludes(with_charts: bool = False) -> list[str]:
    return [m for m in EXCLUDES if not (with_charts and m in CHART_PACKAGES)]
