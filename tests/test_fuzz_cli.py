"""Every command's inputs, fuzzed: random words, numbers, dates, time zones in the config, file
contents for restore and `run import`, file names of any bytes, dates across the whole accepted
range, and the user's own files (database, backups, config, log) as output paths.

The property, for every example: exit 0 with a clean result (no stderr, valid JSON with --json), or
a non-zero exit with exactly one line on stderr, no traceback, not the "unexpected error" exit, and
the database unchanged. Examples are derandomized so a failure reproduces with the same command;
POSTURE_AGENT_FUZZ_EXAMPLES changes how many run per command (default 200).
"""

from __future__ import annotations

import json
import os
import string
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import available_timezones

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from posture_agent.cli import EXIT_BUG, build_parser
from posture_agent.timeparse import FIRST_YEAR, LAST_YEAR
from tests.conftest import Cli

EXAMPLES = int(os.environ.get("POSTURE_AGENT_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
ZONES = sorted(available_timezones())

# Text a user can type: any letters, digits, punctuation, spaces; plus bytes that were not UTF-8 on
# the command line (Python passes them as lone surrogates). NUL cannot appear in a real argv.
plain = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=24)
typed = st.text(
    st.characters(exclude_characters="\x00", exclude_categories=("Cs",)) | st.sampled_from("\udcff\udc80"),
    max_size=24,
)
numbers = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.sampled_from(["0", "-0", "1e400", "-1", "10", "11", "1_000", "0x10", "  5 ", "nan", "inf", "−3"]),
)


@st.composite
def times(draw: st.DrawFn) -> str:
    """ISO-ish times: real ones in every shape (offsets, Z, dates only, DST gaps), and near misses."""
    moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    near = datetime(2026, 11, 25, 12) + timedelta(minutes=draw(st.integers(-500_000, 500_000)))
    base = draw(st.sampled_from([moment, near, datetime(2026, 3, 29, 2, 30), datetime(2026, 10, 25, 2, 30)]))
    sep = draw(st.sampled_from(["T", " ", "t"]))
    text = base.isoformat(sep=sep, timespec=draw(st.sampled_from(["minutes", "seconds", "microseconds"])))
    suffix = draw(st.sampled_from(["", "Z", "+01:00", "-05:00", "+14:00", "+23:59", "+24:00", "-00:00", "+1"]))
    return draw(st.sampled_from([text + suffix, base.date().isoformat(), text[: draw(st.integers(0, 25))]]))


durations = st.one_of(
    st.sampled_from(["45:30", "1:02:03", "50m", "1h5m", "90", "PT45M", "0", "59:60", "1h", "48:00:00", "48:00:01"]),
    st.builds(lambda h, m, s: f"{h}:{m:02d}:{s:02d}", st.integers(0, 10**20), st.integers(0, 99), st.integers(0, 99)),
    st.builds(lambda n, u: f"{n}{u}", st.integers(0, 10**25), st.sampled_from(["h", "m", "s", "min", ""])),
    typed,
)
words = st.one_of(typed, numbers, times(), durations)


class Checker:
    """Runs one command line and asserts the property."""

    def __init__(self, cli: Cli) -> None:
        self.cli = cli
        self.runs = 0

    def __call__(self, *args: str) -> int:
        before = self.cli.db_dump()
        result = self.cli(*args)
        self.runs += 1
        shown = " ".join(repr(a) for a in args)
        assert "Traceback" not in result.err and "Traceback" not in result.out, shown
        assert result.code != EXIT_BUG, f"{shown}: {result.err}"
        if result.code == 0:
            # a config file with a mistake: one line naming it, and the work done all the same
            config_line = result.err.startswith("posture-agent: config error in ") and result.err.endswith(
                " until it is fixed (the file was not changed)\n") and result.err.count("\n") == 1
            assert result.err == "" or config_line, f"{shown}: {result.err}"
            if "--json" in args:
                json.loads(result.out)
        elif args[:2] == ("run", "import") and result.code == 1:
            # documented (docs/import.md): a file that failed is one outcome line on stderr, exit 1
            assert result.err.count("\n") == 1 and ": failed: " in result.err, f"{shown}: {result.err!r}"
            assert ": failed: " not in result.out, f"{shown}: {result.out!r}"
            assert self.cli.db_dump() == before, f"{shown} failed but changed the database"
        else:
            assert result.err.endswith("\n") and result.err.count("\n") == 1, f"{shown}: {result.err!r}"
            assert result.err.startswith("posture-agent"), f"{shown}: {result.err!r}"
            assert self.cli.db_dump() == before, f"{shown} was refused but changed the database"
        return result.code


@pytest.fixture
def check(cli: Cli) -> Checker:
    cli.ok("checkin", "upright")  # a database exists, so "unchanged" means something
    return Checker(cli)


def maybe(option: str, value: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return st.one_of(st.just([]), value.map(lambda v: [option, v]))


def valid_or(choices: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(choices), st.sampled_from(choices).map(str.upper), words)


@FUZZ
@given(
    posture=valid_or(["upright", "slouched", "standing", "skipped", "missed"]),
    context=maybe("--context", valid_or(["desk", "car", "sofa"])),
    at=maybe("--at", times()),
    as_json=st.booleans(),
)
def test_fuzz_checkin(check: Checker, posture: str, context: list[str], at: list[str], as_json: bool) -> None:
    check("checkin", posture, *context, *at, *(["--json"] if as_json else []))


@FUZZ
@example(date=["--date", "0001-01-01"], as_json=False)  # found: OverflowError (local day to UTC)
@example(date=["--date", "9999-12-31"], as_json=True)
@given(date=maybe("--date", st.one_of(st.dates().map(str), words)), as_json=st.booleans())
def test_fuzz_drills(check: Checker, date: list[str], as_json: bool) -> None:
    check("drills", *date, *(["--json"] if as_json else []))


@FUZZ
@given(
    names=st.lists(valid_or(["wall-alignment", "chin-tuck", "pelvic-tilts", "superman"]), min_size=0, max_size=4),
    at=maybe("--at", times()),
)
def test_fuzz_drill_done(check: Checker, names: list[str], at: list[str]) -> None:
    check("drill", "done", *names, *at)


@FUZZ
@given(rounds=maybe("--rounds", numbers), at=maybe("--at", times()))
def test_fuzz_circuit(check: Checker, rounds: list[str], at: list[str]) -> None:
    check("circuit", "done", *rounds, *at)


@FUZZ
@example(distance="0", duration="10000000000000", at=[], as_json=False)  # found: OverflowError in timedelta
@given(distance=st.one_of(numbers, words), duration=durations, at=maybe("--at", times()), as_json=st.booleans())
def test_fuzz_run_add(check: Checker, distance: str, duration: str, at: list[str], as_json: bool) -> None:
    check("run", "add", "--distance-km", distance, "--duration", duration, *at, *(["--json"] if as_json else []))


@FUZZ
@example(values=[("--upper-back", "3")], form=[], run=["--run", "\udcff"], si=False, at=[])  # found: UnicodeEncodeError
@example(values=[("--upper-back", "3")], form=[], run=["--run", "%"], si=False, at=[])  # found: LIKE wildcard
@given(
    values=st.lists(
        st.tuples(st.sampled_from(["--upper-back", "--mid-back", "--lower-back", "--si-joint"]), numbers),
        max_size=4,
    ),
    form=st.lists(valid_or(["arms-high", "shoulders-tense", "arms-crossing", "swing-too-big"]), max_size=3),
    run=maybe("--run", st.one_of(typed, st.text(string.hexdigits + "-%_", max_size=12))),
    si=st.booleans(),
    at=maybe("--at", times()),
)
def test_fuzz_soreness(
    check: Checker, values: list[tuple[str, str]], form: list[str], run: list[str], si: bool, at: list[str]
) -> None:
    args = [part for pair in values for part in pair]
    for note in form:
        args += ["--form", note]
    check("soreness", *args, *run, *(["--si-pain"] if si else []), *at)


@FUZZ
@given(end=st.booleans(), at=maybe("--at", times()), as_json=st.booleans())
def test_fuzz_advice(check: Checker, end: bool, at: list[str], as_json: bool) -> None:
    check("advice", *(["--end-protocol"] if end else []), *at, *(["--json"] if as_json else []))


def available(command: str) -> bool:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return command in (sub.choices or {})


READ_ONLY = ["report", "trends", "schedule", "export", "run list", "config show", "config path", "backup --list"]


@FUZZ
@given(command=st.sampled_from(READ_ONLY), tail=st.lists(words, max_size=3), opts=st.lists(
    st.sampled_from(["--week", "--from", "--days", "--format", "--json", "--date", "--html"]), max_size=3))
def test_fuzz_read_only_commands(check: Checker, command: str, tail: list[str], opts: list[str]) -> None:
    """Listings and reports (those that exist in this build) with random options and values."""
    if not available(command.split()[0]):
        return
    args = command.split()
    for opt, value in zip(opts, tail, strict=False):
        if opt == "--html":
            value = str(check.cli.home / "report.html")
        args += [opt] if opt == "--json" else [opt, value]
    check(*args)


# --- config files ------------------------------------------------------------------------------

KEYS = {
    "general": ["timezone", "soreness_threshold", "prompt_timeout_minutes", "device_name"],
    "desk": ["days", "start", "end", "every_minutes"],
    "sofa": ["days", "start", "end", "every_minutes"],
    "car": ["days", "times"],
    "drills": ["time", "daily"],
    "circuit": ["days", "time", "rounds", "exercises"],
    "soreness": ["after_run_hours", "next_morning"],
    "si_protocol": ["ice_times"],
    "quiet": ["hours", "weekends_off"],
    "import": ["folder"],
}


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is close enough to a JSON string
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


scalar = st.one_of(
    st.sampled_from(ZONES), st.sampled_from(["Mars/Olympus", "", " UTC", "europe/berlin", "../../etc/passwd", "CET"]),
    st.sampled_from(["09:00", "9:00", "24:00", "23:59", "12:60", "00:00", "12:00-13:00", "13:00-12:00", "x-y"]),
    st.sampled_from(["mon", "Tue", "SUNDAY", "xyz", "wall-alignment", "chin-tuck", "nope"]),
    st.integers(-10, 600), st.floats(allow_nan=True), st.booleans(), plain,
)
values = st.one_of(scalar, st.lists(scalar, max_size=4))


@st.composite
def config_text(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:  # now and then, raw bytes or broken TOML
        return draw(st.one_of(st.binary(max_size=200), plain.map(str.encode)))
    lines = []
    for section in draw(st.lists(st.sampled_from([*KEYS, "catalogue.my-drill", "bogus"]), max_size=4, unique=True)):
        lines.append(f"[{section}]")
        known = KEYS.get(section, ["title", "how", "dose", "kind", "x"])
        for key in draw(st.lists(st.sampled_from([*known, "typo"]), max_size=4, unique=True)):
            lines.append(f"{key} = {toml_value(draw(values))}")
    return ("\n".join(lines) + "\n").encode()


@FUZZ
@given(text=config_text(), command=st.sampled_from([["config", "check"], ["config", "show", "--json"],
                                                     ["checkin", "upright"], ["drills"], ["advice"]]))
def test_fuzz_config_files(check: Checker, text: bytes, command: list[str]) -> None:
    """A random config file: the command works with it or names the file and line; the file itself
    is never rewritten."""
    path = check.cli.home / "config.toml"
    path.write_bytes(text)
    check(*command)
    assert path.read_bytes() == text


def _has_import() -> bool:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    run = (sub.choices or {}).get("run")
    if run is None:
        return False
    action = next((a for a in run._actions if a.dest == "action"), None)
    return action is not None and "import" in (action.choices or {})


HAS_IMPORT = _has_import()


# --- files the commands read --------------------------------------------------------------------


@st.composite
def file_bytes(draw: st.DrawFn) -> bytes:
    header = draw(st.sampled_from([b"", b"SQLite format 3\x00", b"<?xml version='1.0'?><gpx>", b"\x0e\x10"]))
    return header + draw(st.binary(max_size=600))


@FUZZ
@given(content=file_bytes())
def test_fuzz_restore_file_contents(check: Checker, content: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("restore") / "backup.db"
    path.write_bytes(content)
    check("restore", str(path))
    assert path.read_bytes() == content


@pytest.mark.skipif(not HAS_IMPORT, reason="`run import` is not in this build yet")
@FUZZ
@given(content=file_bytes(), suffix=st.sampled_from([".gpx", ".tcx", ".fit", ".txt", ""]))
def test_fuzz_run_import_file_contents(
    check: Checker, content: bytes, suffix: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("import") / f"activity{suffix}"
    path.write_bytes(content)
    check("run", "import", str(path))


def test_run_id_wildcards_do_not_pick_a_run(cli: Cli) -> None:
    """Found by fuzzing: `--run %` was a LIKE pattern that linked the report to any run."""
    cli.ok("run", "add", "--distance-km", "10", "--duration", "55:00")
    before = cli.db_dump()
    for pattern in ("%", "_", "%%", "\udcff"):
        result = cli("soreness", "--upper-back", "4", "--run", pattern)
        assert result.code == 2 and "no run with id" in result.err
    assert cli.db_dump() == before


# --- file names of any bytes, dates across the whole accepted range, the user's own files as output ---

names = st.binary(min_size=1, max_size=40).filter(
    lambda b: b"/" not in b and b"\x00" not in b and b not in (b".", b"..")
)


@pytest.mark.skipif(not HAS_IMPORT, reason="`run import` is not in this build yet")
@FUZZ
@example(name=b"bad\xffname.gpx", valid=True)  # found: UnicodeEncodeError storing the file's origin
@example(name=b"new\nline.gpx", valid=True)
@example(name=b"esc\x1b[31mred.gpx", valid=False)
@given(name=names, valid=st.booleans())
def test_fuzz_run_import_file_names(check: Checker, name: bytes, valid: bool,
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    """Any bytes a file system allows in a name: the file imports (or fails on its content alone),
    the name comes back exact in JSON and on one line of human output."""
    from tests.importers.conftest import write_gpx

    folder = os.fsencode(tmp_path_factory.mktemp("names"))
    path = Path(os.fsdecode(folder + b"/" + name))
    if valid:
        write_gpx(path, datetime(2026, 11, 20, 6, 30, tzinfo=UTC), 50, 10.0)
    else:
        path.write_bytes(b"<?xml version='1.0'?><gpx>")
    shown = str(path)
    check("run", "import", shown)
    result = check.cli("--json", "run", "import", shown)
    assert "Traceback" not in result.err
    files = json.loads(result.out)["files"]
    assert [os.fsencode(f["file"]) for f in files] == [os.fsencode(path)]
    human = check.cli("run", "import", shown)
    lines = human.out + human.err  # a failed file's line is on stderr, the summary on stdout
    assert lines.count("\n") == 2 and "\x1b" not in lines, repr(lines)


@st.composite
def in_range_times(draw: st.DrawFn) -> str:
    """Any time in the accepted years, with no offset, Z or any offset a zone can have."""
    moment = draw(st.datetimes(min_value=datetime(FIRST_YEAR, 1, 1), max_value=datetime(LAST_YEAR, 12, 31, 23, 59)))
    offset = draw(st.sampled_from(["", "Z", "+14:00", "-12:00", "+05:30", "-00:00"]))
    return moment.isoformat(timespec=draw(st.sampled_from(["minutes", "seconds"]))) + offset


def in_range_weeks() -> st.SearchStrategy[str]:
    return st.dates(min_value=date(FIRST_YEAR, 1, 1), max_value=date(LAST_YEAR, 12, 31)).map(
        lambda d: f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}"
    )


@FUZZ
@example(args=["checkin", "upright", "--at", "1970-01-01T00:00"], zone="Europe/Berlin")
@example(args=["report", "--week", "1970-W01"], zone="Pacific/Kiritimati")
@example(args=["schedule", "--from", "2200-12-31T23:59", "--days", "14"], zone="Pacific/Pago_Pago")
@given(
    args=st.one_of(
        in_range_times().map(lambda t: ["checkin", "upright", "--at", t]),
        in_range_times().map(lambda t: ["run", "add", "--distance-km", "5", "--duration", "30:00", "--at", t]),
        in_range_times().map(lambda t: ["soreness", "--upper-back", "4", "--at", t]),
        in_range_times().map(lambda t: ["drill", "done", "chin-tuck", "--at", t]),
        in_range_times().map(lambda t: ["circuit", "done", "--at", t]),
        in_range_times().map(lambda t: ["advice", "--at", t]),
        in_range_times().map(lambda t: ["schedule", "--from", t, "--days", "14"]),
        in_range_weeks().map(lambda w: ["report", "--week", w]),
        st.dates(min_value=date(FIRST_YEAR, 1, 1), max_value=date(LAST_YEAR, 12, 31)).map(
            lambda d: ["drills", "--date", d.isoformat()]),
    ),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"]),
)
def test_fuzz_dates_across_the_accepted_range(check: Checker, args: list[str], zone: str) -> None:
    """Every date the command line accepts can be computed with, in any zone: saved, or refused in one line
    (a time in the future), never an overflow."""
    (check.cli.home / "config.toml").write_text(f'[general]\ntimezone = "{zone}"\n', encoding="utf-8")
    check(*args, "--json")


def own_file(home: Path, pick: str) -> Path:
    """One of the user's files (or a way to spell it) in `home`, made to exist."""
    data = home / "data"
    spelled = {
        "db": data / "posture-agent.db",
        "wal": data / "posture-agent.db-wal",
        "config": home / "config.toml",
        "log": home / "logs" / "posture-agent.log",
        "rotated log": home / "logs" / "posture-agent.log.1",
        "backup": data / "backups" / "backup-fuzz.db",
        "new file among backups": data / "backups" / "report.html",
        "dotted": data / "backups" / ".." / "posture-agent.db",
        "symlink": home / "link-to-db.html",
        "hard link": home / "hard-link-to-config.html",
        "relative": Path(os.path.relpath(data / "posture-agent.db")),
        "agent's pause file": data / "run" / "paused-until",
    }
    target = spelled[pick]
    if pick == "backup" and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"SQLite format 3\x00 a backup")
    if pick == "agent's pause file" and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("2026-11-25T13:00:00+00:00", encoding="utf-8")
    if pick == "rotated log" and not target.exists():
        target.write_text("old log\n", encoding="utf-8")
    if pick == "symlink" and not target.is_symlink():
        target.symlink_to(data / "posture-agent.db")
    if pick == "hard link" and not target.exists():
        os.link(home / "config.toml", target)
    return target


OWN_FILES = ["db", "wal", "config", "log", "rotated log", "backup", "new file among backups", "dotted",
             "symlink", "hard link", "relative", "agent's pause file"]


@FUZZ
@given(pick=st.sampled_from(OWN_FILES), opts=st.lists(st.sampled_from(["--json", "--open"]), max_size=2, unique=True))
def test_fuzz_report_html_into_the_users_own_files(check: Checker, pick: str, opts: list[str]) -> None:
    """`report --html` aimed at the database, a backup, the config or the log, however spelled:
    refused in one line, and every one of those files left byte for byte as it was."""
    home = check.cli.home
    target = own_file(home, pick)
    kept = {p: p.read_bytes() for p in [*home.rglob("*")] if p.is_file() and not p.name.endswith((".log", "-shm"))}
    code = check("report", "--html", str(target), *(o for o in opts if o != "--open"))
    assert code == 2
    assert {p: p.read_bytes() for p in kept} == kept
