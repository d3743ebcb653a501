"""Every shared real activity file through the whole command, with the outcome a user should see."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fitdecode
import pytest

from posture_agent.importers.activity import ParseError
from posture_agent.importers.fit import parse_fit

pytestmark = pytest.mark.realdata


@dataclass(frozen=True)
class Run:
    start: str  # UTC
    offset: str | None
    km: float
    elapsed_s: float
    moving_s: float | None = None


@dataclass(frozen=True)
class Expect:
    status: str
    words: tuple[str, ...] = ()  # must appear in the outcome's detail
    runs: tuple[Run, ...] = ()
    partial: bool = False


EXPECTED = {
    "fit_garmin-fenix5_run_short.fit": Expect("skipped", ("too short", "57 s")),
    "fit_garmin-fr645m_run_6km.fit": Expect(
        "imported", ("6.00 km",), (Run("2020-12-10T06:27:05+00:00", "+01:00", 6.002, 1953.5, 1953.5),)),
    "fit_garmin-fr25_run_paused_14laps.fit": Expect(
        "imported", ("moving 27:43",), (Run("2016-08-17T17:41:27+00:00", "+02:00", 4.543, 2401.2, 1663.1),)),
    "fit_garmin-fr920xt_run_paused_devfields.fit": Expect(
        "imported", (), (Run("2019-05-18T14:11:39+00:00", "-06:00", 16.773, 8629.4, 6856.0),)),
    "fit_stryd_run_devfields.fit": Expect(
        "imported", (), (Run("2017-01-17T17:06:47+00:00", None, 6.754, 3424.0, 3424.0),)),
    "fit_strava-android_run_parse-error.fit": Expect(
        "imported", ("partial", "local message 11 not defined", "summary"),
        (Run("2021-09-27T14:13:10+00:00", None, 11.274, 3558.0, 3558.0),), partial=True),
    "fit_garmin-fenix2_multisport_triathlon.fit": Expect(
        "imported", ("2 running legs of 7",),
        (Run("2015-08-29T10:36:00+00:00", "+02:00", 2.245, 2294.8),
         Run("2015-08-29T11:14:21+00:00", "+02:00", 12.740, 6764.5))),
    "fit_garmin-fenix5_walk_short.fit": Expect("skipped", ("walking",)),
    "fit_garmin-fr645m_cycling_mtb.fit": Expect("skipped", ("cycling", "MTB")),
    "fit_garmin-vivoactivehr_indoor-rowing_devfields.fit": Expect("skipped", ("rowing",)),
    "fit_CORRUPT_truncated_unexpected-eof.fit": Expect("failed", ("truncated", "768")),
    "fit_CORRUPT_bad-file-crc.fit": Expect("failed", ("checksum",)),
    "gpx_garmin-connect_run_mannheim.gpx": Expect(
        "imported", (), (Run("2019-11-16T08:58:30+00:00", None, 5.324, 2304.0),)),
    "gpx_strava_run_paused_type9.gpx": Expect(
        "imported", ("Strava type 9",), (Run("2021-01-10T08:54:28+00:00", None, 12.609, 5127.0),)),
    "gpx_nike-run-club_run.gpx": Expect(
        "imported", ("from the pace",), (Run("2021-07-04T11:23:19+00:00", None, 8.257, 3169.6),)),
    "gpx_gpsbabel_multitrack_missing-times.gpx": Expect("skipped", ("no usable times", "5 of 296")),
    "gpx_gpsbabel_hike_bogus-1901-times.gpx": Expect("skipped", ("placeholder", "1901-12-13")),
    "tcx_garmin-fr410_run_3laps.tcx": Expect(
        "imported", (), (Run("2012-12-26T21:29:53+00:00", None, 4.689, 1992.5),)),
    "tcx_strava-style_run_leading-whitespace.tcx.gz": Expect(
        "imported", (), (Run("2018-02-28T16:28:50+00:00", None, 5.031, 2030.0, 2014.0),)),
    "tcx_MALFORMED_missing-root-element.tcx": Expect("failed", ("not well-formed XML",)),
}


def real_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name in EXPECTED)


def test_all_twenty_files_are_there(real_data: Path) -> None:
    missing = sorted(set(EXPECTED) - {p.name for p in real_data.iterdir()})
    assert not missing, f"real data folder lacks {missing}"


def by_name(data: Any) -> dict[str, dict[str, Any]]:
    return {Path(f["file"]).name: f for f in data["files"]}


def test_every_real_file_has_its_expected_outcome(cli: Any, real_data: Path) -> None:
    result = cli("run", "import", *map(str, real_files(real_data)), "--json")
    assert result.code == 1, "a failed file must make the exit status non-zero"
    data = result.json()
    files = by_name(data)
    assert set(files) == set(EXPECTED)
    for name, expect in EXPECTED.items():
        got = files[name]
        assert got["status"] == expect.status, f"{name}: {got['status']}: {got['detail']}"
        for word in expect.words:
            assert word in got["detail"], f"{name}: {word!r} not in {got['detail']!r}"
        assert got["partial"] is expect.partial, name
        imported = [a for a in got["activities"] if a["status"] == "imported"]
        assert len(imported) == len(expect.runs), name
        for leg, run in zip(imported, expect.runs, strict=True):
            assert leg["sport"] == "running"
            assert leg["start"] == run.start, name
            assert leg["start_offset"] == run.offset, name
            assert leg["distance_km"] == pytest.approx(run.km, abs=0.005), name
            assert leg["elapsed_s"] == pytest.approx(run.elapsed_s, abs=1), name
            if run.moving_s is not None:
                assert leg["moving_s"] == pytest.approx(run.moving_s, abs=1), name
    assert data["summary"] == {
        "files": 20, "imported": 11, "already_imported": 0, "skipped": 6, "failed": 3, "runs_imported": 12,
    }
    runs = cli.ok("run", "list", "--json").json()["runs"]
    assert len(runs) == 12
    assert all(r["source"] == "import" and r["sport"] == "running" for r in runs)
    starts = sorted(r["start"] for r in runs)
    expected_starts = sorted(run.start for e in EXPECTED.values() for run in e.runs)
    assert starts == expected_starts


def test_second_import_recognises_every_run_and_prints_one_line_per_file(cli: Any, real_data: Path) -> None:
    files = list(map(str, real_files(real_data)))
    cli("run", "import", *files)
    before = cli.db_dump()
    result = cli("run", "import", *files)
    assert cli.db_dump() == before
    lines = result.out.strip().splitlines()
    failures = result.err.strip().splitlines()
    assert (len(lines), len(failures)) == (18, 3)
    assert lines[-1] == "20 files: 0 imported (0 runs), 11 already imported, 6 skipped, 3 failed"
    assert ": failed: checksum mismatch" in next(line for line in failures if "bad-file-crc" in line)
    assert next(line for line in lines if "walk_short" in line).endswith("skipped: walking (Walk)")
    six_km = next(line for line in lines if "run_6km" in line)
    assert ": already imported: same file as run " in six_km


def test_corrupt_files_leave_the_database_unchanged(cli: Any, real_data: Path) -> None:
    cli.ok("run", "list")
    before = cli.db_dump()
    bad = [real_data / n for n in EXPECTED if EXPECTED[n].status == "failed"]
    result = cli("run", "import", *map(str, bad))
    assert result.code == 1
    assert cli.db_dump() == before


def stock_sessions(data: bytes) -> list[dict[str, Any]]:
    """Sessions as plain fitdecode reads them (every message decoded), up to any error."""
    sessions = []
    try:
        with fitdecode.FitReader(io.BytesIO(data), check_crc=fitdecode.CrcCheck.RAISE) as reader:
            for frame in reader:
                if frame.frame_type == fitdecode.FIT_FRAME_DATA and frame.name == "session":
                    sessions.append({f.name: f.value for f in frame.fields})
    except fitdecode.FitError:
        pass
    return sessions


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n.endswith(".fit")))
def test_summary_reader_agrees_with_stock_fitdecode(real_data: Path, name: str) -> None:
    """Skipping the track's field decoding changes nothing in the sessions we read."""
    data = (real_data / name).read_bytes()
    stock = stock_sessions(data)
    try:
        parsed = parse_fit(data)
    except ParseError:
        assert name.startswith("fit_CORRUPT_bad-file-crc"), name
        return
    assert len(parsed.activities) == len(stock)
    for activity, session in zip(parsed.activities, stock, strict=True):
        assert activity.start == session["start_time"].astimezone(UTC)
        assert activity.elapsed.total_seconds() == pytest.approx(session["total_elapsed_time"])
        assert activity.distance_km == pytest.approx(session["total_distance"] / 1000)


def test_bad_checksum_is_refused_even_though_fitdecode_only_warns_by_default(real_data: Path) -> None:
    data = (real_data / "fit_CORRUPT_bad-file-crc.fit").read_bytes()
    with pytest.warns(UserWarning), fitdecode.FitReader(io.BytesIO(data)) as reader:
        list(reader)  # the default mode accepts it with a warning: the trap
    with pytest.raises(ParseError, match="checksum"):
        parse_fit(data)


def test_metadata_time_is_not_the_start(real_data: Path) -> None:
    from posture_agent.importers.gpx import parse_gpx

    parsed = parse_gpx((real_data / "gpx_garmin-connect_run_mannheim.gpx").read_bytes())
    assert parsed.activities[0].start == datetime(2019, 11, 16, 8, 58, 30, tzinfo=UTC)
