"""Camera check-ins in the store: who answered (user or camera) as a column added by migration
0005, its measures, and the column through sync (an older device's rows are the user's)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from posture_agent.store import sharing
from posture_agent.store import tables as t
from posture_agent.store.db import open_store
from posture_agent.store.migrate import SCHEMA_HEAD
from posture_agent.store.sqlite_file import read_revision
from tests.test_store import database_at


def test_migration_0005_marks_every_earlier_checkin_as_the_users(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    database_at(db, "0004", "INSERT INTO checkins (id, created_at, device, source, at, context, posture, prompted) "
                "VALUES ('c1', '2026-01-01', 'd', 'cli', '2026-01-01 09:00:00', 'desk', 'slouched', 0)")
    open_store(db, tmp_path / "backups").close()
    assert read_revision(db) == SCHEMA_HEAD
    conn2 = sqlite3.connect(db)
    try:
        assert conn2.execute("SELECT id, answered_by, head_drop_cm FROM checkins").fetchall() == [("c1", "user", None)]
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn2.execute("UPDATE checkins SET answered_by = 'robot'")
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):  # the older checks survived the migration
            conn2.execute("UPDATE checkins SET posture = 'lying'")
    finally:
        conn2.close()


def test_a_row_from_an_older_device_is_the_users_and_a_camera_row_keeps_its_measures(tmp_path: Path) -> None:
    store = open_store(tmp_path / "db.sqlite", tmp_path / "backups")
    old = {"id": "a", "created_at": "2026-11-25T08:00:00+00:00", "device": "sofa:1", "source": "cli",
           "at": "2026-11-25T08:00:00+00:00", "context": "desk", "posture": "upright", "prompted": False}
    camera = {**old, "id": "b", "answered_by": "camera", "head_drop_cm": 6.5, "face_size_ratio": 1.1}
    with store.transaction() as conn:
        assert sharing.insert_new(conn, t.checkins, [old, camera]) == 2
    with sqlite3.connect(tmp_path / "db.sqlite") as raw:
        rows = raw.execute("SELECT id, answered_by, head_drop_cm, face_size_ratio FROM checkins ORDER BY id").fetchall()
    assert rows == [("a", "user", None, None), ("b", "camera", 6.5, 1.1)]
    with store.transaction() as conn:  # this device's own rows travel with the column
        out, _ = sharing.own_rows_since(conn, t.checkins, 0, ["1"], 10)
    assert {r["id"]: (r["answered_by"], r["head_drop_cm"]) for r in out} == {"a": ("user", None), "b": ("camera", 6.5)}
    with store.transaction() as conn, pytest.raises(Exception, match="CHECK"):
        sharing.insert_new(conn, t.checkins, [{**old, "id": "c", "answered_by": "robot"}])
    store.close()


def test_the_command_line_checkin_is_the_users(cli: object) -> None:
    from tests.conftest import Cli

    assert isinstance(cli, Cli)
    cli.ok("checkin", "upright")
    with sqlite3.connect(cli.home / "data" / "posture-agent.db") as raw:
        assert raw.execute("SELECT answered_by FROM checkins").fetchall() == [("user",)]


def test_the_camera_section_is_validated(tmp_path: Path) -> None:
    from posture_agent.config import ConfigError, load_settings

    path = tmp_path / "config.toml"
    path.write_text('[camera]\nenabled = true\nsource = 1\ndrop_cm = 5\n', encoding="utf-8")
    s = load_settings(path)
    assert (s.camera_enabled, s.camera_source, s.camera_drop_cm, s.camera_lean_ratio) == (True, "1", 5.0, 1.2)
    path.write_text('[camera]\nsource = "clips/me.avi"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 2: camera.source: must be a camera number"):
        load_settings(path)
    path.write_text('[camera]\n\nlean_ratio = 0.5\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 3: camera.lean_ratio: must be a number from 1.05 to 3"):
        load_settings(path)


def test_a_calibration_is_three_numbers_in_the_data_folder(tmp_path: Path) -> None:
    from posture_agent.camera.calibration import calibration_file, load_calibration, save_calibration
    from posture_agent.camera.measures import Calibration
    from posture_agent.errors import UserError

    assert load_calibration(tmp_path) is None
    save_calibration(tmp_path, Calibration(0.44, 0.22, 0.2, "2026-11-25T11:00:00+00:00", "0"))
    assert load_calibration(tmp_path) == Calibration(0.44, 0.22, 0.2, "2026-11-25T11:00:00+00:00", "0")
    assert calibration_file(tmp_path).stat().st_mode & 0o777 == 0o600
    calibration_file(tmp_path).write_text('{"centre_x": 0.4, "centre_y": "up", "face_width": 0.2}')
    with pytest.raises(UserError, match="unusable camera calibration"):
        load_calibration(tmp_path)


def test_a_camera_checkin_is_named_as_the_cameras() -> None:
    from datetime import UTC, datetime

    from posture_agent.domain.records import CheckIn
    from posture_agent.journal import describe

    at = datetime(2026, 11, 25, 9, 45, tzinfo=UTC)
    camera = CheckIn("c", at, "desk", "slouched", True, "camera")
    assert describe(camera, UTC, at) == "slouched (camera) at the desk, 09:45"
    assert describe(CheckIn("u", at, "desk", "slouched"), UTC, at) == "slouched at the desk, 09:45"


def test_a_merged_or_restored_checkin_is_validated_with_its_camera_columns() -> None:
    from datetime import UTC, datetime

    from posture_agent.domain.validation import Invalid, check_row

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    row = {"id": "0b7f6a8e-3c1d-4e2f-9a5b-6c7d8e9f0a1b", "created_at": "2026-11-25T08:00:00+00:00",
           "device": "work:1", "source": "prompt", "at": "2026-11-25T08:00:00+00:00", "context": "desk",
           "posture": "slouched", "prompted": True}
    check_row("checkins", row, now)  # an older version's row: no answered_by, the user's
    check_row("checkins", {**row, "answered_by": "camera", "head_drop_cm": 6.5, "face_size_ratio": 1.1}, now)
    for bad, says in (
        ({"answered_by": "robot"}, "answered_by 'robot' is not one of: user, camera"),
        ({"answered_by": "user", "head_drop_cm": 6.5}, "head_drop_cm: only a camera check-in has measures"),
        ({"head_drop_cm": 6.5}, "head_drop_cm: only a camera check-in has measures"),
        ({"answered_by": "camera", "face_size_ratio": float("nan")}, "face_size_ratio: nan is not a finite number"),
        ({"answered_by": "camera", "head_drop_cm": 500}, "head_drop_cm: 500 is out of range (-100 to 100)"),
    ):
        with pytest.raises(Invalid) as caught:
            check_row("checkins", {**row, **bad}, now)
        assert str(caught.value) == says
