"""`feecheck report` and `feecheck notice` on the demo: what an inspector signs and serves."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from feecheck.cli import main
from feecheck.extensions import db
from feecheck.models import Finding, FindingEvent, Kindergarten, Notice, NoticeFinding
from feecheck.services.demo import SEEDED_CASES
from feecheck.services.notices import document_of, notice_pdf

PROHIBITED = SEEDED_CASES["FEE-PROHIBITED-ITEM"][0]  # K110108004, two prohibited items


def _text(pdf: Path) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext not found: apt-get install poppler-utils")
    found = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    return found.stdout


@pytest.fixture
def demo(runner: FlaskCliRunner, tmp_path: Path) -> FlaskCliRunner:
    runner.app.config["OFFICES_FILE"] = tmp_path / "offices.yaml"
    assert runner.invoke(main, shlex.split("demo")).exit_code == 0
    assert (tmp_path / "offices.yaml").exists()  # the demo's offices
    return runner


def test_a_kindergartens_report_holds_its_findings_and_is_the_same_twice(
    demo: FlaskCliRunner, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    args = f"report --period 2025-10 --kindergarten {PROHIBITED} --date 2026-12-01 -o "
    result = demo.invoke(main, shlex.split(args + str(first)))
    assert result.exit_code == 0, result.output
    assert demo.invoke(main, shlex.split(args + str(second))).exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    content = _text(first).replace("\n", "")
    with demo.app.app_context():
        kg = db.session.scalar(select(Kindergarten).where(Kindergarten.code == PROHIBITED))
        findings = db.session.scalars(
            select(Finding).where(
                Finding.kindergarten_id == kg.id,
                Finding.period == "2025-10",
                Finding.status != "resolved",
            )
        ).all()
    assert kg.name in content and "北京市海淀区教育委员会" in content
    assert findings and "FEE-PROHIBITED-ITEM" in {f.rule_id for f in findings}
    for finding in findings:
        assert finding.rule_id in content
        for part in finding.citation.split():  # the document, then the article (a table cell
            assert part in content.replace(" ", "")  # wraps, so each is looked for alone)
        if finding.amount_due is not None:
            assert f"{finding.amount_due:,.2f}" in content
    assert "附录：本月适用的规则及参数" in content and "rules/national/" in content
    fonts = subprocess.run(["pdffonts", str(first)], capture_output=True, text=True).stdout
    assert "WenQuanYi" in fonts and all(" yes " in line for line in fonts.splitlines()[2:])


def test_a_regions_report_each_and_with_details(demo: FlaskCliRunner, tmp_path: Path) -> None:
    result = demo.invoke(
        main,
        shlex.split(f"report --period 2026-03 --region 110108 --with-details -o {tmp_path}/r.pdf"),
    )
    assert result.exit_code == 0, result.output
    content = _text(tmp_path / "r.pdf").replace("\n", "")
    with demo.app.app_context():
        names = db.session.scalars(
            select(Kindergarten.name).where(Kindergarten.region_code == "110108")
        ).all()
    assert len(names) == 5 and all(name in content for name in names)
    assert "区域汇总" in content and "违规最多的规则" in content
    folder = tmp_path / "each"
    result = demo.invoke(
        main, shlex.split(f"report --period 2026-03 --region 110108 --each -o {folder}")
    )
    assert result.exit_code == 0, result.output
    assert len(list(folder.glob("*-2026-03.pdf"))) == 5


def test_a_notice_is_numbered_recorded_on_its_findings_and_kept(
    demo: FlaskCliRunner, tmp_path: Path
) -> None:
    first = tmp_path / "n1.pdf"
    args = (
        f"notice --period 2025-09 --to 2026-08 --kindergarten {PROHIBITED} --date 2026-12-01 "
        "--inspector 张明:11010820230001 --inspector 李华:11010820230002 -o "
    )
    result = demo.invoke(main, shlex.split(args + str(first)))
    assert result.exit_code == 0, result.output
    assert "海教收整〔2026〕1号" in result.output
    second = demo.invoke(main, shlex.split(args + str(tmp_path / "n2.pdf")))
    assert "海教收整〔2026〕2号" in second.output  # never the same number twice
    content = _text(first).replace("\n", "")
    for expected in ("整改通知书", "海教收整〔2026〕1号", "张明", "11010820230002", "送达回证"):
        assert expected in content, expected
    assert "2026年12月16日" in content  # 15 days
    with demo.app.app_context():
        session = db.session
        notice = session.scalar(select(Notice).where(Notice.seq == 1))
        covered = session.scalars(
            select(Finding)
            .join(NoticeFinding, NoticeFinding.finding_id == Finding.id)
            .where(NoticeFinding.notice_id == notice.id)
        ).all()
        assert covered and {f.severity for f in covered} == {"violation"}
        assert "FEE-PROHIBITED-ITEM" in {f.rule_id for f in covered}
        events = session.scalars(
            select(FindingEvent).where(FindingEvent.finding_id == covered[0].id)
        ).all()
        assert any("海教收整〔2026〕1号" in (e.note or "") for e in events)
        assert notice_pdf(document_of(notice)) == first.read_bytes()  # printed again, the same
        with pytest.raises(DBAPIError), session.begin_nested():
            session.execute(text("DELETE FROM notices WHERE id = :id"), {"id": notice.id})
        with pytest.raises(DBAPIError), session.begin_nested():
            session.execute(text("UPDATE notices SET seq = 99 WHERE id = :id"), {"id": notice.id})


def test_what_cannot_be_done_is_said_in_one_line(demo: FlaskCliRunner, tmp_path: Path) -> None:
    clean = "K110108001"
    cases = (
        (
            f"notice --period 2026-03 --kindergarten {clean} -o {tmp_path}/x.pdf",
            "no open violation",
        ),
        (
            f"notice --period 2026-03 --kindergarten K404 -o {tmp_path}/x.pdf",
            "unknown kindergarten",
        ),
        (f"report --period 2026-03 -o {tmp_path}/x.pdf", "--kindergarten CODE or --region CODE"),
        (
            f"report --period 2026-03 --kindergarten K404 -o {tmp_path}/x.pdf",
            "unknown kindergarten",
        ),
        (f"report --period 2026-13 --region 110108 -o {tmp_path}/x.pdf", "2026-13"),
        (f"notice --period 2026-03 --kindergarten {PROHIBITED} --inspector :x -o a.pdf", "NAME"),
    )
    for args, said in cases:
        result = demo.invoke(main, shlex.split(args))
        assert result.exit_code == 2, args
        assert said in result.output, (args, result.output)
    assert not (tmp_path / "x.pdf").exists()
