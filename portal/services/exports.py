"""Running a feedback export: the records into the format's files, the tombstones, the
manifest, and the audit entry naming who exported what.

An export's folder holds the format's files (portal.services.export_files), ``tombstones.txt``
when any record must be deleted downstream (one record id a line: every report that consented
once and is now withdrawn from consent, erased, withdrawn, merged or spam; apply the records
first, then the tombstones), and ``manifest.json``:

- ``export_id`` (the FeedbackExport row; null from the command line), ``format``, ``filters``
  (FeedbackFilters.to_json), ``schema_version``,
  ``redaction_rules_version`` (the current rules), ``stale_redactions`` (how many of the
  records in this export were redacted under older rules: they are exported as they are, and
  redacted again by the clock's job or ``flask redaction recompute``; export in full after
  that), ``started_at``, ``finished_at`` (when the files were complete: the audit entry's
  time);
- ``counts``: ``records``, ``splits`` (train, validation, test), ``preference_pairs`` (the
  disputes with an expected output among the records, whatever the format), ``tombstones``;
- ``redaction_counts``: what was redacted, summed over the records, by kind;
- ``files``: each file's ``path`` (relative to the folder), ``bytes`` and ``sha256``;
- ``cursor``: the next incremental export's ``since`` (see ``_ReportFacts``);
- ``audit_seq``: the sequence number of the audit entry this export appended
  (action ``feedback.exported``), whose payload holds the same file hashes;
- CSV only, ``csv_formula_guard``: the character put before a cell a spreadsheet would run
  (portal.services.export_files), for the consumer to remove.

The clock runs the exports analysts queue (``run_next_queued``) into ``export_dir()/<id>/``;
``flask export feedback`` runs one into a folder of the operator's choosing.
"""

import hashlib
import json
import logging
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Actor
from portal.models.feedback import ExportFormat, ExportStatus, FeedbackExport
from portal.services import audit, export_files, export_text, feedback, redaction
from portal.services.errors import DomainError
from portal.services.feedback import REDACTION_KINDS, FeedbackFilters

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
TOMBSTONES = "tombstones.txt"
# A queued export records its progress (with a commit of its own) every so many records.
PROGRESS_EVERY = 1_000
# Exported reports whose rows are read at once for what their records do not carry.
HASH_CHUNK = 1 << 20

# ("staff", staff id) for an analyst's export, ("cli", None) for one made on the command line.
ExportActor = tuple[str, int | None]
Progress = Callable[[int], None]


class ExportFolderNotEmpty(DomainError):
    """The folder to export into already holds something: nothing was written."""

    def __init__(self, folder: Path):
        super().__init__(f"{folder} exists and is not empty")
        self.folder = folder


def export_dir() -> Path:
    """Where the exports analysts queue are written, one folder each (``PORTAL_EXPORT_DIR``,
    by default ``<instance>/exports``)."""
    configured = current_app.config.get("PORTAL_EXPORT_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "exports"


def dataset_license() -> str:
    """The licence a dataset card declares (``PORTAL_EXPORT_DATASET_LICENSE``: a Hub licence
    identifier; "other" by default)."""
    return current_app.config.get("PORTAL_EXPORT_DATASET_LICENSE") or "other"


def run_export(
    *,
    filters: FeedbackFilters,
    fmt: ExportFormat,
    out_dir: Path,
    actor: ExportActor,
    now: datetime,
    progress: Progress | None = None,
    export_id: int | None = None,
) -> dict:
    """Write the export into ``out_dir`` (made if missing) and return its manifest.

    ``progress(done)`` is called after each record (each batch of them, for Parquet) with the
    number written so far.
    ``export_id`` names the FeedbackExport row in the audit entry, if there is one. Raises
    ``ExportFolderNotEmpty`` before writing anything, ``feedback.UnknownModel`` for filters
    naming a model or version the registry does not have; on any error the files written so
    far are removed. Appends the audit entry last (it holds the audit log until the caller
    commits, or rolls back and leaves the files without an entry: remove them then).
    """
    made = _take_folder(out_dir)
    try:
        return _export(
            filters=filters,
            fmt=fmt,
            out_dir=out_dir,
            actor=actor,
            now=now,
            progress=progress,
            export_id=export_id,
        )
    except BaseException:
        _clear(out_dir, remove=made)
        raise


def _take_folder(folder: Path) -> bool:
    """Make sure ``folder`` exists and is empty; True when it was made here."""
    if folder.exists():
        if not folder.is_dir() or any(folder.iterdir()):
            raise ExportFolderNotEmpty(folder)
        return False
    folder.mkdir(parents=True)
    return True


def _clear(folder: Path, *, remove: bool) -> None:
    if remove:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for path in folder.iterdir():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _export(*, filters, fmt, out_dir, actor, now, progress, export_id) -> dict:
    tally = _Tally()
    facts = _ReportFacts(now)

    def on_record(record: dict) -> None:
        tally.add(record)
        if progress is not None:
            progress(tally.records)

    if fmt in BATCH_WRITERS:
        # The records a batch at a time, as columns (the same records, without a dictionary
        # and a callback per record: the plain formats are the ones measured for speed).
        def on_batch(columns: dict[str, list]) -> None:
            tally.add_columns(columns)
            if progress is not None:
                progress(tally.records)

        batches = (columns for _ids, columns in feedback.record_batches(filters))
        files = BATCH_WRITERS[fmt](batches, out_dir, on_batch=on_batch)
    else:
        stream = (record for _ticket_id, record in feedback.records(filters))
        files = export_files.write(
            fmt, stream, out_dir, on_record=on_record, license=dataset_license()
        )
    facts.read(filters)
    tombstones = _write_tombstones(out_dir / TOMBSTONES)
    if tombstones:
        files.append(TOMBSTONES)
    described = [_describe(out_dir, name) for name in files]
    # The entry is made when the files are complete (an export can take minutes).
    finished = utcnow()

    actor_type, actor_id = _audit_actor(actor)
    entry = audit.append(
        actor_type=actor_type,
        actor_id=actor_id,
        action="feedback.exported",
        object_type="feedback_export",
        object_id=None if export_id is None else str(export_id),
        payload={
            "format": fmt.value,
            "filters": filters.to_json(),
            "records": tally.records,
            "tombstones": tombstones,
            "files": {file["path"]: file["sha256"] for file in described},
        },
        now=finished,
        secret_key=current_app.config["SECRET_KEY"],
    )
    manifest = {
        "export_id": export_id,
        "format": fmt.value,
        "schema_version": feedback.SCHEMA_VERSION,
        "redaction_rules_version": redaction.RULES_VERSION,
        "stale_redactions": facts.stale_redactions,
        "filters": filters.to_json(),
        "started_at": now.isoformat(),
        "finished_at": finished.isoformat(),
        "counts": {
            "records": tally.records,
            "splits": tally.splits,
            "preference_pairs": tally.pairs,
            "tombstones": tombstones,
        },
        "redaction_counts": tally.redaction_counts,
        "files": described,
        "cursor": facts.cursor().isoformat(),
        "audit_seq": entry.seq,
    }
    if fmt is ExportFormat.CSV:
        manifest["csv_formula_guard"] = export_files.CSV_FORMULA_GUARD
    with (out_dir / MANIFEST).open("w", encoding="utf-8", newline="\n") as out:
        json.dump(manifest, out, ensure_ascii=False, indent=2)
        out.write("\n")
    return manifest


class _Tally:
    """The manifest's counts, kept as the records go by."""

    def __init__(self):
        self.records = 0
        self.pairs = 0
        self.splits = dict.fromkeys(export_files.SPLIT_NAMES, 0)
        self.redaction_counts = dict.fromkeys(REDACTION_KINDS, 0)

    def add(self, record: dict) -> None:
        # Called for every record: kept to plain additions (feedback.preference_pair's rule,
        # without building the pair).
        self.records += 1
        self.splits[record["split"]] += 1
        if record["kind"] == "output_dispute" and record["expected_output"]:
            self.pairs += 1
        for kind, found in record["redaction_counts"].items():
            if found:
                self.redaction_counts[kind] += found

    def add_columns(self, columns: dict[str, list]) -> None:
        """``add`` for a batch of records given column by column."""
        self.records += len(columns["record_id"])
        for split in columns["split"]:
            self.splits[split] += 1
        self.pairs += sum(
            1
            for kind, expected in zip(columns["kind"], columns["expected_output"], strict=True)
            if kind == "output_dispute" and expected
        )
        for counts in columns["redaction_counts"]:
            for kind, found in counts.items():
                if found:
                    self.redaction_counts[kind] += found


class _ReportFacts:
    """What the manifest needs from the exported reports that their records do not carry:
    their latest ``updated_at``, and how many were redacted under older rules. Read in one
    query over the same selection once the records are written (reading it alongside each
    batch cost a query per thousand records)."""

    def __init__(self, now: datetime):
        self.now = now
        self.latest: datetime | None = None
        self.stale_redactions = 0

    def read(self, filters: FeedbackFilters) -> None:
        self.latest, self.stale_redactions = feedback.report_facts(
            filters, stale=export_text.stale()
        )

    def cursor(self) -> datetime:
        """The next incremental export's ``since``: the latest ``updated_at`` among the reports
        exported, but never later than the export's start. A report changed while the export
        ran may have been read before its change: being later than the start, it comes again
        in the next export (downstream replaces a record by its id). With no record, the start
        itself."""
        return self.now if self.latest is None else min(self.latest, self.now)


def _write_tombstones(path: Path) -> int:
    """One record id a line; no file when there is none. Returns how many."""
    written = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for identifier in feedback.tombstones():
            out.write(identifier + "\n")
            written += 1
    if not written:
        path.unlink()
    return written


def _describe(folder: Path, name: str) -> dict:
    digest = hashlib.sha256()
    path = folder / name
    with path.open("rb") as source:
        while chunk := source.read(HASH_CHUNK):
            digest.update(chunk)
    return {"path": name, "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _audit_actor(actor: ExportActor) -> tuple[Actor, str]:
    kind, staff_id = actor
    if kind == "staff":
        return Actor.STAFF, f"staff:{staff_id}"
    if kind == "cli":
        return Actor.SYSTEM, "cli"
    raise ValueError(f"unknown export actor {kind!r}")


BATCH_WRITERS = {
    ExportFormat.JSONL: export_files.write_jsonl_columns,
    ExportFormat.PARQUET: export_files.write_parquet_columns,
}

# How long an export may stay running before it counts as abandoned (its clock died).
ABANDONED_AFTER = timedelta(hours=6)


def run_next_queued(now: datetime) -> FeedbackExport | None:
    """Run the oldest queued export, if any, into ``export_dir()/<id>/``; return it (None: none
    was waiting, or another clock took it first).

    Commits on its own, several times: the claim (RUNNING), the progress every
    ``PROGRESS_EVERY`` records (the analyst's page shows it), and the end: DONE with the
    manifest, or FAILED with the exception's type name only (data never goes into the row or
    the log) and no file left behind.
    """
    export = _claim_next(now)
    if export is None:
        return None
    export_id = export.id
    try:
        filters = FeedbackFilters.from_json(export.filters or {})
        export.rows_total = feedback.count(filters)
        export.folder = str(export_id)
        db.session.commit()
        # What an abandoned run of it left behind.
        shutil.rmtree(export_dir() / str(export_id), ignore_errors=True)

        def progress(done: int) -> None:
            if done - export.rows_done >= PROGRESS_EVERY:
                export.rows_done = done
                db.session.commit()

        with force_locale(export.locale):
            manifest = run_export(
                filters=filters,
                fmt=export.format,
                out_dir=export_dir() / str(export_id),
                actor=_requester(export),
                now=now,
                progress=progress,
                export_id=export_id,
            )
        export.rows_done = export.rows_total = manifest["counts"]["records"]
        export.manifest = manifest
        export.status = ExportStatus.DONE
        export.finished_at = utcnow()
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        shutil.rmtree(export_dir() / str(export_id), ignore_errors=True)
        logger.error("feedback export %s failed: %s", export_id, type(error).__name__)
        export = db.session.get(FeedbackExport, export_id)
        export.status = ExportStatus.FAILED
        export.error = type(error).__name__
        export.finished_at = utcnow()
        db.session.commit()
    return export


def _requester(export: FeedbackExport) -> ExportActor:
    if export.requested_by_id is None:
        return ("cli", None)
    return ("staff", export.requested_by_id)


def _claim_next(now: datetime) -> FeedbackExport | None:
    """Mark the oldest queued export RUNNING and commit. SKIP LOCKED lets a second clock on
    PostgreSQL pass on to the next one; the conditional UPDATE keeps two clocks from both
    taking one where there are no row locks (SQLite)."""
    table = FeedbackExport.__table__
    # An export left running by a clock that died is queued again (its partial files go when
    # it is run again): no export runs for anywhere near this long.
    db.session.execute(
        sa.update(table)
        .where(
            table.c.status == ExportStatus.RUNNING.value,
            table.c.started_at < now - ABANDONED_AFTER,
        )
        .values(status=ExportStatus.QUEUED.value, rows_done=0)
    )
    candidate = db.session.scalar(
        sa.select(FeedbackExport.id)
        .where(FeedbackExport.status == ExportStatus.QUEUED)
        .order_by(FeedbackExport.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if candidate is None:
        db.session.commit()
        return None
    claimed = db.session.execute(
        sa.update(table)
        .where(table.c.id == candidate, table.c.status == ExportStatus.QUEUED.value)
        .values(status=ExportStatus.RUNNING.value, started_at=now)
    ).rowcount
    db.session.commit()
    return db.session.get(FeedbackExport, candidate) if claimed else None


# -- what a finished export offers for download (the analysts' pages and the API) ---------------

# A dataset folder's zip is built in memory up to this size, then in a temporary file.
ARCHIVE_IN_MEMORY = 16 * 1024 * 1024


def manifest_files(export: FeedbackExport) -> list[dict]:
    """The files a finished export lists in its manifest (path, bytes, sha256)."""
    if export.status is not ExportStatus.DONE or not export.folder or not export.manifest:
        return []
    return [file for file in export.manifest.get("files", []) if isinstance(file, dict)]


def downloadable(export: FeedbackExport) -> set[str]:
    """The names a download may ask for: the manifest's files and the manifest itself. Nothing
    else in (or outside) the folder is ever sent."""
    names = {file.get("path") for file in manifest_files(export)}
    return {name for name in names if isinstance(name, str)} | ({MANIFEST} if names else set())


def downloadable_path(export: FeedbackExport, name: str) -> Path | None:
    """The file ``name`` of ``export`` on disk, if the export offers it and it is there."""
    if name not in downloadable(export):
        return None
    path = export_dir() / export.folder / name
    return path if path.is_file() else None


def dataset_archive(export: FeedbackExport) -> IO[bytes] | None:
    """A finished Hugging Face dataset folder as one zip file (a folder inside, named after
    the export), rewound and ready to send; None for any other export, or one whose files are
    missing."""
    names = downloadable(export)
    if export.format is not ExportFormat.HUGGING_FACE or not names:
        return None
    folder = export_dir() / export.folder
    if not all((folder / name).is_file() for name in names):
        return None
    top = archive_name(export)
    spool = tempfile.SpooledTemporaryFile(max_size=ARCHIVE_IN_MEMORY)  # noqa: SIM115 (returned)
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(names):
            archive.write(folder / name, arcname=str(Path(top) / name))
    spool.seek(0)
    return spool


def archive_name(export: FeedbackExport) -> str:
    return f"export-{export.id}"


def record_download(export: FeedbackExport, name: str, *, staff_id: int, now: datetime) -> None:
    """The audit entry of a download (from the pages or the API). The caller commits."""
    audit.append_by_staff(
        "feedback.export_downloaded",
        staff_id=staff_id,
        object_type="feedback_export",
        object_id=export.id,
        now=now,
        secret_key=current_app.config["SECRET_KEY"],
        file=name,
    )
