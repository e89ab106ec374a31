"""The users page (issue 13 §6): admins only, every form with CSRF, reasons next to the fields,
and a deactivated user or a reset password ends the sessions made before."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, func, select

from feecheck import create_app
from feecheck.extensions import db
from feecheck.models import AuditEntry, User
from tests.factories import make_user

PASSWORD = "correct horse"


@pytest.fixture
def users(app: Flask) -> dict[str, int]:
    with app.app_context():
        session = db.session
        made = {
            "boss": make_user(session, "boss", PASSWORD, "admin", None),
            "haidian": make_user(session, "haidian", PASSWORD, "inspector", "110108"),
            "chief": make_user(session, "chief", PASSWORD, "supervisor", "110000"),
        }
        session.commit()
        return {name: user.id for name, user in made.items()}


def _login(client: FlaskClient, username: str, password: str = PASSWORD) -> int:
    return client.post("/login", data={"username": username, "password": password}).status_code


def _user(app: Flask, username: str) -> User | None:
    with app.app_context():
        return db.session.scalar(select(User).where(User.username == username))


def _audit(app: Flask, username: str) -> list[tuple[str, str, object, object]]:
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.table_name == "users", AuditEntry.record_key == username)
            .order_by(AuditEntry.id)
        )
        return [(e.action, e.actor, e.before, e.after) for e in entries]


def _new(client: FlaskClient, **values: str) -> str:
    data = {
        "username": "wang",
        "role": "inspector",
        "region": "110108",
        "password": "a long password",
        "confirm": "a long password",
        **values,
    }
    return client.post("/admin/users/new?lang=en", data=data).get_data(as_text=True)


def _error_after(page: str, field: str) -> str:
    """The error shown right after a field's input (before the next input), or ''."""
    match = re.search(
        rf'name="{field}"[^>]*>(?:(?!<input|<select).)*?<p class="error field-error" '
        rf'id="{field}-error">([^<]*)</p>',
        page,
        re.S,
    )
    return match[1] if match else ""


def _listed(page: str) -> list[str]:
    """The user names in the list's rows."""
    return re.findall(r'<td><a href="/admin/users/\d+">([^<]+)</a></td>', page)


ROUTES = [
    ("GET", "/admin/users"),
    ("GET", "/admin/users/new"),
    ("POST", "/admin/users/new"),
    ("GET", "/admin/users/{haidian}"),
    ("POST", "/admin/users/{haidian}"),
    ("GET", "/admin/users/{haidian}/password"),
    ("POST", "/admin/users/{haidian}/password"),
]


@pytest.mark.parametrize("role_user", ["haidian", "chief"])
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_inspectors_and_supervisors_are_refused(
    app: Flask,
    client: FlaskClient,
    users: dict[str, int],
    role_user: str,
    method: str,
    path: str,
) -> None:
    assert _login(client, role_user) == 302
    data = {"role": "admin", "region": "", "active": "y", "password": "x" * 10, "confirm": "x" * 10}
    response = client.open(path.format(**users), method=method, data=data)
    assert response.status_code == 403
    haidian = _user(app, "haidian")
    assert haidian is not None and haidian.role == "inspector"
    assert len(_audit(app, "haidian")) == 1  # only its creation


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_visitors_are_sent_to_log_in(
    client: FlaskClient, users: dict[str, int], method: str, path: str
) -> None:
    response = client.open(path.format(**users), method=method)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_list_shows_users_and_searches_by_name(client: FlaskClient, users: dict) -> None:
    _login(client, "boss")
    page = client.get("/admin/users?lang=en").get_data(as_text=True)
    for name in ("boss", "haidian", "chief", "Inspector", "Supervisor", "110108", "All regions"):
        assert name in page
    assert "Last change" in page and "Created" in page
    assert _listed(page) == ["boss", "chief", "haidian"]
    assert _listed(client.get("/admin/users?q=HAI").get_data(as_text=True)) == ["haidian"]
    nothing = client.get("/admin/users?q=nobody").get_data(as_text=True)
    assert "No users match." in nothing and _listed(nothing) == []


def test_the_list_is_paginated(app: Flask, client: FlaskClient, users: dict) -> None:
    with app.app_context():
        hash_ = db.session.get(User, users["haidian"]).password_hash  # type: ignore[union-attr]
        db.session.add_all(
            User(
                username=f"user{n:03d}", password_hash=hash_, role="inspector", region_code="110108"
            )
            for n in range(60)
        )
        db.session.commit()
    _login(client, "boss")
    first = client.get("/admin/users?lang=en").get_data(as_text=True)
    assert "1–50 of 63" in first and "Page 1 of 2" in first and "user046" in first
    second = client.get("/admin/users?page=2&lang=en").get_data(as_text=True)
    assert "51–63 of 63" in second and "user047" in second and "user046" not in second


def test_an_admin_creates_a_user_who_can_log_in(
    app: Flask, client: FlaskClient, users: dict
) -> None:
    _login(client, "boss")
    response = client.post(
        "/admin/users/new?lang=en",
        data={
            "username": "wang",
            "role": "supervisor",
            "region": "110000",
            "password": "a long password",
            "confirm": "a long password",
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == "/admin/users"
    wang = _user(app, "wang")
    assert wang is not None and (wang.role, wang.region_code, wang.active) == (
        "supervisor",
        "110000",
        True,
    )
    assert _audit(app, "wang") == [
        ("create", "boss", None, {"role": "supervisor", "region_code": "110000"})
    ]
    assert "User wang created." in client.get("/admin/users").get_data(as_text=True)
    other = app.test_client()
    assert _login(other, "wang", "a long password") == 302


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"confirm": "another long password"}, "confirm", "The passwords differ."),
        ({"password": "short", "confirm": "short"}, "password", "Between 8 and 256 characters."),
        ({"region": ""}, "region", "Inspectors and supervisors need a region code."),
        ({"region": "1101"}, "region", "A region code has 6 digits."),
        ({"username": "boss"}, "username", "User boss already exists"),  # from the service
        ({"username": "  "}, "username", "This field is required."),
    ],
)
def test_create_errors_are_shown_next_to_their_field(
    app: Flask, client: FlaskClient, users: dict, values: dict, field: str, message: str
) -> None:
    _login(client, "boss")
    page = _new(client, **values)
    assert _error_after(page, field) == message
    assert 'value="a long password"' not in page  # passwords are never sent back
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 3


def test_a_service_reason_is_in_chinese_by_default(client: FlaskClient, users: dict) -> None:
    _login(client, "boss")
    data = {
        "username": "haidian",
        "role": "inspector",
        "region": "110108",
        "password": "a long password",
        "confirm": "a long password",
    }
    page = client.post("/admin/users/new", data=data).get_data(as_text=True)
    assert _error_after(page, "username") == "用户 haidian 已存在"


def test_an_admin_may_have_no_region(app: Flask, client: FlaskClient, users: dict) -> None:
    _login(client, "boss")
    _new(client, username="second", role="admin", region="")
    second = _user(app, "second")
    assert second is not None and (second.role, second.region_code) == ("admin", None)


def test_an_admin_changes_role_and_region(app: Flask, client: FlaskClient, users: dict) -> None:
    _login(client, "boss")
    form = client.get(f"/admin/users/{users['haidian']}").get_data(as_text=True)
    assert 'name="region" type="text" value="110108"' in form  # the form shows what is
    assert '<option selected value="inspector">' in form
    assert 'checked id="active"' in form
    response = client.post(
        f"/admin/users/{users['haidian']}",
        data={"role": "supervisor", "region": "110100", "active": "y"},
    )
    assert response.status_code == 302
    haidian = _user(app, "haidian")
    assert haidian is not None and (haidian.role, haidian.region_code) == ("supervisor", "110100")
    assert _audit(app, "haidian")[1:] == [
        (
            "update",
            "boss",
            {"role": "inspector", "region_code": "110108"},
            {"role": "supervisor", "region_code": "110100"},
        )
    ]


def test_edit_errors_are_shown_next_to_their_field(
    app: Flask, client: FlaskClient, users: dict
) -> None:
    _login(client, "boss")
    url = f"/admin/users/{users['haidian']}?lang=en"
    page = client.post(url, data={"role": "inspector", "region": "", "active": "y"})
    assert _error_after(page.get_data(as_text=True), "region") == (
        "Inspectors and supervisors need a region code."
    )
    page = client.post(url, data={"role": "janitor", "region": "110108", "active": "y"})
    assert _error_after(page.get_data(as_text=True), "role") == "Not a valid choice."
    haidian = _user(app, "haidian")
    assert haidian is not None and (haidian.role, haidian.region_code) == ("inspector", "110108")


def test_an_admin_cannot_deactivate_or_demote_themselves(
    app: Flask, client: FlaskClient, users: dict
) -> None:
    _login(client, "boss")
    url = f"/admin/users/{users['boss']}"
    page = client.post(url, data={"role": "admin", "region": ""}).get_data(as_text=True)
    assert _error_after(page, "active") == "不能停用自己的账号"
    page = client.post(
        url + "?lang=en", data={"role": "inspector", "region": "110108", "active": "y"}
    ).get_data(as_text=True)
    assert _error_after(page, "role") == "You cannot take the admin role from your own account"
    boss = _user(app, "boss")
    assert boss is not None and (boss.role, boss.active) == ("admin", True)
    assert client.get("/admin/users").status_code == 200  # still an admin, still logged in


def test_a_deactivated_user_is_logged_out_and_cannot_log_in(app: Flask, users: dict) -> None:
    inspector, admin = app.test_client(), app.test_client()
    assert _login(inspector, "haidian") == 302
    assert inspector.get("/").status_code == 200
    _login(admin, "boss")
    response = admin.post(
        f"/admin/users/{users['haidian']}", data={"role": "inspector", "region": "110108"}
    )
    assert response.status_code == 302
    assert _audit(app, "haidian")[1:] == [("update", "boss", {"active": True}, {"active": False})]
    page = inspector.get("/")  # the session made before is no longer logged in
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert _login(inspector, "haidian") == 200  # refused
    listing = admin.get("/admin/users?lang=en").get_data(as_text=True)
    assert "Deactivated" in listing
    admin.post(
        f"/admin/users/{users['haidian']}",
        data={"role": "inspector", "region": "110108", "active": "y"},
    )
    assert _login(inspector, "haidian") == 302  # reactivated
    assert inspector.get("/").status_code == 200


def test_a_password_reset_lets_in_the_new_password_only(app: Flask, users: dict) -> None:
    inspector, admin = app.test_client(), app.test_client()
    assert _login(inspector, "haidian") == 302
    _login(admin, "boss")
    url = f"/admin/users/{users['haidian']}/password"
    response = admin.post(url, data={"password": "brand new secret", "confirm": "brand new secret"})
    assert response.status_code == 302
    page = inspector.get("/")  # the session made with the old password is over
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert _login(app.test_client(), "haidian", PASSWORD) == 200
    assert _login(inspector, "haidian", "brand new secret") == 302
    assert inspector.get("/").status_code == 200
    entries = _audit(app, "haidian")
    assert entries[1:] == [("update", "boss", {"password": "set"}, {"password": "reset"})]
    haidian = _user(app, "haidian")
    assert haidian is not None
    for secret in ("brand new secret", PASSWORD, haidian.password_hash, "argon2"):
        assert secret not in str(entries)


def test_password_reset_errors_are_shown_next_to_their_field(
    app: Flask, client: FlaskClient, users: dict
) -> None:
    _login(client, "boss")
    url = f"/admin/users/{users['haidian']}/password?lang=en"
    page = client.post(url, data={"password": "1234567", "confirm": "1234567"})
    assert _error_after(page.get_data(as_text=True), "password") == (
        "Between 8 and 256 characters."
    )
    page = client.post(url, data={"password": "long enough 1", "confirm": "long enough 2"})
    assert _error_after(page.get_data(as_text=True), "confirm") == "The passwords differ."
    assert _login(app.test_client(), "haidian") == 302  # the old password still works


def test_an_admin_resetting_their_own_password_stays_logged_in(app: Flask, users: dict) -> None:
    here, elsewhere = app.test_client(), app.test_client()
    _login(here, "boss")
    _login(elsewhere, "boss")
    url = f"/admin/users/{users['boss']}/password"
    response = here.post(url, data={"password": "my new secret", "confirm": "my new secret"})
    assert response.status_code == 302
    assert here.get("/admin/users").status_code == 200
    assert elsewhere.get("/admin/users").status_code == 302  # the other session is over


def test_an_unknown_user_is_not_found(client: FlaskClient, users: dict) -> None:
    _login(client, "boss")
    missing = max(users.values()) + 100
    assert client.get(f"/admin/users/{missing}").status_code == 404
    assert client.get(f"/admin/users/{missing}/password").status_code == 404


def test_admin_forms_need_a_csrf_token(connection: Connection, users: dict) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_BIND": connection,
            "DATABASE_SESSION_OPTIONS": {"join_transaction_mode": "create_savepoint"},
        }
    )
    client = app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page)
    assert token
    data = {"username": "boss", "password": PASSWORD, "csrf_token": token[1]}
    assert client.post("/login", data=data).status_code == 302
    new_user = {
        "username": "wang",
        "role": "inspector",
        "region": "110108",
        "password": "a long password",
        "confirm": "a long password",
    }
    haidian = users["haidian"]
    refused = [
        client.post("/admin/users/new", data=new_user),
        client.post(f"/admin/users/{haidian}", data={"role": "admin", "region": ""}),
        client.post(
            f"/admin/users/{haidian}/password", data={"password": "x" * 9, "confirm": "x" * 9}
        ),
    ]
    assert [r.status_code for r in refused] == [400, 400, 400]
    assert _user(app, "wang") is None
    page = client.get("/admin/users/new").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    response = client.post("/admin/users/new", data={**new_user, "csrf_token": token[1]})
    assert response.status_code == 302
    assert _user(app, "wang") is not None
