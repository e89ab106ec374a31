"""Following a notice to correct up (整改复查) until it is closed (销号), and the refund ledger as
the people who follow it see it.

- A follow-up inspection is recorded against a notice: date, inspector, outcome, notes.
- A notice is closed only when every violation it covers is rectified, resolved (a re-check no
  longer finds it) or dismissed, and every refund it demanded is settled; closing is a
  supervisor's (or an admin's) decision, made with a follow-up whose outcome is `rectified`.
- A notice reads `issued`, `overdue` (past its deadline and not closed) or `closed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from feecheck.domain.categories import FollowUpOutcome, RefundState
from feecheck.domain.reasons import Refused
from feecheck.domain.regions import scope_prefix, validate_region_code
from feecheck.models import Finding, Kindergarten, Notice, NoticeFinding, NoticeFollowUp, User
from feecheck.services import audit, ledger
from feecheck.services.notices import get_notice
from feecheck.services.scope import SUPERVISING, Forbidden, NotFound, require_region, visible

STILL_TO_CORRECT = ("open", "acknowledged")
MAX_NOTES = 2000
MAX_INSPECTOR = 100


class FollowUpRefused(Refused):
    """A follow-up or a closing cannot be recorded as asked; the reason says why."""


def status_of(notice: Notice, as_of: date) -> str:
    """`closed`, `overdue` (past its deadline at `as_of`, not closed) or `issued`."""
    if notice.closed_on is not None:
        return "closed"
    return "overdue" if as_of > notice.deadline else "issued"


@dataclass
class NoticeState:
    notice: Notice
    kindergarten: Kindergarten
    findings: list[Finding]
    items: list[ledger.ReceiptDue]
    follow_ups: list[NoticeFollowUp]
    as_of: date

    @property
    def status(self) -> str:
        return status_of(self.notice, self.as_of)

    @property
    def to_correct(self) -> list[Finding]:
        return [f for f in self.findings if f.status in STILL_TO_CORRECT]

    @property
    def unsettled(self) -> list[ledger.ReceiptDue]:
        return [i for i in self.items if i.state != RefundState.SETTLED]

    @property
    def totals(self) -> ledger.ReceiptTotals:
        totals = ledger.ReceiptTotals()
        for item in self.items:
            totals.add(item)
        return totals

    def why_not_closable(self) -> list[tuple[str, str]]:
        """(English, Chinese) reasons the notice cannot be closed yet; empty when it can."""
        reasons = []
        if self.to_correct:
            ids = ", ".join(f"#{f.id} {f.rule_id}" for f in self.to_correct[:5])
            more = "…" if len(self.to_correct) > 5 else ""
            reasons.append(
                (
                    f"{len(self.to_correct)} violation(s) not yet rectified: {ids}{more}",
                    f"尚有 {len(self.to_correct)} 项违规未整改：{ids}{more}",
                )
            )
        if self.unsettled:
            outstanding = sum((i.outstanding for i in self.unsettled), ledger.ZERO)
            receipts = ", ".join(i.receipt_no for i in self.unsettled[:5])
            more = "…" if len(self.unsettled) > 5 else ""
            reasons.append(
                (
                    f"{outstanding:.2f} yuan not yet refunded on {len(self.unsettled)} "
                    f"receipt(s): {receipts}{more}",
                    f"尚有 {outstanding:.2f} 元未退还"
                    f"（{len(self.unsettled)} 张票据：{receipts}{more}）",
                )
            )
        return reasons


def notice_state(session: Session, user: User | None, notice_id: int, as_of: date) -> NoticeState:
    """A notice with what it covers, the ledger of its refunds at `as_of` and its follow-ups."""
    notice = get_notice(session, user, notice_id)
    findings = list(
        session.scalars(
            select(Finding)
            .join(NoticeFinding, NoticeFinding.finding_id == Finding.id)
            .where(NoticeFinding.notice_id == notice.id)
            .order_by(Finding.period, Finding.rule_id, Finding.id)
        )
    )
    items = ledger.receipts_due(session, findings, as_of, with_notices=True)
    follow_ups = list(
        session.scalars(
            select(NoticeFollowUp)
            .where(NoticeFollowUp.notice_id == notice.id)
            .order_by(NoticeFollowUp.followed_up_on, NoticeFollowUp.id)
        )
    )
    kindergarten = session.get(Kindergarten, notice.kindergarten_id)
    assert kindergarten is not None  # a notice's kindergarten is never deleted (foreign key)
    return NoticeState(notice, kindergarten, findings, items, follow_ups, as_of)


def record_follow_up(
    session: Session,
    user: User | None,
    notice_id: int,
    *,
    followed_up_on: date,
    inspector: str,
    outcome: str,
    notes: str | None = None,
    close: bool = False,
    today: date,
) -> NoticeState:
    """Record a follow-up inspection; with `close`, also close the notice (销号) if it may be
    closed, else refuse the whole (nothing recorded). The caller commits."""
    state = notice_state(session, user, notice_id, today)
    notice = state.notice
    inspector = (inspector or "").strip()
    notes = (notes or "").strip() or None
    if notice.closed_on is not None:
        raise FollowUpRefused(
            f"notice {notice.number} was closed on {notice.closed_on}: nothing more to follow up",
            f"通知书 {notice.number} 已于 {notice.closed_on} 销号，无需再复查",
        )
    if not inspector or len(inspector) > MAX_INSPECTOR:
        raise FollowUpRefused(
            f"give the inspector's name (at most {MAX_INSPECTOR} characters)",
            f"请填写复查人员姓名（不超过 {MAX_INSPECTOR} 个字符）",
        )
    if notes is not None and len(notes) > MAX_NOTES:
        raise FollowUpRefused(
            f"notes are at most {MAX_NOTES} characters", f"备注不超过 {MAX_NOTES} 个字符"
        )
    try:
        outcome = FollowUpOutcome.parse(outcome).value
    except ValueError as exc:
        raise FollowUpRefused(str(exc), "复查结论应为：已整改到位、部分整改或未整改") from None
    if not notice.issued_on <= followed_up_on <= today:
        raise FollowUpRefused(
            f"a follow-up of notice {notice.number} is dated between its issue "
            f"({notice.issued_on}) and today ({today}), not {followed_up_on}",
            f"复查日期应在通知书下发（{notice.issued_on}）与今天（{today}）之间，"
            f"而不是 {followed_up_on}",
        )
    if close:
        if user is not None and user.role not in SUPERVISING:
            raise Forbidden(user.role)
        if outcome != FollowUpOutcome.RECTIFIED:
            raise FollowUpRefused(
                "a notice is closed only with a follow-up that found it rectified",
                "只有复查结论为“已整改到位”时才能销号",
            )
        reasons = state.why_not_closable()
        if reasons:
            raise FollowUpRefused(
                f"notice {notice.number} cannot be closed yet: "
                + "; ".join(en for en, _ in reasons),
                f"通知书 {notice.number} 暂不能销号：" + "；".join(zh for _, zh in reasons),
            )
    follow_up = NoticeFollowUp(
        notice_id=notice.id,
        followed_up_on=followed_up_on,
        inspector=inspector,
        outcome=outcome,
        notes=notes,
        user_id=user.id if user else None,
    )
    session.add(follow_up)
    changes = [
        audit.Change(
            "follow_up",
            "notices",
            notice.number,
            after={"followed_up_on": followed_up_on, "inspector": inspector, "outcome": outcome},
            note=notes,
        )
    ]
    if close:
        notice.closed_on = followed_up_on
        notice.closed_by = user.username if user else "system"
        changes.append(
            audit.Change("close", "notices", notice.number, after={"closed_on": followed_up_on})
        )
    audit.record(session, audit.Actor.of(user), changes)
    session.flush()
    state.follow_ups.append(follow_up)
    return state


def overdue_notices(
    session: Session, user: User | None, as_of: date, region_code: str | None = None
) -> list[tuple[Notice, Kindergarten]]:
    """Notices past their deadline and not closed, in the user's region, the oldest first."""
    statement = (
        select(Notice, Kindergarten)
        .join(Kindergarten, Kindergarten.id == Notice.kindergarten_id)
        .where(Notice.closed_on.is_(None), Notice.deadline < as_of)
        .order_by(Notice.deadline, Notice.id)
    )
    if user is not None:
        statement = statement.where(visible(user))
    if region_code:
        statement = statement.where(Kindergarten.region_code.startswith(scope_prefix(region_code)))
    return [(n, k) for n, k in session.execute(statement)]


def ledger_for(
    session: Session,
    user: User | None,
    as_of: date,
    *,
    region_code: str | None = None,
    kindergarten_code: str | None = None,
    state: str | None = None,
) -> tuple[ledger.Ledger, Kindergarten | None]:
    """The refund ledger of a region, a kindergarten or all the user may see."""
    conditions: list[Any] = []
    if user is not None:
        conditions.append(visible(user))
    kindergarten = None
    if region_code:
        region_code = validate_region_code(region_code)
        if user is not None:
            require_region(user, region_code)
        conditions.append(Kindergarten.region_code.startswith(scope_prefix(region_code)))
    if kindergarten_code:
        statement = select(Kindergarten).where(Kindergarten.code == kindergarten_code)
        if user is not None:
            statement = statement.where(visible(user))
        kindergarten = session.scalar(statement)
        if kindergarten is None:
            raise NotFound(kindergarten_code)
        conditions.append(Finding.kindergarten_id == kindergarten.id)
    if state:
        RefundState(state)  # ValueError for an unknown state
    return ledger.build_ledger(session, conditions, as_of, state=state), kindergarten
