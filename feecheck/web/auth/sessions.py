"""A login lasts only as long as the password it was made with (Django's session auth hash).

Flask-Login keeps just the user id in a signed cookie, so a password reset (or a logout) alone
would leave someone holding a copy of the cookie logged in. At login the session also gets a
keyed digest of the password hash and the user's session epoch; logging out bumps the epoch, a
reset changes the hash, and a request whose session holds another digest is logged out.
Deactivation needs no digest: the user_loader refuses inactive users.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app, request, session
from flask_login import current_user, logout_user

from feecheck.models import User

SESSION_KEY = "_password_digest"


def password_digest(user: User) -> str:
    """A digest of the user's password hash and session epoch (bumped at logout), keyed with the
    app's secret (cookies are readable)."""
    key = str(current_app.secret_key or "").encode()
    message = f"{user.password_hash}:{user.session_epoch or 0}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def remember_password(user: User) -> None:
    """Tie the session to the password the user has now (after login, after an own reset)."""
    session[SESSION_KEY] = password_digest(user)


def log_out_if_password_changed() -> None:
    """Before each request: a session made with an earlier password is logged out."""
    if request.endpoint == "static" or not current_user.is_authenticated:
        return
    if not hmac.compare_digest(session.get(SESSION_KEY, ""), password_digest(current_user)):
        logout_user()
        session.pop(SESSION_KEY, None)
