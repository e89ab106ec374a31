"""Import jobs: a thread per large import, with its own Session; progress kept in memory.

The ImportBatch row holds the status (committed before and after the run). Progress inside the
run cannot go through the database: the import's own transaction is not visible to the polling
request until it commits, and SQLite allows one writer at a time, so a second connection
writing progress would wait for the import. The rows done are therefore kept here, per process,
and written to the batch when the import ends.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask

from feecheck.engine.taxonomy import load_taxonomy
from feecheck.extensions import db
from feecheck.models import ImportBatch, User
from feecheck.services.importing import ImportOptions, run_import

_lock = threading.Lock()
_progress: dict[int, tuple[int, int]] = {}


def progress_of(batch_id: int) -> tuple[int, int] | None:
    with _lock:
        return _progress.get(batch_id)


def _set_progress(batch_id: int, done: int, expected: int) -> None:
    with _lock:
        _progress[batch_id] = (done, expected)


def start(
    app: Flask,
    batch_id: int,
    path: Path,
    user_id: int,
    options: ImportOptions,
    background: bool,
) -> threading.Thread | None:
    """Run the import of a recorded batch now, or in a thread; returns the thread if any."""

    def job() -> None:
        with app.app_context():
            session = db.new_session(app)
            try:
                batch = session.get(ImportBatch, batch_id)
                user = session.get(User, user_id)
                if batch is None:
                    return
                report = run_import(
                    session,
                    batch.record_type,
                    path,
                    taxonomy=load_taxonomy(app.config["RULES_DIR"]),
                    user=user,
                    file_name=batch.file_name,
                    options=options,
                    progress=lambda done, expected: _set_progress(batch_id, done, expected),
                    batch=batch,
                )
                if report.status != "dry_run":  # committed, rejected or unreadable: done with it
                    path.unlink(missing_ok=True)
            except Exception:
                app.logger.exception("import batch %s failed", batch_id)
                session.rollback()
                batch = session.get(ImportBatch, batch_id)
                if batch is not None and batch.status in ("pending", "running"):
                    batch.status = "failed"
                    batch.message = "导入时发生内部错误 / internal error during the import"
                    session.commit()
            finally:
                session.close()
                with _lock:
                    _progress.pop(batch_id, None)

    if not background:
        job()
        return None
    thread = threading.Thread(target=job, name=f"import-{batch_id}", daemon=True)
    threads = app.extensions.setdefault("feecheck.import_threads", [])
    threads[:] = [t for t in threads if t.is_alive()]
    threads.append(thread)
    thread.start()
    return thread
