"""Random but plausible records for property tests: several kindergartens over two school years,
with the awkward facts real data has (meals paid months late, funding received long after or
before the period it covers, withdrawals, raises, absences), written with the ORM.

Nothing here knows the rules: it only makes data. Tests compare the check with itself.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from feecheck.domain.periods import Period
from feecheck.engine.specs import Ruleset
from feecheck.models import (
    Absence,
    Charge,
    Child,
    FeeStandard,
    FiledAccount,
    Funding,
    Inspection,
    Kindergarten,
    Refund,
)

FIRST, LAST = Period(2024, 3), Period(2026, 8)
REGIONS = ("110108", "310104", "440304", "370102", "530102")
CATEGORIES = ("public", "inclusive_private", "nonprofit_private", "forprofit_private")
ITEMS = (
    "保教费",
    "保教费",
    "伙食费",
    "伙食费",
    "住宿费",
    "舞蹈兴趣班费",
    "园服费",
    "托班保育费",
    "电脑课耗材费",
)
SOURCES = (
    "per_child_public_expense",
    "per_child_appropriation",
    "inclusive_subsidy",
    "fee_exemption_compensation",
    "hardship_aid",
)


def _day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def make_region(session: Session, ruleset: Ruleset, seed: int, kindergartens: int = 5) -> None:
    rng = random.Random(seed)
    months = FIRST.until(LAST)
    for k in range(kindergartens):
        kg = Kindergarten(
            code=f"G{seed}K{k}",
            name=f"生成幼儿园{seed}-{k}",
            region_code=REGIONS[k % len(REGIONS)],
            category=CATEGORIES[k % len(CATEGORIES)],
            boarding=rng.random() < 0.4,
        )
        kg.filed_accounts = [FiledAccount(account_no="A1"), FiledAccount(account_no="A2")]
        session.add(kg)
        session.flush()
        standards = [("保教费", Decimal(rng.choice((600, 800, 950))), "month")]
        standards.append(("伙食费", Decimal(rng.choice((400, 450))), "month"))
        standards.append(("住宿费", Decimal("500"), "month"))
        for item, amount, unit in standards:
            session.add(
                FeeStandard(
                    kindergarten_id=kg.id,
                    fee_item=item,
                    item_category=ruleset.taxonomy.classify(item),
                    amount=amount,
                    unit=unit,
                    effective_from=date(2023, 9, 1),
                )
            )
        if rng.random() < 0.6:  # a raise, sometimes mid-year, sometimes large
            raised = _day(rng, date(2025, 1, 1), date(2026, 3, 1)).replace(day=1)
            session.add(
                FeeStandard(
                    kindergarten_id=kg.id,
                    fee_item="保育教育费",
                    item_category="care_education",
                    amount=standards[0][1] * Decimal(rng.choice(("1.05", "1.12", "1.3"))),
                    unit="month",
                    effective_from=raised,
                )
            )
        children = []
        for c in range(6):
            enrolled = _day(rng, date(2023, 9, 1), date(2025, 12, 31))
            left = _day(rng, enrolled + timedelta(days=20), date(2026, 9, 30))
            child = Child(
                kindergarten_id=kg.id,
                child_ref=f"C{c}",
                birth_date=_day(rng, date(2019, 1, 1), date(2022, 12, 31)),
                final_year=rng.choice((None, None, True, False)),
                enrolled_on=enrolled,
                left_on=left if rng.random() < 0.4 else None,
                boarding=rng.random() < 0.5,
                hardship=rng.choice(("none", "none", "none", "low_income", "orphan")),
            )
            session.add(child)
            children.append(child)
        session.flush()
        receipt = 0
        absences: set[tuple[int, str]] = set()
        for child in children:
            for period in months:
                if rng.random() < 0.5:
                    continue
                item = rng.choice(ITEMS)
                receipt += 1
                span = rng.choice((0, 0, 0, 1, 4))  # months covered beyond the first
                end = period.shift(span).last_day
                start = period.first_day if rng.random() < 0.8 else period.first_day + timedelta(10)
                # paid anywhere from two months early to four months late
                paid = _day(rng, start - timedelta(days=60), start + timedelta(days=120))
                charge = Charge(
                    kindergarten_id=kg.id,
                    child_id=child.id,
                    receipt_no=f"R{receipt}",
                    fee_item=item,
                    item_category=ruleset.taxonomy.classify(item),
                    amount=_money(rng, 100, 1200) * (span + 1),
                    period_start=start,
                    period_end=end,
                    paid_on=paid,
                    account=rng.choice(("A1", "A1", "A1", "B9")),
                    collector=rng.choice(("kindergarten",) * 8 + ("parent_committee",)),
                )
                session.add(charge)
                session.flush()
                if rng.random() < 0.3:
                    session.add(
                        Refund(
                            kindergarten_id=kg.id,
                            charge_id=charge.id,
                            refund_no=f"T{receipt}",
                            amount=_money(rng, 1, int(charge.amount) + 1),
                            refunded_on=_day(rng, paid, paid + timedelta(days=150)),
                        )
                    )
                if rng.random() < 0.3 and (child.id, str(period)) not in absences:
                    absences.add((child.id, str(period)))
                    session.add(
                        Absence(
                            kindergarten_id=kg.id,
                            child_id=child.id,
                            month=str(period),
                            days_absent=rng.randrange(0, 8),
                            days_open=rng.randrange(15, 23),
                        )
                    )
        session.flush()
        for f in range(14):
            start = _day(rng, date(2023, 1, 1), date(2026, 6, 30)).replace(day=1)
            end = Period.of(start).shift(rng.choice((0, 2, 5, 11))).last_day
            received = _day(rng, start - timedelta(days=60), end + timedelta(days=500))
            session.add(
                Funding(
                    kindergarten_id=kg.id,
                    reference=f"F{f}",
                    source=rng.choice(SOURCES),
                    amount=_money(rng, 500, 40000),
                    period_start=start,
                    period_end=end,
                    received_on=received,
                )
            )
        for day in {_day(rng, date(2024, 3, 1), date(2026, 8, 31)) for _ in range(4)}:
            session.add(
                Inspection(
                    kindergarten_id=kg.id,
                    inspected_on=day,
                    inspector="检查员",
                    fees_disclosed=rng.random() < 0.6,
                )
            )
        session.flush()
