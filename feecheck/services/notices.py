"""Notices to correct (整改通知书): issue one for a kindergarten's open violations of a range of
months, number it for its issuing office and year, record it on the findings it covers, and
give back the document pdf/notice.py renders.

Numbers: `{prefix}〔{year}〕{seq}号` (海教收整〔2026〕12号), the sequence per prefix and year, taken
under a write lock; a notice is never deleted or renumbered (database triggers), so a number is
never reused. The notice keeps what it said (its violations, its refund items, its dates), so
printing it again later gives the same document.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feecheck.domain.money import money
from feecheck.domain.periods import Period
from feecheck.domain.reasons import Refused
from feecheck.engine.specs import Ruleset
from feecheck.models import (
    Finding,
    FindingEvent,
    Inspection,
    Kindergarten,
    Notice,
    NoticeFinding,
    User,
)
from feecheck.pdf import notice as pdf_notice
from feecheck.pdf.documents import FindingLine, Inspector, NoticeDocument, RefundItem
from feecheck.services import audit, ledger
from feecheck.services.audit import Actor
from feecheck.services.checking import Scope, run_check
from feecheck.services.locks import begin_write
from feecheck.services.offices import office_for
from feecheck.services.reports import finding_line
from feecheck.services.scope import NotFound, visible

NOTICES = "notices"  # the lock under which numbers are taken
MAX_MONTHS = 24
REQUIREMENTS = (
    "加盖本园公章的整改情况报告（逐项说明整改措施和完成情况）",
    "向幼儿家长退还费用的凭证（退费清单、银行转账记录或家长签收的退费单据）",
    "整改后重新公示的收费项目、标准和依据（公示照片或网页截图）",
)


class NoticeRefused(Refused):
    """A notice cannot be issued as asked; the reason says why and what to do."""


def number_text(prefix: str, year: int, seq: int) -> str:
    return f"{prefix}〔{year}〕{seq}号"


def issue_notice(
    session: Session,
    user: User | None,
    ruleset: Ruleset,
    code: str,
    period_from: Period,
    period_to: Period,
    issued_on: date,
    inspectors: list[Inspector],
    offices_file: Path | None = None,
    check: bool = True,
) -> tuple[Notice, NoticeDocument]:
    """Issue a numbered notice for the kindergarten's open or acknowledged violations of the
    months (checked first); the caller commits. Refused when there is nothing to correct."""
    if period_to < period_from or len(period_from.until(period_to)) > MAX_MONTHS:
        raise NoticeRefused(
            f"give a range of at most {MAX_MONTHS} months, the first one first",
            f"请给出至多 {MAX_MONTHS} 个月的范围，先早后晚",
        )
    if len(inspectors) > 2:
        raise NoticeRefused("a notice has two inspectors at most", "通知书至多列两名检查人员")
    statement = select(Kindergarten).where(Kindergarten.code == code)
    if user is not None:
        statement = statement.where(visible(user))
    kg = session.scalar(statement)
    if kg is None:
        raise NotFound(code)
    if check:
        run_check(
            session,
            ruleset,
            Scope(period_from, period_to, kindergarten_code=kg.code),
            issued_on,
            user=user,
        )
        session.commit()
    periods = [str(p) for p in period_from.until(period_to)]
    violations = list(
        session.scalars(
            select(Finding)
            .where(
                Finding.kindergarten_id == kg.id,
                Finding.period.in_(periods),
                Finding.severity == "violation",
                Finding.status.in_(("open", "acknowledged")),
            )
            .order_by(Finding.period, Finding.rule_id, Finding.id)
        )
    )
    if not violations:
        raise NoticeRefused(
            f"{kg.code} has no open violation in {period_from}–{period_to}: there is nothing to "
            "correct (a check of those months found none, or they were resolved or dismissed)",
            f"{kg.name}（{kg.code}）在 {period_from} 至 {period_to} 没有待处理的违规，"
            "无需下发整改通知",
        )
    office = office_for(kg.region_code, offices_file)
    items = ledger.receipts_due(session, violations, issued_on)
    refunds = tuple(
        RefundItem(
            i.child_ref, i.receipt_no, "、".join(sorted(i.rule_ids)), i.due, i.refunded_towards
        )
        for i in items
    )
    inspected = tuple(
        session.scalars(
            select(Inspection.inspected_on)
            .where(
                Inspection.kindergarten_id == kg.id,
                Inspection.inspected_on.between(period_from.first_day, period_to.last_day),
            )
            .order_by(Inspection.inspected_on)
        )
    )
    deadline = issued_on + timedelta(days=office.deadline_days)
    begin_write(session, NOTICES)
    year = issued_on.year
    seq = (
        session.scalar(
            select(func.max(Notice.seq)).where(Notice.prefix == office.prefix, Notice.year == year)
        )
        or 0
    ) + 1
    number = number_text(office.prefix, year, seq)
    document = NoticeDocument(
        number=number,
        office=office.name,
        kindergarten_name=kg.name,
        kindergarten_code=kg.code,
        period_from=str(period_from),
        period_to=str(period_to),
        inspection_dates=inspected,
        issued_on=issued_on,
        deadline=deadline,
        deadline_days=office.deadline_days,
        violations=tuple(finding_line(ruleset, f) for f in violations),
        refunds=refunds,
        inspectors=tuple(inspectors),
        requirements=REQUIREMENTS,
    )
    notice = Notice(
        number=number,
        prefix=office.prefix,
        year=year,
        seq=seq,
        office=office.name,
        kindergarten_id=kg.id,
        period_from=str(period_from),
        period_to=str(period_to),
        issued_on=issued_on,
        deadline=deadline,
        inspectors=[asdict(i) for i in inspectors],
        refunds_due=money(document.refunds_due),
        document=_snapshot(document),
        user_id=user.id if user else None,
    )
    session.add(notice)
    session.flush()
    due = {fid: i.due for i in items for fid in i.finding_ids}
    session.add_all(
        NoticeFinding(notice_id=notice.id, finding_id=f.id, amount_due=due.get(f.id))
        for f in violations
    )
    actor = Actor.of(user, "notice")
    note = f"整改通知书 {number} 已下发，整改期限至 {deadline} / notice {number}, due {deadline}"
    session.add_all(
        FindingEvent(
            finding_id=f.id,
            from_status=f.status,
            to_status=f.status,
            user_id=actor.user_id,
            actor=actor.name,
            note=note,
        )
        for f in violations
    )
    audit.record(
        session,
        actor,
        [
            audit.Change(
                "issue",
                "notices",
                number,
                None,
                {
                    "kindergarten": kg.code,
                    "period_from": str(period_from),
                    "period_to": str(period_to),
                    "issued_on": issued_on,
                    "deadline": deadline,
                    "findings": [f.id for f in violations],
                    "refunds_due": document.refunds_due,
                },
            )
        ],
    )
    return notice, document


def notice_pdf(document: NoticeDocument) -> bytes:
    """The notice's PDF (pdf/notice.py)."""
    return pdf_notice.notice_pdf(document)


def get_notice(session: Session, user: User | None, notice_id: int) -> Notice:
    statement = (
        select(Notice)
        .join(Kindergarten, Kindergarten.id == Notice.kindergarten_id)
        .where(Notice.id == notice_id)
    )
    if user is not None:
        statement = statement.where(visible(user))
    notice = session.scalar(statement)
    if notice is None:
        raise NotFound(notice_id)
    return notice


def notices_of(session: Session, user: User | None, kindergarten_id: int) -> list[Notice]:
    statement = (
        select(Notice)
        .join(Kindergarten, Kindergarten.id == Notice.kindergarten_id)
        .where(Notice.kindergarten_id == kindergarten_id)
        .order_by(Notice.id.desc())
    )
    if user is not None:
        statement = statement.where(visible(user))
    return list(session.scalars(statement))


def document_of(notice: Notice) -> NoticeDocument:
    """The notice as it was issued (from what it kept), to print it again."""
    data = notice.document
    return NoticeDocument(
        number=data["number"],
        office=data["office"],
        kindergarten_name=data["kindergarten_name"],
        kindergarten_code=data["kindergarten_code"],
        period_from=data["period_from"],
        period_to=data["period_to"],
        inspection_dates=tuple(date.fromisoformat(d) for d in data["inspection_dates"]),
        issued_on=date.fromisoformat(data["issued_on"]),
        deadline=date.fromisoformat(data["deadline"]),
        deadline_days=int(data["deadline_days"]),
        violations=tuple(
            FindingLine(
                **{
                    **v,
                    "receipts": tuple(v["receipts"]),
                    "amount_due": _decimal(v["amount_due"]),
                }
            )
            for v in data["violations"]
        ),
        refunds=tuple(
            RefundItem(
                r["child_ref"],
                r["receipt_no"],
                r["rule_id"],
                Decimal(r["due"]),
                Decimal(r["refunded"]),
            )
            for r in data["refunds"]
        ),
        inspectors=tuple(Inspector(i["name"], i["certificate"]) for i in data["inspectors"]),
        requirements=tuple(data["requirements"]),
    )


def _snapshot(document: NoticeDocument) -> dict[str, Any]:
    return audit.jsonable(asdict(document))  # type: ignore[no-any-return]


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
