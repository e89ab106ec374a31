"""Never crash, never hang, never lose a row (issue 12): cells the database cannot store,
malformed CSV, wrong encodings, money that cannot be, batches left running, arbitrary input."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from feecheck.models import Absence, Charge, ImportBatch, Kindergarten, Refund
from feecheck.services import importing, record_types
from feecheck.services.importing import WORKER, ImportOptions, ImportReport, run_import
from tests.factories import make_charge, make_child, make_kindergarten

CHARGE_HEADER = (
    "receipt_no,kindergarten_code,child_ref,fee_item,amount,"
    "period_start,period_end,paid_on,account\n"
)


def _import(session: Session, taxonomy, record_type: str, path: Path, **options) -> ImportReport:  # type: ignore[no-untyped-def]
    return run_import(
        session, record_type, path, taxonomy=taxonomy, options=ImportOptions(**options)
    )


def _write(tmp_path: Path, data: str | bytes, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


@pytest.fixture
def kg_child(session: Session):  # type: ignore[no-untyped-def]
    kg = make_kindergarten(session, code="K1", accounts=["A1"])
    child = make_child(session, kg, child_ref="C1")
    return kg, child


def _charge_row(
    receipt: str, amount: str = "800.00", item: str = "保教费", paid: str = "2025-09-01"
) -> str:
    return f"{receipt},K1,C1,{item},{amount},2025-09-01,2025-09-30,{paid},A1\n"


def _lines(report: ImportReport) -> dict[int, str]:
    return {p.line: f"{p.column}: {p.reason}" for p in report.errors}


# --- one bad cell is that row's error ------------------------------------------------------


def test_cells_the_database_cannot_store_are_row_errors(
    session, taxonomy, kg_child, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    path = _write(
        tmp_path,
        CHARGE_HEADER
        + _charge_row("R1")
        + _charge_row("R2", "123456789012345678901234")  # 24 digits: OverflowError on SQLite
        + _charge_row("R3", "12345678901.00")  # 11 digits: NUMERIC(12,2) overflow on PostgreSQL
        + _charge_row("R4", "¥12,345,678,901")  # the same through the formatted path
        + _charge_row("R5", "9999999999.99")  # the largest amount both databases store
        + _charge_row("R6", item="x" * 1_000_000)  # a 1 MB cell: longer than 100 characters
        + _charge_row("R7", paid="9999-12-31")  # a date no check can handle
        + _charge_row("R8"),
    )
    report = _import(session, taxonomy, "charges", path)
    assert report.status == "committed" and report.exit_code == 1
    errors = _lines(report)
    assert sorted(errors) == [3, 4, 5, 7, 8]
    assert errors[3].startswith("amount: amount 123456789012345678901234 is larger than")
    assert errors[4].startswith("amount: amount 12345678901.00 is larger than")
    assert errors[7] == "fee_item: longer than 100 characters"
    assert errors[8] == "paid_on: date 9999-12-31 is outside 2000-01-01 .. 2099-12-31"
    stored = dict(session.execute(select(Charge.receipt_no, Charge.amount)).all())
    assert stored == {
        "R1": Decimal("800.00"),
        "R5": Decimal("9999999999.99"),
        "R8": Decimal("800.00"),
    }
    assert len(report.error_lines()[3]) < 300  # one bad cell makes one short line


def test_a_nul_byte_after_the_first_64_kib_is_that_rows_error(
    session, taxonomy, kg_child, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    filler = "".join(_charge_row(f"F{i}") for i in range(1200))  # > 64 KiB of good rows
    path = _write(
        tmp_path, CHARGE_HEADER + filler + _charge_row("RX", item="保教\x00费") + _charge_row("RY")
    )
    assert path.stat().st_size > 65536
    report = _import(session, taxonomy, "charges", path)
    assert report.status == "committed" and report.created == 1201
    assert _lines(report) == {1202: "fee_item: the cell holds a NUL character (binary data)"}


def test_a_row_the_database_still_refuses_becomes_that_rows_error(
    session, taxonomy, kg_child, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Validation that lets through what the database refuses (here: days_open 40, which the
    check constraint forbids) loses that row only, with the database's reason."""
    absences = record_types.RECORD_TYPES["absences"]
    lenient = tuple(
        f
        if f.name != "days_open"
        else record_types.Field(f.name, f.zh, record_types._count(99), True)
        for f in absences.fields
    )
    monkeypatch.setitem(
        record_types.RECORD_TYPES,
        "absences",
        record_types.RecordType(absences.name, absences.zh, absences.model, lenient, absences.key),
    )
    path = _write(
        tmp_path,
        "kindergarten_code,child_ref,month,days_absent,days_open\n"
        "K1,C1,2025-09,2,21\nK1,C1,2025-10,2,40\nK1,C1,2025-11,1,20\n",
    )
    report = _import(session, taxonomy, "absences", path)
    assert report.status == "committed" and report.created == 2
    ((line, reason),) = _lines(report).items()
    assert line == 3 and "the database refused the row" in reason
    assert sorted(session.scalars(select(Absence.month))) == ["2025-09", "2025-11"]


def test_an_internal_error_ends_the_batch_failed_not_running(
    session, taxonomy, kg_child, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    def broken(self, chunk):  # type: ignore[no-untyped-def]
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(importing.RecordWriter, "write", broken)
    report = _import(
        session, taxonomy, "charges", _write(tmp_path, CHARGE_HEADER + _charge_row("R1"))
    )
    assert report.status == "failed" and report.exit_code == 2
    assert "internal error: something nobody expected" in (report.message or "")
    assert session.get(ImportBatch, report.batch_id).status == "failed"


def test_a_batch_left_running_by_a_dead_process_is_marked_failed(
    session, taxonomy, kg_child, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    host = WORKER.rsplit(":", 1)[0]
    dead = ImportBatch(
        record_type="charges",
        file_name="killed.csv",
        sha256="0" * 64,
        status="running",
        worker=f"{host}:{2**22 + 12345}",  # above the kernel's pid limit: never alive
        rows_done=5000,
    )
    far = ImportBatch(
        record_type="charges",
        file_name="elsewhere.csv",
        sha256="0" * 64,
        status="running",
        worker="another-host:42",
        heartbeat_at=datetime.now(UTC) - timedelta(minutes=5),
    )
    session.add_all([dead, far])
    session.commit()
    _import(session, taxonomy, "charges", _write(tmp_path, CHARGE_HEADER + _charge_row("R1")))
    session.expire_all()
    assert session.get(ImportBatch, dead.id).status == "failed"
    assert "5000" in session.get(ImportBatch, dead.id).message
    assert session.get(ImportBatch, far.id).status == "running"  # alive as far as we can tell


# --- malformed CSV -----------------------------------------------------------------------------


def test_an_unterminated_quote_is_named_and_the_rows_before_it_are_kept(
    session, taxonomy, kg_child, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    path = _write(
        tmp_path,
        CHARGE_HEADER
        + _charge_row("R1")
        + 'R2,K1,C1,"保教费,800,2025-09-01,2025-09-30,2025-09-01,A1\n'
        + _charge_row("R3")
        + _charge_row("R4"),
    )
    report = _import(session, taxonomy, "charges", path)
    assert report.created == 1 and report.rejected == 1
    (line,) = report.error_lines()
    assert line.startswith(f"{path.name}:3: ")
    assert "unterminated quote starting at line 3: lines 3..5 could not be read" in line
    assert "longer than" not in line


def test_extra_cells_are_reported_not_dropped_silently(
    session, taxonomy, kg_child, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    path = _write(
        tmp_path,
        CHARGE_HEADER + _charge_row("R1").rstrip("\n") + ",extra,cells\n" + _charge_row("R2"),
    )
    report = _import(session, taxonomy, "charges", path)
    assert report.created == 2 and report.rejected == 0
    assert any("1 rows have more cells than the header (lines 2)" in w for w in report.warnings)


# --- encodings -----------------------------------------------------------------------------------


KG_HEADER = "code,name,region_code,category\n"


def test_latin1_and_shift_jis_are_not_stored_as_nonsense_chinese(
    session, taxonomy, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    latin1 = _write(
        tmp_path,
        (KG_HEADER + "K1,Müller Jürgen Kindergarten,110108,public\n").encode("latin-1"),
        "l.csv",
    )
    report = _import(session, taxonomy, "kindergartens", latin1)
    assert report.status == "failed" and "probably another encoding" in report.message
    sjis = _write(
        tmp_path, (KG_HEADER + "K1,さくら保育園,110108,public\n").encode("shift_jis"), "s.csv"
    )
    assert _import(session, taxonomy, "kindergartens", sjis).status == "failed"
    assert session.scalar(select(func.count()).select_from(Kindergarten)) == 0
    forced = _import(session, taxonomy, "kindergartens", latin1, encoding="gb18030")
    assert forced.status == "committed"  # the user said so explicitly


def test_real_gbk_with_rare_and_traditional_characters_is_accepted(
    session, taxonomy, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    text_ = KG_HEADER + "K1,北京市海淀区喆堃幼兒園,110108,public\nK2,劉䶮學園,110108,public\n"
    report = _import(session, taxonomy, "kindergartens", _write(tmp_path, text_.encode("gb18030")))
    assert (report.status, report.encoding, report.created) == ("committed", "gb18030", 2)


def test_the_wrong_explicit_encoding_gets_the_right_hint(session, taxonomy, tmp_path) -> None:  # type: ignore[no-untyped-def]
    gb = _write(
        tmp_path, (KG_HEADER + "K1,北京市第一幼儿园,110108,公办\n").encode("gb18030"), "gb.csv"
    )
    report = _import(session, taxonomy, "kindergartens", gb, encoding="utf-8")
    assert "but it is valid GB18030" in report.message and "does not accept" not in report.message
    utf8 = _write(tmp_path, KG_HEADER + "K1,北京市第一幼儿园,110108,公办\n", "u.csv")
    report = _import(session, taxonomy, "kindergartens", utf8, encoding="gb18030")
    assert report.status == "failed"  # these UTF-8 bytes are not valid GB18030
    assert "but it is valid UTF-8" in report.message and "not accepted" not in report.message


# --- money that cannot be ---------------------------------------------------------------------


REFUND_HEADER = "kindergarten_code,receipt_no,refund_no,amount,refunded_on\n"


def test_refunds_never_exceed_their_receipt_nor_precede_its_payment(
    session, taxonomy, kg_child, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    _kg, child = kg_child
    make_charge(session, child, receipt_no="R1", amount=Decimal("800.00"), paid_on=date(2025, 9, 5))
    path = _write(
        tmp_path,
        REFUND_HEADER
        + "K1,R1,T1,500.00,2025-09-20\n"
        + "K1,R1,T2,300.01,2025-09-21\n"  # 500 + 300.01 > 800
        + "K1,R1,T3,300.00,2025-09-21\n"  # exactly 800 in all
        + "K1,R1,T4,0.01,2025-09-22\n"  # one cent too many
        + "K1,R1,T5,10.00,2025-09-04\n",  # before the payment
    )
    report = _import(session, taxonomy, "refunds", path)
    errors = _lines(report)
    assert sorted(errors) == [3, 5, 6]
    assert errors[3] == (
        "amount: refunds against receipt R1 would total 800.01, more than its 800.00 "
        "(already refunded 500.00)"
    )
    assert (
        errors[6] == "refunded_on: refunded on 2025-09-04, before receipt R1 was paid on 2025-09-05"
    )
    assert session.scalar(select(func.sum(Refund.amount))) == Decimal("800.00")
    again = _import(session, taxonomy, "refunds", path)  # re-import: T1 and T3 unchanged
    assert again.unchanged == 2 and sorted(_lines(again)) == [3, 5, 6]


def test_the_database_keeps_a_charge_in_its_childs_kindergarten(session, kg_child) -> None:  # type: ignore[no-untyped-def]
    _kg, child = kg_child
    other = make_kindergarten(session, code="K2")
    with pytest.raises(IntegrityError), session.begin_nested():
        make_charge(session, child, kindergarten_id=other.id)


# --- any input at all -------------------------------------------------------------------------

CELL = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789.,-¥元 ", max_size=30),
    st.integers(-(10**30), 10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.dates(date(1, 1, 1), date(9999, 12, 31)).map(str),
    st.sampled_from(
        ["", " ", "\t ", "'", "K1", "C1", "保教费", "9999-12-31", "\x00", '"', "=1+1", "'=x"]
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(CELL, min_size=0, max_size=11), min_size=1, max_size=6))
def test_any_cells_never_raise_and_never_leave_a_batch_running(
    session, taxonomy, tmp_path_factory, rows
) -> None:  # type: ignore[no-untyped-def]
    if (
        session.scalar(
            select(func.count()).select_from(Kindergarten).where(Kindergarten.code == "K1")
        )
        == 0
    ):
        make_child(session, make_kindergarten(session, code="K1", accounts=["A1"]), child_ref="C1")
    buffer = io.StringIO()
    csv.writer(buffer).writerows([CHARGE_HEADER.strip().split(","), *rows])
    path = tmp_path_factory.mktemp("any") / "any.csv"
    path.write_bytes(buffer.getvalue().encode("utf-8", errors="replace"))
    report = _import(session, taxonomy, "charges", path)
    assert report.status in ("committed", "failed")
    assert session.get(ImportBatch, report.batch_id).status in ("committed", "failed")
    assert report.exit_code in (0, 1, 2)
    assert (
        session.scalar(
            select(func.count())
            .select_from(ImportBatch)
            .where(ImportBatch.status.in_(("pending", "running")))
        )
        == 0
    )


def test_more_problems_than_the_batch_keeps_are_said_so(
    session, taxonomy, kg_child, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(importing, "MAX_STORED_ERRORS", 3)
    seen = []
    path = _write(tmp_path, CHARGE_HEADER + "".join(_charge_row(f"R{i}", "x") for i in range(5)))
    report = run_import(session, "charges", path, taxonomy=taxonomy, on_error=seen.append)
    assert len(report.errors) == 3 and len(seen) == 5 and report.rejected == 5
    assert any("only the first 3 of 5 problems are kept" in w for w in report.warnings)
    assert session.get(ImportBatch, report.batch_id).warnings == report.warnings


def test_previewed_uploads_nobody_committed_are_deleted_after_a_day(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "imports"
    folder.mkdir()
    old, new = folder / "1.csv", folder / "2.csv"
    old.write_text("x")
    new.write_text("x")
    two_days_ago = (datetime.now() - timedelta(days=2)).timestamp()
    os.utime(old, (two_days_ago, two_days_ago))
    assert importing.prune_uploads(tmp_path) == 1
    assert not old.exists() and new.exists()


def test_an_export_with_formula_like_cells_is_escaped_and_imports_back_unchanged(
    session, taxonomy, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from feecheck.services.exporting import export_csv
    from feecheck.services.record_types import RECORD_TYPES

    make_kindergarten(session, code="=HYPERLINK(1)", name="-2+3 园", region_code="110108")
    buffer = io.StringIO()
    export_csv(session, RECORD_TYPES["kindergartens"], buffer)
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert rows[1][:2] == ["'=HYPERLINK(1)", "'-2+3 园"]
    path = _write(tmp_path, buffer.getvalue())
    report = _import(session, taxonomy, "kindergartens", path)
    assert (report.unchanged, report.created, report.rejected) == (1, 0, 0)


def test_blank_and_apostrophe_only_cells_are_empty_or_text(
    session, taxonomy, kg_child, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    path = _write(
        tmp_path,
        CHARGE_HEADER
        + "R1,K1,C1,保教费,800, ,2025-09-30,2025-09-01,A1\n"
        + "R2,K1,C1,',800,2025-09-01,2025-09-30,2025-09-01,A1\n",
    )
    report = _import(session, taxonomy, "charges", path)
    assert _lines(report) == {2: "period_start: required value is missing"}
    assert session.scalars(select(Charge.fee_item)).all() == ["'"]


def test_a_kindergartens_grade_is_read_in_the_words_lists_use(session, taxonomy, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _write(
        tmp_path,
        "园所代码,园所名称,行政区划代码,办园性质,园所等级\n"
        "K1,一园,370102,公办,一类\nK2,二园,370102,公办,示范园\nK3,三园,370102,公办,未评级\n"
        "K4,四园,370102,公办,\nK5,五园,370102,公办,四类\n",
    )
    report = _import(session, taxonomy, "kindergartens", path)
    grades = dict(session.execute(select(Kindergarten.code, Kindergarten.grade)).all())
    assert grades == {"K1": "grade1", "K2": "model", "K3": "unrated", "K4": None}
    assert list(_lines(report)) == [6] and "unknown value '四类'" in _lines(report)[6]


def test_a_charge_update_cannot_undercut_its_refunds(session, taxonomy, kg_child, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _kg, child = kg_child
    charge = make_charge(session, child, receipt_no="R1", amount=Decimal("560.00"))
    session.add(
        Refund(
            kindergarten_id=charge.kindergarten_id,
            charge_id=charge.id,
            refund_no="T1",
            amount=Decimal("500.00"),
            refunded_on=date(2025, 9, 5),
        )
    )
    session.flush()
    lower = CHARGE_HEADER + "R1,K1,C1,保教费,100.00,2025-09-01,2025-09-30,2025-09-01,A1\n"
    later = CHARGE_HEADER + "R1,K1,C1,保教费,560.00,2025-09-01,2025-09-30,2025-09-20,A1\n"
    errors = _lines(_import(session, taxonomy, "charges", _write(tmp_path, lower)))
    assert errors[2].startswith("amount: receipt R1 has 500.00 refunded already")
    errors = _lines(_import(session, taxonomy, "charges", _write(tmp_path, later, "2.csv")))
    assert errors[2].startswith("paid_on: receipt R1 has a refund dated 2025-09-05")
    session.expire_all()
    assert (charge.amount, charge.paid_on) == (Decimal("560.00"), date(2025, 9, 1))


def test_one_latin1_name_alone_is_refused_too(session, taxonomy, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, (KG_HEADER + "KLM,Müller,110108,public\n").encode("latin-1"))
    report = _import(session, taxonomy, "kindergartens", path)
    assert report.status == "failed" and "probably another encoding" in report.message


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("Bad\x1bName", "control characters"),
        ("\u202eevil", "text-direction overrides"),
    ],
)
def test_control_characters_in_text_are_refused(
    session, taxonomy, tmp_path, cell: str, reason: str
) -> None:  # type: ignore[no-untyped-def]
    report = _import(
        session,
        taxonomy,
        "kindergartens",
        _write(tmp_path, KG_HEADER + f"K1,{cell},110108,public\n"),
    )
    assert reason in _lines(report)[2]


def test_months_outside_the_window_are_refused(session, taxonomy, kg_child, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _write(
        tmp_path,
        "kindergarten_code,child_ref,month,days_absent,days_open\nK1,C1,9999-12,1,20\nK1,C1,2025-09,1,20\n",
    )
    report = _import(session, taxonomy, "absences", path)
    assert _lines(report) == {2: "month: month 9999-12 is outside 2000-01 .. 2099-12"}


def test_a_utf8_file_without_bom_is_recorded_as_utf8(session, taxonomy, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, KG_HEADER + "K1,一园,110108,public\n")
    assert _import(session, taxonomy, "kindergartens", path, encoding="utf-8").encoding == "utf-8"
    bom = _write(tmp_path, "\ufeff" + KG_HEADER + "K2,二园,110108,public\n", "bom.csv")
    assert (
        _import(session, taxonomy, "kindergartens", bom, encoding="utf-8").encoding == "utf-8-sig"
    )
