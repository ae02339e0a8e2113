"""Bulk import of consent events from a CSV file: the whole file is checked, then written in one transaction.

A row is one consent event, with the rules of ``do_record_consent`` (the one-event path): the subject by
``external_id`` (hashed here) or by ``pseudonym``, a known ``purpose``, a ``kind`` of given, withdrawn or expired,
an ``occurred_at`` with a timezone offset, ``expires_at`` only on a consent given, and a withdrawal or expiry only
for a consent given before it (earlier in the file by ``occurred_at``, or in the database). An erased subject
cannot give consent again. Every problem is collected before anything is written, and the first few are reported
with their row and column; one problem and nothing is written.

The batch is written at once: its ``ConsentImport`` row (the file's SHA-256 and counts), the subjects not seen
before, every event, one trail event for the whole batch, and the findings that the withdrawals open on models
trained on the withdrawn subjects' data. A million rows take seconds, not hours
(``benchmarks/bench_consent_import.py``), because the file is parsed and checked column by column with pyarrow,
each distinct subject id is hashed once, and the rows go to the database in large batches (``executemany`` on
SQLite, ``COPY`` on PostgreSQL) that store exactly what the ORM would have stored.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from itertools import repeat
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from governance.access.actions import require_role
from governance.access.models import User
from governance.data import crypto, events
from governance.data.actions import CONSENT_KEEPERS, DataError, open_impact_findings, pseudonym_key
from governance.data.models import ConsentEvent, ConsentImport, ConsentKind, Purpose, Subject
from governance.trail.log import Actor, record_event

ID_COLUMNS = ("external_id", "pseudonym")  # exactly one of them
REQUIRED_COLUMNS = ("purpose", "kind", "occurred_at")
TEXT_COLUMNS = ("source", "notice_version", "controller", "collection_method", "jurisdiction")
OPTIONAL_COLUMNS = ("expires_at", *TEXT_COLUMNS, "pii_categories")
COLUMNS = (*ID_COLUMNS, *REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
PII_SEPARATOR = ";"
MAX_REPORTED_PROBLEMS = 20

_KINDS = tuple(ConsentKind.values)
_WITHDRAWALS = (ConsentKind.WITHDRAWN, ConsentKind.EXPIRED)
_MAX_LENGTHS = {f.name: int(f.max_length or 0) for f in ConsentEvent._meta.concrete_fields if f.name in TEXT_COLUMNS}
_EXAMPLE_TIME = "e.g. 2026-05-01T09:30:00+02:00 or 2026-05-01T07:30:00Z"
# ISO 8601 date and time with an offset, to the microsecond; pyarrow then parses what has this shape (and refuses
# impossible dates such as 2026-02-30). A shape without the offset is named as such, since that is the usual slip.
_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}(:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}(:?\d{2})?)$"
_WITHOUT_OFFSET = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}(:\d{2}(:\d{2}([.,]\d+)?)?)?)?$"
_PSEUDONYM = r"^[0-9a-f]{64}$"
_CHUNK = 50_000  # rows per executemany / per slice written to COPY: bounded memory, few round trips
_IN_CHUNK = 900  # values per IN (...) query, below SQLite's parameter limit
# The longest header a consent file needs: every column named, quoted, with room for padding. Not a setting: the
# format fixes its columns.
_HEADER_MAX_BYTES = 4096


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did: its batch, how many rows withdrew or expired a consent, and the findings opened."""

    batch: ConsentImport
    withdrawals: int
    findings: list[Any]


def do_import_consent_csv(*, user: User, actor: Actor, path: Path, file_name: str = "") -> ConsentImport:
    """Import the consent events of a CSV file in one transaction (all rows or none); see the module's docstring."""
    return import_consent_file(user=user, actor=actor, path=path, file_name=file_name).batch


def import_consent_file(*, user: User, actor: Actor, path: Path, file_name: str = "") -> ImportOutcome:
    """``do_import_consent_csv``, answering also the withdrawals counted and the findings opened."""
    require_role(user, CONSENT_KEEPERS, "import consent", error=DataError)
    with path.open("rb") as handle:
        sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
    purposes = dict(Purpose.objects.values_list("code", "pk"))
    parsed = parse_consent_csv(path, purposes=purposes, key=pseudonym_key())
    with transaction.atomic():
        # Checked inside the transaction that writes, so that what was checked is what is written over.
        _check_against_database(parsed)
        batch = ConsentImport.objects.create(
            sha256=sha256,
            file_name=file_name[:255],
            row_count=parsed.rows,
            subject_count=len(parsed.subjects),
            created_by=user,
        )
        now = timezone.now()
        _insert_subjects(parsed.subjects, now=now)
        _insert_events(parsed, batch=batch, now=now)
        withdrawals = int(parsed.withdrawal_mask().sum())
        record_event(
            events.CONSENT_IMPORTED,
            actor=actor,
            obj=batch,
            payload={
                "batch": batch.pk,
                "sha256": sha256,
                "rows": parsed.rows,
                "subjects": len(parsed.subjects),
                "withdrawals": withdrawals,
            },
        )
        findings = []
        for code, change, pseudonyms in parsed.withdrawn_by_purpose():
            findings += open_impact_findings(
                pseudonyms, kind="consent_withdrawn", detail={"purpose": code, "change": change}, actor=actor
            )
    return ImportOutcome(batch=batch, withdrawals=withdrawals, findings=findings)


# --- reading and checking the file -----------------------------------------------------------------------------


class _Problems:
    """Problems found so far: all counted, the first few (by row) kept to be reported."""

    def __init__(self) -> None:
        self.total = 0
        self.kept: list[tuple[int, int, str, str]] = []  # (row or line, column order, column, text)
        self.notes: list[str] = []

    def add(self, where: int, column: str, text: str) -> None:
        """One problem; call in file order (only the first few are kept)."""
        self.total += 1
        if len(self.kept) < MAX_REPORTED_PROBLEMS:
            self.kept.append((where, _order(column), column, text))

    def flag(self, mask: Any, column: str, describe: Callable[[int], str]) -> None:
        """One problem per row where the boolean ``mask`` is true; ``describe(index)`` says what is wrong."""
        import pyarrow.compute as pc

        count = pc.sum(mask).as_py() or 0
        if not count:
            return
        self.total += count
        for index in pc.indices_nonzero(mask).slice(0, MAX_REPORTED_PROBLEMS).to_pylist():
            self.kept.append((index + 1, _order(column), column, f"row {index + 1}, {column}: {describe(index)}"))

    def raise_if_any(self) -> None:
        if not self.total:
            return
        self.kept.sort(key=lambda problem: problem[:2])
        shown = self.kept[:MAX_REPORTED_PROBLEMS]
        count = f"{self.total} problem{'s' if self.total > 1 else ''}"
        more = f"; the first {len(shown)} are listed" if self.total > len(shown) else ""
        lines = [f"The file was not imported ({count}{more}):", *(f"- {text}" for *_, text in shown), *self.notes]
        raise DataError("\n".join(lines), code="invalid_file", field=shown[0][2] or "file")


def _order(column: str) -> int:
    return COLUMNS.index(column) if column in COLUMNS else -1


def _show(value: Any) -> str:
    """A value quoted for a message (an arrow scalar as its Python value), cut short if long."""
    text = str(value.as_py() if hasattr(value, "as_py") else value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


@dataclass
class ParsedConsent:
    """A checked file, column by column (pyarrow arrays of one row per event, in file order)."""

    rows: int
    subjects: Any  # the distinct pseudonyms, a string array
    subject_index: Any  # per row, the index of its pseudonym in ``subjects``
    purpose_codes: list[str]
    purpose_pks: list[int]
    purpose_index: Any  # per row, the index of its purpose in ``purpose_codes``
    kind: Any
    occurred_at: Any  # timestamp[us, UTC]
    expires_at: Any  # timestamp[us, UTC], null where not given
    text: dict[str, Any]  # TEXT_COLUMNS that the file has
    pii_json: Any  # per row, the JSON list the ORM would store
    id_column: str  # external_id or pseudonym, as the file names subjects
    # Rows withdrawing a consent that the file does not give before them: the database must have given it.
    unmatched_withdrawals: Any = None

    def withdrawal_mask(self) -> Any:
        import numpy as np
        import pyarrow.compute as pc

        return np.asarray(pc.is_in(self.kind, value_set=_string_array(_WITHDRAWALS)))

    def withdrawn_by_purpose(self) -> Iterator[tuple[str, str, set[str]]]:
        """(purpose code, change, pseudonyms) for each purpose and kind of withdrawal that the file holds."""
        import pyarrow.compute as pc

        for index, code in enumerate(self.purpose_codes):  # sorted by code
            for change in _WITHDRAWALS:
                rows = pc.and_(pc.equal(self.purpose_index, index), pc.equal(self.kind, change.value))
                if pc.any(rows).as_py():
                    members = pc.unique(pc.filter(self.subject_index, rows))
                    yield code, change.value, set(self.subjects.take(members).to_pylist())


def _string_array(values: Iterable[str]) -> Any:
    import pyarrow as pa

    return pa.array([str(v) for v in values], pa.string())


def pseudonyms_of(external_ids: Iterable[str], *, key: bytes) -> list[str]:
    """``crypto.pseudonym`` of each id, or "" for an id that is empty once normalised.

    A tight loop over OpenSSL's one-shot HMAC; an ASCII id is already in NFC, so only its whitespace is stripped
    (the result is the same as ``crypto.normalise_external_id``).
    """
    digest = hmac.digest
    found = []
    for value in external_ids:
        normalised = value.strip() if value.isascii() else crypto.normalise_external_id(value)
        found.append(digest(key, normalised.encode("utf-8"), "sha256").hex() if normalised else "")
    return found


def parse_consent_csv(path: Path, *, purposes: dict[str, int], key: bytes) -> ParsedConsent:
    """Read and check a consent CSV against the known ``purposes`` (code -> pk); DataError lists what is wrong.

    Row numbers in messages count data rows from 1 (the header is not a row); a problem that stops the file from
    being read at all (invalid UTF-8, a row with the wrong number of fields) names the line of the file instead.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    header = _read_header(path)
    table = _read_table(path, header).combine_chunks()  # one array per column; the chunks are let go
    if table.num_rows == 0:
        raise DataError("The file has a header but no rows.", code="invalid_file", field="file")
    columns = {name: table.column(name).chunk(0) for name in header}
    problems = _Problems()

    id_column = "external_id" if "external_id" in columns else "pseudonym"
    row_pseudonyms = _check_subjects(columns[id_column], id_column, problems, key=key)
    codes = sorted(purposes)
    purpose_index = _check_purposes(columns["purpose"], codes, problems)
    kind = columns["kind"]
    problems.flag(
        pc.invert(pc.is_in(kind, value_set=_string_array(_KINDS))),
        "kind",
        lambda i: f"{_show(kind[i])} is not one of {', '.join(_KINDS)}",
    )
    occurred_at = _parse_times(columns["occurred_at"], "occurred_at", problems, required=True)
    if "expires_at" in columns:
        expires_at = _parse_times(columns["expires_at"], "expires_at", problems, required=False)
        stray = pc.and_(pc.not_equal(columns["expires_at"], ""), pc.not_equal(kind, ConsentKind.GIVEN.value))
        problems.flag(stray, "expires_at", lambda i: f"only a consent given can expire; this row is {_show(kind[i])}")
    else:
        expires_at = pa.nulls(table.num_rows, pa.timestamp("us", tz="UTC"))
    text = {name: columns[name] for name in TEXT_COLUMNS if name in columns}
    _check_text(columns, problems)
    problems.raise_if_any()

    # The distinct subjects in sorted order, so that rows written subject by subject reach the indexes in key order.
    encoded = pc.dictionary_encode(row_pseudonyms)
    order = np.asarray(pc.sort_indices(encoded.dictionary))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    parsed = ParsedConsent(
        rows=table.num_rows,
        subjects=encoded.dictionary.take(order),
        subject_index=pa.array(rank[encoded.indices.to_numpy()]),
        purpose_codes=codes,
        purpose_pks=[purposes[code] for code in codes],
        purpose_index=purpose_index,
        kind=kind,
        occurred_at=occurred_at,
        expires_at=expires_at,
        text=text,
        pii_json=_pii_json(columns.get("pii_categories"), table.num_rows),
        id_column=id_column,
    )
    parsed.unmatched_withdrawals = _withdrawals_not_given_in_file(parsed)
    return parsed


def _check_subjects(ids: Any, column: str, problems: _Problems, *, key: bytes) -> Any:
    """Per row, the subject's pseudonym: each distinct external id hashed once, or a pseudonym checked."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column == "external_id":
        encoded = pc.dictionary_encode(ids)
        hashed = pa.array(pseudonyms_of(encoded.dictionary.to_pylist(), key=key), pa.string())
        pseudonyms = pc.take(hashed, encoded.indices)
        problems.flag(pc.equal(pseudonyms, ""), column, lambda i: "is empty")
        return pseudonyms
    pseudonyms = pc.utf8_lower(pc.utf8_trim_whitespace(ids))
    empty = pc.equal(pseudonyms, "")
    problems.flag(empty, column, lambda i: "is empty")
    malformed = pc.and_(pc.invert(empty), pc.invert(pc.match_substring_regex(pseudonyms, _PSEUDONYM)))
    problems.flag(malformed, column, lambda i: f"{_show(ids[i])} is not a pseudonym (64 hexadecimal digits)")
    return pseudonyms


def _check_purposes(values: Any, codes: list[str], problems: _Problems) -> Any:
    """Per row, the index of its purpose in ``codes`` (null where unknown, and the unknown ones listed)."""
    import pyarrow.compute as pc

    index = pc.index_in(values, value_set=_string_array(codes))
    unknown = pc.is_null(index)
    problems.flag(unknown, "purpose", lambda i: f"unknown purpose {_show(values[i])}")
    if pc.any(unknown).as_py():
        missing = sorted(pc.unique(pc.filter(values, unknown)).to_pylist())
        listed = ", ".join(_show(code) for code in missing[:MAX_REPORTED_PROBLEMS])
        known = ", ".join(codes) or "none defined yet"
        problems.notes.append(f"Unknown purposes: {listed}. Known purposes: {known}.")
    return index


def _check_text(columns: dict[str, Any], problems: _Problems) -> None:
    """Free-text columns fit their database columns and hold no NUL (which PostgreSQL cannot store)."""
    import pyarrow.compute as pc

    for name, limit in _MAX_LENGTHS.items():
        if name in columns:
            lengths = pc.utf8_length(columns[name])
            problems.flag(pc.greater(lengths, limit), name, partial(_too_long, lengths=lengths, limit=limit))
    for name in (*TEXT_COLUMNS, "pii_categories"):
        if name in columns:
            problems.flag(pc.match_substring(columns[name], "\x00"), name, lambda i: "contains a NUL character")


def _too_long(index: int, *, lengths: Any, limit: int) -> str:
    return f"is longer than {limit} characters ({lengths[index].as_py()})"


def _read_header(path: Path) -> list[str]:
    """The column names, checked: known, each once, one subject column, every required one.

    The format has len(COLUMNS) columns, so the line read and the names counted are bounded by what a header of
    those columns can be: a header of a million columns is refused by its count, without reading it all.
    """
    with path.open("rb") as handle:
        first = handle.readline(_HEADER_MAX_BYTES + 1)
    if len(first) > _HEADER_MAX_BYTES:
        raise DataError(
            f"The header (line 1) is longer than {_HEADER_MAX_BYTES:,} bytes; a consent file has at most "
            f"{len(COLUMNS)} columns: {', '.join(COLUMNS)}.",
            code="invalid_file",
            field="file",
        )
    if not first.strip():
        message = "The file is empty." if not first else "The first line must be the header (the column names)."
        raise DataError(message, code="invalid_file", field="file")
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("Line 1 is not valid UTF-8 (save the file as UTF-8).", code="invalid_file") from None
    names = next(csv.reader([text]))
    if len(names) > len(COLUMNS):
        raise DataError(
            f"The header (line 1) has {len(names):,} columns; a consent file has at most {len(COLUMNS)}: "
            f"{', '.join(COLUMNS)}.",
            code="invalid_file",
            field="file",
        )
    problems = []
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        problems.append(f"unknown columns {', '.join(map(_show, unknown))} (the columns are {', '.join(COLUMNS)})")
    counts = Counter(names)  # linear: names.count(name) for each name was quadratic
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        problems.append(f"columns named twice: {', '.join(repeated)}")
    ids = [name for name in ID_COLUMNS if name in names]
    if len(ids) != 1:
        problems.append("give the subject in exactly one column, external_id or pseudonym")
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        problems.append(f"missing required columns {', '.join(missing)}")
    if problems:
        raise DataError(f"The header (line 1) is not right: {'; '.join(problems)}.", code="invalid_file", field="file")
    return names


def _read_table(path: Path, header: list[str]) -> Any:
    """Every column as strings (empty cells as ""), or DataError naming the lines that cannot be read."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    ragged = 0

    def count_ragged(row: Any) -> str:
        nonlocal ragged
        ragged += 1
        return "skip"

    try:
        table = pcsv.read_csv(
            path,
            parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=count_ragged),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc):
            _raise_invalid_utf8(path)
        raise DataError(f"The file cannot be read as CSV: {exc}", code="invalid_file", field="file") from None
    if ragged:
        _raise_ragged(path, count=ragged)
    if table.column_names != header:
        raise DataError(
            f"The header could not be read as written ({', '.join(table.column_names)}).",
            code="invalid_file",
            field="file",
        )
    return table


def _raise_invalid_utf8(path: Path) -> None:
    problems = _Problems()
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.add(number, "", f"line {number}: byte {exc.start + 1} is not valid UTF-8")
    problems.notes.append("Save the file as UTF-8.")
    problems.raise_if_any()


def _raise_ragged(path: Path, *, count: int) -> None:
    """Read again on one thread, which numbers the lines, to say which rows have the wrong number of fields."""
    import pyarrow.csv as pcsv

    problems = _Problems()

    def note(row: Any) -> str:
        fields = f"{row.actual_columns} field{'s' if row.actual_columns != 1 else ''}"
        problems.add(row.number or 0, "", f"line {row.number}: {fields}, the header has {row.expected_columns}")
        return "skip"

    pcsv.read_csv(
        path,
        read_options=pcsv.ReadOptions(use_threads=False),
        parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=note),
    )
    problems.total = max(problems.total, count)
    problems.notes.append("A value holding a comma or a line break must be in double quotes.")
    problems.raise_if_any()


def _parse_times(values: Any, column: str, problems: _Problems, *, required: bool) -> Any:
    """The column as timestamp[us, UTC] (null where empty or wrong), flagging values without an offset."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    empty = pc.equal(values, "")
    if required:
        problems.flag(empty, column, lambda i: f"is empty (a time with a timezone offset is required, {_EXAMPLE_TIME})")
    shaped = pc.match_substring_regex(values, _WITH_OFFSET)
    naive = pc.match_substring_regex(values, _WITHOUT_OFFSET)
    problems.flag(naive, column, lambda i: f"{_show(values[i])} has no timezone offset ({_EXAMPLE_TIME})")
    problems.flag(
        pc.invert(pc.or_(pc.or_(shaped, naive), empty)),
        column,
        lambda i: f"{_show(values[i])} is not an ISO 8601 time ({_EXAMPLE_TIME})",
    )
    candidates = pc.if_else(shaped, values, pa.scalar(None, pa.string()))
    utc = pa.timestamp("us", tz="UTC")
    try:
        return pc.cast(candidates, utc)
    except pa.ArrowInvalid:
        pass
    # Some well-shaped value is not a real time (2026-02-30, 25:00): find which, slice by slice.
    parts, bad = [], []
    for start in range(0, len(candidates), 4096):
        part = candidates.slice(start, 4096)
        try:
            parts.append(pc.cast(part, utc))
            continue
        except pa.ArrowInvalid:
            pass
        singles = []
        for offset, value in enumerate(part.to_pylist()):
            try:
                singles.append(pc.cast(pa.array([value], pa.string()), utc)[0].as_py())
            except pa.ArrowInvalid:
                singles.append(None)
                bad.append(start + offset)
        parts.append(pa.array(singles, utc))
    flags = np.zeros(len(candidates), dtype=bool)
    flags[bad] = True
    problems.flag(pa.array(flags), column, lambda i: f"{_show(values[i])} is not a valid time")
    return pa.concat_arrays(parts)


def _pii_json(values: Any, rows: int) -> Any:
    """Per row, the JSON text the ORM stores for the list of categories (``a; b`` -> ``["a", "b"]``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if values is None:
        return pa.repeat(pa.scalar("[]"), rows)
    encoded = pc.dictionary_encode(values)
    as_json = [json.dumps(pii_categories(value)) for value in encoded.dictionary.to_pylist()]
    return pc.take(pa.array(as_json, pa.string()), encoded.indices)


def pii_categories(value: str) -> list[str]:
    """The categories of a ``pii_categories`` cell: separated by ';', spaces around them and empty ones dropped."""
    return [part.strip() for part in value.split(PII_SEPARATOR) if part.strip()]


def _withdrawals_not_given_in_file(parsed: ParsedConsent) -> Any:
    """A withdrawal or expiry needs a consent given before it for that subject and purpose: in the file (by
    occurred_at, then file order) or else in the database. The rows (indexes) with none before them in the file."""
    import numpy as np

    pair = parsed.subject_index.to_numpy().astype(np.int64) * len(parsed.purpose_codes) + np.asarray(
        parsed.purpose_index.to_numpy(), dtype=np.int64
    )
    times = np.asarray(parsed.occurred_at.cast("int64").to_numpy(), dtype=np.int64)
    given = ~parsed.withdrawal_mask()
    given_rows = np.flatnonzero(given)
    # The earliest consent given for each pair: sort given rows by (pair, time, row) and keep each pair's first.
    ordered = given_rows[np.lexsort((given_rows, times[given_rows], pair[given_rows]))]
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = pair[ordered][1:] != pair[ordered][:-1]
    earliest = ordered[first]
    earliest_pairs = pair[earliest]
    withdrawn = np.flatnonzero(~given)
    at = np.searchsorted(earliest_pairs, pair[withdrawn])
    clipped = np.minimum(at, max(len(earliest) - 1, 0))
    if len(earliest):
        found = (at < len(earliest)) & (earliest_pairs[clipped] == pair[withdrawn])
        before = earliest[clipped]
        in_order = (times[before] < times[withdrawn]) | ((times[before] == times[withdrawn]) & (before < withdrawn))
        covered = found & in_order
    else:
        covered = np.zeros(len(withdrawn), dtype=bool)
    return withdrawn[~covered]


def _check_against_database(parsed: ParsedConsent) -> None:
    """What only the database knows: erased subjects giving consent, and withdrawals of consent given earlier."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    problems = _Problems()
    erased = list(Subject.objects.filter(erased_at__isnull=False).values_list("pseudonym", flat=True))
    if erased:
        erased_subjects = np.asarray(pc.is_in(parsed.subjects, value_set=pa.array(erased, pa.string())))
        giving = ~parsed.withdrawal_mask() & erased_subjects[parsed.subject_index.to_numpy()]
        problems.flag(
            pa.array(giving),
            parsed.id_column,
            lambda i: "this subject was erased; new consent needs a new identity",
        )

    unmatched = parsed.unmatched_withdrawals
    if len(unmatched):
        subjects = parsed.subjects.to_pylist()
        members = parsed.subject_index.to_numpy()[unmatched]
        purposes = parsed.purpose_index.to_numpy()[unmatched]
        times = parsed.occurred_at.cast("int64").to_numpy()[unmatched]
        earliest = _earliest_given_in_database(
            sorted({subjects[i] for i in members.tolist()}), purpose_pks=parsed.purpose_pks
        )
        lacking = np.zeros(parsed.rows, dtype=bool)
        for row, member, purpose, at in zip(unmatched.tolist(), members, purposes, times, strict=True):
            first = earliest.get((subjects[member], parsed.purpose_pks[purpose]))
            if first is None or first > at:
                lacking[row] = True
        kind, codes = parsed.kind, parsed.purpose_codes
        problems.flag(
            pa.array(lacking),
            "kind",
            lambda i: (
                f"nothing to {_show(kind[i])}: no consent for {_show(codes[parsed.purpose_index[i].as_py()])} "
                "was given for this subject before this row's occurred_at (record the consent first, or check the id)"
            ),
        )
    problems.raise_if_any()


def _earliest_given_in_database(pseudonyms: list[str], *, purpose_pks: list[int]) -> dict[tuple[str, int], int]:
    """(pseudonym, purpose pk) -> the earliest consent given, in microseconds since the epoch."""
    earliest = {}
    for start in range(0, len(pseudonyms), _IN_CHUNK):
        rows = (
            ConsentEvent.objects.filter(
                kind=ConsentKind.GIVEN, subject_id__in=pseudonyms[start : start + _IN_CHUNK], purpose_id__in=purpose_pks
            )
            .values_list("subject_id", "purpose_id")
            .annotate(first=Min("occurred_at"))
        )
        for subject, purpose, first in rows:
            earliest[(subject, purpose)] = _micros(first)
    return earliest


def _micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# --- writing ---------------------------------------------------------------------------------------------------


def _insert_subjects(subjects: Any, *, now: datetime) -> None:
    """Insert-or-ignore a Subject row for each pseudonym, as ``Subject.objects.create`` would have stored it."""
    quote = connection.ops.quote_name
    table = quote(Subject._meta.db_table)
    first_seen = connection.ops.adapt_datetimefield_value(now)
    pseudonyms = subjects.to_pylist()
    with connection.cursor() as cursor:
        for start in range(0, len(pseudonyms), _CHUNK):
            chunk = pseudonyms[start : start + _CHUNK]
            if connection.vendor == "postgresql":
                # One array literal (pseudonyms are hex: nothing to quote), not a list the driver would adapt item
                # by item.
                cursor.execute(
                    f"INSERT INTO {table} (pseudonym, first_seen_at, erased_at) "  # noqa: S608 - names from the model
                    "SELECT p, %s, NULL FROM unnest(%s::varchar[]) AS p ON CONFLICT (pseudonym) DO NOTHING",
                    [first_seen, "{" + ",".join(chunk) + "}"],
                )
            else:
                cursor.executemany(
                    f"INSERT INTO {table} (pseudonym, first_seen_at, erased_at) VALUES (%s, %s, NULL) "  # noqa: S608
                    "ON CONFLICT (pseudonym) DO NOTHING",
                    list(zip(chunk, repeat(first_seen), strict=False)),
                )


_EVENT_FIELDS = (
    "subject",
    "purpose",
    "kind",
    "occurred_at",
    "recorded_at",
    "expires_at",
    *TEXT_COLUMNS,
    "pii_categories",
    "batch",
)


def _insert_events(parsed: ParsedConsent, *, batch: ConsentImport, now: datetime) -> None:
    """Every row as the ORM would store it: COPY on PostgreSQL, executemany elsewhere, a slice at a time."""
    postgres = connection.vendor == "postgresql"
    quote = connection.ops.quote_name
    table = quote(ConsentEvent._meta.db_table)
    column_of = {field.name: str(field.column) for field in ConsentEvent._meta.concrete_fields}
    names = ", ".join(quote(column_of[name]) for name in _EVENT_FIELDS)
    recorded_at = now.isoformat() if postgres else str(connection.ops.adapt_datetimefield_value(now))
    slices = _ordered_slices(parsed, recorded_at=recorded_at, batch=batch.pk, postgres=postgres)
    with connection.cursor() as cursor:
        if postgres:
            # Django's foreign keys are checked at commit; checking them row by row as COPY goes costs less than
            # queueing a million deferred checks. They are deferred again afterwards, as the rest expects.
            constraints = connection.introspection.get_constraints(cursor, ConsentEvent._meta.db_table)
            foreign_keys = ", ".join(quote(name) for name, c in sorted(constraints.items()) if c["foreign_key"])
            cursor.execute(f"SET CONSTRAINTS {foreign_keys} IMMEDIATE")
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for columns in slices:
                    copy.write(_copy_text(columns))
            cursor.execute(f"SET CONSTRAINTS {foreign_keys} DEFERRED")
            return
        placeholders = ", ".join(["%s"] * len(_EVENT_FIELDS))
        sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"  # noqa: S608 - names from the model
        for columns in slices:
            size = max(len(column) for column in columns if not isinstance(column, str | int))
            values = [repeat(c, size) if isinstance(c, str | int) else c.to_pylist() for c in columns]
            cursor.executemany(sql, list(zip(*values, strict=False)))


def _ordered_slices(parsed: ParsedConsent, *, recorded_at: str, batch: int, postgres: bool) -> Iterator[list[Any]]:
    """The rows, _CHUNK at a time, as the values of _EVENT_FIELDS: an arrow array per column, or one value (str or
    int) that every row shares.

    Rows go in by (subject, purpose, occurred_at, file order): every index on the table leads with the subject or
    the purpose, so this order turns a million random index inserts into a few sequential runs (several times
    faster on SQLite). For one subject and purpose, ids still follow occurred_at and then the file, so the event
    that decides a state (the latest, ties going to the higher id) is the one a row-by-row import would pick.
    """
    import numpy as np
    import pyarrow as pa

    subject_index = parsed.subject_index.to_numpy()
    purpose_index = parsed.purpose_index.to_numpy()
    order = np.lexsort(
        (np.arange(parsed.rows), parsed.occurred_at.cast("int64").to_numpy(), purpose_index, subject_index)
    )
    purpose_pks = np.asarray(parsed.purpose_pks, dtype=np.int64)
    for start in range(0, parsed.rows, _CHUNK):
        rows = order[start : start + _CHUNK]
        taken = pa.array(rows)
        yield [
            parsed.subjects.take(pa.array(subject_index[rows])),
            pa.array(purpose_pks[purpose_index[rows]]),
            parsed.kind.take(taken),
            _stored_times(parsed.occurred_at.take(taken), postgres=postgres),
            recorded_at,
            _stored_times(parsed.expires_at.take(taken), postgres=postgres),
            *(parsed.text[name].take(taken) if name in parsed.text else "" for name in TEXT_COLUMNS),
            parsed.pii_json.take(taken),
            batch,
        ]


def _copy_text(columns: list[Any]) -> str:
    """Rows in COPY's text format: tab-separated, ``\\N`` for NULL, and the backslash, tab, line feed and carriage
    return inside a value escaped."""
    import pyarrow as pa
    import pyarrow.compute as pc

    fields = []
    for column in columns:
        if isinstance(column, str | int):
            fields.append(pa.scalar(str(column)))
            continue
        part = pc.cast(column, pa.string()) if pa.types.is_integer(column.type) else column
        for char, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            part = pc.replace_substring(part, pattern=char, replacement=escaped)
        fields.append(pc.fill_null(part, "\\N"))
    lines = pc.binary_join_element_wise(*fields, "\t").to_pylist()
    return "\n".join(lines) + "\n"


def _stored_times(moments: Any, *, postgres: bool) -> Any:
    """Timestamps as the text the database is given: for SQLite exactly Django's ``str()`` of the UTC time
    (no fraction when it is zero); for PostgreSQL the UTC time with its offset."""
    import pyarrow.compute as pc

    text = pc.strftime(moments, format="%Y-%m-%d %H:%M:%S")  # %S carries the microseconds: 09:30:00.000000
    if postgres:
        return pc.binary_join_element_wise(text, "+00:00", "")
    return pc.replace_substring_regex(text, pattern=r"\.000000$", replacement="")
