"""Real published sheets as they are (issue 19): official lists of kindergartens and a
district's published fee lines import without edits, and refuse only what is really ambiguous."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from feecheck.models import FeeStandard, Kindergarten
from feecheck.services.importing import ImportOptions, ImportReport, run_import
from tests.factories import make_kindergarten, make_user

REAL = Path(__file__).resolve().parent.parent / "data" / "real"


def _import(session: Session, taxonomy, record_type: str, name: str, **options) -> ImportReport:  # type: ignore[no-untyped-def]
    return run_import(
        session, record_type, REAL / name, taxonomy=taxonomy, options=ImportOptions(**options)
    )


def _errors(report: ImportReport) -> dict[int, str]:
    return {p.line: f"{p.column}: {p.reason}" for p in report.errors}


@pytest.mark.parametrize(
    "name", ["haidian-kindergartens.bom.csv", "haidian-kindergartens.gb18030.csv"]
)
def test_a_districts_official_list_imports_as_downloaded(session, taxonomy, name: str) -> None:  # type: ignore[no-untyped-def]
    report = _import(session, taxonomy, "kindergartens", name, fill_region="110108")
    assert (report.status, report.rejected, report.created) == ("committed", 0, 8), (
        report.error_lines()
    )
    stored = {
        kg.code: (kg.name, kg.category, kg.grade, kg.region_code)
        for kg in session.scalars(select(Kindergarten))
    }
    assert stored["12110108400001234X"] == (
        "北京市海淀区第一实验幼儿园",
        "public",
        "model",
        "110108",
    )
    assert stored["12110108400009999B"][1] == "public"  # 部队办园
    assert stored["教民111010870000011号"][1:3] == ("inclusive_private", "grade2")
    assert stored["教民111010870000012号"][1] == "inclusive_private"  # 民办 + 是否普惠 是
    assert stored["教民111010870000013号"][1:3] == ("forprofit_private", "unrated")
    assert stored["12110108400007777C"][0] == "北京市海淀区紫竹院街道幼儿园"  # wrapped name joined
    assert stored["教民111010870000014号"][0] == "北京市海淀区喆堃幼兒園"  # rare and traditional
    notes = " ".join(report.warnings)
    assert "the header is on line 3; the 2 line(s) above it (a title) were skipped" in notes
    assert "1 lines repeat the header (lines 11) and were skipped" in notes
    assert "the file has no region_code column: filled with 110108 (--region)" in notes
    assert "unknown column '序号' ignored" in notes and "unknown column '地址' ignored" in notes
    again = _import(session, taxonomy, "kindergartens", name, fill_region="110108")
    assert again.unchanged == 8 and again.rejected == 0


def test_the_list_without_region_needs_region(session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    report = _import(session, taxonomy, "kindergartens", "haidian-kindergartens.bom.csv")
    assert report.status == "failed" and "region_code" in report.message


def test_a_city_code_is_accepted_with_a_warning(session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    report = _import(
        session, taxonomy, "kindergartens", "haidian-kindergartens.bom.csv", fill_region="110100"
    )
    assert report.created == 8
    assert any(
        "give a city or province code where a district's is expected" in w for w in report.warnings
    )


def test_region_must_be_inside_the_users_scope(session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    report = _import(
        session, taxonomy, "kindergartens", "haidian-kindergartens.bom.csv",
        fill_region="310104", region_code="110108",
    )  # fmt: skip
    assert report.status == "failed" and "outside your region 110108" in report.message


def test_what_is_really_ambiguous_is_refused_with_what_to_write(session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    report = _import(
        session, taxonomy, "kindergartens", "kindergartens-troubles.bom.csv", fill_region="110108"
    )
    errors = _errors(report)
    assert sorted(errors) == [3, 4, 5, 6, 7]
    assert "is also row 2's (北京市海淀区阳光幼儿园)" in errors[3]
    assert "e.g. 教民111010870000011号-1" in errors[3]
    assert errors[4].startswith(
        "办园性质: '民办': a private kindergarten, but is it non-profit or for-profit?"
    )
    assert "写明“非营利性民办”或“营利性民办”" in report.errors[1].reason_zh
    # 私立 with 是否普惠 否: not inclusive, but still which?
    assert errors[5].startswith("办园性质: '私立': a private kindergarten that is not inclusive")
    assert "办园性质“私立”" in report.errors[2].reason_zh
    # 民办非普: not inclusive, but still which? (and no advice to fill 是否普惠)
    assert errors[6].startswith(
        "办园性质: '民办非普': a private kindergarten that is not inclusive"
    )
    assert "是否普惠" not in errors[6]
    assert errors[7].startswith("是否普惠: a for-profit kindergarten cannot be inclusive")
    assert report.created == 2  # line 2, and line 8 (民办 + 是否普惠 是 = inclusive private)


@pytest.mark.parametrize("name", ["xuhui-fee-lines.gb18030.csv", "xuhui-fee-lines.bom.csv"])
def test_a_districts_published_fee_lines(session, taxonomy, name: str) -> None:  # type: ignore[no-untyped-def]
    make_kindergarten(session, code="K310104001", region_code="310104")
    report = _import(session, taxonomy, "fee-standards", name)
    errors = _errors(report)
    assert sorted(errors) == [10, 11], report.error_lines()
    assert errors[10].startswith("收费标准: '成长班2500国际班4000' holds more than one amount")
    assert errors[11].startswith("unit: no unit")
    stored = {
        s.fee_item: (s.amount, s.unit, s.item_category)
        for s in session.scalars(select(FeeStandard))
    }
    assert stored["幼管费"] == (Decimal("175.00"), "month", "care_education")
    assert stored["伙食费"] == (Decimal("9.00"), "day", "meals")
    assert stored["点心费"] == (Decimal("4.00"), "day", "meals")
    assert stored["保教费（国际班）"] == (Decimal("4000.00"), "month", "care_education")
    assert stored["外籍幼儿保教费"][2] == "care_education"
    assert stored["双语班"][2] == "special_class"
    notes = " ".join(report.warnings)
    assert "are for items that may not be charged or cannot be classified" in notes
    assert "双语班" in notes


def test_a_unit_in_the_amount_header_applies_and_a_conflict_is_refused(session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    make_kindergarten(session, code="K310104001", region_code="310104")
    report = _import(session, taxonomy, "fee-standards", "fee-lines-unit-in-header.bom.csv")
    assert any("the unit (month) is taken from the header" in w for w in report.warnings)
    assert _errors(report) == {
        4: "unit: the amount says per day, the unit given for it (its column, or the amount's "
        "header) says month: correct one of them"
    }
    assert session.scalars(select(FeeStandard.unit)).all() == ["month"]


def test_the_web_page_offers_only_districts_in_the_users_scope(client, app, session) -> None:  # type: ignore[no-untyped-def]
    from feecheck.extensions import db

    with app.app_context():
        make_user(db.session, "haidian", "correct horse", "inspector", "110108")
        make_kindergarten(db.session, code="K-HD", region_code="110108")
        make_kindergarten(db.session, code="K-XH", region_code="310104")
        db.session.commit()
    client.post("/login", data={"username": "haidian", "password": "correct horse"})
    page = client.get("/imports/").get_data(as_text=True)
    assert 'value="110108"' in page and 'value="310104"' not in page
    with (REAL / "haidian-kindergartens.bom.csv").open("rb") as handle:
        response = client.post(
            "/imports/",
            data={"record_type": "kindergartens", "region": "310104", "file": (handle, "x.csv")},
            content_type="multipart/form-data",
        )
    page = response.get_data(as_text=True)
    assert response.status_code == 200  # the form again, not a redirect to a new batch
    assert 'class="error"' in page and "Location" not in response.headers


def test_the_readme_lists_every_header_feecheck_accepts() -> None:
    from feecheck.config import ROOT
    from feecheck.services.record_types import headers_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    published = readme.split("<!-- headers:start -->\n", 1)[1].split("\n<!-- headers:end -->", 1)[0]
    assert published == headers_table()


def test_a_two_row_header_footer_lines_and_a_blank_region_cell(session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    report = _import(
        session, taxonomy, "kindergartens", "town-list-two-row-header.bom.csv", fill_region="310104"
    )
    assert (report.status, report.created, report.rejected) == ("committed", 2, 0), (
        report.error_lines()
    )
    stored = dict(session.execute(select(Kindergarten.code, Kindergarten.region_code)).all())
    assert stored == {"教民131010870000021号": "310104", "教民131010870000022号": "310104"}
    notes = " ".join(report.warnings)
    assert "the header is written over lines 2 and 3" in notes
    assert (
        "3 lines are totals, notes or page lines, not records (lines 6 合计：2所; 7 注：" in notes
    )
    assert "1 rows had an empty region_code: filled with 310104 (--region)" in notes


def test_a_written_region_is_never_overridden_and_a_blank_one_needs_region(
    session, taxonomy
) -> None:  # type: ignore[no-untyped-def]
    report = _import(session, taxonomy, "kindergartens", "town-list-two-row-header.bom.csv")
    assert _errors(report)[4].startswith(
        "行政区划: required value is missing (a district's own list: import it with --region"
    )
    assert report.created == 1  # the row whose region is written


def test_an_empty_unit_cell_takes_the_headers_unit_and_hourly_prices_are_refused(
    session, taxonomy
) -> None:  # type: ignore[no-untyped-def]
    make_kindergarten(session, code="K310104001", region_code="310104")
    report = _import(session, taxonomy, "fee-standards", "fee-lines-unit-column-empty.gb18030.csv")
    errors = _errors(report)
    assert list(errors) == [4, 5]
    # 按天 under a header that says 元/月: the two disagree
    assert errors[4] == (
        "计费方式: the column says day, its header '收费标准（元/月）' says per month: correct one "
        "of them"
    )
    assert "a standard per 小时 is not supported" in errors[5]
    assert "不支持按“小时”计费" in report.errors[1].reason_zh
    stored = dict(session.execute(select(FeeStandard.fee_item, FeeStandard.unit)).all())
    assert stored == {"保教费": "month", "住宿费": "month"}  # 按月 agrees with the header
    assert any("2 rows had an empty unit: filled with month" in w for w in report.warnings)


def test_page_lines_the_licence_number_and_one_line_per_rejected_row(session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    report = _import(
        session, taxonomy, "kindergartens", "district-list-pages.bom.csv", fill_region="110108"
    )
    assert (report.created, report.rejected) == (1, 1), report.error_lines()
    assert session.scalars(select(Kindergarten.code)).all() == ["教民111010870000031号"]
    lines = report.error_lines()
    assert len(lines) == 1 and "\n" not in lines[0]
    assert lines[0].startswith("district-list-pages.bom.csv:11: 办园性质: 办园性质只写了“民办”")
    notes = " ".join(report.warnings)
    assert (
        "column '统一社会信用代码' also names code; '办学许可证号 /事业单位法人证书号' is used"
        in notes
    )
    assert (
        "4 lines are totals, notes or page lines, not records (lines 6 第 1 页，共 2 页; 7" in notes
    )
    assert "1 lines repeat the header" in notes


def test_a_list_imported_again_with_another_region_says_it_moved_them(session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    name = "haidian-kindergartens.bom.csv"
    _import(session, taxonomy, "kindergartens", name, fill_region="110108")
    again = _import(session, taxonomy, "kindergartens", name, fill_region="110105")
    assert again.updated == 8
    notes = " ".join(again.warnings)
    assert "8 kindergartens were moved to another region (lines 5 12110108400001234X " in notes
    assert "110108 → 110105" in notes
