"""The command line loads only the module of the command it runs, and still knows every command."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from posture_agent.cli import OneLineParser, build_parser, command_in
from posture_agent.commands import GROUPS, MODULE_OF, modules_for
from tests.conftest import modules_after


def registered(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Command name -> the module whose function it runs."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = {}
    for name, p in sub.choices.items():
        func = p._defaults.get("func")
        if func is None:  # a group such as `run` or `drill`: its actions carry the function
            inner = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
            func = next(iter(inner.choices.values()))._defaults["func"]
        out[name] = func.__module__.rsplit(".", 1)[1]
    return out


def test_the_table_names_every_command_and_its_module() -> None:
    assert registered(build_parser()) == MODULE_OF
    for group in GROUPS:
        parser = OneLineParser(prog="p")
        for module in modules_for(next(c for c, m in MODULE_OF.items() if m == group)):
            module.register(parser.add_subparsers())
        assert set(registered(parser).values()) == {group}


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["checkin", "upright"], "checkin"),
        (["--home", "start", "start"], "start"),  # a home folder named like a command
        (["--home=/x", "--json", "report"], "report"),
        (["--json", "drills", "--help"], "drills"),
        (["--help", "checkin"], None),
        (["-h"], None),
        ([], None),
        (["--version"], None),
    ],
)
def test_command_is_read_past_global_options(argv: list[str], command: str | None) -> None:
    assert command_in(argv) == command


def test_help_and_mistakes_still_list_every_command() -> None:
    helped = subprocess.run([sys.executable, "-m", "posture_agent", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0
    wrong = subprocess.run([sys.executable, "-m", "posture_agent", "xyzzy"], capture_output=True, text=True)
    assert wrong.returncode == 2 and len(wrong.stderr.splitlines()) == 1
    for name in MODULE_OF:
        assert f"    {name}" in helped.stdout, name
        assert f"'{name}'" in wrong.stderr, name
    near = subprocess.run([sys.executable, "-m", "posture_agent", "chekin"], capture_output=True, text=True)
    assert near.returncode == 2 and "did you mean 'checkin'?" in near.stderr


def test_a_command_loads_only_its_own_module(tmp_path: Path) -> None:
    loaded = {m.rsplit(".", 1)[1] for m in modules_after(tmp_path, "checkin", "upright")
              if m.startswith("posture_agent.commands.")}
    assert loaded & set(GROUPS) == {"records"}, loaded  # (records brings its helper `imports` for `run import`)


def test_trends_reads_without_sqlalchemy(tmp_path: Path) -> None:
    """`trends` reads the file read-only with plain sqlite3 (store/reads.py): no SQLAlchemy, no
    journal, no store opening in its process, and no other command module."""
    modules_after(tmp_path, "checkin", "upright")  # the database exists, at this code's schema
    loaded = modules_after(tmp_path, "trends", "--json")
    heavy = {m for m in loaded if m.split(".")[0] in ("sqlalchemy", "alembic")
             or m in ("posture_agent.journal", "posture_agent.store.db", "posture_agent.store.queries")}
    assert not heavy, sorted(heavy)
    commands = {m.rsplit(".", 1)[1] for m in loaded if m.startswith("posture_agent.commands.")}
    assert commands & set(GROUPS) == {"trends"}, commands
    assert "sqlalchemy" in modules_after(tmp_path / "new", "trends")  # no file yet: the store makes it
