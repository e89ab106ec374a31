"""The schema comes only from Alembic migrations in the top-level migrations/ folder."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from feecheck.config import ROOT

MIGRATIONS_DIR = ROOT / "migrations"


def alembic_config(bind: Engine | Connection | None = None, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if bind is not None:
        config.attributes["connection"] = bind
    return config


class MigrationError(RuntimeError):
    """A migration would leave rows that break a foreign key; nothing was changed."""


def upgrade(bind: Engine | Connection, revision: str = "head") -> None:
    migrate(bind, lambda connection: command.upgrade(alembic_config(connection), revision))


def downgrade(bind: Engine | Connection, revision: str = "base") -> None:
    migrate(bind, lambda connection: command.downgrade(alembic_config(connection), revision))


def migrate(bind: Engine | Connection, run: Callable[[Connection], None]) -> None:
    """Run migrations on an engine in one transaction (on SQLite with foreign keys checked at
    the end, see below), or on a connection the caller manages."""
    if not isinstance(bind, Engine):
        run(bind)
        return
    if bind.dialect.name != "sqlite":
        with bind.begin() as connection:
            run(connection)
        return
    # SQLite rebuilds a table to alter it (Alembic batch mode); with foreign keys on, dropping
    # the old table of a parent that has rows fails (the downgrade of 0002 once an import was
    # recorded). Switch them off around the migration, outside its transaction, and check every
    # key before committing instead.
    with bind.connect() as connection:
        raw = connection.connection.driver_connection
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                run(connection)
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise MigrationError(f"rows would break foreign keys: {broken[:5]}")
        finally:
            raw.execute("PRAGMA foreign_keys=ON")


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
