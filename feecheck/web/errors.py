"""Error pages; the 500 handler rolls the session back."""

from __future__ import annotations

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException

from feecheck.extensions import db


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        return render_template("errors/error.html", error=error), error.code

    @app.errorhandler(500)
    def server_error(error: Exception):  # type: ignore[no-untyped-def]
        db.session.rollback()
        return render_template("errors/error.html", error=None), 500
