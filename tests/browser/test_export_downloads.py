"""An analyst downloads, in a real browser, a redacted Parquet file and a Hugging Face dataset
folder of one model version: the files the browser saves are the ones the manifest describes,
hold only consented reports of that version, redacted, and the folder loads with `datasets`."""

import hashlib
import json
import zipfile

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page

from portal.clock import utcnow
from portal.extensions import db
from portal.models import FeedbackExport
from portal.services import exports
from tests.browser.conftest import ANALYST_EMAIL, LIVE_APP, sign_in_as

pytestmark = pytest.mark.browser

ONE_VERSION = "/exports/preview?model=aurora-chat&version_from=3.0&version_to=3.0"


def request_export(page: Page, fmt: str) -> dict:
    """Preview the version's records, ask for ``fmt``, let the clock run it, and wait for the
    page to show its files; the export's manifest."""
    page.goto(ONE_VERSION)
    page.locator(f"input[name='format'][value='{fmt}']").check()
    with page.expect_navigation():
        page.locator("form[action$='/exports/'] button[type='submit']").click()
    with LIVE_APP["app"].app_context():
        exports.run_next_queued(utcnow())
        manifest = db.session.scalar(
            sa.select(FeedbackExport.manifest).order_by(FeedbackExport.id.desc()).limit(1)
        )
        db.session.remove()
    page.reload()
    return manifest


def save(page: Page, link_selector: str, target) -> bytes:
    with page.expect_download() as download:
        page.locator(link_selector).first.click()
    download.value.save_as(target)
    return target.read_bytes()


def test_an_analyst_downloads_a_redacted_parquet_file_and_a_dataset_folder(
    page, offline_datasets, tmp_path
):
    page.goto("/exports/")
    sign_in_as(page, ANALYST_EMAIL)

    manifest = request_export(page, "parquet")
    data = save(page, "main a[href$='/files/records.parquet']", tmp_path / "records.parquet")

    [described] = [file for file in manifest["files"] if file["path"] == "records.parquet"]
    assert hashlib.sha256(data).hexdigest() == described["sha256"]
    records = pq.read_table(tmp_path / "records.parquet").to_pylist()
    assert len(records) == manifest["counts"]["records"] == 2  # the two consented reports
    assert {(r["model_slug"], r["model_version"]) for r in records} == {("aurora-chat", "3.0")}
    text = json.dumps(records, default=str)
    assert "help@example.org" not in text
    assert "[EMAIL]" in text

    manifest = request_export(page, "hf")
    save(page, "main a[href$='/dataset.zip']", tmp_path / "dataset.zip")

    with zipfile.ZipFile(tmp_path / "dataset.zip") as archive:
        archive.extractall(tmp_path / "unzipped")
    [folder] = (tmp_path / "unzipped").iterdir()
    dataset = offline_datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "cache"))
    assert sum(len(dataset[split]) for split in dataset) == manifest["counts"]["records"] == 2
    assert (folder / "README.md").read_text().startswith("---")
