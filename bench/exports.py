"""Benchmarks of the feedback export: rows per second against a plain sqlite3 loop over the same
table, and peak memory, at several table sizes.

    .venv/bin/python -m bench.exports --rows 100000 --rows 1000000 [--formats jsonl parquet]

For each size, a SQLite database of that many consented reports with their export-ready text is
built once and kept in ``--folder`` for the next run (``build_database``). Then, side by side:

- the baseline: ``sqlite3`` selecting the ticket columns a record is made of, in id order, and
  writing ``json.dumps`` of each row as a dict, one line each (``BASELINE_QUERY``);
- each format through the product's own path, ``portal.services.exports.run_export``: the stream
  of records, the format's writer, the tombstones, the manifest with its file hashes, the audit
  entry (rolled back afterwards, so that the database stays as built).

Each of them runs in a fresh Python process (``--child``) that reports its own time and peak
resident memory (``peak_rss_kib``), so that one size's memory does not show in the next. The checks
(bench/README.md): JSONL at least half the baseline's rows per second; Parquet no slower than
JSONL; at the largest size, each format's peak memory within 20 % of its peak at the smallest.
They print PASS or FAIL; ``--strict`` turns a FAIL into exit status 1.
"""

import argparse
import json
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa
from flask_migrate import upgrade

from portal import create_app
from portal.clock import utcnow
from portal.config import PROJECT_ROOT
from portal.extensions import db
from portal.models import (
    AutomatedMeans,
    Category,
    Decision,
    ExportFormat,
    Outcome,
    ReporterRole,
    Severity,
    Status,
    Ticket,
    TicketKind,
)
from portal.models.decisions import AppealResult, FollowUpAnswer, Remedy
from portal.models.tickets import REDACTION_KINDS, SEVERITY_PRIORITY
from portal.services import exports, redaction
from portal.services.feedback import FeedbackFilters
from tests.factories import make_busy_portal

# Bump when build_database makes different data: a database built by another version is not
# taken from the folder.
DATA_VERSION = 2  # bumped when the tickets' columns change: the cached databases are rebuilt
DEFAULT_FOLDER = Path(tempfile.gettempdir()) / "redress-bench-exports"
# Rows inserted per statement (and committed together) while building.
BUILD_CHUNK = 10_000
SECRET_KEY = "benchmark secret key, not a secret"

# The export formats that can be measured; the checks concern JSONL and Parquet.
FORMATS = {
    fmt.value: fmt
    for fmt in (
        ExportFormat.JSONL,
        ExportFormat.CSV,
        ExportFormat.PARQUET,
        ExportFormat.HUGGING_FACE,
    )
}
BASELINE = "baseline"

# The ticket columns a record is made of, for the reports that may become records
# (portal.services.feedback.exportable): the record adds the model's and version's names and the
# decision in force, which the baseline leaves out.
BASELINE_QUERY = """
SELECT id, kind, model_id, model_version_id, category, reporter_severity, severity, locale,
       created_at, decided_at, export_output, export_input, export_expected_output,
       redacted_email, redacted_phone, redacted_ip, redacted_url, redacted_card, redacted_iban,
       redacted_name
FROM tickets
WHERE consent_training = 1 AND training_consent_withdrawn_at IS NULL AND erased_at IS NULL
  AND is_spam = 0 AND status NOT IN ('withdrawn', 'merged') AND redaction_version IS NOT NULL
ORDER BY id
"""

JSONL_AT_LEAST = 0.5  # of the baseline's rows per second
RSS_GROWTH_AT_MOST = 1.2  # peak RSS at the largest size over the smallest


# The database ------------------------------------------------------------------------------------

# Sentences the texts are drawn from, by language, with the kind of personal data each one's
# placeholder replaced (the export-ready text is stored redacted).
SENTENCES = {
    "en": [
        ("The assistant said the medication could be doubled safely if the pain persisted.", None),
        ("It then listed the steps in detail, with quantities and timings.", None),
        ("When I asked for a source, it invented a study and a journal that do not exist.", None),
        ("My message to it included my address, and it repeated it back in full.", None),
        (
            "The reply called my neighbour by name, [NAME], and claimed he had a criminal record.",
            "name",
        ),
        ("It told me to send the documents to [EMAIL] to speed up the claim.", "email"),
        ("The answer gave a phone number, [PHONE], as the official helpline.", "phone"),
        ("The output contained a link with a login token: [URL].", "url"),
        ("It suggested I pay the fee by card and repeated my card number, [CARD].", "card"),
        ("The summary of my loan application refused me because of where I was born.", None),
        ("I use this tool at work, and my manager relied on the answer without checking it.", None),
        ("The model answered confidently, although the figures were all wrong.", None),
        ("It wrote that the vaccine contains tracking chips and cited a forum post.", None),
        ("The translation turned a neutral sentence into an insult against my community.", None),
        ("The generated code disabled the certificate check and sent my key to [IP].", "ip"),
        ("After the update it refused harmless questions about first aid.", None),
    ],
    "fr": [
        ("L'assistant a affirmé que je pouvais arrêter mon traitement sans avis médical.", None),
        ("La réponse citait une loi qui n'existe pas et un numéro d'article inventé.", None),
        ("Il m'a demandé d'envoyer mon RIB, [IBAN], pour « vérifier mon identité ».", "iban"),
        ("Le texte généré se moquait de mon accent et de mon prénom, [NAME].", "name"),
        ("Selon lui, le remboursement était impossible, ce qui est faux.", None),
        ("J'ai perdu une journée de travail à cause de ces instructions erronées.", None),
        (
            "La synthèse de mon dossier mélangeait ma situation avec celle d'une autre personne.",
            None,
        ),
        ("Il a proposé de me rappeler au [PHONE], un numéro que je n'avais jamais donné.", "phone"),
    ],
    "de": [
        ("Der Assistent behauptete, die Frist sei bereits abgelaufen, was nicht stimmt.", None),
        ("Die Antwort enthielt beleidigende Aussagen über meine Herkunft.", None),
        (
            "Er schlug vor, das Passwort an [EMAIL] zu schicken, um das Konto zu entsperren.",
            "email",
        ),
        ("Die Übersetzung meines Arztbriefs war an entscheidenden Stellen falsch.", None),
        ("Meine Bewerbung wurde aufgrund einer erfundenen Vorstrafe abgelehnt.", None),
    ],
    "ar": [
        ("قال المساعد إنه يمكنني مضاعفة جرعة الدواء دون استشارة الطبيب.", None),
        ("تضمن الرد معلومات خاطئة عن حقوقي كمستأجر.", None),
        ("طلب مني إرسال رقم بطاقتي [CARD] لإتمام التحقق.", "card"),
        ("وصفت الإجابة مجتمعي بعبارات مسيئة ومهينة.", None),
        ("ذكر اسم جاري [NAME] وادعى أنه ارتكب جريمة.", "name"),
    ],
}
LOCALES, LOCALE_WEIGHTS = ("en", "fr", "ar", "de"), (60, 25, 10, 5)
# Reports that may be exported (feedback.exportable leaves out the withdrawn and the merged);
# the weights follow tests/factories.py:ticket_rows.
STATUSES, STATUS_WEIGHTS = zip(
    *[
        (Status.CLOSED, 62),
        (Status.DECIDED, 8),
        (Status.NEW, 8),
        (Status.TRIAGED, 4),
        (Status.INVESTIGATING, 6),
        (Status.AWAITING_REPORTER, 3),
        (Status.APPEALED, 2),
    ],
    strict=True,
)
DECIDED_STATUSES = (Status.CLOSED, Status.DECIDED, Status.APPEALED)
REMEDIES = [remedy.value for remedy in Remedy if remedy is not Remedy.NONE]
START = datetime(2025, 1, 1, tzinfo=UTC)


def database_path(folder: Path, rows: int) -> Path:
    return folder / f"tickets-{rows}-v{DATA_VERSION}.sqlite3"


def app_for(database: Path):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": SECRET_KEY,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
            "PORTAL_UPLOAD_DIR": str(database.parent / "uploads"),
            "RATELIMIT_ENABLED": False,
        }
    )


def prepare_database(folder: Path, rows: int) -> Path:
    """The database of ``rows`` reports in ``folder``: built if missing, else brought to the
    current schema (a no-op unless a migration came since it was built)."""
    path = database_path(folder, rows)
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        for leftover in folder.glob(f"{partial.name}*"):  # an interrupted build
            leftover.unlink()
        started = time.perf_counter()
        build_database(partial, rows)
        partial.rename(path)
        print(
            f"built {rows:,} reports in {time.perf_counter() - started:.0f} s: {path}",
            file=sys.stderr,
        )
        return path
    app = app_for(path)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


def build_database(path: Path, rows: int) -> None:
    """A database of ``rows`` consented reports with their export-ready text, inserted a chunk
    of ``BUILD_CHUNK`` at a time (``report_rows``), and a decision for the decided ones."""
    app = app_for(path)
    with app.app_context():
        upgrade()
        _teams, models, staff = make_busy_portal(0)
        db.session.commit()
        versions = [(model.id, version.id) for model in models for version in model.versions]
        staff_ids = [member.id for member in staff]
        chance = random.Random(DATA_VERSION)
        for first in range(0, rows, BUILD_CHUNK):
            tickets, decisions = report_rows(
                chance,
                range(first, min(first + BUILD_CHUNK, rows)),
                versions=versions,
                staff_ids=staff_ids,
            )
            db.session.execute(sa.insert(Ticket), tickets)
            if decisions:
                db.session.execute(sa.insert(Decision), decisions)
            db.session.commit()
            if (first + BUILD_CHUNK) % 100_000 == 0:
                print(f"  {first + BUILD_CHUNK:,} of {rows:,} reports", file=sys.stderr)
        with db.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.engine.dispose()


def report_rows(
    chance: random.Random, numbers: range, *, versions: list[tuple[int, int]], staff_ids: list[int]
) -> tuple[list[dict], list[dict]]:
    """Tickets numbered ``numbers`` (their ids are number + 1) and their decisions.

    Every report consented and has export-ready text, as ``export_text.prepare`` leaves it: an
    output of about 300 to 800 characters; a prompt for 60 % of them; an expected output for most
    disputes. About three quarters were decided (one decision; a few a second one, answering an
    appeal). The raw text columns hold the same text (the export does not read them, but they
    make the rows as long as real ones).
    """
    tickets, decisions = [], []
    for number in numbers:
        locale = chance.choices(LOCALES, LOCALE_WEIGHTS)[0]
        sentences = SENTENCES[locale]
        kind = chance.choices((TicketKind.HARM_REPORT, TicketKind.OUTPUT_DISPUTE), (70, 30))[0]
        status = chance.choices(STATUSES, STATUS_WEIGHTS)[0]
        reported = chance.choices(list(Severity), [30, 45, 20, 5])[0]
        triaged = None if status is Status.NEW else chance.choice(list(Severity))
        created = START + timedelta(seconds=30 * number)
        model_id, version_id = chance.choice(versions)

        counts: dict[str, int] = {}
        output = _text(chance, sentences, 300, 800, counts)
        prompt = _text(chance, sentences, 60, 400, counts) if chance.random() < 0.6 else None
        expected = (
            _text(chance, sentences, 100, 500, counts)
            if kind is TicketKind.OUTPUT_DISPUTE and chance.random() < 0.8
            else None
        )

        decided_at = None
        if status in DECIDED_STATUSES:
            first_decision = created + timedelta(days=chance.randint(1, 30))
            decisions.append(_decision(chance, number + 1, first_decision, locale, staff_ids))
            decided_at = first_decision
            if status is Status.APPEALED:
                decided_at = None  # a decision is owed again
            elif chance.random() < 0.05:
                answer = first_decision + timedelta(days=chance.randint(5, 20))
                decisions.append(
                    _decision(chance, number + 1, answer, locale, staff_ids, appeal=True)
                )
                decided_at = answer
        tickets.append(
            {
                "id": number + 1,
                "reference": f"RP-{number:08d}",
                "kind": kind,
                "status": status,
                "reporter_role": ReporterRole.SELF,
                "model_id": model_id,
                "model_version_id": version_id,
                "assignee_id": None if status is Status.NEW else chance.choice(staff_ids),
                "output_text": output,
                "input_text": prompt,
                "expected_output": expected,
                "description": _text(chance, sentences, 100, 400, {}),
                "category": chance.choice(list(Category)),
                "reporter_severity": reported,
                "severity": triaged,
                "priority": SEVERITY_PRIORITY[triaged or reported],
                "locale": locale,
                "timezone": "Europe/London",
                "consent_training": True,
                "tracking_token_hash": f"t{number:063d}",
                "submission_key_hash": f"s{number:063d}",
                "created_at": created,
                "updated_at": decided_at or created,
                "decided_at": decided_at,
                "closed_at": decided_at if status is Status.CLOSED else None,
                "export_output": output,
                "export_input": prompt,
                "export_expected_output": expected,
                **{f"redacted_{kind}": counts.get(kind, 0) for kind in REDACTION_KINDS},
                "redaction_version": redaction.RULES_VERSION,
            }
        )
    return tickets, decisions


def _text(chance: random.Random, sentences, shortest: int, longest: int, counts: dict) -> str:
    """Sentences until their length reaches a target between ``shortest`` and ``longest`` (one
    sentence more at most); each placeholder is counted into ``counts`` by kind."""
    target = chance.randint(shortest, longest)
    parts, length = [], 0
    while length < target:
        sentence, kind = chance.choice(sentences)
        parts.append(sentence)
        length += len(sentence) + 1
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
    return " ".join(parts)


def _decision(chance, ticket_id, decided_at, locale, staff_ids, *, appeal=False) -> dict:
    answered = chance.random() < 0.4
    return {
        "ticket_id": ticket_id,
        "outcome": chance.choice(list(Outcome)),
        "remedies": chance.sample(REMEDIES, chance.randint(0, 2)),
        "facts": "We read the output the reporter sent and the model's logs for that day. " * 3,
        "measure": "The output was found to break the policy; the model's filter was updated. " * 2,
        "automated_means": AutomatedMeans.NONE,
        "policy_clause": "Acceptable use policy, section 4.2",
        "language": locale,
        "appeal_result": chance.choice(list(AppealResult)) if appeal else None,
        "decided_by_id": chance.choice(staff_ids),
        "decided_at": decided_at,
        "appealable_until": None if appeal else decided_at + timedelta(days=30),
        "follow_up_asked_at": decided_at + timedelta(days=14),
        "follow_up_answer": chance.choice(list(FollowUpAnswer)) if answered else None,
        "follow_up_answered_at": decided_at + timedelta(days=15) if answered else None,
    }


# One measurement, in a process of its own -------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    what: str  # BASELINE or a format's value
    rows: int
    seconds: float
    peak_rss_kib: int
    file_bytes: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def measure(what: str, database: Path, out: Path) -> Measurement:
    """Run one measurement in a fresh interpreter (``--child``) and read what it reports."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.exports",
            "--child",
            what,
            "--database",
            str(database),
            "--out",
            str(out),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"measuring {what} failed:\n{completed.stderr}")
    return Measurement(what=what, **json.loads(completed.stdout.splitlines()[-1]))


def warm_up() -> None:
    """What a long-running clock process pays once, before its first export, and a fresh
    child would otherwise pay inside the timed export: pyarrow imports pandas (about 400
    modules, 0.3 s here) the first time it converts a Python list."""
    pa.array(["warm"], pa.string())


def child(what: str, database: Path, out: Path) -> None:
    """Export ``database`` into ``out`` (which must not hold anything) and print the figures as
    one JSON line: rows, seconds, peak RSS, the files' size."""
    warm_up()
    if what == BASELINE:
        out.mkdir(parents=True)
        started = time.perf_counter()
        rows = baseline(database, out / "baseline.jsonl")
        seconds = time.perf_counter() - started
    else:
        app = app_for(database)
        with app.app_context():
            started = time.perf_counter()
            manifest = exports.run_export(
                filters=FeedbackFilters(),
                fmt=FORMATS[what],
                out_dir=out,
                actor=("cli", None),
                now=utcnow(),
            )
            seconds = time.perf_counter() - started
            # The audit entry would stay in the database: the next run would find it there.
            db.session.rollback()
            db.engine.dispose()
        rows = manifest["counts"]["records"]
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": seconds,
                "peak_rss_kib": peak_rss_kib(),
                "file_bytes": sum(path.stat().st_size for path in out.rglob("*") if path.is_file()),
            }
        )
    )


def baseline(database: Path, target: Path) -> int:
    """The plain loop: rows from sqlite3, each written as ``json.dumps`` of a dict."""
    connection = sqlite3.connect(database)
    try:
        cursor = connection.execute(BASELINE_QUERY)
        names = [column[0] for column in cursor.description]
        rows = 0
        with target.open("w", encoding="utf-8") as out:
            for row in cursor:
                out.write(json.dumps(dict(zip(names, row, strict=True))) + "\n")
                rows += 1
    finally:
        connection.close()
    return rows


def peak_rss_kib() -> int:
    """This process's peak resident memory, in KiB.

    On Linux, from the address space's own high-water mark (VmHWM): ``ru_maxrss`` keeps the
    parent's resident size across the fork and exec that start a child, so a child started by
    a parent of 200 MiB reports at least 200 MiB whatever it does."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes there, KiB elsewhere


# The run -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """The measurements of one export of one size: the median rate, the highest peak."""

    size: int
    what: str
    runs: list[Measurement]

    @property
    def rows(self) -> int:
        return self.runs[0].rows

    @property
    def seconds(self) -> float:
        return statistics.median(run.seconds for run in self.runs)

    @property
    def rows_per_second(self) -> float:
        return statistics.median(run.rows_per_second for run in self.runs)

    @property
    def peak_rss_mib(self) -> float:
        return max(run.peak_rss_kib for run in self.runs) / 1024

    @property
    def file_mib(self) -> float:
        return self.runs[0].file_bytes / 2**20


def run(
    sizes: list[int], formats: list[str], folder: Path, *, repeat: int = 1, keep: bool = False
) -> list[Result]:
    """Measure the baseline and each format at each size, ``repeat`` times in turn. The
    exports are written into ``folder/exports/<size>-<what>-<round>`` and removed after each
    measurement, unless ``keep``."""
    results = []
    for size in sizes:
        database = prepare_database(folder, size)
        _read_through(database)
        runs: dict[str, list[Measurement]] = {what: [] for what in (BASELINE, *formats)}
        for round_number in range(1, repeat + 1):
            for what, measured in runs.items():
                out = folder / "exports" / f"{size}-{what}-{round_number}"
                shutil.rmtree(out, ignore_errors=True)
                measured.append(measure(what, database, out))
                if not keep:
                    shutil.rmtree(out)
        results.extend(Result(size, what, measured) for what, measured in runs.items())
    return results


def _read_through(path: Path) -> None:
    """Read the file once, so that the first measurement does not pay alone for the disk."""
    with path.open("rb") as source:
        while source.read(1 << 24):
            pass


def table(results: list[Result]) -> list[str]:
    baselines = {result.size: result for result in results if result.what == BASELINE}
    lines = [
        "| rows | export | records | seconds | rows/s | x baseline | peak RSS MiB | files MiB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        ratio = result.rows_per_second / baselines[result.size].rows_per_second
        lines.append(
            f"| {result.size:,} | {result.what} | {result.rows:,} | {result.seconds:.2f} "
            f"| {result.rows_per_second:,.0f} | {ratio:.2f} | {result.peak_rss_mib:.1f} "
            f"| {result.file_mib:.1f} |"
        )
    return lines


def checks(results: list[Result]) -> list[tuple[str, bool]]:
    """(what was checked, with the figures; whether it passed), for what was measured."""
    found = {(result.size, result.what): result for result in results}
    sizes = sorted({result.size for result in results})
    outcomes = []
    for size in sizes:
        base, jsonl, parquet = (found.get((size, what)) for what in (BASELINE, "jsonl", "parquet"))
        if jsonl is not None:
            ratio = jsonl.rows_per_second / base.rows_per_second
            outcomes.append(
                (
                    f"{size:,} rows: JSONL {ratio:.2f} x the baseline's rows/s "
                    f"(at least {JSONL_AT_LEAST})",
                    ratio >= JSONL_AT_LEAST,
                )
            )
        if jsonl is not None and parquet is not None:
            outcomes.append(
                (
                    f"{size:,} rows: Parquet {parquet.rows_per_second:,.0f} rows/s, "
                    f"JSONL {jsonl.rows_per_second:,.0f} (Parquet no slower)",
                    parquet.rows_per_second >= jsonl.rows_per_second,
                )
            )
    if len(sizes) > 1:
        smallest, largest = sizes[0], sizes[-1]
        for what in ("jsonl", "parquet"):
            if (smallest, what) in found and (largest, what) in found:
                growth = found[largest, what].peak_rss_mib / found[smallest, what].peak_rss_mib
                outcomes.append(
                    (
                        f"{what} peak RSS at {largest:,} rows over {smallest:,}: {growth:.2f} "
                        f"(at most {RSS_GROWTH_AT_MOST})",
                        growth <= RSS_GROWTH_AT_MOST,
                    )
                )
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, action="append", help="reports in the table (repeat for more sizes)"
    )
    parser.add_argument(
        "--formats", nargs="+", choices=FORMATS, default=["jsonl", "parquet"], metavar="FORMAT"
    )
    parser.add_argument(
        "--folder",
        type=Path,
        default=DEFAULT_FOLDER,
        help=f"where the databases are kept between runs (default {DEFAULT_FOLDER})",
    )
    parser.add_argument("--repeat", type=int, default=1, help="measure each export this often")
    parser.add_argument(
        "--keep-exports", action="store_true", help="leave the exported files in the folder"
    )
    parser.add_argument("--strict", action="store_true", help="exit with status 1 on a FAIL")
    parser.add_argument("--child", choices=(BASELINE, *FORMATS), help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.child:
        child(arguments.child, arguments.database, arguments.out)
        return 0
    if not arguments.rows:
        parser.error("give at least one --rows")

    results = run(
        arguments.rows,
        arguments.formats,
        arguments.folder.resolve(),
        repeat=arguments.repeat,
        keep=arguments.keep_exports,
    )
    print("\n".join(table(results)))
    print()
    outcomes = checks(results)
    for described, passed in outcomes:
        print(f"{'PASS' if passed else 'FAIL'}  {described}")
    failed = not all(passed for _described, passed in outcomes)
    return 1 if failed and arguments.strict else 0


if __name__ == "__main__":
    sys.exit(main())
