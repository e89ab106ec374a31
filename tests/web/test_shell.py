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
