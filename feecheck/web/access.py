"""Access in the web layer: role_required(), and the one way a view fetches a scoped record.

Region scoping itself lives in the services (services.scope); views only turn a service's
NotFound into 404 and a Forbidden into 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required

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
