"""The files of a feedback export: one writer per format, each fed the same stream of records
(portal.services.feedback.records) and writing into a folder.

Every writer reads the stream once and keeps at most one Parquet row group per open file in
memory (``ROW_GROUP_SIZE`` records), so memory does not grow with the number of records. Each
calls ``on_record(record)`` after writing a record, for the caller's progress and counts.

Layouts (``feedback.SCHEMA_PATH`` documents every field):

- JSON Lines: ``records.jsonl``, one record per line as the schema describes it, UTF-8.
- CSV: ``records.csv``, UTF-8 without a byte-order mark, comma-separated, quoted where needed
  (the csv module's "excel" dialect, CRLF line ends), a header row with ``CSV_COLUMNS``: the
  record's fields in schema order, ``remedies`` as a JSON array text, and ``redaction_counts``
  as one integer column per kind, ``redaction_<kind>``. An empty cell is null (no text field
  that can be null is ever empty). Spreadsheets run a cell starting with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return as a formula, so such a cell (and, to keep the rule
  reversible, one starting with ``'``) gets one ``'`` in front: a consumer removes one
  leading ``'`` from any text cell that has one (``CSV_FORMULA_GUARD``).
- Parquet: ``records.parquet``, with a fixed schema (``RECORD_SCHEMA``): strings; the two
  times as ``timestamp[ms, tz=UTC]`` (Parquet has no seconds unit; the values are whole
  seconds, and turn back into the record's ``...Z`` text exactly); ``remedies`` a
  ``list<string>``; ``redaction_counts`` a ``struct`` of ``int32``. Row groups of
  ``ROW_GROUP_SIZE`` records.
- Hugging Face dataset folder: ``data/<split>.parquet`` (the records of each split, as in
  ``records.parquet``), ``pairs/<split>.parquet`` (the preference pairs, a second
  configuration named ``preference_pairs``) and ``README.md``, a dataset card whose YAML
  front matter declares the licence, languages, size category, task categories, the
  configurations with their data files, and the features and split sizes. A split with no
  record has no file (``datasets`` refuses an empty split). Loads offline with
  ``datasets.load_dataset(folder)`` (and ``load_dataset(folder, "preference_pairs")``).
- Preference pairs: ``pairs.jsonl``, one pair per line (``PAIR_FIELDS``), only for disputes
  with an expected output (``feedback.preference_pair``).

The dataset card's fixed text lives in ``card_sections`` alone, as paragraphs with named
placeholders, so that it can be put through gettext later.
"""

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from flask_babel import format_number
from flask_babel import gettext as _

from portal.config import N_
from portal.i18n import language_name
from portal.models.feedback import ExportFormat
from portal.services import redaction
from portal.services.feedback import (
    REDACTION_KINDS,
    SCHEMA_PATH,
    SCHEMA_VERSION,
    SPLITS,
    preference_pair,
)

OnRecord = Callable[[dict], None]
OnBatch = Callable[[dict[str, list]], None]

ROW_GROUP_SIZE = 10_000
SPLIT_NAMES = tuple(name for name, _share in SPLITS)

# The record's fields in schema order (docs/feedback-record.schema.json, "required").
RECORD_FIELDS = (
    "schema_version",
    "record_id",
    "split",
    "kind",
    "model_slug",
    "model_version",
    "category",
    "severity_reported",
    "severity_triaged",
    "language",
    "created_at",
    "decided_at",
    "output",
    "input",
    "expected_output",
    "outcome",
    "remedies",
    "appeal_result",
    "follow_up_answer",
    "redaction_counts",
)
PAIR_FIELDS = (
    "schema_version",
    "record_id",
    "split",
    "model_slug",
    "model_version",
    "language",
    "prompt",
    "chosen",
    "rejected",
)
TIME_FIELDS = ("created_at", "decided_at")

CSV_COLUMNS = (
    *(name for name in RECORD_FIELDS if name != "redaction_counts"),
    *(f"redaction_{kind}" for kind in REDACTION_KINDS),
)
CSV_FORMULA_GUARD = "'"
# What a spreadsheet may take for the start of a formula; and the guard itself, so that a
# consumer can always remove exactly one.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", CSV_FORMULA_GUARD)

_TIMESTAMP = pa.timestamp("ms", tz="UTC")
_REQUIRED = frozenset(
    {
        "schema_version",
        "record_id",
        "split",
        "kind",
        "category",
        "severity_reported",
        "language",
        "created_at",
        "output",
        "remedies",
        "redaction_counts",
    }
)


def _arrow_type(name: str) -> pa.DataType:
    if name in TIME_FIELDS:
        return _TIMESTAMP
    if name == "remedies":
        return pa.list_(pa.string())
    if name == "redaction_counts":
        return pa.struct([pa.field(kind, pa.int32(), nullable=False) for kind in REDACTION_KINDS])
    return pa.string()


_METADATA = {b"redress.schema_version": SCHEMA_VERSION.encode()}
RECORD_SCHEMA = pa.schema(
    [pa.field(name, _arrow_type(name), nullable=name not in _REQUIRED) for name in RECORD_FIELDS],
    metadata=_METADATA,
)
PAIR_SCHEMA = pa.schema(
    [
        pa.field(name, pa.string(), nullable=name in ("model_slug", "model_version"))
        for name in PAIR_FIELDS
    ],
    metadata=_METADATA,
)


def write(
    fmt: ExportFormat,
    records: Iterable[dict],
    folder: Path,
    *,
    on_record: OnRecord | None = None,
    license: str = "other",
) -> list[str]:
    """Write ``records`` into ``folder`` (which exists) in a format taken record by record (CSV,
    preference pairs, the Hugging Face folder); return the files it made, relative to the
    folder, in the order written. ``license`` goes into a dataset card. JSONL and Parquet take
    the records a batch at a time: ``write_jsonl_columns``, ``write_parquet_columns``."""
    on_record = on_record or _ignore
    if fmt is ExportFormat.HUGGING_FACE:
        return write_hugging_face(records, folder, on_record=on_record, license=license)
    return SINGLE_FILE_WRITERS[fmt](records, folder, on_record=on_record)


def _ignore(_record: dict) -> None:
    pass


def json_line(value: dict) -> bytes:
    """One line of JSON Lines, in UTF-8 (text as written, not escaped; every line break
    inside a string is escaped). orjson: the standard library's encoder took a quarter of an
    export's time (bench/README.md, "Feedback exports")."""
    return orjson.dumps(value) + b"\n"


def write_pairs(records: Iterable[dict], folder: Path, *, on_record: OnRecord) -> list[str]:
    with (folder / "pairs.jsonl").open("wb") as out:
        for record in records:
            pair = preference_pair(record)
            if pair is not None:
                out.write(json_line(pair))
            on_record(record)
    return ["pairs.jsonl"]


def write_csv(records: Iterable[dict], folder: Path, *, on_record: OnRecord) -> list[str]:
    # newline="": the csv module writes its own line ends, and quotes the ones inside cells.
    with (folder / "records.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for record in records:
            writer.writerow(csv_row(record))
            on_record(record)
    return ["records.csv"]


def csv_row(record: dict) -> list:
    cells = []
    for name in RECORD_FIELDS:
        value = record[name]
        if name == "redaction_counts":
            cells.extend(value[kind] for kind in REDACTION_KINDS)
        elif name == "remedies":
            cells.append(json.dumps(value, ensure_ascii=False))
        elif value is None:
            cells.append("")
        else:
            cells.append(neutralise(value))
    return cells


def neutralise(text: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula: also when the formula
    follows spaces, or starts with a full-width sign, which some spreadsheets read as one."""
    risky = text.startswith(_FORMULA_STARTS) or text.lstrip().startswith(
        _FORMULA_STARTS + _FULL_WIDTH_STARTS
    )
    return CSV_FORMULA_GUARD + text if risky else text


# The full-width equals, plus, minus and commercial at.
_FULL_WIDTH_STARTS = ("\uff1d", "\uff0b", "\uff0d", "\uff20")


class ParquetFile:
    """One Parquet file written a row group at a time; opened on the first row.

    Rows are records as every format has them (times as ISO 8601 text); each row group is
    built column by column, and its time columns are cast to the schema's timestamps by Arrow
    in one go (parsing them one by one in Python cost more than the rest of the export).
    """

    def __init__(self, path: Path, schema: pa.Schema):
        self.path = path
        self.schema = schema
        self.rows = 0
        # The rows' size in Arrow (the dataset card's num_bytes).
        self.arrow_bytes = 0
        self._writer: pq.ParquetWriter | None = None
        # Rows added one by one, then (in order) batches already in Arrow.
        self._pending: dict[str, list] = {name: [] for name in schema.names}
        self._batches: list[pa.RecordBatch] = []
        self._pending_rows = 0

    def add(self, row: dict) -> None:
        for name, values in self._pending.items():
            values.append(row[name])
        self._added(1)

    def add_columns(self, columns: dict[str, list]) -> None:
        """Rows given column by column (feedback.record_batches), turned into Arrow at once."""
        self._to_arrow()  # rows added one by one before these come first
        batch = pa.RecordBatch.from_arrays(
            [_arrow_array(field, columns[field.name]) for field in self.schema],
            schema=self.schema,
        )
        self._batches.append(batch)
        self._added(batch.num_rows)

    def _added(self, rows: int) -> None:
        self.rows += rows
        self._pending_rows += rows
        if self._pending_rows >= ROW_GROUP_SIZE:
            self._flush()

    def close(self) -> None:
        """Write what is pending and close; a file with no row is still written (its schema)."""
        self._flush()
        if self._writer is None:
            self._open()
        self._writer.close()

    def abandon(self) -> None:
        """Close without writing what is pending (the export failed: its files go)."""
        if self._writer is not None:
            self._writer.close()
        self._forget_pending()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(
            self.path,
            self.schema,
            compression="zstd",
            # Dictionaries and min/max statistics for the short, repeated values only: on
            # free text they cost time and save nothing.
            use_dictionary=[name for name in self.schema.names if name not in FREE_TEXT],
            write_statistics=[name for name in self.schema.names if name not in FREE_TEXT],
        )

    def _forget_pending(self) -> None:
        self._pending = {name: [] for name in self.schema.names}
        self._batches = []
        self._pending_rows = 0

    def _to_arrow(self) -> None:
        """Turn the rows added one by one into an Arrow batch, behind those before them."""
        rows = len(self._pending[self.schema.names[0]])
        if rows:
            self._batches.append(
                pa.RecordBatch.from_arrays(
                    [_arrow_array(field, self._pending[field.name]) for field in self.schema],
                    schema=self.schema,
                )
            )
            self._pending = {name: [] for name in self.schema.names}

    def _flush(self) -> None:
        if not self._pending_rows:
            return
        if self._writer is None:
            self._open()
        self._to_arrow()
        table = pa.Table.from_batches(self._batches, schema=self.schema)
        self._writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
        self.arrow_bytes += table.nbytes
        self._forget_pending()


# The record's free text: never dictionary-encoded nor given statistics in Parquet.
FREE_TEXT = frozenset(
    {"record_id", "output", "input", "expected_output", "prompt", "chosen", "rejected"}
)


def _arrow_array(field: pa.Field, values: list) -> pa.Array:
    if pa.types.is_timestamp(field.type):
        # "2026-11-28T04:43:52Z": Arrow reads ISO 8601 with its zone.
        seconds = pa.timestamp("s", tz="UTC")
        return pa.array(values, pa.string()).cast(seconds).cast(field.type)
    return pa.array(values, field.type)


def write_jsonl_columns(
    batches: Iterable[dict[str, list]], folder: Path, *, on_batch: OnBatch
) -> list[str]:
    """``records.jsonl``: one record a line, from records given a batch at a time, column by
    column; each batch's lines written at once."""
    with (folder / "records.jsonl").open("wb") as out:
        for columns in batches:
            names = tuple(columns)
            out.write(
                b"".join(
                    orjson.dumps(dict(zip(names, values, strict=True)), option=_LINE)
                    for values in zip(*columns.values(), strict=True)
                )
            )
            on_batch(columns)
    return ["records.jsonl"]


_LINE = orjson.OPT_APPEND_NEWLINE


def write_parquet_columns(
    batches: Iterable[dict[str, list]], folder: Path, *, on_batch: OnBatch
) -> list[str]:
    """``records.parquet``, from records given a batch at a time, column by column
    (feedback.record_batches), without a dictionary per record."""
    target = ParquetFile(folder / "records.parquet", RECORD_SCHEMA)
    try:
        for columns in batches:
            target.add_columns(columns)
            on_batch(columns)
    except BaseException:
        target.abandon()
        raise
    target.close()
    return ["records.parquet"]


def write_hugging_face(
    records: Iterable[dict], folder: Path, *, on_record: OnRecord, license: str = "other"
) -> list[str]:
    """The dataset folder: a Parquet file per split of records and of pairs, and the card
    (written last: it states what the data files hold)."""
    data = {
        split: ParquetFile(folder / "data" / f"{split}.parquet", RECORD_SCHEMA)
        for split in SPLIT_NAMES
    }
    pairs = {
        split: ParquetFile(folder / "pairs" / f"{split}.parquet", PAIR_SCHEMA)
        for split in SPLIT_NAMES
    }
    facts = CardFacts(license=license)
    try:
        for record in records:
            data[record["split"]].add(record)
            pair = preference_pair(record)
            if pair is not None:
                pairs[pair["split"]].add(pair)
            facts.add(record)
            on_record(record)
    except BaseException:
        for target in (*data.values(), *pairs.values()):
            target.abandon()
        raise
    written = []
    for files in (data, pairs):
        for split in SPLIT_NAMES:
            target = files[split]
            if target.rows:  # datasets refuses a split with no rows
                target.close()
                written.append(target.path.relative_to(folder).as_posix())
    facts.splits = _split_sizes(data)
    facts.pair_splits = _split_sizes(pairs)
    (folder / "README.md").write_text(dataset_card(facts), encoding="utf-8", newline="\n")
    written.append("README.md")
    return written


def _split_sizes(files: dict[str, ParquetFile]) -> dict[str, tuple[int, int]]:
    """(rows, bytes in Arrow) of each split that has rows."""
    return {
        split: (target.rows, target.arrow_bytes) for split, target in files.items() if target.rows
    }


# The formats of one file (the Hugging Face folder, with its card, is written on its own).
SINGLE_FILE_WRITERS: dict[ExportFormat, Callable[..., list[str]]] = {
    ExportFormat.CSV: write_csv,
    ExportFormat.PREFERENCE_PAIRS: write_pairs,
}


# The dataset card ------------------------------------------------------------------------------


class CardFacts:
    """What the card says about the data, gathered while the records go by."""

    def __init__(self, *, license: str):
        self.license = license
        self.records = 0
        self.languages: set[str] = set()
        self.kinds: Counter[str] = Counter()
        self.redaction_counts: dict[str, int] = dict.fromkeys(REDACTION_KINDS, 0)
        # split: (rows, bytes in Arrow), for the splits that have rows
        self.splits: dict[str, tuple[int, int]] = {}
        self.pair_splits: dict[str, tuple[int, int]] = {}

    def add(self, record: dict) -> None:
        self.records += 1
        self.languages.add(record["language"])
        self.kinds[record["kind"]] += 1
        self.redaction_counts = redaction.add_counts(
            self.redaction_counts, record["redaction_counts"]
        )

    @property
    def pairs(self) -> int:
        return sum(rows for rows, _bytes in self.pair_splits.values())


# docs/redaction.md, "Measured" (a synthetic corpus of 320 reports in eight languages), by the
# rules version measured: the card quotes the figures only while that version is in force.
MEASURED_REDACTION = {
    1: {
        "structured_surviving": "0 of 1,920",
        "reporter_surviving": "0 of 1,212",
        "third_party_surviving": "449 of 449 (100 %)",
    },
}


# The Hub's size categories: (upper bound, name); past the last, "n>1T".
SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
    (10_000_000_000, "1B<n<10B"),
    (100_000_000_000, "10B<n<100B"),
    (1_000_000_000_000, "100B<n<1T"),
)


def size_category(count: int) -> str:
    for bound, name in SIZE_CATEGORIES:
        if count < bound:
            return name
    return "n>1T"


def card_languages(locales: Iterable[str]) -> list[str]:
    """The Hub's language codes: a locale's language alone (pt-BR, pt_PT: pt)."""
    return sorted({locale.replace("_", "-").split("-")[0].lower() for locale in locales})


def hf_features(schema: pa.Schema) -> list[dict]:
    """``dataset_info`` features in the YAML form ``datasets`` writes, from an Arrow schema."""
    return [_hf_feature(field.name, field.type) for field in schema]


def _hf_feature(name: str, arrow_type: pa.DataType) -> dict:
    if pa.types.is_list(arrow_type):
        return {"name": name, "list": str(arrow_type.value_type)}
    if pa.types.is_struct(arrow_type):
        return {
            "name": name,
            "struct": [_hf_feature(child.name, child.type) for child in arrow_type],
        }
    if pa.types.is_timestamp(arrow_type):
        return {"name": name, "dtype": f"timestamp[{arrow_type.unit}, tz={arrow_type.tz}]"}
    return {"name": name, "dtype": str(arrow_type)}


def card_metadata(facts: CardFacts) -> dict:
    """The card's YAML front matter, as data."""
    metadata: dict = {"license": facts.license}
    languages = card_languages(facts.languages)
    if languages:
        metadata["language"] = languages
    metadata.update(
        {
            "size_categories": [size_category(facts.records)],
            "task_categories": ["text-classification", "text-generation"],
            "tags": ["ai-safety", "human-feedback", "redress"],
            "pretty_name": "Redress feedback",
        }
    )
    configs, infos = [], []
    for name, directory, schema, splits in (
        ("default", "data", RECORD_SCHEMA, facts.splits),
        ("preference_pairs", "pairs", PAIR_SCHEMA, facts.pair_splits),
    ):
        if not splits:  # nothing to load: datasets refuses a configuration without data
            continue
        configs.append(
            {
                "config_name": name,
                "data_files": [
                    {"split": split, "path": f"{directory}/{split}.parquet"} for split in splits
                ],
            }
        )
        infos.append(
            {
                "config_name": name,
                "features": hf_features(schema),
                "splits": [
                    {"name": split, "num_bytes": size, "num_examples": rows}
                    for split, (rows, size) in splits.items()
                ],
            }
        )
    if configs:
        metadata["configs"] = configs
        metadata["dataset_info"] = infos
    return metadata


def to_yaml(value, indent: int = 0) -> str:
    """Block YAML for dicts, lists and scalars; every scalar is written as JSON (which YAML
    reads as the same value), so no text can change the structure."""
    pad = " " * indent
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{key}:\n{to_yaml(item, indent + 2)}")
            else:
                lines.append(f"{pad}{key}: {_yaml_scalar(item)}")
        return "\n".join(lines)
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, dict) and item:
                body = to_yaml(item, indent + 2)
                lines.append(f"{pad}- {body[indent + 2 :]}")
            else:
                lines.append(f"{pad}- {_yaml_scalar(item)}")
        return "\n".join(lines)
    return pad + _yaml_scalar(value)


def _yaml_scalar(value) -> str:
    if isinstance(value, dict | list):  # empty
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value, ensure_ascii=False)


def dataset_card(facts: CardFacts) -> str:
    """README.md: the YAML front matter, then the prose."""
    parts = ["---", to_yaml(card_metadata(facts)), "---", ""]
    for number, (title, paragraphs) in enumerate(card_sections(facts)):
        parts.extend([f"{'#' if number == 0 else '##'} {title}", ""])
        for paragraph in paragraphs:
            parts.extend([paragraph, ""])
    return "\n".join(parts)


def card_sections(facts: CardFacts) -> list[tuple[str, list[str]]]:
    """The card's fixed text, section by section: every sentence a translator will see is here,
    with named placeholders (``%(name)s``) for what changes from one export to the next."""
    # Numbers and language names in the card's language; split names and redaction kinds are
    # the data's own identifiers (`train`, `email`), as the files spell them.
    values = {
        "records": format_number(facts.records),
        "pairs": format_number(facts.pairs),
        "splits": ", ".join(
            f"{split} {format_number(rows)}" for split, (rows, _size) in facts.splits.items()
        )
        or "-",
        "languages": ", ".join(sorted(language_name(code) for code in facts.languages)) or "-",
        "harm_reports": format_number(facts.kinds["harm_report"]),
        "disputes": format_number(facts.kinds["output_dispute"]),
        "schema_version": SCHEMA_VERSION,
        "schema_path": SCHEMA_PATH,
        "rules_version": redaction.RULES_VERSION,
        "redacted": ", ".join(
            f"{kind} {format_number(count)}"
            for kind, count in facts.redaction_counts.items()
            if count
        )
        or _("none"),
        "license": facts.license,
    }
    measured = MEASURED_REDACTION.get(redaction.RULES_VERSION)
    if measured is None:
        how_well = N_(
            "These rules have not been measured yet; see docs/redaction.md in the Redress "
            "repository for how they are measured."
        )
    else:
        values.update(measured)
        how_well = N_(
            "Measured on a synthetic corpus of 320 reports in eight languages "
            "(docs/redaction.md in the Redress repository, rules version %(rules_version)s): "
            "planted e-mail addresses, phone numbers, IP addresses, secret URLs, card and bank "
            "numbers surviving: %(structured_surviving)s; the reporter's own name and e-mail "
            "address surviving: %(reporter_surviving)s; names of other people surviving: "
            "%(third_party_surviving)s."
        )
    sections = [
        (
            N_("Redress feedback"),
            [
                N_(
                    "Reports of harm caused by AI model outputs, and disputes of such outputs, "
                    "sent by the people affected through a Redress portal and exported, with their "
                    "consent, to improve the next versions of the models concerned."
                ),
                N_(
                    "- Records: %(records)s (harm reports: %(harm_reports)s, disputes: "
                    "%(disputes)s)\n"
                    "- Splits: %(splits)s\n"
                    "- Preference pairs: %(pairs)s\n"
                    "- Languages: %(languages)s\n"
                    "- Licence: %(license)s"
                ),
            ],
        ),
        (
            N_("Dataset structure"),
            [
                N_(
                    "Configuration `default`: one record per report, following the Redress "
                    "feedback record schema, version %(schema_version)s (`%(schema_path)s` in the "
                    "Redress repository describes every field). Configuration "
                    "`preference_pairs`: for disputes that state what the output should have "
                    "been, the prompt, that expected output (`chosen`) and the model's original "
                    "output (`rejected`)."
                ),
                N_(
                    "Each record's split (train, validation, test: about 80, 10 and 10 per cent) "
                    "follows from its id alone, so a record stays in the same split from one "
                    "export to the next. Record ids are stable pseudonyms: a record exported "
                    "again replaces the earlier copy with the same id."
                ),
            ],
        ),
        (
            N_("How the data was collected"),
            [
                N_(
                    "People who were harmed by an AI model's output, or who dispute one, reported "
                    "it on a public form: the output as they saw it, optionally the prompt, and "
                    "for disputes what they expected. Staff then triaged each report (a severity), "
                    "decided on it (an outcome and remedies) and the reporter could appeal and say "
                    "whether the decision resolved their concern; records carry those structured "
                    "labels, never the staff's or the reporter's other free text."
                ),
            ],
        ),
        (
            N_("Consent"),
            [
                N_(
                    "Only reports whose reporter agreed, on the form, to the use of their report "
                    "to improve AI models are exported. A reporter may take that consent back at "
                    "any time, or have their data erased; reports found to be spam, merged into "
                    "another or withdrawn leave the exports too. Later exports then list the ids "
                    "of such records in `tombstones.txt`: whoever holds this dataset must delete "
                    "those records, and any copy or derivative of them, on receiving it."
                ),
            ],
        ),
        (
            N_("Redaction"),
            [
                N_(
                    "Contact details are never exported. In the output, the prompt and the "
                    "expected output, personal data was replaced by typed placeholders before "
                    "export (redaction rules version %(rules_version)s): e-mail addresses "
                    "[EMAIL], phone numbers [PHONE], IP addresses [IP], URLs that carry "
                    "credentials or tokens [URL], payment card numbers [CARD], bank account "
                    "numbers [IBAN], and the reporter's own name [NAME]. Each record counts what "
                    "was replaced (`redaction_counts`); over this export: %(redacted)s."
                ),
                N_(
                    "Redaction is automatic and imperfect. Names of people other than the "
                    "reporter are not looked for at all: they survive. So do postal addresses, "
                    "obfuscated e-mail addresses (name at example dot com), phone numbers in some "
                    "national formats or written in words, and details that identify someone "
                    "indirectly. Some harmless values are over-redacted (long numbers taken for "
                    "phone numbers, four-part versions for IP addresses, common words that are "
                    "part of the reporter's name)."
                ),
                how_well,
            ],
        ),
        (
            N_("Known limitations"),
            [
                N_(
                    "The reports come from people who found the portal and chose to write: they "
                    "are not a sample of model outputs, nor of harms, and some models, languages "
                    "and kinds of harm are over-represented. Outputs are as the reporter copied "
                    "them and may be incomplete or altered; reporters' severities are their own "
                    "view, staff's a judgement under the portal's policy at the time."
                ),
                N_(
                    "The text may describe or quote harmful content (dangerous instructions, "
                    "harassment, self-harm). A decision can be reversed on appeal; a record "
                    "carries the decision in force when it was exported."
                ),
            ],
        ),
    ]
    # Translated here, in the language of whoever asked for the export (force_locale).
    # Only text with placeholders is formatted: a translation may write "80 %" where the
    # English has none.
    return [
        (_(title), [_(text) % values if "%(" in text else _(text) for text in texts])
        for title, texts in sections
    ]
