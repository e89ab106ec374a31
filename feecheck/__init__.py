"""feecheck: kindergarten fee compliance checker. create_app() is the one place an app is built."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from feecheck.config import ROOT, ConfigError, check_secret, defaults


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(Path(os.environ.get("FEECHECK_INSTANCE", ROOT / "instance"))),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    # As flaskr does: the instance folder holds the default SQLite file, so it must exist.
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(defaults(Path(app.instance_path)))
    if test_config:
        app.config.update(test_config)

    from feecheck import cli, web
    from feecheck.extensions import babel, csrf, db, limiter, login_manager

    db.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=web.select_locale)
    web.init_app(app)
    cli.init_app(app)

    @app.before_request
    def refuse_without_secret() -> None:
        try:
            check_secret(app.config, app.debug)
        except ConfigError:
            app.logger.error("refusing to serve: FEECHECK_SECRET_KEY is not set")
            raise

    return app


__all__ = ["create_app"]
