"""Logging in, seeing one's own region, switching language: in a real browser, real forms."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from feecheck.services.demo import PLANS
from tests.e2e.support import ADMIN, INSPECTOR, SUPERVISOR, login, screenshot


def _codes(region_prefix: str) -> list[str]:
    """The demo kindergartens whose region code starts with the prefix."""
    return [plan.code for plan in PLANS if plan.region_code.startswith(region_prefix)]


def _open_kindergartens(page: Page, link: str = "幼儿园") -> None:
    """Go to the kindergarten list the way a person would: the header's link."""
    page.locator("header nav").get_by_role("link", name=link, exact=True).click()
    expect(page.locator("h1")).to_have_text(link)


def _shows_exactly(page: Page, visible: list[str]) -> None:
    """The list shows these demo kindergartens and no other demo kindergarten."""
    assert visible, "the demo has kindergartens in this region"
    listing = page.locator("main")
    for code in visible:
        expect(listing).to_contain_text(code)
    text = listing.inner_text()
    hidden = [plan.code for plan in PLANS if plan.code not in visible and plan.code in text]
    assert not hidden, f"shown outside the user's region: {hidden}"


def test_the_login_page_is_chinese(page: Page) -> None:
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page).to_have_title(re.compile("登录"))
    expect(page.locator("h1")).to_have_text("登录")
    expect(page.get_by_label("用户名")).to_be_visible()
    expect(page.get_by_label("密码")).to_be_visible()
    expect(page.locator('input[name="csrf_token"]')).to_have_attribute("value", re.compile(".{20}"))
    screenshot(page, "login")


def test_a_wrong_password_is_refused_with_a_message(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(INSPECTOR.username)
    page.get_by_label("密码").fill(INSPECTOR.password + "x")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_text("用户名或密码错误")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("button", name="退出")).to_have_count(0)
    page.get_by_role("link", name="幼儿园收费合规检查").click()
    expect(page).to_have_url(re.compile(r"/login\?next="))  # still not logged in


def test_an_inspector_sees_only_their_district(page: Page) -> None:
    login(page, INSPECTOR)
    expect(page.locator("header")).to_contain_text(INSPECTOR.username)
    _open_kindergartens(page)
    _shows_exactly(page, _codes("110108"))
    expect(page.locator("main")).to_contain_text("北京市海淀区第一幼儿园")
    screenshot(page, "kindergartens")


def test_a_provincial_supervisor_sees_the_province(page: Page) -> None:
    login(page, SUPERVISOR)
    _open_kindergartens(page)
    _shows_exactly(page, _codes("37"))  # Jinan Lixia and Weifang Kuiwen


def test_an_admin_sees_every_district(page: Page) -> None:
    login(page, ADMIN)
    _open_kindergartens(page)
    _shows_exactly(page, _codes(""))


def test_the_header_switches_to_english_and_back(page: Page) -> None:
    login(page, INSPECTOR)
    _open_kindergartens(page)
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Kindergartens")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    screenshot(page, "kindergartens-en")
    _open_kindergartens(page, "Kindergartens")  # a link without ?lang=: the choice sticks
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("幼儿园")


def test_an_unknown_page_answers_404(page: Page) -> None:
    login(page, INSPECTOR)
    response = page.goto("/imports/99999")
    assert response is not None and response.status == 404
    expect(page.locator("main")).to_contain_text("页面不存在")


def test_logging_out_goes_through_the_form(page: Page) -> None:
    login(page, INSPECTOR)
    home = page.url
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_text("您已退出登录")).to_be_visible()
    page.goto(home)
    expect(page).to_have_url(re.compile(r"/login\?next="))
