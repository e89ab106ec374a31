"""Screens compiled to SQL (engine/screens.py): one query per batch of kindergartens returning
only the charges that pass a screen, as (kindergarten id, day paid, which screens passed).

One pass over the batch's charges paid in the months (by the as-of date; the charges'
(kindergarten_id, receipt_no) index finds the batch), keeping the rows where any screen passes,
grouped by kindergarten and day: the clean kindergartens return nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from feecheck.domain.periods import Period
from feecheck.engine.screens import ChargeScreen
from feecheck.engine.windows import FactWindows
from feecheck.models import Charge, Child, FiledAccount, Kindergarten


def _conditions(screen: ChargeScreen) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if screen.categories is not None:
        conditions.append(Charge.item_category.in_(sorted(screen.categories)))
    if screen.collectors is not None:
        conditions.append(Charge.collector.in_(sorted(screen.collectors)))
    if screen.unfiled_account:
        conditions.append(
            ~exists().where(
                FiledAccount.kindergarten_id == Charge.kindergarten_id,
                FiledAccount.account_no == Charge.account,
            )
        )
    if screen.not_boarding:
        conditions.append(
            or_(
                exists().where(Child.id == Charge.child_id, Child.boarding.is_(False)),
                exists().where(
                    Kindergarten.id == Charge.kindergarten_id, Kindergarten.boarding.is_(False)
                ),
            )
        )
    return conditions


def screen_charges(
    session: Session,
    screens: dict[str, ChargeScreen],
    kg_ids: Sequence[int],
    windows: FactWindows,
) -> dict[str, set[tuple[int, str]]]:
    """rule id -> the (kindergarten id, month YYYY-MM) pairs with a charge passing its screen."""
    if not screens or not kg_ids:
        return {}
    first, last = windows.paid
    rule_ids = list(screens)
    tests = [and_(*_conditions(screens[rule_id])) for rule_id in rule_ids]
    statement = (
        select(
            Charge.kindergarten_id,
            Charge.paid_on,
            *(func.max(case((test, 1), else_=0)) for test in tests),
        )
        .where(
            Charge.kindergarten_id.in_(list(kg_ids)),
            Charge.paid_on.between(first, min(last, windows.as_of)),
            or_(*tests),
        )
        .group_by(Charge.kindergarten_id, Charge.paid_on)
    )
    passed: dict[str, set[tuple[int, str]]] = {rule_id: set() for rule_id in rule_ids}
    for kg_id, paid_on, *hits in session.connection().execute(statement).all():
        month = str(Period.of(paid_on))
        for rule_id, hit in zip(rule_ids, hits, strict=True):
            if hit:
                passed[rule_id].add((kg_id, month))
    return passed
