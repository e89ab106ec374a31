"""Unbound extensions; create_app() binds them."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from feecheck.models.session import make_engine, make_session_factory


class Database:
    """One engine per app; one Session per app context, closed at teardown."""

    def init_app(self, app: Flask) -> None:
        bind: Any = app.config.get("DATABASE_BIND")  # tests pass a Connection inside a transaction
        engine = None
        if bind is None:
            engine = make_engine(app.config["DATABASE_URL"])
            bind = engine
        options = app.config.get("DATABASE_SESSION_OPTIONS", {})
        app.extensions["feecheck.db"] = (engine, make_session_factory(bind, **options))
        app.teardown_appcontext(self._close_session)

    @staticmethod
    def engine(app: Flask) -> Engine | None:
        return app.extensions["feecheck.db"][0]

    @staticmethod
    def new_session(app: Flask) -> Session:
        return app.extensions["feecheck.db"][1]()

    @property
    def session(self) -> Session:
        from flask import current_app, has_request_context, request

        if "db_session" not in g:
            session = self.new_session(current_app)
            if has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS"):
                # A request that may write takes SQLite's write lock when it begins (waiting for
                # another writer), instead of failing when its reads turn into a write.
                session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            g.db_session = session
        return g.db_session

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


db = Database()
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
# Storage from RATELIMIT_STORAGE_URI (memory:// per process by default; redis:// when several
# processes serve the app, so that they share the counts).
limiter = Limiter(key_func=get_remote_address)
