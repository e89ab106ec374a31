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


def test_downgrade_works_with_data_in_the_tables(fresh_engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SQLite rebuilds tables to drop columns; with an import recorded (audit rows pointing at
    import_batches) that used to fail on the foreign keys."""
    from sqlalchemy.orm import Session

    from feecheck.config import ROOT
    from feecheck.engine.taxonomy import load_taxonomy
    from feecheck.services.importing import run_import

    schema.upgrade(fresh_engine)
    csv_file = tmp_path / "k.csv"
    csv_file.write_text("code,name,region_code,category\nK1,一园,110108,public\n", "utf-8")
    with Session(fresh_engine) as session:
        report = run_import(
            session, "kindergartens", csv_file, taxonomy=load_taxonomy(ROOT / "rules")
        )
        assert report.status == "committed"
    schema.downgrade(fresh_engine, "0001")
    with fresh_engine.connect() as connection:
        assert schema.current_revision(connection) == "0001"
        assert connection.execute(text("SELECT count(*) FROM import_batches")).scalar() == 1
    schema.upgrade(fresh_engine)
    assert _differences(fresh_engine) == []


def test_the_maintainers_url_command_downgrades_a_database_with_data(fresh_engine: Engine) -> None:
    """The README's `command.downgrade(alembic_config(url=…), …)` goes through env.py's own engine:
    on SQLite that path too must switch foreign keys off around the table rebuilds."""
    from alembic import command
    from sqlalchemy.orm import Session

    from feecheck.config import ROOT
    from feecheck.engine.taxonomy import load_taxonomy
    from feecheck.services.demo import build_demo

    schema.upgrade(fresh_engine)
    with Session(fresh_engine) as session:
        build_demo(session, load_taxonomy(ROOT / "rules"))
        session.commit()
    url = fresh_engine.url.render_as_string(hide_password=False)
    command.downgrade(schema.alembic_config(url=url), "0003")
    command.upgrade(schema.alembic_config(url=url), "head")
    with fresh_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM charges")).scalar() > 7000
    assert _differences(fresh_engine) == []


def test_the_claims_of_stored_findings_are_filled_in_as_a_check_stores_them(
    fresh_engine: Engine,
) -> None:
    """Migration 0012 copies each stored finding's money claim out of its evidence, as a check
    writes it for a new finding (services/ledger.claim)."""
    from datetime import date

    from sqlalchemy.orm import Session

    from feecheck.config import ROOT
    from feecheck.domain.periods import Period
    from feecheck.services.checking import Scope, run_check
    from feecheck.services.demo import build_demo
    from feecheck.services.rules import cached

    schema.upgrade(fresh_engine)
    ruleset = cached(ROOT / "rules")
    with Session(fresh_engine) as session:
        build_demo(session, ruleset.taxonomy)
        run_check(session, ruleset, Scope(Period(2025, 9), Period(2026, 8)), date(2026, 11, 23))
        session.commit()
    claims = "SELECT id, claim_receipt, claim_amount FROM findings ORDER BY id"
    with fresh_engine.connect() as connection:
        stored = connection.execute(text(claims)).all()
    assert sum(1 for _id, receipt, _amount in stored if receipt) >= 20
    schema.downgrade(fresh_engine, "0011")
    schema.upgrade(fresh_engine)
    with fresh_engine.connect() as connection:
        assert connection.execute(text(claims)).all() == stored
