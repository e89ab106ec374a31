"""The record types of spec §2: columns (English and Chinese), cell parsers, natural keys.

This is the one validation path: CSV import, web forms and the demo all turn text cells into
typed records here, and write them through services.upsert.upsert_records.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any

from feecheck.domain.categories import (
    Category,
    Collector,
    FeeUnit,
    FundingSource,
    Grade,
    Hardship,
    LabelledEnum,
    parse_bool,
)
from feecheck.domain.money import CENT, MAX_AMOUNT, parse_amount
from feecheck.domain.periods import DATE_MAX, DATE_MIN, Period, parse_date
from feecheck.domain.reasons import Problem, Refused
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


class Invalid(Refused):
    """A cell that cannot be accepted, with the reason in English and Chinese."""


# Control characters (tab and line breaks aside) and bidirectional overrides have no place in a
# name, a receipt number or a note: they hide text or reorder it on screen.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def _text(limit: int) -> Callable[[str], str]:
    def parse(cell: str) -> str:
        value = cell.strip()
        if len(value) > limit:
            raise Invalid(f"longer than {limit} characters", f"超过 {limit} 个字符")
        if _CONTROL.search(value):
            raise Invalid(
                "holds control characters or text-direction overrides",
                "含有控制字符或文字方向控制符",
            )
        return value

    return parse


DATE_FORMATS = "YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD or YYYY年MM月DD日"
DATE_FORMATS_ZH = "YYYY-MM-DD、YYYY/MM/DD、YYYY.MM.DD 或 YYYY年MM月DD日"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_PLAIN_AMOUNT = re.compile(r"\d{1,10}(?:\.\d{1,2})?\Z")


def _date(cell: str) -> date:
    value = None
    if _ISO_DATE.match(cell):  # the common case, without NFKC and the general pattern
        with suppress(ValueError):
            value = date.fromisoformat(cell)
    if value is None:
        try:
            value = parse_date(cell)
        except ValueError as exc:
            raise Invalid(
                f"not a date: {_short(cell)!r} ({DATE_FORMATS})",
                f"不是有效日期：{_short(cell)}（可写 {DATE_FORMATS_ZH}）",
            ) from exc
    if not DATE_MIN <= value <= DATE_MAX:
        raise Invalid(
            f"date {value} is outside {DATE_MIN} .. {DATE_MAX}",
            f"日期 {value} 不在 {DATE_MIN} 至 {DATE_MAX} 之间",
        )
    return value


def _short(cell: str, limit: int = 40) -> str:
    """A cell as quoted in a reason: long cells cut, so one bad cell makes one short line."""
    return cell if len(cell) <= limit else cell[:limit] + "…"


def _amount(cell: str) -> Decimal:
    if _PLAIN_AMOUNT.match(cell):
        return Decimal(cell).quantize(CENT)
    try:
        value = parse_amount(cell)
    except (ValueError, ArithmeticError) as exc:
        raise Invalid(
            f"not an amount in yuan with at most two decimals: {_short(cell)!r}",
            f"不是有效金额（元，最多两位小数）：{_short(cell)}",
        ) from exc
    if abs(value) > MAX_AMOUNT:
        raise Invalid(
            f"amount {_short(cell)} is larger than {MAX_AMOUNT:,} (the most the database stores)",
            f"金额 {_short(cell)} 超过 {MAX_AMOUNT:,} 元（数据库可存储的上限）",
        )
    return value


def _non_negative_amount(cell: str) -> Decimal:
    value = _amount(cell)
    if value < 0:
        raise Invalid(f"amount must not be negative: {cell}", f"金额不能为负数：{cell}")
    return value


def _positive_amount(cell: str) -> Decimal:
    value = _amount(cell)
    if value <= 0:
        raise Invalid(f"amount must be greater than 0: {cell}", f"金额必须大于 0：{cell}")
    return value


def _count(limit: int) -> Callable[[str], int]:
    def parse(cell: str) -> int:
        text = unicodedata.normalize("NFKC", cell).strip()
        if not (text.isascii() and text.isdigit()):
            raise Invalid(f"not a whole number: {cell!r}", f"不是非负整数：{cell}")
        value = int(text)
        if value > limit:
            raise Invalid(f"more than {limit}: {value}", f"超过 {limit}：{value}")
        return value

    return parse


def _month(cell: str) -> str:
    text = unicodedata.normalize("NFKC", cell).strip()
    text = text.replace("/", "-").replace(".", "-").replace("年", "-").removesuffix("月")
    year, _, month = text.partition("-")
    try:
        if not (month.isascii() and month.isdigit()):
            raise ValueError(text)
        period = Period.parse(f"{year}-{int(month):02d}")
    except ValueError as exc:
        raise Invalid(
            f"not a month YYYY-MM: {cell!r}", f"不是有效月份（YYYY-MM 或 YYYY年M月）：{cell}"
        ) from exc
    if not DATE_MIN <= period.first_day <= DATE_MAX:
        raise Invalid(
            f"month {period} is outside {DATE_MIN:%Y-%m} .. {DATE_MAX:%Y-%m}",
            f"月份 {period} 不在 {DATE_MIN:%Y-%m} 至 {DATE_MAX:%Y-%m} 之间",
        )
    return str(period)


def _accounts(cell: str) -> list[str]:
    accounts = [part.strip() for part in cell.replace("；", ";").split(";") if part.strip()]
    for account in accounts:
        if len(account) > 64:
            raise Invalid(
                f"account longer than 64 characters: {account}", f"账户超过 64 个字符：{account}"
            )
    return accounts


def _region(cell: str) -> str:
    text = unicodedata.normalize("NFKC", cell).strip()
    try:
        return validate_region_code(text)
    except ValueError as exc:
        raise Invalid(
            f"not a 6-digit region code: {cell!r}", f"不是 6 位行政区划代码：{cell}"
        ) from exc


_BOOLS = {"是": True, "否": False, "1": True, "0": False, "Y": True, "N": False}


def _bool(cell: str) -> bool:
    if cell in _BOOLS:
        return _BOOLS[cell]
    try:
        return parse_bool(unicodedata.normalize("NFKC", cell))
    except ValueError as exc:
        raise Invalid(
            f"not a yes/no value: {cell!r} (yes/no/true/false/1/0/是/否/Y/N)",
            f"不是“是/否”值：{cell}（可写 是/否/Y/N/1/0/yes/no/true/false）",
        ) from exc


def _enum(enum: type[LabelledEnum]) -> Callable[[str], str]:
    expected = "、".join(f"{m.value} {m.label_zh}" for m in enum)
    known = {m.value: m.value for m in enum} | {m.label_zh: m.value for m in enum}

    def parse(cell: str) -> str:
        if cell in known:  # the exact code or Chinese name: no normalising needed
            return known[cell]
        try:
            return str(enum.parse(unicodedata.normalize("NFKC", cell)).value)
        except ValueError as exc:
            raise Invalid(
                f"unknown value {cell!r}; expected one of: {expected}",
                f"无法识别的取值：{cell}；可选：{expected}",
            ) from exc

    return parse


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
    row_checks: tuple[RowCheck, ...] = ()

    @cached_property
    def plan(self) -> tuple[tuple[str, Callable[[str], Any], bool], ...]:
        """(name, parser, required) per field: what parse_cells loops over, row after row."""
        return tuple((f.name, f.parse, f.required) for f in self.fields)

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def header_map(self) -> dict[str, str]:
        """Normalised header text (English or Chinese) -> field name."""
        mapping: dict[str, str] = {}
        for f in self.fields:
            mapping[normalise_header(f.name)] = f.name
            mapping[normalise_header(f.zh)] = f.name
        return mapping


def normalise_header(text: str) -> str:
    """Header cells compare after NFKC (full-width to ASCII), trimming and lower-casing."""
    return unicodedata.normalize("NFKC", text).strip().lower()


RowCheck = Callable[[Mapping[str, Any]], Problem | None]


def _period_order(start: str, end: str) -> RowCheck:
    def check(record: Mapping[str, Any]) -> Problem | None:
        first, last = record.get(start), record.get(end)
        if isinstance(first, date) and isinstance(last, date) and first > last:
            return Problem(
                0,
                end,
                f"{end} {last} is before {start} {first}",
                f"{_ZH_NAMES.get(end, end)} {last} 早于 {_ZH_NAMES.get(start, start)} {first}",
            )
        return None

    return check


def _absence_days(record: Mapping[str, Any]) -> Problem | None:
    absent, open_days = record.get("days_absent"), record.get("days_open")
    if isinstance(absent, int) and isinstance(open_days, int) and absent > open_days:
        return Problem(
            0,
            "days_absent",
            f"days_absent {absent} is more than days_open {open_days}",
            f"缺勤天数 {absent} 多于开园天数 {open_days}",
        )
    if open_days == 0:
        return Problem(0, "days_open", "days_open must be at least 1", "开园天数至少为 1")
    return None


_ZH_NAMES = {
    "left_on": "离园日期",
    "enrolled_on": "入园日期",
    "effective_from": "执行起始日期",
    "effective_to": "执行截止日期",
    "period_start": "期间起",
    "period_end": "期间止",
}


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
                Field("boarding", "是否寄宿", _bool),
                Field("capacity", "核定学位数", _count(100000)),
                Field("grade", "园所等级", _enum(Grade)),
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
                Field("birth_date", "出生日期", _date),
                Field("final_year", "学前一年", _bool),
                Field("enrolled_on", "入园日期", _date, True),
                Field("left_on", "离园日期", _date),
                Field("boarding", "是否寄宿", _bool),
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
                Field("effective_from", "执行起始日期", _date, True),
                Field("effective_to", "执行截止日期", _date),
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
                Field("period_start", "收费期间起", _date, True),
                Field("period_end", "收费期间止", _date, True),
                Field("paid_on", "缴费日期", _date, True),
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
                Field("period_start", "覆盖期间起", _date, True),
                Field("period_end", "覆盖期间止", _date, True),
                Field("received_on", "到账日期", _date, True),
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
                Field("refunded_on", "退费日期", _date, True),
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
                Field("inspected_on", "检查日期", _date, True),
                Field("inspector", "检查人", _text(100), True),
                Field("fees_disclosed", "收费公示", _bool, True),
                Field("notes", "备注", _text(2000)),
            ),
            key=("kindergarten_code", "inspected_on"),
        ),
    )
}


REQUIRED_MISSING = ("required value is missing", "缺少必填值")
NUL_IN_CELL = ("the cell holds a NUL character (binary data)", "单元格含有 NUL 字符（二进制数据）")
FORMULA_STARTS = frozenset("=+-@\t\r")


def parse_cells(
    record_type: RecordType, cells: Mapping[str, str]
) -> tuple[dict[str, Any], list[Problem]]:
    """Text cells (by field name) -> a typed record, or the errors that stop it."""
    record: dict[str, Any] = {}
    errors: list[Problem] = []
    for name, parse, required in record_type.plan:
        cell = cells.get(name)
        if cell:
            cell = cell.strip()
            if cell[:1] == "'" and cell[1:2] in FORMULA_STARTS:
                cell = cell[1:]  # a spreadsheet's text marker, as our own exports write it
        if not cell:
            if required:
                errors.append(Problem(0, name, *REQUIRED_MISSING))
            continue
        if "\x00" in cell:
            errors.append(Problem(0, name, *NUL_IN_CELL))
            continue
        try:
            record[name] = parse(cell)
        except Refused as exc:
            errors.append(exc.problem(name))
        except (ValueError, ArithmeticError) as exc:
            errors.append(Problem(0, name, f"not a valid value: {exc}", "取值无效"))
    if not errors:
        for check in record_type.row_checks:
            problem = check(record)
            if problem:
                errors.append(problem)
    return record, errors
