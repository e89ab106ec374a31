"""The record types of spec §2: columns (English and Chinese), cell parsers, natural keys.

This is the one validation path: CSV import, web forms and the demo all turn text cells into
typed records here, and write them through services.records.upsert_records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from feecheck.domain.categories import (
    Category,
    Collector,
    FeeUnit,
    FundingSource,
    Hardship,
    parse_bool,
)
from feecheck.domain.money import parse_amount
from feecheck.domain.periods import Period, parse_date
from feecheck.domain.regions import validate_region_code
from feecheck.models import (
    Absence,
    Base,
    Charge,
    Child,
    FeeStandard,
    Funding,
    Inspection,
    Kindergarten,
    Refund,
)


def _text(limit: int) -> Callable[[str], str]:
    def parse(cell: str) -> str:
        value = cell.strip()
        if len(value) > limit:
            raise ValueError(f"longer than {limit} characters")
        return value

    return parse


def _non_negative_amount(cell: str) -> Any:
    value = parse_amount(cell)
    if value < 0:
        raise ValueError(f"amount must not be negative: {cell.strip()}")
    return value


def _positive_amount(cell: str) -> Any:
    value = parse_amount(cell)
    if value <= 0:
        raise ValueError(f"amount must be greater than 0: {cell.strip()}")
    return value


def _count(limit: int) -> Callable[[str], int]:
    def parse(cell: str) -> int:
        text = cell.strip()
        if not text.isdigit():
            raise ValueError(f"not a whole number: {cell!r}")
        value = int(text)
        if value > limit:
            raise ValueError(f"more than {limit}: {value}")
        return value

    return parse


def _month(cell: str) -> str:
    text = cell.strip().replace("/", "-").replace(".", "-").replace("年", "-").rstrip("月")
    year, _, month = text.partition("-")
    return str(Period.parse(f"{year}-{int(month):02d}" if month.isdigit() else text))


def _accounts(cell: str) -> list[str]:
    accounts = [part.strip() for part in cell.replace("；", ";").split(";") if part.strip()]
    for account in accounts:
        if len(account) > 64:
            raise ValueError(f"account longer than 64 characters: {account}")
    return accounts


def _region(cell: str) -> str:
    return validate_region_code(cell.strip())


def _enum(enum: Any) -> Callable[[str], str]:
    return lambda cell: str(enum.parse(cell).value)


@dataclass(frozen=True)
class Field:
    name: str
    zh: str
    parse: Callable[[str], Any]
    required: bool = False


@dataclass(frozen=True)
class RecordType:
    """One CSV file type: its columns, its natural key, the model it writes."""

    name: str
    zh: str
    model: type[Base]
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    row_checks: tuple[Callable[[Mapping[str, Any]], tuple[str, str] | None], ...] = ()

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def header_map(self) -> dict[str, str]:
        """Normalised header text (English or Chinese) -> field name."""
        mapping: dict[str, str] = {}
        for f in self.fields:
            mapping[f.name.lower()] = f.name
            mapping[f.zh] = f.name
        return mapping


def _period_order(start: str, end: str) -> Callable[[Mapping[str, Any]], tuple[str, str] | None]:
    def check(record: Mapping[str, Any]) -> tuple[str, str] | None:
        first, last = record.get(start), record.get(end)
        if isinstance(first, date) and isinstance(last, date) and first > last:
            return end, f"{end} {last} is before {start} {first}"
        return None

    return check


def _absence_days(record: Mapping[str, Any]) -> tuple[str, str] | None:
    absent, open_days = record.get("days_absent"), record.get("days_open")
    if isinstance(absent, int) and isinstance(open_days, int) and absent > open_days:
        return "days_absent", f"days_absent {absent} is more than days_open {open_days}"
    if open_days == 0:
        return "days_open", "days_open must be at least 1"
    return None


KG_CODE = Field("kindergarten_code", "园所代码", _text(32), True)
CHILD_REF = Field("child_ref", "幼儿编号", _text(64), True)

RECORD_TYPES: dict[str, RecordType] = {
    t.name: t
    for t in (
        RecordType(
            "kindergartens",
            "园所",
            Kindergarten,
            (
                Field("code", "园所代码", _text(32), True),
                Field("name", "园所名称", _text(200), True),
                Field("region_code", "行政区划代码", _region, True),
                Field("category", "办园性质", _enum(Category), True),
                Field("filed_accounts", "备案收费账户", _accounts),
                Field("boarding", "是否寄宿", parse_bool),
                Field("capacity", "核定学位数", _count(100000)),
            ),
            key=("code",),
        ),
        RecordType(
            "children",
            "幼儿",
            Child,
            (
                KG_CODE,
                CHILD_REF,
                Field("name", "幼儿姓名", _text(100)),
                Field("birth_date", "出生日期", parse_date),
                Field("final_year", "学前一年", parse_bool),
                Field("enrolled_on", "入园日期", parse_date, True),
                Field("left_on", "离园日期", parse_date),
                Field("boarding", "是否寄宿", parse_bool),
                Field("hardship", "资助类别", _enum(Hardship)),
            ),
            key=("kindergarten_code", "child_ref"),
            row_checks=(_period_order("enrolled_on", "left_on"),),
        ),
        RecordType(
            "fee-standards",
            "收费标准",
            FeeStandard,
            (
                KG_CODE,
                Field("fee_item", "收费项目", _text(100), True),
                Field("amount", "标准金额", _non_negative_amount, True),
                Field("unit", "计费单位", _enum(FeeUnit), True),
                Field("effective_from", "执行起始日期", parse_date, True),
                Field("effective_to", "执行截止日期", parse_date),
                Field("approval_ref", "批准文号", _text(200)),
            ),
            key=("kindergarten_code", "fee_item", "effective_from"),
            row_checks=(_period_order("effective_from", "effective_to"),),
        ),
        RecordType(
            "charges",
            "收费记录",
            Charge,
            (
                Field("receipt_no", "票据号", _text(64), True),
                KG_CODE,
                CHILD_REF,
                Field("fee_item", "收费项目", _text(100), True),
                Field("amount", "金额", _non_negative_amount, True),
                Field("period_start", "收费期间起", parse_date, True),
                Field("period_end", "收费期间止", parse_date, True),
                Field("paid_on", "缴费日期", parse_date, True),
                Field("account", "收款账户", _text(64), True),
                Field("collector", "收费主体", _enum(Collector)),
            ),
            key=("kindergarten_code", "receipt_no"),
            row_checks=(_period_order("period_start", "period_end"),),
        ),
        RecordType(
            "funding",
            "财政经费",
            Funding,
            (
                Field("reference", "凭证号", _text(64), True),
                KG_CODE,
                Field("source", "经费来源", _enum(FundingSource), True),
                Field("amount", "金额", _non_negative_amount, True),
                Field("period_start", "覆盖期间起", parse_date, True),
                Field("period_end", "覆盖期间止", parse_date, True),
                Field("received_on", "到账日期", parse_date, True),
            ),
            key=("kindergarten_code", "reference"),
            row_checks=(_period_order("period_start", "period_end"),),
        ),
        RecordType(
            "refunds",
            "退费",
            Refund,
            (
                KG_CODE,
                Field("receipt_no", "原票据号", _text(64), True),
                Field("refund_no", "退费单号", _text(64), True),
                Field("amount", "退费金额", _positive_amount, True),
                Field("refunded_on", "退费日期", parse_date, True),
                Field("reason", "退费原因", _text(200)),
            ),
            key=("kindergarten_code", "refund_no"),
        ),
        RecordType(
            "absences",
            "缺勤",
            Absence,
            (
                KG_CODE,
                CHILD_REF,
                Field("month", "月份", _month, True),
                Field("days_absent", "缺勤天数", _count(31), True),
                Field("days_open", "开园天数", _count(31), True),
            ),
            key=("kindergarten_code", "child_ref", "month"),
            row_checks=(_absence_days,),
        ),
        RecordType(
            "inspections",
            "检查",
            Inspection,
            (
                KG_CODE,
                Field("inspected_on", "检查日期", parse_date, True),
                Field("inspector", "检查人", _text(100), True),
                Field("fees_disclosed", "收费公示", parse_bool, True),
                Field("notes", "备注", _text(2000)),
            ),
            key=("kindergarten_code", "inspected_on"),
        ),
    )
}


@dataclass(frozen=True)
class CellError:
    column: str
    reason: str


def parse_cells(
    record_type: RecordType, cells: Mapping[str, str]
) -> tuple[dict[str, Any], list[CellError]]:
    """Text cells (by field name) -> a typed record, or the errors that stop it."""
    record: dict[str, Any] = {}
    errors: list[CellError] = []
    for f in record_type.fields:
        cell = (cells.get(f.name) or "").strip()
        if not cell:
            if f.required:
                errors.append(CellError(f.name, "required value is missing"))
            continue
        try:
            record[f.name] = f.parse(cell)
        except ValueError as exc:
            errors.append(CellError(f.name, str(exc)))
    if not errors:
        for check in record_type.row_checks:
            problem = check(record)
            if problem:
                errors.append(CellError(*problem))
    return record, errors
