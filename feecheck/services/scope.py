"""Who may see and touch what: the region scope and the roles, enforced in the services.

Every service that reads or writes a record for a person goes through here. A record outside the
person's region is NotFound, exactly like a record that does not exist, so that a page never
tells one from the other; a role that may not act is Forbidden.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import Session

from feecheck.domain.categories import Role
from feecheck.domain.regions import scope_prefix, within
from feecheck.models import Kindergarten, User

SUPERVISING = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})


class NotFound(LookupError):
    """No such record, or not in the acting user's region (the same answer either way)."""


class Forbidden(PermissionError):
    """The acting user's role may not do this."""


def visible(user: User) -> ColumnElement[bool]:
    """The condition on Kindergarten that keeps a query inside the user's region."""
    if user.region_code is None:
        return true()
    return Kindergarten.region_code.startswith(scope_prefix(user.region_code))


def can_see(user: User, region_code: str) -> bool:
    return within(region_code, user.region_code)


def get_kindergarten(session: Session, user: User, kindergarten_id: int) -> Kindergarten:
    kindergarten = session.get(Kindergarten, kindergarten_id)
    if kindergarten is None or not can_see(user, kindergarten.region_code):
        raise NotFound(kindergarten_id)
    return kindergarten


def require_role(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise Forbidden(user.role)


def require_region(user: User, region_code: str) -> None:
    """A region the user asks about must be inside the user's own (NotFound otherwise)."""
    if not can_see(user, region_code):
        raise NotFound(region_code)
