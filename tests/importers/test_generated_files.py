"""Small GPX, TCX and FIT files made by the tests: formats, sports, dedupe across formats, damage,
bad values, and time zones (a DST night, a file's own offset)."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from posture_agent.importers.activity import ParseError, normalise_sport
from posture_agent.importers.fit import parse_fit
from tests.importers.conftest import tcx_text, write_gpx
from tests.importers.fitbuild import Session, build_fit

START = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


def imported(cli: Any, *files: Path) -> list[dict[str, Any]]:
    files_json: list[dict[str, Any]] = cli("run", "import", *map(str, files), "--json").json()["files"]
    return files_json


def test_gpx_run_is_imported_with_its_numbers(cli: Any, tmp_path: Path) -> None:
    path = write_gpx(tmp_path / "morning.gpx", START, minutes=50, km=10.0)
    [out] = imported(cli, path)
    assert out["status"] == "imported", out
    [leg] = out["activities"]
    assert leg["start"] == "2026-11-20T07:00:00+00:00"
    assert leg["elapsed_s"] == 3000
    assert leg["distance_km"] == pytest.approx(10.0, rel=0.01)
    [run] = cli.ok("run", "list", "--json").json()["runs"]
    assert run["id"] == leg["run_id"]
    assert run["start_local"] == "2026-11-20T08:00:00+01:00"
    assert run["source"] == "import"


@pytest.mark.parametrize(("sport", "status", "word"), [
    ("cycling", "skipped", "cycling"),
    ("Hiking", "skipped", "hiking"),
    ("1", "skipped", "cycling"),  # Strava's number for a ride
    ("9", "imported", "Strava type 9"),
    ("trail_running", "imported", "running"),
])
def test_gpx_sport_decides(cli: Any, tmp_path: Path, sport: str, status: str, word: str) -> None:
    [out] = imported(cli, write_gpx(tmp_path / "a.gpx", START, 60, 10.0, sport=sport))
    assert out["status"] == status
    assert word in out["detail"]


def test_gpx_without_sport_is_judged_by_its_pace(cli: Any, tmp_path: Path) -> None:
    walk = write_gpx(tmp_path / "walk.gpx", START, minutes=60, km=4.5, sport=None)
    run = write_gpx(tmp_path / "run.gpx", START + timedelta(hours=3), minutes=60, km=11.0, sport=None)
    outs = imported(cli, walk, run)
    assert [o["status"] for o in outs] == ["skipped", "imported"]
    assert "not a running pace" in outs[0]["detail"]
    assert outs[1]["activities"][0]["sport_inferred"] is True


def test_gpx_without_times_is_skipped_and_says_why(cli: Any, tmp_path: Path) -> None:
    [out] = imported(cli, write_gpx(tmp_path / "route.gpx", START, 60, 10.0, timed=False))
    assert out["status"] == "skipped"
    assert out["detail"] == "no usable times: only 0 of 60 track points have a time"


def test_tcx_and_gzip_with_leading_whitespace(cli: Any, tmp_path: Path) -> None:
    plain = tmp_path / "a.tcx"
    plain.write_text(tcx_text(START, 40, 8.0), encoding="utf-8")
    packed = tmp_path / "b.tcx.gz"
    packed.write_bytes(gzip.compress(b"   \n  " + tcx_text(START + timedelta(days=1), 30, 6.0).encode()))
    gpx_gz = tmp_path / "c.gpx.gz"
    write_gpx(tmp_path / "c.gpx", START + timedelta(days=2), 45, 9.0)
    gpx_gz.write_bytes(gzip.compress((tmp_path / "c.gpx").read_bytes()))
    outs = imported(cli, plain, packed, gpx_gz)
    assert [o["status"] for o in outs] == ["imported"] * 3, outs
    assert [o["format"] for o in outs] == ["tcx", "tcx", "gpx"]
    assert outs[1]["activities"][0]["distance_km"] == pytest.approx(6.0)
    assert outs[1]["activities"][0]["moving_s"] == pytest.approx(1800)


def test_same_run_from_three_formats_is_stored_once(cli: Any, tmp_path: Path) -> None:
    gpx = write_gpx(tmp_path / "run.gpx", START, 50, 10.0)
    tcx = tmp_path / "run.tcx"
    tcx.write_text(tcx_text(START + timedelta(seconds=2), 50, 10.0), encoding="utf-8")
    fit = tmp_path / "run.fit"
    fit.write_bytes(build_fit([Session(START - timedelta(seconds=1), timedelta(minutes=50), 10.02)]))
    outs = imported(cli, fit, gpx, tcx)
    assert [o["status"] for o in outs] == ["imported", "already_imported", "already_imported"]
    assert "overlapping in time" in outs[1]["detail"]
    assert outs[1]["activities"][0]["run_id"] == outs[0]["run_ids"][0]
    assert len(cli.ok("run", "list", "--json").json()["runs"]) == 1


def test_same_file_under_another_name_is_recognised(cli: Any, tmp_path: Path) -> None:
    first = write_gpx(tmp_path / "one.gpx", START, 50, 10.0)
    copy = tmp_path / "sub" / "copy.gpx"
    copy.parent.mkdir()
    copy.write_bytes(first.read_bytes())
    outs = imported(cli, first, copy)
    assert outs[1]["status"] == "already_imported"
    assert outs[1]["detail"].startswith("same file as run ")


def test_a_run_typed_by_hand_is_not_imported_again(cli: Any, tmp_path: Path) -> None:
    cli.ok("run", "add", "--distance-km", "10", "--duration", "50:00", "--at", "2026-11-20T08:00:00+01:00")
    [out] = imported(cli, write_gpx(tmp_path / "run.gpx", START + timedelta(minutes=1), 49, 10.0))
    assert out["status"] == "already_imported"
    assert "from cli" in out["detail"]


@pytest.mark.parametrize(("km", "minutes", "word"), [
    (500.0, 600, "out of range"),
    (40.0, 60, "faster than any runner"),
])
def test_absurd_values_fail_and_store_nothing(cli: Any, tmp_path: Path, km: float, minutes: int, word: str) -> None:
    cli.ok("run", "list")
    before = cli.db_dump()
    path = tmp_path / "bad.fit"
    path.write_bytes(build_fit([Session(START, timedelta(minutes=minutes), km)]))
    result = cli("run", "import", str(path))
    assert result.code == 1
    assert f"{path}: failed: " in result.err and word in result.err
    assert result.out == "1 file: 0 imported (0 runs), 0 already imported, 0 skipped, 1 failed\n"
    assert cli.db_dump() == before


def test_a_run_in_the_future_fails(cli: Any, tmp_path: Path) -> None:
    [out] = imported(cli, write_gpx(tmp_path / "later.gpx", START + timedelta(days=30), 50, 10.0))
    assert out["status"] == "failed"
    assert "future" in out["detail"]


def test_fit_multisport_contributes_its_running_legs_with_the_files_offset(cli: Any, tmp_path: Path) -> None:
    # New York, the day before its DST change (2026-11-01): the file says -04:00.
    start = datetime(2026, 10, 31, 13, 0, tzinfo=UTC)
    legs = [
        Session(start, timedelta(minutes=40), 8.0),
        Session(start + timedelta(minutes=41), timedelta(minutes=2), 0.3, sport="transition"),
        Session(start + timedelta(minutes=44), timedelta(minutes=60), 25.0, sport="cycling"),
        Session(start + timedelta(minutes=105), timedelta(minutes=30), 5.0, sport="running", sub_sport="trail"),
    ]
    path = tmp_path / "duathlon.fit"
    path.write_bytes(build_fit(legs, utc_offset=timedelta(hours=-4)))
    [out] = imported(cli, path)
    assert out["status"] == "imported"
    assert out["detail"].startswith("2 running legs of 4: ")
    runs = [a for a in out["activities"] if a["status"] == "imported"]
    assert [r["start_local"] for r in runs] == ["2026-10-31T09:00:00-04:00", "2026-10-31T10:45:00-04:00"]
    assert [a["sport"] for a in out["activities"]] == ["running", "other", "cycling", "running"]
    assert len(cli.ok("run", "list", "--json").json()["runs"]) == 2


def test_fit_treadmill_and_paused_run(tmp_path: Path) -> None:
    data = build_fit([Session(START, timedelta(minutes=60), 9.0, sport="fitness_equipment", sub_sport="treadmill",
                              timer=timedelta(minutes=52))])
    [activity] = parse_fit(data).activities
    assert activity.sport == "running"
    assert activity.moving == timedelta(minutes=52)
    assert activity.elapsed == timedelta(minutes=60)


def test_fit_with_a_flipped_byte_is_refused_for_its_checksum(cli: Any, tmp_path: Path) -> None:
    data = bytearray(build_fit([Session(START, timedelta(minutes=50), 10.0)]))
    data[200] ^= 0x01  # inside a track record's distance: still decodes, only the checksum knows
    path = tmp_path / "flipped.fit"
    path.write_bytes(bytes(data))
    cli.ok("run", "list")
    before = cli.db_dump()
    [out] = imported(cli, path)
    assert out["status"] == "failed"
    assert "checksum mismatch" in out["detail"]
    assert cli.db_dump() == before


def test_fit_truncated_inside_the_track_fails(cli: Any, tmp_path: Path) -> None:
    data = build_fit([Session(START, timedelta(minutes=50), 10.0)], records=40)
    path = tmp_path / "cut.fit"
    path.write_bytes(data[: len(data) // 2])
    [out] = imported(cli, path)
    assert out["status"] == "failed"
    assert "truncated" in out["detail"]
    assert cli.ok("run", "list", "--json").json()["runs"] == []


def test_fit_truncated_after_its_summary_is_imported_and_says_partial(cli: Any, tmp_path: Path) -> None:
    data = build_fit([Session(START, timedelta(minutes=50), 10.0)], utc_offset=timedelta(hours=1))
    path = tmp_path / "cut-late.fit"
    path.write_bytes(data[:-8])  # the activity message's tail and the file checksum are gone
    [out] = imported(cli, path)
    assert out["status"] == "imported"
    assert out["partial"] is True
    assert "truncated" in out["damage"]
    assert "partial" in out["detail"]


@pytest.mark.parametrize(("name", "content", "word"), [
    ("notes.txt", b"hello", "not a GPX, TCX or FIT file"),
    ("empty.gpx", b"", "empty"),
    ("broken.gpx", b"<gpx><trk><trkseg><trkpt lat='1' lon='2'>", "not well-formed GPX XML"),
    ("wrong-root.tcx", b"<?xml version='1.0'?><Activities/>", "root element is <Activities>"),
    ("junk.fit", b"\x0e\x20\x00\x00" + b"\xff" * 40, "not a valid FIT file header"),
    ("bad.tcx.gz", b"\x1f\x8b\x08\x00garbage", "damaged gzip"),
    # the file-type mistakes people make, named by the file's first bytes
    ("morning.gpx", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40, "looks like a PNG image, not GPX"),
    ("run.fit", b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 40, "looks like a JPEG image, not FIT"),
    ("run.tcx", b"%PDF-1.7\n" + b"x" * 40, "looks like a PDF document, not TCX"),
    ("saved.gpx", b"<!DOCTYPE html>\n<html><body>Sign in</body></html>", "looks like a web page (HTML"),
    ("route.gpx", b"<?xml version='1.0'?><kml xmlns='http://www.opengis.net/kml/2.2'/>", "looks like a KML file"),
    ("photo.gpx.gz", gzip.compress(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40), "looks like a PNG image, not GPX"),
    ("shot.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "looks like a PNG image, not a GPX, TCX or FIT file"),
])
def test_unreadable_files_fail_with_a_reason(cli: Any, tmp_path: Path, name: str, content: bytes, word: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = cli("run", "import", str(path))
    assert result.code == 1
    assert result.err.startswith(f"{path}: failed: ")
    assert word in result.err


def test_missing_file_fails_and_the_others_still_import(cli: Any, tmp_path: Path) -> None:
    good = write_gpx(tmp_path / "ok.gpx", START, 50, 10.0)
    result = cli("run", "import", str(tmp_path / "nope.fit"), str(good))
    assert result.code == 1
    assert result.err == f"{tmp_path / 'nope.fit'}: failed: no such file\n"
    assert f"{good}: imported: " in result.out and "failed: no such" not in result.out


def test_exit_status_is_zero_when_nothing_failed(cli: Any, tmp_path: Path) -> None:
    bike = write_gpx(tmp_path / "bike.gpx", START, 60, 30.0, sport="cycling")
    assert cli("run", "import", str(bike)).code == 0


def test_dst_night_run_is_listed_in_local_time(cli: Any, tmp_path: Path) -> None:
    # Berlin springs forward at 01:00Z on 2026-03-29: 00:30Z is 01:30 CET, the end 03:30 CEST.
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    imported(cli, write_gpx(tmp_path / "night.gpx", start, 60, 11.0))
    [run] = cli.ok("run", "list", "--json").json()["runs"]
    assert run["start_local"] == "2026-03-29T01:30:00+01:00"
    assert run["end"] == "2026-03-29T01:30:00+00:00"


def test_sport_words() -> None:
    assert normalise_sport("Running") == "running"
    assert normalise_sport("9") == "running"
    assert normalise_sport("Biking") == "cycling"
    assert normalise_sport("fitness_equipment", "indoor_rowing") == "rowing"
    assert normalise_sport("generic") is None
    assert normalise_sport("transition") is None


def test_fit_without_sessions_is_refused(tmp_path: Path) -> None:
    data = build_fit([Session(START, timedelta(minutes=50), 10.0)])
    # cut before the session definition: the file ends, no summary was read
    with pytest.raises(ParseError, match="truncated"):
        parse_fit(data[:100])


def test_one_absurd_leg_fails_the_whole_multisport_file(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "odd.fit"
    path.write_bytes(build_fit([
        Session(START, timedelta(minutes=40), 8.0),
        Session(START + timedelta(minutes=45), timedelta(minutes=30), 90.0),  # 180 km/h "running"
    ]))
    cli.ok("run", "list")
    before = cli.db_dump()
    [out] = imported(cli, path)
    assert out["status"] == "failed"
    assert out["detail"].startswith("leg 2: ")
    assert "faster than any runner" in out["detail"]
    assert [a["status"] for a in out["activities"]] == ["skipped", "failed"]
    assert out["activities"][0]["detail"] == "not stored: another leg of the file failed"
    assert out["run_ids"] == []
    assert cli.db_dump() == before


def test_fit_checksum_matches_fitdecodes() -> None:
    import random

    from fitdecode.utils import compute_crc

    from posture_agent.importers.fit import fit_crc

    rng = random.Random(7)
    for size in (1, 2, 13, 700, 4096):
        data = bytes(rng.randrange(256) for _ in range(size))
        assert fit_crc(data) == compute_crc(data)
        assert fit_crc(data, 0xBEEF) == compute_crc(data, crc=0xBEEF)
