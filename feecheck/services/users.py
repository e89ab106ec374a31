"""Users: creation with an argon2 password hash, authentication, and the admin's use cases.

`create_user` is for trusted callers that are not a person on the web (the CLI, quickstart, the
demo): its actor is a name. The functions an admin calls from the web take the acting User and
refuse (Forbidden) anyone who is not an active admin: list_users, get_user, add_user,
update_user, reset_password. They also refuse what would lock everybody out: an admin
deactivating or demoting themselves, or the last active admin losing the role.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from feecheck.domain.categories import Role
from feecheck.domain.reasons import Refused
from feecheck.domain.regions import scope_prefix, validate_region_code, within
from feecheck.models import AuditEntry, User
from feecheck.services import audit
from feecheck.services.audit import Actor
from feecheck.services.pagination import PER_PAGE, Page, paginate
from feecheck.services.scope import Forbidden, NotFound

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256  # the login form accepts no longer password
MAX_USERNAME_LENGTH = 64  # users.username is VARCHAR(64)
TABLE = "users"


class UserError(Refused):
    """A user cannot be created or changed as asked; `en` and `zh` say why.

    `field` names the input the reason is about (username, password, role, region, active), so
    that a form can show it next to that input. str(error) is the English text (the CLI's line).
    """

    def __init__(self, en: str, zh: str = "", field: str | None = None) -> None:
        super().__init__(en, zh)
        self.field = field


class _Unchanged(Enum):
    UNCHANGED = "unchanged"


UNCHANGED: Final = _Unchanged.UNCHANGED


@dataclass(frozen=True)
class UserRow:
    """A user as the admin's list shows it: the last change is the newest audit entry."""

    user: User
    last_change: datetime | None


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    region_code: str | None,
    actor: Actor,
) -> User:
    """Create a user for a trusted caller (CLI, quickstart, demo); the web uses add_user."""
    username = _check_username(username)
    _check_password(password)
    role = _check_role(role)
    region_code = _check_region(role, region_code)
    taken = session.scalar(
        select(User.username).where(func.lower(User.username) == username.lower())
    )
    if taken is not None:  # Wang and wang would be two look-alike users
        raise _duplicate(taken)
    user = User(
        username=username, password_hash=_hasher.hash(password), role=role, region_code=region_code
    )
    try:
        with session.begin_nested():  # a name taken at the same moment by someone else
            session.add(user)
            session.flush()
    except IntegrityError as exc:
        raise _duplicate(username) from exc
    audit.record(
        session,
        actor,
        [audit.Change("create", TABLE, username, None, {"role": role, "region_code": region_code})],
    )
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    if "\x00" in username or "\x00" in password:  # no such user; PostgreSQL cannot compare it
        _hasher.hash(password.replace("\x00", ""))
        return None
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active:
        _hasher.hash(password)  # same work either way, so timing does not reveal user names
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def end_sessions(session: Session, user: User) -> None:
    """Log the user out everywhere: every session made before stops working (web/auth)."""
    session.execute(
        update(User).where(User.id == user.id).values(session_epoch=User.session_epoch + 1)
    )


# The admin's use cases: each takes the acting user and refuses anyone but an active admin.


def list_users(
    session: Session, actor_user: User, search: str = "", page: int = 1, per_page: int = PER_PAGE
) -> Page[UserRow]:
    """One page of users ordered by name, those whose name contains `search` (any case)."""
    _require_admin(actor_user)
    statement = select(User).order_by(func.lower(User.username), User.username)
    if actor_user.region_code is not None:  # a region's admin manages that region's users
        statement = statement.where(
            User.region_code.startswith(scope_prefix(actor_user.region_code))
        )
    search = search.replace("\x00", "").strip()
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(User.username.ilike(pattern, escape="\\"))
    found = paginate(session, statement, page, per_page)
    changed = _last_changes(session, [user.username for user in found.items])
    rows = [UserRow(user, changed.get(user.username)) for user in found.items]
    return Page(rows, found.number, found.per_page, found.total)


def get_user(session: Session, actor_user: User, user_id: int) -> User:
    """The user with this id (NotFound when there is none)."""
    _require_admin(actor_user)
    user = session.get(User, user_id)
    if user is None or not _manages(actor_user, user.region_code):
        raise NotFound(user_id)
    return user


def add_user(
    session: Session,
    actor_user: User,
    username: str,
    password: str,
    role: str,
    region_code: str | None,
) -> User:
    """Create a user on an admin's behalf (audited as that admin)."""
    _require_admin(actor_user)
    region_code = _blank_none(region_code)
    _within_actor(actor_user, region_code)
    return create_user(session, username, password, role, region_code, Actor.of(actor_user))


def update_user(
    session: Session,
    actor_user: User,
    user: User,
    role: str | None = None,
    region_code: str | _Unchanged | None = UNCHANGED,
    active: bool | None = None,
) -> dict[str, tuple[object, object]]:
    """Change a user's role, region (None: the whole country) and whether they may log in.

    Arguments left at their default stay as they are. Returns the changed fields as
    {field: (before, after)}; nothing changed, nothing is audited.
    """
    _require_admin(actor_user)
    session.refresh(user, with_for_update=True)  # the values as they are now, held until commit
    after_role = user.role if role is None else _check_role(role)
    after_region = user.region_code if region_code is UNCHANGED else _blank_none(region_code)
    after_region = _check_region(after_role, after_region)
    if not _manages(actor_user, user.region_code):
        raise NotFound(user.id)
    _within_actor(actor_user, after_region)
    after_active = user.active if active is None else bool(active)
    before = {"role": user.role, "region_code": user.region_code, "active": user.active}
    after = {"role": after_role, "region_code": after_region, "active": after_active}
    changed = {name: (before[name], after[name]) for name in before if before[name] != after[name]}
    if not changed:
        return {}
    loses_admin = (
        user.role == Role.ADMIN and user.active and not (after_role == Role.ADMIN and after_active)
    )
    if loses_admin:
        _keep_an_admin(session, actor_user, user, deactivating=not after_active)
    user.role, user.region_code, user.active = after_role, after_region, after_active
    session.flush()
    audit.record(
        session,
        Actor.of(actor_user),
        [
            audit.Change(
                "update",
                TABLE,
                user.username,
                {name: old for name, (old, _new) in changed.items()},
                {name: new for name, (_old, new) in changed.items()},
            )
        ],
    )
    return changed


def reset_password(session: Session, actor_user: User, user: User, password: str) -> None:
    """Give the user a new password; the old one stops working (the audit log says "reset")."""
    _require_admin(actor_user)
    if not _manages(actor_user, user.region_code):
        raise NotFound(user.id)
    _check_password(password)
    session.refresh(user, with_for_update=True)
    user.password_hash = _hasher.hash(password)
    session.flush()
    audit.record(
        session,
        Actor.of(actor_user),
        [
            audit.Change(
                "update",
                TABLE,
                user.username,
                {"password": "set"},
                {"password": "reset"},
                note="password reset by an admin",
            )
        ],
    )


# Checks shared by the CLI and the web.


def _manages(actor_user: User, region_code: str | None) -> bool:
    """A nationwide admin manages everyone; a region's admin the users inside that region."""
    if actor_user.region_code is None:
        return True
    return region_code is not None and within(region_code, actor_user.region_code)


def _within_actor(actor_user: User, region_code: str | None) -> None:
    """An admin gives no one more than their own region (a region's admin: no nationwide user)."""
    if not _manages(actor_user, region_code):
        raise UserError(
            f"you manage users of region {actor_user.region_code} only: give a region inside it",
            f"您只能管理 {actor_user.region_code} 辖区内的用户：请填写该辖区内的行政区划代码",
            "region",
        )


def _require_admin(actor_user: User) -> None:
    if actor_user.role != Role.ADMIN or not actor_user.active:
        raise Forbidden(actor_user.role)


def _keep_an_admin(session: Session, actor_user: User, user: User, deactivating: bool) -> None:
    """Refuse to take the last active admin's role or login away (the actor's own first)."""
    if user.id == actor_user.id:
        if deactivating:
            raise UserError(
                "you cannot deactivate your own account", "不能停用自己的账号", "active"
            )
        raise UserError(
            "you cannot take the admin role from your own account",
            "不能取消自己的管理员角色",
            "role",
        )
    # FOR UPDATE: two admins demoting each other at once wait for one another (PostgreSQL
    # re-reads the locked rows after the first commits); SQLite writers already take turns.
    admins = session.scalars(
        select(User.id)
        .where(User.role == Role.ADMIN.value, User.active.is_(True))
        .with_for_update()
    ).all()
    if not set(admins) - {user.id}:
        raise UserError(
            "this is the last active admin: make another user an admin first",
            "这是最后一个在用的管理员：请先将另一名用户设为管理员",
            "active" if deactivating else "role",
        )


def _check_username(username: str) -> str:
    username = username.strip()
    if not username:
        raise UserError("the user name is empty", "用户名为空", "username")
    if len(username) > MAX_USERNAME_LENGTH:
        raise UserError(
            f"the user name has more than {MAX_USERNAME_LENGTH} characters",
            f"用户名超过 {MAX_USERNAME_LENGTH} 个字符",
            "username",
        )
    return username


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters",
            f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符",
            "password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(
            f"the password must have at most {MAX_PASSWORD_LENGTH} characters",
            f"密码不能超过 {MAX_PASSWORD_LENGTH} 个字符",
            "password",
        )


def _check_role(role: str) -> str:
    try:
        return Role.parse(role).value
    except ValueError as exc:
        raise UserError(
            f"unknown role {role!r}; expected inspector, supervisor or admin",
            f"未知角色 {role!r}；应为检查员、科室负责人或管理员",
            "role",
        ) from exc


def _check_region(role: str, region_code: str | None) -> str | None:
    """A 6-digit code, required for inspectors and supervisors (admins may have none)."""
    if region_code is None:
        if role != Role.ADMIN:
            raise UserError(
                "inspectors and supervisors need a region code (6 digits, --region)",
                "检查员和科室负责人必须有地区代码（6 位数字）",
                "region",
            )
        return None
    try:
        return validate_region_code(region_code)
    except ValueError as exc:
        raise UserError(
            f"not a 6-digit region code: {region_code!r}",
            f"不是 6 位数字的地区代码：{region_code!r}",
            "region",
        ) from exc


def _blank_none(region_code: str | None) -> str | None:
    return (region_code or "").strip() or None


def _duplicate(username: str) -> UserError:
    return UserError(f"user {username} already exists", f"用户 {username} 已存在", "username")


def _last_changes(session: Session, usernames: Sequence[str]) -> dict[str, datetime]:
    """The time of each user's newest audit entry (their creation or latest change)."""
    if not usernames:
        return {}
    rows = session.execute(
        select(AuditEntry.record_key, func.max(AuditEntry.at))
        .where(AuditEntry.table_name == TABLE, AuditEntry.record_key.in_(usernames))
        .group_by(AuditEntry.record_key)
    )
    return {key: at for key, at in rows}
