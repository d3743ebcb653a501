"""Fixtures for the importer tests: the shared real activity files (or a clear skip), a journal on a
real SQLite file, and writers for small GPX and TCX files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import gpxpy.gpx
import pytest

from posture_agent.clock import FixedClock
from posture_agent.config import Settings
from posture_agent.journal import Journal
from posture_agent.store.db import open_store

REPO = Path(__file__).resolve().parents[2]


def real_data_dir() -> Path | None:
    chosen = os.environ.get("POSTURE_AGENT_REAL_DATA")
    candidates = [Path(chosen)] if chosen else []
    candidates += [REPO.parent / "shared" / "real-data" / "activities", REPO.parent / "shared" / "real-data"]
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.fit")):
            return folder
    return None


@pytest.fixture
def real_data() -> Path:
    folder = real_data_dir()
    if folder is None:
        pytest.skip(
            "real activity files not found: set POSTURE_AGENT_REAL_DATA or put them in "
            "../shared/real-data/activities beside the checkout"
        )
    return folder


@pytest.fixture
def journal(tmp_path: Path, clock: FixedClock, tz: str) -> Iterator[Journal]:
    store = open_store(tmp_path / "data" / "posture-agent.db")
    yield Journal(store, Settings(timezone=tz), clock)
    store.close()


def write_gpx(
    path: Path, start: datetime, minutes: float, km: float, sport: str | None = "running", points: int = 60,
    timed: bool = True,
) -> Path:
    """A straight-line GPX track northwards covering `km` in `minutes` (1° latitude ≈ 111.2 km)."""
    gpx = gpxpy.gpx.GPX()
    track = gpxpy.gpx.GPXTrack(name="test")
    track.type = sport
    segment = gpxpy.gpx.GPXTrackSegment()
    for i in range(points):
        frac = i / (points - 1)
        segment.points.append(gpxpy.gpx.GPXTrackPoint(
            latitude=52.0 + frac * km / 111.195, longitude=13.4,
            time=start + timedelta(minutes=minutes * frac) if timed else None,
        ))
    track.segments.append(segment)
    gpx.tracks.append(track)
    path.write_text(gpx.to_xml(), encoding="utf-8")
    return path


def tcx_text(start: datetime, minutes: float, km: float, sport: str = "Running", laps: int = 2) -> str:
    """A TCX export written by hand: `laps` equal laps with a few timed track points each."""
    def iso(at: datetime) -> str:
        return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    lap_min, lap_km = minutes / laps, km / laps
    body = []
    for n in range(laps):
        lap_start = start + timedelta(minutes=lap_min * n)
        points = "".join(
            f"<Trackpoint><Time>{iso(lap_start + timedelta(minutes=lap_min * i / 4))}</Time>"
            f"<DistanceMeters>{(n * lap_km + lap_km * i / 4) * 1000:.1f}</DistanceMeters></Trackpoint>"
            for i in range(5)
        )
        body.append(
            f'<Lap StartTime="{iso(lap_start)}"><TotalTimeSeconds>{lap_min * 60:.1f}</TotalTimeSeconds>'
            f"<DistanceMeters>{lap_km * 1000:.1f}</DistanceMeters><Track>{points}</Track></Lap>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">'
        f'<Activities><Activity Sport="{sport}"><Id>{iso(start)}</Id>{"".join(body)}</Activity></Activities>'
        "</TrainingCenterDatabase>\n"
    )
