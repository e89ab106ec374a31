"""An Excel workbook through the import page, in a real browser: choose “workbook”, upload the
file, read the preview (counts per sheet, the rejected cell as Excel names it), download the
workbook template. Screenshots of both pages."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.e2e.support import INSPECTOR, login, screenshot

WORKBOOK = Path(__file__).resolve().parent.parent / "data" / "xlsx" / "workbook.libreoffice.xlsx"


def test_a_workbook_preview_and_the_template(page: Page, tmp_path: Path) -> None:
    login(page, INSPECTOR)
    page.goto("/imports/")
    expect(page.locator("h1")).to_contain_text("导入")
    with page.expect_download() as download:
        page.get_by_role("link", name="包含所有类型工作表的一个工作簿（.xlsx）").click()
    saved = tmp_path / "template.xlsx"
    download.value.save_as(saved)
    assert load_workbook(saved).sheetnames[:2] == ["幼儿园", "幼儿"]
    screenshot(page, "import-page")

    page.select_option('select[name="record_type"]', "workbook")
    page.set_input_files('input[name="file"]', str(WORKBOOK))
    page.locator('form[enctype="multipart/form-data"] [type="submit"]').click()
    expect(page.locator("#import-batch")).to_contain_text("已检查（未写入）", timeout=20_000)
    batch = page.locator("#import-batch")
    expect(batch).to_contain_text("幼儿园（kindergartens）：3 行")
    expect(batch).to_contain_text("检查记录（inspections）：2 行")
    expect(batch).to_contain_text("工作表“说明”不是任何记录类型，已忽略")
    expect(page.locator("table").last).to_contain_text("幼儿园!C4")  # K003 is not Haidian's
    expect(page.get_by_role("button", name="导入有效行")).to_be_visible()
    screenshot(page, "import-workbook-preview")
