"""Web blueprints; the only layer (with cli.py) that touches request, current_user, db.session."""

from __future__ import annotations

from flask import Flask, abort, request, session
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from feecheck.domain.categories import Category
from feecheck.extensions import db, login_manager
from feecheck.models import User
from feecheck.web.access import IdConverter

LOCALES = ("zh_CN", "en")
CATEGORY_NAMES = {
    Category.PUBLIC: _l("Public"),
    Category.INCLUSIVE_PRIVATE: _l("Inclusive private"),
    Category.NONPROFIT_PRIVATE: _l("Non-profit private"),
    Category.FORPROFIT_PRIVATE: _l("For-profit private"),
}


def select_locale() -> str:
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in LOCALES:
        session["lang"] = chosen
        return chosen
    return "zh_CN"


def init_app(app: Flask) -> None:
    from feecheck.web import errors, labels
    from feecheck.web.admin.routes import bp as admin_bp
    from feecheck.web.auth.routes import bp as auth_bp
    from feecheck.web.dashboard.routes import bp as dashboard_bp
    from feecheck.web.findings.routes import bp as findings_bp
    from feecheck.web.imports.routes import bp as imports_bp
    from feecheck.web.jobs.routes import bp as jobs_bp
    from feecheck.web.kindergartens.routes import bp as kindergartens_bp
    from feecheck.web.ledger.routes import bp as ledger_bp
    from feecheck.web.records.routes import bp as records_bp

    app.url_map.converters["int"] = IdConverter  # before the routes are added

    for blueprint in (
        auth_bp,
        dashboard_bp,
        kindergartens_bp,
        records_bp,
        findings_bp,
        ledger_bp,
        imports_bp,
        jobs_bp,
        admin_bp,
    ):
        app.register_blueprint(blueprint)
    errors.init_app(app)
    labels.init_app(app)

    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
        return user if user and user.active else None

    @app.context_processor
    def template_helpers() -> dict[str, object]:
        return {
            "category_label": lambda code: CATEGORY_NAMES[Category(code)],
            "get_locale": get_locale,
        }

    @app.before_request
    def refuse_nul_bytes() -> None:
        # No text a person types holds a NUL; PostgreSQL cannot even compare one.
        for values in (request.args, request.form):
            for value in values.values():
                if "\x00" in value:
                    abort(400)
        for upload in request.files.values():
            if "\x00" in (upload.filename or ""):
                abort(400)

    @app.after_request
    def security_headers(response):  # type: ignore[no-untyped-def]
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'"
        )
        return response
