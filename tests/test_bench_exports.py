"""The export benchmark's smoke run (bench/exports.py), so that it cannot rot: 1,000 reports,
each export measured in a process of its own, as ``python -m bench.exports`` does. No timing is
asserted here; bench/README.md holds the figures."""

import io
import json
from contextlib import redirect_stdout

import jsonschema
import pyarrow.parquet as pq
import pytest

from bench import exports as bench_exports
from portal.config import PROJECT_ROOT
from portal.services.feedback import SCHEMA_PATH

ROWS = 1_000


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The benchmark at 1,000 rows with its files kept: (what it printed, its folder)."""
    folder = tmp_path_factory.mktemp("bench-exports")
    printed = io.StringIO()
    with redirect_stdout(printed):
        status = bench_exports.main(
            ["--rows", str(ROWS), "--folder", str(folder), "--keep-exports"]
        )
    assert status == 0  # without --strict, a FAIL is printed, not an exit status
    return printed.getvalue(), folder / "exports"


def table_rows(printed: str) -> dict[str, list[str]]:
    """The table's rows for this size, by export: the cells as printed."""
    rows = {}
    for line in printed.splitlines():
        if line.startswith(f"| {ROWS:,} |"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[1]] = cells
    return rows


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


def test_the_smoke_run_measures_the_baseline_jsonl_and_parquet(smoke_run):
    printed, _folder = smoke_run
    rows = table_rows(printed)
    assert set(rows) == {"baseline", "jsonl", "parquet"}, printed
    for what, (_size, _what, records, seconds, rate, ratio, rss, _files) in rows.items():
        assert number(records) == ROWS, what
        assert number(seconds) > 0, what
        assert number(rate) > 0, what
        assert number(ratio) > 0, what
        assert number(rss) > 0, what
    checks = [line for line in printed.splitlines() if line.startswith(("PASS", "FAIL"))]
    # One size: the two rate checks; the memory check needs a second size.
    assert [line.split(": ")[1].split()[0] for line in checks] == ["JSONL", "Parquet"], printed


def test_the_smoke_run_exports_every_consented_report_as_a_valid_record(smoke_run):
    _printed, folder = smoke_run
    schema = json.loads((PROJECT_ROOT / SCHEMA_PATH).read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)

    jsonl = folder / f"{ROWS}-jsonl-1"
    with (jsonl / "records.jsonl").open(encoding="utf-8") as source:
        records = [json.loads(line) for line in source]
    assert len(records) == ROWS
    for record in records:
        validator.validate(record)
    assert len({record["record_id"] for record in records}) == ROWS
    manifest = json.loads((jsonl / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["records"] == ROWS
    assert manifest["counts"]["tombstones"] == 0
    # The data holds what a record can: decisions and none, prompts, expected outputs, redactions.
    assert any(record["outcome"] for record in records)
    assert any(record["outcome"] is None for record in records)
    assert any(record["input"] for record in records)
    assert any(record["expected_output"] for record in records)
    assert any(any(record["redaction_counts"].values()) for record in records)

    parquet = pq.read_table(folder / f"{ROWS}-parquet-1" / "records.parquet")
    assert parquet.num_rows == ROWS
    assert sorted(parquet.column("record_id").to_pylist()) == sorted(
        record["record_id"] for record in records
    )

    baseline = (folder / f"{ROWS}-baseline-1" / "baseline.jsonl").read_text(encoding="utf-8")
    assert len(baseline.splitlines()) == ROWS
