from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection

from feecheck import create_app
from feecheck.config import ConfigError
from feecheck.extensions import db
from tests.factories import make_kindergarten, make_user


@pytest.fixture
def seeded(app: Flask) -> None:
    with app.app_context():
        session = db.session
        make_kindergarten(session, code="K-HAIDIAN", name="海淀&lt;b&gt;园", region_code="110108")
        make_kindergarten(session, code="K-XUHUI", name="徐汇园", region_code="310104")
        make_user(session, "haidian", "correct horse", "inspector", "110108")
        make_user(session, "boss", "correct horse", "admin", None)
        session.commit()


def _login(client: FlaskClient, username: str, password: str = "correct horse"):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password})


def test_pages_need_login(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_login_page_is_chinese_by_default(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page and 'lang="zh-CN"' in page
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert "Log in" in english


def test_wrong_password_is_refused(client: FlaskClient, seeded: None) -> None:
    response = _login(client, "haidian", "wrong password")
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_inspector_sees_only_own_district(client: FlaskClient, seeded: None) -> None:
    assert _login(client, "haidian").status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "K-HAIDIAN" in page and "K-XUHUI" not in page
    assert "&lt;b&gt;" not in page.replace("&amp;lt;b&amp;gt;", "")  # autoescaped


def test_admin_sees_every_district(client: FlaskClient, seeded: None) -> None:
    _login(client, "boss")
    page = client.get("/").get_data(as_text=True)
    assert "K-HAIDIAN" in page and "K-XUHUI" in page


def test_login_redirects_only_on_site(client: FlaskClient, seeded: None) -> None:
    response = client.post(
        "/login?next=https://evil.example/",
        data={"username": "haidian", "password": "correct horse"},
    )
    assert response.headers["Location"] == "/"


def test_forms_need_a_csrf_token(connection: Connection, seeded: None) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_BIND": connection,
            "DATABASE_SESSION_OPTIONS": {"join_transaction_mode": "create_savepoint"},
        }
    )
    client = app.test_client()
    assert _login(client, "haidian").status_code == 400
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"',
        client.get("/login").get_data(as_text=True),
    )
    assert token
    response = client.post(
        "/login", data={"username": "haidian", "password": "correct horse", "csrf_token": token[1]}
    )
    assert response.status_code == 302


def test_refuses_to_serve_without_a_secret_key(connection: Connection, caplog) -> None:  # type: ignore[no-untyped-def]
    app = create_app({"DATABASE_BIND": connection, "SECRET_KEY": None})
    assert app.test_client().get("/login").status_code == 500
    assert "FEECHECK_SECRET_KEY is not set" in caplog.text
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(ConfigError):
        app.test_client().get("/login")


def test_the_sixth_wrong_password_in_a_minute_is_refused(client: FlaskClient, seeded: None) -> None:
    for _ in range(5):
        assert _login(client, "haidian", "wrong password").status_code == 200
    sixth = _login(client, "haidian", "wrong password")
    assert sixth.status_code == 429 and "尝试次数过多" in sixth.get_data(as_text=True)
    # the right password waits too: a guesser cannot tell it from a wrong one
    assert _login(client, "haidian").status_code == 429
    assert _login(client, "HAIDIAN ", "wrong password").status_code == 429  # the same name
    assert _login(client, "boss").status_code == 302  # another user is not locked out


def test_one_address_cannot_try_many_names(app: Flask, client: FlaskClient, seeded: None) -> None:
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "3 per minute"
    for name in ("a", "b", "c"):
        assert _login(client, name, "wrong password").status_code == 200
    assert _login(client, "d", "wrong password").status_code == 429


def test_successful_logins_are_not_counted(client: FlaskClient, seeded: None) -> None:
    for _ in range(8):
        assert _login(client, "haidian").status_code == 302
        client.post("/logout")


def test_cookies_are_secure_when_configured(
    connection: Connection, seeded: None, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FEECHECK_SECURE_COOKIES", "1")
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_BIND": connection,
            "DATABASE_SESSION_OPTIONS": {"join_transaction_mode": "create_savepoint"},
            "WTF_CSRF_ENABLED": False,
        }
    )
    client = app.test_client()
    response = _login(client, "haidian")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert app.permanent_session_lifetime.total_seconds() == 8 * 3600
    assert "Expires=" in cookie  # the session expires


def test_cookies_are_not_secure_by_default(client: FlaskClient, seeded: None) -> None:
    response = _login(client, "haidian")
    assert "Secure" not in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in response.headers


def test_a_nul_byte_in_a_form_or_query_is_a_bad_request(client: FlaskClient, seeded: None) -> None:
    assert _login(client, "haid\x00ian").status_code == 400
    assert _login(client, "haidian").status_code == 302
    assert client.get("/?q=%00").status_code == 400
    assert client.get("/?q=K-HAI").status_code == 200


@pytest.mark.parametrize(("value", "limit"), [("0.5", 512 * 1024), ("2", 2 * 1024 * 1024)])
def test_upload_limit_may_be_a_fraction_of_a_megabyte(monkeypatch, value: str, limit: int) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FEECHECK_MAX_UPLOAD_MB", value)
    assert create_app({"TESTING": True}).config["MAX_CONTENT_LENGTH"] == limit


@pytest.mark.parametrize("value", ["half", "0", "-1"])
def test_a_bad_upload_limit_is_a_clear_error(monkeypatch, value: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FEECHECK_MAX_UPLOAD_MB", value)
    with pytest.raises(ConfigError, match="FEECHECK_MAX_UPLOAD_MB"):
        create_app({"TESTING": True})


@pytest.mark.parametrize("value", ["nan", "inf", "1e400"])
def test_non_finite_upload_limits_are_a_clear_error(monkeypatch, value: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FEECHECK_MAX_UPLOAD_MB", value)
    with pytest.raises(ConfigError, match="FEECHECK_MAX_UPLOAD_MB"):
        create_app({"TESTING": True})


def test_a_copy_of_the_session_cookie_dies_with_the_logout(app: Flask, seeded: None) -> None:
    client = app.test_client()
    assert _login(client, "haidian").status_code == 302
    copied = client.get_cookie("session")
    assert copied is not None
    thief = app.test_client()
    thief.set_cookie("session", copied.value)
    assert thief.get("/kindergartens/").status_code == 200
    client.post("/logout")
    response = thief.get("/kindergartens/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _login(client, "haidian").status_code == 302  # the user logs in again as usual
    assert client.get("/kindergartens/").status_code == 200
