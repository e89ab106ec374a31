"""An inspector's month in a real browser: file a charge for a prohibited item through the form, see
the finding with its clause at once, acknowledge it, find it in the findings list, switch to
English, and find another district's kindergarten closed (404). Screenshots of the main pages."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from feecheck.services.demo import PLANS
from tests.e2e.support import INSPECTOR, SUPERVISOR, login, screenshot

OWN = next(p.code for p in PLANS if p.region_code == INSPECTOR.region_code)
OTHER = next(p.code for p in PLANS if not p.region_code.startswith("11"))


def _open_kindergarten(page: Page, code: str) -> None:
    page.locator("header nav").get_by_role("link", name="幼儿园", exact=True).click()
    page.get_by_role("link", name=code, exact=True).click()
    expect(page.locator("h1")).to_contain_text(code)


def test_an_inspectors_month(page: Page) -> None:
    login(page, INSPECTOR)
    expect(page.locator("h1")).to_contain_text("工作台")
    screenshot(page, "dashboard")

    _open_kindergarten(page, OWN)
    kindergarten_url = page.url
    screenshot(page, "kindergarten")

    # file a charge through the form, from the kindergarten's page
    page.locator("table.counts-table tr", has_text="收费记录").get_by_role(
        "link", name=re.compile("新增")
    ).click()
    expect(page.locator("h1")).to_contain_text("新增")
    expect(page.locator("#f-kindergarten_code")).to_have_value(OWN)
    children = page.locator("#list-children option")
    assert children.count() > 0, "the form offers the kindergarten's children"
    accounts = page.locator("#list-accounts option")
    assert accounts.count() > 0, "the form offers its filed accounts"
    page.fill("#f-receipt_no", "E2E-0001")
    page.fill("#f-child_ref", children.first.get_attribute("value") or "")
    page.fill("#f-fee_item", "赞助费")
    page.fill("#f-amount", "1200")
    page.fill("#f-period_start", "2026-03-01")
    page.fill("#f-period_end", "2026-03-31")
    page.fill("#f-paid_on", "2026-03-02")
    page.fill("#f-account", accounts.first.get_attribute("value") or "")
    screenshot(page, "charge-form")
    page.get_by_role("button", name="保存").click()

    # the finding, with its clause, at once
    feedback = page.locator("#feedback")
    expect(feedback).to_contain_text("FEE-PROHIBITED-ITEM")
    expect(feedback).to_contain_text("幼儿园收费管理暂行办法")
    expect(feedback).to_contain_text("1200.00")
    screenshot(page, "charge-saved-with-finding")

    # acknowledge it, with a note
    feedback.get_by_role("link", name="FEE-PROHIBITED-ITEM").first.click()
    expect(page.locator("#status")).to_have_text("待处理")
    page.locator("form.move", has=page.locator('input[value="acknowledge"]')).locator(
        "textarea"
    ).fill("现场检查已告知园方")
    page.get_by_role("button", name="确认", exact=True).click()
    expect(page.locator("#status")).to_have_text("已确认")
    expect(page.locator("table.history")).to_contain_text("现场检查已告知园方")
    expect(page.locator("table.history")).to_contain_text(INSPECTOR.username)
    screenshot(page, "finding")

    # find it in the findings list
    page.locator("header nav").get_by_role("link", name="检查发现", exact=True).click()
    page.select_option('select[name="rule"]', "FEE-PROHIBITED-ITEM")
    page.get_by_role("button", name="筛选").click()
    row = page.locator("table.findings tbody tr", has_text=OWN).filter(has_text="1200.00")
    expect(row).to_contain_text("已确认")
    screenshot(page, "findings")

    # English
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("header nav")).to_contain_text("Findings")
    expect(page.locator("table.findings")).to_contain_text("acknowledged")
    screenshot(page, "findings-en")
    page.goto(kindergarten_url)
    expect(page.get_by_role("heading", name="Fee standards in force today")).to_be_visible()
    page.get_by_role("link", name="中文").click()

    # another district's kindergarten is closed to this inspector
    other_id = _kindergarten_id(page, OTHER)
    response = page.goto(f"/kindergartens/{other_id}")
    assert response is not None and response.status == 404
    expect(page.locator("main")).to_contain_text("页面不存在")
    response = page.goto(f"/records/kindergartens/{other_id}/edit")
    assert response is not None and response.status == 404


def _kindergarten_id(page: Page, code: str) -> int:
    """The id of a kindergarten the inspector cannot see, found as a supervisor would."""
    from tests.e2e.support import ADMIN

    browser = page.context.browser
    assert browser is not None
    context = browser.new_context(
        base_url=page.url.split("/", 3)[0] + "//" + page.url.split("/")[2]
    )
    other = context.new_page()
    login(other, ADMIN)
    other.goto(f"/kindergartens/?q={code}")
    href = other.get_by_role("link", name=code, exact=True).get_attribute("href") or ""
    context.close()
    return int(href.rstrip("/").rsplit("/", 1)[-1])


def test_a_supervisor_sees_the_rules_in_force_and_the_dashboard_of_a_district(page: Page) -> None:
    login(page, SUPERVISOR)
    page.goto("/?region=370102")
    expect(page.locator("h1")).to_contain_text("370102")
    expect(page.locator("svg.chart").first).to_be_visible()
    page.goto("/rules?region=370102")
    expect(page.locator("main")).to_contain_text("INCLUSIVE-FEE-CAP")
    expect(page.locator("main")).to_contain_text("rules/regions/370100.yaml")
    screenshot(page, "rules")
