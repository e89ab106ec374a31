"""Sample documents for the PDF tests, and poppler (pdftotext, pdffonts, pdftoppm) helpers.

Run as a script it writes the sample PDF to the path given: the determinism test builds it so
in fresh processes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer

from feecheck.pdf.layout import (
    CANNOT_END,
    CANNOT_START,
    bar_chart,
    build,
    key_values,
    markup,
    para,
    signature_block,
    table,
)

REQUIRED = os.environ.get("FEECHECK_E2E_REQUIRED") == "1"

# An official notice as a district bureau writes one (612 characters), dense with the marks
# that may neither start nor end a line: 》。 ”“ ）； …… —— ！ ？ ％ and half-width , . % ).
NOTICE = (
    "根据《幼儿园收费管理暂行办法》（发改价格〔2011〕3207号）第十二条、《山东省幼儿园收费管理办法》"
    "第九条的规定，经查，你园于2026年3月向在园幼儿收取“兴趣班费”“特色课程费”等项目，共计"
    "18,600.00元；另于2025年9月一次性预收下学期保育教育费，涉及幼儿42名……上述行为违反了"
    "“幼儿园不得在保育教育费之外以任何名义向幼儿家长另行收取费用”的规定。现责令你园：一、立即停止"
    "收取上述费用；二、于2026年4月30日前将多收费用全额退还幼儿家长（退费清单须经家长签字确认）；"
    "三、在园内显著位置公示整改情况——公示期不少于7日！如对本通知有异议，可在收到之日起60日内申请"
    "行政复议，或在6个月内依法提起行政诉讼。逾期不整改的，我局将依据《价格违法行为行政处罚规定》"
    "予以处理，并通报至区财政局、区市场监督管理局。请你园高度重视，认真整改，并于整改完成后5个"
    "工作日内书面报告整改结果（含退费凭证复印件、公示照片）。特此通知。联系人：张喆，电话："
    "0531-8888××××；经办人：王堃、李䶮。附件：1.《违规收费明细表》；2.《退费确认表》。你园是否"
    "已按要求整改？请于期限内答复！所收取的“伙食费”结余部分（约占12%），应当按月公示、按学期结算，"
    "结余超过5%的，应当予以退还或者转入下期（见《办法》第十五条）。保教费标准（每生每月1,200元）"
    "须报价格主管部门备案（备案号：LX-2025-031）……否则不得收取！"
)

CATEGORIES = ["2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02"]
FUNDING: list[Decimal | int | None] = [Decimal("650.50"), 580, None, 720, 610, 590]
LAST_YEAR: list[Decimal | int | None] = [600, 610, 620, None, 630, 640]
CHILDREN = ["李䶮", "张喆", "王堃"]


def sample_flowables() -> list[Flowable]:
    """One of every building block, with the rare characters of children's names."""
    rows: list[list[object]] = [
        [i, CHILDREN[i % 3], "兴趣班费（特色课程）", Decimal("1200.30") + i, "2026-03"]
        for i in range(1, 13)
    ]
    return [
        para("幼儿园收费检查通知书", "title"),
        para("济南市历下区教育局　历教收〔2026〕12号", "subtitle"),
        key_values(
            [("被检查单位", "历下区实验幼儿园（普惠性民办）"), ("负责人", "张喆")],
            (40 * mm, 120 * mm),
        ),
        para("一、检查发现", "h1"),
        para(NOTICE, "notice_body"),
        markup("<b>整改要求</b>：逐项退费 &amp; 公示", "body"),
        Spacer(1, 4 * mm),
        bar_chart(
            CATEGORIES,
            [("生均拨款", FUNDING), ("上年同期", LAST_YEAR)],
            width=170 * mm,
            height=60 * mm,
            threshold=600,
            threshold_label="600 元",
            title="生均公用经费（元）",
        ),
        Spacer(1, 4 * mm),
        table(
            ["序号", "幼儿", "收费项目", "金额（元）", "期间"],
            rows,
            [14 * mm, 30 * mm, 60 * mm, 30 * mm, 30 * mm],
            numeric={0, 3},
        ),
        Spacer(1, 8 * mm),
        signature_block(["检查人员（签名）", "被检查单位负责人（签名）"], with_seal=True),
    ]


def sample_pdf() -> bytes:
    return build(
        sample_flowables(),
        title="幼儿园收费检查通知书",
        subject="收费检查",
        author="历下区教育局",
        footer="历下区教育局 · 幼儿园收费检查",
        header="内部资料",
    )


def poppler(tool: str) -> str:
    """The path of a poppler tool; skip the test without it (fail where it is required)."""
    path = shutil.which(tool)
    if path is None:
        reason = f"{tool} not found: apt-get install poppler-utils"
        if REQUIRED:
            pytest.fail(f"{reason} (FEECHECK_E2E_REQUIRED=1: the PDF tests must run)")
        pytest.skip(reason)
    return path


def run(tool: str, *args: str | Path) -> str:
    done = subprocess.run(
        [poppler(tool), *map(str, args)], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def page_texts(pdf: Path, pages: int) -> list[str]:
    return [run("pdftotext", "-f", n, "-l", n, pdf, "-") for n in map(str, range(1, pages + 1))]


def page_count(pdf: Path) -> int:
    for line in run("pdfinfo", pdf).splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    raise AssertionError("pdfinfo printed no page count")


def bad_breaks(lines: list[str]) -> list[str]:
    """Lines that start with a closing mark or end (before another line) with an opening one."""
    found = []
    for i, line in enumerate(lines):
        text = line.strip()
        if not text:
            continue
        if i > 0 and text[0] in CANNOT_START:
            found.append(f"line {i + 1} starts with {text[0]}: {text}")
        if i < len(lines) - 1 and text[-1] in CANNOT_END:
            found.append(f"line {i + 1} ends with {text[-1]}: {text}")
    return found


if __name__ == "__main__":
    Path(sys.argv[1]).write_bytes(sample_pdf())
