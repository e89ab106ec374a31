"""What the browser tests share: the users the live server knows, logging in, screenshots."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # playwright may be missing; conftest skips (or fails) the suite then
    from playwright.sync_api import Page

# Repository root / screenshots: git-ignored; CI keeps the folder as an artefact.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


@dataclass(frozen=True)
class E2EUser:
    username: str
    password: str
    role: str
    region_code: str | None


INSPECTOR = E2EUser("e2e-haidian", "haidian-e2e-password", "inspector", "110108")  # 北京市海淀区
SUPERVISOR = E2EUser("e2e-shandong", "shandong-e2e-password", "supervisor", "370000")  # 山东省
ADMIN = E2EUser("e2e-admin", "admin-e2e-password", "admin", None)
USERS = (INSPECTOR, SUPERVISOR, ADMIN)


def login(page: Page, user: E2EUser) -> None:
    """Log in through the real login form (CSRF token included) and wait to leave it."""
    page.goto("/login")
    page.locator('input[name="username"]').fill(user.username)
    page.locator('input[name="password"]').fill(user.password)
    page.locator('form:has(input[name="password"]) [type="submit"]').click()
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_url(lambda url: not re.search(r"/login(\?|$)", url), timeout=10_000)
    except PlaywrightTimeoutError:
        shown = page.locator(".flash, .error").all_inner_texts()
        raise AssertionError(f"{user.username} could not log in; the page says {shown}") from None


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG as screenshots/<name>.png and return its path."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
