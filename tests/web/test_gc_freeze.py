"""A served app moves its long-lived objects out of the garbage collector's scans after its
first request (feecheck._freeze_once): in a process of its own, as a WSGI server runs it."""

from __future__ import annotations

import subprocess
import sys

from feecheck.config import ROOT

SCRIPT = """
import gc
from feecheck import create_app
app = create_app({"SECRET_KEY": "s", "DATABASE_URL": "sqlite://", "GC_FREEZE": %s})
before = gc.get_freeze_count()
app.test_client().get("/login")
print(before, gc.get_freeze_count())
"""


def _freeze_counts(enabled: bool) -> tuple[int, int]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT % enabled],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    before, after = done.stdout.split()
    return int(before), int(after)


def test_the_first_request_freezes_what_the_app_keeps() -> None:
    before, after = _freeze_counts(True)
    assert before == 0 and after > 10_000


def test_an_app_built_for_tests_can_leave_the_collector_alone() -> None:
    assert _freeze_counts(False) == (0, 0)
