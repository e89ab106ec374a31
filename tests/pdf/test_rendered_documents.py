"""The report and the notice rendered from their data, read back with poppler: a long findings
table paginates with its header, Chinese breaks right, the same data gives the same bytes, and
page images for people to look at (screenshots/pdf/, git-ignored)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from layout_samples import bad_breaks, page_count, page_texts, run

from feecheck.config import ROOT
from feecheck.pdf.documents import (
    FindingLine,
    FundingLine,
    Inspector,
    ItemTotal,
    KindergartenReport,
    MonthFigure,
    NoticeDocument,
    ParameterLine,
    RefundItem,
    RuleLine,
)
from feecheck.pdf.notice import notice_pdf
from feecheck.pdf.report import kindergarten_report_pdf

SCREENSHOTS = ROOT / "screenshots" / "pdf"
MESSAGE = (
    "票据 R{n:04d} 于 2026-03-02 收取禁止收费项目「兴趣班」（特色班、实验班），金额 1,200.00 元，"
    "应全额退还 1,200.00 元；经查，该园未按规定公示收费项目、标准和依据。"
)


def _line(n: int) -> FindingLine:
    return FindingLine(
        rule_id="FEE-PROHIBITED-ITEM",
        title="收取禁止收费项目",
        severity="violation",
        severity_label="违规",
        status_label="待处理",
        period="2026-03",
        citation="《幼儿园收费管理暂行办法》（发改价格〔2011〕3207号） 第十二条第二款",
        quote="幼儿园不得以任何名义向入园幼儿家长收取与入园挂钩的赞助费、捐资助学费等费用",
        message=MESSAGE.format(n=n),
        child_ref=f"C{n:04d}",
        receipts=(f"R{n:04d}",),
        amount_due=Decimal("1200.00"),
    )


def _report(findings: int) -> KindergartenReport:
    months = [f"2025-{m:02d}" for m in range(4, 13)] + ["2026-01", "2026-02", "2026-03"]
    return KindergartenReport(
        report_no="K110108002-2026-03",
        period="2026-03",
        generated_on=date(2026, 12, 1),
        ruleset_hash="3f60cd2eaa0d",
        office="北京市海淀区教育委员会",
        code="K110108002",
        name="北京市海淀区育英幼儿园（䶮园区）",
        category_label="公办",
        grade_label="一级",
        region_code="110108",
        region_name="北京市",
        children_enrolled=28,
        average_enrolment=Decimal("27.97"),
        charges_by_item=(ItemTotal("伙食费", 27, Decimal("14580.00")),),
        charges_total=Decimal("14580.00"),
        funding=(
            FundingLine("生均财政拨款和公用经费", Decimal("427.31"), Decimal("600.00"), "经费底线"),
        ),
        findings_by_severity={"violation": findings, "warning": 0, "info": 0},
        findings_by_status={"待处理": findings},
        refunds_due=Decimal("1200.00") * findings,
        refunded=Decimal("300.00"),
        findings=tuple(_line(n) for n in range(1, findings + 1)),
        funding_by_month=tuple(
            MonthFigure(m, None if m < "2025-09" else Decimal("427.31")) for m in months
        ),
        funding_threshold=Decimal("600.00"),
        charges_by_month=tuple(MonthFigure(m, Decimal("14580.00")) for m in months),
        rules=(
            RuleLine(
                "FUNDING-FLOOR",
                "公办园生均公用经费低于600元",
                "学前教育普惠保障行动",
                "适用",
                (
                    ParameterLine(
                        "funding_floor_per_child_year",
                        "生均公用经费底线",
                        "600.00",
                        "国家",
                        "rules/national/funding-floor.yaml",
                        "",
                    ),
                ),
            ),
        ),
    )


def _notice() -> NoticeDocument:
    return NoticeDocument(
        number="海教收整〔2026〕12号",
        office="北京市海淀区教育委员会",
        kindergarten_name="北京市海淀区育英幼儿园",
        kindergarten_code="K110108002",
        period_from="2026-01",
        period_to="2026-03",
        inspection_dates=(date(2026, 3, 18),),
        issued_on=date(2026, 12, 1),
        deadline=date(2026, 12, 16),
        deadline_days=15,
        violations=tuple(_line(n) for n in range(1, 4)),
        refunds=tuple(
            RefundItem(f"C{n:04d}", f"R{n:04d}", "FEE-PROHIBITED-ITEM", Decimal("1200.00"), r)
            for n, r in ((1, Decimal("0.00")), (2, Decimal("300.00")), (3, Decimal("1200.00")))
        ),
        inspectors=(Inspector("张明", "11010820230001"),),
        requirements=("加盖本园公章的整改情况报告", "向幼儿家长退还费用的凭证"),
    )


@pytest.fixture(scope="module")
def long_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.pdf"
    path.write_bytes(kindergarten_report_pdf(_report(300)))
    return path


def test_a_300_finding_report_repeats_the_table_header_on_every_page(long_report: Path) -> None:
    pages = page_count(long_report)
    texts = page_texts(long_report, pages)
    with_rows = [n for n, text in enumerate(texts) if "FEE-PROHIBITED-ITEM" in text]
    assert len(with_rows) >= 10  # 300 findings over many pages
    for n in with_rows:
        assert "序号" in texts[n] and "检查发现" in texts[n] and "应退金额" in texts[n], n + 1
    every = "\n".join(texts)
    assert all(f"R{n:04d}" in every for n in (1, 150, 300))
    assert f"第1页共{pages}页" in texts[0].replace(" ", "")
    assert f"第{pages}页共{pages}页" in texts[-1].replace(" ", "")


def test_chinese_never_breaks_before_closing_punctuation(long_report: Path, tmp_path: Path) -> None:
    notice = tmp_path / "notice.pdf"
    notice.write_bytes(notice_pdf(_notice()))
    for pdf in (long_report, notice):
        lines = run("pdftotext", pdf, "-").splitlines()  # one line per line drawn
        assert len(lines) > 50
        assert bad_breaks(lines) == []


def test_every_font_is_embedded_and_the_same_data_gives_the_same_bytes(long_report: Path) -> None:
    fonts = run("pdffonts", long_report).splitlines()[2:]
    assert fonts and all(" yes " in f.split("TrueType")[-1] for f in fonts), fonts
    assert kindergarten_report_pdf(_report(3)) == kindergarten_report_pdf(_report(3))
    assert notice_pdf(_notice()) == notice_pdf(_notice())


def test_the_notice_holds_what_a_notice_must(tmp_path: Path) -> None:
    path = tmp_path / "notice.pdf"
    path.write_bytes(notice_pdf(_notice()))
    texts = page_texts(path, page_count(path))
    first, receipt = "\n".join(texts[:-1]), texts[-1]
    for expected in (
        "北京市海淀区教育委员会",
        "整改通知书",
        "海教收整〔2026〕12号",
        "北京市海淀区育英幼儿园",
        "2026年3月18日",
        "第十二条第二款",
        "一、收取禁止收费项目",
        "三、收取禁止收费项目",
        "3,600.00",  # due
        "1,500.00",  # refunded
        "2,100.00",  # outstanding
        "15 日内",
        "2026年12月16日",
        "加盖本园公章的整改情况报告",
        "张明",
        "11010820230001",
        "（盖章）",
        "2026年12月1日",
    ):
        assert expected in first.replace("\n", ""), expected
    assert "送达回证" in receipt and "受送达人" in receipt and "海教收整〔2026〕12号" in receipt
    for n, page in enumerate(texts, start=1):
        assert f"第{n}页共{len(texts)}页" in page.replace(" ", "")


def test_page_images_for_people_to_look_at(long_report: Path, tmp_path: Path) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    notice = tmp_path / "notice.pdf"
    notice.write_bytes(notice_pdf(_notice()))
    for name, pdf in (("report", long_report), ("notice", notice)):
        run("pdftoppm", "-r", "70", "-png", "-f", "1", "-l", "2", pdf, SCREENSHOTS / name)
    assert (SCREENSHOTS / "report-01.png").exists() or (SCREENSHOTS / "report-1.png").exists()
