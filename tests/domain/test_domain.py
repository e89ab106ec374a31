from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from feecheck.domain.categories import Category, parse_bool
from feecheck.domain.money import money, parse_amount
from feecheck.domain.periods import (
    Period,
    SemesterCalendar,
    annualise,
    attribute,
    months_covered,
    parse_date,
)
from feecheck.domain.regions import overlay_chain, scope_prefix, within


@pytest.mark.parametrize(
    "text, value",
    [
        ("1,234.50", "1234.50"),
        ("1234.5", "1234.50"),
        ("¥1234.50", "1234.50"),
        ("1234.50元", "1234.50"),
        ("１２３４．５", "1234.50"),
        (" 0 ", "0.00"),
        ("￥ 600", "600.00"),
    ],
)
def test_amounts_in_every_spreadsheet_form(text: str, value: str) -> None:
    assert parse_amount(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "abc", "1.234", "12,34.5.6", "1e3", "NaN"])
def test_non_amounts_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(text)


def test_money_rounds_half_up() -> None:
    assert money(Decimal("0.005")) == Decimal("0.01")
    assert money(Decimal("599.994")) == Decimal("599.99")


@pytest.mark.parametrize(
    "text", ["2025-09-01", "2025/9/1", "2025.09.01", "2025年9月1日", "２０２５-09-01"]
)
def test_dates_in_every_accepted_form(text: str) -> None:
    assert parse_date(text) == date(2025, 9, 1)


def test_periods() -> None:
    period = Period.parse("2024-02")
    assert period.days == 29 and str(period.shift(11)) == "2025-01"
    assert [str(p) for p in Period.parse("2025-11").until(Period.parse("2026-02"))] == [
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
    ]
    with pytest.raises(ValueError):
        Period.parse("2025-13")


def test_a_years_funding_annualises_to_itself_in_every_month() -> None:
    for year in (2024, 2025):  # a leap year and a common one
        start, end = date(year, 1, 1), date(year, 12, 31)
        for month in range(1, 13):
            period = Period(year, month)
            assert money(annualise(attribute(Decimal(600), start, end, period), period)) == Decimal(
                "600.00"
            )


def test_semesters() -> None:
    calendar = SemesterCalendar()
    assert calendar.semester_of(date(2025, 9, 1)) == (date(2025, 9, 1), date(2026, 1, 31))
    assert calendar.semester_of(date(2026, 1, 31)) == (date(2025, 9, 1), date(2026, 1, 31))
    assert calendar.semester_of(date(2026, 2, 1)) == (date(2026, 2, 1), date(2026, 8, 31))
    assert months_covered(date(2025, 9, 1), date(2025, 9, 15)) == Decimal(15) / 30


def test_regions() -> None:
    assert overlay_chain("370102") == ["370000", "370100", "370102"]
    assert overlay_chain("110000") == ["110000"]
    assert scope_prefix("370100") == "3701"
    assert within("370102", "370000") and not within("310104", "370000") and within("1", None)


def test_enums_accept_code_or_chinese() -> None:
    assert Category.parse("普惠性民办") is Category.INCLUSIVE_PRIVATE
    assert Category.parse(" public ") is Category.PUBLIC
    with pytest.raises(ValueError, match="public 公办"):
        Category.parse("private")
    assert parse_bool("是") and not parse_bool("N")


def test_fee_items_are_classified(taxonomy) -> None:  # type: ignore[no-untyped-def]
    assert taxonomy.classify("保 教 费") == "care_education"
    assert taxonomy.classify("舞蹈兴趣班费") == "special_class"
    assert taxonomy.classify("幼小衔接班费") == "bridge_class"
    assert taxonomy.classify("延时托管费") == "service_aftercare"
    assert taxonomy.classify("电脑课耗材费") == "unclassified"
    assert taxonomy.alias_conflicts() == []
