"""Feedback exports: the files of every format, the manifest, the tombstones, the audit entry,
the command line and the clock's queue.

Each format is read back here the way a consumer would (the csv module, pyarrow, datasets), and
turned back into records, so that "the same records in every format" is checked field by field.
"""

import csv
import hashlib
import json
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jsonschema
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from flask_babel import gettext

from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    Actor,
    AIModel,
    AuditEntry,
    AutomatedMeans,
    Decision,
    ExportFormat,
    ExportStatus,
    FeedbackExport,
    Outcome,
    Severity,
    StaffUser,
    Ticket,
)
from portal.services import audit, export_files, exports, feedback, redaction
from portal.services.erasure import erase
from portal.services.feedback import FeedbackFilters, record_id
from portal.services.tickets import withdraw, withdraw_training_consent
from tests.factories import make_ticket

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "docs" / "feedback-record.schema.json").read_text("utf-8")
)
RECORD_FORMATS = (
    ExportFormat.JSONL,
    ExportFormat.CSV,
    ExportFormat.PARQUET,
    ExportFormat.HUGGING_FACE,
)


# Exporting and reading back ---------------------------------------------------------------------


def export(app, folder: Path, fmt=ExportFormat.JSONL, **filters) -> dict:
    """Run an export from the command line's side and commit; returns the manifest."""
    with app.app_context():
        manifest = exports.run_export(
            filters=FeedbackFilters(**filters),
            fmt=fmt,
            out_dir=folder,
            actor=("cli", None),
            now=utcnow(),
        )
        db.session.commit()
    return manifest


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as source:
        return [json.loads(line) for line in source]


def read_csv(path: Path) -> list[dict]:
    """Records from records.csv, as its layout documents: one leading ' removed from a text
    cell, an empty cell is null, remedies a JSON array, redaction_<kind> the counts."""
    records = []
    with path.open(encoding="utf-8", newline="") as source:
        for row in csv.DictReader(source):
            record = {}
            for name in export_files.RECORD_FIELDS:
                if name == "redaction_counts":
                    record[name] = {
                        kind: int(row[f"redaction_{kind}"]) for kind in feedback.REDACTION_KINDS
                    }
                elif name == "remedies":
                    record[name] = json.loads(row[name])
                else:
                    cell = row[name].removeprefix("'")
                    record[name] = cell if cell != "" else None
            records.append(record)
    return records


def from_parquet_row(row: dict) -> dict:
    for name in ("created_at", "decided_at"):
        if row[name] is not None:
            row[name] = row[name].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return row


def read_parquet(path: Path) -> list[dict]:
    return [from_parquet_row(row) for row in pq.read_table(path).to_pylist()]


def read_hugging_face(folder: Path) -> list[dict]:
    return [
        record
        for path in sorted((folder / "data").glob("*.parquet"))
        for record in read_parquet(path)
    ]


READERS = {
    ExportFormat.JSONL: lambda folder: read_jsonl(folder / "records.jsonl"),
    ExportFormat.CSV: lambda folder: read_csv(folder / "records.csv"),
    ExportFormat.PARQUET: lambda folder: read_parquet(folder / "records.parquet"),
    ExportFormat.HUGGING_FACE: read_hugging_face,
}


def by_id(records: list[dict]) -> dict[str, dict]:
    return {record["record_id"]: record for record in records}


def ids_of(app, tickets) -> set[str]:
    return {record_id(ticket_id, app.config["SECRET_KEY"]) for ticket_id in tickets}


def exported_ids(folder: Path) -> set[str]:
    return {record["record_id"] for record in read_jsonl(folder / "records.jsonl")}


def card_front_matter(folder: Path) -> dict:
    import yaml  # comes with datasets, a test dependency

    text = (folder / "README.md").read_text(encoding="utf-8")
    _before, front, _after = text.split("---\n", 2)
    return yaml.safe_load(front)


# Tickets ----------------------------------------------------------------------------------------


def decide(ticket: Ticket, staff: StaffUser, outcome: Outcome, *remedies: str) -> None:
    db.session.add(
        Decision(
            ticket_id=ticket.id,
            outcome=outcome,
            remedies=list(remedies),
            facts="Facts.",
            measure="Measure.",
            automated_means=AutomatedMeans.NONE,
            policy_clause="4.2",
            language="en",
            decided_by_id=staff.id,
            decided_at=datetime(2026, 6, 2, 9, 30, 15, 250_000, tzinfo=UTC),
        )
    )


@pytest.fixture
def variety(app, registry) -> dict[str, int]:
    """Consented reports that differ in every filtered field: {name: ticket id}."""
    aurora, quill = registry["aurora-chat"], registry["quill-writer"]
    with app.app_context():
        versions = {
            (model.slug, version.version): version.id
            for model in db.session.scalars(sa.select(AIModel))
            for version in model.versions
        }
        staff = StaffUser(email="decider@example.org", display_name="Decider", password_hash="-")
        db.session.add(staff)
        specs = {
            "aurora_old_harm": dict(
                model_id=aurora,
                model_version_id=versions["aurora-chat", "2.5"],
                now=datetime(2026, 3, 20, 10, tzinfo=UTC),
            ),
            "aurora_new_dispute": dict(
                model_id=aurora,
                model_version_id=versions["aurora-chat", "3.0"],
                kind="output_dispute",
                category="misinformation",
                reporter_severity="low",
                input_text="When was the Eiffel Tower finished?",
                expected_output="It was completed in 1889.",
                output_text="The Eiffel Tower was completed in 1925.",
                now=datetime(2026, 9, 5, 23, 59, 59, tzinfo=UTC),
            ),
            "quill_french": dict(
                model_id=quill,
                model_version_id=versions["quill-writer", "5.1"],
                category="bias",
                reporter_severity="medium",
                locale="fr",
                output_text="Les femmes ne savent pas conduire.",
                now=datetime(2026, 10, 3, 0, 0, 0, tzinfo=UTC),
            ),
            "unlisted_model": dict(
                model_not_listed="Some other chatbot",
                kind="output_dispute",
                category="wrong_decision",
                output_text="Your loan is refused.",
                now=datetime(2026, 10, 4, 8, tzinfo=UTC),
            ),
        }
        tickets = {
            name: make_ticket(app, consent_training=True, **spec)[0] for name, spec in specs.items()
        }
        db.session.flush()
        decide(tickets["aurora_old_harm"], staff, Outcome.UPHELD, "apology", "model_fixed")
        decide(tickets["quill_french"], staff, Outcome.NOT_UPHELD)
        tickets["quill_french"].severity = Severity.CRITICAL  # staff's view wins the filter
        db.session.commit()
        return {name: ticket.id for name, ticket in tickets.items()}


def make_many(app, count: int, **overrides) -> list[int]:
    with app.app_context():
        tickets = [
            make_ticket(app, consent_training=True, output_text=f"Output number {n}.", **overrides)[
                0
            ]
            for n in range(count)
        ]
        db.session.commit()
        return [ticket.id for ticket in tickets]


# Consent, tombstones, personal data -------------------------------------------------------------


def test_only_consented_reports_are_exported_and_the_others_become_tombstones(app, tmp_path):
    with app.app_context():
        made = {
            name: make_ticket(app, consent_training=consent)[0]
            for name, consent in (
                ("kept", True),
                ("consent_withdrawn", True),
                ("erased", True),
                ("withdrawn", True),
                ("spam", True),
                ("never_consented", False),
            )
        }
        db.session.commit()
        tickets = {name: ticket.id for name, ticket in made.items()}
    first = export(app, tmp_path / "first")

    with app.app_context():
        now = utcnow()
        loaded = {name: db.session.get(Ticket, ticket_id) for name, ticket_id in tickets.items()}
        assert withdraw_training_consent(loaded["consent_withdrawn"], now=now)
        erase(loaded["erased"], now=now, by=Actor.REPORTER)
        withdraw(loaded["withdrawn"], reason=None, now=now)
        loaded["spam"].is_spam = True
        db.session.commit()
    second = export(app, tmp_path / "second")

    gone = ids_of(app, [tickets[n] for n in ("consent_withdrawn", "erased", "withdrawn", "spam")])
    assert exported_ids(tmp_path / "first") == ids_of(app, [tickets["kept"]]) | gone
    assert not (tmp_path / "first" / exports.TOMBSTONES).exists()
    assert first["counts"]["tombstones"] == 0
    assert exported_ids(tmp_path / "second") == ids_of(app, [tickets["kept"]])
    tombstones = (tmp_path / "second" / exports.TOMBSTONES).read_text("utf-8").splitlines()
    assert set(tombstones) == gone
    assert len(tombstones) == second["counts"]["tombstones"] == 4
    assert exports.TOMBSTONES in {file["path"] for file in second["files"]}


def all_text_in(folder: Path) -> str:
    """Every file of an export as text (Parquet decoded: its pages are compressed)."""
    texts = []
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".parquet":
            texts.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
        elif path.is_file():
            texts.append(path.read_text(encoding="utf-8"))
    return "\n".join(texts)


def test_contact_details_appear_in_no_file_of_any_format(app, tmp_path):
    name, address = "Zebulon Quartermaine", "zebulon.q7@example.net"
    with app.app_context():
        make_ticket(
            app,
            consent_training=True,
            consent_contact=True,
            reporter_name=name,
            contact_email=address,
            kind="output_dispute",
            output_text=f"Sure, {name}, I sent the file to {address}.",
            input_text=f"I am {name}; write to {address}.",
            expected_output=f"I cannot e-mail {address} for you, {name}.",
        )
        db.session.commit()

    for fmt in ExportFormat:
        folder = tmp_path / fmt.value
        export(app, folder, fmt)
        text = all_text_in(folder)
        for secret in (name, address, "Zebulon", "Quartermaine", "zebulon.q7"):
            assert secret not in text, (fmt, secret)
        assert "[EMAIL]" in text
        assert "[NAME]" in text
    record = read_jsonl(tmp_path / "jsonl" / "records.jsonl")[0]
    assert record["output"] == "Sure, [NAME], I sent the file to [EMAIL]."
    assert record["redaction_counts"]["email"] == 3


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(app, tmp_path):
    outputs = [
        '=HYPERLINK("http://evil.example/?x","Click me")',
        "+1 for this answer",
        "-2 points for the user",
        "@SUM(A1:A9)",
        "\tindented",
        "\rcarriage return first",
        "'already quoted",
        '  =HYPERLINK("http://evil.example/","after spaces")',
        "\uff1dSUM(A1:A9)",  # a full-width equals sign
        "A plain answer, with a comma",
    ]
    with app.app_context():
        for text in outputs:
            make_ticket(app, consent_training=True, output_text=text, input_text=text)
        db.session.commit()
    export(app, tmp_path / "jsonl")
    export(app, tmp_path / "csv", ExportFormat.CSV)

    plain = [record["output"] for record in read_jsonl(tmp_path / "jsonl" / "records.jsonl")]
    assert plain == outputs  # nothing above is personal data: redaction leaves it alone
    with (tmp_path / "csv" / "records.csv").open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    for text, row in zip(outputs, rows, strict=True):
        expected = text if text[0].isalpha() else "'" + text
        assert row["output"] == expected
        assert row["input"] == expected
    assert read_csv(tmp_path / "csv" / "records.csv") == read_jsonl(
        tmp_path / "jsonl" / "records.jsonl"
    )


# Every format, the same records ------------------------------------------------------------------


def test_every_format_holds_the_same_records_field_by_field_and_each_fits_the_schema(
    app, variety, tmp_path
):
    validator = jsonschema.Draft202012Validator(SCHEMA)
    decoded = {}
    for fmt in RECORD_FORMATS:
        folder = tmp_path / fmt.value
        manifest = export(app, folder, fmt)
        decoded[fmt] = READERS[fmt](folder)
        assert manifest["counts"]["records"] == len(decoded[fmt]) == len(variety)
        for record in decoded[fmt]:
            validator.validate(record)
            assert list(record) == list(SCHEMA["properties"])

    reference = by_id(decoded[ExportFormat.JSONL])
    for fmt in RECORD_FORMATS:
        assert by_id(decoded[fmt]) == reference, fmt
    decided = reference[next(iter(ids_of(app, [variety["aurora_old_harm"]])))]
    assert decided["outcome"] == "upheld"
    assert decided["remedies"] == ["apology", "model_fixed"]
    assert decided["decided_at"] == "2026-06-02T09:30:15Z"
    unlisted = reference[next(iter(ids_of(app, [variety["unlisted_model"]])))]
    assert unlisted["model_slug"] is None
    assert unlisted["model_version"] is None


def test_parquet_is_typed_and_written_a_row_group_at_a_time(app, variety, tmp_path, monkeypatch):
    monkeypatch.setattr(export_files, "ROW_GROUP_SIZE", 3)
    export(app, tmp_path, ExportFormat.PARQUET)

    parquet = pq.ParquetFile(tmp_path / "records.parquet")
    assert [parquet.metadata.row_group(n).num_rows for n in range(parquet.num_row_groups)] == [
        3,
        1,
    ]
    schema = parquet.schema_arrow
    assert str(schema.field("created_at").type) == "timestamp[ms, tz=UTC]"
    assert str(schema.field("remedies").type) == "list<element: string>"
    assert str(schema.field("redaction_counts").type).startswith("struct<email: int32 not null")
    assert not schema.field("record_id").nullable
    assert schema.field("input").nullable


def test_only_disputes_with_an_expected_output_make_preference_pairs(app, tmp_path):
    with app.app_context():
        dispute, _ = make_ticket(
            app,
            consent_training=True,
            kind="output_dispute",
            input_text="What is 2 + 2?",
            output_text="5",
            expected_output="4",
        )
        make_ticket(app, consent_training=True, kind="output_dispute", output_text="No.")
        make_ticket(app, consent_training=True, kind="harm_report", expected_output="Nothing.")
        make_ticket(
            app,
            consent_training=False,
            kind="output_dispute",
            output_text="5",
            expected_output="4",
        )
        db.session.commit()
        expected_id = record_id(dispute.id, app.config["SECRET_KEY"])
    manifest = export(app, tmp_path / "pairs", ExportFormat.PREFERENCE_PAIRS)
    records = export(app, tmp_path / "hf", ExportFormat.HUGGING_FACE)

    pairs = read_jsonl(tmp_path / "pairs" / "pairs.jsonl")
    assert [pair["record_id"] for pair in pairs] == [expected_id]
    assert pairs[0]["prompt"] == "What is 2 + 2?"
    assert pairs[0]["chosen"] == "4"
    assert pairs[0]["rejected"] == "5"
    assert list(pairs[0]) == list(export_files.PAIR_FIELDS)
    assert manifest["counts"]["records"] == 3
    assert manifest["counts"]["preference_pairs"] == records["counts"]["preference_pairs"] == 1
    in_folder = [
        row
        for path in (tmp_path / "hf" / "pairs").glob("*.parquet")
        for row in pq.read_table(path).to_pylist()
    ]
    assert in_folder == pairs


# Splits and the Hugging Face folder -------------------------------------------------------------


@pytest.fixture
def three_hundred(app, registry) -> list[int]:
    return make_many(
        app,
        300,
        model_id=registry["aurora-chat"],
        kind="output_dispute",
        input_text="A prompt.",
        expected_output="The better answer.",
    )


def test_splits_follow_the_record_id_and_come_near_80_10_10(app, three_hundred, tmp_path):
    first = export(app, tmp_path / "first")
    second = export(app, tmp_path / "second", ExportFormat.CSV)

    splits = {r["record_id"]: r["split"] for r in read_jsonl(tmp_path / "first" / "records.jsonl")}
    again = {r["record_id"]: r["split"] for r in read_csv(tmp_path / "second" / "records.csv")}
    assert splits == again
    assert first["counts"]["splits"] == second["counts"]["splits"]
    shares = {name: count / 300 for name, count in first["counts"]["splits"].items()}
    assert 0.72 <= shares["train"] <= 0.88
    assert 0.04 <= shares["validation"] <= 0.16
    assert 0.04 <= shares["test"] <= 0.16
    assert all(feedback.split_of(identifier) == split for identifier, split in splits.items())


def test_the_hugging_face_folder_loads_offline_with_its_splits(
    app, three_hundred, tmp_path, offline_datasets, caplog
):
    folder = tmp_path / "dataset"
    manifest = export(app, folder, ExportFormat.HUGGING_FACE)
    cache = str(tmp_path / "hf-cache")
    # datasets logs what it ignores in a card (its own logger does not propagate).
    library_log = logging.getLogger("datasets")
    library_log.addHandler(caplog.handler)
    try:
        records = offline_datasets.load_dataset(str(folder), cache_dir=cache)
        pairs = offline_datasets.load_dataset(str(folder), "preference_pairs", cache_dir=cache)
    finally:
        library_log.removeHandler(caplog.handler)

    splits = manifest["counts"]["splits"]
    assert {name: len(records[name]) for name in records} == splits
    assert {name: len(pairs[name]) for name in pairs} == splits  # every one a dispute
    card = card_front_matter(folder)
    declared = {info["config_name"]: info for info in card["dataset_info"]}
    assert offline_datasets.Features._from_yaml_list(declared["default"]["features"]) == (
        records["train"].features
    )
    assert {s["name"]: s["num_examples"] for s in declared["default"]["splits"]} == splits
    row = from_parquet_row(dict(records["test"][0]))
    assert row == by_id(read_hugging_face(folder))[row["record_id"]]
    assert card["license"] == "other"
    assert card["language"] == ["en"]
    assert card["size_categories"] == ["n<1K"]
    assert set(card["task_categories"]) == {"text-classification", "text-generation"}
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_dataset_card_describes_collection_consent_redaction_and_limits(app, variety, tmp_path):
    app.config["PORTAL_EXPORT_DATASET_LICENSE"] = "cc-by-nc-4.0"
    manifest = export(app, tmp_path, ExportFormat.HUGGING_FACE)

    card = card_front_matter(tmp_path)
    text = (tmp_path / "README.md").read_text("utf-8")
    assert card["license"] == "cc-by-nc-4.0"
    assert card["language"] == ["en", "fr"]
    configs = {config["config_name"]: config for config in card["configs"]}
    present = [name for name, count in manifest["counts"]["splits"].items() if count]
    assert [f["split"] for f in configs["default"]["data_files"]] == present
    for heading in (
        "## How the data was collected",
        "## Consent",
        "## Redaction",
        "## Known limitations",
    ):
        assert heading in text
    assert "docs/redaction.md" in text
    measured = export_files.MEASURED_REDACTION.get(redaction.RULES_VERSION)
    if measured is not None:  # the figures of docs/redaction.md, for the rules in force
        assert f"names of other people surviving: {measured['third_party_surviving']}" in text
    assert "tombstones.txt" in text
    assert export_files.size_category(999) == "n<1K"
    assert export_files.size_category(1_000) == "1K<n<10K"
    assert export_files.size_category(2_500_000) == "1M<n<10M"


# Filters and incremental exports ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"model": "aurora-chat"}, {"aurora_old_harm", "aurora_new_dispute"}),
        ({"model": "aurora-chat", "version_from": "3.0"}, {"aurora_new_dispute"}),
        ({"model": "aurora-chat", "version_to": "2.5"}, {"aurora_old_harm"}),
        ({"kind": "output_dispute"}, {"aurora_new_dispute", "unlisted_model"}),
        ({"category": "bias"}, {"quill_french"}),
        ({"severity": "critical"}, {"quill_french"}),
        ({"severity": "high"}, {"aurora_old_harm", "unlisted_model"}),
        ({"outcome": "not_upheld"}, {"quill_french"}),
        ({"language": "fr"}, {"quill_french"}),
        (
            {"created_from": date(2026, 9, 5), "created_to": date(2026, 10, 3)},
            {"aurora_new_dispute", "quill_french"},
        ),
    ],
)
def test_each_filter_narrows_the_export(app, variety, tmp_path, filters, expected):
    manifest = export(app, tmp_path, **filters)

    assert exported_ids(tmp_path) == ids_of(app, [variety[name] for name in expected])
    assert manifest["filters"] == FeedbackFilters(**filters).to_json()


def test_an_unknown_model_or_version_writes_nothing(app, variety, tmp_path):
    for filters in ({"model": "no-such-model"}, {"model": "aurora-chat", "version_to": "9"}):
        with app.app_context(), pytest.raises(feedback.UnknownModel):
            exports.run_export(
                filters=FeedbackFilters(**filters),
                fmt=ExportFormat.PARQUET,
                out_dir=tmp_path / "out",
                actor=("cli", None),
                now=utcnow(),
            )
        assert not (tmp_path / "out").exists()


def test_an_incremental_export_takes_only_reports_changed_after_the_cursor(app, tmp_path):
    old, changed = make_many(app, 2)
    first = export(app, tmp_path / "first")
    with app.app_context():
        db.session.get(Ticket, changed).severity = Severity.LOW  # updated_at moves on
        new = make_ticket(app, consent_training=True)[0]
        db.session.commit()
        new = new.id
    since = FeedbackFilters.from_json({"since": first["cursor"]}).since
    second = export(app, tmp_path / "second", since=since)
    third = export(app, tmp_path / "third", since=datetime.fromisoformat(second["cursor"]))

    assert exported_ids(tmp_path / "first") == ids_of(app, [old, changed])
    assert exported_ids(tmp_path / "second") == ids_of(app, [changed, new])
    assert second["filters"]["since"] == first["cursor"]
    assert third["counts"]["records"] == 0
    assert datetime.fromisoformat(third["cursor"]) >= datetime.fromisoformat(second["cursor"])


# The manifest and the audit entry --------------------------------------------------------------


def test_the_manifest_hashes_every_file_and_names_its_audit_entry(app, variety, tmp_path):
    manifest = export(app, tmp_path, ExportFormat.HUGGING_FACE, language="en")

    on_disk = json.loads((tmp_path / exports.MANIFEST).read_text("utf-8"))
    assert on_disk == manifest
    written = {
        path.relative_to(tmp_path).as_posix()
        for path in tmp_path.rglob("*")
        if path.is_file() and path.name != exports.MANIFEST
    }
    assert {file["path"] for file in manifest["files"]} == written
    for file in manifest["files"]:
        content = (tmp_path / file["path"]).read_bytes()
        assert file["sha256"] == hashlib.sha256(content).hexdigest()
        assert file["bytes"] == len(content)
    assert manifest["schema_version"] == feedback.SCHEMA_VERSION
    assert manifest["filters"]["language"] == "en"
    assert manifest["counts"]["records"] == 3
    assert set(manifest["redaction_counts"]) == set(feedback.REDACTION_KINDS)
    with app.app_context():
        entry = db.session.get(AuditEntry, manifest["audit_seq"])
        assert entry.action == "feedback.exported"
        assert entry.object_type == "feedback_export"
        assert entry.actor_id == "cli"
        payload = json.loads(entry.payload)
        assert payload["records"] == 3
        assert payload["files"] == {file["path"]: file["sha256"] for file in manifest["files"]}
        assert audit.verify(secret_key=app.config["SECRET_KEY"]).ok


def test_the_manifest_counts_records_redacted_under_older_rules(app, tmp_path):
    current, older = make_many(app, 2)
    with app.app_context():
        db.session.execute(
            sa.update(Ticket)
            .where(Ticket.id == older)
            .values(redaction_version=redaction.RULES_VERSION - 1)
        )
        db.session.commit()

    manifest = export(app, tmp_path)

    assert exported_ids(tmp_path) == ids_of(app, [current, older])
    assert manifest["redaction_rules_version"] == redaction.RULES_VERSION
    assert manifest["stale_redactions"] == 1


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_an_export_that_fails_midway_leaves_no_file(app, variety, tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(export_files, "ROW_GROUP_SIZE", 1)  # Parquet files are open by then

    def interrupted(done: int) -> None:
        if done >= 3:  # Parquet reports a batch of records at a time
            raise KeyboardInterrupt

    with app.app_context(), pytest.raises(KeyboardInterrupt):
        exports.run_export(
            filters=FeedbackFilters(),
            fmt=fmt,
            out_dir=tmp_path / "out",
            actor=("cli", None),
            now=utcnow(),
            progress=interrupted,
        )
    assert not (tmp_path / "out").exists()


def test_an_export_refuses_a_folder_that_holds_something(app, variety, tmp_path):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")

    with app.app_context(), pytest.raises(exports.ExportFolderNotEmpty):
        exports.run_export(
            filters=FeedbackFilters(),
            fmt=ExportFormat.JSONL,
            out_dir=tmp_path,
            actor=("cli", None),
            now=utcnow(),
        )
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


# The command line ------------------------------------------------------------------------------


def test_flask_export_feedback_writes_the_files_and_prints_a_summary(app, variety, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "out"

    result = runner.invoke(
        args=[
            "export",
            "feedback",
            "--format",
            "parquet",
            "--model",
            "aurora-chat",
            "--since",
            "2026-01-01",
            "--out",
            str(out),
        ]
    )

    assert result.exit_code == 0, result.output
    manifest = json.loads((out / exports.MANIFEST).read_text("utf-8"))
    assert manifest["counts"]["records"] == 2
    assert manifest["filters"]["since"] == "2026-01-01T00:00:00+00:00"
    assert "Records: 2 (" in result.output
    assert "Preference pairs: 1" in result.output
    assert "Tombstones: 0" in result.output
    assert f"records.parquet  {manifest['files'][0]['bytes']} bytes" in result.output
    assert manifest["files"][0]["sha256"] in result.output
    assert f"Manifest: {out / exports.MANIFEST}" in result.output
    assert len(read_parquet(out / "records.parquet")) == 2

    again = runner.invoke(
        args=[
            "export",
            "feedback",
            "--format",
            "jsonl",
            "--model",
            "aurora-chat",
            "--since-manifest",
            str(out / exports.MANIFEST),
            "--out",
            str(tmp_path / "again"),
        ]
    )
    assert again.exit_code == 0, again.output
    assert "Records: 0 (" in again.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--model", "no-such-model"], "no model or version no-such-model"),
        (["--model", "aurora-chat", "--version-from", "9.9"], "aurora-chat 9.9"),
        (["--version-to", "2.5"], "need --model"),
        (["--since", "last tuesday"], "neither a date"),
        (["--since", "2026-01-01", "--since-manifest", __file__], "not both"),
    ],
)
def test_flask_export_feedback_explains_what_is_wrong(app, variety, tmp_path, arguments, message):
    result = app.test_cli_runner().invoke(
        args=["export", "feedback", "--format", "csv", "--out", str(tmp_path / "out"), *arguments]
    )

    assert result.exit_code != 0
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_flask_export_feedback_refuses_a_folder_that_is_not_empty(app, variety, tmp_path):
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")

    result = app.test_cli_runner().invoke(
        args=["export", "feedback", "--format", "csv", "--out", str(tmp_path)]
    )

    assert result.exit_code != 0
    assert "exists and is not empty" in result.output
    assert [path.name for path in tmp_path.iterdir()] == ["keep.txt"]


# The clock's queue -----------------------------------------------------------------------------


@pytest.fixture
def export_dir(app, tmp_path) -> Path:
    app.config["PORTAL_EXPORT_DIR"] = str(tmp_path / "exports")
    return tmp_path / "exports"


def queue_export(app, fmt=ExportFormat.JSONL, **filters) -> int:
    with app.app_context():
        staff = StaffUser(email="analyst@example.org", display_name="Ann", password_hash="-")
        db.session.add(staff)
        db.session.flush()
        queued = FeedbackExport(
            format=fmt, filters=FeedbackFilters(**filters).to_json(), requested_by_id=staff.id
        )
        db.session.add(queued)
        db.session.commit()
        return queued.id


def test_a_dataset_card_is_written_in_the_language_the_export_was_asked_for_in(
    app, export_dir, variety
):
    export_id = queue_export(app, ExportFormat.HUGGING_FACE)
    with app.app_context():
        db.session.get(FeedbackExport, export_id).locale = "fr"
        db.session.commit()
        exports.run_next_queued(utcnow())
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        heading = gettext("How the data was collected")

    card = (export_dir / str(export_id) / "README.md").read_text("utf-8")

    assert heading != "How the data was collected"
    assert f"## {heading}" in card
    assert "## How the data was collected" not in card
    assert "anglais, français" in card  # the reports' languages, named in French
    assert card_front_matter(export_dir / str(export_id))["license"] == "other"


def test_the_clock_runs_a_queued_export_to_done_and_shows_its_progress(
    app, export_dir, tmp_path, monkeypatch
):
    make_many(app, 5)
    export_id = queue_export(app, ExportFormat.CSV)
    monkeypatch.setattr(exports, "PROGRESS_EVERY", 2)
    stream, seen = feedback.records, []

    def watched(filters):
        for number, item in enumerate(stream(filters), start=1):
            if number == 4:  # two progress commits so far: another connection sees them
                with db.engine.connect() as other:
                    seen.append(
                        other.scalar(
                            sa.select(FeedbackExport.rows_done).where(
                                FeedbackExport.id == export_id
                            )
                        )
                    )
            yield item

    monkeypatch.setattr(feedback, "records", watched)

    with app.app_context():
        done = exports.run_next_queued(utcnow())
        assert done.id == export_id
        assert exports.run_next_queued(utcnow()) is None  # nothing else waits

    assert seen == [2]
    with app.app_context():
        row = db.session.get(FeedbackExport, export_id)
        assert row.status is ExportStatus.DONE
        assert row.rows_total == row.rows_done == 5
        assert row.started_at is not None
        assert row.finished_at is not None
        assert row.folder == str(export_id)
        assert row.manifest["export_id"] == export_id
        folder = exports.export_dir() / row.folder
        entry = db.session.get(AuditEntry, row.manifest["audit_seq"])
        assert entry.actor_id.startswith("staff:")
        assert entry.object_id == str(export_id)
    assert json.loads((folder / exports.MANIFEST).read_text("utf-8")) == row.manifest
    assert len(read_csv(folder / "records.csv")) == 5


def test_a_failing_queued_export_is_marked_failed_with_its_error_type_only(
    app, export_dir, monkeypatch, caplog
):
    make_many(app, 3)
    export_id = queue_export(app, ExportFormat.CSV)

    def broken(fmt, records, folder, **options):
        (folder / "records.csv").write_bytes(b"half a file")
        raise RuntimeError("disk full while writing zebulon@example.net")

    monkeypatch.setattr(export_files, "write", broken)
    with caplog.at_level(logging.ERROR), app.app_context():
        exports.run_next_queued(utcnow())

    with app.app_context():
        row = db.session.get(FeedbackExport, export_id)
        assert row.status is ExportStatus.FAILED
        assert row.error == "RuntimeError"
        assert row.manifest is None
        assert row.finished_at is not None
        assert not db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "feedback.exported")
        )
    assert not (export_dir / str(export_id)).exists()
    assert "RuntimeError" in caplog.text
    assert "zebulon" not in caplog.text
    assert "Traceback" not in caplog.text


def test_an_export_abandoned_by_a_clock_that_died_is_run_again(app):
    with app.app_context():
        make_ticket(app, consent_training=True)
        started = utcnow() - timedelta(hours=7)
        stuck = FeedbackExport(
            format=ExportFormat.JSONL,
            filters={},
            status=ExportStatus.RUNNING,
            started_at=started,
            folder="1",
        )
        db.session.add(stuck)
        db.session.commit()
        (exports.export_dir() / str(stuck.id)).mkdir(parents=True)
        (exports.export_dir() / str(stuck.id) / "records.jsonl").write_text("half a line")

        export = exports.run_next_queued(utcnow())

        assert export.id == stuck.id
        assert export.status is ExportStatus.DONE
        assert export.manifest["counts"]["records"] == 1
