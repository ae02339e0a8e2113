"""The consent file's columns, the problems found in it (counted, the first few kept with their row and column), and
reading it: the header checked before the rows are parsed (bounded by what a header of the known columns can be),
then every column as text, or the lines that cannot be read.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from governance.data.actions import DataError

ID_COLUMNS = ("external_id", "pseudonym")  # exactly one of them


REQUIRED_COLUMNS = ("purpose", "kind", "occurred_at")


TEXT_COLUMNS = ("source", "notice_version", "controller", "collection_method", "jurisdiction")


OPTIONAL_COLUMNS = ("expires_at", *TEXT_COLUMNS, "pii_categories")


COLUMNS = (*ID_COLUMNS, *REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)


MAX_REPORTED_PROBLEMS = 20


# The longest header a consent file needs: every column named, quoted, with room for padding. Not a setting: the
# format fixes its columns.
_HEADER_MAX_BYTES = 4096


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
