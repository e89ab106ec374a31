"""What is owed to families, per receipt: the refunds findings order, what was refunded since,
what is outstanding. Reports, notices (and the refund ledger) all count money this one way.

Per receipt (a charge of one kindergarten):
- due: the refunds the findings on it order (`refund_due` in their evidence: the whole amount of
  a prohibited item, the excess over a standard, the refund owed on leaving, …), added up across
  findings but never more than the receipt's amount (claims on the same money are not added
  twice, and an item never exceeds its receipt);
- refunded: every refund recorded against the receipt up to the as-of date, never more than due;
- outstanding: due − refunded.
Dismissed and resolved findings order nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, load_only

from feecheck.domain.money import money
from feecheck.models import Charge, Child, Finding, Kindergarten, Refund

ZERO = Decimal("0.00")
ORDERING = ("open", "acknowledged", "rectified")  # statuses whose refunds still stand


@dataclass
class ReceiptDue:
    kindergarten_id: int
    receipt_no: str
    child_ref: str
    charge_amount: Decimal
    rule_ids: set[str] = field(default_factory=set)
    finding_ids: list[int] = field(default_factory=list)
    claimed: Decimal = ZERO  # Σ of the findings' refunds, before the cap
    refunded: Decimal = ZERO

    @property
    def due(self) -> Decimal:
        return min(self.claimed, self.charge_amount)

    @property
    def refunded_towards(self) -> Decimal:
        return min(self.refunded, self.due)

    @property
    def outstanding(self) -> Decimal:
        return self.due - self.refunded_towards

    @property
    def state(self) -> str:
        if self.outstanding <= ZERO:
            return "refunded"
        return "partly_refunded" if self.refunded_towards > ZERO else "due"


def claimed(finding: Finding) -> tuple[str, Decimal] | None:
    """(receipt, refund ordered) of a finding that orders money back to a family, else None."""
    if finding.status not in ORDERING or finding.amount_due is None:
        return None
    evidence = finding.evidence or {}
    receipt = evidence.get("receipt") or next(iter(evidence.get("charges") or []), None)
    if not receipt:
        return None
    try:  # the gross refund (a shortfall finding's amount_due nets refunds made by its date)
        gross = Decimal(str(evidence["refund_due"])) if "refund_due" in evidence else None
    except (InvalidOperation, ValueError):
        gross = None
    return str(receipt), money(gross if gross is not None else finding.amount_due)


def receipts_due(session: Session, findings: Iterable[Finding], as_of: date) -> list[ReceiptDue]:
    """The money the findings order returned, per receipt, with refunds up to `as_of`."""
    claims: dict[tuple[int, str], list[tuple[Finding, Decimal]]] = {}
    for finding in findings:
        found = claimed(finding)
        if found is not None:
            claims.setdefault((finding.kindergarten_id, found[0]), []).append((finding, found[1]))
    if not claims:
        return []
    keys = list(claims)
    charges = {}
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        for kg_id, receipt, charge_id, amount, child_ref in session.execute(
            select(
                Charge.kindergarten_id, Charge.receipt_no, Charge.id, Charge.amount, Child.child_ref
            )
            .join(Child, Child.id == Charge.child_id)
            .where(tuple_(Charge.kindergarten_id, Charge.receipt_no).in_(part))
        ):
            charges[(kg_id, receipt)] = (charge_id, amount, child_ref)
    refunded: dict[int, Decimal] = {}
    ids = [c[0] for c in charges.values()]
    for start in range(0, len(ids), 500):
        for charge_id, amount in session.execute(
            select(Refund.charge_id, Refund.amount).where(
                Refund.charge_id.in_(ids[start : start + 500]), Refund.refunded_on <= as_of
            )
        ):
            refunded[charge_id] = refunded.get(charge_id, ZERO) + amount
    items = []
    for (kg_id, receipt), found in sorted(claims.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        charge = charges.get((kg_id, receipt))
        if charge is None:  # the charge was deleted since: nothing left to refund against
            continue
        charge_id, amount, child_ref = charge
        item = ReceiptDue(kg_id, receipt, child_ref, amount, refunded=refunded.get(charge_id, ZERO))
        for finding, gross in sorted(found, key=lambda fg: fg[0].id):
            item.rule_ids.add(finding.rule_id)
            item.finding_ids.append(finding.id)
            item.claimed += gross
        items.append(item)
    return items


def owed(session: Session, conditions: Iterable[Any], as_of: date) -> dict[int, ReceiptTotals]:
    """Due, refunded and outstanding per kindergarten, for the findings matching `conditions`
    (SQL conditions on Finding and Kindergarten), counted per receipt as above."""
    statement = (
        select(Finding)
        .join(Kindergarten, Kindergarten.id == Finding.kindergarten_id)
        .where(Finding.amount_due.is_not(None), Finding.status.in_(ORDERING), *conditions)
        .options(
            load_only(
                Finding.id,
                Finding.kindergarten_id,
                Finding.rule_id,
                Finding.status,
                Finding.amount_due,
                Finding.evidence,
            )
        )
    )
    totals: dict[int, ReceiptTotals] = {}
    for item in receipts_due(session, session.scalars(statement), as_of):
        entry = totals.setdefault(item.kindergarten_id, ReceiptTotals())
        entry.due += item.due
        entry.refunded += item.refunded_towards
    return totals


@dataclass
class ReceiptTotals:
    due: Decimal = ZERO
    refunded: Decimal = ZERO

    @property
    def outstanding(self) -> Decimal:
        return self.due - self.refunded
