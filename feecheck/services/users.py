"""Users: creation with an argon2 password hash, authentication."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from feecheck.domain.categories import Role
from feecheck.domain.regions import validate_region_code
from feecheck.models import User
from feecheck.services import audit
from feecheck.services.audit import Actor

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 8


class UserError(ValueError):
    """A user cannot be created as asked; the message says why."""


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    region_code: str | None,
    actor: Actor,
) -> User:
    username = username.strip()
    if not username:
        raise UserError("the user name is empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    role = Role.parse(role).value
    if region_code is not None:
        validate_region_code(region_code)
    elif role != Role.ADMIN:
        raise UserError("inspectors and supervisors need a --region (6-digit code)")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError(f"user {username} already exists")
    user = User(
        username=username, password_hash=_hasher.hash(password), role=role, region_code=region_code
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        [
            audit.Change(
                "create", "users", username, None, {"role": role, "region_code": region_code}
            )
        ],
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
