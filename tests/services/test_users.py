"""The admin's use cases on users: only admins, nobody locks the last admin out, every change
audited with real values and never a password."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from feecheck.models import AuditEntry, User
from feecheck.models.session import make_engine
from feecheck.services import schema
from feecheck.services.audit import Actor
from feecheck.services.scope import Forbidden, NotFound
from feecheck.services.users import (
    UserError,
    add_user,
    authenticate,
    create_user,
    get_user,
    list_users,
    reset_password,
    update_user,
)
from tests.factories import make_user


@pytest.fixture
def admin(session: Session) -> User:
    return make_user(session, "boss", "correct horse", "admin", None)


def _entries(session: Session, username: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.table_name == "users", AuditEntry.record_key == username)
            .order_by(AuditEntry.id)
        )
    )


def test_an_admin_adds_a_user_audited_as_that_admin(session: Session, admin: User) -> None:
    user = add_user(session, admin, " wang ", "a long password", "inspector", "110108")
    assert (user.username, user.role, user.region_code, user.active) == (
        "wang",
        "inspector",
        "110108",
        True,
    )
    assert authenticate(session, "wang", "a long password") is user
    [entry] = _entries(session, "wang")
    assert (entry.action, entry.actor, entry.user_id) == ("create", "boss", admin.id)
    assert entry.before is None
    assert entry.after == {"role": "inspector", "region_code": "110108"}


def test_an_admin_may_have_no_region_and_an_empty_region_is_none(
    session: Session, admin: User
) -> None:
    user = add_user(session, admin, "li", "a long password", "admin", "  ")
    assert user.region_code is None


@pytest.mark.parametrize("role", ["inspector", "supervisor"])
def test_only_admins_may_use_the_admin_services(session: Session, admin: User, role: str) -> None:
    actor = make_user(session, f"not-admin-{role}", role=role, region_code="110108")
    target = make_user(session, "target")
    calls = [
        lambda: list_users(session, actor),
        lambda: get_user(session, actor, target.id),
        lambda: add_user(session, actor, "new", "a long password", "inspector", "110108"),
        lambda: update_user(session, actor, target, active=False),
        lambda: update_user(session, actor, actor, role="admin"),
        lambda: reset_password(session, actor, target, "another long one"),
    ]
    for call in calls:
        with pytest.raises(Forbidden):
            call()
    assert session.scalar(select(User).where(User.username == "new")) is None
    assert target.active and actor.role == role
    assert authenticate(session, "target", "correct horse") is target


def test_a_deactivated_admin_may_not_use_them(session: Session, admin: User) -> None:
    other = make_user(session, "other-admin", role="admin", region_code=None)
    update_user(session, admin, other, active=False)
    with pytest.raises(Forbidden):
        list_users(session, other)


@pytest.mark.parametrize(
    ("username", "password", "role", "region", "field", "english", "chinese"),
    [
        ("", "a long password", "inspector", "110108", "username", "empty", "为空"),
        ("x" * 65, "a long password", "admin", None, "username", "more than 64", "超过 64"),
        ("boss", "a long password", "inspector", "110108", "username", "already", "已存在"),
        ("wang", "short", "inspector", "110108", "password", "at least 8", "至少需要 8"),
        ("wang", "x" * 257, "inspector", "110108", "password", "at most 256", "不能超过 256"),
        ("wang", "a long password", "janitor", "110108", "role", "unknown role", "未知角色"),
        ("wang", "a long password", "inspector", "1101", "region", "6-digit", "6 位数字"),
        ("wang", "a long password", "inspector", "11010x", "region", "6-digit", "6 位数字"),
        ("wang", "a long password", "supervisor", None, "region", "need a region", "必须有"),
    ],
)
def test_bad_new_users_are_refused_in_both_languages(
    session: Session,
    admin: User,
    username: str,
    password: str,
    role: str,
    region: str | None,
    field: str,
    english: str,
    chinese: str,
) -> None:
    with pytest.raises(UserError) as refused:
        add_user(session, admin, username, password, role, region)
    assert refused.value.field == field
    assert english in refused.value.en and chinese in refused.value.zh
    assert str(refused.value) == refused.value.en  # the CLI's one line stays English
    assert session.scalar(select(func.count()).select_from(User)) == 1


def test_a_name_taken_in_the_meantime_is_a_clear_error(
    session: Session, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database's unique index, not only the look-up first, refuses a duplicate."""
    original = session.scalar
    lookups = iter([None])  # the look-up misses: someone else takes the name just after it

    def late(statement: Any, *args: Any, **kwargs: Any) -> Any:
        return next(lookups, original(statement, *args, **kwargs))

    monkeypatch.setattr(session, "scalar", late)
    with pytest.raises(UserError, match="already exists") as refused:
        add_user(session, admin, "boss", "a long password", "admin", None)
    assert refused.value.field == "username"
    monkeypatch.undo()
    assert session.scalar(select(func.count()).select_from(User)) == 1  # the session still works


def test_update_changes_role_region_and_active_and_audits_them(
    session: Session, admin: User
) -> None:
    user = make_user(session, "wang", region_code="110108")
    changed = update_user(session, admin, user, role="supervisor", region_code="110000")
    assert changed == {"role": ("inspector", "supervisor"), "region_code": ("110108", "110000")}
    assert (user.role, user.region_code, user.active) == ("supervisor", "110000", True)
    assert update_user(session, admin, user, active=False) == {"active": (True, False)}
    assert update_user(session, admin, user, active=True) == {"active": (False, True)}
    entries = _entries(session, "wang")[1:]  # after the creation
    assert [(e.action, e.actor, e.before, e.after) for e in entries] == [
        (
            "update",
            "boss",
            {"role": "inspector", "region_code": "110108"},
            {"role": "supervisor", "region_code": "110000"},
        ),
        ("update", "boss", {"active": True}, {"active": False}),
        ("update", "boss", {"active": False}, {"active": True}),
    ]


def test_an_update_that_changes_nothing_writes_nothing(session: Session, admin: User) -> None:
    user = make_user(session, "wang", region_code="110108")
    assert update_user(session, admin, user, role="inspector", region_code="110108") == {}
    assert len(_entries(session, "wang")) == 1  # the creation only


def test_region_rules_follow_the_role(session: Session, admin: User) -> None:
    other_admin = make_user(session, "other", role="admin", region_code=None)
    with pytest.raises(UserError, match="need a region") as refused:
        update_user(session, admin, other_admin, role="inspector")
    assert refused.value.field == "region"
    assert other_admin.role == "admin"
    update_user(session, admin, other_admin, role="inspector", region_code="310104")
    assert (other_admin.role, other_admin.region_code) == ("inspector", "310104")
    inspector = make_user(session, "wang", region_code="110108")
    with pytest.raises(UserError, match="need a region"):
        update_user(session, admin, inspector, region_code=None)
    with pytest.raises(UserError, match="6-digit"):
        update_user(session, admin, inspector, region_code="11010")
    update_user(session, admin, inspector, role="admin", region_code="")
    assert (inspector.role, inspector.region_code) == ("admin", None)


def test_an_admin_may_not_deactivate_or_demote_themselves(session: Session, admin: User) -> None:
    make_user(session, "second-admin", role="admin", region_code=None)  # not the last one
    with pytest.raises(UserError) as deactivating:
        update_user(session, admin, admin, active=False)
    assert deactivating.value.field == "active" and "own account" in deactivating.value.en
    assert deactivating.value.zh == "不能停用自己的账号"
    with pytest.raises(UserError) as demoting:
        update_user(session, admin, admin, role="supervisor", region_code="110108")
    assert demoting.value.field == "role" and "admin role" in demoting.value.en
    session.refresh(admin)
    assert (admin.role, admin.active) == ("admin", True)
    assert len(_entries(session, "boss")) == 1
    update_user(session, admin, admin, region_code="110000")  # the own region is fine
    assert admin.region_code == "110000"


def test_the_last_active_admin_keeps_the_role(session: Session, admin: User) -> None:
    """The actor was demoted by someone else after this page loaded (a stale actor)."""
    other = make_user(session, "other", role="admin", region_code=None)
    session.execute(  # behind the ORM's back, so that `admin` in memory still says admin
        update(User.__table__).where(User.__table__.c.id == admin.id).values(role="inspector")
    )
    for change in ({"active": False}, {"role": "supervisor", "region_code": "110108"}):
        with pytest.raises(UserError, match="last active admin") as refused:
            update_user(session, admin, other, **change)
        assert "最后一个" in refused.value.zh
    session.refresh(other)
    assert (other.role, other.active) == ("admin", True)


def test_reset_password_lets_in_the_new_password_only(session: Session, admin: User) -> None:
    user = make_user(session, "wang", password="the old password")
    old_hash = user.password_hash
    reset_password(session, admin, user, "the new password")
    assert authenticate(session, "wang", "the new password") is user
    assert authenticate(session, "wang", "the old password") is None
    [entry] = _entries(session, "wang")[1:]
    assert (entry.action, entry.actor, entry.before, entry.after) == (
        "update",
        "boss",
        {"password": "set"},
        {"password": "reset"},
    )
    logged = str((entry.before, entry.after, entry.note))
    for secret in ("the new password", "the old password", "argon2", old_hash, user.password_hash):
        assert secret not in logged


def test_reset_password_refuses_a_short_one(session: Session, admin: User) -> None:
    user = make_user(session, "wang")
    with pytest.raises(UserError, match="at least 8") as refused:
        reset_password(session, admin, user, "1234567")
    assert refused.value.field == "password"
    assert authenticate(session, "wang", "correct horse") is user
    assert len(_entries(session, "wang")) == 1


def test_a_deactivated_user_cannot_log_in(session: Session, admin: User) -> None:
    user = make_user(session, "wang")
    update_user(session, admin, user, active=False)
    assert authenticate(session, "wang", "correct horse") is None
    update_user(session, admin, user, active=True)
    assert authenticate(session, "wang", "correct horse") is user


def test_list_users_searches_names_pages_and_shows_the_last_change(
    session: Session, admin: User
) -> None:
    for name in ("Wang_Li", "wangxiao", "zhang", "50%off"):
        make_user(session, name)
    assert [r.user.username for r in list_users(session, admin, "WANG").items] == [
        "Wang_Li",
        "wangxiao",
    ]
    # % and _ are letters here, not wildcards
    assert [r.user.username for r in list_users(session, admin, "g_l").items] == ["Wang_Li"]
    assert [r.user.username for r in list_users(session, admin, "%").items] == ["50%off"]
    first = list_users(session, admin, page=1, per_page=2)
    second = list_users(session, admin, page=2, per_page=2)
    assert (first.total, first.pages) == (5, 3)
    assert [r.user.username for r in first.items + second.items] == [  # in any case
        "50%off",
        "boss",
        "Wang_Li",
        "wangxiao",
    ]
    zhang = session.scalars(select(User).where(User.username == "zhang")).one()
    update_user(session, admin, zhang, active=False)
    [row] = list_users(session, admin, "zhang").items
    newest = session.scalar(select(func.max(AuditEntry.at)).where(AuditEntry.record_key == "zhang"))
    created = session.scalar(
        select(func.min(AuditEntry.at)).where(AuditEntry.record_key == "zhang")
    )
    assert row.last_change == newest and newest is not None and newest >= created
    assert len(_entries(session, "zhang")) == 2


def test_get_user_of_an_unknown_id_is_not_found(session: Session, admin: User) -> None:
    assert get_user(session, admin, admin.id) is admin
    with pytest.raises(NotFound):
        get_user(session, admin, admin.id + 1000)


def test_create_user_for_the_cli_needs_no_acting_user(session: Session) -> None:
    user = create_user(session, "first", "a long password", "admin", None, Actor("cli"))
    assert user.role == "admin"
    assert _entries(session, "first")[0].actor == "cli"


# Two admins demoting each other at the same moment, on a database of its own (committed data).


@pytest.fixture
def own_database(engine: Engine, tmp_path: Path) -> Iterator[str]:
    if engine.dialect.name == "sqlite":
        yield f"sqlite:///{tmp_path / 'users.db'}"
        return
    name = f"feecheck_users_{uuid.uuid4().hex[:10]}"
    server = make_engine(engine.url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(engine.url).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        server.dispose()


def _writing(engine: Engine) -> Session:
    """A session that writes the way a web request does (SQLite: BEGIN IMMEDIATE)."""
    session = Session(engine, expire_on_commit=False)
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    return session


def test_two_admins_demoting_each_other_at_once_leave_one(own_database: str) -> None:
    engine = make_engine(own_database)
    schema.upgrade(engine)
    try:
        with Session(engine) as session:
            for name in ("anna", "bo"):
                create_user(session, name, "correct horse", "admin", None, Actor("test"))
            session.commit()
        outcome: dict[str, Any] = {}

        def bo_demotes_anna() -> None:
            with _writing(engine) as session:
                bo = session.scalars(select(User).where(User.username == "bo")).one()
                anna = session.scalars(select(User).where(User.username == "anna")).one()
                try:
                    update_user(session, bo, anna, active=False)
                    session.commit()
                    outcome["bo"] = "done"
                except (UserError, Forbidden) as exc:
                    outcome["bo"] = f"{type(exc).__name__}: {exc}"

        with _writing(engine) as first:
            anna = first.scalars(select(User).where(User.username == "anna")).one()
            bo = first.scalars(select(User).where(User.username == "bo")).one()
            update_user(first, anna, bo, role="inspector", region_code="110108")
            second = threading.Thread(target=bo_demotes_anna)
            second.start()
            time.sleep(1.0)
            assert second.is_alive()  # waiting for anna's change to commit or roll back
            first.commit()
        second.join(timeout=60)
        assert not second.is_alive()
        if engine.dialect.name == "postgresql":
            # bo was still an admin when read; the locked re-read finds anna the last one
            assert outcome["bo"].startswith("UserError: this is the last active admin")
        else:  # SQLite writers take turns: bo's request starts after anna's commit
            assert outcome["bo"] == "Forbidden: inspector"
        with Session(engine) as session:
            admins = session.scalars(
                select(User.username).where(User.role == "admin", User.active.is_(True))
            ).all()
        assert admins == ["anna"]
    finally:
        engine.dispose()


def test_a_regions_admin_manages_only_users_inside_it(session: Session, admin: User) -> None:
    regional = add_user(session, admin, "admin_hd", "long password", "admin", "110108")
    inside = add_user(session, admin, "hd2", "long password", "inspector", "110108")
    outside = add_user(session, admin, "xh2", "long password", "inspector", "310104")
    listed = [row.user.username for row in list_users(session, regional).items]
    assert "hd2" in listed and "admin_hd" in listed
    assert "xh2" not in listed and admin.username not in listed  # nationwide users too
    for act in (
        lambda: get_user(session, regional, outside.id),
        lambda: reset_password(session, regional, outside, "another password"),
        lambda: update_user(session, regional, outside, role="supervisor"),
    ):
        with pytest.raises(NotFound):
            act()
    for region in (None, "310104", "110000"):  # nationwide, elsewhere, or wider than its own
        with pytest.raises(UserError) as refused:
            add_user(session, regional, f"new{region}", "long password", "admin", region)
        assert refused.value.field == "region"
    with pytest.raises(UserError):
        update_user(session, regional, regional, region_code=None)  # widening oneself
    update_user(session, regional, inside, role="supervisor")
    assert inside.role == "supervisor"


def test_names_differing_only_in_case_and_unknown_provinces_are_refused(
    session: Session, admin: User
) -> None:
    add_user(session, admin, "Wang", "long password", "inspector", "110108")
    with pytest.raises(UserError) as refused:
        add_user(session, admin, "wang", "long password", "inspector", "110108")
    assert "user Wang already exists" in str(refused.value)
    with pytest.raises(UserError) as refused:
        add_user(session, admin, "nowhere", "long password", "supervisor", "999999")
    assert refused.value.field == "region"
