"""Tests for governance/data/ingest.py on small written files: subject ids, labels and the thresholds of findings,
acceptable edge cases, and bad input refused with a clear IngestError (never a pyarrow exception).

Plain pytest; no database.
"""

from __future__ import annotations

import io
import math
import random
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from governance.data.ingest import IngestError, detect_format, inspect_file
from tests.data.ingest_helpers import assert_plain_json, findings_of, parquet_bytes, rejected, tukey, write

# ---------------------------------------------------------------------------------------------------------------
# Subject ids, labels and the thresholds of findings
# ---------------------------------------------------------------------------------------------------------------


def test_subject_ids_are_text_stripped_and_missing_ones_are_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, b"id,score\n007,1\n 8 ,2\n,3\nNA,4\n8,5\n   ,6\n")
    ingested = inspect_file(path, fmt="csv", subject_id_column="id")
    assert ingested.subject_ids == frozenset({"007", "8"})  # leading zeros kept, whitespace stripped
    assert ingested.schema[0] == {"name": "id", "dtype": "string", "nullable": True}
    assert "id" not in ingested.profile["outliers"]
    finding = findings_of(ingested, "missing_subject_id")["id"]
    assert finding["severity"] == "warning"
    assert finding["measured"]["count"] == 3  # empty, NA and blank
    assert "3 rows" in finding["message"]


def test_header_only_subject_ids_are_an_empty_set(tmp_path: Path) -> None:
    ingested = inspect_file(write(tmp_path, b"id,y\n"), fmt="csv", subject_id_column="id")
    assert ingested.subject_ids == frozenset()


def test_class_imbalance_is_a_warning_below_twenty_percent(tmp_path: Path) -> None:
    rows = b"".join(f"{i},{'yes' if i < 2 else 'no'}\n".encode() for i in range(11))
    ingested = inspect_file(write(tmp_path, b"n,label\n" + rows), fmt="csv", label_column="label")
    assert ingested.profile["label"] == {
        "column": "label",
        "counts": {"no": 9, "yes": 2},
        "minority_fraction": pytest.approx(2 / 11),
    }
    finding = findings_of(ingested, "class_imbalance")["label"]
    assert finding["severity"] == "warning"
    assert finding["measured"]["minority_class"] == "yes"
    assert "imbalance" in finding["message"].lower()
    balanced = inspect_file(
        write(tmp_path, b"n,label\n1,a\n2,a\n3,a\n4,a\n5,b\n", "b.csv"), fmt="csv", label_column="label"
    )
    assert balanced.profile["label"]["minority_fraction"] == 0.2
    assert not findings_of(balanced, "class_imbalance")


def test_a_single_class_label_is_a_warning(tmp_path: Path) -> None:
    ingested = inspect_file(write(tmp_path, b"n,label\n1,1\n2,1\n3,\n"), fmt="csv", label_column="label")
    assert ingested.profile["label"]["counts"] == {"1": 2}  # a missing label is not a class
    assert findings_of(ingested, "single_class_label")["label"]["severity"] == "warning"
    assert "label" not in ingested.profile["outliers"]  # the label is not profiled as a feature


@pytest.mark.parametrize(("missing", "severity"), [(1, "info"), (2, "warning")])
def test_missing_values_are_a_warning_above_five_percent(tmp_path: Path, missing: int, severity: str) -> None:
    rows = b"".join(b"1,\n" if i < missing else b"1,x\n" for i in range(20))  # 1 of 20 is exactly 5%
    ingested = inspect_file(write(tmp_path, b"a,b\n" + rows), fmt="csv")
    assert findings_of(ingested, "missing_values")["b"]["severity"] == severity


def test_arrow_default_null_markers_count_as_missing_in_text_columns(tmp_path: Path) -> None:
    ingested = inspect_file(write(tmp_path, b"a,b\nx,1\n,2\nNA,3\nnull,4\nN/A,5\n"), fmt="csv")
    assert ingested.profile["missing"]["a"]["count"] == 4
    assert not findings_of(ingested, "outliers")


def test_outliers_finding_names_the_fences(tmp_path: Path) -> None:
    values = [10, 11, 12, 13, 14, 15, 100]
    ingested = inspect_file(write(tmp_path, b"v\n" + b"".join(b"%d\n" % v for v in values)), fmt="csv")
    expected = tukey(pd.Series(values))
    stats = ingested.profile["outliers"]["v"]
    assert {k: stats[k] for k in expected} == pytest.approx(expected)
    assert stats["count"] == 1
    finding = findings_of(ingested, "outliers")["v"]
    assert finding["severity"] == "info"
    assert finding["measured"] == {"count": 1, "low": stats["low"], "high": stats["high"]}


# ---------------------------------------------------------------------------------------------------------------
# Acceptable edge cases
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"a,b\n", b"a,b", b"\n\na,b\r\n"], ids=["newline", "no-newline", "blank-lines"])
def test_a_header_without_rows_is_accepted(tmp_path: Path, data: bytes) -> None:
    ingested = inspect_file(write(tmp_path, data), fmt="csv", label_column="b")
    assert ingested.row_count == 0
    assert [c["name"] for c in ingested.schema] == ["a", "b"]
    assert ingested.profile["missing"]["a"] == {"count": 0, "fraction": 0.0}
    assert ingested.profile["duplicate_rows"] == 0
    assert ingested.profile["label"] == {"column": "b", "counts": {}, "minority_fraction": None}
    assert ingested.findings == []
    assert_plain_json(ingested.profile)


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    ingested = inspect_file(write(tmp_path, "\ufeffnom,ville\nRené,Liège\n".encode()), fmt="csv")
    assert [c["name"] for c in ingested.schema] == ["nom", "ville"]


def test_a_tab_can_be_given_as_backslash_t(tmp_path: Path) -> None:
    ingested = inspect_file(write(tmp_path, b"a\tb\n1\t2\n"), fmt="csv", delimiter="\\t")
    assert [c["name"] for c in ingested.schema] == ["a", "b"]


def test_quoted_values_may_span_lines(tmp_path: Path) -> None:
    ingested = inspect_file(write(tmp_path, b'a,note\n1,"two\nlines"\n2,x\n'), fmt="csv")
    assert ingested.row_count == 2
    # Past the parser's first block (8 MiB), where a line break inside quotes would otherwise split a row.
    row = b'1,"first line\nsecond line",3\n'
    count = (9 << 20) // len(row)
    assert inspect_file(write(tmp_path, b"a,note,b\n" + row * count, "big.csv"), fmt="csv").row_count == count


def test_compressed_looking_names_are_not_decompressed(tmp_path: Path) -> None:
    # Arrow guesses compression from a path's extension; the stored name must not change how a file is read.
    ingested = inspect_file(write(tmp_path, b"a\n1\n", "upload.csv.gz"), fmt="csv")
    assert ingested.row_count == 1


# ---------------------------------------------------------------------------------------------------------------
# Bad input: a clear IngestError, never a pyarrow exception
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_empty_file_is_refused(tmp_path: Path, fmt: str) -> None:
    error = rejected(write(tmp_path, b""), fmt=fmt)
    assert "empty" in str(error)
    assert error.field == "file"


def test_a_blank_file_is_refused(tmp_path: Path) -> None:
    assert "empty" in str(rejected(write(tmp_path, b"\n  \r\n\n")))


def test_invalid_utf8_names_the_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, b"name,city\nAnna,Paris\nRen\xe9,Li\xe8ge\n")  # Latin-1
    error = rejected(path)
    assert "must be UTF-8" in str(error)
    assert "line 3" in str(error)
    assert "'name'" in str(error)


def test_invalid_utf8_deep_in_a_file_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, b"a,b\n" + b"1,x\n" * 400_000 + b"2,\xc3(\n")  # past the 1 MiB scan chunk
    assert "line 400002" in str(rejected(path))


def test_invalid_utf8_in_the_header_is_refused(tmp_path: Path) -> None:
    error = rejected(write(tmp_path, b"a,\xe9t\xe9\n1,2\n"))
    assert "must be UTF-8" in str(error)
    assert "line 1" in str(error)


def test_invalid_utf8_in_the_subject_id_column_is_refused(tmp_path: Path) -> None:
    error = rejected(write(tmp_path, b"id,b\n\xff1,2\n"), subject_id_column="id")
    assert "must be UTF-8" in str(error)
    assert "line 2" in str(error)


def test_utf16_is_refused(tmp_path: Path) -> None:
    assert "UTF-16" in str(rejected(write(tmp_path, "a,b\n1,2\n".encode("utf-16"))))
    assert "UTF-16" in str(rejected(write(tmp_path, "a,b\n1,2\n".encode("utf-16-le"), "le.csv")))


@pytest.mark.parametrize(
    ("separator", "shown"), [(b";", "';'"), (b"\t", "'\\t'"), (b"|", "'|'")], ids=["semicolon", "tab", "pipe"]
)
def test_a_wrong_delimiter_names_the_likely_one(tmp_path: Path, separator: bytes, shown: str) -> None:
    path = write(tmp_path, separator.join([b"a", b"b", b"c"]) + b"\n" + separator.join([b"1", b"2,5", b"3"]) + b"\n")
    error = rejected(path)
    assert error.field == "delimiter"
    assert f"looks {shown}-separated; pass delimiter={shown}" in str(error)
    assert inspect_file(path, fmt="csv", delimiter=separator.decode()).profile["columns"] == 3


def test_a_comma_file_read_with_a_semicolon_is_refused(tmp_path: Path) -> None:
    error = rejected(write(tmp_path, b"a,b\n1,2\n"), delimiter=";")
    assert "pass delimiter=','" in str(error)


@pytest.mark.parametrize("delimiter", [";;", "", "\\t\\t", '"'])
def test_a_delimiter_must_be_one_character(tmp_path: Path, delimiter: str) -> None:
    error = rejected(write(tmp_path, b"a,b\n1,2\n"), delimiter=delimiter)
    assert error.field == "delimiter"
    assert "delimiter" in str(error)
    if len(delimiter) != 1:
        assert "one character" in str(error)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a,b,c,d,e\n1,2,3,4,5\n1,2,3,4,5,6\n", "Row 2 has 6 fields, the header has 5"),
        (b"a,b,c\n1,2,3\n4,5\n", "Row 2 has 2 fields, the header has 3"),
        (b"a,b,c\n1,2,3\n\n4,5,6\n7,8,9,10\n", "Row 3 has 4 fields, the header has 3"),  # blank line not counted
        (b"a,b\n1\n", "Row 1 has 1 field, the header has 2"),
    ],
)
def test_a_ragged_row_is_named(tmp_path: Path, data: bytes, message: str) -> None:
    error = rejected(write(tmp_path, data))
    assert message in str(error)
    assert error.field == "file"


def test_repeated_column_names_are_refused(tmp_path: Path) -> None:
    error = rejected(write(tmp_path, b"a,b,a\n1,2,3\n"))
    assert "repeats column names: 'a' (columns 1, 3)" in str(error)


@pytest.mark.parametrize("header", [b"a,,c", b"a, ,c"])
def test_an_empty_column_name_is_refused(tmp_path: Path, header: bytes) -> None:
    error = rejected(write(tmp_path, header + b"\n1,2,3\n"))
    assert "empty column name (column 2)" in str(error)


@pytest.mark.parametrize(("argument", "what"), [("subject_id_column", "subject-id"), ("label_column", "label")])
def test_a_declared_column_that_is_not_there_lists_the_columns(tmp_path: Path, argument: str, what: str) -> None:
    path = write(tmp_path, b"person,Outcome,score\n1,0,3\n")
    error = rejected(path, **{argument: "outcome"})
    assert error.field == argument
    assert f"The {what} column 'outcome' is not in the file" in str(error)
    assert "Did you mean 'Outcome'?" in str(error)
    assert "'person', 'Outcome', 'score'" in str(error)


def test_a_declared_column_is_also_checked_in_parquet(tmp_path: Path) -> None:
    path = write(tmp_path, parquet_bytes(pa.table({"a": [1]})), "a.parquet")
    assert rejected(path, fmt="parquet", subject_id_column="who").field == "subject_id_column"


@pytest.mark.parametrize("damage", ["middle", "footer", "garbage"])
def test_a_corrupt_parquet_file_is_refused(tmp_path: Path, damage: str) -> None:
    good = parquet_bytes(pa.table({"a": list(range(1000)), "b": [str(i) for i in range(1000)]}))
    if damage == "middle":  # keep both magics but cut the middle out
        data = good[:100] + good[-60:]
    elif damage == "footer":  # overwrite the metadata just before the footer length
        data = good[:-40] + b"\xff" * 32 + good[-8:]
    else:
        data = b"PAR1" + b"\x00" * 100 + b"PAR1"
    path = write(tmp_path, data, "bad.parquet")
    assert detect_format(path) == "parquet"
    error = rejected(path, fmt="parquet")
    assert "Parquet file is corrupt or incomplete" in str(error)
    assert str(tmp_path) not in str(error)  # the server's storage path is not shown


def test_an_unknown_format_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fmt must be"):
        inspect_file(write(tmp_path, b"a\n1\n"), fmt="xlsx")


def test_damaged_files_raise_only_ingest_errors(tmp_path: Path) -> None:
    """Random damage to a CSV and a Parquet file gives either a result or an IngestError, nothing else."""
    rng = random.Random(20240611)
    csv = b"id,age,name,score,when\n" + b"".join(
        f'{i},{20 + i % 50},"n{i % 9}",{i / 7:.3f},2020-01-{1 + i % 28:02d}\n'.encode() for i in range(200)
    )
    parquet = parquet_bytes(pacsv.read_csv(io.BytesIO(csv)))
    alphabet = b',;\t|"\n\r\x00\xff\xc3 ?'
    accepted, refusals = 0, []
    for case in range(160):
        data = bytearray(csv if case % 2 else parquet)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(4, len(data) - 4)  # keep the Parquet magic: damage the content
            if case % 2:
                data.insert(position, alphabet[rng.randrange(len(alphabet))])
            else:
                data[position] = rng.randrange(256)
        path = write(tmp_path, bytes(data), f"case{case}")
        try:
            inspect_file(path, fmt="csv" if case % 2 else "parquet", subject_id_column="id", label_column="name")
            accepted += 1
        except IngestError as error:
            refusals.append(str(error))
    assert accepted
    assert refusals
    assert all(refusals)


def test_profile_numbers_are_plain_and_finite_with_infinities(tmp_path: Path) -> None:
    ingested = inspect_file(write(tmp_path, b"x\n1\n2\n3\ninf\n-inf\n4\n5\n"), fmt="csv")
    stats = ingested.profile["outliers"]["x"]
    assert stats["count"] == 2
    assert all(math.isfinite(stats[k]) for k in ("q1", "q3", "low", "high"))
    assert_plain_json(ingested.profile)


@pytest.mark.parametrize(
    ("data", "line"),
    [(b'a,b\n1,"abc\n2,def\n3,ghi\n', 2), (b'a,b\n1,x\n2,"y"\n3,"un\nclosed\n', 4), (b'a,b\r\n1,"abc\r\n2,d', 2)],
    ids=["second-line", "after-closed-quotes", "crlf-no-final-newline"],
)
def test_an_unclosed_quote_is_refused_naming_the_line_it_opens(tmp_path: Path, data: bytes, line: int) -> None:
    with pytest.raises(IngestError, match=rf"begins on line {line} is never closed"):
        inspect_file(write(tmp_path, data), fmt="csv")


def test_a_quote_inside_an_unquoted_value_is_text(tmp_path: Path) -> None:
    # 5'11" : Arrow (and RFC 4180 readers) take a quote that does not open a field as a character.
    ingested = inspect_file(write(tmp_path, b'a,height\n1,5\'11"\n2,"6\'0""\nand more"\n'), fmt="csv")
    assert ingested.row_count == 2
