"""Browser tests: one live server and one headless chromium per session, a context per test.

The server has its own SQLite file (migrated, the demo data, the users of support.USERS), also
when the rest of the suite runs on PostgreSQL, and serves the real app with CSRF protection on,
so every form goes through as a person would send it. Nothing is downloaded: Playwright drives
Debian's chromium (`chromium` on PATH, or FEECHECK_CHROMIUM). Without chromium or Playwright the
browser tests are skipped, or fail when FEECHECK_E2E_REQUIRED=1 (as in CI).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import NoReturn

import pytest
from flask import Flask
from werkzeug.serving import make_server

from feecheck import create_app
from feecheck.engine.taxonomy import load_taxonomy
from feecheck.extensions import db
from feecheck.services import rules as rules_service
from feecheck.services import schema
from feecheck.services.audit import Actor
from feecheck.services.demo import build_demo, check_demo
from feecheck.services.users import create_user
from tests.e2e.support import USERS, screenshot

REQUIRED = os.environ.get("FEECHECK_E2E_REQUIRED") == "1"
try:
    from playwright.sync_api import Browser, Error, Page, sync_playwright
except ImportError as exc:
    if REQUIRED:
        raise ImportError(
            f"FEECHECK_E2E_REQUIRED=1 but Playwright cannot be imported: {exc}"
        ) from exc
    pytest.skip("Playwright is not installed: pip install -e '.[test]'", allow_module_level=True)

CALL_FAILED = pytest.StashKey[bool]()


def _unavailable(reason: str) -> NoReturn:
    """Skip the browser tests, or fail them where they are required (CI)."""
    if REQUIRED:
        pytest.fail(
            f"{reason} (FEECHECK_E2E_REQUIRED=1: the browser tests must run)", pytrace=False
        )
    pytest.skip(reason)


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: Flask


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app on a free port of 127.0.0.1, on a fresh SQLite file filled like `feecheck demo`."""
    folder = tmp_path_factory.mktemp("e2e")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FEECHECK_INSTANCE", str(folder / "instance"))  # uploads stay in the temp dir
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{folder / 'e2e.db'}",
                "SECRET_KEY": secrets.token_hex(32),
                "SESSION_COOKIE_SECURE": False,  # plain http, whatever FEECHECK_SECURE_COOKIES says
                "REMEMBER_COOKIE_SECURE": False,
            }
        )
    assert app.config.get("WTF_CSRF_ENABLED", True), "the browser goes through real forms"
    schema.upgrade(db.engine(app))
    with db.new_session(app) as session:
        build_demo(session, load_taxonomy(app.config["RULES_DIR"]))
        session.commit()
        check_demo(session, rules_service.cached(app.config["RULES_DIR"]), date.today())
        for user in USERS:
            create_user(
                session, user.username, user.password, user.role, user.region_code, Actor("e2e")
            )
        session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{server.port}", app)
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    engine = db.engine(app)
    if engine is not None:
        engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium driven by Playwright."""
    executable = os.environ.get("FEECHECK_CHROMIUM") or shutil.which("chromium")
    if not executable:
        _unavailable(
            "chromium is not installed: apt-get install chromium fonts-wqy-zenhei "
            "(or set FEECHECK_CHROMIUM to a Chromium binary)"
        )
    if shutil.which("fc-list") and not _chinese_fonts():
        _unavailable(
            "no Chinese font, screenshots would show boxes: apt-get install fonts-wqy-zenhei"
        )
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
    except Error as exc:
        playwright.stop()
        _unavailable(f"chromium ({executable}) did not start: {exc.message.splitlines()[0]}")
    yield browser
    browser.close()
    playwright.stop()


def _chinese_fonts() -> list[str]:
    """Font families fontconfig (and so chromium) can draw Chinese with."""
    listing = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
    )
    return listing.stdout.split()


@pytest.fixture
def page(
    browser: Browser, live_server: LiveServer, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A fresh browser context (no cookies, zh-CN) on the live server; relative URLs work."""
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    if request.node.stash.get(CALL_FAILED, False):
        screenshot(page, "failed-" + re.sub(r"[^\w.-]+", "_", request.node.name))
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Remember whether the test itself failed, so that `page` can keep a screenshot of it."""
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report
