"""Plain facts the evaluators work on, one bundle per kindergarten. No database here."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property

from feecheck.domain.fee_items import normalise_item
from feecheck.domain.periods import Period, overlap_days


@dataclass(frozen=True, slots=True)
class ChildFact:
    id: int
    ref: str
    birth_date: date | None
    final_year: bool | None
    enrolled_on: date
    left_on: date | None
    boarding: bool
    hardship: str


@dataclass(frozen=True, slots=True)
class ChargeFact:
    id: int
    receipt_no: str
    child_id: int
    fee_item: str
    item_category: str
    amount: Decimal
    period_start: date
    period_end: date
    paid_on: date
    account: str
    collector: str
    item_key: str = ""  # FeeItemTaxonomy.item_key(fee_item): which standard is its own


@dataclass(frozen=True, slots=True)
class StandardFact:
    id: int
    fee_item: str
    item_category: str
    amount: Decimal
    unit: str
    effective_from: date
    effective_to: date | None
    item_key: str = ""  # FeeItemTaxonomy.item_key(fee_item)

    def in_effect(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )

    @property
    def key(self) -> str:
        return f"{self.fee_item}@{self.effective_from.isoformat()}"


@dataclass(frozen=True)
class StandardMatch:
    """Which standard judges a charge, and how it was found: by its own item, as the one
    standard of its category, or none (ambiguous: several of the category, none its own)."""

    standard: StandardFact | None
    how: str  # item | category | ambiguous | none
    candidates: tuple[StandardFact, ...] = ()


@dataclass(frozen=True, slots=True)
class FundingFact:
    reference: str
    source: str
    amount: Decimal
    period_start: date
    period_end: date
    received_on: date


@dataclass(frozen=True, slots=True)
class RefundFact:
    charge_id: int
    refund_no: str
    amount: Decimal
    refunded_on: date


@dataclass(frozen=True, slots=True)
class AbsenceFact:
    child_id: int
    month: str
    days_absent: int
    days_open: int


@dataclass(frozen=True, slots=True)
class InspectionFact:
    inspected_on: date
    inspector: str
    fees_disclosed: bool


@dataclass
class KindergartenFacts:
    id: int
    code: str
    name: str
    region_code: str
    category: str
    boarding: bool
    accounts: frozenset[str]
    grade: str | None = None  # 园所等级; None: not recorded
    children: dict[int, ChildFact] = field(default_factory=dict)
    charges: list[ChargeFact] = field(default_factory=list)
    standards: list[StandardFact] = field(default_factory=list)
    funding: list[FundingFact] = field(default_factory=list)
    refunds: dict[int, list[RefundFact]] = field(default_factory=dict)
    absences: dict[tuple[int, str], AbsenceFact] = field(default_factory=dict)
    inspections: list[InspectionFact] = field(default_factory=list)
    # Which standards are in effect on a day, and which one judges a charge, are asked once per
    # charge and rule: remembered per kindergarten (facts are not changed once loaded).
    _in_effect: dict[tuple[date, str | None], list[StandardFact]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _matches: dict[tuple[str, str, date, str], StandardMatch] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @cached_property
    def _charges_by_paid_month(self) -> dict[Period, list[ChargeFact]]:
        index: dict[Period, list[ChargeFact]] = defaultdict(list)
        for charge in self.charges:
            index[Period.of(charge.paid_on)].append(charge)
        return index

    def charges_paid_in(self, period: Period) -> list[ChargeFact]:
        return self._charges_by_paid_month.get(period, [])

    @cached_property
    def _charges_by_covered_month(self) -> dict[Period, list[ChargeFact]]:
        index: dict[Period, list[ChargeFact]] = defaultdict(list)
        for charge in self.charges:
            for period in Period.of(charge.period_start).until(Period.of(charge.period_end)):
                index[period].append(charge)
        return index

    def charges_covering(self, period: Period) -> list[ChargeFact]:
        """Charges whose billing period overlaps the month."""
        return self._charges_by_covered_month.get(period, [])

    @cached_property
    def charges_covering_withdrawal(self) -> list[ChargeFact]:
        """Charges whose billing period contains the day their child left."""
        return [
            c
            for c in self.charges
            if (left_on := self.children[c.child_id].left_on) is not None
            and c.period_start <= left_on <= c.period_end
        ]

    def standards_in_effect(
        self, day: date, item_category: str | None = None
    ) -> list[StandardFact]:
        """The standards in effect on a day, per item those that took effect last: a later
        standard of an item supersedes an earlier one; two standards of one item (synonyms such
        as 保教费 and 学费) taking effect on the same day are both kept, never only the higher."""
        key = (day, item_category)
        found = self._in_effect.get(key)
        if found is None:
            found = self._in_effect[key] = self._standards_in_effect(day, item_category)
        return found

    def _standards_in_effect(self, day: date, item_category: str | None) -> list[StandardFact]:
        latest: dict[str, list[StandardFact]] = {}
        for s in self.standards:
            if not s.in_effect(day) or (item_category and s.item_category != item_category):
                continue
            kept = latest.get(s.item_key)
            if kept is None or s.effective_from > kept[0].effective_from:
                latest[s.item_key] = [s]
            elif s.effective_from == kept[0].effective_from:
                kept.append(s)
        return sorted(
            (s for group in latest.values() for s in group),
            key=lambda s: (s.item_key, s.effective_from, s.fee_item),
        )

    def match_standard(
        self, item_key: str, item_category: str, day: date, fee_item: str = ""
    ) -> StandardMatch:
        """The standard a charge is judged by (fee-rules.md §4 "Which standard a charge is judged
        by"): its own item's standard in effect on `day` (where synonyms have a standard each,
        the one written as the charge is); else, when exactly one standard of its category is in
        effect, that one; several and none of them its own: none (ambiguous), never the highest.
        Unclassified items are matched by item only."""
        key = (item_key, item_category, day, fee_item)
        found = self._matches.get(key)
        if found is None:
            found = self._match_standard(item_key, item_category, day, fee_item)
            self._matches[key] = found
        return found

    def _match_standard(
        self, item_key: str, item_category: str, day: date, fee_item: str
    ) -> StandardMatch:
        in_effect = self.standards_in_effect(day)
        own = [s for s in in_effect if s.item_key == item_key]
        if len(own) > 1 and fee_item:
            written = normalise_item(fee_item)
            exact = [s for s in own if normalise_item(s.fee_item) == written]
            if len(exact) == 1:
                return StandardMatch(exact[0], "item")
        if len(own) == 1:
            return StandardMatch(own[0], "item")
        if own:
            return StandardMatch(None, "ambiguous", tuple(own))
        if item_category == "unclassified":
            return StandardMatch(None, "none")
        of_category = [s for s in in_effect if s.item_category == item_category]
        if len(of_category) == 1:
            return StandardMatch(of_category[0], "category")
        if of_category:
            return StandardMatch(None, "ambiguous", tuple(of_category))
        return StandardMatch(None, "none")

    def refunded(self, charge_id: int, by: date) -> tuple[Decimal, list[str]]:
        refunds = [r for r in self.refunds.get(charge_id, []) if r.refunded_on <= by]
        return sum((r.amount for r in refunds), Decimal(0)), [r.refund_no for r in refunds]

    def child_days(self, period: Period) -> int:
        """Σ over children of the days of the month they were enrolled (fee-rules.md §3)."""
        child_days = 0
        for child in self.children.values():
            last = (child.left_on - timedelta(days=1)) if child.left_on else period.last_day
            child_days += overlap_days(child.enrolled_on, last, period.first_day, period.last_day)
        return child_days

    def enrolment(self, period: Period) -> Decimal:
        """Average daily enrolment in a month: child-days ÷ days in the month."""
        return Decimal(self.child_days(period)) / period.days


@dataclass
class Facts:
    kindergartens: list[KindergartenFacts]
