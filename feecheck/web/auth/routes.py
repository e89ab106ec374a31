from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from feecheck.extensions import db, limiter
from feecheck.services.users import authenticate, end_sessions
from feecheck.web.auth.forms import LoginForm
from feecheck.web.auth.sessions import log_out_if_password_changed, remember_password

bp = Blueprint("auth", __name__)
bp.before_app_request(log_out_if_password_changed)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so the login page cannot redirect off-site."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("dashboard.index")


def _login_name() -> str:
    return "login:" + (request.form.get("username") or "").strip().lower()[:64]


def _failed(response: Response) -> bool:
    """Only refused logins count against the limits (a success redirects)."""
    return response.status_code == 200


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_USER"],
    key_func=_login_name,
    methods=["POST"],
    deduct_when=_failed,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"], deduct_when=_failed
)
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session, form.username.data or "", form.password.data or "")
        if user is None:
            flash(_("Wrong user name or password."), "error")
        else:
            db.session.commit()
            session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME
            login_user(user)
            remember_password(user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    end_sessions(db.session, current_user)  # a copy of this session's cookie dies too
    db.session.commit()
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))
