"""One pagination helper for every list: a page of rows and the total, from a select()."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
PER_PAGE = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int  # 1-based
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first_index(self) -> int:
        """The 1-based position of the first row shown (0 when there is none)."""
        return (self.number - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.number * self.per_page, self.total)


def page_number(text: str | None) -> int:
    """A page number from a query string: anything but a positive integer is page 1."""
    return int(text) if text and text.isdigit() and 0 < int(text) < 1_000_000 else 1


def paginate(
    session: Session,
    statement: Select[Any],
    number: int = 1,
    per_page: int = PER_PAGE,
    scalars: bool = True,
) -> Page[Any]:
    """Rows `number` of a statement (ordered by the caller), and how many there are in all.

    A page past the end shows the last page. `scalars`: rows of one entity, or tuples.
    """
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    total = int(total or 0)
    pages = max(1, -(-total // per_page))
    number = min(max(1, number), pages)
    limited = statement.limit(per_page).offset((number - 1) * per_page)
    items = session.scalars(limited).all() if scalars else session.execute(limited).all()
    return Page(items, number, per_page, total)


def paginate_ids(
    session: Session,
    ids: Select[Any],
    load: Callable[[list[Any]], Mapping[Any, T]],
    total: int,
    number: int = 1,
    per_page: int = PER_PAGE,
) -> Page[T]:
    """Like paginate, for a big list whose total the caller knows already (from its counts):
    `ids` selects the rows' ids alone, ordered, so the database sorts and skips narrow rows;
    `load` fetches the page's rows by id (id -> row), shown in the order of `ids`."""
    pages = max(1, -(-total // per_page))
    number = min(max(1, number), pages)
    chosen = list(session.scalars(ids.limit(per_page).offset((number - 1) * per_page)))
    rows = load(chosen) if chosen else {}
    return Page([rows[i] for i in chosen if i in rows], number, per_page, total)
