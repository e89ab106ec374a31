"""The PDF toolkit, read back with poppler: text, fonts, pages, determinism, Chinese line breaks."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from layout_samples import (
    CHILDREN,
    NOTICE,
    bad_breaks,
    page_count,
    page_texts,
    run,
    sample_pdf,
)
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Group, Line, Rect, String, UserNode
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph

from feecheck.config import ROOT
from feecheck.pdf.fonts import cjk_font
from feecheck.pdf.layout import (
    bar_chart,
    build,
    markup,
    para,
    signature_block,
    styles,
    table,
)

SAMPLES = Path(__file__).with_name("layout_samples.py")
SCREENSHOTS = ROOT / "screenshots" / "pdf"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "sample.pdf"
    path.write_bytes(sample_pdf())
    return path


@pytest.fixture(scope="module")
def long_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows: list[list[object]] = [
        [f"R{n:03d}", CHILDREN[n % 3], "保育教育费", f"{1000 + n}.50", "2026-03"]
        for n in range(1, 301)
    ]
    pdf = build(
        [
            para("收费明细（300 条）", "h1"),
            table(
                ["编号", "幼儿", "收费项目", "金额（元）", "期间"],
                rows,
                [25 * mm, 30 * mm, 50 * mm, 30 * mm, 30 * mm],
                numeric={3},
            ),
        ],
        title="收费明细",
    )
    path = tmp_path_factory.mktemp("pdf") / "long.pdf"
    path.write_bytes(pdf)
    return path


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_text_of_paragraphs_tables_and_charts_is_there(sample: Path) -> None:
    text = run("pdftotext", sample, "-")
    flat = _flat(text)
    assert "幼儿园收费检查通知书" in text
    assert _flat(NOTICE) in flat  # the whole notice, in order, nothing lost
    for name in CHILDREN:  # rare characters (䶮 is CJK Extension A) in table cells
        assert re.search(rf"\d+\s*{name}", text), name
    assert "兴趣班费（特色课程）" in text and "1201.30" in text
    for label in ("生均公用经费（元）", "生均拨款", "上年同期", "600 元", "2025-09", "2026-02"):
        assert label in text, label  # chart title, legend, threshold and axis labels
    assert "历下区实验幼儿园（普惠性民办）" in text  # key_values
    assert "整改要求：逐项退费 & 公示" in text  # markup
    assert "检查人员（签名）：" in text and "（盖章）" in text
    assert "内部资料" in text and "历下区教育局 · 幼儿园收费检查" in text


def test_every_font_is_embedded_and_is_wenquanyi(sample: Path) -> None:
    choice = cjk_font()
    if not (choice.path or "").endswith("wqy-zenhei.ttc"):
        reason = (
            f"the font is {choice.path}, not WenQuanYi Zen Hei: apt-get install fonts-wqy-zenhei"
        )
        if os.environ.get("FEECHECK_E2E_REQUIRED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    rows = run("pdffonts", sample).splitlines()[2:]
    assert rows, "pdffonts lists no font"
    for row in rows:
        name, emb = row.split()[0], row.split()[-5]
        assert "WenQuanYiZenHei" in name, row  # no Helvetica from a table, chart or canvas
        assert emb == "yes", row


def test_two_processes_build_byte_identical_pdfs(sample: Path, tmp_path: Path) -> None:
    runs = []
    for seed in ("1", "2"):  # another hash seed: set and dict order may not leak into the file
        out = tmp_path / f"seed{seed}.pdf"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        runs.append((subprocess.Popen([sys.executable, SAMPLES, out], env=env), out))
    for process, _ in runs:
        assert process.wait(timeout=60) == 0
    first, second = (out.read_bytes() for _, out in runs)
    assert first == second
    assert first == sample.read_bytes()  # and the same as this process built
    today = datetime.now(UTC).strftime("D:%Y%m%d").encode()
    assert today not in first  # no clock in the document


def test_metadata(sample: Path) -> None:
    info = dict(line.split(":", 1) for line in run("pdfinfo", sample).splitlines() if ":" in line)
    assert info["Title"].strip() == "幼儿园收费检查通知书"
    assert info["Subject"].strip() == "收费检查"
    assert info["Author"].strip() == "历下区教育局"
    assert info["Creator"].strip() == "feecheck"


def test_footer_numbers_every_page_with_the_total(sample: Path, long_table: Path) -> None:
    for pdf in (sample, long_table):
        pages = page_count(pdf)
        assert pages >= 2
        for number, text in enumerate(page_texts(pdf, pages), start=1):
            assert re.search(rf"第\s*{number}\s*页\s*共\s*{pages}\s*页", text), (pdf.name, number)


def test_a_300_row_table_repeats_its_header_on_every_page(long_table: Path) -> None:
    pages = page_count(long_table)
    assert pages >= 5
    seen: list[str] = []
    for number, text in enumerate(page_texts(long_table, pages), start=1):
        for heading in ("编号", "幼儿", "收费项目", "金额（元）", "期间"):
            assert heading in text, f"page {number} lacks the header cell {heading}"
        seen += re.findall(r"R\d{3}", text)
    assert seen == [f"R{n:03d}" for n in range(1, 301)]  # every row once, in order


def _lines(paragraph: Paragraph, width: float) -> list[tuple[str, float]]:
    """The lines ReportLab laid out, with each line's unused width (negative: overhang)."""
    paragraph.wrap(width, 10_000)
    bl_para = paragraph.blPara
    if bl_para.kind == 0:
        return [(" ".join(words), extra) for extra, words in bl_para.lines]
    return [
        ("".join(f.text for f in line.words if not hasattr(f, "cbDefn")), line.extraSpace)
        for line in bl_para.lines
    ]


WIDTHS = range(90, 500, 13)  # points: a narrow table cell to a full A4 line


@pytest.mark.parametrize("kind", ["para", "markup"])
def test_no_line_starts_or_ends_with_the_wrong_punctuation(kind: str) -> None:
    text = NOTICE if kind == "para" else NOTICE.replace("经查", "<b>经查</b>")
    for width in WIDTHS:
        paragraph = para(text) if kind == "para" else markup(text)
        lines = _lines(paragraph, width)
        assert len(lines) > 5
        assert bad_breaks([line for line, _ in lines]) == [], width
        assert all(extra > -1e-3 for _, extra in lines), f"a line overhangs at {width}pt"
        assert "".join(line for line, _ in lines) == NOTICE  # nothing lost or doubled


def test_reportlab_alone_breaks_this_text_wrongly() -> None:
    """The control: the notice does exercise the rules (ReportLab's own Paragraph fails them)."""
    style = styles()["notice_body"]
    failures = 0
    for width in WIDTHS:
        lines = _lines(Paragraph(NOTICE, style), width)
        failures += len(bad_breaks([line for line, _ in lines]))
        failures += sum(extra < -1e-3 for _, extra in lines)
    assert failures > len(WIDTHS)


@pytest.mark.parametrize(
    ("kind", "right_margin"),
    [("para", 18), ("para", 67), ("para", 105), ("para", 128), ("markup", 40), ("markup", 128)],
)
def test_line_breaks_hold_in_the_pdf(kind: str, right_margin: int, tmp_path: Path) -> None:
    """Three notices in one paragraph: at the narrow widths it runs over pages, and the part on
    the next page is laid out again (where ReportLab would also slip spaces in)."""
    text = NOTICE * 3
    paragraph = (
        para(text, "notice_body")
        if kind == "para"
        else markup(text.replace("经查", "<b>经查</b>"), "notice_body")
    )
    pdf = tmp_path / "notice.pdf"
    pdf.write_bytes(build([paragraph], title="通知", margins_mm=(20, right_margin, 20, 18)))
    lines = [line for line in run("pdftotext", pdf, "-").splitlines() if line.strip()]
    lines = [
        line for line in lines if not re.fullmatch(r"第\s*\d+\s*页\s*共\s*\d+\s*页", line.strip())
    ]
    assert len(lines) >= 40
    assert bad_breaks(lines) == []
    assert "".join(line.strip() for line in lines) == text  # nothing lost, doubled or added
    if right_margin == 128:
        assert page_count(pdf) >= 3


def test_punctuation_runs_move_with_the_character_before_them() -> None:
    # "》。" and "……" must not be parted; ReportLab hangs one mark and starts a line with the other
    style = styles()["body"]
    text = "甲" * 9 + "《办法》。" + "乙" * 9 + "……" + "丙" * 9 + "——" + "丁" * 5
    for width in range(int(style.fontSize * 4), int(style.fontSize * 20)):
        lines = [line for line, _ in _lines(para(text), width)]
        assert bad_breaks(lines) == [], width
        joined = "\n".join(lines)
        assert "》\n。" not in joined and "…\n…" not in joined and "—\n—" not in joined, width


def test_para_escapes_markup_and_keeps_line_breaks(tmp_path: Path) -> None:
    pdf = tmp_path / "escaped.pdf"
    pdf.write_bytes(build([para("金额<b>1200</b> & 其他\n第二行：张喆")], title="t"))
    lines = [line for line in run("pdftotext", pdf, "-").splitlines() if line.strip()]
    assert lines[:2] == ["金额<b>1200</b> & 其他", "第二行：张喆"]


def test_styles_are_chinese() -> None:
    found = styles()
    assert set(found) >= {
        "title", "subtitle", "h1", "h2", "body", "small", "cell", "cell_right", "cell_center",
        "sign", "notice_body",
    }  # fmt: skip
    for name, style in found.items():
        assert style.fontName in ("CJK", "CJK-Bold"), name
        assert style.wordWrap == "CJK", name
    notice = found["notice_body"]
    assert notice.fontSize == 12
    assert notice.firstLineIndent == 2 * notice.fontSize
    assert notice.leading / notice.fontSize == pytest.approx(1.6)
    found["body"].fontSize = 30  # a copy: the styles para() uses stay as they were
    assert styles()["body"].fontSize != 30


def test_table_rejects_rows_that_do_not_fit_the_header() -> None:
    with pytest.raises(ValueError, match="row 2 has 3 cells"):
        table(["甲", "乙"], [["1", "2"], ["1", "2", "3"]], [20 * mm, 20 * mm])
    with pytest.raises(ValueError, match="2 header cells but 1 column widths"):
        table(["甲", "乙"], [], [20 * mm])


def _primitives(node: object) -> list[object]:
    if isinstance(node, UserNode):  # charts, axes and legends draw themselves into groups
        return _primitives(node.provideNode())
    if isinstance(node, Group):
        return [leaf for child in node.contents for leaf in _primitives(child)]
    return [node]


def test_bar_chart_labels_gaps_threshold_and_legend() -> None:
    drawing = bar_chart(
        ["一月", "二月", "三月"],
        [("拨款", [5, None, 7]), ("上年", [None, 3, 4])],
        width=300,
        height=150,
        threshold=6,
        threshold_label="6 元",
        title="生均拨款",
    )
    nodes = _primitives(drawing)
    strings = [n for n in nodes if isinstance(n, String)]
    assert {s.text for s in strings} >= {"一月", "三月", "6 元", "生均拨款", "拨款", "上年"}
    assert {s.fontName for s in strings} <= {"CJK", "CJK-Bold"}  # never Helvetica's boxes
    bars = [n for n in nodes if isinstance(n, Rect) and n.height > 8]
    assert len(bars) == 4  # two None values: two gaps
    dashed = [n for n in nodes if isinstance(n, Line) and n.strokeDashArray]
    assert len(dashed) == 1 and dashed[0].y1 == dashed[0].y2
    chart = next(c for c in drawing.contents if isinstance(c, VerticalBarChart))
    assert dashed[0].y1 == pytest.approx(chart.valueAxis.scale(6))  # at 6 on the value axis
    assert chart.y < dashed[0].y1 < chart.y + chart.height

    single = _primitives(bar_chart(["一月"], [("拨款", [5])], width=200, height=100))
    assert "拨款" not in {n.text for n in single if isinstance(n, String)}  # no legend for one
    assert not [n for n in single if isinstance(n, Line) and n.strokeDashArray]


def test_signature_block_puts_the_seal_beside_or_below() -> None:
    block = signature_block(["检查人员（签名）"], with_seal=True)
    _, wide = block.wrap(250 * mm, 1000)
    _, narrow = block.wrap(120 * mm, 1000)
    assert narrow > wide >= 40 * mm  # no room beside the lines: the seal box goes below
    _, plain = signature_block(["检查人员（签名）", "负责人（签名）"]).wrap(120 * mm, 1000)
    assert 0 < plain < 40 * mm


def test_a_notice_signs_beside_its_seal_with_the_office_and_date_in_it() -> None:
    office = ["北京市海淀区教育委员会", "2026年3月5日"]
    block = signature_block(["检查人员（签名）"] * 2, seal_lines=office, dated=False)
    _, height = block.wrap(174 * mm, 1000)
    assert height < 45 * mm  # beside the two lines, not below them
    dated = signature_block(["检查人员（签名）"] * 2, seal_lines=office)
    assert dated.wrap(174 * mm, 1000)[1] > 60 * mm  # the dates leave no room: below


def test_page_one_renders_to_png(sample: Path) -> None:
    """A picture to look at (screenshots/pdf/sample-1.png): no boxes, punctuation in place."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    prefix = SCREENSHOTS / "sample"
    run("pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", "-singlefile", sample, prefix)
    png = prefix.with_suffix(".png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width == 662 and abs(height - 841.89 / 72 * 80) < 1  # A4 at 80 dpi
    assert len(png) > 50_000  # text, a table and a chart, not a blank page


def test_reportlab_knows_the_chinese_marks() -> None:
    """The one patch of ReportLab's constants: plain Paragraphs at least hang ，；》” and such."""
    import reportlab.lib.textsplit
    import reportlab.platypus.paragraph

    for module in (reportlab.lib.textsplit, reportlab.platypus.paragraph):
        for mark in "，。、；：？！）》」』】〕”’…—％,.;:?!)%":
            assert mark in module.ALL_CANNOT_START, (module.__name__, mark)
    for mark in "（《「『【〔“‘":
        assert mark in reportlab.lib.textsplit.ALL_CANNOT_END
