"""The refund-due ledger: what each kindergarten owes families, per receipt, until it is paid back.

Reports, notices, dashboards and `feecheck ledger` all count money this one way.

One item per receipt (a charge, so one child) that some finding orders partly or wholly returned
(`refund_due` in its evidence). Its figures:

- **due**: the findings' claims on the receipt, netted so that the same money is never claimed
  twice (the netting rule, also in the README):
  1. a claim on the whole receipt (a prohibited item, accommodation charged to a non-boarder, or
     any claim as large as the receipt) makes the whole receipt due;
  2. claims on slices of time (meal-fee settlement of one month, the refund owed after a child
     left) concern different days of the receipt: they add up;
  3. any other claim (the excess over a standard, the part of a free final year that was charged)
     is a share of every day's money: it applies to what the slices have not already returned,
     so shares and slices combine as `amount × (1 − (1 − slices/amount) × Π(1 − share/amount))`;
  4. the result is rounded half-up to the fen and never exceeds the receipt's amount.
- **refunded**: the refunds recorded against the receipt up to the as-of date, counted up to due;
- **outstanding**: due − refunded, never below 0;
- **state**: `settled` (nothing outstanding), `overdue` (a notice demanded it, its deadline has
  passed at the as-of date and money is outstanding), `partly_refunded`, or `owed`.

Which findings claim: open, acknowledged and rectified ones. A dismissed finding claims nothing.
A finding a re-check resolved keeps its claim only as far as refunds paid it (the check stops
finding a refund shortfall once the refund is recorded; the item then reads `settled`), never
further (a finding resolved because its records were corrected orders nothing more):
due = max(due of the standing claims, min(due of all claims, due of the standing ones + refunded)).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, func, select, type_coerce
from sqlalchemy.orm import Session

from feecheck.domain.money import money
from feecheck.models import Charge, Child, Finding, Kindergarten, Notice, NoticeFinding, Refund
from feecheck.services.exporting import XlsxWriter

ZERO = Decimal("0.00")
ORDERING = ("open", "acknowledged", "rectified")  # statuses whose refunds stand
HISTORY = ("resolved",)  # resolved claims count as far as refunds paid them
WHOLE_RULES = frozenset({"FEE-PROHIBITED-ITEM", "ACCOMMODATION-NON-BOARDER"})
SLICE_RULES = frozenset({"MEAL-SETTLEMENT", "REFUND-ON-WITHDRAWAL"})
STATES = ("overdue", "owed", "partly_refunded", "settled")  # also the order lists show them in
CHUNK = 500


@dataclass(frozen=True)
class Claim:
    finding_id: int
    rule_id: str
    status: str
    amount: Decimal  # the gross refund the finding orders

    @property
    def standing(self) -> bool:
        return self.status in ORDERING


@dataclass
class ReceiptDue:
    kindergarten_id: int
    receipt_no: str
    child_ref: str
    charge_amount: Decimal
    claims: list[Claim] = field(default_factory=list)
    refunded: Decimal = ZERO  # every refund on the receipt up to the as-of date
    refund_nos: list[str] = field(default_factory=list)
    kindergarten_code: str = ""
    notice_id: int | None = None
    notice_no: str | None = None
    deadline: date | None = None
    as_of: date | None = None

    @property
    def rule_ids(self) -> list[str]:
        return sorted({c.rule_id for c in self.claims})

    @property
    def finding_ids(self) -> list[int]:
        return [c.finding_id for c in self.claims]

    _due: Decimal | None = field(default=None, repr=False, compare=False)

    @property
    def due(self) -> Decimal:  # claims and refunds are set when the item is made
        if self._due is None:
            self._due = self._net()
        return self._due

    def _net(self) -> Decimal:
        return receipt_due(self.charge_amount, self.claims, self.refunded)

    @property
    def refunded_towards(self) -> Decimal:
        return min(self.refunded, self.due)

    @property
    def outstanding(self) -> Decimal:
        return self.due - self.refunded_towards

    @property
    def state(self) -> str:
        if self.outstanding <= ZERO:
            return "settled"
        if self.deadline is not None and self.as_of is not None and self.as_of > self.deadline:
            return "overdue"
        return "partly_refunded" if self.refunded_towards > ZERO else "owed"


def receipt_due(amount: Decimal, claims: list[Claim], refunded: Decimal) -> Decimal:
    """What is due on a receipt of `amount`: its standing claims netted, and its resolved ones as
    far as `refunded` (the refunds up to the as-of date) paid them (the module's doc)."""
    standing_claims = [c for c in claims if c.standing]
    standing = net_due(amount, standing_claims)
    if len(standing_claims) == len(claims):
        return standing
    everything = net_due(amount, claims)
    return max(standing, min(everything, standing + refunded))


def net_due(amount: Decimal, claims: Iterable[Claim]) -> Decimal:
    """The money the claims order returned from one receipt of `amount` (the netting rule)."""
    claims = list(claims)
    if not claims or amount <= ZERO:
        return ZERO
    if len(claims) == 1:  # amount × (1 − (1 − claim/amount)), rounded: the claim (in fen) itself
        c = claims[0]
        whole = c.rule_id in WHOLE_RULES or c.amount >= amount
        return money(amount) if whole else money(c.amount)
    if any(c.rule_id in WHOLE_RULES or c.amount >= amount for c in claims):
        return money(amount)
    slices = sum((c.amount for c in claims if c.rule_id in SLICE_RULES), ZERO)
    kept = 1 - min(slices / amount, Decimal(1))
    shares: dict[str, Decimal] = {}
    for c in claims:
        if c.rule_id not in SLICE_RULES:
            shares[c.rule_id] = shares.get(c.rule_id, ZERO) + c.amount
    for share in shares.values():
        kept *= 1 - min(share / amount, Decimal(1))
    return min(money(amount * (1 - kept)), money(amount))


def claim(
    amount_due: Decimal | None, evidence: dict[str, Any] | None
) -> tuple[str, Decimal] | None:
    """(receipt, gross refund ordered) of a finding that orders money back, else None: read from
    its evidence once, when it is stored (findings.store_findings: `claim_receipt`,
    `claim_amount`). The receipt is the evidence's `receipt`, else the first of its `charges`;
    the gross refund its `refund_due` (a shortfall finding's amount_due nets refunds made by its
    date), else its amount_due."""
    if amount_due is None:
        return None
    evidence = evidence or {}
    receipt = evidence.get("receipt") or next(iter(evidence.get("charges") or []), None)
    if not receipt:
        return None
    try:
        gross = Decimal(str(evidence["refund_due"])) if "refund_due" in evidence else None
    except (InvalidOperation, ValueError):
        gross = None
    return str(receipt), money(gross if gross is not None and gross.is_finite() else amount_due)


def claimed(finding: Any) -> tuple[str, Decimal] | None:
    """The stored claim of a finding (or a row with its claim columns), else None."""
    if finding.claim_receipt is None or finding.claim_amount is None:
        return None
    return finding.claim_receipt, finding.claim_amount


def receipts_due(
    session: Session, findings: Iterable[Any], as_of: date, *, with_notices: bool = False
) -> list[ReceiptDue]:
    """The money the findings order returned, per receipt, with refunds up to `as_of`.

    `findings` are Findings or rows with the attributes `claimed` reads (id, kindergarten_id,
    rule_id, status, claim_receipt, claim_amount). Findings of other statuses than ORDERING and
    HISTORY are ignored; items left with nothing due are dropped. `with_notices` looks up the
    newest notice that covered each item.
    """
    claims: dict[tuple[int, str], list[Claim]] = {}
    for finding in findings:
        if finding.status not in ORDERING + HISTORY:
            continue
        found = claimed(finding)
        if found is not None:
            claim = Claim(finding.id, finding.rule_id, finding.status, found[1])
            claims.setdefault((finding.kindergarten_id, found[0]), []).append(claim)
    if not claims:
        return []
    keys = sorted(claims)
    charges: dict[tuple[int, str], tuple[int, Decimal, str, str]] = {}
    for start in range(0, len(keys), CHUNK):
        # two plain IN lists, not a row-value IN: SQLite uses the (kindergarten_id, receipt_no)
        # index for these and scans every charge for a row-value list; keys are sorted, so a
        # chunk spans few kindergartens and the rows it over-selects are few
        chunk = keys[start : start + CHUNK]
        for kg_id, receipt, charge_id, amount, child_ref, code in session.execute(
            select(
                Charge.kindergarten_id,
                Charge.receipt_no,
                Charge.id,
                Charge.amount,
                Child.child_ref,
                Kindergarten.code,
            )
            .join(Child, Child.id == Charge.child_id)
            .join(Kindergarten, Kindergarten.id == Charge.kindergarten_id)
            .where(
                Charge.kindergarten_id.in_({k for k, _ in chunk}),
                Charge.receipt_no.in_({r for _, r in chunk}),
            )
        ):
            if (kg_id, receipt) in claims:
                charges[(kg_id, receipt)] = (charge_id, amount, child_ref, code)
    refunds: dict[int, list[tuple[str, Decimal]]] = {}
    ids = [c[0] for c in charges.values()]
    for start in range(0, len(ids), CHUNK):
        for charge_id, refund_no, amount in session.execute(
            select(Refund.charge_id, Refund.refund_no, Refund.amount)
            .where(Refund.charge_id.in_(ids[start : start + CHUNK]), Refund.refunded_on <= as_of)
            .order_by(Refund.refunded_on, Refund.refund_no)
        ):
            refunds.setdefault(charge_id, []).append((refund_no, amount))
    items = []
    for key in sorted(claims):
        charge = charges.get(key)
        if charge is None:  # the charge was deleted since: nothing left to refund against
            continue
        charge_id, amount, child_ref, code = charge
        paid = refunds.get(charge_id, [])
        item = ReceiptDue(
            key[0],
            key[1],
            child_ref,
            amount,
            sorted(claims[key], key=lambda c: c.finding_id),
            sum((a for _, a in paid), ZERO),
            [no for no, _ in paid],
            code,
            as_of=as_of,
        )
        if item.due > ZERO:
            items.append(item)
    if with_notices:
        _attach_notices(session, items)
    return items


def _attach_notices(session: Session, items: list[ReceiptDue]) -> None:
    """Each item's newest notice among those covering its findings (number and deadline)."""
    by_finding: dict[int, list[ReceiptDue]] = {}
    for item in items:
        for finding_id in item.finding_ids:
            by_finding.setdefault(finding_id, []).append(item)
    ids = list(by_finding)
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(NoticeFinding.finding_id, Notice.id, Notice.number, Notice.deadline)
            .join(Notice, Notice.id == NoticeFinding.notice_id)
            .where(NoticeFinding.finding_id.in_(ids[start : start + CHUNK]))
            .order_by(Notice.issued_on, Notice.id)
        )
        for finding_id, notice_id, number, deadline in rows:
            for item in by_finding[finding_id]:
                if item.notice_id is None or notice_id > item.notice_id:
                    item.notice_id, item.notice_no, item.deadline = notice_id, number, deadline


def _findings(session: Session, conditions: Iterable[Any]) -> Iterable[Any]:
    """The claiming findings' columns as plain rows (no ORM object per finding), for the findings
    matching `conditions` (SQL conditions on Finding and Kindergarten)."""
    return session.execute(
        select(
            Finding.id,
            Finding.kindergarten_id,
            Finding.rule_id,
            Finding.status,
            Finding.claim_receipt,
            Finding.claim_amount,
        )
        .join(Kindergarten, Kindergarten.id == Finding.kindergarten_id)
        .where(
            Finding.claim_receipt.is_not(None),
            Finding.status.in_(ORDERING + HISTORY),
            *conditions,
        )
    )


@dataclass
class ReceiptTotals:
    due: Decimal = ZERO
    refunded: Decimal = ZERO

    @property
    def outstanding(self) -> Decimal:
        return self.due - self.refunded

    def add(self, item: ReceiptDue) -> None:
        self.due += item.due
        self.refunded += item.refunded_towards


def owed(
    session: Session, conditions: Iterable[Any] | Select[Any], as_of: date
) -> dict[int, ReceiptTotals]:
    """Due, refunded and outstanding per kindergarten, for the findings matching `conditions`
    (SQL conditions on Finding and Kindergarten, or a select() over Finding joined to
    Kindergarten, such as the findings list's), counted per receipt as above.

    For the dashboard's and the findings list's totals over a region's tens of thousands of
    findings, in one query: the claiming findings' claim columns (from the ix_findings_claims
    index, not the wide rows), each with its charge's amount and refunds up to `as_of`; the
    netting is receipt_due's, as for every item.
    """
    if not isinstance(conditions, Select):
        conditions = (
            select(Finding)
            .join(Kindergarten, Kindergarten.id == Finding.kindergarten_id)
            .where(*conditions)
        )
    # the claim's charge, and its refunds up to as_of, looked up by its receipt for each claiming
    # finding (correlated subqueries: an index probe per finding on both databases, where a join
    # let PostgreSQL hash all the charges and SQLite probe charges before the region's filter)
    of_claim = (Charge.kindergarten_id == Finding.kindergarten_id) & (
        Charge.receipt_no == Finding.claim_receipt
    )
    amount = select(Charge.amount).where(of_claim).scalar_subquery()
    refunded = (
        select(func.coalesce(func.sum(Refund.amount), 0))
        .join(Charge, Charge.id == Refund.charge_id)
        .where(of_claim, Refund.refunded_on <= as_of)
        .scalar_subquery()
    )
    statement = conditions.with_only_columns(
        Finding.id,
        Finding.kindergarten_id,
        Finding.rule_id,
        Finding.status,
        Finding.claim_receipt,
        Finding.claim_amount,
        type_coerce(amount, Charge.amount.type),
        type_coerce(refunded, Refund.amount.type),
    ).where(Finding.claim_receipt.is_not(None), Finding.status.in_(ORDERING + HISTORY))
    receipts: dict[tuple[int, str], tuple[Decimal, Decimal, list[Claim]]] = {}
    rows = session.connection().execute(statement)  # plain rows: no ORM layer per row
    for finding_id, kg_id, rule_id, status, receipt, gross, amount, paid in rows:
        if amount is None:  # the charge was deleted since: nothing left to refund against
            continue
        found = receipts.get((kg_id, receipt))
        if found is None:
            found = receipts[(kg_id, receipt)] = (amount, paid, [])
        found[2].append(Claim(finding_id, rule_id, status, gross))
    totals: dict[int, ReceiptTotals] = {}
    for (kg_id, _receipt), (amount, paid, claims) in receipts.items():
        due = receipt_due(amount, claims, paid)
        if due > ZERO:
            total = totals.get(kg_id) or totals.setdefault(kg_id, ReceiptTotals())
            total.due += due
            total.refunded += min(paid, due)
    return totals


@dataclass
class Ledger:
    as_of: date
    items: list[ReceiptDue]
    totals: ReceiptTotals

    def by_state(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for item in self.items:
            counts[item.state] += 1
        return counts

    def as_json(self) -> dict[str, Any]:
        """The contract of `feecheck ledger --format json` (spec §3): amounts as strings."""
        return {
            "as_of": self.as_of.isoformat(),
            "items": [row(item) for item in self.items],
            "totals": {
                "due": f"{self.totals.due:.2f}",
                "refunded": f"{self.totals.refunded:.2f}",
                "outstanding": f"{self.totals.outstanding:.2f}",
            },
        }


COLUMNS = (
    "kindergarten_code",
    "child_ref",
    "receipt_no",
    "rule_ids",
    "due",
    "refunded",
    "outstanding",
    "state",
    "notice_no",
    "deadline",
)


def row(item: ReceiptDue) -> dict[str, Any]:
    return {
        "kindergarten_code": item.kindergarten_code,
        "child_ref": item.child_ref,
        "receipt_no": item.receipt_no,
        "rule_ids": item.rule_ids,
        "due": f"{item.due:.2f}",
        "refunded": f"{item.refunded_towards:.2f}",
        "outstanding": f"{item.outstanding:.2f}",
        "state": item.state,
        "notice_no": item.notice_no,
        "deadline": item.deadline.isoformat() if item.deadline else None,
    }


def build_ledger(
    session: Session, conditions: Iterable[Any], as_of: date, *, state: str | None = None
) -> Ledger:
    """The ledger of the findings matching `conditions`: overdue items first, then by
    kindergarten and receipt; `state` keeps one state's items (totals follow the filter)."""
    items = receipts_due(session, _findings(session, conditions), as_of, with_notices=True)
    if state:
        items = [i for i in items if i.state == state]
    items.sort(key=lambda i: (i.state != "overdue", i.kindergarten_code, i.receipt_no))
    totals = ReceiptTotals()
    for item in items:
        totals.add(item)
    return Ledger(as_of, items, totals)


def table(book: Ledger, typed: bool = False) -> list[list[Any]]:
    """The items as rows of COLUMNS (rule ids joined by spaces, None as ""), for CSV; `typed`
    for a workbook: the amounts as Decimal, the deadline a date (None when there is none)."""
    rows = []
    for item in book.items:
        values = row(item)
        values["rule_ids"] = " ".join(values["rule_ids"])
        if typed:
            values.update(
                due=money(item.due),
                refunded=money(item.refunded_towards),
                outstanding=money(item.outstanding),
                deadline=item.deadline,
            )
            rows.append([values[c] for c in COLUMNS])
        else:
            rows.append(["" if values[c] is None else values[c] for c in COLUMNS])
    return rows


TOTALS_COLUMNS = ("as_of", "kindergarten_code", "items", "due", "refunded", "outstanding")
TOTAL_ROW = "合计 / total"


def totals_table(book: Ledger) -> list[list[Any]]:
    """Due, refunded and outstanding per kindergarten, then the ledger's totals (the figures
    of the text and JSON formats), typed for a workbook."""
    per: dict[str, tuple[int, ReceiptTotals]] = {}
    for item in book.items:
        count, totals = per.get(item.kindergarten_code) or (0, ReceiptTotals())
        totals.add(item)
        per[item.kindergarten_code] = (count + 1, totals)
    rows: list[list[Any]] = [
        [book.as_of, code, count, money(t.due), money(t.refunded), money(t.outstanding)]
        for code, (count, t) in sorted(per.items())
    ]
    total = book.totals
    rows.append(
        [
            book.as_of,
            TOTAL_ROW,
            len(book.items),
            money(total.due),
            money(total.refunded),
            money(total.outstanding),
        ]
    )
    return rows


def xlsx(book: Ledger) -> bytes:
    """The ledger as a workbook: the items (COLUMNS, typed), then the totals per kindergarten
    and for the whole ledger."""
    writer = XlsxWriter()
    writer.write_sheet("ledger", list(COLUMNS), table(book, typed=True))
    writer.write_sheet("totals", list(TOTALS_COLUMNS), totals_table(book))
    return writer.to_bytes()
