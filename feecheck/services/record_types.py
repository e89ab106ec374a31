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


_LINE_BREAK = re.compile(r"\s*(?:\r\n|\r|\n)\s*")
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")


def join_lines(text: str) -> str:
    """A cell wrapped over several lines (a PDF, a wrapped Excel cell) as one line: the break
    is dropped between Chinese characters and becomes one space elsewhere."""

    def join(match: re.Match[str]) -> str:
        before = text[match.start() - 1] if match.start() else ""
        after = text[match.end()] if match.end() < len(text) else ""
        return "" if _CJK.match(before) and _CJK.match(after) else " "

    return _LINE_BREAK.sub(join, text) if ("\n" in text or "\r" in text) else text


def _text(limit: int) -> Callable[[str], str]:
    def parse(cell: str) -> str:
        value = join_lines(cell.strip())
        if len(value) > limit:
            raise Invalid(f"longer than {limit} characters", f"超过 {limit} 个字符")
        if not value.isprintable() and _CONTROL.search(value):  # _CONTROL finds no printable
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


UNIT_WORDS = {"月": "month", "天": "day", "日": "day", "学期": "semester", "期": "semester"}
_PER_UNIT = re.compile(
    r"^(?P<amount>[¥￥]?\d[\d,]*(?:\.\d+)?)\s*元?\s*(?:/|每)\s*"
    r"(?:(?:人|生|名|幼儿|童)\s*[/·.]?\s*)?(?P<unit>学期|月|天|日|期)$"
)
_OTHER_UNIT = re.compile(
    r"^[¥￥]?\d[\d,]*(?:\.\d+)?\s*元?\s*(?:/|每)\s*(?:(?:人|生|名|幼儿|童)\s*[/·.]?\s*)?"
    r"(?P<unit>小时|课时|节|次|周|星期|年|学年)$"
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class AmountPerUnit:
    """A standard's amount written with its unit: 175元/月, 9元/人/天, 2500元/生·月."""

    amount: Decimal
    unit: str


def unit_in(text: str) -> str | None:
    """The unit an amount or a header names: 元/月 -> month; None when it names none."""
    match = re.search(r"(?:/|每)\s*(?:(?:人|生|名|幼儿|童)\s*[/·.]?\s*)?(学期|月|天|日)", text)
    return UNIT_WORDS[match[1]] if match else None


def _standard_amount(cell: str) -> Decimal | AmountPerUnit:
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", cell))
    if len(_NUMBER.findall(text.replace(",", ""))) > 1:
        raise Invalid(
            f"{_short(cell)!r} holds more than one amount: give one row per item, e.g. "
            "保教费（成长班） 2500 and 保教费（国际班） 4000",
            f"“{_short(cell)}”含有多个金额：请每个收费项目写一行，例如“保教费（成长班）2500”和“保教费（国际班）4000”",
        )
    match = _PER_UNIT.match(text)
    if match:
        return AmountPerUnit(_non_negative_amount(match["amount"]), UNIT_WORDS[match["unit"]])
    other = _OTHER_UNIT.match(text)
    if other:
        raise Invalid(
            f"{_short(cell)!r}: a standard per {other['unit']} is not supported; fee standards "
            "are per month, semester or day (月/学期/天): convert it, e.g. 2000元/学期",
            f"“{_short(cell)}”：不支持按“{other['unit']}”计费的标准；收费标准须按月、学期或天计，"
            "请换算后填写，例如“2000元/学期”",
        )
    return _non_negative_amount(cell)


def _standard_unit(record: dict[str, Any]) -> Problem | None:
    """The unit from its column, or from the amount (175元/月) when the column is empty; the
    two must agree."""
    amount = record.get("amount")
    if isinstance(amount, AmountPerUnit):
        record["amount"] = amount.amount
        if record.get("unit") is None:
            record["unit"] = amount.unit
        elif record["unit"] != amount.unit:
            return Problem(
                0,
                "unit",
                f"the amount says per {amount.unit}, the unit given for it (its column, or the "
                f"amount's header) says {record['unit']}: correct one of them",
                f"金额写的是每{_UNIT_ZH[amount.unit]}，计费单位（该列或金额列的表头）却是"
                f"{_UNIT_ZH[record['unit']]}：请改正其中之一",
            )
    if record.get("unit") is None:
        return Problem(
            0,
            "unit",
            "no unit: fill 计费单位 (月/学期/天) or write it with the amount (e.g. 175元/月)",
            "缺少计费单位：请填写计费单位（月/学期/天），或在金额中写明（如“175元/月”）",
        )
    return None


_UNIT_ZH = {"month": "月", "day": "天", "semester": "学期"}


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
    aliases: tuple[str, ...] = ()  # other headers real lists use (README: "Headers")
    stored: bool = True  # False: read to decide another field (e.g. `inclusive`), not a column


@dataclass(frozen=True)
class RecordType:
    """One CSV file type: its columns, its natural key, the model it writes."""

    name: str
    zh: str
    model: type[Base]
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    row_checks: tuple[RowCheck, ...] = ()

    @property
    def sheet(self) -> str:
        """The name of this type's sheet in a workbook (templates, exports, `import workbook`)."""
        return SHEETS[self.name]

    @cached_property
    def sheet_keys(self) -> frozenset[str]:
        """The sheet names (normalised) that mean this type: the sheet name, the CLI word, the
        Chinese name and the names offices give them (幼儿园名单)."""
        names = (self.sheet, self.name, self.zh, *SHEET_ALIASES.get(self.name, ()))
        return frozenset(normalise_header(n) for n in names)

    @cached_property
    def plan(self) -> tuple[tuple[str, Callable[[str], Any], bool], ...]:
        """(name, parser, required) per field: what parse_cells loops over, row after row."""
        return tuple((f.name, f.parse, f.required) for f in self.fields)

    @cached_property
    def cell_caches(self) -> _CellCaches:
        """The plan with each field's cache of the cells already parsed."""
        return _CellCaches(self.plan)

    @cached_property
    def not_stored(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if not f.stored)

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    @cached_property
    def _headers(self) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for f in self.fields:
            for header in (f.name, f.zh, *f.aliases):
                mapping.setdefault(normalise_header(header), f.name)
        return mapping

    def header_map(self) -> dict[str, str]:
        """Normalised header text (English, Chinese or an alias) -> field name."""
        return dict(self._headers)

    def header_rank(self, name: str, header: str) -> int:
        """How well a header names a field: 0 its English name, 1 its Chinese name, then the
        aliases in the order listed (办学许可证号 before 统一社会信用代码); lower wins when two
        columns name one field."""
        f = self.field(name)
        key = normalise_header(header)
        bare = _BRACKETED.sub("", key).strip("*")
        parts = {_BRACKETED.sub("", part).strip("*") for part in _HEADER_PARTS.split(key)}
        for rank, written in enumerate((f.name, f.zh, *f.aliases)):
            known = normalise_header(written)
            if known in (key, bare) or known in parts:
                return rank
        return len(f.aliases) + 2

    def field_for_header(self, header: str) -> str | None:
        """The field a header cell names, as real lists write them: a header broken over lines,
        with a unit or a note in brackets (标准金额（元）), a required mark (*), or naming two
        things at once (办学许可证号/事业单位法人证书号)."""
        known = self._headers
        key = normalise_header(header)
        if not key:
            return None
        if key in known:
            return known[key]
        bare = _BRACKETED.sub("", key).strip("*")
        if bare in known:
            return known[bare]
        for part in _HEADER_PARTS.split(key):
            part = _BRACKETED.sub("", part).strip("*")
            if part in known:
                return known[part]
        return None


_BRACKETED = re.compile(r"[(\[【（][^)\]】）]*[)\]】）]")
_HEADER_PARTS = re.compile(r"[/／|、]|或")


def normalise_header(text: str) -> str:
    """Header cells compare after NFKC (full-width to ASCII), lower-casing, and without any
    whitespace (a PDF or a wrapped Excel cell breaks 幼儿园名称 over two lines)."""
    if text.isascii():  # NFKC leaves ASCII as it is; str.split() splits on what \s matches
        return "".join(text.split()).lower()
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", text)).lower()


_WHITESPACE = re.compile(r"\s+")


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


AMBIGUOUS_PRIVATE = "?private"  # 民办/私立: non-profit or for-profit? (_kindergarten_category)
NOT_INCLUSIVE_PRIVATE = "?private-not-inclusive"  # 民办非普惠: the same question
_AMBIGUOUS_PRIVATE = {"民办", "民办园", "民办幼儿园", "私立", "私立园", "私立幼儿园"}
_NOT_INCLUSIVE_PRIVATE = {"民办非普", "民办非普惠", "非普惠性民办", "非普惠民办", "非普惠"}
_category_enum = _enum(Category)


def _category(cell: str) -> str:
    """The category code, or a marker with the words as written (民办, 私立, 民办非普惠…) that
    _kindergarten_category settles with 是否普惠 or refuses."""
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", cell))
    text = re.sub(r"[()\[\]【】]", "", text)  # 民办（普惠） is 民办普惠
    if text in _AMBIGUOUS_PRIVATE:
        return f"{AMBIGUOUS_PRIVATE}:{text}"
    if text in _NOT_INCLUSIVE_PRIVATE:
        return f"{NOT_INCLUSIVE_PRIVATE}:{text}"
    return _category_enum(text)


def _kindergarten_category(record: Mapping[str, Any]) -> Problem | None:
    """Settle 办园性质 with 是否普惠: a private kindergarten marked inclusive is inclusive_private;
    a bare 民办 or 私立 is refused, saying what to write instead."""
    category, inclusive = record.get("category"), record.pop("inclusive", None)
    marker, _, written = (
        (category or "").partition(":") if isinstance(category, str) else ("", "", "")
    )
    choose_en = "write 非营利性民办 (nonprofit_private) or 营利性民办 (forprofit_private)"
    choose_zh = "请写明“非营利性民办”或“营利性民办”"
    if marker == AMBIGUOUS_PRIVATE and inclusive:
        record["category"] = Category.INCLUSIVE_PRIVATE.value
    elif marker == NOT_INCLUSIVE_PRIVATE and inclusive:
        return Problem(
            0,
            "inclusive",
            f"是否普惠 says yes, 办园性质 says not inclusive ({written})",
            f"是否普惠为“是”，但办园性质写明非普惠（{written}）",
        )
    elif marker in (AMBIGUOUS_PRIVATE, NOT_INCLUSIVE_PRIVATE) and (
        inclusive is False or marker == NOT_INCLUSIVE_PRIVATE
    ):
        return Problem(
            0,
            "category",
            f"{written!r}: a private kindergarten that is not inclusive, but is it non-profit or "
            f"for-profit? {choose_en}",
            f"办园性质“{written}”：非普惠的民办园，但无法判断是非营利性还是营利性；{choose_zh}",
        )
    elif marker == AMBIGUOUS_PRIVATE:
        return Problem(
            0,
            "category",
            f"{written!r}: a private kindergarten, but is it non-profit or for-profit? "
            f"{choose_en}, or 普惠性民办 (inclusive_private) if it is recognised as inclusive, "
            "or give the column 是否普惠",
            f"办园性质只写了“{written}”，无法判断是非营利性还是营利性：{choose_zh}；"
            "经认定为普惠园的写“普惠性民办”，或填写“是否普惠”列",
        )
    elif inclusive and category == Category.NONPROFIT_PRIVATE.value:
        record["category"] = Category.INCLUSIVE_PRIVATE.value
    elif inclusive and category == Category.FORPROFIT_PRIVATE.value:
        return Problem(
            0,
            "inclusive",
            "a for-profit kindergarten cannot be inclusive (Preschool Education Law Art. 24)",
            "营利性民办园不能认定为普惠园（学前教育法第二十四条）",
        )
    elif inclusive is False and category == Category.INCLUSIVE_PRIVATE.value:
        return Problem(
            0,
            "inclusive",
            "办园性质 says inclusive, 是否普惠 says no",
            "办园性质为普惠性民办，但是否普惠为“否”",
        )
    return None


_INCLUSIVE_WORDS = {
    "普惠": True,
    "普惠园": True,
    "普惠性": True,
    "非普惠": False,
    "非普惠园": False,
}


def _inclusive(cell: str) -> bool:
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", cell))
    if text in _INCLUSIVE_WORDS:
        return _INCLUSIVE_WORDS[text]
    return _bool(cell)


KG_CODE = Field("kindergarten_code", "园所代码", _text(32), True, ("幼儿园代码", "办学许可证号"))
CHILD_REF = Field("child_ref", "幼儿编号", _text(64), True)

RECORD_TYPES: dict[str, RecordType] = {
    t.name: t
    for t in (
        RecordType(
            "kindergartens",
            "园所",
            Kindergarten,
            (
                Field(
                    "code",
                    "园所代码",
                    _text(32),
                    True,
                    (
                        "幼儿园代码",
                        "办学许可证号",
                        "办学许可证编号",
                        "办学许可证",
                        "民办学校办学许可证号",
                        "注册证号",
                        "幼儿园注册证号",
                        "注册号",
                        "机构标识码",
                        "学校标识码",
                        "事业单位法人证书号",
                        "统一社会信用代码",
                    ),
                ),
                Field(
                    "name",
                    "园所名称",
                    _text(200),
                    True,
                    ("幼儿园名称", "单位名称", "学校名称", "园名", "幼儿园", "名称"),
                ),
                Field("region_code", "行政区划代码", _region, True, ("区划代码", "行政区划")),
                Field(
                    "category",
                    "办园性质",
                    _category,
                    True,
                    ("性质", "办园类型", "办学性质", "类别"),
                ),
                Field("filed_accounts", "备案收费账户", _accounts, False, ("收费账户",)),
                Field("boarding", "是否寄宿", _bool, False, ("寄宿",)),
                Field("capacity", "核定学位数", _count(100000), False, ("学位数", "核定规模")),
                Field("grade", "园所等级", _enum(Grade), False, ("等级", "幼儿园等级", "评估等级")),
                Field(
                    "inclusive",
                    "是否普惠",
                    _inclusive,
                    False,
                    ("普惠", "是否普惠园", "是否普惠性幼儿园", "普惠性"),
                    stored=False,
                ),
            ),
            key=("code",),
            row_checks=(_kindergarten_category,),
        ),
        RecordType(
            "children",
            "幼儿",
            Child,
            (
                KG_CODE,
                CHILD_REF,
                Field("name", "幼儿姓名", _text(100), False, ("姓名",)),
                Field("birth_date", "出生日期", _date, False, ("出生年月日",)),
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
                Field("fee_item", "收费项目", _text(100), True, ("项目", "收费项目名称")),
                Field("amount", "标准金额", _standard_amount, True, ("收费标准", "标准", "金额")),
                # the unit may instead be written with the amount (175元/月) or in its header
                Field("unit", "计费单位", _enum(FeeUnit), False, ("单位", "计费方式")),
                Field(
                    "effective_from",
                    "执行起始日期",
                    _date,
                    True,
                    ("执行日期", "执行时间", "起始日期"),
                ),
                Field("effective_to", "执行截止日期", _date, False, ("截止日期",)),
                Field("approval_ref", "批准文号", _text(200), False, ("文号", "收费依据")),
            ),
            key=("kindergarten_code", "fee_item", "effective_from"),
            row_checks=(_standard_unit, _period_order("effective_from", "effective_to")),
        ),
        RecordType(
            "charges",
            "收费记录",
            Charge,
            (
                Field("receipt_no", "票据号", _text(64), True, ("票据号码", "收据号", "收据编号")),
                KG_CODE,
                CHILD_REF,
                Field("fee_item", "收费项目", _text(100), True),
                Field("amount", "金额", _non_negative_amount, True, ("收费金额", "缴费金额")),
                Field("period_start", "收费期间起", _date, True),
                Field("period_end", "收费期间止", _date, True),
                Field("paid_on", "缴费日期", _date, True, ("收费日期", "缴费时间")),
                Field("account", "收款账户", _text(64), True, ("收款账号", "收费账户")),
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
                # optional proof: the child the money went back to (must be the receipt's)
                Field("child_ref", "幼儿编号", _text(64), stored=False),
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


# A workbook's sheet per record type (spec: `feecheck import TYPE FILE.xlsx`), in the order a
# workbook is imported: what a row refers to comes first.
SHEETS = {
    "kindergartens": "幼儿园",
    "children": "幼儿",
    "fee-standards": "收费标准",
    "charges": "收费记录",
    "funding": "财政经费",
    "refunds": "退费",
    "absences": "缺勤记录",
    "inspections": "检查记录",
}
SHEET_ALIASES = {
    "kindergartens": ("幼儿园名单", "园所名单", "园所信息", "幼儿园信息"),
    "children": ("幼儿名单", "幼儿信息", "在园幼儿"),
    "fee-standards": ("收费标准表",),
    "charges": ("收费", "收费明细", "缴费记录"),
    "funding": ("经费", "财政补助", "生均公用经费"),
    "refunds": ("退费记录", "退费明细"),
    "absences": ("缺勤", "缺勤统计"),
    "inspections": ("检查", "检查情况"),
}
assert list(SHEETS) == list(RECORD_TYPES)


def record_type_of_sheet(sheet_name: str) -> RecordType | None:
    """The record type a sheet's name means (收费记录, charges, 收费…), or None."""
    key = normalise_header(sheet_name)
    return next((t for t in RECORD_TYPES.values() if key in t.sheet_keys), None)


REQUIRED_MISSING = ("required value is missing", "缺少必填值")
REGION_MISSING = (
    "required value is missing (a district's own list: import it with --region CODE, or choose "
    "the district on the import page)",
    "缺少必填值（本区县自己的名单：导入时使用 --region 代码，或在导入页面选择区县）",
)
NUL_IN_CELL = ("the cell holds a NUL character (binary data)", "单元格含有 NUL 字符（二进制数据）")
FORMULA_STARTS = frozenset("=+-@\t\r")


# Values that may be shared between records: a cached parse hands out the same object again.
_IMMUTABLE = frozenset({str, int, bool, Decimal, date, AmountPerUnit})
_MISS = object()


class _CellCaches:
    """Each field's valid cells, as written, with the value parse_cells made of them.

    Dates, amounts, kindergarten codes, fee items and enums repeat row after row in a big file:
    their text is parsed once. Only valid cells with immutable values are kept (an invalid cell
    is parsed again, so its error is built afresh). When a field's cache fills up (LIMIT cells)
    within fewer than 2 * LIMIT rows, its cells rarely repeat (receipt numbers) and it is no
    longer cached; the others start over.
    """

    LIMIT = 4096

    def __init__(self, plan: tuple[tuple[str, Callable[[str], Any], bool], ...]) -> None:
        # (name, parser, required, that field's cache or None once it is not cached)
        self.fields: list[tuple[str, Callable[[str], Any], bool, dict[str, Any] | None]] = [
            (name, parse, required, {}) for name, parse, required in plan
        ]
        self.rows = 0
        self.filled_at = dict.fromkeys((name for name, _, _ in plan), 0)  # rows at last clear

    def store(self, name: str, values: dict[str, Any], cell: str, value: Any) -> None:
        if type(value) not in _IMMUTABLE:
            return
        if len(values) >= self.LIMIT:
            values.clear()
            if self.rows - self.filled_at[name] < 2 * self.LIMIT:
                self.fields = [f if f[0] != name else (*f[:3], None) for f in self.fields]
                return
            self.filled_at[name] = self.rows
        values[cell] = value


def parse_cells(
    record_type: RecordType, cells: Mapping[str, str]
) -> tuple[dict[str, Any], list[Problem]]:
    """Text cells (by field name) -> a typed record, or the errors that stop it."""
    record: dict[str, Any] = {}
    errors: list[Problem] = []
    caches = record_type.cell_caches
    caches.rows += 1
    for name, parse, required, cache in caches.fields:
        cell = cells.get(name)
        if cache is not None and cell:
            value = cache.get(cell, _MISS)
            if value is not _MISS:
                record[name] = value
                continue
            written = cell
        else:
            written = None
        if cell:
            cell = cell.strip()
            if cell[:1] == "'" and cell[1:2] in FORMULA_STARTS:
                cell = cell[1:]  # a spreadsheet's text marker, as our own exports write it
        if not cell:
            if required:
                missing = REGION_MISSING if name == "region_code" else REQUIRED_MISSING
                errors.append(Problem(0, name, *missing))
            continue
        if "\x00" in cell:
            errors.append(Problem(0, name, *NUL_IN_CELL))
            continue
        try:
            record[name] = value = parse(cell)
        except Refused as exc:
            errors.append(exc.problem(name))
        except (ValueError, ArithmeticError) as exc:
            errors.append(Problem(0, name, f"not a valid value: {exc}", "取值无效"))
        else:
            if written is not None and cache is not None:
                caches.store(name, cache, written, value)
    if not errors:
        for check in record_type.row_checks:
            problem = check(record)
            if problem:
                errors.append(problem)
    return record, errors


def headers_table() -> str:
    """The README's table of the headers each column may have (a test keeps them equal)."""
    lines = [
        "| type | column | headers accepted besides the English name (* = required) |",
        "|---|---|---|",
    ]
    for name, record_type in RECORD_TYPES.items():
        for f in record_type.fields:
            mark = "*" if f.required else ""
            lines.append(f"| `{name}` | `{f.name}`{mark} | {'、'.join((f.zh, *f.aliases))} |")
    return "\n".join(lines)


def kind_of(f: Field) -> str:
    """How a form asks for a field: enum, bool, date, month, amount, count, accounts or text."""
    if f.parse in (_date,):
        return "date"
    if f.parse is _month:
        return "month"
    if f.parse in (_bool, _inclusive):
        return "bool"
    if f.name == "filed_accounts":
        return "accounts"
    if f.parse in (_amount, _non_negative_amount, _positive_amount, _standard_amount):
        return "amount"
    if f.name in ENUM_FIELDS:
        return "enum"
    if f.name in ("capacity", "days_absent", "days_open"):
        return "count"
    return "text"


ENUM_FIELDS: dict[str, type[LabelledEnum]] = {
    "category": Category,
    "unit": FeeUnit,
    "source": FundingSource,
    "hardship": Hardship,
    "collector": Collector,
    "grade": Grade,
}
