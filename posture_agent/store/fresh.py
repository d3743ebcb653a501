"""A new database in one step: the schema at SCHEMA_HEAD exactly as the migrations leave it.

Running the Alembic migrations on an empty file imports Alembic, Mako and Pygments: about 11 MB that
the agent, started for the first time, then carried all day, and a quarter of a second. Instead an
empty file gets the statements below, which are what `sqlite_master` holds after `alembic upgrade
head` on an empty file, in the order they were made, and the head revision. Older files still go
through the migrations (store/migrate.py). tests/test_store.py checks that the two paths give the
same file; after a new migration, `python scripts/fresh_schema.py` writes this module again.
"""

from __future__ import annotations

from typing import Any

REVISION = "0005"

STATEMENTS = (
    (
        'CREATE TABLE alembic_version (\n'
        '\tversion_num VARCHAR(32) NOT NULL, \n'
        '\tCONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n'
        ')'
    ),
    (
        'CREATE TABLE checkins (\n'
        '\tat DATETIME NOT NULL, \n'
        '\tcontext VARCHAR(8) NOT NULL, \n'
        '\tposture VARCHAR(10) NOT NULL, \n'
        '\tprompted BOOLEAN NOT NULL, \n'
        '\tid VARCHAR(36) NOT NULL, \n'
        '\tcreated_at DATETIME NOT NULL, \n'
        '\tdevice VARCHAR(64) NOT NULL, \n'
        '\tsource VARCHAR(16) NOT NULL, '
        "answered_by VARCHAR(8) DEFAULT 'user' NOT NULL CHECK (answered_by IN ('user','camera')), "
        'head_drop_cm FLOAT, face_size_ratio FLOAT, \n'
        '\tPRIMARY KEY (id), \n'
        "\tCHECK (context IN ('desk','car','sofa')), \n"
        "\tCHECK (posture IN ('upright','slouched','standing','skipped','missed'))\n"
        ')'
    ),
    'CREATE INDEX ix_checkins_at ON checkins (at)',
    (
        'CREATE TABLE circuits (\n'
        '\tat DATETIME NOT NULL, \n'
        '\trounds INTEGER NOT NULL, \n'
        '\tid VARCHAR(36) NOT NULL, \n'
        '\tcreated_at DATETIME NOT NULL, \n'
        '\tdevice VARCHAR(64) NOT NULL, \n'
        '\tsource VARCHAR(16) NOT NULL, \n'
        '\tPRIMARY KEY (id)\n'
        ')'
    ),
    'CREATE INDEX ix_circuits_at ON circuits (at)',
    (
        'CREATE TABLE drill_completions (\n'
        '\tat DATETIME NOT NULL, \n'
        '\tdrill VARCHAR(64) NOT NULL, \n'
        '\tid VARCHAR(36) NOT NULL, \n'
        '\tcreated_at DATETIME NOT NULL, \n'
        '\tdevice VARCHAR(64) NOT NULL, \n'
        '\tsource VARCHAR(16) NOT NULL, \n'
        '\tPRIMARY KEY (id)\n'
        ')'
    ),
    'CREATE INDEX ix_drill_completions_at ON drill_completions (at)',
    (
        'CREATE TABLE meta (\n'
        '\t"key" VARCHAR(64) NOT NULL, \n'
        '\tvalue TEXT NOT NULL, \n'
        '\tPRIMARY KEY ("key")\n'
        ')'
    ),
    (
        'CREATE TABLE protocol_ends (\n'
        '\tat DATETIME NOT NULL, \n'
        '\tid VARCHAR(36) NOT NULL, \n'
        '\tcreated_at DATETIME NOT NULL, \n'
        '\tdevice VARCHAR(64) NOT NULL, \n'
        '\tsource VARCHAR(16) NOT NULL, \n'
        '\tPRIMARY KEY (id)\n'
        ')'
    ),
    'CREATE INDEX ix_protocol_ends_at ON protocol_ends (at)',
    (
        'CREATE TABLE runs (\n'
        '\tstart DATETIME NOT NULL, \n'
        '\tduration_s FLOAT NOT NULL, \n'
        '\tmoving_s FLOAT, \n'
        '\tdistance_km FLOAT NOT NULL, \n'
        '\tsport VARCHAR(32) NOT NULL, \n'
        '\tfingerprint VARCHAR(64), \n'
        '\torigin TEXT, \n'
        '\tid VARCHAR(36) NOT NULL, \n'
        '\tcreated_at DATETIME NOT NULL, \n'
        '\tdevice VARCHAR(64) NOT NULL, \n'
        '\tsource VARCHAR(16) NOT NULL, \n'
        '\tPRIMARY KEY (id), \n'
        '\tCHECK (distance_km >= 0), \n'
        '\tCHECK (duration_s > 0), \n'
        '\tUNIQUE (fingerprint)\n'
        ')'
    ),
    'CREATE INDEX ix_runs_start ON runs (start)',
    (
        'CREATE TABLE soreness_reports (\n'
        '\tat DATETIME NOT NULL, \n'
        '\tupper_back INTEGER, \n'
        '\tmid_back INTEGER, \n'
        '\tlower_back INTEGER, \n'
        '\tsi_joint INTEGER, \n'
        '\tsi_pain_reported BOOLEAN NOT NULL, \n'
        '\tform VARCHAR(128) NOT NULL, \n'
        '\trun_id VARCHAR(36), \n'
        '\tid VARCHAR(36) NOT NULL, \n'
        '\tcreated_at DATETIME NOT NULL, \n'
        '\tdevice VARCHAR(64) NOT NULL, \n'
        '\tsource VARCHAR(16) NOT NULL, \n'
        '\tPRIMARY KEY (id), \n'
        '\tCHECK (lower_back IS NULL OR (lower_back BETWEEN 0 AND 10)), \n'
        '\tCHECK (mid_back IS NULL OR (mid_back BETWEEN 0 AND 10)), \n'
        '\tCHECK (si_joint IS NULL OR (si_joint BETWEEN 0 AND 10)), \n'
        '\tCHECK (upper_back IS NULL OR (upper_back BETWEEN 0 AND 10)), \n'
        '\tFOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE SET NULL\n'
        ')'
    ),
    'CREATE INDEX ix_soreness_reports_at ON soreness_reports (at)',
    'CREATE INDEX ix_soreness_reports_run_id ON soreness_reports (run_id)',
    (
        'CREATE TABLE import_files (\n'
        '\tpath TEXT NOT NULL, \n'
        '\tsize INTEGER NOT NULL, \n'
        '\tmtime_ns INTEGER NOT NULL, \n'
        '\tstatus VARCHAR(16) NOT NULL, \n'
        '\tdetail TEXT NOT NULL, \n'
        '\tscanned_at DATETIME NOT NULL, \n'
        '\tPRIMARY KEY (path)\n'
        ')'
    ),
    (
        'CREATE TABLE "prompts" (\n'
        '\tkind VARCHAR(16) NOT NULL, \n'
        '\tdue DATETIME NOT NULL, \n'
        '\tcontext VARCHAR(8), \n'
        '\tshown_at DATETIME, \n'
        '\toutcome VARCHAR(10), \n'
        '\tid VARCHAR(36) NOT NULL, \n'
        '\tcreated_at DATETIME NOT NULL, \n'
        '\tdevice VARCHAR(64) NOT NULL, \n'
        '\tsource VARCHAR(16) NOT NULL, \n'
        '\tPRIMARY KEY (id), \n'
        '\tCONSTRAINT uq_prompt_kind_due UNIQUE (kind, due), \n'
        "\tCHECK (outcome IS NULL OR outcome IN ('answered','skipped','missed','away'))\n"
        ')'
    ),
    'CREATE INDEX ix_prompts_due ON prompts (due)',
    (
        'CREATE TABLE tombstones (\n'
        '\trecord_table VARCHAR(32) NOT NULL, \n'
        '\trecord_id VARCHAR(36) NOT NULL, \n'
        '\treplaced_by VARCHAR(36), \n'
        '\tid VARCHAR(36) NOT NULL, \n'
        '\tcreated_at DATETIME NOT NULL, \n'
        '\tdevice VARCHAR(64) NOT NULL, \n'
        '\tsource VARCHAR(16) NOT NULL, \n'
        '\tPRIMARY KEY (id)\n'
        ')'
    ),
    'CREATE INDEX ix_tombstones_record_id ON tombstones (record_id)',
)


def create_head_schema(conn: Any) -> None:
    """Create the head schema on an empty database, inside the caller's transaction."""
    for statement in STATEMENTS:
        conn.exec_driver_sql(statement)
    conn.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES (?)", (REVISION,))
