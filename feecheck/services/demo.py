"""Realistic demo data: three districts, fifteen kindergartens, a school year of records.

Deterministic for a seed. Seven kindergartens break nothing; the others carry at least one clear
case of every rule id (SEEDED_CASES says where). Everything is written through the same
upsert_records() service that forms and imports use.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feecheck.domain.fee_items import FeeItemTaxonomy
from feecheck.domain.money import money
from feecheck.domain.periods import Period
from feecheck.models import Kindergarten
from feecheck.services.record_types import RECORD_TYPES
from feecheck.services.records import Actor, UpsertResult, upsert_records

SCHOOL_YEAR = (Period(2025, 9), Period(2026, 8))
AUTUMN = (date(2025, 9, 1), date(2026, 1, 31))
SPRING = (date(2026, 2, 1), date(2026, 8, 31))
MEAL_MONTHS = [Period(2025, m) for m in (9, 10, 11, 12)] + [
    Period(2026, m) for m in (1, 3, 4, 5, 6, 7)
]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚"
    "邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "子涵浩宇梓轩欣怡雨桐一诺思远可馨俊熙沐阳若汐嘉懿亦辰语桐奕泽佳琪宇航铭轩诗涵梦瑶晨曦皓轩明哲"
    "安琪乐萱天佑书瑶锦程昊然雅琳博文依诺紫萱煜祺芷若承泽睿渊知许"
)
RARE_NAMES = ["张喆", "刘䶮", "王堃", "李昇", "陈玥"]


@dataclass(frozen=True)
class KindergartenPlan:
    code: str
    name: str
    region_code: str
    category: str
    children: int
    care_fee: Decimal  # care-and-education standard
    care_unit: str  # "month" or "semester"
    meal_fee: Decimal  # per month
    boarding: bool = False
    accommodation_fee: Decimal = Decimal(0)  # per month
    violations: tuple[str, ...] = ()


PLANS = [
    KindergartenPlan(
        "K110108001",
        "北京市海淀区第一幼儿园",
        "110108",
        "public",
        36,
        Decimal("3750.00"),
        "semester",
        Decimal("560.00"),
    ),
    KindergartenPlan(
        "K110108002",
        "北京市海淀区育英幼儿园",
        "110108",
        "public",
        30,
        Decimal("3750.00"),
        "semester",
        Decimal("540.00"),
        violations=(
            "FUNDING-FLOOR",
            "FEE-DISCLOSURE",
            "FEE-FREE-FINAL-YEAR",
            "REFUND-ON-WITHDRAWAL",
            "FEE-PREPAY",
        ),
    ),
    KindergartenPlan(
        "K110108003",
        "北京市海淀区阳光普惠幼儿园",
        "110108",
        "inclusive_private",
        28,
        Decimal("4500.00"),
        "semester",
        Decimal("600.00"),
    ),
    KindergartenPlan(
        "K110108004",
        "北京市海淀区小树苗幼儿园",
        "110108",
        "inclusive_private",
        26,
        Decimal("4500.00"),
        "semester",
        Decimal("600.00"),
        violations=("INCLUSIVE-SUBSIDY", "FEE-PROHIBITED-ITEM", "FEE-UNFILED-ACCOUNT"),
    ),
    KindergartenPlan(
        "K110108005",
        "北京市海淀区金色童年双语幼儿园",
        "110108",
        "forprofit_private",
        30,
        Decimal("15000.00"),
        "semester",
        Decimal("900.00"),
        boarding=True,
        accommodation_fee=Decimal("800.00"),
        violations=(
            "FUNDING-FORPROFIT-PUBLIC-MONEY",
            "FEE-THIRD-PARTY-COLLECTOR",
            "ACCOMMODATION-NON-BOARDER",
        ),
    ),
    KindergartenPlan(
        "K310104001",
        "上海市徐汇区第一幼儿园",
        "310104",
        "public",
        34,
        Decimal("700.00"),
        "month",
        Decimal("550.00"),
    ),
    KindergartenPlan(
        "K310104002",
        "上海市徐汇区康健幼儿园",
        "310104",
        "public",
        30,
        Decimal("700.00"),
        "month",
        Decimal("550.00"),
        violations=("FUNDING-LOWERED", "MEAL-SETTLEMENT"),
    ),
    KindergartenPlan(
        "K310104003",
        "上海市徐汇区启明星幼儿园",
        "310104",
        "nonprofit_private",
        28,
        Decimal("2800.00"),
        "month",
        Decimal("650.00"),
        violations=("FEE-ADJUST-MIDYEAR", "FEE-UNCLASSIFIED-ITEM", "FEE-PREPAY"),
    ),
    KindergartenPlan(
        "K310104004",
        "上海市徐汇区爱乐幼儿园",
        "310104",
        "forprofit_private",
        26,
        Decimal("9800.00"),
        "month",
        Decimal("800.00"),
    ),
    KindergartenPlan(
        "K310104005",
        "上海市徐汇区田林普惠幼儿园",
        "310104",
        "inclusive_private",
        28,
        Decimal("1600.00"),
        "month",
        Decimal("600.00"),
    ),
    KindergartenPlan(
        "K370102001",
        "济南市历下区第一实验幼儿园",
        "370102",
        "public",
        34,
        Decimal("2600.00"),
        "semester",
        Decimal("450.00"),
    ),
    KindergartenPlan(
        "K370102002",
        "济南市历下区童心普惠幼儿园",
        "370102",
        "inclusive_private",
        30,
        Decimal("950.00"),
        "month",
        Decimal("480.00"),
        violations=("INCLUSIVE-FEE-CAP", "FEE-ABOVE-STANDARD", "HARDSHIP-NO-REDUCTION"),
    ),
    KindergartenPlan(
        "K370102003",
        "济南市历下区泉城幼儿园",
        "370102",
        "nonprofit_private",
        28,
        Decimal("1000.00"),
        "month",
        Decimal("500.00"),
        violations=("FEE-NO-STANDARD", "FEE-ADJUST-FREQUENCY", "FEE-ADJUST-AMPLITUDE"),
    ),
    KindergartenPlan(
        "K370102004",
        "济南市历下区明德寄宿幼儿园",
        "370102",
        "forprofit_private",
        26,
        Decimal("3200.00"),
        "month",
        Decimal("700.00"),
        boarding=True,
        accommodation_fee=Decimal("600.00"),
    ),
    KindergartenPlan(
        "K370102005",
        "济南市历下区舜耕普惠幼儿园",
        "370102",
        "inclusive_private",
        28,
        Decimal("700.00"),
        "month",
        Decimal("480.00"),
    ),
]

# Where each rule id is seeded: kindergarten code -> rule ids (also in PLANS[].violations).
SEEDED_CASES: dict[str, str] = {rule_id: plan.code for plan in PLANS for rule_id in plan.violations}
CLEAN_KINDERGARTENS = [plan.code for plan in PLANS if not plan.violations]

# Per-child annual funding rates used for public and inclusive kindergartens (yuan per year).
PUBLIC_EXPENSE_RATE = Decimal("1500")
INCLUSIVE_SUBSIDY_RATE = Decimal("13200")  # above the Beijing standard (rules/regions/110000.yaml)


@dataclass
class DemoChild:
    ref: str
    name: str
    birth_date: date
    final_year: bool
    enrolled_on: date
    left_on: date | None = None
    boarding: bool = False
    hardship: str = "none"
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoData:
    """Typed records per record type, in the order they must be written."""

    records: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in RECORD_TYPES}
    )

    def add(self, record_type: str, **values: Any) -> dict[str, Any]:
        record = {k: v for k, v in values.items() if v is not None}
        self.records[record_type].append(record)
        return record


class DemoError(RuntimeError):
    pass


def build_demo(session: Session, taxonomy: FeeItemTaxonomy, seed: int = 2025) -> dict[str, int]:
    """Fill an empty database with the demo; returns rows created per record type."""
    if session.scalar(select(func.count()).select_from(Kindergarten)):
        raise DemoError(
            "the database already holds kindergartens; the demo fills only an empty one"
        )
    data = generate(seed)
    actor = Actor("demo")
    counts: dict[str, int] = {}
    for name, records in data.records.items():
        result: UpsertResult = upsert_records(
            session, RECORD_TYPES[name], enumerate(records, start=1), actor, taxonomy
        )
        if result.errors:
            first = result.errors[0]
            raise DemoError(f"demo {name} row {first.index}: {first.column}: {first.reason}")
        counts[name] = result.created
    return counts


def generate(seed: int) -> DemoData:
    rng = random.Random(seed)
    data = DemoData()
    for plan in PLANS:
        _kindergarten(data, plan, rng)
    return data


def _account(plan: KindergartenPlan, n: int) -> str:
    return f"6222{plan.code[1:7]}{plan.code[-3:]}{n:03d}"


def _kindergarten(data: DemoData, plan: KindergartenPlan, rng: random.Random) -> None:
    data.add(
        "kindergartens",
        code=plan.code,
        name=plan.name,
        region_code=plan.region_code,
        category=plan.category,
        filed_accounts=[_account(plan, 1), _account(plan, 2)],
        boarding=plan.boarding,
        capacity=plan.children + 10,
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
    _seed_violations(data, plan, children)


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


def _receipts(plan: KindergartenPlan) -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield f"R{plan.code[-6:]}{n:06d}"


def _care_amount(plan: KindergartenPlan, child: DemoChild, full: Decimal) -> Decimal | None:
    """What a compliant kindergarten charges this child for care and education; None: nothing."""
    if plan.category == "public" and _is_final_year(child):
        return None  # free final year from autumn 2025
    if child.hardship != "none":
        return money(full / 2)
    return full


def _is_final_year(child: DemoChild) -> bool:
    return date(2019, 9, 1) <= child.birth_date <= date(2020, 8, 31)


def _attending(child: DemoChild, start: date, end: date) -> bool:
    return child.enrolled_on <= end and (child.left_on is None or child.left_on > start)


def _charges(
    data: DemoData, plan: KindergartenPlan, children: list[DemoChild], rng: random.Random
) -> None:
    receipts = _receipts(plan)
    refunds = iter(range(1, 10**6))
    account = _account(plan, 1)
    for child in children:
        if plan.care_unit == "semester":
            for start, end in (AUTUMN, SPRING):
                if not _attending(child, start, end) or child.enrolled_on > start:
                    continue
                amount = _care_amount(plan, child, plan.care_fee)
                if amount is not None:
                    data.add(
                        "charges",
                        receipt_no=next(receipts),
                        kindergarten_code=plan.code,
                        child_ref=child.ref,
                        fee_item="保育教育费",
                        amount=amount,
                        period_start=start,
                        period_end=end,
                        paid_on=start - timedelta(days=rng.randrange(3, 15)),
                        account=account,
                    )
        for period in SCHOOL_YEAR[0].until(SCHOOL_YEAR[1]):
            start, end = period.first_day, period.last_day
            if not _attending(child, start, end) or child.enrolled_on > start:
                continue
            paid_on = start + timedelta(days=rng.randrange(0, 5))
            if plan.care_unit == "month" and period.month != 8:
                amount = _care_amount(plan, child, plan.care_fee)
                if amount is not None:
                    data.add(
                        "charges",
                        receipt_no=next(receipts),
                        kindergarten_code=plan.code,
                        child_ref=child.ref,
                        fee_item="保教费",
                        amount=amount,
                        period_start=start,
                        period_end=end,
                        paid_on=paid_on,
                        account=account,
                    )
            if child.boarding and period.month != 8:
                data.add(
                    "charges",
                    receipt_no=next(receipts),
                    kindergarten_code=plan.code,
                    child_ref=child.ref,
                    fee_item="住宿费",
                    amount=plan.accommodation_fee,
                    period_start=start,
                    period_end=end,
                    paid_on=paid_on,
                    account=account,
                )
            if period in MEAL_MONTHS:
                receipt = next(receipts)
                data.add(
                    "charges",
                    receipt_no=receipt,
                    kindergarten_code=plan.code,
                    child_ref=child.ref,
                    fee_item="伙食费",
                    amount=plan.meal_fee,
                    period_start=start,
                    period_end=end,
                    paid_on=paid_on,
                    account=account,
                )
                _absence(data, plan, child, period, receipt, refunds, rng)
    _withdrawal_refund(data, plan, children, refunds)


def _absence(
    data: DemoData,
    plan: KindergartenPlan,
    child: DemoChild,
    period: Period,
    receipt: str,
    refunds: Iterator[int],
    rng: random.Random,
) -> None:
    if rng.random() > 0.15:
        return
    days_open = 21 if period.month != 2 else 15
    days_absent = rng.randrange(1, 6)
    data.add(
        "absences",
        kindergarten_code=plan.code,
        child_ref=child.ref,
        month=str(period),
        days_absent=days_absent,
        days_open=days_open,
    )
    if "MEAL-SETTLEMENT" in plan.violations:
        return  # this kindergarten keeps the meal money of absent days
    due = (plan.meal_fee * days_absent / days_open).quantize(Decimal("0.01"), ROUND_CEILING)
    data.add(
        "refunds",
        kindergarten_code=plan.code,
        receipt_no=receipt,
        refund_no=f"T{plan.code[-6:]}{next(refunds):05d}",
        amount=due,
        refunded_on=period.shift(1).first_day + timedelta(days=9),
        reason="伙食费缺勤退费",
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
        if "FUNDING-FLOOR" in plan.violations:
            rate = Decimal("400")
    elif plan.category == "inclusive_private":
        source, rate = "inclusive_subsidy", INCLUSIVE_SUBSIDY_RATE
        if "INCLUSIVE-SUBSIDY" in plan.violations:
            rate = Decimal("6000")
    else:
        source, rate = None, Decimal(0)
    months = SCHOOL_YEAR[0].until(SCHOOL_YEAR[1])
    if "FUNDING-LOWERED" in plan.violations:
        months = SCHOOL_YEAR[0].shift(-12).until(SCHOOL_YEAR[1])
    for period in months:
        prior_year = period < SCHOOL_YEAR[0]
        month_rate = Decimal("3000") if prior_year else rate
        if source is not None:
            # generous by 5 % so that months with mid-month changes stay above the rate
            peak = max(
                _enrolled_on(children, period.first_day), _enrolled_on(children, period.last_day)
            )
            amount = money(peak * month_rate / 12 * Decimal("1.05"))
            data.add(
                "funding",
                reference=f"F{plan.code[-6:]}-{period}",
                kindergarten_code=plan.code,
                source=source,
                amount=amount,
                period_start=period.first_day,
                period_end=period.last_day,
                received_on=period.first_day + timedelta(days=14),
            )
        if plan.category == "public" and not prior_year and period.month in (9, 3):
            finals = sum(1 for c in children if _is_final_year(c))
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


def _inspections(data: DemoData, plan: KindergartenPlan) -> None:
    data.add(
        "inspections",
        kindergarten_code=plan.code,
        inspected_on=date(2025, 11, 12),
        inspector="李明",
        fees_disclosed="FEE-DISCLOSURE" not in plan.violations,
        notes="收费公示栏未更新" if "FEE-DISCLOSURE" in plan.violations else "收费公示齐全",
    )
    data.add(
        "inspections",
        kindergarten_code=plan.code,
        inspected_on=date(2026, 4, 16),
        inspector="王芳",
        fees_disclosed=True,
        notes="复查",
    )


def _seed_violations(data: DemoData, plan: KindergartenPlan, children: list[DemoChild]) -> None:
    """The clear cases, one or more per rule id listed on the plan."""
    code = plan.code
    add_charge = _charge_adder(data, plan)
    final_child = next(
        c for c in children if _is_final_year(c) and c.hardship == "none" and c.left_on is None
    )
    other = next(
        c
        for c in children
        if not _is_final_year(c) and c.hardship == "none" and c.left_on is None and not c.boarding
    )
    if "FEE-FREE-FINAL-YEAR" in plan.violations:
        add_charge(final_child, "保育教育费", plan.care_fee, *SPRING, date(2026, 1, 26))
    if "REFUND-ON-WITHDRAWAL" in plan.violations:
        leaver = children[7]
        leaver.record["left_on"] = date(2025, 11, 10)
        receipts = [
            c
            for c in data.records["charges"]
            if c["child_ref"] == leaver.ref
            and c["kindergarten_code"] == code
            and c["period_start"] > date(2025, 11, 30)
        ]
        removed = {c["receipt_no"] for c in receipts}
        # fees beyond the month of leaving were never charged, nor meals refunded
        data.records["charges"] = [
            c
            for c in data.records["charges"]
            if c["kindergarten_code"] != code or c["receipt_no"] not in removed
        ]
        data.records["refunds"] = [
            r
            for r in data.records["refunds"]
            if r["kindergarten_code"] != code or r["receipt_no"] not in removed
        ]
        data.records["absences"] = [
            a
            for a in data.records["absences"]
            if a["kindergarten_code"] != code
            or a["child_ref"] != leaver.ref
            or a["month"] <= "2025-11"
        ]
    if "FEE-PREPAY" in plan.violations:
        if plan.care_unit == "semester":
            # spring semester paid 45 days before it starts
            add_charge(
                other,
                "保育教育费",
                plan.care_fee,
                *SPRING,
                date(2025, 12, 18),
                replace_item="保育教育费",
            )
        else:
            # a whole autumn semester collected at once where the block is the month
            add_charge(
                other,
                "保教费",
                plan.care_fee * 5,
                *AUTUMN,
                date(2025, 9, 2),
                replace_months=(AUTUMN, "保教费"),
            )
    if "FEE-DISCLOSURE" in plan.violations:
        pass  # the 2025-11-12 inspection records fees_disclosed = false (_inspections)
    if "FEE-PROHIBITED-ITEM" in plan.violations:
        add_charge(
            other,
            "舞蹈兴趣班费",
            Decimal("1200.00"),
            date(2025, 10, 1),
            date(2025, 12, 31),
            date(2025, 10, 9),
        )
        add_charge(
            final_child,
            "幼小衔接班费",
            Decimal("800.00"),
            date(2026, 3, 1),
            date(2026, 6, 30),
            date(2026, 3, 5),
        )
    if "FEE-UNFILED-ACCOUNT" in plan.violations:
        add_charge(
            other,
            "伙食费",
            plan.meal_fee,
            date(2026, 8, 1),
            date(2026, 8, 31),
            date(2026, 8, 3),
            account="6217000012345678",
        )
    if "INCLUSIVE-SUBSIDY" in plan.violations or "FUNDING-FLOOR" in plan.violations:
        pass  # funded below the standard (_funding)
    if "FUNDING-FORPROFIT-PUBLIC-MONEY" in plan.violations:
        data.add(
            "funding",
            reference=f"F{code[-6:]}-2025-10",
            kindergarten_code=code,
            source="per_child_public_expense",
            amount=Decimal("18000.00"),
            period_start=date(2025, 9, 1),
            period_end=date(2025, 12, 31),
            received_on=date(2025, 10, 20),
        )
        data.add(
            "funding",
            reference=f"H{code[-6:]}-2025-10",
            kindergarten_code=code,
            source="hardship_aid",
            amount=Decimal("3000.00"),
            period_start=date(2025, 9, 1),
            period_end=date(2026, 1, 31),
            received_on=date(2025, 10, 20),
        )
    if "FEE-THIRD-PARTY-COLLECTOR" in plan.violations:
        add_charge(
            other,
            "园服费",
            Decimal("380.00"),
            date(2025, 10, 1),
            date(2025, 10, 31),
            date(2025, 10, 10),
            collector="parent_committee",
            standard=True,
        )
        add_charge(
            other,
            "外出活动费",
            Decimal("260.00"),
            date(2026, 4, 1),
            date(2026, 4, 30),
            date(2026, 4, 8),
            collector="third_party",
            standard=True,
        )
    if "ACCOMMODATION-NON-BOARDER" in plan.violations:
        add_charge(
            other,
            "住宿费",
            plan.accommodation_fee,
            date(2025, 11, 1),
            date(2025, 11, 30),
            date(2025, 11, 2),
        )
    if "FEE-ADJUST-MIDYEAR" in plan.violations:
        _raise_standard(data, plan, date(2026, 3, 1), plan.care_fee * Decimal("1.05"), "保教费")
    if "FEE-UNCLASSIFIED-ITEM" in plan.violations:
        add_charge(
            other,
            "电脑课耗材费",
            Decimal("150.00"),
            date(2025, 9, 1),
            date(2025, 9, 30),
            date(2025, 9, 3),
        )
    if "INCLUSIVE-FEE-CAP" in plan.violations:
        pass  # care standard 950/month is above Jinan's cap (rules/regions/370100.yaml)
    if "FEE-ABOVE-STANDARD" in plan.violations:
        add_charge(
            other,
            "保教费",
            plan.care_fee + Decimal("150.00"),
            date(2026, 5, 1),
            date(2026, 5, 31),
            date(2026, 5, 2),
            replace_item="保教费",
        )
    if "HARDSHIP-NO-REDUCTION" in plan.violations:
        poor = next(c for c in children if c.hardship != "none")
        add_charge(
            poor,
            "保教费",
            plan.care_fee,
            date(2025, 12, 1),
            date(2025, 12, 31),
            date(2025, 12, 1),
            replace_item="保教费",
        )
    if "FEE-NO-STANDARD" in plan.violations:
        add_charge(
            other,
            "托班保育费",
            Decimal("900.00"),
            date(2026, 3, 1),
            date(2026, 3, 31),
            date(2026, 3, 2),
        )
    if "FEE-ADJUST-FREQUENCY" in plan.violations:
        # 17 months after the 2024-09 standard (Shandong: 36), and a 30 % rise (limit 10 %)
        _raise_standard(data, plan, date(2026, 2, 1), plan.care_fee * Decimal("1.30"), "保教费")
    if "FUNDING-LOWERED" in plan.violations:
        pass  # funded at 3,000 a child a year in 2024-25 and 1,500 in 2025-26 (_funding)


def _raise_standard(
    data: DemoData, plan: KindergartenPlan, effective: date, amount: Decimal, item: str
) -> None:
    """Close the current care standard and start a higher one; charges follow the new price."""
    for standard in data.records["fee-standards"]:
        if standard["kindergarten_code"] == plan.code and standard["fee_item"] == "保育教育费":
            standard["effective_to"] = effective - timedelta(days=1)
    new_fee = money(amount)
    data.add(
        "fee-standards",
        kindergarten_code=plan.code,
        fee_item="保育教育费",
        amount=new_fee,
        unit=plan.care_unit,
        effective_from=effective,
        approval_ref=f"{plan.region_code}收费备〔2026〕{plan.code[-3:]}号",
    )
    for charge in data.records["charges"]:
        if (
            charge["kindergarten_code"] == plan.code
            and charge["fee_item"] == item
            and charge["period_start"] >= effective
            and charge["amount"] == plan.care_fee
        ):
            charge["amount"] = new_fee


def _charge_adder(data: DemoData, plan: KindergartenPlan):  # type: ignore[no-untyped-def]
    counter = iter(range(900001, 999999))

    def add(
        child: DemoChild,
        item: str,
        amount: Decimal,
        start: date,
        end: date,
        paid_on: date,
        account: str | None = None,
        collector: str | None = None,
        standard: bool = False,
        replace_item: str | None = None,
        replace_months: tuple[tuple[date, date], str] | None = None,
    ) -> None:
        charges = data.records["charges"]
        if replace_item:  # the seeded charge takes the place of the regular one
            for charge in [
                c
                for c in charges
                if c["child_ref"] == child.ref
                and c["kindergarten_code"] == plan.code
                and c["fee_item"] == replace_item
                and c["period_start"] == start
                and c["period_end"] == end
            ]:
                charges.remove(charge)
        if replace_months:
            (first, last), regular_item = replace_months
            for charge in [
                c
                for c in charges
                if c["child_ref"] == child.ref
                and c["kindergarten_code"] == plan.code
                and c["fee_item"] == regular_item
                and first <= c["period_start"] <= last
            ]:
                charges.remove(charge)
        if standard:
            data.add(
                "fee-standards",
                kindergarten_code=plan.code,
                fee_item=item,
                amount=amount,
                unit="month",
                effective_from=date(2024, 9, 1),
            )
        data.add(
            "charges",
            receipt_no=f"R{plan.code[-6:]}{next(counter):06d}",
            kindergarten_code=plan.code,
            child_ref=child.ref,
            fee_item=item,
            amount=amount,
            period_start=start,
            period_end=end,
            paid_on=paid_on,
            account=account or _account(plan, 1),
            collector=collector,
        )

    return add
