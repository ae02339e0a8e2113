"""Reading a CSV file with Arrow: the delimiter, the header (UTF-8, separator, width), quotes left open, and each way
Arrow can fail turned into an :class:`IngestError` that names the row or line at fault.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from governance.data.ingest.limits import IngestError, IngestLimits, _check_cell_sizes, _human_size, _too_many_columns

if TYPE_CHECKING:
    import pyarrow as pa


# Arrow parses a CSV file block by block and refuses a row longer than a block; 8 MiB bounds the parser's memory
# while leaving room for any sane row (an unclosed quote is the usual reason to hit it).
_CSV_BLOCK_SIZE = 8 << 20


_HEADER_SNIFF_BYTES = 1 << 16


_SEPARATORS = (",", ";", "\t", "|")


# Arrow's message for a row with the wrong number of fields; the row number is there when parsing serially.
_RAGGED_ROW = re.compile(r"(?:Row #(-?\d+): )?Expected (\d+) columns, got (\d+)")


_UTF8_ADVICE = "Save or export it as UTF-8 (in Excel: 'CSV UTF-8')."


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
    verbatim: bool = False,
    limits: IngestLimits | None = None,
) -> pa.Table:
    """Parse a CSV file with Arrow, turning each way it can fail into an IngestError.

    With ``verbatim``, the ``text_columns`` are kept as written: Arrow's null tokens ("NA", "NULL", "n/a"...) stay
    text and an empty cell is "", so what counts as unknown in an audit's protected column is what its column roles
    declare (issue 16), not the parser's guess. The file is parsed once either way: Arrow's null tokens apply to
    every other text column after parsing, exactly as the parser applies them (whole cells, quoted or not)."""
    import pyarrow as pa
    import pyarrow.compute as pc
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
    null_values = [*pacsv.ConvertOptions().null_values, *markers]
    convert_options = pacsv.ConvertOptions(
        null_values=null_values,
        strings_can_be_null=not verbatim,
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
    if verbatim:
        kept = set(text_columns)
        tokens = pa.array(null_values, pa.string())
        for i, field in enumerate(table.schema):
            if field.name in kept or not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
                continue
            hit = pc.is_in(table.column(i), value_set=tokens.cast(field.type))
            if pc.any(hit).as_py():
                table = table.set_column(i, field.name, pc.if_else(hit, pa.scalar(None, field.type), table.column(i)))
    return table


def _check_quotes_closed(path: Path, table: pa.Table, *, delimiter: str) -> None:
    """Refuse a file whose last quoted value is never closed, naming the line where that row begins.

    Arrow (with ``newlines_in_values``) reads an unclosed quote as one value running to the end of the file, so
    ``1,"abc`` followed by ``2,def`` would be stored as one row. That value then holds a line break, in the last
    row: only then is the file scanned again (by Python's C csv reader, which reports the end of data inside
    quotes), so well-formed files cost nothing more.
    """
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
        columns = len(next(csv.reader([line.decode("utf-8", "replace")], delimiter=delimiter), []))
    else:
        columns = line.count(separator) + 1
    if columns > limit:
        raise _too_many_columns(f"{columns:,}", limits)


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
