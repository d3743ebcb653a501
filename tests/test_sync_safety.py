"""The synced folder is other people's input (issue: nothing lost, round three). Each test plants what
another computer, or whatever reaches the sync service, can put there: symlinks, FIFOs, huge files,
malformed headers and manifests, rows of the wrong type, a row claiming this computer's id, the same
id twice, a folder emptied or unmounted. Nothing is written outside this computer's own folder, a bad
piece is refused alone and named, and the rest merges."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from posture_agent.sync import confined, engine
from posture_agent.sync import segments as sg
from posture_agent.sync.confined import TEMP_PREFIX, Folder
from tests import test_sync
from tests.processes import PinnedClock
from tests.test_sync import Home, assert_converged, exchange, full_round

pair = test_sync.pair  # the two homes of tests/test_sync.py, each with its copy of the folder

PEER = "0123456789ab"
ROW_ID = "6f1c2d8e-0000-4000-8000-{:012d}"


def checkin(n: int, **changes: Any) -> dict[str, Any]:
    row = {"id": ROW_ID.format(n), "at": "2026-11-25T08:00:00+00:00", "context": "desk", "posture": "upright",
           "prompted": False, "created_at": "2026-11-25T08:00:00+00:00", "device": f"tablet:{PEER}", "source": "cli"}
    row.update(changes)
    return row


def plant(home: Home, rows: list[tuple[str, dict[str, Any]]], seq: int = 1, device: str = PEER) -> Path:
    """A segment of another device in `home`'s copy of the folder, as that device would write it."""
    folder = home.folder / sg.SUBFOLDER / device
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / sg.segment_name(seq)
    path.write_bytes(encode(device, seq, rows))
    return path


def encode(device: str, seq: int, rows: list[tuple[str, dict[str, Any]]]) -> bytes:
    """`segments.encode`, with JSON escapes for text that is not UTF-8 (a forged row may carry it)."""
    body = b"".join(json.dumps({"t": t, "r": r}, sort_keys=True).encode() + b"\n" for t, r in rows)
    header = {"format": 1, "schema": "0004", "device_id": device, "seq": seq, "records": len(rows),
              "sha256": hashlib.sha256(body).hexdigest()}
    return json.dumps(header).encode() + b"\n" + body


def one_line_each(lines: list[str]) -> None:
    assert all("\n" not in line and "\x1b" not in line for line in lines)


# --- 1. nothing written outside this computer's own folder -----------------------------------------


def test_a_planted_symlink_is_never_written_through(pair: tuple[Home, Home], tmp_path: Path) -> None:
    """Symlinks at the next segment's name, at the manifest's, and at the temporary names older
    versions used: the files they point at stay byte for byte; the segments are regular files."""
    work, _ = pair
    bashrc = tmp_path / "bashrc"
    bashrc.write_text("echo hello\n", encoding="utf-8")
    own = work.folder / sg.SUBFOLDER / work.device_id()
    nxt = sg.segment_name(2)
    (own / nxt).symlink_to(bashrc)
    for pid in range(os.getpid() - 50, os.getpid() + 2000):  # the old guessable `.NAME.PID.tmp`
        (own / f".{nxt}.{pid}.tmp").symlink_to(bashrc)
    (own / sg.MANIFEST).unlink()
    (own / sg.MANIFEST).symlink_to(bashrc)
    work.cli.ok("checkin", "slouched", "--at", "2026-11-25T11:00")
    assert work.sync()["written"] == 1
    assert bashrc.read_text(encoding="utf-8") == "echo hello\n"
    assert stat.S_ISREG(os.lstat(own / nxt).st_mode) and stat.S_ISREG(os.lstat(own / sg.MANIFEST).st_mode)
    assert not [p for p in own.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_a_device_folder_that_is_a_symlink_is_refused(pair: tuple[Home, Home], tmp_path: Path) -> None:
    work, sofa = pair
    full_round(work, sofa)
    outside = tmp_path / "outside"
    outside.mkdir()
    own = work.folder / sg.SUBFOLDER / work.device_id()
    shutil.rmtree(own)
    own.symlink_to(outside)
    work.cli.ok("checkin", "slouched", "--at", "2026-11-25T11:00")
    result = work.cli("--json", "sync", "now")
    assert result.code != 0 and "symbolic link" in result.err and result.err.count("\n") == 1
    assert list(outside.iterdir()) == []
    # another device's folder that is a symlink is not read either, and named
    (sofa.folder / sg.SUBFOLDER / PEER).symlink_to(outside)
    (outside / sg.segment_name(1)).write_bytes(sg.encode(PEER, 1, "0004", [("checkins", checkin(1))]))
    result = sofa.cli("--json", "sync", "now")
    assert result.code == 0, result.err
    assert {"device": PEER, "file": "", "reason": "a symbolic link: not followed"} in result.json()["unusable"]
    assert len(sofa.rows()["checkins"]) == 2


def test_only_rows_this_database_created_are_exported(pair: tuple[Home, Home]) -> None:
    """A peer row stamped with this computer's id merges, but is never written again as its own."""
    work, _ = pair
    forged = checkin(7, device=f"mine:{work.device_id()}")
    plant(work, [("checkins", forged)])
    assert work.sync()["merged"] == 1
    work.cli.ok("checkin", "standing", "--at", "2026-11-25T11:30")
    assert work.sync()["written"] == 1
    assert work.status()["pending_out"] == 0
    exported = []
    with Folder.open(work.folder, sg.SUBFOLDER, work.device_id()) as own:
        for name, _ in own.entries():
            if sg.SEGMENT.match(name):
                exported += [row["id"] for _, row in sg.scan(own, name).rows()]
    assert forged["id"] not in exported and len(exported) == 2
    undone = work.cli.ok("--json", "undo").json()  # this computer's two (one pinned clock: one action)…
    assert forged["id"] not in [r["id"] for r in undone["records"]]  # type: ignore[index]
    again = work.cli("undo")  # …and never the forged one, as if this computer had made it
    assert again.code != 0 and "nothing to undo" in again.err


def test_a_temp_file_left_by_a_kill_is_never_merged_and_is_cleaned(pair: tuple[Home, Home]) -> None:
    work, sofa = pair
    full_round(work, sofa)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    own = work.folder / sg.SUBFOLDER / work.device_id()
    left = own / f"{TEMP_PREFIX}{sg.segment_name(2)}.{pid}.0123456789abcdef.tmp"
    left.write_bytes(sg.encode(work.device_id(), 2, "0004", [("checkins", checkin(3, device="x:y"))])[:-5])
    theirs = sofa.folder / sg.SUBFOLDER / work.device_id() / left.name
    shutil.copyfile(left, theirs)  # a sync service other than Syncthing copied it over
    result = sofa.sync()
    assert result["merged"] == 0 and result["unusable"] == [] and result["rows"] == []
    work.cli.ok("checkin", "standing", "--at", "2026-11-25T11:30")
    work.sync()
    assert not left.exists()


# --- 2, 3, 13. rows and files of every kind of wrong ---------------------------------------------------


BAD_ROWS = [
    ("runs", {"duration_s": "abc"}, "duration_s"),
    ("runs", {"duration_s": 1e20}, "duration_s"),
    ("runs", {"distance_km": float("inf")}, "distance_km"),
    ("runs", {"distance_km": 2**63}, "distance_km"),
    ("circuits", {"rounds": "lots"}, "rounds"),
    ("circuits", {"rounds": True}, "rounds"),
    ("checkins", {"at": "0001-01-01T00:00:00+00:00"}, "out of range"),
    ("checkins", {"at": "9999-12-31T23:59:59+00:00"}, "out of range"),
    ("checkins", {"at": "2026-11-25T08:00:00"}, "offset"),
    ("checkins", {"id": None}, "id"),
    ("checkins", {"id": "not-a-uuid"}, "id"),
    ("checkins", {"device": "a\udc80b"}, "UTF-8"),
    ("checkins", {"prompted": "yes"}, "prompted"),
    ("soreness_reports", {"upper_back": 11}, "upper_back"),
    ("soreness_reports", {"form": "wobbly"}, "form"),
    ("tombstones", {"record_table": "meta"}, "record_table"),
]
GOOD = {
    "runs": {"start": "2026-11-25T06:00:00+00:00", "duration_s": 3600.0, "moving_s": None, "distance_km": 10.0,
             "sport": "running", "fingerprint": None, "origin": None},
    "circuits": {"at": "2026-11-25T08:00:00+00:00", "rounds": 2},
    "checkins": {},
    "soreness_reports": {"at": "2026-11-25T09:00:00+00:00", "upper_back": 3, "mid_back": None, "lower_back": None,
                         "si_joint": None, "si_pain_reported": False, "form": "", "run_id": None},
    "tombstones": {"record_table": "checkins", "record_id": ROW_ID.format(999), "replaced_by": None},
}


def row_of(table: str, n: int, **changes: Any) -> dict[str, Any]:
    base = checkin(n)
    if table != "checkins":
        for key in ("at", "context", "posture", "prompted"):
            base.pop(key)
    base.update(GOOD[table])
    base.update(changes)
    return base


def test_rows_of_the_wrong_type_are_refused_alone_and_the_app_keeps_working(pair: tuple[Home, Home]) -> None:
    _, sofa = pair
    rows = [(table, row_of(table, i, **change)) for i, (table, change, _) in enumerate(BAD_ROWS, start=100)]
    rows += [(table, row_of(table, i)) for i, table in enumerate(GOOD, start=10)]
    plant(sofa, rows)
    result = sofa.cli("--json", "sync", "now")
    assert result.code == 0, result.err
    data = result.json()
    assert data["merged"] == len(GOOD) and data["unusable"] == []  # type: ignore[index]
    refused = data["rows"]  # type: ignore[index]
    assert len(refused) == len(BAD_ROWS)
    for note, (table, _, word) in zip(refused, BAD_ROWS, strict=True):
        assert note["table"] == table and word in note["reason"] and note["kind"] == "refused", note
    for args in (("run", "list"), ("report",), ("advice",), ("drills",), ("trends",), ("schedule",),
                 ("export", "--format", "json"), ("doctor",)):
        done = sofa.cli(*args)
        assert done.code in (0, 1) and "unexpected" not in done.err, (args, done.err)
    status = sofa.cli("sync", "status")
    assert status.code == 0 and status.out.count("refused row:") == len(BAD_ROWS)
    one_line_each(status.out.splitlines())
    doctor = sofa.cli("--json", "doctor").json()
    (check,) = [c for c in doctor["checks"] if c["check"] == "sync"]  # type: ignore[index]
    assert f"{len(BAD_ROWS)} row(s) refused" in check["detail"]


MALFORMED_HEADERS = [
    {"seq": "x"}, {"format": [1]}, {"records": None}, {"seq": 2**63}, {"seq": -1}, {"format": True},
    {"schema": 4}, {"device_id": "../../etc"}, {"sha256": None}, {"format": 1e300},
]


@pytest.mark.parametrize("change", MALFORMED_HEADERS, ids=[next(iter(c)) + repr(next(iter(c.values())))
                                                        for c in MALFORMED_HEADERS])
def test_a_malformed_header_refuses_its_file_alone(pair: tuple[Home, Home], change: dict[str, Any]) -> None:
    _, sofa = pair
    good = plant(sofa, [("checkins", checkin(1))], seq=1)
    data = sg.encode(PEER, 2, "0004", [("checkins", checkin(2))])
    header, _, body = data.partition(b"\n")
    bad = good.with_name(sg.segment_name(2))
    bad.write_bytes(json.dumps({**json.loads(header), **change}).encode() + b"\n" + body)
    result = sofa.cli("--json", "sync", "now")
    assert result.code == 0, result.err
    assert result.json()["merged"] == 1  # type: ignore[index]
    (note,) = result.json()["unusable"]  # type: ignore[index]
    assert note["file"] == bad.name and "not a segment" in note["reason"]


def test_malformed_manifests_and_folder_names_are_named_not_fatal(pair: tuple[Home, Home]) -> None:
    _, sofa = pair
    root = sofa.folder / sg.SUBFOLDER
    for n, manifest in enumerate([b"[1, 2]", b'{"segments": 5, "device": ["x"]}', b'{"segments": [1, {"name": 2}]}',
                                  b"\xff\xfe", b'{"device": "evil\\nline\\u001b[31m"}']):
        device = f"{PEER[:-1]}{n}"
        plant(sofa, [("checkins", checkin(n, device=f"t:{device}"))], device=device)
        (root / device / sg.MANIFEST).write_bytes(manifest)
    os.mkdir(os.fsencode(root) + b"/bad\xffname")
    (root / "README.txt").write_text("hello", encoding="utf-8")
    odd = root / f"{PEER[:-1]}0" / "seg-000002\nunusable: forged.jsonl"
    odd.write_bytes(b"\x1b[2J not a segment")
    result = sofa.cli("--json", "sync", "now")
    assert result.code == 0, result.err
    data = result.json()
    assert data["merged"] == 5  # type: ignore[index]
    assert sorted(n["device"] for n in data["unusable"]) == [  # type: ignore[index]
        f"{PEER[:-1]}0", "README.txt", "bad\\xffname"]
    assert [n["file"] for n in data["unusable"] if n["file"]] == ["seg-000002\\nunusable: forged.jsonl"]  # type: ignore[index]
    text = sofa.cli("sync", "status")
    assert text.code == 0
    one_line_each(text.out.splitlines())
    assert "evil\\nline\\x1b[31m" in text.out


def test_the_same_id_with_other_content_is_resolved_by_last_writer_and_reported(pair: tuple[Home, Home]) -> None:
    work, sofa = pair
    a = checkin(5, device=f"work:{work.device_id()}", created_at="2026-11-25T08:00:00+00:00")
    b = checkin(5, device=f"sofa:{sofa.device_id()}", created_at="2026-11-25T09:00:00+00:00", posture="slouched")
    plant(work, [("checkins", a)], device=PEER)
    plant(sofa, [("checkins", b)], device=PEER[::-1])
    work.sync()
    sofa.sync()
    exchange(work, sofa)
    work.sync()
    sofa.sync()
    exchange(work, sofa)
    results = [work.sync(), sofa.sync()]
    notes = [n for r in results for n in r["rows"]] + work.status()["rows"] + sofa.status()["rows"]
    assert any(n["kind"] == "conflict" and n["id"] == a["id"] for n in notes)
    assert work.rows() == sofa.rows()
    assert {r[2] for r in work.rows()["checkins"] if a["id"] in r} == {"slouched"}  # the later one


def test_a_duplicate_id_in_one_file_refuses_the_duplicate_not_the_file(pair: tuple[Home, Home]) -> None:
    _, sofa = pair
    plant(sofa, [("checkins", checkin(1)), ("checkins", checkin(1, posture="slouched")), ("checkins", checkin(2))])
    result = sofa.sync()
    assert result["merged"] == 2 and result["unusable"] == []
    (note,) = result["rows"]
    assert note["id"] == checkin(1)["id"] and "twice" in note["reason"]


def test_a_peer_record_in_the_future_waits(pair: tuple[Home, Home]) -> None:
    """A clock a day ahead must not tick tomorrow's drills today: the row waits until it is due."""
    _, sofa = pair
    tomorrow = {**row_of("checkins", 1), "at": "2026-11-26T08:00:00+00:00", "created_at": "2026-11-26T08:00:00+00:00"}
    plant(sofa, [("checkins", tomorrow), ("checkins", checkin(2))])
    result = sofa.sync()
    assert result["merged"] == 1 and result["rows"][0]["kind"] == "waiting"
    assert sofa.sync()["merged"] == 0
    sofa.clock.advance(days=1)
    assert sofa.sync()["merged"] == 1
    assert sofa.status()["rows"] == []


# --- 4. bounded reads ----------------------------------------------------------------------------------


def test_fifos_devices_symlinks_and_huge_files_are_refused_without_blocking(
    pair: tuple[Home, Home], tmp_path: Path,
) -> None:
    _, sofa = pair
    folder = plant(sofa, [("checkins", checkin(1))]).parent
    os.mkfifo(folder / sg.segment_name(2))
    os.mkfifo(folder / sg.MANIFEST)
    (folder / sg.segment_name(3)).symlink_to("/dev/zero")
    with (folder / sg.segment_name(4)).open("wb") as f:
        f.truncate(sg.MAX_SEGMENT_BYTES + 1)  # sparse: nothing is read of it
    env = PinnedClock(sofa.clock.now()).env(dict(os.environ), TZ="Europe/Berlin")  # the rows' time, at any hour
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "posture_agent", "--home", str(sofa.home), "--json", "sync", "now"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30
    data = json.loads(done.stdout)
    assert data["merged"] == 1
    reasons = {n["file"]: n["reason"] for n in data["unusable"]}
    assert "pipe" in reasons[sg.segment_name(2)] and "symbolic link" in reasons[sg.segment_name(3)]
    assert "MB" in reasons[sg.segment_name(4)]


def test_a_bad_checksum_is_not_read_again_until_the_file_changes(
    pair: tuple[Home, Home], monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, sofa = pair
    path = plant(sofa, [("checkins", checkin(1))])
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    reads: list[str] = []
    scan = sg.scan

    def counted(folder: Folder, name: str) -> sg.Segment:
        reads.append(name)
        return scan(folder, name)

    monkeypatch.setattr(engine.sg, "scan", counted)
    for _ in range(3):
        (note,) = sofa.sync()["unusable"]
        assert "checksum" in note["reason"]
    assert reads == [path.name]
    plant(sofa, [("checkins", checkin(1))])  # a good copy arrives
    assert sofa.sync()["merged"] == 1 and reads == [path.name] * 2


# --- 5. a folder emptied, recreated or unmounted ------------------------------------------------------


def test_a_folder_emptied_or_recreated_gets_this_computers_records_again(pair: tuple[Home, Home]) -> None:
    work, sofa = pair
    full_round(work, sofa)
    shutil.rmtree(work.folder / sg.SUBFOLDER)  # emptied (a sync service that lost it, a user's clean-up)
    result = work.sync()
    assert result["written"] == 1 and "gone from the sync folder" in (result["rewritten"] or "")
    assert "written to it again" in work.cli("sync", "status").out
    shutil.rmtree(work.folder)
    work.folder.mkdir()  # recreated at the same path
    result = work.sync()
    assert result["written"] == 1 and result["rewritten"]
    exchange(work, sofa)
    full_round(work, sofa)
    assert_converged(work, sofa)


def test_an_unmounted_folder_is_noticed(pair: tuple[Home, Home], tmp_path: Path) -> None:
    """A small tmpfs mounted on the folder: records written there, then the disk is unmounted (the
    bare mount point stays) and mounted again."""
    work, _ = pair
    mount = work.folder
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"a tmpfs cannot be mounted here ({done.stderr.strip() or done.returncode}): "
                    "the unmounted-folder case is covered by the emptied and recreated ones")
    try:
        result = work.sync()
        assert result["rewritten"] and result["written"] == 1
        work.cli.ok("checkin", "standing", "--at", "2026-11-25T11:30")
        work.sync()
    finally:
        subprocess.run(["umount", str(mount)], check=True)
    result = work.sync()  # the bare mount point: noticed, and everything written there too
    assert result["rewritten"] and result["written"] == 2


# --- a restored backup's rows ---------------------------------------------------------------------------


def test_a_restored_backups_bad_rows_are_left_out_and_named(pair: tuple[Home, Home], tmp_path: Path) -> None:
    work, _ = pair
    work.cli.ok("run", "add", "--distance-km", "10", "--duration", "50:00", "--at", "2026-11-25T07:00")
    backup = Path(work.cli.ok("backup").out.strip().split()[-1].rstrip("."))
    if not backup.is_file():
        backup = sorted((work.home / "data" / "backups").glob("backup-*.db"))[-1]
    conn = sqlite3.connect(backup)
    try:
        conn.execute("UPDATE runs SET duration_s = 'abc'")
        conn.execute("INSERT INTO circuits (id, at, rounds, created_at, device, source) VALUES "
                     "(?, '2026-11-25 08:00:00.000000', 'lots', '2026-11-25 08:00:00.000000', 'x:y', 'cli')",
                     (ROW_ID.format(77),))
        conn.execute("INSERT INTO circuits (id, at, rounds, created_at, device, source) VALUES "
                     "(?, '2026-11-25 08:00:00.000000', 2, '2026-11-25 08:00:00.000000', 'x:y', 'cli')",
                     (ROW_ID.format(78),))
        conn.commit()
    finally:
        conn.close()
    before = backup.read_bytes()
    result = work.cli("--json", "restore", str(backup))
    assert result.code == 0, result.err
    refused = result.json()["refused_rows"]  # type: ignore[index]
    assert sorted((r["table"], r["reason"].split(":")[0]) for r in refused) == [
        ("circuits", "rounds"), ("runs", "duration_s")]
    assert backup.read_bytes() == before
    for args in (("run", "list"), ("report",), ("circuit", "list")):
        done = work.cli(*args)
        assert "unexpected" not in done.err, (args, done.err)
    assert len(work.rows()["circuits"]) == 1 and work.rows()["runs"] == set()
    text = work.cli("restore", str(backup))
    assert "record(s) of the backup failed validation" in text.out


def test_a_folder_full_of_junk_is_named_in_a_bounded_list(pair: tuple[Home, Home]) -> None:
    _, sofa = pair
    folder = plant(sofa, [("checkins", checkin(1))]).parent
    for n in range(300):
        (folder / f"junk-{n}.txt").write_bytes(b"x")
    result = sofa.sync()
    assert result["merged"] == 1
    assert len(result["unusable"]) == 21 and "280 more" in result["unusable"][-1]["reason"]
    bad = [("circuits", row_of("circuits", 1000 + n, rounds=99)) for n in range(300)]
    plant(sofa, [*bad, ("checkins", checkin(2))], seq=2)
    result = sofa.sync()
    assert result["merged"] == 1 and len(result["rows"]) == 21 and "280 more" in result["rows"][-1]["reason"]
    assert len(sofa.status()["rows"]) == 21


def test_where_files_cannot_be_opened_relative_to_a_folder_the_same_is_refused(
    pair: tuple[Home, Home], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The path-by-path checks used where the system has no `dir_fd` (Windows), run here: a
    symlinked device folder, a symlink at a segment's name, a FIFO, all refused; the rest merges."""
    monkeypatch.setattr(confined, "_RELATIVE", False)
    work, sofa = pair
    bashrc = tmp_path / "bashrc"
    bashrc.write_text("echo hello\n", encoding="utf-8")
    own = work.folder / sg.SUBFOLDER / work.device_id()
    (own / sg.segment_name(2)).symlink_to(bashrc)
    work.cli.ok("checkin", "slouched", "--at", "2026-11-25T11:00")
    assert work.sync()["written"] == 1
    assert bashrc.read_text(encoding="utf-8") == "echo hello\n" and not (own / sg.segment_name(2)).is_symlink()
    folder = plant(sofa, [("checkins", checkin(1))]).parent
    os.mkfifo(folder / sg.segment_name(2))
    (folder / sg.segment_name(3)).symlink_to(bashrc)
    (sofa.folder / sg.SUBFOLDER / PEER[::-1]).symlink_to(tmp_path)
    result = sofa.sync()
    assert result["merged"] == 1
    reasons = sorted(n["reason"] for n in result["unusable"])
    assert reasons == ["a symbolic link: not followed", "a symbolic link: not followed",
                       "is a pipe (FIFO), not a regular file"], reasons
    shutil.rmtree(own)
    own.symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    assert work.cli("sync", "now").code != 0 and list((tmp_path / "elsewhere").iterdir()) == []
