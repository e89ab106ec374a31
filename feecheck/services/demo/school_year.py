"""A compliant school year: every kindergarten's children, standards, charges, meals with their
absences and refunds, funding and inspections, as a kindergarten that keeps every rule keeps them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

from feecheck.domain.money import money
from feecheck.domain.periods import Period
from feecheck.services.demo.data import DemoChild, DemoData
from feecheck.services.demo.plans import (
    AUTUMN,
    GIVEN,
    INCLUSIVE_SUBSIDY_RATE,
    MEAL_MONTHS,
    PLANS,
    PUBLIC_EXPENSE_RATE,
    RARE_NAMES,
    SCHOOL_YEAR,
    SPRING,
    SURNAMES,
    KindergartenPlan,
)

MEAL_REFUND_REASON = "伙食费缺勤退费"


def generate_clean(seed: int) -> tuple[DemoData, dict[str, list[DemoChild]]]:
    """A school year in which every kindergarten keeps every rule; the seeders then break some."""
    rng = random.Random(seed)
    data = DemoData()
    children = {plan.code: school_year(data, plan, rng) for plan in PLANS}
    return data, children


def account(plan: KindergartenPlan, n: int) -> str:
    return f"6222{plan.code[1:7]}{plan.code[-3:]}{n:03d}"


def school_year(data: DemoData, plan: KindergartenPlan, rng: random.Random) -> list[DemoChild]:
    """A kindergarten, its children and a compliant school year of records."""
    data.add(
        "kindergartens",
        code=plan.code,
        name=plan.name,
        region_code=plan.region_code,
        category=plan.category,
        filed_accounts=[account(plan, 1), account(plan, 2)],
        boarding=plan.boarding,
        capacity=plan.children + 10,
        grade=plan.grade,
    )
    children = _children(plan, rng)
    for child in children:
        child.record = data.add(
            "children",
            kindergarten_code=plan.code,
            child_ref=child.ref,
            name=child.name,
            birth_date=child.birth_date,
            final_year=child.final_year if rng.random() < 0.5 else None,
            enrolled_on=child.enrolled_on,
            left_on=child.left_on,
            boarding=child.boarding,
            hardship=child.hardship,
        )
    _standards(data, plan)
    _charges(data, plan, children, rng)
    _funding(data, plan, children)
    _inspections(data, plan)
    return children


def _children(plan: KindergartenPlan, rng: random.Random) -> list[DemoChild]:
    children = []
    for i in range(plan.children):
        ref = f"C{i + 1:04d}"
        cohort = i % 3  # 0: final year, 1: middle, 2: junior
        born_year = 2019 + cohort
        birth = date(born_year, 9, 1) + timedelta(days=rng.randrange(0, 364))
        if i < len(RARE_NAMES) and plan.code.endswith("001"):
            name = RARE_NAMES[i]
        else:
            name = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2))))
        enrolled = date(2022 + cohort, 9, 1)
        if i >= plan.children - 2:  # two newcomers during the year
            enrolled = date(2025, 10, 8) if i % 2 else date(2026, 3, 2)
        child = DemoChild(ref, name, birth, cohort == 0, enrolled)
        child.boarding = plan.boarding and i % 2 == 0
        if i in (3, 17):
            child.hardship = ("low_income", "disabled")[i == 17]
        children.append(child)
    # one child leaves before the winter holiday; a compliant kindergarten refunds January
    children[4].left_on = date(2025, 12, 20)
    return children


def _standards(data: DemoData, plan: KindergartenPlan) -> None:
    start = date(2024, 9, 1)
    data.add(
        "fee-standards",
        kindergarten_code=plan.code,
        fee_item="保育教育费",
        amount=plan.care_fee,
        unit=plan.care_unit,
        effective_from=start,
        approval_ref=f"{plan.region_code}收费备〔2024〕{plan.code[-3:]}号",
    )
    data.add(
        "fee-standards",
        kindergarten_code=plan.code,
        fee_item="伙食费",
        amount=plan.meal_fee,
        unit="month",
        effective_from=start,
    )
    if plan.boarding:
        data.add(
            "fee-standards",
            kindergarten_code=plan.code,
            fee_item="住宿费",
            amount=plan.accommodation_fee,
            unit="month",
            effective_from=start,
        )


def receipts(plan: KindergartenPlan) -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield f"R{plan.code[-6:]}{n:06d}"


def _care_amount(plan: KindergartenPlan, child: DemoChild, full: Decimal) -> Decimal | None:
    """What a compliant kindergarten charges this child for care and education; None: nothing."""
    if plan.final_year_free and is_final_year(child):
        return None  # free final year from autumn 2025
    if child.hardship != "none":
        return money(full / 2)
    return full


def is_final_year(child: DemoChild) -> bool:
    return date(2019, 9, 1) <= child.birth_date <= date(2020, 8, 31)


def _attending(child: DemoChild, start: date, end: date) -> bool:
    return child.enrolled_on <= end and (child.left_on is None or child.left_on > start)


def _charges(
    data: DemoData, plan: KindergartenPlan, children: list[DemoChild], rng: random.Random
) -> None:
    receipt_nos = receipts(plan)
    refunds = iter(range(1, 10**6))

    def charge(child: DemoChild, item: str, amount: Decimal, start: date, end: date, paid: date):  # type: ignore[no-untyped-def]
        receipt = next(receipt_nos)
        data.add(
            "charges",
            receipt_no=receipt,
            kindergarten_code=plan.code,
            child_ref=child.ref,
            fee_item=item,
            amount=amount,
            period_start=start,
            period_end=end,
            paid_on=paid,
            account=account(plan, 1),
        )
        return receipt

    for child in children:
        if plan.care_unit == "semester":
            for start, end in (AUTUMN, SPRING):
                if not _attending(child, start, end) or child.enrolled_on > start:
                    continue
                amount = _care_amount(plan, child, plan.care_fee)
                if amount is not None:
                    paid = start - timedelta(days=rng.randrange(3, 15))
                    charge(child, "保育教育费", amount, start, end, paid)
        for period in SCHOOL_YEAR[0].until(SCHOOL_YEAR[1]):
            start, end = period.first_day, period.last_day
            if not _attending(child, start, end) or child.enrolled_on > start:
                continue
            paid_on = start + timedelta(days=rng.randrange(0, 5))
            absence = _absence_days(period, rng) if period in MEAL_MONTHS else None
            if plan.care_unit == "month" and period.month != 8:
                amount = _care_amount(plan, child, plan.care_fee)
                if amount is not None and absence and period.month in plan.attendance_billed_months:
                    days_absent, days_open = absence  # billed by the days attended (Shanghai)
                    amount = money(amount * (days_open - days_absent) / days_open)
                if amount is not None:
                    charge(child, "保教费", amount, start, end, paid_on)
            if child.boarding and period.month != 8:
                charge(child, "住宿费", plan.accommodation_fee, start, end, paid_on)
            if period in MEAL_MONTHS:
                receipt = charge(child, "伙食费", plan.meal_fee, start, end, paid_on)
                if absence:
                    _absence(data, plan, child, period, receipt, refunds, absence)
    _withdrawal_refund(data, plan, children, refunds)


def _absence_days(period: Period, rng: random.Random) -> tuple[int, int] | None:
    """A month with absences for about one child in seven: (days absent, days open)."""
    if rng.random() > 0.15:
        return None
    return rng.randrange(1, 6), 21 if period.month != 2 else 15


def _absence(
    data: DemoData,
    plan: KindergartenPlan,
    child: DemoChild,
    period: Period,
    receipt: str,
    refunds: Iterator[int],
    absence: tuple[int, int],
) -> None:
    days_absent, days_open = absence
    data.add(
        "absences",
        kindergarten_code=plan.code,
        child_ref=child.ref,
        month=str(period),
        days_absent=days_absent,
        days_open=days_open,
    )
    due = (plan.meal_fee * days_absent / days_open).quantize(Decimal("0.01"), ROUND_CEILING)
    data.add(
        "refunds",
        kindergarten_code=plan.code,
        receipt_no=receipt,
        refund_no=f"T{plan.code[-6:]}{next(refunds):05d}",
        amount=due,
        refunded_on=period.shift(1).first_day + timedelta(days=9),
        reason=MEAL_REFUND_REASON,
    )


def _withdrawal_refund(
    data: DemoData, plan: KindergartenPlan, children: list[DemoChild], refunds: Iterator[int]
) -> None:
    """Refund the whole months after the month of leaving, as the national default formula says."""
    leaver = children[4]
    assert leaver.left_on is not None
    for charge in list(data.records["charges"]):
        if charge["child_ref"] != leaver.ref or charge["kindergarten_code"] != plan.code:
            continue
        start, end = charge["period_start"], charge["period_end"]
        if not start <= leaver.left_on <= end:
            continue
        covered = Period.of(start).until(Period.of(end))
        after = [p for p in covered if p > Period.of(leaver.left_on)]
        if after:
            due = (charge["amount"] * len(after) / len(covered)).quantize(
                Decimal("0.01"), ROUND_CEILING
            )
            data.add(
                "refunds",
                kindergarten_code=plan.code,
                receipt_no=charge["receipt_no"],
                refund_no=f"T{plan.code[-6:]}{next(refunds):05d}",
                amount=due,
                refunded_on=leaver.left_on + timedelta(days=7),
                reason="离园退费",
            )


def _enrolled_on(children: list[DemoChild], day: date) -> int:
    return sum(
        1 for c in children if c.enrolled_on <= day and (c.left_on is None or day < c.left_on)
    )


def _funding(data: DemoData, plan: KindergartenPlan, children: list[DemoChild]) -> None:
    """Monthly receipts: public expense for public, subsidy for inclusive kindergartens."""
    if plan.category == "public":
        source, rate = "per_child_public_expense", PUBLIC_EXPENSE_RATE
    elif plan.category == "inclusive_private":
        source, rate = "inclusive_subsidy", INCLUSIVE_SUBSIDY_RATE
    else:
        source, rate = None, Decimal(0)
    for period in SCHOOL_YEAR[0].until(SCHOOL_YEAR[1]):
        if source is not None:
            add_monthly_funding(data, plan, children, period, source, rate)
        if plan.category == "public" and period.month in (9, 3):
            finals = sum(1 for c in children if is_final_year(c))
            data.add(
                "funding",
                reference=f"M{plan.code[-6:]}-{period}",
                kindergarten_code=plan.code,
                source="fee_exemption_compensation",
                amount=money(finals * plan.care_fee),
                period_start=period.first_day,
                period_end=period.shift(4).last_day,
                received_on=period.first_day + timedelta(days=20),
            )


def add_monthly_funding(
    data: DemoData,
    plan: KindergartenPlan,
    children: list[DemoChild],
    period: Period,
    source: str,
    rate: Decimal,
) -> None:
    """One month's funding at a per-child annual rate, generous by 5 % so that months with
    mid-month changes of enrolment stay above the rate."""
    peak = max(_enrolled_on(children, period.first_day), _enrolled_on(children, period.last_day))
    data.add(
        "funding",
        reference=f"F{plan.code[-6:]}-{period}",
        kindergarten_code=plan.code,
        source=source,
        amount=money(peak * rate / 12 * Decimal("1.05")),
        period_start=period.first_day,
        period_end=period.last_day,
        received_on=period.first_day + timedelta(days=14),
    )


def _inspections(data: DemoData, plan: KindergartenPlan) -> None:
    data.add(
        "inspections",
        kindergarten_code=plan.code,
        inspected_on=date(2025, 11, 12),
        inspector="李明",
        fees_disclosed=True,
        notes="收费公示齐全",
    )
    data.add(
        "inspections",
        kindergarten_code=plan.code,
        inspected_on=date(2026, 4, 16),
        inspector="王芳",
        fees_disclosed=True,
        notes="复查",
    )
