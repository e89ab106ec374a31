"""The schema comes from Alembic: models and migrations agree, and the round trip works."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from feecheck.models import Base
from feecheck.models.session import make_engine
from feecheck.services import schema


@pytest.fixture
def fresh_engine(engine: Engine, tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    """An empty database of the same kind as the test database."""
    if engine.dialect.name == "sqlite":
        fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield fresh
        fresh.dispose()
        return
    name = f"feecheck_mig_{uuid.uuid4().hex[:10]}"
    admin = make_engine(engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    fresh = make_engine(make_url(engine.url).set(database=name))
    try:
        yield fresh
    finally:
        fresh.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}"'))
        admin.dispose()


def _differences(engine: Engine) -> list:  # type: ignore[type-arg]
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_models_and_migrations_agree(engine: Engine) -> None:
    assert _differences(engine) == []


def test_upgrade_downgrade_upgrade(fresh_engine: Engine) -> None:
    schema.upgrade(fresh_engine)
    tables = set(inspect(fresh_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    schema.downgrade(fresh_engine)
    assert set(inspect(fresh_engine).get_table_names()) <= {"alembic_version"}
    schema.upgrade(fresh_engine)
    assert _differences(fresh_engine) == []
    with fresh_engine.connect() as connection:
        assert schema.current_revision(connection) == schema.head_revision()
