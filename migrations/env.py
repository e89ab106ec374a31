"""Alembic environment: the URL or an open connection comes from feecheck.services.schema."""

from __future__ import annotations

from alembic import context

from feecheck.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # a URL (the README's maintainer commands): as feecheck init does
        from feecheck.models.session import make_engine
        from feecheck.services.schema import migrate

        engine = make_engine(config.get_main_option("sqlalchemy.url"))
        migrate(engine, _run)
        engine.dispose()
    else:
        _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
