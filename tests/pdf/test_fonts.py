"""Which Chinese font the PDFs use. The font is chosen once per process, so the choices other
than this machine's default run in fresh Python processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from layout_samples import REQUIRED, run

from feecheck.pdf.fonts import FontChoice, cjk_font

WQY = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # TrueType, but Latin only
NOTO_CJK = (  # CFF-outline OpenType, which ReportLab refuses, where fonts-noto-cjk is installed
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
)


def _fresh_python(code: str, **env: str) -> Any:
    """Run `code` in a new interpreter; it prints one JSON object as its last line."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _need_wqy() -> None:
    if not Path(WQY).is_file():
        reason = f"{WQY} is missing: apt-get install fonts-wqy-zenhei"
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)


def test_wenquanyi_zen_hei_is_found_and_embedded() -> None:
    _need_wqy()
    if os.environ.get("FEECHECK_PDF_FONT"):
        pytest.skip("FEECHECK_PDF_FONT chooses the font in this run")
    assert cjk_font() == FontChoice("CJK", WQY, 0, embedded=True, warning=None)
    assert cjk_font() is cjk_font()  # registered once


def test_an_unusable_configured_font_is_a_clear_error(tmp_path: Path) -> None:
    # ReportLab reads the sfnt version first: "OTTO" is OpenType with CFF outlines (Noto CJK).
    cff = tmp_path / "NotoSansCJK-Regular.otf"
    cff.write_bytes(b"OTTO" + bytes(60))
    text = tmp_path / "font.ttf"
    text.write_text("not a font", encoding="utf-8")
    cases = {
        str(cff): "CFF",
        str(text): "Not a recognized TrueType font",
        str(tmp_path / "missing.ttf"): "no such file",
        str(tmp_path): "not a file",
    }
    cases.update({path: "CFF" for path in NOTO_CJK if Path(path).is_file()})
    if Path(WQY).is_file():
        cases[f"{WQY}:7"] = "subfont"  # the .ttc holds three faces
    if Path(DEJAVU).is_file():
        cases[DEJAVU] = "no Chinese glyphs"
    result = _fresh_python(
        f"""
        import json, os
        from feecheck.pdf.fonts import cjk_font
        errors = {{}}
        for path in {list(cases)!r}:
            os.environ["FEECHECK_PDF_FONT"] = path
            try:
                cjk_font()
            except ValueError as exc:
                errors[path] = str(exc)
        print(json.dumps(errors))
        """
    )
    assert set(result) == set(cases)  # every one refused, none registered
    for path, reason in cases.items():
        message = str(result[path])
        assert "FEECHECK_PDF_FONT" in message and path.partition(":")[0] in message, message
        assert reason.lower() in message.lower(), message


def test_a_configured_ttc_face_is_used_and_embedded(tmp_path: Path) -> None:
    _need_wqy()
    pdf = tmp_path / "mono.pdf"
    result = _fresh_python(
        f"""
        import dataclasses, json
        from pathlib import Path
        from feecheck.pdf.fonts import cjk_font
        from feecheck.pdf.layout import build, para
        Path({str(pdf)!r}).write_bytes(build([para("等宽字体：李䶮")], title="t"))
        print(json.dumps(dataclasses.asdict(cjk_font())))
        """,
        FEECHECK_PDF_FONT=f"{WQY}:1",
    )
    assert result == {
        "name": "CJK",
        "path": WQY,
        "subfont": 1,
        "embedded": True,
        "warning": None,
    }
    fonts = run("pdffonts", pdf).splitlines()[2:]
    assert fonts and all("WenQuanYiZenHeiMono" in row and " yes " in row for row in fonts)
    assert "等宽字体：李䶮" in run("pdftotext", pdf, "-")


def test_without_a_truetype_chinese_font_stsong_light_with_a_warning(tmp_path: Path) -> None:
    pdf = tmp_path / "cid.pdf"
    result = _fresh_python(
        f"""
        import dataclasses, json
        from pathlib import Path
        from feecheck.pdf import fonts
        fonts.KNOWN_FONTS = ()  # a machine without any of them
        fonts._fc_list = lambda: []
        from feecheck.pdf.layout import build, para, table
        Path({str(pdf)!r}).write_bytes(
            build([para("收费检查"), table(["幼儿"], [["张喆"]], [100])], title="t")
        )
        print(json.dumps(dataclasses.asdict(fonts.cjk_font())))
        """,
        FEECHECK_PDF_FONT="",
    )
    assert result["name"] == "CJK" and result["path"] is None
    assert result["embedded"] is False
    warning = str(result["warning"])
    for hint in ("方框", "boxes", "fonts-wqy-zenhei", "FEECHECK_PDF_FONT", "STSong-Light"):
        assert hint in warning
    fonts = run("pdffonts", pdf).splitlines()[2:]
    assert fonts and all(row.startswith("STSong-Light") and " no " in row for row in fonts)


def test_a_table_may_come_first_in_a_fresh_process(tmp_path: Path) -> None:
    """Every building block registers the font itself (the bold header cells need its family)."""
    pdf = tmp_path / "table.pdf"
    result = _fresh_python(
        f"""
        import json
        from pathlib import Path
        from feecheck.pdf.layout import build, key_values, table
        flowables = [table(["幼儿", "金额"], [["张喆", "1.00"]], [100, 60], numeric={{1}})]
        flowables.append(key_values([("负责人", "王堃")], (60, 100)))
        Path({str(pdf)!r}).write_bytes(build(flowables, title="t"))
        print(json.dumps("ok"))
        """
    )
    assert result == "ok"
    text = run("pdftotext", pdf, "-")
    assert "张喆" in text and "王堃" in text
