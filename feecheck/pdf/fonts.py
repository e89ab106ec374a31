"""The Chinese font every PDF is set in: found once per process, registered as "CJK".

Order: the font FEECHECK_PDF_FONT names (a path, or `path:subfontIndex` for a .ttc), else the
first TrueType Chinese font found among the usual places and what `fc-list :lang=zh` reports,
else ReportLab's built-in STSong-Light, which is not embedded (readers without the Adobe Asian
font pack then show boxes or nothing), so that choice carries a warning.

ReportLab embeds (a subset of) TrueType fonts only: Noto CJK and Source Han are OpenType with
CFF outlines, which ReportLab refuses ("postscript outlines are not supported"), so they are
skipped. WenQuanYi Zen Hei (`fonts-wqy-zenhei`) comes first: it embeds and covers the rare
characters of children's names (䶮, 喆, 堃); Micro Hei lacks some of them.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont

log = logging.getLogger(__name__)

FONT_NAME = "CJK"
BOLD_FONT_NAME = "CJK-Bold"
ENV_VAR = "FEECHECK_PDF_FONT"
FALLBACK_CID_FONT = "STSong-Light"

# (path, subfont index) of TrueType CJK fonts, most wanted first: Debian/Ubuntu, Fedora, Arch,
# macOS, Windows. Paths that do not exist are passed over.
KNOWN_FONTS: tuple[tuple[str, int | None], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/TTF/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", None),
    ("/usr/share/fonts/google-droid/DroidSansFallbackFull.ttf", None),
    ("/System/Library/Fonts/STHeiti Medium.ttc", 0),
    ("/Library/Fonts/Arial Unicode.ttf", None),
    ("C:\\Windows\\Fonts\\simsun.ttc", 0),
    ("C:\\Windows\\Fonts\\msyh.ttc", 0),
    ("C:\\Windows\\Fonts\\simhei.ttf", None),
)

# A font must draw these to count as Chinese; RARE tells whether it covers CJK Extension A.
COMMON = "中文收费幼儿园"
RARE = "䶮"

FALLBACK_WARNING = (
    "未找到可嵌入的中文 TrueType 字体，PDF 使用未嵌入的 STSong-Light："
    "没有安装 Adobe 亚洲字体包的阅读器会把中文显示为方框或空白。"
    "请安装 fonts-wqy-zenhei（apt-get install fonts-wqy-zenhei），"
    f"或把 {ENV_VAR} 设为一个 TrueType 中文字体的路径（.ttc 可写 路径:序号）。 / "
    "No embeddable Chinese TrueType font was found, so the PDF uses STSong-Light, which is not "
    "embedded: readers without the Adobe Asian font pack show boxes or nothing for Chinese. "
    "Install fonts-wqy-zenhei (apt-get install fonts-wqy-zenhei), or set "
    f"{ENV_VAR} to the path of a TrueType Chinese font (path:index for a .ttc)."
)


@dataclass(frozen=True)
class FontChoice:
    """The font registered as "CJK": where it came from and whether the PDF embeds it."""

    name: str
    path: str | None
    subfont: int | None
    embedded: bool
    warning: str | None


_lock = threading.Lock()
_choice: FontChoice | None = None


def cjk_font() -> FontChoice:
    """Register the Chinese font as "CJK" (and "CJK-Bold") once per process and describe it.

    Raises ValueError when FEECHECK_PDF_FONT is set but names no usable TrueType Chinese font.
    """
    global _choice
    with _lock:
        if _choice is None:
            _choice = _register(*_select())
            if _choice.warning:
                log.warning("%s", _choice.warning)
        return _choice


def _select() -> tuple[FontChoice, TTFont | None]:
    """The font to use, loaded but not registered (None for the built-in CID fallback)."""
    configured = os.environ.get(ENV_VAR, "").strip()
    if configured:
        path, subfont = _parse_setting(configured)
        try:
            font = _load(path, subfont)
        except (TTFError, OSError, ValueError) as exc:
            raise ValueError(
                f"{ENV_VAR}={configured!r}: {path} cannot be used as the PDF font: {_reason(exc)}. "
                "Point it at a TrueType Chinese font (.ttf, or .ttc with path:index), "
                "e.g. /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc:0"
            ) from exc
        return _choice_for(path, subfont, font), font
    for path, subfont in _candidates():
        try:
            font = _load(path, subfont)
        except (TTFError, OSError, ValueError) as exc:
            log.debug("skipping font %s:%s: %s", path, subfont, exc)
            continue
        return _choice_for(path, subfont, font), font
    return (
        FontChoice(FONT_NAME, None, None, embedded=False, warning=FALLBACK_WARNING),
        None,
    )


def _parse_setting(value: str) -> tuple[str, int | None]:
    """`path` or `path:subfontIndex` (a file whose own name ends in ":<digits>" is a path)."""
    match = None if os.path.isfile(value) else re.fullmatch(r"(.+):(\d+)", value)
    if match:
        return match[1], int(match[2])
    return value, None


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "postscript outlines" in text:
        return (
            "it is an OpenType font with CFF (PostScript) outlines, which ReportLab cannot embed "
            "(Noto CJK and Source Han are such fonts)"
        )
    return text


def _load(path: str, subfont: int | None) -> TTFont:
    """Load a TrueType font that draws Chinese, or raise TTFError / OSError / ValueError."""
    if not os.path.exists(path):
        raise ValueError("no such file")
    if not os.path.isfile(path):
        raise ValueError("not a file")
    font = TTFont(FONT_NAME, path, subfontIndex=subfont or 0)
    missing = [ch for ch in COMMON if ord(ch) not in font.face.charToGlyph]
    if missing:
        raise ValueError(f"the font has no Chinese glyphs (lacks {''.join(missing)})")
    return font


def _candidates() -> list[tuple[str, int | None]]:
    """Known font files first, then what fontconfig lists for Chinese (sorted: stable order)."""
    seen: set[tuple[str, int]] = set()
    found: list[tuple[str, int | None]] = []
    for path, subfont in [*KNOWN_FONTS, *_fc_list()]:
        key = (os.path.realpath(path), subfont or 0)
        if key in seen or not os.path.isfile(path):
            continue
        seen.add(key)
        found.append((path, subfont))
    return found


def _fc_list() -> list[tuple[str, int | None]]:
    """The TrueType/OpenType files fontconfig says cover Chinese, with their face index."""
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return []
    try:
        out = subprocess.run(
            [fc_list, ":lang=zh", "--format", "%{file}\t%{index}\n"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    fonts: set[tuple[str, int]] = set()
    for line in out.splitlines():
        path, _, index = line.partition("\t")
        if path.lower().endswith((".ttf", ".ttc", ".otf", ".otc")):
            fonts.add((path, int(index) if index.isdigit() else 0))
    return [(path, index) for path, index in sorted(fonts)]


def _choice_for(path: str, subfont: int | None, font: TTFont) -> FontChoice:
    warning = None
    if ord(RARE) not in font.face.charToGlyph:
        warning = (
            f"字体 {path} 缺少扩展 A 区汉字（如 {RARE}），这类姓名会显示为空白；"
            "建议安装 fonts-wqy-zenhei。 / "
            f"The font {path} lacks CJK Extension A characters (such as {RARE}); names using "
            "them print blank. Install fonts-wqy-zenhei."
        )
    return FontChoice(FONT_NAME, path, subfont, embedded=True, warning=warning)


def _register(choice: FontChoice, font: TTFont | None) -> FontChoice:
    if font is None:
        # The CID font is known to ReportLab under its own name; renamed, "CJK" works in every
        # style and drawing whichever font was found.
        for name in (FONT_NAME, BOLD_FONT_NAME):
            cid = UnicodeCIDFont(FALLBACK_CID_FONT)
            cid.name = cid.fontName = name
            pdfmetrics.registerFont(cid)
    else:
        pdfmetrics.registerFont(font)
        # The same face under a second name: ReportLab keeps one font object for one face, so
        # bold costs no second embedding (there is no true bold in these fonts).
        pdfmetrics.registerFont(
            TTFont(BOLD_FONT_NAME, choice.path, subfontIndex=choice.subfont or 0)
        )
    # <b> and <i> in paragraphs look the family up: every variant maps to one of the two names.
    pdfmetrics.registerFontFamily(
        FONT_NAME,
        normal=FONT_NAME,
        bold=BOLD_FONT_NAME,
        italic=FONT_NAME,
        boldItalic=BOLD_FONT_NAME,
    )
    pdfmetrics.registerFontFamily(
        BOLD_FONT_NAME,
        normal=BOLD_FONT_NAME,
        bold=BOLD_FONT_NAME,
        italic=BOLD_FONT_NAME,
        boldItalic=BOLD_FONT_NAME,
    )
    return choice
