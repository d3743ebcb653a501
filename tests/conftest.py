"""Shared fixtures: a fresh home folder per test, a pinned clock, and the CLI run in-process."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from posture_agent.cli import main
from posture_agent.clock import FixedClock
from tests.processes import remove_stale_faketime_segments


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


class Cli:
    """Runs `posture-agent --home HOME …` in-process with a pinned clock and time zone."""

    def __init__(self, home: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str], tz: str) -> None:
        self.home, self.clock, self.capsys, self.tz = home, clock, capsys, tz

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        out = io.StringIO()
        code = main(["--home", str(self.home), *args], clock=self.clock, out=out)
        captured = self.capsys.readouterr()
        return Result(code, out.getvalue() + captured.out, captured.err)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.code == 0, f"{args} failed ({result.code}): {result.err}"
        return result

    def db_dump(self) -> list[str]:
        """Every row of every table, to prove a refused command wrote nothing."""
        db = self.home / "data" / "posture-agent.db"
        if not db.exists():
            return []
        conn = sqlite3.connect(db)
        try:
            return list(conn.iterdump())
        finally:
            conn.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def tz(monkeypatch: pytest.MonkeyPatch) -> str:
    """A real, non-UTC zone with DST, written to the config so days are Berlin days."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    return "Europe/Berlin"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 25, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")))


@pytest.fixture
def cli(home: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str], tz: str) -> Iterator[Cli]:
    (home / "config.toml").write_text(f'[general]\ntimezone = "{tz}"\n', encoding="utf-8")
    old = os.environ.pop("POSTURE_AGENT_HOME", None)
    yield Cli(home, clock, capsys, tz)
    if old is not None:
        os.environ["POSTURE_AGENT_HOME"] = old


def modules_after(home: Path, *argv: str) -> set[str]:
    """The modules a fresh interpreter holds after running one command on `home` (exit 0 checked):
    what a whole `posture-agent` process would load, without the test runner's own imports."""
    code = (
        "import json, sys\n"
        "from posture_agent.cli import main\n"
        f"assert main(['--home', {str(home)!r}, *{list(argv)!r}]) == 0\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def as_newer_version(db: Path) -> bytes:
    """Mark `db` as written by a newer posture-agent (schema '9999'), with the change checkpointed
    into the file itself; returns the file's bytes, which a refusal must leave as they are."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return db.read_bytes()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Leave no libfaketime segments of the suite's exited processes behind."""
    remove_stale_faketime_segments()
