"""findings' money claims in columns

`claim_receipt`, `claim_amount`: the receipt a finding orders money back from and the gross
refund it orders, copied out of its evidence when it is stored (services/ledger.claim), with the
partial index `ix_findings_claims`, so the ledger's totals over a region (the dashboard, the
findings list) read narrow index entries instead of the findings' wide rows with their JSON
evidence. Existing findings are filled in here.

Revision ID: 0012
Revises: 0011
"""

import json
from typing import Any
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import sqlalchemy as sa
from alembic import op

from feecheck.models.types import Money

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

CLAIMS = ("kindergarten_id", "status", "severity", "period", "rule_id")


def upgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_receipt", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("claim_amount", Money(precision=12, scale=2), nullable=True)
        )
    _fill_claims()
    op.create_index(
        "ix_findings_claims",
        "findings",
        [*CLAIMS, "claim_receipt", "claim_amount"],
        unique=False,
        sqlite_where=sa.text("claim_receipt IS NOT NULL"),
        postgresql_where=sa.text("claim_receipt IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_findings_claims", table_name="findings")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_column("claim_amount")
        batch_op.drop_column("claim_receipt")


def _fill_claims() -> None:
    """The claim of every stored finding that orders money, as services/ledger.claim reads it at
    this revision (the evidence's `receipt`, else the first of its `charges`; its `refund_due`,
    else the finding's amount_due)."""
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    last = 0
    while True:  # a page of findings at a time: a province holds millions
        rows = bind.execute(
            sa.text(
                "SELECT id, amount_due, evidence FROM findings "
                "WHERE amount_due IS NOT NULL AND id > :last ORDER BY id LIMIT 5000"
            ),
            {"last": last},
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        updates = [_claim(row, sqlite) for row in rows]
        if any(updates):
            bind.execute(
                sa.text(
                    "UPDATE findings SET claim_receipt = :receipt, claim_amount = :amount "
                    "WHERE id = :id"
                ),
                [u for u in updates if u],
            )


def _claim(row: Any, sqlite: bool) -> dict[str, Any] | None:
    finding_id, amount_due, evidence = row
    evidence = json.loads(evidence) if isinstance(evidence, str) else (evidence or {})
    receipt = evidence.get("receipt") or next(iter(evidence.get("charges") or []), None)
    if not receipt:
        return None
    due = Decimal(amount_due) / 100 if sqlite else Decimal(amount_due)
    try:
        gross = Decimal(str(evidence["refund_due"])) if "refund_due" in evidence else None
    except (InvalidOperation, ValueError):
        gross = None
    amount = gross if gross is not None and gross.is_finite() else due
    amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return {"id": finding_id, "receipt": str(receipt), "amount": int(amount * 100) if sqlite else amount}
