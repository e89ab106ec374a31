"""Error pages; the 500 handler rolls the session back."""

from __future__ import annotations

from flask import Flask, render_template
from werkzeug import exceptions as werkzeug_exceptions
from werkzeug.exceptions import HTTPException

from feecheck.extensions import db
from feecheck.services.scope import Forbidden, NotFound


def init_app(app: Flask) -> None:
    @app.errorhandler(NotFound)
    def not_found(_error: NotFound):  # type: ignore[no-untyped-def]
        return http_error(werkzeug_exceptions.NotFound())

    @app.errorhandler(Forbidden)
    def forbidden(_error: Forbidden):  # type: ignore[no-untyped-def]
        return http_error(werkzeug_exceptions.Forbidden())

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        return render_template("errors/error.html", error=error), error.code

    @app.errorhandler(500)
    def server_error(error: Exception):  # type: ignore[no-untyped-def]
        db.session.rollback()
        return render_template("errors/error.html", error=None), 500
