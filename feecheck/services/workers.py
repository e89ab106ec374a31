"""Which process runs a piece of long work, and whether it is still alive.

An import batch and a job both record the process running them as "host:pid" and a heartbeat.
A process on this host is alive while its pid exists; one on another host (an RQ worker
elsewhere) while its heartbeat is recent. Work whose process is gone is marked failed by
importing.fail_stale_batches and jobs.fail_stale_jobs, so nothing stays "running" forever.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

HOST = socket.gethostname()[:60]
WORKER = f"{HOST}:{os.getpid()}"  # this process; a fork (an RQ work horse) asks worker()
STALE_AFTER = timedelta(hours=2)  # no sign of life this long from another host: gone


def worker() -> str:
    """This process as "host:pid" (computed each time: RQ forks a process per job)."""
    return f"{HOST}:{os.getpid()}"


def alive(
    worker: str | None,
    heartbeat: datetime | None,
    now: datetime,
    stale_after: timedelta = STALE_AFTER,
) -> bool:
    """Whether the process `worker` may still be running the work it last reported at
    `heartbeat`: on this host its pid must exist; elsewhere the heartbeat must be recent."""
    host, _, pid = (worker or "").rpartition(":")
    if host == HOST and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process: it exists
            return True
        return True
    if heartbeat is None:
        return False
    if heartbeat.tzinfo is None:  # SQLite returns naive UTC datetimes
        heartbeat = heartbeat.replace(tzinfo=UTC)
    return now - heartbeat < stale_after
