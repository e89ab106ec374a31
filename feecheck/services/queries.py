"""Read-side queries, always scoped to what the acting user may see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from feecheck.models import Child, Kindergarten, User
from feecheck.services.pagination import Page, paginate
from feecheck.services.scope import visible


def scoped(statement: Select, user: User) -> Select:  # type: ignore[type-arg]
    """Restrict a statement over kindergartens to the user's region."""
    return statement.where(visible(user))


@dataclass(frozen=True)
class KindergartenRow:
    kindergarten: Kindergarten
    children: int


def list_kindergartens(
    session: Session, user: User, search: str = "", page: int = 1, per_page: int = 50
) -> Page[KindergartenRow]:
    """A page of the user's kindergartens with their children enrolled, in three queries (the
    page, its count, and the filed accounts of the page's kindergartens: no query per row)."""
    children = (
        select(Child.kindergarten_id, func.count().label("n"))
        .where(Child.left_on.is_(None))
        .group_by(Child.kindergarten_id)
        .subquery()
    )
    statement = (
        select(Kindergarten, func.coalesce(children.c.n, 0))
        .outerjoin(children, children.c.kindergarten_id == Kindergarten.id)
        .options(selectinload(Kindergarten.filed_accounts))
        .order_by(Kindergarten.region_code, Kindergarten.code)
    )
    search = search.replace("\x00", "").strip()[:100]
    if search:  # % and _ are characters people type, not wildcards
        statement = statement.where(
            or_(
                Kindergarten.code.contains(search, autoescape=True),
                Kindergarten.name.contains(search, autoescape=True),
            )
        )
    found = paginate(session, scoped(statement, user), page, per_page, scalars=False)
    rows = [KindergartenRow(kg, n) for kg, n in found.items]
    return Page(rows, found.number, found.per_page, found.total)


def regions_in_scope(session: Session, user: User) -> list[str]:
    """The user's own region and the districts of the kindergartens it can see, sorted."""
    codes = set(session.scalars(scoped(select(Kindergarten.region_code).distinct(), user)))
    if user.region_code:
        codes.add(user.region_code)
    return sorted(codes)


def kindergarten_choices(session: Session, user: User, limit: int = 2000) -> list[tuple[int, str]]:
    """(id, "code name") of the user's kindergartens, for filters."""
    return [
        (kg_id, f"{code} {name}")
        for kg_id, code, name in session.execute(
            scoped(select(Kindergarten.id, Kindergarten.code, Kindergarten.name), user)
            .order_by(Kindergarten.code)
            .limit(limit)
        )
    ]
