"""A hypothesis battery over what another computer can put in the synced folder: segment bytes,
headers with fields of any JSON type, rows with columns of any JSON type (huge integers, NaN,
infinities, text that is not UTF-8, dates at the ends of the range) and manifests. The property: a
round never raises, the folder stays usable, and whatever went in passes domain/validation.py.
Derandomized; `POSTURE_AGENT_FUZZ_EXAMPLES` changes the count (default 80 per battery)."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posture_agent.clock import FixedClock
from posture_agent.domain import validation as v
from posture_agent.store.db import Store, open_store
from posture_agent.store.sharing import SHARED
from posture_agent.sync import engine
from posture_agent.sync import segments as sg

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
FUZZ = settings(
    max_examples=int(os.environ.get("POSTURE_AGENT_FUZZ_EXAMPLES", "80")), deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
GOOD_ROWS: dict[str, dict[str, Any]] = {
    "checkins": {"at": "2026-11-25T08:00:00+00:00", "context": "desk", "posture": "upright", "prompted": False},
    "drill_completions": {"at": "2026-11-25T08:00:00+00:00", "drill": "chin-tuck"},
    "circuits": {"at": "2026-11-25T08:00:00+00:00", "rounds": 2},
    "runs": {"start": "2026-11-25T06:00:00+00:00", "duration_s": 3600.0, "moving_s": None, "distance_km": 10.0,
             "sport": "running", "fingerprint": None, "origin": None},
    "soreness_reports": {"at": "2026-11-25T09:00:00+00:00", "upper_back": 3, "mid_back": None, "lower_back": None,
                         "si_joint": None, "si_pain_reported": False, "form": "", "run_id": None},
    "protocol_ends": {"at": "2026-11-25T08:00:00+00:00"},
    "tombstones": {"record_table": "checkins", "record_id": "6f1c2d8e-0000-4000-8000-000000000999",
                   "replaced_by": None},
}
ids = itertools.count(1)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats()
    | st.text(max_size=20) | st.sampled_from(["", "0", "abc", "1e400", "-0", "\udc80", "9999-12-31T23:59:59+14:00",
                                            "0001-01-01T00:00:00-12:00", "2026-11-25T08:00:00"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
times = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)).map(
    lambda d: d.isoformat())


class World:
    """One home whose sync folder gets a new device folder per example."""

    def __init__(self, root: Path) -> None:
        self.folder = root / "synced"
        self.folder.mkdir()
        self.db = root / "home.db"
        self.store: Store = open_store(self.db, root / "backups", now=NOW)
        self.clock = FixedClock(NOW)
        assert engine.setup(self.store, self.folder, self.clock, "fuzz").problem is None
        self.own = engine.status(self.store, "fuzz")["device"]["id"]
        self.labels: list[str] = []

    def device(self) -> Path:
        path = self.folder / sg.SUBFOLDER / f"{next(ids):012x}"
        path.mkdir(parents=True)
        return path

    def round(self) -> engine.Round:
        """A round over this example's device folder, which is then removed (rounds stay small)."""
        try:
            result = engine.sync_round(self.store, self.clock, "fuzz")
            assert result.problem is None, result.problem
            assert "\n" not in json.dumps(result.to_json(), ensure_ascii=True)
            self.labels = [d["label"] for d in engine.status(self.store, "fuzz")["devices"]]
        finally:
            for path in (self.folder / sg.SUBFOLDER).iterdir():
                if path.name != self.own:
                    shutil.rmtree(path)
        return result


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("fuzz"))
    yield w
    w.store.close()
    conn = sqlite3.connect(w.db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert all(conn.execute(f"SELECT count(*) FROM {name}").fetchone() for name in SHARED)
    finally:
        conn.close()


def segment(device: str, rows: list[tuple[str, Any]], header: dict[str, Any] | None = None) -> bytes:
    body = b"".join(json.dumps({"t": t, "r": r}).encode() + b"\n" for t, r in rows)
    head = {"format": 1, "schema": "0004", "device_id": device, "seq": 1, "records": len(rows),
            "sha256": hashlib.sha256(body).hexdigest(), **(header or {})}
    return json.dumps(head).encode() + b"\n" + body


@FUZZ
@given(data=st.binary(max_size=600) | st.builds(lambda a, b: a + b"\n" + b, st.binary(max_size=80),
                                                 st.binary(max_size=300)))
def test_any_bytes_as_a_segment(world: World, data: bytes) -> None:
    folder = world.device()
    (folder / sg.segment_name(1)).write_bytes(data)
    result = world.round()
    assert result.merged == 0


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(["format", "schema", "device_id", "seq", "records", "sha256", "x"]),
                               json_values, max_size=3),
       drop=st.sets(st.sampled_from(["format", "schema", "device_id", "seq", "sha256"]), max_size=2))
def test_any_header(world: World, changes: dict[str, Any], drop: set[str]) -> None:
    folder = world.device()
    row = {**GOOD_ROWS["checkins"], "id": f"6f1c2d8e-0000-4000-8000-{next(ids):012d}",
           "created_at": "2026-11-25T08:00:00+00:00", "device": f"t:{folder.name}", "source": "cli"}
    data = segment(folder.name, [("checkins", row)], changes)
    head, _, body = data.partition(b"\n")
    header = {k: val for k, val in json.loads(head).items() if k not in drop}
    (folder / sg.segment_name(1)).write_bytes(json.dumps(header).encode() + b"\n" + body)
    world.round()


@FUZZ
@given(table=st.sampled_from(sorted(GOOD_ROWS)) | st.text(max_size=8),
       changes=st.dictionaries(st.sampled_from(["id", "at", "start", "created_at", "device", "source", "context",
                                                "posture", "prompted", "rounds", "duration_s", "distance_km",
                                                "moving_s", "upper_back", "si_pain_reported", "form", "run_id",
                                                "record_table", "record_id", "drill", "sport", "origin"]),
                               json_values | times, max_size=3),
       drop=st.sets(st.sampled_from(["id", "at", "created_at", "device", "source"]), max_size=1),
       extra=st.lists(json_values, max_size=2))
def test_any_row(world: World, table: str, changes: dict[str, Any], drop: set[str], extra: list[Any]) -> None:
    folder = world.device()
    row = {**GOOD_ROWS.get(table, {}), "id": f"6f1c2d8e-0000-4000-8000-{next(ids):012d}",
           "created_at": "2026-11-25T08:00:00+00:00", "device": f"t:{folder.name}", "source": "cli", **changes}
    for key in drop:
        row.pop(key, None)
    good = {**GOOD_ROWS["circuits"], "id": f"6f1c2d8e-0000-4000-8000-{next(ids):012d}",
            "created_at": "2026-11-25T08:00:00+00:00", "device": f"t:{folder.name}", "source": "cli"}
    rows: list[tuple[str, Any]] = [(table, row), ("circuits", good), *(("checkins", x) for x in extra)]
    (folder / sg.segment_name(1)).write_bytes(segment(folder.name, rows))
    result = world.round()
    assert result.merged >= 1  # the good row went in whatever the others were
    for note in result.rows:
        assert "\n" not in note["reason"] and note["kind"] in ("refused", "waiting", "conflict")
    if table not in SHARED:
        return  # a table this version does not share (a newer version's): left out without a word
    try:
        v.check_row(table, row, NOW)
    except v.Invalid:
        assert result.rows, "a row that fails validation was not named"
        assert result.merged == 1


@FUZZ
@given(manifest=st.binary(max_size=200) | json_values.map(lambda x: json.dumps(x).encode()))
def test_any_manifest(world: World, manifest: bytes) -> None:
    folder = world.device()
    (folder / sg.MANIFEST).write_bytes(manifest)
    world.round()
    assert all(label.isprintable() and len(label) <= 80 for label in world.labels)
