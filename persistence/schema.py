"""The journal's schema version, its migrations, and the check a journal passes before use.

The version lives in SQLite's ``user_version``. A new journal is created at
:data:`SCHEMA_VERSION`; an older one is brought up to it by the steps in
:data:`MIGRATIONS` (peewee's ``playhouse.migrate``), one transaction for all;
a newer one, a corrupt or truncated one, is refused with a
:class:`SchemaError` that says what to do. Nothing here ever drops or resets
a journal: it holds the day's orders, fills, R and halt.
"""

from __future__ import annotations

from collections.abc import Callable

import peewee
from playhouse.migrate import SqliteMigrator, migrate

from persistence.models import MODELS

#: The schema this program writes. Version 1 is the first versioned one (journals written
#: before versioning have the same tables and are taken as version 1); version 2 adds
#: ``order_intents``; version 3 ``controls`` and ``runner`` (the trader's desk); version 4
#: ``bars`` (the closed 1-minute bars, for ``run.py report``).
SCHEMA_VERSION = 4

#: ``MIGRATIONS[n]`` takes a journal from version ``n - 1`` to ``n``: it returns the
#: ``playhouse.migrate`` operations to run (add a column, an index …). New tables need
#: no step: every missing table is created after the steps.
MIGRATIONS: dict[int, Callable[[SqliteMigrator], list]] = {
    2: lambda migrator: [],  # order_intents: a new table
    3: lambda migrator: [],  # controls, runner: new tables
    4: lambda migrator: [],  # bars: a new table
}


class SchemaError(Exception):
    """The journal cannot be used as it is (too new, corrupt, or a migration failed)."""


def prepare(db: peewee.SqliteDatabase, path: str) -> None:
    """Check ``db`` and bring it to :data:`SCHEMA_VERSION` (tables created when new).

    Raises :class:`SchemaError` naming ``path`` for a journal written by a
    newer version, one that fails SQLite's ``quick_check`` (corrupt or
    truncated), or a failed migration (then rolled back, the journal as it was).
    """
    try:
        check = db.execute_sql("PRAGMA quick_check").fetchone()[0]
    except peewee.DatabaseError as exc:
        raise SchemaError(f"journal {path!r} is unreadable ({exc}); {KEEP_IT}") from exc
    if check != "ok":
        raise SchemaError(f"journal {path!r} is corrupt (SQLite quick_check: {check}); {KEEP_IT}")
    version = db.pragma("user_version")
    existing = set(db.get_tables())
    if version == 0 and existing:
        version = 1  # written before versioning: the version-1 tables
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"journal {path!r} has schema version {version}, written by a newer version of this program "
            f"(this one reads up to {SCHEMA_VERSION}); run that version, or give another DB_PATH"
        )
    if version == SCHEMA_VERSION and {m._meta.table_name for m in MODELS} <= existing:
        return  # nothing to do: no write (a second process, run.py status, beside a running trader)
    try:
        # IMMEDIATE: the write lock first (waiting while another process writes), never a read
        # snapshot to upgrade, which SQLite refuses at once ("database is locked") beside a writer
        with db.atomic("IMMEDIATE"):
            migrator = SqliteMigrator(db)
            for step in range(max(version, 1) + 1, SCHEMA_VERSION + 1) if existing else ():
                migrate(*MIGRATIONS[step](migrator))
            db.create_tables(MODELS)  # new journal, or tables a migration step adds
            db.pragma("user_version", SCHEMA_VERSION)
    except peewee.DatabaseError as exc:
        raise SchemaError(f"journal {path!r}: migrating from schema {version} failed ({exc}); left as it was") from exc


#: What a trader is told to do with a journal that cannot be used.
KEEP_IT = "it is not reset: move it aside (it is the day's record) and start with another DB_PATH"
