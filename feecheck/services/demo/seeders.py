"""The seeders: one per rule id, each breaking its rule in a kindergarten of the demo.

SEEDERS maps a rule id to the function that makes the clear case of it (the shape of the
evaluators' registry); a kindergarten's plan lists the rule ids to seed, and they are applied in
the order they are registered here. Everything else about the school year is compliant
(school_year.py), so every finding of the demo comes from a seeder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from feecheck.domain.money import money
from feecheck.services.demo.data import DemoChild, DemoData
from feecheck.services.demo.plans import AUTUMN, SCHOOL_YEAR, SPRING, KindergartenPlan
from feecheck.services.demo.school_year import (
    MEAL_REFUND_REASON,
    account,
    add_monthly_funding,
    is_final_year,
)


@dataclass
class Seed:
    """One kindergarten being seeded: its plan, its children, and the records so far."""

    data: DemoData
    plan: KindergartenPlan
    children: list[DemoChild]
    receipt_numbers: Any = field(default_factory=lambda: count(900001))

    @property
    def code(self) -> str:
        return self.plan.code

    @property
    def final_child(self) -> DemoChild:
        """A final-year child without hardship who stays the whole year."""
        return next(
            c
            for c in self.children
            if is_final_year(c) and c.hardship == "none" and c.left_on is None
        )

    @property
    def other(self) -> DemoChild:
        """A day child, not in the final year, without hardship, who stays the whole year."""
        return next(
            c
            for c in self.children
            if not is_final_year(c)
            and c.hardship == "none"
            and c.left_on is None
            and not c.boarding
        )

    def records(self, record_type: str) -> list[dict[str, Any]]:
        return [r for r in self.data.records[record_type] if r["kindergarten_code"] == self.code]

    def drop(self, record_type: str, keep: Callable[[dict[str, Any]], bool]) -> None:
        """Remove this kindergarten's records of a type for which `keep` is false."""
        self.data.records[record_type] = [
            r
            for r in self.data.records[record_type]
            if r["kindergarten_code"] != self.code or keep(r)
        ]

    def add_charge(
        self,
        child: DemoChild,
        item: str,
        amount: Decimal,
        start: date,
        end: date,
        paid_on: date,
        account_no: str | None = None,
        collector: str | None = None,
        standard: bool = False,
        replace_item: str | None = None,
        replace_months: tuple[tuple[date, date], str] | None = None,
    ) -> None:
        """A charge for a child; it may take the place of the regular charges it stands for."""
        if replace_item:  # the seeded charge takes the place of the regular one
            self.drop(
                "charges",
                lambda c: (
                    not (
                        c["child_ref"] == child.ref
                        and c["fee_item"] == replace_item
                        and c["period_start"] == start
                        and c["period_end"] == end
                    )
                ),
            )
        if replace_months:
            (first, last), regular_item = replace_months
            self.drop(
                "charges",
                lambda c: (
                    not (
                        c["child_ref"] == child.ref
                        and c["fee_item"] == regular_item
                        and first <= c["period_start"] <= last
                    )
                ),
            )
        if standard:
            self.data.add(
                "fee-standards",
                kindergarten_code=self.code,
                fee_item=item,
                amount=amount,
                unit="month",
                effective_from=date(2024, 9, 1),
            )
        self.data.add(
            "charges",
            receipt_no=f"R{self.code[-6:]}{next(self.receipt_numbers):06d}",
            kindergarten_code=self.code,
            child_ref=child.ref,
            fee_item=item,
            amount=amount,
            period_start=start,
            period_end=end,
            paid_on=paid_on,
            account=account_no or account(self.plan, 1),
            collector=collector,
        )

    def raise_standard(self, effective: date, amount: Decimal, item: str) -> None:
        """Close the current care standard and start a higher one; charges follow the price."""
        for standard in self.records("fee-standards"):
            if standard["fee_item"] == "保育教育费":
                standard["effective_to"] = effective - timedelta(days=1)
        new_fee = money(amount)
        self.data.add(
            "fee-standards",
            kindergarten_code=self.code,
            fee_item="保育教育费",
            amount=new_fee,
            unit=self.plan.care_unit,
            effective_from=effective,
            approval_ref=f"{self.plan.region_code}收费备〔2026〕{self.code[-3:]}号",
        )
        if self.plan.existing_pupils_keep_fee:
            return  # the children here all enrolled before the raise: they keep the old fee
        for charge in self.records("charges"):
            if (
                charge["fee_item"] == item
                and charge["period_start"] >= effective
                and charge["amount"] == self.plan.care_fee
            ):
                charge["amount"] = new_fee

    def scale_funding(self, source: str, factor: Decimal) -> None:
        for funding in self.records("funding"):
            if funding["source"] == source:
                funding["amount"] = money(funding["amount"] * factor)


Seeder = Callable[[Seed], None]
SEEDERS: dict[str, Seeder] = {}


def seeder(rule_id: str) -> Callable[[Seeder], Seeder]:
    def register(function: Seeder) -> Seeder:
        SEEDERS[rule_id] = function
        return function

    return register


@seeder("FEE-FREE-FINAL-YEAR")
def free_final_year(kg: Seed) -> None:
    """A public kindergarten charges a final-year child the spring semester's fee."""
    kg.add_charge(kg.final_child, "保育教育费", kg.plan.care_fee, *SPRING, date(2026, 1, 26))


@seeder("REFUND-ON-WITHDRAWAL")
def refund_on_withdrawal(kg: Seed) -> None:
    """A child leaves on 2025-11-10; the autumn semester's fee is never refunded."""
    leaver = kg.children[7]
    leaver.record["left_on"] = date(2025, 11, 10)
    removed = {
        c["receipt_no"]
        for c in kg.records("charges")
        if c["child_ref"] == leaver.ref and c["period_start"] > date(2025, 11, 30)
    }
    # fees beyond the month of leaving were never charged, nor meals refunded
    kg.drop("charges", lambda c: c["receipt_no"] not in removed)
    kg.drop("refunds", lambda r: r["receipt_no"] not in removed)
    kg.drop("absences", lambda a: a["child_ref"] != leaver.ref or a["month"] <= "2025-11")


@seeder("FEE-PREPAY")
def prepay(kg: Seed) -> None:
    """Semester blocks: spring paid 45 days early; month blocks: a whole semester at once."""
    if kg.plan.care_unit == "semester":
        kg.add_charge(
            kg.other,
            "保育教育费",
            kg.plan.care_fee,
            *SPRING,
            date(2025, 12, 18),
            replace_item="保育教育费",
        )
    else:
        kg.add_charge(
            kg.other,
            "保教费",
            kg.plan.care_fee * 5,
            *AUTUMN,
            date(2025, 9, 2),
            replace_months=(AUTUMN, "保教费"),
        )


@seeder("FEE-DISCLOSURE")
def disclosure(kg: Seed) -> None:
    """The November inspection finds the fee notice board out of date."""
    inspection = next(i for i in kg.records("inspections") if i["inspected_on"].month == 11)
    inspection["fees_disclosed"] = False
    inspection["notes"] = "收费公示栏未更新"


@seeder("FEE-PROHIBITED-ITEM")
def prohibited_item(kg: Seed) -> None:
    """A dance interest class in the autumn and a bridge class in the spring."""
    kg.add_charge(
        kg.other, "舞蹈兴趣班费", Decimal("1200.00"), date(2025, 10, 1), date(2025, 12, 31),
        date(2025, 10, 9),
    )  # fmt: skip
    kg.add_charge(
        kg.final_child, "幼小衔接班费", Decimal("800.00"), date(2026, 3, 1), date(2026, 6, 30),
        date(2026, 3, 5),
    )  # fmt: skip


@seeder("FEE-UNFILED-ACCOUNT")
def unfiled_account(kg: Seed) -> None:
    """August meals paid into an account the kindergarten never filed."""
    kg.add_charge(
        kg.other, "伙食费", kg.plan.meal_fee, date(2026, 8, 1), date(2026, 8, 31),
        date(2026, 8, 3), account_no="6217000012345678",
    )  # fmt: skip


@seeder("INCLUSIVE-SUBSIDY")
def inclusive_subsidy(kg: Seed) -> None:
    """The inclusive subsidy received is 6,000 a child a year instead of the rate paid elsewhere."""
    kg.scale_funding("inclusive_subsidy", Decimal("6000") / Decimal("13200"))


@seeder("FUNDING-FLOOR")
def funding_floor(kg: Seed) -> None:
    """Public expense received at 400 a child a year, below the 600 floor."""
    kg.scale_funding("per_child_public_expense", Decimal("400") / Decimal("1500"))


@seeder("FUNDING-FORPROFIT-PUBLIC-MONEY")
def forprofit_public_money(kg: Seed) -> None:
    """A for-profit kindergarten receives public expense money (and, allowed, hardship aid)."""
    kg.data.add(
        "funding",
        reference=f"F{kg.code[-6:]}-2025-10",
        kindergarten_code=kg.code,
        source="per_child_public_expense",
        amount=Decimal("18000.00"),
        period_start=date(2025, 9, 1),
        period_end=date(2025, 12, 31),
        received_on=date(2025, 10, 20),
    )
    kg.data.add(
        "funding",
        reference=f"H{kg.code[-6:]}-2025-10",
        kindergarten_code=kg.code,
        source="hardship_aid",
        amount=Decimal("3000.00"),
        period_start=date(2025, 9, 1),
        period_end=date(2026, 1, 31),
        received_on=date(2025, 10, 20),
    )


@seeder("FEE-THIRD-PARTY-COLLECTOR")
def third_party_collector(kg: Seed) -> None:
    """Uniforms collected by the parent committee, an outing by a travel agency."""
    kg.add_charge(
        kg.other, "园服费", Decimal("380.00"), date(2025, 10, 1), date(2025, 10, 31),
        date(2025, 10, 10), collector="parent_committee", standard=True,
    )  # fmt: skip
    kg.add_charge(
        kg.other, "外出活动费", Decimal("260.00"), date(2026, 4, 1), date(2026, 4, 30),
        date(2026, 4, 8), collector="third_party", standard=True,
    )  # fmt: skip


@seeder("ACCOMMODATION-NON-BOARDER")
def accommodation_non_boarder(kg: Seed) -> None:
    """A day child is charged a month of boarding."""
    kg.add_charge(
        kg.other, "住宿费", kg.plan.accommodation_fee, date(2025, 11, 1), date(2025, 11, 30),
        date(2025, 11, 2),
    )  # fmt: skip


@seeder("FEE-ADJUST-MIDYEAR")
def adjust_midyear(kg: Seed) -> None:
    """A 5 % raise from 2026-03-01, in the middle of the school year (Shanghai)."""
    kg.raise_standard(date(2026, 3, 1), kg.plan.care_fee * Decimal("1.05"), "保教费")


@seeder("FEE-UNCLASSIFIED-ITEM")
def unclassified_item(kg: Seed) -> None:
    """A "computer class materials" fee that matches no fee item."""
    kg.add_charge(
        kg.other, "电脑课耗材费", Decimal("150.00"), date(2025, 9, 1), date(2025, 9, 30),
        date(2025, 9, 3),
    )  # fmt: skip


@seeder("INCLUSIVE-FEE-CAP")
def inclusive_fee_cap(kg: Seed) -> None:
    """Nothing to add: the plan's care standard is above the local cap (rules/regions)."""


@seeder("FEE-ABOVE-STANDARD")
def above_standard(kg: Seed) -> None:
    """May's care fee charged 150 above the standard."""
    kg.add_charge(
        kg.other, "保教费", kg.plan.care_fee + Decimal("150.00"), date(2026, 5, 1),
        date(2026, 5, 31), date(2026, 5, 2), replace_item="保教费",
    )  # fmt: skip


@seeder("HARDSHIP-NO-REDUCTION")
def hardship_no_reduction(kg: Seed) -> None:
    """A child of a low-income family pays the full care fee in December."""
    poor = next(c for c in kg.children if c.hardship != "none")
    kg.add_charge(
        poor, "保教费", kg.plan.care_fee, date(2025, 12, 1), date(2025, 12, 31),
        date(2025, 12, 1), replace_item="保教费",
    )  # fmt: skip


@seeder("FEE-NO-STANDARD")
def no_standard(kg: Seed) -> None:
    """A nursery-class fee with no approved standard."""
    kg.add_charge(
        kg.other, "托班保育费", Decimal("900.00"), date(2026, 3, 1), date(2026, 3, 31),
        date(2026, 3, 2),
    )  # fmt: skip


@seeder("FEE-ADJUST-FREQUENCY")
def adjust_frequency(kg: Seed) -> None:
    """A 5 % raise 17 months after the standard of 2024-09 (Weifang: in principle every 3–5
    years, so a warning)."""
    kg.raise_standard(date(2026, 2, 1), kg.plan.care_fee * Decimal("1.05"), "保教费")


@seeder("FEE-ADJUST-AMPLITUDE")
def adjust_amplitude(kg: Seed) -> None:
    """A 30 % raise at the start of the 2025 school year (Wuhu: at most 10 % at a time)."""
    kg.raise_standard(date(2025, 9, 1), kg.plan.care_fee * Decimal("1.30"), "保教费")


@seeder("FUNDING-LOWERED")
def funding_lowered(kg: Seed) -> None:
    """Funded at 3,000 a child a year in 2024-25, then at the regular 1,500 in 2025-26."""
    for period in SCHOOL_YEAR[0].shift(-12).until(SCHOOL_YEAR[0].shift(-1)):
        add_monthly_funding(
            kg.data, kg.plan, kg.children, period, "per_child_public_expense", Decimal("3000")
        )


@seeder("MEAL-SETTLEMENT")
def meal_settlement(kg: Seed) -> None:
    """The kindergarten keeps the meal money of absent days: no meal refunds at all."""
    kg.drop("refunds", lambda r: r.get("reason") != MEAL_REFUND_REASON)
