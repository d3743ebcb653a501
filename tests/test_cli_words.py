"""The command line's words for a new user: every flag says what it is for, a mistyped command or
drill gets "did you mean …", `config show` prints TOML that reads back as the same settings."""

from __future__ import annotations

import argparse
import json
import os
import tomllib
from pathlib import Path

from posture_agent.cli import build_parser
from tests.conftest import Cli
from tests.processes import NO_BUS, run_cli


def parsers(parser: argparse.ArgumentParser, name: str = "posture-agent") -> list[tuple[str, argparse.ArgumentParser]]:
    out = [(name, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                out += parsers(sub, f"{name} {sub_name}")
    return out


def test_every_flag_has_help() -> None:
    missing = [
        f"{name} {'/'.join(action.option_strings) or action.dest}"
        for name, parser in parsers(build_parser())
        for action in parser._actions
        if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
        and action.help is None
    ]
    assert missing == []


def test_soreness_help_describes_each_region(cli: Cli) -> None:
    shown = " ".join(cli("soreness", "--help").out.split())  # argparse wraps the lines
    for flag, words in (("--upper-back N", "upper back"), ("--mid-back N", "middle back"),
                        ("--lower-back N", "lower back"), ("--si-joint N", "SI joint")):
        assert f"{flag} {words}, " in shown and f"{flag} {words}" in shown, shown
    assert shown.count(": 0 (no pain) to 10") == 4, shown


def test_a_mistyped_command_action_or_drill_gets_did_you_mean(tmp_path: Path) -> None:
    for args, said in (
        (("chekin", "upright"), "posture-agent: argument COMMAND: invalid choice: 'chekin'; did you mean 'checkin'? "
                                "(see: posture-agent --help)"),
        (("run", "ad"), "posture-agent run: argument ACTION: invalid choice: 'ad'; did you mean 'add'?"),
        (("drill", "done", "chin-tck"), "posture-agent: unknown drill 'chin-tck'; did you mean 'chin-tuck'? (known: "),
        (("checkin", "uprigt"), "; did you mean 'upright'?"),
    ):
        done = run_cli(tmp_path, *args)
        assert done.returncode == 2 and said in done.stderr and done.stderr.count("\n") == 1, (args, done.stderr)
    far = run_cli(tmp_path, "xyzzy")
    assert "did you mean" not in far.stderr and "(choose from 'checkin'" in far.stderr


def test_config_show_prints_toml_that_reads_back_as_the_same_settings(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[general]\ntimezone = "Europe/Berlin"\n[desk]\nevery_minutes = 30\n[quiet]\nhours = ["12:00-13:00"]\n'
        '[catalogue.doorway-stretch]\ntitle = "Doorway chest stretch"\nhow = "Forearms on the frame."\n'
        'dose = "3 x 30 s"\n[drills]\ndaily = ["chin-tuck", "doorway-stretch"]\n', encoding="utf-8")
    shown = run_cli(tmp_path, "config", "show")
    assert shown.returncode == 0, shown.stderr
    parsed = tomllib.loads(shown.stdout)
    assert parsed["desk"]["every_minutes"] == 30 and parsed["quiet"]["hours"] == ["12:00-13:00"]
    assert parsed["catalogue"]["doorway-stretch"]["title"] == "Doorway chest stretch"
    again = tmp_path / "again"
    again.mkdir()
    (again / "config.toml").write_text(shown.stdout, encoding="utf-8")
    first, second = (json.loads(run_cli(home, "--json", "config", "show").stdout) for home in (tmp_path, again))
    assert first == second


def test_report_open_without_a_browser_names_the_file(tmp_path: Path) -> None:
    """No display and no $BROWSER (an SSH session): the page is written, and the one line says where."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")}
    done = run_cli(tmp_path, "report", "--open", env=dict(env, DBUS_SESSION_BUS_ADDRESS=NO_BUS), timeout=120)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("posture-agent: no browser could be opened; the page is at ")
    page = Path(line.rsplit(" ", 1)[1])
    assert page.exists() and page.parent == tmp_path / "data" / "reports"
    assert f"HTML page: {page}" in done.stdout
