"""notice follow-ups

Follow-up inspections (复查) of notices, and a notice's closing (销号): closed_on and closed_by (the user's name;
the audit log has the id: SQLite cannot add a foreign key in place).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("followed_up_on", sa.Date(), nullable=False),
        sa.Column("inspector", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_notice_follow_ups_notice_id_notices")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notice_follow_ups_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_follow_ups")),
        sa.CheckConstraint(
            "outcome IN ('rectified', 'partly', 'not_rectified')",
            name=op.f("ck_notice_follow_ups_outcome_enum"),
        ),
    )
    with op.batch_alter_table("notice_follow_ups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notice_follow_ups_notice_id"), ["notice_id"], unique=False
        )
    op.add_column("notices", sa.Column("closed_on", sa.Date(), nullable=True))
    op.add_column("notices", sa.Column("closed_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("notices", "closed_by")
    op.drop_column("notices", "closed_on")
    with op.batch_alter_table("notice_follow_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_follow_ups_notice_id"))
    op.drop_table("notice_follow_ups")
