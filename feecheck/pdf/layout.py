"""Building blocks of every feecheck PDF: styles, Chinese paragraphs, tables, charts, signature
lines, and `build`, which renders flowables to deterministic bytes with "第 X 页 共 Y 页".

Everything is set in the font `fonts.cjk_font()` registers as "CJK"; nothing falls back to
Helvetica (which draws Chinese as boxes), not even chart labels or the canvas's initial font.

Chinese line breaking. ReportLab's `wordWrap="CJK"` breaks between any two characters and knows
Japanese kinsoku only: `reportlab.lib.textsplit.ALL_CANNOT_START` lacks the Chinese ，；：？！》”’
…— and ASCII %, `ALL_CANNOT_END` is defined but never consulted, and a closing mark that would
start a line is hung in the right margin (one mark only: "》。" still leaves "。" to start the
next line). So this module (1) adds the Chinese marks to ReportLab's sets, once, below, and
(2) `ChineseParagraph` runs ReportLab's own splitter and, where a break is still wrong (a line
starts with a closing mark, ends with an opening one, or overhangs its width), narrows that one
line's width so ReportLab's splitter breaks earlier and carries the last character over with
the punctuation (推出, "pushing out", one of the ways of Chinese typesetting's 禁则 in W3C's
clreq; nothing is drawn past the measure, so table cells never overflow their rules). It also
keeps ReportLab from slipping a space into every line break of a multi-style paragraph that
runs on to the next page. `para`, `markup` and `table` make ChineseParagraphs; a plain
Paragraph still gets (1) only.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import cache, lru_cache, partial
from typing import Any, NamedTuple
from xml.sax.saxutils import escape

import reportlab.lib.textsplit as _textsplit
import reportlab.platypus.paragraph as _paragraph
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, Group, Line, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, LongTable, Paragraph, SimpleDocTemplate, Table, TableStyle

from feecheck.pdf.fonts import BOLD_FONT_NAME, FONT_NAME, cjk_font

# Punctuation that may not start a line (closing marks, pauses, stops) and that may not end one
# (opening marks), full width and half width.
CANNOT_START = "，。、；：？！）》」』】〕〉”’…—％．］｝,.;:?!)%]}"
CANNOT_END = "（《「『【〔〈“‘［｛([{"

# The one patch of ReportLab's module-level constants: its CJK splitter reads ALL_CANNOT_START
# (paragraph.py imported the name, so both modules are set) and hangs such a character instead
# of starting a line with it; the sets are Japanese and miss the Chinese marks above. Idempotent.
_textsplit.ALL_CANNOT_START = _paragraph.ALL_CANNOT_START = _textsplit.ALL_CANNOT_START + "".join(
    ch for ch in CANNOT_START if ch not in _textsplit.ALL_CANNOT_START
)
_textsplit.ALL_CANNOT_END = _textsplit.ALL_CANNOT_END + "".join(
    ch for ch in CANNOT_END if ch not in _textsplit.ALL_CANNOT_END
)

# ReportLab measures a CJK paragraph one character at a time ("the performance is going to
# SUCK", its own comment): the same characters again and again. Their widths, per font and size,
# are kept here (glyph widths of a registered font never change); the same numbers, measured once.
_CHAR_WIDTHS: dict[tuple[str, float], dict[str, float]] = {}


def _char_widths(word: str, fontName: str, fontSize: float) -> list[float]:
    table = _CHAR_WIDTHS.setdefault((fontName, fontSize), {})
    widths = []
    for ch in word:
        width = table.get(ch)
        if width is None:
            width = table[ch] = stringWidth(ch, fontName, fontSize)
        widths.append(width)
    return widths


_textsplit.getCharWidths = _char_widths

_WIDTH_FUZZ = 1e-3  # points: a line this much wider than its measure still fits

HEADER_GREY = colors.HexColor("#d9d9d9")
ZEBRA_GREY = colors.HexColor("#f3f3f3")
LABEL_GREY = colors.HexColor("#eeeeee")
GRID_GREY = colors.HexColor("#808080")
TEXT_GREY = colors.HexColor("#555555")
SERIES_COLOURS = (
    colors.HexColor("#4e79a7"),
    colors.HexColor("#f28e2b"),
    colors.HexColor("#59a14f"),
    colors.HexColor("#b07aa1"),
    colors.HexColor("#9c755f"),
    colors.HexColor("#76b7b2"),
)
THRESHOLD_COLOUR = colors.HexColor("#c0392b")


# ---------------------------------------------------------------------------------------------
# Chinese line breaking


class ChineseParagraph(Paragraph):
    """A Paragraph whose CJK line breaks keep Chinese punctuation where it belongs.

    No line starts with a mark of CANNOT_START, none ends with one of CANNOT_END, and none is
    wider than its measure (unless a single character is). See the module docstring.
    """

    def breakLinesCJK(self, maxWidths: float | list[float] | tuple[float, ...]) -> Any:
        if not isinstance(maxWidths, list | tuple):
            maxWidths = [maxWidths]
        if getattr(self, "_splitpara", 0) and hasattr(self, "blPara"):
            return super().breakLinesCJK(maxWidths)  # the first part of a split: lines kept
        base = list(maxWidths)
        widths = list(base)
        settled: set[int] = set()  # breaks that have no better place
        passes = 0
        while True:
            # a copy each time: ReportLab narrows maxWidths[0] in place for a bullet
            bl_para = super().breakLinesCJK(list(widths))
            lines = _laid_out(bl_para)
            passes += 1
            if passes > sum(len(line.text) + 1 for line in lines) + 1:
                break  # cannot happen (every pass narrows a line or settles a break); a guard
            fix = _first_bad_break(lines, settled)
            if fix is None:
                break
            k, width = fix
            widths.extend([base[-1]] * (k + 2 - len(widths)))
            if width >= widths[k] - _WIDTH_FUZZ:
                settled.add(k)  # ReportLab would not break earlier there: leave it
            else:
                widths[k] = width
        _restore_measures(bl_para, base, widths)
        return bl_para

    def _get_split_blParaFunc(self) -> Callable[[Any, int, int], Any]:
        func = super()._get_split_blParaFunc()
        return _split_cjk_lines if func is _paragraph._split_blParaHard else func


def _split_cjk_lines(bl_para: Any, start: int, stop: int) -> list[Any]:
    """The fragments of lines[start:stop], for the part of a paragraph on the next page.

    ReportLab's _split_blParaHard appends a space to each line, as if the break had eaten one;
    a CJK break eats nothing, so that space would show up in the Chinese on the next page.
    """
    return [frag for line in bl_para.lines[start:stop] for frag in line.words]


class _Line(NamedTuple):
    """A line as ReportLab laid it out.

    pieces: (text, font name, font size, width) per fragment; an inline object (an image, an
    anchor) is ("", "", 0, its width). extra: the unused width (negative: the line overhangs).
    """

    pieces: list[tuple[str, str, float, float]]
    extra: float
    hard_break: bool  # ended by <br/>: not ours to move

    @property
    def text(self) -> str:
        return "".join(piece[0] for piece in self.pieces)

    def units(self) -> list[tuple[str, float]]:
        """(character, width) in order; ("", width) for an inline object."""
        units: list[tuple[str, float]] = []
        for text, font, size, width in self.pieces:
            if font:
                units.extend((ch, _glyph_width(ch, font, size)) for ch in text)
            else:
                units.append(("", width))
        return units


def _laid_out(bl_para: Any) -> list[_Line]:
    if bl_para.kind == 0:  # one style: ReportLab's lines are (extra, [text])
        font, size = bl_para.fontName, bl_para.fontSize
        return [
            _Line([(" ".join(words), font, size, 0.0)], extra, False)
            for extra, words in bl_para.lines
        ]
    return [
        _Line(
            [
                ("", "", 0.0, float(getattr(frag.cbDefn, "width", 0) or 0))
                if hasattr(frag, "cbDefn")
                else (frag.text, frag.fontName, frag.fontSize, 0.0)
                for frag in line.words
            ],
            line.extraSpace,
            bool(getattr(line, "lineBreak", False)),
        )
        for line in bl_para.lines
    ]


@lru_cache(maxsize=1 << 16)
def _glyph_width(ch: str, font: str, size: float) -> float:
    return stringWidth(ch, font, size)


def _first_bad_break(lines: list[_Line], settled: set[int]) -> tuple[int, float] | None:
    """The first soft break that is wrong, and the width that makes ReportLab break earlier."""
    for k, line in enumerate(lines):
        if line.hard_break or k in settled:
            continue
        following = lines[k + 1].text.lstrip()[:1] if k + 1 < len(lines) else ""
        if not (
            line.extra < -_WIDTH_FUZZ  # ReportLab hung a mark in the margin (also the last line)
            or following in _char_set(CANNOT_START)
            or (following and line.text.rstrip()[-1:] in _char_set(CANNOT_END))
        ):
            continue
        width = _earlier_break(line, following)
        if width is not None:
            return k, width
        settled.add(k)
    return None


def _earlier_break(line: _Line, following: str) -> float | None:
    """A measure that makes ReportLab end `line` before its last good break, if there is one.

    The line keeps units[:j] for the largest j where the kept part ends in a visible character
    that is no opening mark, and the moved part starts with no closing mark.
    """
    units = line.units()
    measure = sum(width for _, width in units) + line.extra
    visible = [text if text and not text.isspace() else "" for text, _ in units]
    last_visible = [""] * (len(units) + 1)  # last_visible[j]: the last one in units[:j]
    for j, text in enumerate(visible):
        last_visible[j + 1] = text or last_visible[j]
    next_visible = following  # the first visible one in units[j:] (then the next line)
    kept = measure - line.extra  # the width of units[:j], from j = len(units) down
    for j in range(len(units) - 1, 0, -1):
        text, width = units[j]
        kept -= width
        next_visible = visible[j] or next_visible
        if (
            width > 0
            and kept <= measure + _WIDTH_FUZZ
            and text not in _char_set(_paragraph.ALL_CANNOT_START)
            and next_visible not in _char_set(CANNOT_START)
            and last_visible[j]
            and last_visible[j] not in _char_set(_textsplit.ALL_CANNOT_END)
        ):
            return kept + width / 2
    return None


@cache
def _char_set(chars: str) -> frozenset[str]:
    """The characters of `chars` ("" is never one: an inline object is no punctuation)."""
    return frozenset(chars)


def _restore_measures(bl_para: Any, base: list[float], widths: list[float]) -> None:
    """Give narrowed lines back their real measure, so alignment uses the real width."""
    for k, width in enumerate(widths):
        real = base[min(k, len(base) - 1)]
        if k >= len(bl_para.lines) or width == real:
            continue
        delta = real - width
        if bl_para.kind == 0:
            extra, words = bl_para.lines[k]
            bl_para.lines[k] = (extra + delta, words)
        else:
            line = bl_para.lines[k]
            line.extraSpace += delta
            line.maxWidth = real


# ---------------------------------------------------------------------------------------------
# Styles and paragraphs


def styles() -> dict[str, ParagraphStyle]:
    """The paragraph styles, all in the CJK font with CJK wrapping (fresh copies: change freely).

    Keys: title, subtitle, h1, h2, body, small, cell, cell_right, cell_center, sign, notice_body
    (公文 body text: 12 pt, two characters' first-line indent, leading 1.6), and cell_header
    (bold, centred: the header row of `table`).
    """
    return {key: ParagraphStyle(style.name, parent=style) for key, style in _base_styles().items()}


@cache
def _base_styles() -> dict[str, ParagraphStyle]:
    cjk_font()
    common: dict[str, Any] = {"fontName": FONT_NAME, "wordWrap": "CJK", "textColor": colors.black}
    bold: dict[str, Any] = {**common, "fontName": BOLD_FONT_NAME}
    return {
        "title": ParagraphStyle(
            "title", **bold, fontSize=18, leading=26, alignment=TA_CENTER, spaceAfter=6
        ),
        "subtitle": ParagraphStyle(
            "subtitle", **common, fontSize=12, leading=18, alignment=TA_CENTER, spaceAfter=10
        ),
        "h1": ParagraphStyle(
            "h1", **bold, fontSize=14, leading=20, spaceBefore=12, spaceAfter=6, keepWithNext=1
        ),
        "h2": ParagraphStyle(
            "h2", **bold, fontSize=12, leading=17, spaceBefore=8, spaceAfter=4, keepWithNext=1
        ),
        "body": ParagraphStyle("body", **common, fontSize=10.5, leading=16, spaceAfter=4),
        "small": ParagraphStyle(
            "small", **{**common, "textColor": TEXT_GREY}, fontSize=8, leading=11
        ),
        **_cell_styles(9),
        "sign": ParagraphStyle("sign", **common, fontSize=12, leading=20, alignment=TA_RIGHT),
        # 公文 body text: 12 pt, two characters of first-line indent, leading 1.6.
        "notice_body": ParagraphStyle(
            "notice_body",
            **common,
            fontSize=12,
            leading=19.2,
            firstLineIndent=24,
            spaceAfter=0,
        ),
    }


@cache
def _cell_styles(font_size: float) -> dict[str, ParagraphStyle]:
    """cell, cell_right, cell_center and cell_header at one font size."""
    cjk_font()  # the styles name the font: it must be registered before a paragraph is parsed
    common: dict[str, Any] = {
        "fontName": FONT_NAME,
        "wordWrap": "CJK",
        "fontSize": font_size,
        "leading": round(font_size * 1.3, 2),
    }
    return {
        "cell": ParagraphStyle("cell", **common, alignment=TA_LEFT),
        "cell_right": ParagraphStyle("cell_right", **common, alignment=TA_RIGHT),
        "cell_center": ParagraphStyle("cell_center", **common, alignment=TA_CENTER),
        "cell_header": ParagraphStyle(
            "cell_header", **{**common, "fontName": BOLD_FONT_NAME}, alignment=TA_CENTER
        ),
    }


def _style(style: str | ParagraphStyle) -> ParagraphStyle:
    if isinstance(style, ParagraphStyle):
        return style
    try:
        return _base_styles()[style]
    except KeyError:
        raise ValueError(
            f"no paragraph style {style!r}; styles: {sorted(_base_styles())}"
        ) from None


def para(text: str, style: str | ParagraphStyle = "body") -> Paragraph:
    """A paragraph of plain text: `& < >` are escaped (data is never markup), `\\n` breaks lines."""
    return ChineseParagraph(_escape_text(text), _style(style))


def markup(xml: str, style: str | ParagraphStyle = "body") -> Paragraph:
    """A paragraph of trusted ReportLab markup (<b>, <font>, <br/> …); never pass data here."""
    return ChineseParagraph(xml, _style(style))


def _escape_text(text: str) -> str:
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br/>".join(escape(line) for line in lines)


# ---------------------------------------------------------------------------------------------
# Tables


def table(
    header: list[str | Paragraph],
    rows: list[list[object]],
    col_widths: list[float],
    *,
    numeric: set[int] | frozenset[int] = frozenset(),
    zebra: bool = True,
    font_size: float = 9,
) -> Table:
    """A grid table that splits across pages, its header row repeated on every page.

    Cells become CJK paragraphs (str and other values escaped as text, None as empty, flowables
    kept); the columns in `numeric` are right-aligned.
    """
    if len(col_widths) != len(header):
        raise ValueError(f"{len(header)} header cells but {len(col_widths)} column widths")
    for number, row in enumerate(rows, start=1):
        if len(row) != len(header):
            raise ValueError(f"row {number} has {len(row)} cells, the header {len(header)}")
    cell_styles = _cell_styles(font_size)
    data: list[list[Any]] = [[_cell(value, cell_styles["cell_header"]) for value in header]]
    for row in rows:
        data.append(
            [
                _cell(value, cell_styles["cell_right" if i in numeric else "cell"])
                for i, value in enumerate(row)
            ]
        )
    commands: list[tuple[Any, ...]] = [
        # Table sets its cell font even for paragraph cells; Helvetica would be listed unembedded
        ("FONT", (0, 0), (-1, -1), FONT_NAME, font_size),
        ("GRID", (0, 0), (-1, -1), 0.5, GRID_GREY),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_GREY),
        ("VALIGN", (0, 0), (-1, 0), "MIDDLE"),
        ("VALIGN", (0, 1), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if zebra and len(rows) > 1:
        commands.append(("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, ZEBRA_GREY]))
    result = LongTable(data, colWidths=col_widths, repeatRows=1, hAlign="LEFT")
    result.setStyle(TableStyle(commands))
    return result


def _cell(value: object, style: ParagraphStyle) -> Any:
    if isinstance(value, Flowable | list | tuple):
        return value
    if value is None:
        return ChineseParagraph("", style)
    return ChineseParagraph(_escape_text(str(value)), style)


def key_values(pairs: list[tuple[str, str]], col_widths: tuple[float, float]) -> Table:
    """A two-column table of labels (shaded) and values, for summaries and document headers."""
    cell_styles = _cell_styles(10)
    data = [
        [_cell(label, cell_styles["cell"]), _cell(value, cell_styles["cell"])]
        for label, value in pairs
    ]
    result = Table(data, colWidths=list(col_widths), hAlign="LEFT")
    result.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT_NAME, 10),
                ("GRID", (0, 0), (-1, -1), 0.5, GRID_GREY),
                ("BACKGROUND", (0, 0), (0, -1), LABEL_GREY),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return result


# ---------------------------------------------------------------------------------------------
# Charts


def bar_chart(
    categories: list[str],
    series: list[tuple[str, list[Decimal | int | None]]],
    *,
    width: float,
    height: float,
    threshold: Decimal | int | None = None,
    threshold_label: str = "",
    title: str = "",
) -> Drawing:
    """A vertical bar chart, every label in the CJK font; None values are gaps.

    A dashed line marks `threshold` (labelled at its right end); a legend names the series when
    there is more than one.
    """
    cjk_font()
    if not series:
        raise ValueError("a bar chart needs at least one series")
    for name, values in series:
        if len(values) != len(categories):
            raise ValueError(
                f"series {name!r} has {len(values)} values for {len(categories)} categories"
            )
    data = [[None if v is None else float(v) for v in values] for _, values in series]
    numbers = [v for values in data for v in values if v is not None]
    if threshold is not None:
        numbers.append(float(threshold))
    top = max(numbers, default=0.0)
    bottom = min([0.0, *numbers])

    label_size, title_size = 7.0, 10.0
    # the renderer sets the drawing's initial font, Helvetica unless told: listed, not embedded
    drawing = Drawing(width, height, initialFontName=FONT_NAME, initialFontSize=label_size)
    chart = VerticalBarChart()
    chart.data = data
    chart.valueAxis.valueMin = bottom * 1.1
    chart.valueAxis.valueMax = top * 1.1 if top > 0 else 1.0
    chart.valueAxis.rangeRound = "both"
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = colors.HexColor("#dddddd")
    chart.valueAxis.gridStrokeWidth = 0.4
    chart.valueAxis.labels.fontName = FONT_NAME
    chart.valueAxis.labels.fontSize = label_size
    chart.valueAxis.labelTextFormat = _axis_number
    chart.categoryAxis.categoryNames = list(categories)
    chart.categoryAxis.labels.fontName = FONT_NAME
    chart.categoryAxis.labels.fontSize = label_size
    chart.categoryAxis.labelAxisMode = "low"  # under the plot, also when bars go below zero
    chart.bars.strokeColor = None
    chart.groupSpacing = 6
    chart.barSpacing = 1
    for i in range(len(series)):
        chart.bars[i].fillColor = SERIES_COLOURS[i % len(SERIES_COLOURS)]

    value_label_width = max(
        stringWidth(_axis_number(v), FONT_NAME, label_size) for v in (bottom, top * 1.25, 0)
    )
    right_pad = 6.0
    if threshold is not None and threshold_label:
        right_pad += stringWidth(threshold_label, FONT_NAME, label_size) + 2
    chart.x = value_label_width + 8
    chart.width = max(width - chart.x - right_pad, 10)
    slot = chart.width / max(len(categories), 1)
    widest = max((stringWidth(c, FONT_NAME, label_size) for c in categories), default=0)
    if widest > slot - 2:  # slanted labels when they would run into each other
        chart.categoryAxis.labels.angle = 30
        chart.categoryAxis.labels.boxAnchor = "ne"
        chart.categoryAxis.labels.dx = 2
        chart.categoryAxis.labels.dy = -2
        chart.y = widest * 0.5 + label_size + 6
    else:
        chart.categoryAxis.labels.boxAnchor = "n"
        chart.y = label_size + 8
    title_height = title_size + 8 if title else 4
    legend_height = label_size + 8 if len(series) > 1 else 0
    chart.height = max(height - chart.y - title_height - legend_height, 10)

    if threshold is not None:
        chart.annotations = [partial(_threshold_line, float(threshold), threshold_label)]
    drawing.add(chart)

    if title:
        drawing.add(
            String(
                width / 2,
                height - title_size - 2,
                title,
                fontName=BOLD_FONT_NAME,
                fontSize=title_size,
                textAnchor="middle",
            )
        )
    if len(series) > 1:
        legend = Legend()
        legend.fontName = FONT_NAME
        legend.fontSize = label_size
        legend.alignment = "right"
        legend.columnMaximum = 1
        legend.boxAnchor = "nw"
        legend.x = chart.x
        legend.y = chart.y + chart.height + legend_height - 1
        legend.dx = legend.dy = label_size
        legend.deltax = 0
        legend.autoXPadding = 12
        legend.strokeColor = None
        legend.colorNamePairs = [
            (SERIES_COLOURS[i % len(SERIES_COLOURS)], name) for i, (name, _) in enumerate(series)
        ]
        drawing.add(legend)
    return drawing


def _axis_number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:,.1f}"


def _threshold_line(
    value: float,
    label: str,
    chart: VerticalBarChart,
    category_scale: Callable[[int], float],
    value_scale: Callable[[float], float],
) -> Group:
    y = value_scale(value)
    group = Group(
        Line(
            chart.x,
            y,
            chart.x + chart.width,
            y,
            strokeColor=THRESHOLD_COLOUR,
            strokeWidth=1,
            strokeDashArray=[4, 3],
        )
    )
    if label:
        group.add(
            String(
                chart.x + chart.width + 2,
                y - 2.5,
                label,
                fontName=FONT_NAME,
                fontSize=7,
                fillColor=THRESHOLD_COLOUR,
            )
        )
    return group


# ---------------------------------------------------------------------------------------------
# How money, days and months read in a Chinese document


def yuan(value: Decimal | None) -> str:
    """1,234.50; a dash for a value nobody knows."""
    return "—" if value is None else f"{value:,.2f}"


def cn_date(day: date) -> str:
    """2026年3月5日."""
    return f"{day.year}年{day.month}月{day.day}日"


def cn_month(month: str) -> str:
    """2026-03 → 2026年3月."""
    year, _, number = month.partition("-")
    return f"{year}年{int(number)}月" if number.isdigit() else month


# ---------------------------------------------------------------------------------------------
# Signatures


class _SignatureBlock(Flowable):
    """Lines to sign and date, one per label, and a dashed seal box if asked.

    The seal box stands to the right of the lines when they leave room for it, else below them
    on the right (where a seal goes on a notice).
    """

    seal_size = 40 * mm
    gap = 6 * mm
    min_line = 28 * mm
    max_line = 60 * mm
    # the date: "日期：" then blanks (widths) and 年 月 日
    date_parts = (("日期：", 0.0), ("", 12 * mm), ("年", 0.0), ("", 8 * mm), ("月", 0.0))
    date_parts += (("", 8 * mm), ("日", 0.0))

    def __init__(
        self, labels: list[str], with_seal: bool, seal_lines: list[str], dated: bool
    ) -> None:
        super().__init__()
        self.date_parts = self.date_parts if dated else ()
        self.labels = [_with_colon(label) for label in labels]
        self.with_seal = with_seal or bool(seal_lines)
        self.seal_lines = seal_lines
        self.font_size = _base_styles()["sign"].fontSize
        self.row_height = self.font_size * 2.8

    def _text_width(self, text: str) -> float:
        return stringWidth(text, FONT_NAME, self.font_size)

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width = availWidth
        self.label_width = max((self._text_width(t) for t in self.labels), default=0)
        date_width = sum(w or self._text_width(t) for t, w in self.date_parts)
        fixed = self.label_width + 2 + self.gap + date_width
        self.seal_width = max([self.seal_size] + [self._text_width(t) for t in self.seal_lines])
        beside = availWidth - fixed - self.gap - self.seal_width
        self.seal_beside = self.with_seal and beside >= self.min_line
        room = beside if self.seal_beside else availWidth - fixed
        self.line_width = min(self.max_line, max(self.min_line, room))
        rows = self.row_height * len(self.labels)
        if not self.with_seal:
            self.height = rows
        elif self.seal_beside:
            self.height = max(rows, self.seal_size + 4)
        else:
            self.height = rows + self.seal_size + 4
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        return []  # kept whole: moves to the next page

    def draw(self) -> None:
        canvas, size = self.canv, self.font_size
        canvas.saveState()
        canvas.setFont(FONT_NAME, size)
        canvas.setLineWidth(0.6)
        for i, label in enumerate(self.labels):
            y = self.height - (i + 1) * self.row_height + self.row_height * 0.3
            canvas.drawString(0, y, label)
            x = self.label_width + 2
            canvas.line(x, y - 2, x + self.line_width, y - 2)
            x += self.line_width + self.gap
            for text, blank in self.date_parts:
                if text:
                    canvas.drawString(x, y, text)
                    x += self._text_width(text)
                else:
                    canvas.line(x + 1, y - 2, x + blank - 1, y - 2)
                    x += blank
        if self.with_seal:
            middle = self.width - self.seal_width / 2
            left = middle - self.seal_size / 2
            bottom = (self.height - self.seal_size) / 2 if self.seal_beside else 0
            canvas.setDash(3, 2)
            canvas.setStrokeColor(TEXT_GREY)
            canvas.rect(left, bottom, self.seal_size, self.seal_size)
            canvas.setDash()
            canvas.setFillColor(TEXT_GREY)
            # the office and the date sit in the lower part of the box: the seal covers them
            top = bottom + (self.seal_size - size) / 2 + 2
            text_y = bottom + 4 + (len(self.seal_lines) - 1) * size * 1.5
            canvas.drawCentredString(middle, max(top, text_y + size * 2), "（盖章）")
            canvas.setFillColor(colors.black)
            for i, line in enumerate(self.seal_lines):
                canvas.drawCentredString(middle, text_y - i * size * 1.5, line)
        canvas.restoreState()


def _with_colon(label: str) -> str:
    return label if label.endswith(("：", ":")) else label + "："


def signature_block(
    labels: list[str],
    *,
    with_seal: bool = False,
    seal_lines: list[str] | None = None,
    dated: bool = True,
) -> Flowable:
    """Signature and date lines, one per label, and optionally a dashed seal box.

    A row reads like "检查人员（签名）：________  日期：____年__月__日". `seal_lines` (the issuing
    office and the date) are printed in the lower part of the seal box, where the seal covers
    them on a served document; they imply `with_seal`. `dated=False` leaves the rows' dates out
    (the seal's date stands for them).
    """
    cjk_font()
    return _SignatureBlock(list(labels), with_seal, list(seal_lines or []), dated)


# ---------------------------------------------------------------------------------------------
# The document


class _NumberedCanvas(Canvas):
    """Holds the pages back until the end, then stamps each with "第 X 页 共 Y 页"."""

    def __init__(
        self, *args: Any, header: str, footer: str, margins: tuple[float, ...], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._page_states: list[dict[str, Any]] = []
        self._header, self._footer, self._margins = header, footer, margins

    def showPage(self) -> None:
        self._page_states.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._page_states)
        for number, state in enumerate(self._page_states, start=1):
            self.__dict__.update(state)
            self._decorate(number, total)
            super().showPage()
        super().save()

    def _decorate(self, number: int, total: int) -> None:
        top, right, bottom, left = self._margins
        page_width, page_height = self._pagesize
        size = 8
        self.saveState()
        self.setFont(FONT_NAME, size)
        self.setFillColor(TEXT_GREY)
        self.setStrokeColor(GRID_GREY)
        self.setLineWidth(0.4)
        if self._header:
            y = page_height - top / 2
            self.drawCentredString(page_width / 2, y, _fit(self._header, page_width - left - right))
            self.line(left, y - 4, page_width - right, y - 4)
        y = bottom / 2
        page_text = f"第 {number} 页 共 {total} 页"
        if self._footer:
            room = page_width - left - right - stringWidth(page_text, FONT_NAME, size) - 10 * mm
            self.drawString(left, y, _fit(self._footer, room))
            self.drawRightString(page_width - right, y, page_text)
            self.line(left, y + size + 2, page_width - right, y + size + 2)
        else:
            self.drawCentredString(page_width / 2, y, page_text)
        self.restoreState()


def _fit(text: str, room: float, size: float = 8) -> str:
    """`text`, cut with an ellipsis to fit `room` points."""
    if stringWidth(text, FONT_NAME, size) <= room:
        return text
    while text and stringWidth(text + "…", FONT_NAME, size) > room:
        text = text[:-1]
    return text + "…"


def build(
    flowables: list[Flowable],
    *,
    title: str,
    subject: str = "",
    author: str = "feecheck",
    creator: str = "feecheck",
    page_size: tuple[float, float] = A4,
    margins_mm: tuple[float, float, float, float] = (20, 18, 20, 18),
    footer: str = "",
    header: str = "",
) -> bytes:
    """Render flowables to PDF bytes: page numbers, header/footer text, metadata, fonts embedded.

    `margins_mm` is (top, right, bottom, left). The output is deterministic: the same flowables
    give the same bytes in any process (no clock in the file, a fixed document id).
    """
    cjk_font()
    top, right, bottom, left = (m * mm for m in margins_mm)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=page_size,
        topMargin=top,
        rightMargin=right,
        bottomMargin=bottom,
        leftMargin=left,
        title=title,
        subject=subject,
        author=author,
        creator=creator,
        invariant=1,
        lang="zh-CN",
        # the canvas's initial font is otherwise Helvetica, listed in the PDF and not embedded
        initialFontName=FONT_NAME,
        initialFontSize=10,
    )
    doc.build(
        list(flowables),  # ReportLab consumes the list it is given
        canvasmaker=partial(
            _NumberedCanvas, header=header, footer=footer, margins=(top, right, bottom, left)
        ),
    )
    return buffer.getvalue()
