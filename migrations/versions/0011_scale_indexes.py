"""scale indexes

A covering index on findings for the findings list's and the dashboard's counts (GROUP BY status,
severity, rule; the live filter): with ~50,000 findings they read the index alone instead of every
finding's row with its JSON evidence (SQLite: 153 ms -> 10 ms for the counts of every district).

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_findings_status_counts",
            ["status", "severity", "rule_id", "period", "kindergarten_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_status_counts")
