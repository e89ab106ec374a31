"""A notice and the money it demands, in a real browser: issue a notice from the kindergarten's
page, open it, record a follow-up, find its refunds in the ledger. Screenshots of both pages."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from feecheck.services.demo import SEEDED_CASES
from tests.e2e.support import INSPECTOR, login, screenshot

PROHIBITED = SEEDED_CASES["FEE-PROHIBITED-ITEM"][0]  # a Haidian kindergarten


def test_a_notice_its_follow_up_and_the_ledger(page: Page) -> None:
    login(page, INSPECTOR)
    page.locator("header nav").get_by_role("link", name="幼儿园", exact=True).click()
    page.get_by_role("link", name=PROHIBITED, exact=True).click()
    form = page.locator("form", has=page.locator('input[name="inspector1"]'))
    form.locator('input[name="period_from"]').fill("2025-10")
    form.locator('input[name="period_to"]').fill("2025-10")
    form.locator('input[name="inspector1"]').fill("张明")
    form.locator('input[name="certificate1"]').fill("11010820230001")
    form.get_by_role("button").click()
    page.locator('#notices table a[href*="/notices/"]').first.click()
    expect(page.locator("h1")).to_contain_text("整改通知书")
    expect(page.locator("#notice-status")).to_have_text("已下发")
    expect(page.locator("table.ledger")).to_contain_text("FEE-PROHIBITED-ITEM")
    page.fill('input[name="inspector"]', "张明")
    page.select_option('select[name="outcome"]', "partly")
    page.fill('textarea[name="notes"]', "已退一笔，另一笔未退")
    page.get_by_role("button", name="记录复查").click()
    expect(page.locator("#follow-ups")).to_contain_text("部分整改")
    expect(page.locator("body")).to_contain_text("暂不能销号")
    number = page.locator("h1").inner_text().split()[-1]
    screenshot(page, "notice")

    page.locator("header nav").get_by_role("link", name="应退台账").click()
    expect(page.locator("h1")).to_contain_text("应退台账")
    row = page.locator("table.ledger tr", has_text=number).first
    expect(row).to_contain_text(PROHIBITED)
    expect(page.locator("#outstanding")).to_contain_text("¥")
    screenshot(page, "ledger")
