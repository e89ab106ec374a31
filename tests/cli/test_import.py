"""`feecheck import`: counts, one line per rejected row, exit codes 0/1/2 (spec §3)."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from feecheck.cli import main
from feecheck.extensions import db
from feecheck.models import Charge, ImportBatch, Kindergarten

DATA = Path(__file__).resolve().parent.parent / "data"


def _count(runner: FlaskCliRunner, model) -> int:  # type: ignore[no-untyped-def]
    return db.new_session(runner.app).scalar(select(func.count()).select_from(model)) or 0


def _import(runner: FlaskCliRunner, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(main, ["import", *args])


def test_imports_every_type_and_reports_counts(runner: FlaskCliRunner) -> None:
    for name in ("kindergartens", "children", "fee-standards", "charges"):
        result = _import(runner, name, str(DATA / f"{name}.zh.gb18030.csv"))
        assert result.exit_code == 0, result.output
        assert "rejected 0" in result.output and "(gb18030)" in result.output
    again = _import(runner, "charges", str(DATA / "charges.mixed.bom.csv"))
    assert again.exit_code == 0
    assert "created 0, updated 0, unchanged 3, rejected 0" in again.output
    assert "unknown column '备注' ignored" in again.output


def _thousand(tmp_path: Path) -> Path:
    lines = [
        "票据号,园所代码,幼儿编号,收费项目,金额,收费期间起,收费期间止,缴费日期,收款账户",
    ]
    for n in range(1000):
        amount = "-5" if n == 100 else "800"
        child = "C404" if n == 200 else "C001"
        kg = "K404" if n == 300 else "K001"
        lines.append(
            f"R{n:04d},{kg},{child},保教费,{amount},2025-09-01,2025-09-30,2025-09-01,6222001"
        )
    path = tmp_path / "charges.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gb18030"))
    return path


def test_three_bad_rows_exit_1_with_one_line_each(runner: FlaskCliRunner, tmp_path: Path) -> None:
    for name in ("kindergartens", "children"):
        assert _import(runner, name, str(DATA / f"{name}.en.utf8.csv")).exit_code == 0
    path = _thousand(tmp_path)
    name = str(path)
    expected = [
        f"{name}:102: 金额: 金额不能为负数：-5 / amount must not be negative: -5",
        f"{name}:202: 幼儿编号: 园所 K001 没有幼儿编号为 C404 的幼儿 / "
        "unknown child C404 in kindergarten K001",
        f"{name}:302: 园所代码: 园所代码 K404 不存在（数据库和本文件前面的行中都没有） / "
        "unknown kindergarten K404",
    ]
    for mode in ("--dry-run", "--atomic"):
        result = _import(runner, "charges", name, mode)
        assert result.exit_code == 1, result.output
        assert [line for line in result.output.splitlines() if ":" in line][:3] == expected
        assert "created 997, updated 0, unchanged 0, rejected 3" in result.output
        assert "nothing written" in result.output
        assert _count(runner, Charge) == 0
    result = _import(runner, "charges", name)
    assert result.exit_code == 1
    assert result.output.splitlines()[:3] == expected
    assert "rejected 3 [committed" in result.output
    assert _count(runner, Charge) == 997
    statuses = (
        db.new_session(runner.app)
        .scalars(select(ImportBatch.status).order_by(ImportBatch.id))
        .all()
    )
    assert statuses[-3:] == ["dry_run", "rejected", "committed"]


def test_unreadable_file_exits_2_and_writes_nothing(runner: FlaskCliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("code,name,region_code,category\nK1,Café,110108,public\n".encode("latin-1"))
    result = _import(runner, "kindergartens", str(bad))
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith(f"error: {bad}: ")
    missing = tmp_path / "missing.csv"
    missing.write_text("code,name\nK1,一园\n", encoding="utf-8")
    result = _import(runner, "kindergartens", str(missing))
    assert result.exit_code == 2 and "region_code (行政区划代码)" in result.output
    assert _import(runner, "kindergartens", str(tmp_path / "nope.csv")).exit_code == 2
    assert _count(runner, Kindergarten) == 0


def test_encoding_option_and_several_files(runner: FlaskCliRunner) -> None:
    gb = str(DATA / "kindergartens.zh.gb18030.csv")
    assert _import(runner, "kindergartens", gb, "--encoding", "utf-8").exit_code == 2
    result = _import(
        runner, "kindergartens", gb, str(DATA / "kindergartens.en.utf8.csv"), "--encoding", "auto"
    )
    assert result.exit_code == 0, result.output
    assert "created 3" in result.output and "unchanged 3" in result.output
    assert _import(runner, "kindergartens", gb, "--encoding", "latin-1").exit_code == 2


def test_large_files_show_a_progress_bar_without_breaking_output(
    runner: FlaskCliRunner,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    from feecheck.cli import imports

    bars: list[dict[str, object]] = []

    class RecordingBar:  # stands in for tqdm, which switches itself off without a terminal
        def __init__(self, **options: object) -> None:
            self.state: dict[str, object] = {"options": options, "total": 0, "n": 0, "written": []}
            self.n = 0
            bars.append(self.state)

        @property
        def total(self) -> object:
            return self.state["total"]

        @total.setter
        def total(self, value: object) -> None:
            self.state["total"] = value

        def update(self, n: int) -> None:
            self.n += n
            self.state["n"] = self.n

        def write(self, line: str) -> None:
            self.state["written"].append(line)  # type: ignore[attr-defined]

        def close(self) -> None:
            self.state["closed"] = True

    monkeypatch.setattr(imports, "BAR_MIN_ROWS", 1)
    monkeypatch.setattr(imports, "tqdm", RecordingBar)
    result = _import(runner, "kindergartens", str(DATA / "kindergartens.en.utf8.csv"))
    assert result.exit_code == 0 and "created 3" in result.output
    assert len(bars) == 1
    bar = bars[0]
    assert bar["options"]["disable"] is None  # off when stderr is not a terminal
    assert bar["total"] == 3 and bar["n"] == 3 and bar["closed"] is True


def test_region_fills_a_district_list_without_its_column(runner: FlaskCliRunner) -> None:
    real = DATA / "real" / "haidian-kindergartens.gb18030.csv"
    refused = _import(runner, "kindergartens", str(real))
    assert refused.exit_code == 2 and "region_code" in refused.output
    result = _import(runner, "kindergartens", str(real), "--region", "110108")
    assert result.exit_code == 0, result.output
    assert "created 8" in result.output and "filled with 110108 (--region)" in result.output
    bad = _import(runner, "kindergartens", str(real), "--region", "1101")
    assert bad.exit_code == 2 and "6-digit region code" in bad.output
