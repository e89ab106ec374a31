"""Read-side queries, always scoped to what the acting user may see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from feecheck.domain.regions import scope_prefix
from feecheck.models import Child, Kindergarten, User


def scoped(statement: Select, user: User) -> Select:  # type: ignore[type-arg]
    """Restrict a statement over kindergartens to the user's region."""
    if user.region_code is None:
        return statement
    return statement.where(Kindergarten.region_code.startswith(scope_prefix(user.region_code)))


@dataclass(frozen=True)
class KindergartenRow:
    kindergarten: Kindergarten
    children: int


def list_kindergartens(session: Session, user: User, search: str = "") -> list[KindergartenRow]:
    children = (
        select(Child.kindergarten_id, func.count().label("n"))
        .where(Child.left_on.is_(None))
        .group_by(Child.kindergarten_id)
        .subquery()
    )
    statement = (
        select(Kindergarten, func.coalesce(children.c.n, 0))
        .outerjoin(children, children.c.kindergarten_id == Kindergarten.id)
        .order_by(Kindergarten.region_code, Kindergarten.code)
    )
    search = search.replace("\x00", "")
    if search:
        pattern = f"%{search}%"
        statement = statement.where(
            or_(Kindergarten.code.like(pattern), Kindergarten.name.like(pattern))
        )
    return [KindergartenRow(kg, n) for kg, n in session.execute(scoped(statement, user))]


def regions_in_scope(session: Session, user: User) -> list[str]:
    """The user's own region and the districts of the kindergartens it can see, sorted."""
    codes = set(session.scalars(scoped(select(Kindergarten.region_code).distinct(), user)))
    if user.region_code:
        codes.add(user.region_code)
    return sorted(codes)
