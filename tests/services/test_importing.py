"""The CSV importer: encodings, headers, cell formats, modes, reports, batches, round trips."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feecheck.models import AuditEntry, Charge, Child, FiledAccount, ImportBatch, Kindergarten
from feecheck.services.demo import build_demo
from feecheck.services.exporting import export_csv
from feecheck.services.importing import ImportOptions, ImportReport, run_import
from feecheck.services.record_types import RECORD_TYPES
from tests.factories import make_child, make_kindergarten, make_user

DATA = Path(__file__).resolve().parent.parent / "data"
ORDER = list(RECORD_TYPES)  # kindergartens first, then what refers to them
CHARGE_HEADER = (
    "receipt_no,kindergarten_code,child_ref,fee_item,amount,"
    "period_start,period_end,paid_on,account,collector"
)


def _import(session: Session, taxonomy, record_type: str, path: Path, **options) -> ImportReport:  # type: ignore[no-untyped-def]
    return run_import(
        session, record_type, path, taxonomy=taxonomy, options=ImportOptions(**options)
    )


def _write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _count(session: Session, model) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_every_type_in_three_encodings_reads_the_same_records(session: Session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    for name in ORDER:
        report = _import(session, taxonomy, name, DATA / f"{name}.en.utf8.csv")
        assert (report.status, report.encoding, report.rejected) == ("committed", "utf-8", 0), (
            report.error_lines()
        )
        assert report.created == report.rows_total > 0
    # The same records in Chinese, GB18030, every other cell format: nothing changes.
    for suffix, encoding in (("zh.gb18030", "gb18030"), ("mixed.bom", "utf-8-sig")):
        for name in ORDER:
            report = _import(session, taxonomy, name, DATA / f"{name}.{suffix}.csv")
            assert report.encoding == encoding
            assert (report.rejected, report.created, report.updated) == (0, 0, 0), (
                name,
                suffix,
                report.error_lines(),
                report.created,
                report.updated,
            )
            assert report.unchanged == report.rows_total
    for delimiter in ("tab", "semicolon"):
        report = _import(session, taxonomy, "charges", DATA / f"charges.en.{delimiter}.csv")
        assert report.delimiter == {"tab": "\t", "semicolon": ";"}[delimiter]
        assert report.unchanged == 3 and report.rejected == 0
    child = session.scalars(select(Child).where(Child.child_ref == "C002")).one()
    assert child.name == "刘䶮" and child.hardship == "low_income"  # Ext A survives GB18030
    assert session.scalar(select(func.sum(Charge.amount))) == Decimal("5810.00")
    assert sorted(session.scalars(select(FiledAccount.account_no))) == [
        "6222001",
        "6222002",
        "6222003",
    ]


def test_mixed_headers_warn_about_unknown_columns(session: Session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    report = _import(session, taxonomy, "kindergartens", DATA / "kindergartens.mixed.bom.csv")
    assert report.created == 3
    assert report.warnings == ["列“联系人”无法识别，已忽略 / unknown column '联系人' ignored"]


def test_demo_exports_and_reimports_unchanged_for_every_type(
    session: Session,
    taxonomy,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    build_demo(session, taxonomy)
    session.commit()
    for name, record_type in RECORD_TYPES.items():
        for language, encoding, bom in (("en", "utf-8", False), ("zh", "gb18030", False)):
            buffer = io.StringIO()
            rows = export_csv(session, record_type, buffer, language=language, bom=bom)
            path = _write(tmp_path, buffer.getvalue(), encoding, f"{name}.{language}.csv")
            report = _import(session, taxonomy, name, path)
            assert report.rejected == 0, report.error_lines()[:3]
            assert (report.created, report.updated, report.unchanged) == (0, 0, rows), name
            assert rows > 0


def _charges_file(tmp_path: Path, kindergarten: str, child: str, bad: dict[int, str]) -> Path:
    """1,000 charge rows; rows listed in `bad` (0-based) get the given broken line instead."""
    lines = [CHARGE_HEADER]
    for n in range(1000):
        lines.append(
            bad.get(n)
            or f"R{n:05d},{kindergarten},{child},保育教育费,800.00,"
            f"2025-09-01,2025-09-30,2025-09-01,6222001,kindergarten"
        )
    return _write(tmp_path, "\n".join(lines) + "\n", name="charges-1000.csv")


def test_three_bad_rows_among_a_thousand(session: Session, taxonomy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kg = make_kindergarten(session, code="K-BAD")
    make_child(session, kg, child_ref="C1")
    session.commit()
    path = _charges_file(
        tmp_path,
        "K-BAD",
        "C1",
        {
            9: "R00009,K-BAD,C1,保育教育费,八百,2025-09-01,2025-09-30,2025-09-01,6222001,",
            499: "R00499,K-BAD,C404,保育教育费,800,2025-09-01,2025-09-30,2025-09-01,6222001,",
            997: "R00997,K-BAD,C1,保育教育费,800,2025-09-30,2025-09-01,2025-09-01,6222001,",
        },
    )
    expected = [
        "charges-1000.csv:11: amount: 不是有效金额（元，最多两位小数）：八百 / "
        "not an amount in yuan with at most two decimals: '八百'",
        "charges-1000.csv:501: child_ref: 园所 K-BAD 没有幼儿编号为 C404 的幼儿 / "
        "unknown child C404 in kindergarten K-BAD",
        "charges-1000.csv:999: period_end: 期间止 2025-09-01 早于 期间起 2025-09-30 / "
        "period_end 2025-09-01 is before period_start 2025-09-30",
    ]
    dry = _import(session, taxonomy, "charges", path, dry_run=True)
    assert (dry.status, dry.created, dry.rejected, dry.exit_code) == ("dry_run", 997, 3, 1)
    assert dry.error_lines() == expected
    assert _count(session, Charge) == 0
    atomic = _import(session, taxonomy, "charges", path, atomic=True)
    assert (atomic.status, atomic.rejected, atomic.exit_code) == ("rejected", 3, 1)
    assert atomic.error_lines() == expected
    assert _count(session, Charge) == 0
    default = _import(session, taxonomy, "charges", path)
    assert (default.status, default.created, default.rejected) == ("committed", 997, 3)
    assert default.error_lines() == expected
    assert _count(session, Charge) == 997
    again = _import(session, taxonomy, "charges", path)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 997, 3)


def test_a_corrected_file_updates_and_audits(session: Session, taxonomy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for name in ("kindergartens", "children", "charges"):
        _import(session, taxonomy, name, DATA / f"{name}.en.utf8.csv")
    text = (DATA / "charges.en.utf8.csv").read_text(encoding="utf-8")
    fixed = _write(tmp_path, text.replace("560.00", "580.00"))
    report = _import(session, taxonomy, "charges", fixed)
    assert (report.updated, report.unchanged) == (1, 2)
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "update", AuditEntry.table_name == "charges")
    ).one()
    assert entry.before == {"amount": "560.00"} and entry.after == {"amount": "580.00"}
    assert entry.import_batch_id == report.batch_id


def test_every_import_records_a_batch_and_an_audit_entry(session: Session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    user = make_user(session, "importer", region_code=None, role="admin")
    path = DATA / "kindergartens.zh.gb18030.csv"
    report = run_import(
        session,
        "kindergartens",
        path,
        taxonomy=taxonomy,
        user=user,
        options=ImportOptions(dry_run=True),
    )
    batch = session.get(ImportBatch, report.batch_id)
    assert batch is not None
    assert (batch.status, batch.encoding, batch.rows_total, batch.created) == (
        "dry_run",
        "gb18030",
        3,
        3,
    )
    assert batch.user_id == user.id and batch.file_name == path.name
    assert len(batch.sha256) == 64 and batch.finished_at is not None
    assert _count(session, Kindergarten) == 0
    audit = session.scalars(select(AuditEntry).where(AuditEntry.import_batch_id == batch.id)).one()
    assert audit.action == "import" and audit.actor == "importer"
    assert audit.after["status"] == "dry_run" and audit.after["created"] == 0


@pytest.mark.parametrize(
    ("content", "encoding", "needle"),
    [
        (b"", "auto", "empty"),
        (b"  \r\n\r\n", "auto", "empty"),
        (b"PK\x03\x04\x14\x00\x06\x00", "auto", "Excel workbook"),
        ("code,name\nK1,é".encode("latin-1"), "auto", "not valid UTF-8 / GB18030"),
        ("园所代码,园所名称".encode("gb18030"), "utf-8", "not valid UTF-8"),
        (b"code,name,region_code\nK1,x,110108\n", "auto", "category (办园性质)"),
        (b"code,\xe5\x9b\xad\xe6\x89\x80\xe4\xbb\xa3\xe7\xa0\x81,name\n", "auto", "appears twice"),
        (b"code,name\x00,region_code,category\n", "auto", "NUL"),
        ("\ufeff\ufeff".encode("utf-16"), "auto", "UTF-16"),
    ],
)
def test_unreadable_files_are_refused_whole(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path, content: bytes, encoding: str, needle: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    report = _import(session, taxonomy, "kindergartens", path, encoding=encoding)
    assert report.status == "failed" and report.exit_code == 2
    assert needle in (report.message or ""), report.message
    assert " / " in (report.message or "")  # Chinese and English
    batch = session.get(ImportBatch, report.batch_id)
    assert batch is not None and batch.status == "failed" and batch.message == report.message
    assert _count(session, Kindergarten) == 0


def test_a_latin1_file_is_never_guessed(session: Session, taxonomy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = "code,name,region_code,category\nK1,Crèche Éloïse àéè,110108,public\n"
    report = _import(session, taxonomy, "kindergartens", _write(tmp_path, text, "latin-1"))
    assert report.status == "failed" and "save it as “CSV UTF-8”" in (report.message or "")


def test_encoding_override(session: Session, taxonomy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gb = DATA / "kindergartens.zh.gb18030.csv"
    assert _import(session, taxonomy, "kindergartens", gb, encoding="gb18030").created == 3
    utf8_chinese = _write(tmp_path, gb.read_bytes().decode("gb18030"))
    forced = _import(session, taxonomy, "kindergartens", utf8_chinese, encoding="gb18030")
    assert forced.status == "failed"  # mojibake headers: the required columns are missing


def test_header_only_file_imports_nothing(session: Session, taxonomy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = _import(session, taxonomy, "charges", _write(tmp_path, CHARGE_HEADER + "\r\n"))
    assert (report.status, report.rows_total, report.exit_code) == ("committed", 0, 0)


def test_line_numbers_count_physical_lines(session: Session, taxonomy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = (
        "code,name,region_code,category\n"
        '"K1","多行\n名称",110108,public\n'
        "\n"
        ",,,\n"
        "K2,二园,1101,public\n"
        "K1,重复,110108,public\n"
    )
    report = _import(session, taxonomy, "kindergartens", _write(tmp_path, text))
    assert report.error_lines() == [
        "f.csv:6: region_code: 不是 6 位行政区划代码：1101 / not a 6-digit region code: '1101'",
        "f.csv:7: code: 代码 K1 已被第 2 行（多行名称）使用；分园常与总园共用办学许可证号，"
        "请给“重复”一个自己的代码，例如 K1-1（许可证号加后缀） / code K1 is also row 2's "
        "(多行名称); a branch campus (分园) often shares its parent's licence number: give 重复 a "
        "code of its own, e.g. K1-1 (the licence number and a suffix)",
    ]
    assert report.created == 1 and report.rows_total == 3  # blank rows are not rows


def test_rows_outside_the_users_region_are_rejected(
    session: Session, taxonomy, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    outside = make_kindergarten(session, code="K-XUHUI", region_code="310104")
    make_child(session, outside, child_ref="C001")
    session.commit()
    report = _import(
        session, taxonomy, "kindergartens", DATA / "kindergartens.en.utf8.csv", region_code="110108"
    )
    assert report.created == 2 and report.rejected == 1
    assert report.error_lines() == [
        "kindergartens.en.utf8.csv:4: region_code: 园所 K003 不在您的辖区 110108 内 / "
        "kindergarten K003 is outside your region 110108"
    ]
    text = (
        "kindergarten_code,child_ref,enrolled_on\nK-XUHUI,C009,2025-09-01\nK001,C009,2025-09-01\n"
    )
    report = run_import(
        session,
        "children",
        _write(tmp_path, text, name="scope.csv"),
        taxonomy=taxonomy,
        options=ImportOptions(region_code="110000"),  # Beijing: a province-level scope
    )
    assert report.created == 1 and report.rejected == 1
    assert "K-XUHUI 不在您的辖区 110000 内" in report.error_lines()[0]


# --- properties -------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(
    header=st.sampled_from(
        [b"", b"receipt_no,kindergarten_code\n", CHARGE_HEADER.encode() + b"\n"]
    ),
    content=st.binary(max_size=400),
    mode=st.sampled_from(["default", "atomic", "dry_run"]),
)
def test_random_bytes_never_crash(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path, header: bytes, content: bytes, mode: str
) -> None:
    path = tmp_path / f"{uuid.uuid4().hex}.csv"
    path.write_bytes(header + content)
    before = _count(session, Charge)
    report = _import(
        session, taxonomy, "charges", path, atomic=mode == "atomic", dry_run=mode == "dry_run"
    )
    assert report.status in ("failed", "committed", "dry_run", "rejected")
    if not header.startswith(b"receipt_no,kindergarten_code,child_ref"):
        assert report.exit_code == 2  # required columns are missing whatever follows
    written = _count(session, Charge) - before
    assert written == (report.created if report.status == "committed" else 0)


VALID_CELLS = {
    "fee_item": st.sampled_from(["保育教育费", "伙食费", "兴趣班", "住宿费"]),
    "amount": st.sampled_from(["800", "1,234.50", "¥12.00", "560元", "０.５０"]),
    "period_start": st.sampled_from(["2025-09-01", "2025/09/01", "2025年9月1日"]),
    "period_end": st.sampled_from(["2025-09-30", "2025.09.30", "2026-01-31"]),
    "paid_on": st.sampled_from(["2025-09-01", "2025年09月02日"]),
    "collector": st.sampled_from(["", "园所", "parent_committee", "third_party"]),
}
ANY_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12
)


@st.composite
def charge_rows(draw):  # type: ignore[no-untyped-def]
    """(cells, valid?) rows: each cell valid, or (sometimes) random text."""
    cells = {name: draw(strategy) for name, strategy in VALID_CELLS.items()}
    cells["child_ref"] = draw(st.sampled_from(["C1", "C1", "C404"]))
    broken = draw(st.sets(st.sampled_from(list(cells)), max_size=2))
    for name in broken:
        cells[name] = draw(ANY_TEXT)
    return cells, not broken and cells["child_ref"] == "C1"


@FUZZ
@given(
    rows=st.lists(charge_rows(), max_size=12),
    mode=st.sampled_from(["default", "atomic", "dry_run"]),
)
def test_random_rows_never_crash_and_never_lose_a_valid_row(  # type: ignore[no-untyped-def]
    session: Session, taxonomy, tmp_path: Path, rows, mode: str
) -> None:
    if session.scalar(select(Kindergarten.id).where(Kindergarten.code == "K-FUZZ")) is None:
        make_child(session, make_kindergarten(session, code="K-FUZZ"), child_ref="C1")
        session.commit()
    prefix = uuid.uuid4().hex[:8]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CHARGE_HEADER.split(","))
    for n, (cells, _) in enumerate(rows):
        writer.writerow(
            [
                f"{prefix}-{n}",
                "K-FUZZ",
                cells["child_ref"],
                cells["fee_item"],
                cells["amount"],
                cells["period_start"],
                cells["period_end"],
                cells["paid_on"],
                "6222001",
                cells["collector"],
            ]
        )
    path = _write(tmp_path, buffer.getvalue(), name=f"{prefix}.csv")
    before = _count(session, Charge)
    report = _import(
        session, taxonomy, "charges", path, atomic=mode == "atomic", dry_run=mode == "dry_run"
    )
    assert report.status in ("committed", "dry_run", "rejected")
    assert report.created + report.rejected == len(rows)
    stored = set(
        session.scalars(select(Charge.receipt_no).where(Charge.receipt_no.startswith(prefix)))
    )
    surely_valid = {f"{prefix}-{n}" for n, (_, valid) in enumerate(rows) if valid}
    if mode == "dry_run" or (mode == "atomic" and report.rejected):
        assert stored == set() and _count(session, Charge) == before
    else:
        assert surely_valid <= stored
        assert len(stored) == report.created


def test_files_saved_by_libreoffice(session: Session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    """Written by LibreOffice Calc 7.4 (`soffice --convert-to csv`, see tests/data/README.md)."""
    for name in ("kindergartens", "children", "charges"):
        _import(session, taxonomy, name, DATA / f"{name}.en.utf8.csv")
    report = _import(session, taxonomy, "children", DATA / "children.libreoffice.gb18030.csv")
    assert (report.encoding, report.unchanged, report.rejected) == ("gb18030", 3, 0)
    # With number recognition on, Calc (en-US) rewrote dates as M/D/YY and ￥ as $: ambiguous,
    # so every row is rejected with the reason rather than read wrongly.
    report = _import(
        session, taxonomy, "charges", DATA / "charges.libreoffice-detected.utf8.csv", atomic=True
    )
    assert report.rejected == 3 and report.status == "rejected"
    lines = report.error_lines()
    assert lines[0].startswith("charges.libreoffice-detected.utf8.csv:2: 金额: 不是有效金额")
    assert "收费期间起: 不是有效日期：9/1/25" in lines[0]


def test_a_missing_optional_column_keeps_what_is_stored(
    session: Session,
    taxonomy,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    for name in ("kindergartens", "children"):
        _import(session, taxonomy, name, DATA / f"{name}.en.utf8.csv")
    only_required = "kindergarten_code,child_ref,enrolled_on\nK001,C001,2023-09-01\n"
    report = _import(session, taxonomy, "children", _write(tmp_path, only_required))
    assert (report.unchanged, report.updated) == (1, 0)
    emptied = "kindergarten_code,child_ref,enrolled_on,name\nK001,C001,2023-09-01,\n"
    report = _import(session, taxonomy, "children", _write(tmp_path, emptied))
    assert report.updated == 1  # an empty cell in a given column does clear the field
    names = dict(
        session.execute(
            select(Child.child_ref, Child.name)
            .join(Kindergarten)
            .where(Kindergarten.code == "K001")
        ).all()
    )
    assert names["C002"] == "刘䶮" and names["C001"] is None
