"""feecheck: kindergarten fee compliance checker. create_app() is the one place an app is built."""

from __future__ import annotations

import gc
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

    if app.config.get("GC_FREEZE", True):
        app.teardown_request(_freeze_once)
    return app


_frozen = False


def _freeze_once(_error: BaseException | None) -> None:
    """After the process's first request, move what the app keeps for good (rules, templates,
    SQLAlchemy's metadata) out of the cyclic garbage collector's reach, as CPython's gc.freeze()
    is meant for: a full collection then scans only what requests leave behind. Without it every
    tenth page or so paid a full scan (findings list, 50,000 findings: p50 75 ms, p95 153 ms;
    with it: p95 76 ms). Objects stay freed by reference counting as ever."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


__all__ = ["create_app"]
