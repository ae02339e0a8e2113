"""Checking a consent file's rows column by column with pyarrow: subjects (each distinct external id hashed once),
purposes, kinds, times with an offset, free text, personal-data categories, and withdrawals without a consent given
before them in the file (the database is asked in ``action``).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from governance.data import crypto
from governance.data.actions import DataError
from governance.data.consent_import.header import (
    MAX_REPORTED_PROBLEMS,
    TEXT_COLUMNS,
    _Problems,
    _read_header,
    _read_table,
    _show,
)
from governance.data.models import ConsentEvent, ConsentKind

PII_SEPARATOR = ";"


_KINDS = tuple(ConsentKind.values)


_WITHDRAWALS = (ConsentKind.WITHDRAWN, ConsentKind.EXPIRED)


_MAX_LENGTHS = {f.name: int(f.max_length or 0) for f in ConsentEvent._meta.concrete_fields if f.name in TEXT_COLUMNS}


_EXAMPLE_TIME = "e.g. 2026-05-01T09:30:00+02:00 or 2026-05-01T07:30:00Z"


# ISO 8601 date and time with an offset, to the microsecond; pyarrow then parses what has this shape (and refuses
# impossible dates such as 2026-02-30). A shape without the offset is named as such, since that is the usual slip.
_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}(:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}(:?\d{2})?)$"


_WITHOUT_OFFSET = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}(:\d{2}(:\d{2}([.,]\d+)?)?)?)?$"


_PSEUDONYM = r"^[0-9a-f]{64}$"


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


def _parse_times(values: Any, column: str, problems: _Problems, *, required: bool) -> Any:
    """The column as timestamp[us, UTC] (null where empty or wrong), flagging values without an offset."""
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
