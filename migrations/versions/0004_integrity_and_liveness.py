"""integrity and liveness

- a charge's or an absence's child, and a refund's charge, are in the same kindergarten
  (composite foreign keys on (child_id, kindergarten_id) and (charge_id, kindergarten_id));
- import batches record the process running them (worker, heartbeat_at), so a batch left
  running by a dead process can be marked failed;
- the audit log and the findings' history are append-only against ordinary SQL too: SQLite
  refuses INSERT OR REPLACE over an existing entry, PostgreSQL refuses TRUNCATE.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 04:58:44.007939
"""
from alembic import op
import sqlalchemy as sa
import feecheck.models.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit_log", "finding_events")


def upgrade() -> None:
    with op.batch_alter_table('children', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_children_id_kindergarten_id'), ['id', 'kindergarten_id'])

    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_charges_id_kindergarten_id'), ['id', 'kindergarten_id'])
        batch_op.drop_constraint(batch_op.f('fk_charges_child_id_children'), type_='foreignkey')
        batch_op.create_foreign_key('fk_charges_child_in_kindergarten', 'children', ['child_id', 'kindergarten_id'], ['id', 'kindergarten_id'])

    with op.batch_alter_table('absences', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_absences_child_id_children'), type_='foreignkey')
        batch_op.create_foreign_key('fk_absences_child_in_kindergarten', 'children', ['child_id', 'kindergarten_id'], ['id', 'kindergarten_id'])

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_refunds_charge_id_charges'), type_='foreignkey')
        batch_op.create_foreign_key('fk_refunds_charge_in_kindergarten', 'charges', ['charge_id', 'kindergarten_id'], ['id', 'kindergarten_id'])

    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('worker', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))

    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()

    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('worker')

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint('fk_refunds_charge_in_kindergarten', type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_refunds_charge_id_charges'), 'charges', ['charge_id'], ['id'])

    with op.batch_alter_table('absences', schema=None) as batch_op:
        batch_op.drop_constraint('fk_absences_child_in_kindergarten', type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_absences_child_id_children'), 'children', ['child_id'], ['id'])

    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_constraint('fk_charges_child_in_kindergarten', type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_charges_child_id_children'), 'children', ['child_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('uq_charges_id_kindergarten_id'), type_='unique')

    with op.batch_alter_table('children', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_children_id_kindergarten_id'), type_='unique')


def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # 0001 refuses UPDATE and DELETE on the audit log; INSERT OR REPLACE deletes the old row
        # without firing a DELETE trigger, so refuse an insert that reuses an existing id.
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
                f"WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id) "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER finding_events_no_{event.lower()} BEFORE {event} "
                "ON finding_events BEGIN SELECT RAISE(ABORT, 'finding_events is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION feecheck_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION feecheck_append_only()"
        )
        op.execute(
            "CREATE TRIGGER finding_events_append_only BEFORE UPDATE OR DELETE ON finding_events "
            "FOR EACH ROW EXECUTE FUNCTION feecheck_append_only()"
        )
        op.execute(
            "CREATE TRIGGER finding_events_no_truncate BEFORE TRUNCATE ON finding_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION feecheck_append_only()"
        )


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
        op.execute("DROP TRIGGER IF EXISTS finding_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS finding_events_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS finding_events_append_only ON finding_events")
        op.execute("DROP TRIGGER IF EXISTS finding_events_no_truncate ON finding_events")
        op.execute("DROP FUNCTION IF EXISTS feecheck_append_only()")
