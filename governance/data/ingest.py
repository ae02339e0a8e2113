"""Ingest an uploaded dataset file (CSV or Parquet): hash it while streaming, then infer its schema, count its rows,
profile its data quality and collect the distinct values of its subject-id column.

Pure and framework-free (no Django). pyarrow is imported inside the functions that parse, so the web process and
the CLI do not pay for it at start-up; hashing and format detection need only the standard library.

Every problem with the file itself is an :class:`IngestError` whose text is meant for the person who uploaded it:
it names the row, column or setting at fault and what was expected. Messages avoid quoting cell values, because a
row may hold personal data and messages end up in logs.

Definitions used by the profile (:func:`inspect_file`):

missing
    A value that is null after parsing. For CSV, a cell is null when it equals one of Arrow's default null markers
    (``""``, ``NA``, ``N/A``, ``NULL``, ``NaN``, ``null``, ``#N/A`` and the others in
    ``pyarrow.csv.ConvertOptions().null_values``), in any column including text columns, or when, after stripping
    surrounding whitespace, it equals one of the caller's ``missing_markers`` (the UCI Adult data uses ``"?"``).
    A floating-point NaN (which Parquet can store) also counts as missing, as in pandas ``isna``.
duplicate rows
    Rows identical across all columns to an earlier row; missing values are equal to each other (pandas
    ``DataFrame.duplicated().sum()``).
outliers
    For each numeric (integer or floating-point) column other than the label and subject-id columns: values below
    ``Q1 - 1.5 * IQR`` or above ``Q3 + 1.5 * IQR`` (Tukey's fences), where Q1 and Q3 are the 25th and 75th
    percentiles of the non-missing values by linear interpolation (the numpy and pandas default), IQR = Q3 - Q1.
class balance
    Counts of each non-missing value of the label column; the minority fraction is the smallest count divided by
    the number of labelled rows.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import pyarrow as pa

PARQUET_MAGIC = b"PAR1"
MISSING_WARNING_FRACTION = 0.05  # a column with more than 5% missing values is a warning, otherwise info
IMBALANCE_WARNING_FRACTION = 0.2  # a label whose smallest class holds less than 20% of labelled rows
OUTLIER_METHOD = "tukey_iqr_1.5"
OUTLIER_IQR_FACTOR = 1.5

# Arrow parses a CSV file block by block and refuses a row longer than a block; 8 MiB bounds the parser's memory
# while leaving room for any sane row (an unclosed quote is the usual reason to hit it).
_CSV_BLOCK_SIZE = 8 << 20
_HEADER_SNIFF_BYTES = 1 << 16
_SEPARATORS = (",", ";", "\t", "|")
_MAX_LISTED_COLUMNS = 40
# Arrow's message for a row with the wrong number of fields; the row number is there when parsing serially.
_RAGGED_ROW = re.compile(r"(?:Row #(-?\d+): )?Expected (\d+) columns, got (\d+)")
_UTF8_ADVICE = "Save or export it as UTF-8 (in Excel: 'CSV UTF-8')."


class IngestError(ValueError):
    """A file Assay cannot accept; ``str(exc)`` is a message for the user that names the problem (row, column,
    what was expected), and ``field`` names the request field at fault: ``"file"``, ``"subject_id_column"``,
    ``"label_column"`` or ``"delimiter"``."""

    def __init__(self, message: str, *, field: str = "file") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Ingested:
    """What :func:`inspect_file` learnt about a dataset file (every value is plain Python and JSON-serialisable)."""

    format: str  # "csv" or "parquet"
    row_count: int
    schema: list[dict[str, Any]]  # [{"name", "dtype" (Arrow type as text), "nullable" (a value is missing)}]
    profile: dict[str, Any]
    findings: list[dict[str, Any]]  # [{"kind", "column" ("" for the whole table), "severity", "measured", "message"}]
    subject_ids: frozenset[str] | None  # distinct non-missing subject ids, or None without a subject-id column


@dataclass(frozen=True)
class IngestLimits:
    """How wide a table, how long a value and how large a Parquet file unpacked an upload may be; each is a setting.

    Checked before the file is parsed where the file says it (a CSV header line, a Parquet footer), so that a file of
    a few MB cannot make Arrow build a million column builders (10^6 columns took 10 GB) or unpack gigabytes.
    """

    max_columns: int = 10_000  # DATASET_MAX_COLUMNS
    max_cell_bytes: int = 1 << 20  # DATASET_MAX_CELL_BYTES (a CSV row is also bounded by Arrow's 8 MiB block)
    max_table_bytes: int = 1 << 30  # DATASET_MAX_BYTES: what a Parquet file may unpack to, as a CSV upload may weigh

    SETTINGS = {
        "max_columns": "DATASET_MAX_COLUMNS",
        "max_cell_bytes": "DATASET_MAX_CELL_BYTES",
        "max_table_bytes": "DATASET_MAX_BYTES",
    }

    @classmethod
    def from_settings(cls, source: Any) -> IngestLimits:
        """The limits ``source`` names (any object with the :attr:`SETTINGS` attributes, such as Django's settings);
        one it lacks keeps its default."""
        defaults = cls()
        return cls(**{field: getattr(source, name, getattr(defaults, field)) for field, name in cls.SETTINGS.items()})

    @classmethod
    def configured(cls) -> IngestLimits:
        """The limits of the settings installed with :func:`use_settings`, else the defaults (uploads, audits and
        monitoring batches all read files through here, each with the operator's limits)."""
        return cls() if _settings_source is None else cls.from_settings(_settings_source)


# Where IngestLimits.configured() reads the limits: Django's settings, installed by the governance app at start-up,
# so that this module stays framework-free (a script or a child process without Django gets the defaults).
_settings_source: Any = None


def use_settings(source: Any) -> None:
    """Read the limits from ``source`` (Django's settings object, read afresh on every file) from now on."""
    global _settings_source  # noqa: PLW0603 - one process-wide source, installed once at start-up
    _settings_source = source


# --- hashing and format detection (standard library only) ------------------------------------------------------


def copy_and_hash(src: BinaryIO, dst: BinaryIO, *, max_bytes: int, chunk_size: int = 1 << 20) -> tuple[str, int]:
    """Stream ``src`` into ``dst`` chunk by chunk and return ``(sha256 hex digest, size in bytes)``.

    :param src: readable binary stream (an upload); read with ``read(chunk_size)`` until it returns nothing.
    :param dst: writable binary stream; receives exactly the bytes read, up to the limit.
    :param max_bytes: largest accepted size; one byte more raises :class:`IngestError` before that chunk is
        written, so ``dst`` may hold a partial copy that the caller must discard.
    :param chunk_size: bytes per read; the whole file is never held in memory.
    """
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    digest = hashlib.sha256()
    size = 0
    while chunk := src.read(chunk_size):
        size += len(chunk)
        if size > max_bytes:
            raise IngestError(f"The file is larger than {_human_size(max_bytes)}, the largest file Assay accepts.")
        digest.update(chunk)
        dst.write(chunk)
    return digest.hexdigest(), size


def hash_file(path: Path, *, chunk_size: int = 1 << 20) -> tuple[str, int]:
    """Return ``(sha256 hex digest, size in bytes)`` of a file on disk, read in chunks of ``chunk_size``."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(chunk_size):
            size += len(chunk)
            digest.update(chunk)
    return digest.hexdigest(), size


def detect_format(path: Path, *, name: str = "") -> str:
    """``"parquet"`` when the file starts and ends with the Parquet magic ``PAR1``, else ``"csv"``.

    :param path: the stored file.
    :param name: the name the user gave the file (defaults to ``path.name``); a name ending in ``.parquet`` whose
        content is not Parquet is an :class:`IngestError`, as is an empty file.
    """
    name = name or path.name
    size = path.stat().st_size
    if size == 0:
        raise IngestError(f"{name} is empty.")
    with path.open("rb") as f:
        head = f.read(len(PARQUET_MAGIC))
        tail = b""
        if size >= 2 * len(PARQUET_MAGIC):
            f.seek(-len(PARQUET_MAGIC), os.SEEK_END)
            tail = f.read(len(PARQUET_MAGIC))
    if head == PARQUET_MAGIC and tail == PARQUET_MAGIC:
        return "parquet"
    if name.lower().endswith(".parquet"):
        if head == PARQUET_MAGIC:
            raise IngestError(
                f"{name} is not a Parquet file (no PAR1 magic at its end): the upload may be truncated."
                " Upload the complete .parquet file."
            )
        raise IngestError(f"{name} is not a Parquet file (no PAR1 magic at its start). Upload a Parquet or CSV file.")
    return "csv"


# --- inspection ---------------------------------------------------------------------------------------------------


def inspect_file(
    path: Path,
    *,
    fmt: str,
    subject_id_column: str = "",
    label_column: str = "",
    delimiter: str = ",",
    missing_markers: Sequence[str] = (),
    limits: IngestLimits | None = None,
) -> Ingested:
    """Parse a stored CSV or Parquet file and return its schema, row count, quality profile and findings.

    :param path: the stored file (already size-checked and hashed with :func:`copy_and_hash`).
    :param fmt: ``"csv"`` or ``"parquet"`` (see :func:`detect_format`).
    :param subject_id_column: column that identifies data subjects; its distinct non-missing values, as strings
        with surrounding whitespace stripped, become ``Ingested.subject_ids``. In a CSV file it is read as text, so
        ids such as ``007`` keep their leading zeros. Blank ids count as missing.
    :param label_column: column whose class balance is profiled.
    :param delimiter: CSV field separator, one character (the two characters ``\\t`` are accepted for a tab).
    :param missing_markers: extra CSV/text values that mean "missing", compared after stripping whitespace.
    :param limits: how many columns and how long a value the file may have (default: the configured ones).
    :raises IngestError: the file or one of these settings cannot be accepted (see the module docstring).

    The profile is ``{"rows", "columns", "missing": {column: {"count", "fraction"}}, "duplicate_rows",
    "label": {"column", "counts": {value: count}, "minority_fraction"}`` (with a label column only)
    ``, "outliers": {column: {"method", "q1", "q3", "low", "high", "count"}}}``; definitions in the module docstring.
    A fraction of an empty table is 0.0.
    """
    import pyarrow.compute as pc

    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    if path.stat().st_size == 0:
        raise IngestError("The file is empty.")
    markers = sorted({marker.strip() for marker in missing_markers})
    if fmt == "csv":
        sep = _check_delimiter(delimiter)
        table = _read_csv(
            path,
            delimiter=sep,
            markers=markers,
            text_columns=[subject_id_column] if subject_id_column else [],
            limits=limits,
        )
    else:
        table = _read_parquet(path, limits=limits)
    names = table.column_names
    _check_column_names(names)
    _check_declared_column(subject_id_column, names, field="subject_id_column", what="subject-id")
    _check_declared_column(label_column, names, field="label_column", what="label")

    table = _markers_to_null(table, markers, reinfer=fmt == "csv", keep_text={subject_id_column})
    table = _nan_to_null(table)

    rows = table.num_rows
    schema = [
        {"name": field.name, "dtype": str(field.type), "nullable": table.column(i).null_count > 0}
        for i, field in enumerate(table.schema)
    ]
    missing = {name: _count_and_fraction(table.column(name).null_count, rows) for name in names}
    profile: dict[str, Any] = {
        "rows": rows,
        "columns": len(names),
        "missing": missing,
        "duplicate_rows": _duplicate_rows(table),
    }
    if label_column:
        profile["label"] = _label_balance(table.column(label_column), label_column)
    numeric = [
        field.name
        for field in table.schema
        if _is_numeric(field.type) and field.name not in (label_column, subject_id_column)
    ]
    profile["outliers"] = {
        name: stats for name in numeric if (stats := _tukey_outliers(table.column(name))) is not None
    }

    subject_ids: frozenset[str] | None = None
    missing_ids = 0
    if subject_id_column:
        ids = _as_text(table.column(subject_id_column), column=subject_id_column)
        ids = pc.utf8_trim_whitespace(ids)
        present = pc.fill_null(pc.not_equal(ids, ""), False)
        missing_ids = rows - (pc.sum(present).as_py() or 0)
        subject_ids = frozenset(pc.unique(pc.filter(ids, present)).to_pylist())

    findings = _findings(profile, subject_id_column=subject_id_column, missing_ids=missing_ids)
    return Ingested(
        format=fmt, row_count=rows, schema=schema, profile=profile, findings=findings, subject_ids=subject_ids
    )


# --- reading --------------------------------------------------------------------------------------------------------


def read_table(
    path: Path,
    *,
    fmt: str,
    delimiter: str = ",",
    text_columns: Sequence[str] = (),
    limits: IngestLimits | None = None,
) -> pa.Table:
    """A stored CSV or Parquet file as an Arrow table, parsed as on upload (``text_columns`` kept as text, as
    written: only an empty cell is missing there), within the same ``limits``."""
    if fmt == "csv":
        sep = _check_delimiter(delimiter)
        table = _read_csv(path, delimiter=sep, markers=[], text_columns=list(text_columns), limits=limits)
        return _text_as_written(path, table, delimiter=sep, names=text_columns)
    if fmt == "parquet":
        return _read_parquet(path, limits=limits)
    raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")


def _text_as_written(path: Path, table: pa.Table, *, delimiter: str, names: Sequence[str]) -> pa.Table:
    """``table`` with its ``names`` columns read again as written: Arrow's null tokens ("NA", "NULL", "n/a"...) stay
    text and an empty cell is "", so what counts as unknown in an audit's protected column is what its column roles
    declare (issue 16), not the parser's guess."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    present = [name for name in dict.fromkeys(names) if name in table.column_names]
    if not present or table.num_rows == 0:
        return table
    with pa.input_stream(str(path), compression=None) as stream:
        verbatim = pacsv.read_csv(
            stream,
            read_options=pacsv.ReadOptions(use_threads=False, block_size=_CSV_BLOCK_SIZE),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in present},
                strings_can_be_null=False,
                include_columns=present,
            ),
        )
    for name in present:
        table = table.set_column(table.column_names.index(name), name, verbatim.column(name))
    return table


def delimiter_problem(delimiter: str) -> str | None:
    """Why ``delimiter`` cannot split a CSV file, or None when it can. ``\t`` (the two characters a person types
    into a form field for a tab) stands for a tab. Arrow reads the delimiter as one ASCII byte, and a line break, the
    quote or NUL would split rows or fields wrongly."""
    if delimiter == "\\t":
        return None
    if len(delimiter) != 1:
        return (
            f"The delimiter must be one character, such as ',' ';' or '\\t' for a tab; got {delimiter[:10]!r}"
            f" ({len(delimiter)} characters)."
        )
    if delimiter in '"\r\n\x00' or not delimiter.isascii():
        return (
            f"The delimiter cannot be {delimiter!r}: use one ASCII character other than a line break, a double quote "
            "or NUL."
        )
    return None


def _check_delimiter(delimiter: str) -> str:
    problem = delimiter_problem(delimiter)
    if problem:
        raise IngestError(problem, field="delimiter")
    return "\t" if delimiter == "\\t" else delimiter


def _read_csv(
    path: Path,
    *,
    delimiter: str,
    markers: Sequence[str],
    text_columns: Sequence[str],
    limits: IngestLimits | None = None,
) -> pa.Table:
    """Parse a CSV file with Arrow, turning each way it can fail into an IngestError."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    limits = limits or IngestLimits.configured()
    header = _sniff_header(path)
    _check_separator(header, delimiter)
    _check_header_width(path, delimiter=delimiter, limits=limits)

    # One thread: row numbers in parse errors are only known when parsing serially, results do not depend on
    # the machine, and one upload does not take every core of a shared worker.
    read_options = pacsv.ReadOptions(use_threads=False, block_size=_CSV_BLOCK_SIZE)
    # newlines_in_values: a quoted value may span lines (spreadsheets export them); Arrow's default splits it.
    parse_options = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    convert_options = pacsv.ConvertOptions(
        null_values=[*pacsv.ConvertOptions().null_values, *markers],
        strings_can_be_null=True,
        column_types={name: pa.string() for name in text_columns},
    )

    def parse(source: Any) -> pa.Table:
        return pacsv.read_csv(
            source, read_options=read_options, parse_options=parse_options, convert_options=convert_options
        )

    try:
        try:
            # An explicit stream: given a path, Arrow would decompress by file extension (.gz, .bz2).
            with pa.input_stream(str(path), compression=None) as stream:
                table = parse(stream)
                table.column_names  # noqa: B018 - Arrow decodes the names (and can fail) only when asked
        except pa.ArrowInvalid as exc:
            if "Empty CSV file or block" not in str(exc):
                raise
            # Arrow cannot read a header that is the last line of the file without a line break after it.
            if path.stat().st_size > _CSV_BLOCK_SIZE:
                raise
            table = parse(pa.BufferReader(path.read_bytes() + b"\n"))
            table.column_names  # noqa: B018
    except UnicodeDecodeError:  # the header is not UTF-8
        raise _utf8_error(path) from None
    except pa.ArrowInvalid as exc:
        raise _csv_error(exc, path=path) from None

    if table.num_columns == 1:
        _check_separator(table.column_names[0], delimiter)
    undecodable = [f.name for f in table.schema if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]
    if undecodable:  # Arrow reads a text column that is not valid UTF-8 as binary
        raise _utf8_error(path, columns=undecodable)
    _check_quotes_closed(path, table, delimiter=delimiter)
    _check_cell_sizes(table, limits)
    return table


def _check_quotes_closed(path: Path, table: pa.Table, *, delimiter: str) -> None:
    """Refuse a file whose last quoted value is never closed, naming the line where that row begins.

    Arrow (with ``newlines_in_values``) reads an unclosed quote as one value running to the end of the file, so
    ``1,"abc`` followed by ``2,def`` would be stored as one row. That value then holds a line break, in the last
    row: only then is the file scanned again (by Python's C csv reader, which reports the end of data inside
    quotes), so well-formed files cost nothing more.
    """
    import csv

    import pyarrow as pa

    if table.num_rows == 0:
        return
    last = table.slice(table.num_rows - 1)
    merged = any(
        isinstance(value, str) and ("\n" in value or "\r" in value)
        for column in last.columns
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        for value in column.to_pylist()
    )
    if not merged:
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        began = 1
        while True:
            try:
                next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "unexpected end of data" in str(exc):
                    raise IngestError(
                        f'A quote (") opened in the row that begins on line {began} is never closed, so every line '
                        "after it would be read as part of one value. Close the quote or remove it."
                    ) from None
                # Other quirks (a character after a closing quote) Arrow reads as text: not refused here.
            began = reader.line_num + 1


def _sniff_header(path: Path) -> str:
    """The first non-blank line of the file, BOM removed; raises when the file is blank or its header is not UTF-8."""
    with path.open("rb") as f:
        start = f.read(_HEADER_SNIFF_BYTES)
        at_end = not f.read(1)
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError(f"The file is UTF-16 text; it must be UTF-8. {_UTF8_ADVICE}")
    start = start.removeprefix(b"\xef\xbb\xbf")
    if not start.strip():
        if at_end:
            raise IngestError("The file is empty: it holds no header row, only blank space.")
        return ""
    line = next(line for line in start.splitlines() if line.strip())
    if b"\x00" in line:
        raise IngestError(
            f"The header holds NUL bytes: the file looks like UTF-16 text; it must be UTF-8. {_UTF8_ADVICE}"
        )
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data" or exc.end != len(line):
            raise _utf8_error(path) from None
        return line[: exc.start].decode("utf-8")  # the sniffed bytes end inside a character


def _check_separator(header: str, delimiter: str) -> None:
    """Refuse a file whose header has no delimiter but does have another common separator."""
    if not header or delimiter in header:
        return
    counts = {sep: header.count(sep) for sep in _SEPARATORS if sep != delimiter}
    sep, count = max(counts.items(), key=lambda item: item[1])
    if count:
        shown = _show_char(sep)
        raise IngestError(
            f"The header has no {_show_char(delimiter)} but has {shown}: the file looks {shown}-separated;"
            f" pass delimiter={shown}.",
            field="delimiter",
        )


def _check_header_width(path: Path, *, delimiter: str, limits: IngestLimits) -> None:
    """Refuse a CSV whose header line has more columns than ``limits`` allow, before Arrow parses anything.

    Reads the first non-empty line, at most one Arrow block (a longer line is refused by Arrow as a row too long);
    counting stops as soon as the limit is passed. Delimiters inside quotes are not counted.
    """
    separator = delimiter.encode()
    limit = limits.max_columns
    with path.open("rb") as f:
        pending = f.read(_HEADER_SNIFF_BYTES).removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n")
        while b"\n" not in pending and len(pending) < _CSV_BLOCK_SIZE:
            if b'"' not in pending and pending.count(separator) >= limit:
                raise _too_many_columns(f"more than {limit:,}", limits)
            more = f.read(1 << 20)
            if not more:
                break
            pending = (pending + more).lstrip(b"\r\n")
    line = pending.split(b"\n", 1)[0]
    if b'"' in line:
        import csv

        columns = len(next(csv.reader([line.decode("utf-8", "replace")], delimiter=delimiter), []))
    else:
        columns = line.count(separator) + 1
    if columns > limit:
        raise _too_many_columns(f"{columns:,}", limits)


def _too_many_columns(count: str, limits: IngestLimits) -> IngestError:
    return IngestError(
        f"The file has {count} columns; Assay accepts at most {limits.max_columns:,} (DATASET_MAX_COLUMNS), because "
        "every column costs memory while the file is read. Upload fewer columns (those the audit needs), or ask an "
        "administrator whether DATASET_MAX_COLUMNS can be raised."
    )


def _check_cell_sizes(table: pa.Table, limits: IngestLimits) -> None:
    """Refuse a text or binary value longer than ``limits.max_cell_bytes``, naming its column and row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for field in table.schema:
        kind = field.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)):
            continue
        lengths = pc.binary_length(table.column(field.name))
        longest = pc.max(lengths).as_py()
        if longest is not None and longest > limits.max_cell_bytes:
            row = pc.index(lengths, longest).as_py() + 1
            raise IngestError(
                f"Column {field.name!r} holds a value of {longest:,} bytes (row {row}); Assay accepts values of at "
                f"most {limits.max_cell_bytes:,} bytes (DATASET_MAX_CELL_BYTES)."
            )


def _check_parquet_footer(path: Path, limits: IngestLimits) -> None:
    """Refuse a Parquet file whose metadata alone is larger than a table of the allowed width needs, before it is
    parsed (Arrow builds objects for every column of every row group it describes)."""
    size = path.stat().st_size
    if size < 12:
        return  # too short to be Parquet: the reader says so
    with path.open("rb") as f:
        f.seek(size - 8)
        footer = int.from_bytes(f.read(4), "little")
    allowed = 16 * 1024 * 1024 + 8 * 1024 * limits.max_columns
    if footer > allowed:
        raise IngestError(
            f"The Parquet file's metadata is {footer:,} bytes, more than a table of at most {limits.max_columns:,} "
            "columns (DATASET_MAX_COLUMNS) needs. Write it with fewer columns or fewer row groups."
        )


def _check_parquet_metadata(metadata: Any, limits: IngestLimits) -> None:
    """Refuse a Parquet file with too many columns, or that would unpack to more than ``limits`` allow, from its
    metadata, before a column is read."""
    if metadata.num_columns > limits.max_columns:
        raise _too_many_columns(f"{metadata.num_columns:,}", limits)
    unpacked = 0
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        chunks = sum(group.column(j).total_uncompressed_size for j in range(group.num_columns))
        unpacked += max(group.total_byte_size, chunks)
    if unpacked > limits.max_table_bytes:
        raise IngestError(
            f"The Parquet file would unpack to {unpacked:,} bytes, above Assay's limit of {limits.max_table_bytes:,} "
            "(DATASET_MAX_BYTES). Register larger data by external_uri."
        )


def _show_char(char: str) -> str:
    return "'\\t'" if char == "\t" else repr(char)


def _csv_error(exc: Exception, *, path: Path) -> IngestError:
    text = str(exc)
    ragged = _RAGGED_ROW.search(text)
    if ragged:
        number, expected, actual = ragged.groups()
        fields = "field" if actual == "1" else "fields"
        # Arrow numbers records from 1 with the header as record 1 and skips blank lines; we count data rows.
        where = f"Row {int(number) - 1}" if number and int(number) > 1 else "A row"
        return IngestError(
            f"{where} has {actual} {fields}, the header has {expected}. Rows are counted from 1 after the header,"
            " not counting blank lines; check that row for a missing or extra delimiter or an unclosed quote."
        )
    if "UTF8" in text or "UTF-8" in text:
        return _utf8_error(path)
    if "straddling object" in text:
        return IngestError(
            f'A row is longer than {_human_size(_CSV_BLOCK_SIZE)}; most often a quote (") is opened and never'
            " closed. Check the file's quoting."
        )
    if "Empty CSV file" in text:
        return IngestError("The file is empty: it has no header row.")
    detail = text.removeprefix("CSV parse error: ").replace(str(path), "<file>")
    return IngestError(f"The file could not be read as CSV: {detail}")


def _utf8_error(path: Path, *, columns: Sequence[str] = ()) -> IngestError:
    """Find where the file stops being valid UTF-8 (reading it in chunks) and say so."""
    in_columns = ""
    if columns:
        in_columns = f", in column{'s' if len(columns) > 1 else ''} {', '.join(repr(c) for c in columns)}"
    offset = 0  # bytes before `pending`
    line = 1
    pending = b""
    with path.open("rb") as f:
        while True:
            chunk = f.read(1 << 20)
            data = pending + chunk
            if not data:
                break
            try:
                data.decode("utf-8")
                good = len(data)
            except UnicodeDecodeError as exc:
                truncated = exc.reason == "unexpected end of data" and exc.end == len(data)
                if not truncated or not chunk:
                    bad = exc.start
                    line += data.count(b"\n", 0, bad)
                    return IngestError(
                        f"The file must be UTF-8 text, but it is not valid UTF-8 at line {line}"
                        f" (byte {offset + bad + 1}){in_columns}. {_UTF8_ADVICE}"
                    )
                good = exc.start  # a character split across two chunks: finish it with the next chunk
            line += data.count(b"\n", 0, good)
            offset += good
            pending = data[good:]
    return IngestError(f"The file must be UTF-8 text{in_columns}. {_UTF8_ADVICE}")


def _read_parquet(path: Path, *, limits: IngestLimits | None = None) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    limits = limits or IngestLimits.configured()
    _check_parquet_footer(path, limits)
    try:
        with pq.ParquetFile(str(path)) as parquet:
            _check_parquet_metadata(parquet.metadata, limits)
            table = parquet.read(use_threads=False)
        # Parquet readers do not check that text is UTF-8 or that offsets are sane; a damaged file would fail later.
        table.validate(full=True)
        table.column_names  # noqa: B018 - decoded (and refused when not UTF-8) only when asked
    except (pa.ArrowException, OSError, ValueError) as exc:  # ValueError: names in the metadata are not UTF-8
        detail = re.sub(r"^Could not open Parquet input source '[^']*': ", "", str(exc).strip())
        detail = detail.replace(str(path), "<file>").splitlines()[0] if detail else type(exc).__name__
        raise IngestError(f"The Parquet file is corrupt or incomplete and cannot be read ({detail}).") from None
    if table.num_columns == 0:
        raise IngestError("The Parquet file has no columns.")
    _check_cell_sizes(table, limits)
    return table


# --- checks on columns ----------------------------------------------------------------------------------------------


def _check_column_names(names: Sequence[str]) -> None:
    empty = [str(i + 1) for i, name in enumerate(names) if not name.strip()]
    if empty:
        which = "column " + empty[0] if len(empty) == 1 else "columns " + ", ".join(empty)
        raise IngestError(f"The header has an empty column name ({which}); every column needs a name.")
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        positions.setdefault(name, []).append(i + 1)
    repeated = [
        f"{name!r} (columns {', '.join(map(str, where))})" for name, where in positions.items() if len(where) > 1
    ]
    if repeated:
        raise IngestError(f"The header repeats column names: {', '.join(repeated)}; each column needs a unique name.")


def _check_declared_column(column: str, names: Sequence[str], *, field: str, what: str) -> None:
    if not column or column in names:
        return
    hint = ""
    close = [name for name in names if name.strip().casefold() == column.strip().casefold()]
    if close:
        hint = f" Did you mean {close[0]!r}?"
    listed = ", ".join(repr(name) for name in names[:_MAX_LISTED_COLUMNS])
    if len(names) > _MAX_LISTED_COLUMNS:
        listed += f" and {len(names) - _MAX_LISTED_COLUMNS} more"
    raise IngestError(
        f"The {what} column {column!r} is not in the file.{hint} The file's columns are: {listed}.", field=field
    )


# --- normalising values ---------------------------------------------------------------------------------------------


def _markers_to_null(table: pa.Table, markers: Sequence[str], *, reinfer: bool, keep_text: set[str]) -> pa.Table:
    """Null every text value equal to a marker once whitespace is stripped.

    Arrow already nulled exact matches while parsing (so numeric columns keep their types); this catches padded
    ones such as ``" ?"`` in a file separated by ``", "``. With ``reinfer`` (CSV), a text column that only
    contained numbers besides its markers becomes int64 or double, as Arrow would have typed it.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not markers:
        return table
    value_set = pa.array(markers, pa.string())
    for i, field in enumerate(table.schema):
        if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
            continue
        column = table.column(i)
        hit = pc.is_in(pc.utf8_trim_whitespace(column), value_set=value_set)
        if not pc.any(hit).as_py():
            continue
        column = pc.if_else(hit, pa.scalar(None, field.type), column)
        if reinfer and field.name not in keep_text:
            column = _reinfer_numeric(column)
        table = table.set_column(i, field.name, column)
    return table


def _reinfer_numeric(column: pa.ChunkedArray) -> pa.ChunkedArray:
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.null_count == len(column):
        return pa.chunked_array([pa.nulls(len(column))])
    trimmed = pc.utf8_trim_whitespace(column)
    sample = trimmed.drop_null().slice(0, 100)  # a failing cast of a whole column is slow; most are text
    for target in (pa.int64(), pa.float64()):
        try:
            pc.cast(sample, target)
            return pc.cast(trimmed, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return column


def _nan_to_null(table: pa.Table) -> pa.Table:
    """Floating-point NaN counts as missing (pandas ``isna``), so make it null once for every measure."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, field in enumerate(table.schema):
        if not pa.types.is_floating(field.type):
            continue
        column = table.column(i)
        nan = pc.is_nan(column)
        if pc.any(nan).as_py():
            table = table.set_column(i, field.name, pc.if_else(nan, pa.scalar(None, field.type), column))
    return table


def _as_text(values: pa.ChunkedArray, *, column: str) -> pa.ChunkedArray:
    """The column as strings (numbers as Arrow writes them: 42, 1.5), for subject ids and label classes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    try:
        return pc.cast(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        raise IngestError(f"Column {column!r} holds bytes that are not UTF-8 text.", field="file")
    return pa.chunked_array([pa.array([None if v is None else str(v) for v in values.to_pylist()], pa.string())])


def _is_numeric(arrow_type: pa.DataType) -> bool:
    import pyarrow as pa

    return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)


def _count_and_fraction(count: int, total: int) -> dict[str, Any]:
    return {"count": count, "fraction": count / total if total else 0.0}


# --- measures ---------------------------------------------------------------------------------------------------------


def _duplicate_rows(table: pa.Table) -> int:
    """Rows equal to an earlier row across all columns: rows minus distinct rows (Arrow's hash grouping treats
    nulls as equal, like pandas ``duplicated``)."""
    import pyarrow as pa

    if table.num_rows < 2:
        return 0
    keys = pa.table(
        [_grouping_key(column) for column in table.columns], names=[f"c{i}" for i in range(table.num_columns)]
    )
    distinct = keys.group_by(keys.column_names, use_threads=False).aggregate([]).num_rows
    return table.num_rows - int(distinct)


def _grouping_key(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column Arrow can group by whose values are equal exactly when the original values are equal."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(column.type):
        return pc.add(column, pa.scalar(0.0, column.type))  # -0.0 + 0.0 is 0.0: pandas treats -0.0 == 0.0
    try:
        pa.table({"k": column.slice(0, 0)}).group_by(["k"], use_threads=False).aggregate([])
    except pa.ArrowNotImplementedError:
        # Nested values (lists, structs, maps from Parquet) cannot be grouped; their Python repr can. Rare and slow.
        return pa.chunked_array([pa.array([None if v is None else repr(v) for v in column.to_pylist()], pa.string())])
    return column


def _label_balance(values: pa.ChunkedArray, column: str) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(values.type):
        values = pc.add(values, pa.scalar(0.0, values.type))  # -0.0 and 0.0 are one class
    counted = pc.value_counts(values.drop_null())
    classes = _as_text(counted.field("values"), column=column).to_pylist() if len(counted) else []
    counts = counted.field("counts").to_pylist() if len(counted) else []
    pairs = sorted(zip(classes, counts, strict=True), key=lambda pair: (-pair[1], pair[0]))
    labelled = sum(counts)
    return {
        "column": column,
        "counts": dict(pairs),
        "minority_fraction": pairs[-1][1] / labelled if labelled else None,
    }


def _tukey_outliers(values: pa.ChunkedArray) -> dict[str, Any] | None:
    """Tukey's fences on one numeric column; None when it has no non-missing value or its quartiles are infinite."""
    import pyarrow as pa
    import pyarrow.compute as pc

    q1, q3 = pc.quantile(values, q=[0.25, 0.75], interpolation="linear").to_pylist()
    if q1 is None or q3 is None or not (math.isfinite(q1) and math.isfinite(q3)):
        return None
    iqr = q3 - q1
    low, high = q1 - OUTLIER_IQR_FACTOR * iqr, q3 + OUTLIER_IQR_FACTOR * iqr
    as_double = pc.cast(values, pa.float64(), safe=False)  # int64 beyond 2**53 rounds, as in pandas
    outside = pc.or_(pc.less(as_double, low), pc.greater(as_double, high))
    count = pc.sum(outside).as_py() or 0
    return {"method": OUTLIER_METHOD, "q1": q1, "q3": q3, "low": low, "high": high, "count": int(count)}


# --- findings ---------------------------------------------------------------------------------------------------------


def _findings(profile: dict[str, Any], *, subject_id_column: str, missing_ids: int) -> list[dict[str, Any]]:
    rows = profile["rows"]
    findings: list[dict[str, Any]] = []

    def add(kind: str, column: str, severity: str, measured: dict[str, Any], message: str) -> None:
        findings.append(
            {"kind": kind, "column": column, "severity": severity, "measured": measured, "message": message}
        )

    for column, missing in profile["missing"].items():
        if missing["count"]:
            severity = "warning" if missing["fraction"] > MISSING_WARNING_FRACTION else "info"
            add(
                "missing_values",
                column,
                severity,
                dict(missing),
                f"{missing['count']} of {rows} values ({missing['fraction']:.1%}) in column {column!r} are missing.",
            )
    duplicates = profile["duplicate_rows"]
    if duplicates:
        measured = _count_and_fraction(duplicates, rows)
        add(
            "duplicate_rows",
            "",
            "warning",
            measured,
            f"{duplicates} of {rows} rows ({measured['fraction']:.1%}) repeat an earlier row exactly.",
        )
    label = profile.get("label")
    if label and label["minority_fraction"] is not None:
        if len(label["counts"]) < 2:
            add(
                "single_class_label",
                label["column"],
                "warning",
                {"classes": len(label["counts"])},
                f"The label column {label['column']!r} has a single class; nothing can be learnt or audited from it.",
            )
        elif label["minority_fraction"] < IMBALANCE_WARNING_FRACTION:
            minority = next(reversed(label["counts"]))
            add(
                "class_imbalance",
                label["column"],
                "warning",
                {
                    "minority_class": minority,
                    "minority_fraction": label["minority_fraction"],
                    "counts": label["counts"],
                },
                f"Class imbalance: the smallest class of {label['column']!r} ({minority!r}) holds"
                f" {label['minority_fraction']:.1%} of labelled rows, below {IMBALANCE_WARNING_FRACTION:.0%}.",
            )
    for column, stats in profile["outliers"].items():
        if stats["count"]:
            add(
                "outliers",
                column,
                "info",
                {key: stats[key] for key in ("count", "low", "high")},
                f"{stats['count']} values in column {column!r} lie outside Tukey's fences"
                f" [{stats['low']:g}, {stats['high']:g}] (1.5 IQR beyond Q1 = {stats['q1']:g}, Q3 = {stats['q3']:g}).",
            )
    if subject_id_column and missing_ids:
        measured = _count_and_fraction(missing_ids, rows)
        add(
            "missing_subject_id",
            subject_id_column,
            "warning",
            measured,
            f"{missing_ids} rows ({measured['fraction']:.1%}) have no subject id in column {subject_id_column!r};"
            " they cannot be found when a subject withdraws consent or asks for erasure.",
        )
    return findings


def _human_size(size: int) -> str:
    """1048576 -> '1 MiB', 1536 -> '1.5 KiB'."""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"
