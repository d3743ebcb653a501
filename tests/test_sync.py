"""Two homes on one machine share their history through a folder, with a plain file copy standing
in for the sync service, through every fault a synced folder really shows. After each round both
databases are compared row by row: they converge, and a further round changes nothing."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from posture_agent.clock import FixedClock
from posture_agent.store.sharing import SHARED
from posture_agent.sync import segments as sg
from posture_agent.sync.confined import Folder
from tests.conftest import Cli, Result

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN)  # a Wednesday


class Home:
    """One computer: its home folder, its own clock, and its own copy of the shared folder."""

    def __init__(self, root: Path, name: str, clock: FixedClock, capsys: pytest.CaptureFixture[str]) -> None:
        self.name, self.clock = name, clock
        self.home = root / name
        self.home.mkdir()
        (self.home / "config.toml").write_text(
            f'[general]\ntimezone = "Europe/Berlin"\ndevice_name = "{name}"\n', encoding="utf-8")
        self.folder = root / f"{name}-synced"
        self.folder.mkdir()
        self.cli = Cli(self.home, clock, capsys, "Europe/Berlin")

    def sync(self) -> dict[str, Any]:
        result = self.cli.ok("--json", "sync", "now")
        data: dict[str, Any] = result.json()  # type: ignore[assignment]
        return data

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = self.cli("--json", "sync", "status").json()  # type: ignore[assignment]
        return data

    @property
    def db(self) -> Path:
        return self.home / "data" / "posture-agent.db"

    def rows(self) -> dict[str, set[tuple[Any, ...]]]:
        """Every shared row, every column."""
        conn = sqlite3.connect(self.db)
        try:
            return {name: set(conn.execute(f"SELECT * FROM {name}")) for name in SHARED}
        finally:
            conn.close()

    def device_id(self) -> str:
        conn = sqlite3.connect(self.db)
        try:
            return str(conn.execute("SELECT value FROM meta WHERE key = 'device_id'").fetchone()[0])
        finally:
            conn.close()

    def files(self, device_id: str | None = None) -> list[Path]:
        base = self.folder / sg.SUBFOLDER / (device_id or self.device_id())
        return sorted(p for p in base.iterdir() if sg.SEGMENT.match(p.name))


def copy(src: Home, dst: Home, keep: Callable[[Path], bool] = lambda p: True, deletes: bool = False) -> list[Path]:
    """The sync service: every file of `src`'s copy of the folder that `dst`'s copy lacks or has
    different, copied as it is; with `deletes`, the files `src` deleted from its own device's
    folder are deleted from `dst`'s copy too. Returns the copies made."""
    made = []
    if deletes and (src.folder / sg.SUBFOLDER / src.device_id()).is_dir():
        own = src.folder / sg.SUBFOLDER / src.device_id()
        theirs = dst.folder / own.relative_to(src.folder)
        for path in theirs.iterdir() if theirs.is_dir() else []:
            if not (own / path.name).exists():
                path.unlink()
    for path in sorted((src.folder / sg.SUBFOLDER).rglob("*")):
        if path.is_dir() or sg.is_temporary(path.name) or not keep(path):
            continue
        target = dst.folder / path.relative_to(src.folder)
        if target.exists() and target.read_bytes() == path.read_bytes():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        made.append(target)
    return made


def exchange(*homes: Home) -> None:
    for src in homes:
        for dst in homes:
            if src is not dst:
                copy(src, dst, deletes=True)


def full_round(*homes: Home) -> list[dict[str, Any]]:
    """Each home syncs, the folder copies travel, and each syncs again."""
    out = []
    for _ in range(2):
        for h in homes:
            out.append(h.sync())
            exchange(*homes)
    return out


def assert_converged(*homes: Home) -> None:
    """Row by row the same everywhere; one more round writes, merges and changes nothing."""
    first = homes[0].rows()
    assert any(first.values())
    for other in homes[1:]:
        assert other.rows() == first
    exchange(*homes)
    folders = [sorted(p.relative_to(h.folder) for p in h.folder.rglob("*")) for h in homes]
    again = full_round(*homes)
    assert all(r["written"] == 0 and r["merged"] == 0 for r in again), again
    for h in homes:
        assert h.rows() == first
    assert [sorted(p.relative_to(h.folder) for p in h.folder.rglob("*")) for h in homes] == folders


@pytest.fixture
def pair(tmp_path: Path, capsys: pytest.CaptureFixture[str], tz: str) -> Iterator[tuple[Home, Home]]:
    work = Home(tmp_path, "work", FixedClock(START), capsys)
    sofa = Home(tmp_path, "sofa", FixedClock(START), capsys)
    work.cli.ok("checkin", "upright", "--at", "2026-11-25T10:00")
    sofa.cli.ok("checkin", "slouched", "--context", "sofa", "--at", "2026-11-24T20:30")
    work.cli.ok("sync", "setup", str(work.folder))
    sofa.cli.ok("sync", "setup", str(sofa.folder))
    yield work, sofa


def test_two_homes_converge_and_a_second_round_changes_nothing(pair: tuple[Home, Home]) -> None:
    work, sofa = pair
    full_round(work, sofa)
    assert len(work.rows()["checkins"]) == 2
    assert_converged(work, sofa)
    status = work.status()
    assert [d["label"] for d in status["devices"]] == [f"sofa:{sofa.device_id()}"]
    assert status["devices"][0]["last_heard_from"] and status["pending_out"] == 0
    assert status["unusable"] == [] and status["pending"] == []
    stamps = [(p.stat().st_mtime_ns, p.stat().st_size) for p in work.db.parent.glob("posture-agent.db*")]
    assert work.sync() == {"written": 0, "merged": 0, "problem": None, "new_device_id": None, "pending": [],
                           "unusable": [], "rows": [], "rewritten": None}
    assert [(p.stat().st_mtime_ns, p.stat().st_size) for p in work.db.parent.glob("posture-agent.db*")] == stamps


def test_a_half_written_file_waits_and_local_data_stays(pair: tuple[Home, Home]) -> None:
    work, sofa = pair
    work.cli.ok("circuit", "done", "--at", "2026-11-25T11:00")
    work.sync()
    segment = work.files()[-1]
    target = sofa.folder / segment.relative_to(work.folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    data = segment.read_bytes()
    before = sofa.rows()
    for cut in (10, len(data) // 2, len(data) - 3):  # mid-header, mid-body, the last line cut short
        target.write_bytes(data[:cut])
        result = sofa.sync()
        assert result["merged"] == 0
        assert [u["file"] for u in result["unusable"]] == [segment.name]
        assert sofa.rows()["checkins"] >= before["checkins"] and not sofa.rows()["circuits"]
    assert sofa.status()["unusable"][0]["file"] == segment.name
    copy(work, sofa)  # the sync service finishes the file
    assert sofa.sync()["merged"] == 2
    assert sofa.status()["unusable"] == []
    full_round(work, sofa)
    assert_converged(work, sofa)


def test_the_same_file_twice_counts_once(pair: tuple[Home, Home]) -> None:
    work, sofa = pair
    work.sync()
    exchange(work, sofa)
    for segment in work.files():
        theirs = sofa.folder / segment.relative_to(work.folder)
        shutil.copyfile(theirs, theirs.with_name(theirs.stem + " (1).jsonl"))  # a second copy of it
    assert sofa.sync()["merged"] == 1
    for segment in sofa.files(work.device_id()):
        segment.touch()  # delivered again
    assert sofa.sync()["merged"] == 0
    full_round(work, sofa)
    assert len(sofa.rows()["checkins"]) == 2
    assert_converged(work, sofa)


def test_files_out_of_order_and_days_late(pair: tuple[Home, Home]) -> None:
    """Three days of files at work, the third delivered first, the first two days later; the
    soreness report in the last points at the run in the second and waits for it."""
    work, sofa = pair
    work.sync()
    work.clock.advance(days=1)
    work.cli.ok("run", "add", "--distance-km", "12", "--duration", "70m", "--at", "2026-11-26T07:00")
    work.sync()
    work.clock.advance(days=1)
    work.cli.ok("soreness", "--upper-back", "4", "--at", "2026-11-26T10:00")
    work.sync()
    first, _second, third = work.files()
    copy(work, sofa, keep=lambda p: p.name == third.name)
    result = sofa.sync()
    assert result["merged"] == 0 and result["pending"][0]["file"] == third.name
    assert "has not arrived yet" in result["pending"][0]["reason"]
    sofa.clock.advance(days=2)
    copy(work, sofa, keep=lambda p: p.name == first.name)
    assert sofa.sync()["merged"] == 1
    copy(work, sofa)
    assert sofa.sync()["merged"] == 2  # the run, and then the soreness report that waited for it
    full_round(work, sofa)
    assert_converged(work, sofa)
    (report,) = sofa.rows()["soreness_reports"]
    (run,) = sofa.rows()["runs"]
    assert run[-4] in report  # the report still points at its run


def test_sync_conflict_copies_are_harmless(pair: tuple[Home, Home]) -> None:
    work, sofa = pair
    full_round(work, sofa)
    theirs = sofa.folder / sg.SUBFOLDER / work.device_id()
    seg = theirs / sg.segment_name(1)
    shutil.copyfile(seg, theirs / "seg-000001.sync-conflict-20261125-120000-ABCDEFG.jsonl")
    (theirs / "manifest.sync-conflict-20261125-120000-ABCDEFG.json").write_text("{}", encoding="utf-8")
    result = sofa.sync()
    assert result["merged"] == 0 and result["unusable"] == [] and result["pending"] == []
    assert_converged(work, sofa)


def test_a_bad_checksum_is_skipped_reported_and_retried(pair: tuple[Home, Home]) -> None:
    work, sofa = pair
    work.cli.ok("drill", "done", "chin-tuck", "--at", "2026-11-25T08:00")
    work.sync()
    exchange(work, sofa)
    seg = sofa.folder / work.files()[-1].relative_to(work.folder)
    data = bytearray(seg.read_bytes())
    data[-20] ^= 0x01  # one bit flipped in transit
    seg.write_bytes(bytes(data))
    before = sofa.rows()
    result = sofa.cli("--json", "sync", "now")
    assert result.code == 0
    (note,) = result.json()["unusable"]  # type: ignore[index]
    assert note["file"] == seg.name and "checksum" in note["reason"]
    after = sofa.rows()
    assert all(before[name] <= after[name] for name in before)  # the intact first file merged…
    assert not after["drill_completions"]  # …and nothing of the damaged one
    (listed,) = sofa.status()["unusable"]
    assert "checksum" in listed["reason"]
    copy(work, sofa)  # a good copy arrives
    assert sofa.sync()["merged"] == 1
    assert sofa.status()["unusable"] == []
    full_round(work, sofa)
    assert_converged(work, sofa)


def test_disagreeing_clocks_and_a_clock_set_back(pair: tuple[Home, Home]) -> None:
    """The sofa laptop's clock is nine hours behind; the work machine's is set back a day after
    a round. Records still travel once each: what was exported is counted by rowid, not by time.
    A record dated later than a computer's own clock (beyond the 5-minute skew) waits there, named
    in `sync status`, until that clock reaches it: a clock ahead never ticks tomorrow's drills."""
    work, sofa = pair
    sofa.clock.advance(hours=-9)
    full_round(work, sofa)
    (waiting,) = sofa.status()["rows"]
    assert waiting["kind"] == "waiting" and "in the future" in waiting["reason"]
    assert len(sofa.rows()["checkins"]) == 1
    work.clock.advance(days=-1)
    work.cli.ok("checkin", "standing", "--at", "2026-11-24T09:00")
    sofa.cli.ok("checkin", "upright", "--context", "sofa", "--at", "2026-11-24T21:00")
    full_round(work, sofa)
    assert len(work.rows()["checkins"]) == 3  # the sofa's 21:00 is tomorrow evening by work's clock
    work.clock.advance(days=1)
    sofa.clock.advance(hours=9)
    full_round(work, sofa)
    assert len(work.rows()["checkins"]) == 4
    assert sofa.status()["rows"] == []
    assert_converged(work, sofa)


def test_a_newer_schema_device_is_kept_for_later(pair: tuple[Home, Home]) -> None:
    work, sofa = pair
    full_round(work, sofa)
    future = sofa.folder / sg.SUBFOLDER / "0123456789ab"
    future.mkdir()
    row = {"id": "6f1c2d8e-0000-4000-8000-000000000001", "at": "2026-11-25T08:00:00+00:00", "context": "desk",
           "posture": "upright", "prompted": False, "created_at": "2026-11-25T08:00:00+00:00",
           "device": "tablet:0123456789ab", "source": "cli", "mood": "fine"}
    (future / sg.segment_name(1)).write_bytes(sg.encode("0123456789ab", 1, "0099", [("checkins", row)]))
    newer_format = sg.encode("0123456789ab", 2, "0002", [("checkins", row)]).replace(b'"format": 1', b'"format": 7')
    (future / sg.segment_name(2)).write_bytes(newer_format)
    work.cli.ok("checkin", "slouched", "--at", "2026-11-25T11:00")
    full_round(work, sofa)
    result = sofa.sync()
    reasons = {p["file"]: p["reason"] for p in result["pending"]}
    assert "newer posture-agent (schema 0099" in reasons[sg.segment_name(1)]
    assert "file format 7" in reasons[sg.segment_name(2)]
    assert "kept until" in reasons[sg.segment_name(1)]
    assert len(sofa.rows()["checkins"]) == 3  # the rest merged
    assert (future / sg.segment_name(1)).exists()  # kept
    assert sofa.status()["pending"] == result["pending"]
    shutil.rmtree(future)
    assert_converged(work, sofa)


def test_a_home_restored_onto_a_second_computer_takes_a_new_id(
    pair: tuple[Home, Home], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """The work home's backup restored onto a new computer: both now claim one device id. The new
    computer (whose database has not seen the work machine's latest files) finds files under its
    id that it did not write, takes a new id, and all three histories merge."""
    work, sofa = pair
    full_round(work, sofa)
    laptop = Home(tmp_path, "laptop", FixedClock(START), capsys)
    laptop.db.parent.mkdir(parents=True)
    src, dst = sqlite3.connect(work.db), sqlite3.connect(laptop.db)
    src.backup(dst)
    src.close()
    dst.close()
    old_id = work.device_id()
    assert laptop.device_id() == old_id
    laptop.cli.ok("sync", "setup", str(laptop.folder))  # before it sees any file: nothing to tell yet
    work.cli.ok("checkin", "standing", "--at", "2026-11-25T11:30")
    laptop.cli.ok("checkin", "slouched", "--at", "2026-11-25T11:40")
    work.sync()
    exchange(work, sofa, laptop)
    result = laptop.sync()
    assert result["new_device_id"] and laptop.device_id() == result["new_device_id"] != old_id
    assert work.device_id() == old_id
    laptop.cli.ok("checkin", "upright", "--at", "2026-11-25T11:50")
    exchange(work, sofa, laptop)
    full_round(work, sofa, laptop)
    assert len(work.rows()["checkins"]) == 5
    assert_converged(work, sofa, laptop)
    conn = sqlite3.connect(work.db)
    labels = {row[0] for row in conn.execute("SELECT device FROM checkins")}
    conn.close()
    assert f"laptop:{laptop.device_id()}" in labels


def _read_only(folder: Path) -> Callable[[], None]:
    """Make `folder` read-only for real; returns the undo. Root ignores permission bits, so as root
    the folder gets the immutable flag (skipped where the filesystem has none)."""
    if getattr(os, "geteuid", lambda: 1)() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    if not shutil.which("chattr"):
        pytest.skip("running as root without chattr: no way to make a folder read-only here")
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"running as root and chattr +i fails here ({done.stderr.strip()}): no read-only folder")

    def undo() -> None:
        subprocess.run(["chattr", "-i", str(folder)], check=True)

    return undo


def test_folder_unplugged_or_read_only_keeps_working_and_says_so_once(
    pair: tuple[Home, Home],
) -> None:
    work, sofa = pair
    full_round(work, sofa)
    aside = work.folder.with_name("unplugged")
    work.folder.rename(aside)
    before = work.rows()
    failed: Result = work.cli("sync", "now")
    assert failed.code != 0 and failed.err.count("\n") == 1 and "not reachable" in failed.err
    assert work.rows() == before
    work.cli.ok("checkin", "slouched", "--at", "2026-11-25T11:00")  # the rest of the app carries on
    assert "not reachable" in work.cli("--json", "sync", "status").json()["problem"]  # type: ignore[index]
    doctor = work.cli("--json", "doctor").json()
    sync_check = [c for c in doctor["checks"] if c["check"] == "sync"]  # type: ignore[index]
    assert sync_check and not sync_check[0]["ok"] and "not reachable" in sync_check[0]["detail"]
    aside.rename(work.folder)

    work.cli.ok("checkin", "upright", "--at", "2026-11-25T11:10")
    sofa.cli.ok("checkin", "upright", "--context", "sofa", "--at", "2026-11-25T11:20")
    sofa.sync()
    copy(sofa, work)
    undo = _read_only(work.folder / sg.SUBFOLDER / work.device_id())
    try:
        result = work.cli("--json", "sync", "now")
        assert result.code != 0 and "read-only" in result.err
        assert result.json()["merged"] == 1  # type: ignore[index]  # …but what can be read still merges
        work.cli("sync", "now")
        log = (work.home / "logs" / "posture-agent.log").read_text(encoding="utf-8")
        said = [line for line in log.splitlines() if "WARNING posture_agent.sync.engine" in line]
        assert len(said) == 2, said  # unplugged, then read-only: each said once, not every round
        assert "read-only" in said[-1]
        assert work.status()["pending_out"] == 2
    finally:
        undo()
    full_round(work, sofa)
    assert_converged(work, sofa)


def test_advice_follows_the_merged_history(pair: tuple[Home, Home]) -> None:
    """A run imported at work, SI-joint soreness reported at home: the protocol on both."""
    work, sofa = pair
    work.cli.ok("run", "add", "--distance-km", "18", "--duration", "1h50m", "--at", "2026-11-25T07:30")
    full_round(work, sofa)
    sofa.cli.ok("soreness", "--si-joint", "5", "--at", "2026-11-25T11:30")
    full_round(work, sofa)
    assert_converged(work, sofa)
    for h in (work, sofa):
        advice: Any = h.cli.ok("--json", "advice").json()
        assert advice["si_protocol"], (h.name, advice)
    (report,) = work.rows()["soreness_reports"]
    (run,) = work.rows()["runs"]
    assert run[-4] in report


def test_sync_needs_setup_and_a_real_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str], tz: str) -> None:
    h = Home(tmp_path, "solo", FixedClock(START), capsys)
    h.cli.ok("checkin", "upright")
    before = h.cli.db_dump()
    for args in (("sync", "now"), ("sync", "setup", str(tmp_path / "missing"))):
        result = h.cli(*args)
        assert result.code != 0 and result.err.count("\n") == 1 and result.err.startswith("posture-agent: ")
    assert h.cli.db_dump() == before
    assert h.cli.ok("--json", "sync", "status").json()["folder"] is None  # type: ignore[index]


def test_the_agent_syncs_on_its_housekeeping_minute(pair: tuple[Home, Home]) -> None:
    from posture_agent.agent.runtime import Agent
    from posture_agent.config import load_settings
    from posture_agent.paths import Paths
    from posture_agent.store.db import open_store
    from posture_agent.sync import engine as sync_engine

    work, sofa = pair
    full_round(work, sofa)
    sofa.cli.ok("checkin", "upright", "--context", "sofa", "--at", "2026-11-25T11:55")
    sofa.sync()
    exchange(work, sofa)
    paths = Paths.resolve(work.home)
    store = open_store(paths.db_file, paths.backup_dir)
    try:
        agent = Agent(paths, load_settings(paths.config_file), store, work.clock)
        agent.housekeeping()
        assert len(work.rows()["checkins"]) == 3
        agent.journal.record_checkin("slouched", at=work.clock.now() - timedelta(minutes=1))
        agent.housekeeping()
        assert work.status()["pending_out"] == 0
        aside = work.folder.rename(work.folder.with_name("unplugged"))
        agent.housekeeping()  # keeps working
        first = sync_engine.housekeeping(store, work.clock, "work")
        aside.rename(work.folder)
        assert first.problem and first.news is None  # the agent's minute above said it already
        back = sync_engine.housekeeping(store, work.clock, "work")
        assert back.problem is None and back.news is None
        aside = work.folder.rename(work.folder.with_name("unplugged"))
        told = [sync_engine.housekeeping(store, work.clock, "work").news for _ in range(3)]
        aside.rename(work.folder)
        assert told[0] and "not reachable" in told[0] and told[1:] == [None, None]  # once, not every minute
    finally:
        store.close()
    exchange(work, sofa)
    full_round(work, sofa)
    assert_converged(work, sofa)


def test_the_same_activity_file_imported_on_both_computers_is_one_run(pair: tuple[Home, Home]) -> None:
    """Both computers imported the same watch file (same fingerprint, two UUIDs): each keeps one
    run, and the soreness report given on the sofa points at the work machine's copy there."""
    from posture_agent.config import load_settings
    from posture_agent.journal import Journal
    from posture_agent.paths import Paths
    from posture_agent.store.db import open_store

    work, sofa = pair
    for h in (work, sofa):
        paths = Paths.resolve(h.home)
        store = open_store(paths.db_file, paths.backup_dir)
        try:
            journal = Journal(store, load_settings(paths.config_file), h.clock)
            journal.add_run(datetime(2026, 11, 25, 7, 0, tzinfo=BERLIN), timedelta(minutes=55), 10.2,
                            source="import", fingerprint="sha256-of-the-same-fit-file")
        finally:
            store.close()
    sofa.cli.ok("soreness", "--upper-back", "3", "--at", "2026-11-25T10:00")
    rounds = full_round(work, sofa)
    assert all(not r["unusable"] and not r["pending"] for r in rounds), rounds
    for h in (work, sofa):
        assert len(h.rows()["runs"]) == 1 and len(h.rows()["soreness_reports"]) == 1
        (run,) = h.rows()["runs"]
        (report,) = h.rows()["soreness_reports"]
        assert run[-4] in report
    assert all(r["written"] == 0 and r["merged"] == 0 for r in full_round(work, sofa))


def test_a_record_that_fails_validation_is_refused_alone_and_named(pair: tuple[Home, Home]) -> None:
    work, sofa = pair
    full_round(work, sofa)
    odd = sofa.folder / sg.SUBFOLDER / "0123456789ab"
    odd.mkdir()
    row = {"id": "6f1c2d8e-0000-4000-8000-000000000002", "at": "2026-11-25T08:00:00+00:00", "context": "desk",
           "posture": "sideways", "prompted": False, "created_at": "2026-11-25T08:00:00+00:00",
           "device": "tablet:0123456789ab", "source": "cli"}
    (odd / sg.segment_name(1)).write_bytes(sg.encode("0123456789ab", 1, "0002", [("checkins", row)]))
    good = {**row, "id": "6f1c2d8e-0000-4000-8000-000000000003", "posture": "upright"}
    (odd / sg.segment_name(2)).write_bytes(sg.encode("0123456789ab", 2, "0002", [("checkins", good)]))
    before = len(sofa.rows()["checkins"])
    result = sofa.sync()
    assert result["merged"] == 1 and len(sofa.rows()["checkins"]) == before + 1
    assert result["unusable"] == []
    (note,) = result["rows"]
    assert note["file"] == sg.segment_name(1) and note["kind"] == "refused" and "posture" in note["reason"]
    assert sofa.status()["rows"] == [{"device": "0123456789ab", **note}]


def test_moving_to_another_folder_writes_the_whole_history_there(pair: tuple[Home, Home], tmp_path: Path) -> None:
    work, sofa = pair
    full_round(work, sofa)
    for h in (work, sofa):
        h.folder = tmp_path / f"{h.name}-dropbox"
        h.folder.mkdir()
        h.cli.ok("sync", "setup", str(h.folder))
    own = work.folder / sg.SUBFOLDER / work.device_id()
    with Folder.open(own) as mine:
        assert sg.scan(mine, sg.segment_name(1)).count == 1  # its own record, written again
    full_round(work, sofa)
    assert_converged(work, sofa)


def test_rounds_at_the_same_moment_lose_nothing(pair: tuple[Home, Home]) -> None:
    """The agent's round and `sync now` (here: four processes) at once: each round takes the
    database's write lock before it reads, so segments are numbered one after the other, none is
    overwritten, and every record reaches the other computer."""
    import sys

    work, sofa = pair
    full_round(work, sofa)
    env = dict(os.environ, TZ="Europe/Berlin")
    for batch in range(3):
        for i in range(40):
            work.cli.ok("checkin", "upright", "--at", f"2026-11-2{batch + 1}T{i // 6:02d}:{i % 6}0")
        procs = [
            subprocess.Popen([sys.executable, "-m", "posture_agent", "--home", str(work.home), "sync", "now"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
            for _ in range(4)
        ]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
    names = [p.name for p in work.files()]
    assert names == [sg.segment_name(i + 1) for i in range(len(names))]
    full_round(work, sofa)
    assert len(sofa.rows()["checkins"]) == 2 + 120
    assert_converged(work, sofa)


def test_small_segments_are_packed_and_nothing_is_lost(
    pair: tuple[Home, Home], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A round a check-in leaves one small file; once there are COMPACT_AT of them they are packed
    into one and deleted. The sofa, which had merged the small ones, finds nothing new in the pack;
    a third computer that joins later gets everything from it."""
    from posture_agent.sync import engine

    monkeypatch.setattr(engine, "COMPACT_AT", 4)
    work, sofa = pair
    for i in range(9):
        work.cli.ok("checkin", "upright", "--at", f"2026-11-25T0{i}:15")
        work.sync()
        exchange(work, sofa)
        sofa.sync()
    assert len(work.files()) < 4
    assert sofa.sync()["merged"] == 0
    assert len(sofa.status()["devices"][0]) and sofa.status()["devices"][0]["files_merged"] <= 4
    late = Home(tmp_path, "late", FixedClock(START), capsys)
    late.cli.ok("sync", "setup", str(late.folder))
    exchange(work, sofa, late)
    full_round(work, sofa, late)
    assert len(late.rows()["checkins"]) == 11
    assert_converged(work, sofa, late)
