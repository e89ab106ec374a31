"""Access in the web layer: role_required(), and the one way a view fetches a scoped record.

Region scoping itself lives in the services (services.scope); views only turn a service's
NotFound into 404 and a Forbidden into 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, request
from flask_login import current_user, login_required
from werkzeug.routing import IntegerConverter

from feecheck.domain.categories import Role

F = TypeVar("F", bound=Callable[..., Any])

SUPERVISING = (Role.SUPERVISOR.value, Role.ADMIN.value)


def role_required(*roles: str) -> Callable[[F], F]:
    """Log in first, then refuse (403) a user whose role is not one of `roles`."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


MAX_ID = 2**63 - 1  # the largest id either database stores


class IdConverter(IntegerConverter):
    """`<int:…>` in every route, bounded: an id no database can hold is a 404, not a 500."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def id_arg(name: str) -> int | None:
    """An id from the query string: None when absent or not a number; 404 beyond MAX_ID."""
    text = request.args.get(name, "")
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    if value > MAX_ID:
        abort(404)
    return value


def id_values(texts: list[str]) -> list[int]:
    """Ids posted by a form (ticked findings): numbers within MAX_ID, the rest dropped."""
    return [int(t) for t in texts if t.isascii() and t.isdigit() and int(t) <= MAX_ID]
