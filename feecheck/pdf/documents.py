"""What the PDF documents show, as plain data: services/reports.py and services/notices.py build
these from the database and the check; pdf/report.py and pdf/notice.py only render them.

Everything a page prints is here already as text or Decimal (no query, no clock, no rules
lookup while rendering), so the same data renders to the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class FindingLine:
    """One finding as a report or a notice lists it."""

    rule_id: str
    title: str  # the rule's title in Chinese
    severity: str  # violation | warning | info
    severity_label: str  # 违规 / 提醒 / 信息
    status_label: str  # 待处理 / 已确认 / …
    period: str
    citation: str
    quote: str  # the clause's key phrase
    message: str  # what was found, in Chinese, with receipts, amounts and periods
    child_ref: str | None
    receipts: tuple[str, ...]
    amount_due: Decimal | None


@dataclass(frozen=True)
class MonthFigure:
    """A figure for one month of a chart (None: nothing to show that month)."""

    period: str
    value: Decimal | None


@dataclass(frozen=True)
class ItemTotal:
    fee_item: str
    charges: int
    amount: Decimal


@dataclass(frozen=True)
class ParameterLine:
    name: str
    description: str
    value: str
    layer: str  # 国家 / 省级 / 市级 / 区县级
    source: str
    flags: str  # 未核实 / 原则上 / 默认值 …


@dataclass(frozen=True)
class RuleLine:
    rule_id: str
    title: str
    citation: str
    status: str  # 适用 / 本地不适用 …
    parameters: tuple[ParameterLine, ...] = ()


@dataclass(frozen=True)
class FundingLine:
    """Public funding per child, annualised, against the standard that applies."""

    label: str  # 生均财政拨款和公用经费 / 普惠性民办园补助
    per_child_year: Decimal | None
    threshold: Decimal | None
    threshold_label: str  # 经费底线 / 补助标准

    @property
    def below(self) -> bool:
        return (
            self.per_child_year is not None
            and self.threshold is not None
            and self.per_child_year < self.threshold
        )


@dataclass(frozen=True)
class KindergartenReport:
    """The monthly compliance report of one kindergarten (issue 14 §1)."""

    report_no: str
    period: str
    generated_on: date
    ruleset_hash: str
    office: str
    code: str
    name: str
    category_label: str
    grade_label: str
    region_code: str
    region_name: str
    children_enrolled: int  # on the month's last day
    average_enrolment: Decimal  # child-days ÷ days of the month
    charges_by_item: tuple[ItemTotal, ...]
    charges_total: Decimal
    funding: tuple[FundingLine, ...]
    findings_by_severity: dict[str, int]
    findings_by_status: dict[str, int]
    refunds_due: Decimal
    refunded: Decimal
    findings: tuple[FindingLine, ...]
    funding_by_month: tuple[MonthFigure, ...]
    funding_threshold: Decimal | None
    charges_by_month: tuple[MonthFigure, ...]
    rules: tuple[RuleLine, ...]
    not_evaluated: tuple[str, ...] = ()

    @property
    def outstanding(self) -> Decimal:
        return max(self.refunds_due - self.refunded, Decimal("0.00"))


@dataclass(frozen=True)
class RegionRow:
    code: str
    name: str
    category_label: str
    violations: int
    warnings: int
    funding: str  # e.g. "1,545 / 600 达标", "427 / 600 低于底线", "—"
    funding_below: bool
    outstanding: Decimal


@dataclass(frozen=True)
class RegionReport:
    """The monthly report of a region (issue 14 §2)."""

    report_no: str
    period: str
    generated_on: date
    ruleset_hash: str
    office: str
    region_code: str
    region_name: str
    kindergartens: int
    by_category: tuple[tuple[str, int], ...]  # (category label, count)
    rows: tuple[RegionRow, ...]
    top_rules: tuple[tuple[str, str, int], ...]  # (rule id, title, violations)
    violations: int
    warnings: int
    outstanding: Decimal
    violations_by_month: tuple[MonthFigure, ...]
    details: tuple[KindergartenReport, ...] = ()  # --with-details


@dataclass(frozen=True)
class RefundItem:
    """Money a notice orders returned to a family."""

    child_ref: str
    receipt_no: str
    rule_id: str
    due: Decimal
    refunded: Decimal

    @property
    def outstanding(self) -> Decimal:
        return max(self.due - self.refunded, Decimal("0.00"))


@dataclass(frozen=True)
class Inspector:
    name: str
    certificate: str  # 执法证号


@dataclass(frozen=True)
class NoticeDocument:
    """A notice to correct (整改通知书, issue 14 §3)."""

    number: str
    office: str
    kindergarten_name: str
    kindergarten_code: str
    period_from: str
    period_to: str
    inspection_dates: tuple[date, ...]
    issued_on: date
    deadline: date
    deadline_days: int
    violations: tuple[FindingLine, ...]
    refunds: tuple[RefundItem, ...]
    inspectors: tuple[Inspector, ...]
    requirements: tuple[str, ...] = field(default=())

    @property
    def refunds_due(self) -> Decimal:
        return sum((r.due for r in self.refunds), Decimal("0.00"))

    @property
    def refunds_outstanding(self) -> Decimal:
        return sum((r.outstanding for r in self.refunds), Decimal("0.00"))
