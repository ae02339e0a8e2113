"""Tests for governance/data/ingest.py: streaming hash, format detection, schema, profile, findings and bad input.

Known answers from outside the project: the missing-value counts published for UCI Adult, the checksum of
adult.data recorded in the data's SOURCES.md, and pandas recomputing every measure on the same file (quantiles,
``duplicated``, ``value_counts``, ``isna``). Plain pytest; no database.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from governance.data.ingest import (
    Ingested,
    IngestError,
    copy_and_hash,
    detect_format,
    hash_file,
    inspect_file,
)
from tests import KNOWN_ANSWER_DATA

# ---------------------------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------------------------

# Byte-for-byte public copies of the benchmark files, described (source, licence, checksums) in SOURCES.md there.
DATA = KNOWN_ANSWER_DATA

# From adult.names, in file order.
ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
]
ADULT_ROWS = 32561
# Published with the data (adult.names and every description of it): values marked "?" in adult.data.
ADULT_MISSING = {"workclass": 1836, "occupation": 1843, "native-country": 583}
ADULT_INCOME = {"<=50K": 24720, ">50K": 7841}


def shared_file(name: str) -> Path:
    path = DATA / name
    # A missing file fails the test: skipping would hide that the known answers were never checked.
    assert path.exists(), f"known-answer data {path} is not available (set ASSAY_KNOWN_ANSWER_DATA)"
    return path


def write(directory: Path, data: bytes, name: str = "data.csv") -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def rejected(path: Path, *, fmt: str = "csv", **kwargs: Any) -> IngestError:
    with pytest.raises(IngestError) as caught:
        inspect_file(path, fmt=fmt, **kwargs)
    return caught.value


def findings_of(ingested: Ingested, kind: str) -> dict[str, dict[str, Any]]:
    """The findings of one kind, by column."""
    return {f["column"]: f for f in ingested.findings if f["kind"] == kind}


def assert_plain_json(value: object) -> None:
    """JSON with no NaN or infinity, and it survives a round trip unchanged (so only plain Python types)."""
    assert json.loads(json.dumps(value, allow_nan=False)) == value


def tukey(series: pd.Series) -> dict[str, Any]:
    """Tukey's fences computed by pandas, independently of the code under test."""
    q1, q3 = series.quantile([0.25, 0.75])
    iqr = q3 - q1
    low, high = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    return {"q1": q1, "q3": q3, "low": low, "high": high, "count": int(((series < low) | (series > high)).sum())}


def nan_count(column: pa.ChunkedArray) -> int:
    return int(pc.sum(pc.is_nan(column)).as_py())


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


class RecordingReader(io.BytesIO):
    """A source stream that records the size asked for by every read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.requests: list[int | None] = []

    def read(self, size: int | None = -1, /) -> bytes:
        self.requests.append(size)
        return super().read(size)


@pytest.fixture(scope="module")
def adult_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """adult.data as a comma-separated file with a header row (the original separates fields with ", ")."""
    raw = shared_file("adult.data").read_text(encoding="utf-8")
    rows = [line.replace(", ", ",") for line in raw.splitlines() if line]
    path = tmp_path_factory.mktemp("adult") / "adult.csv"
    path.write_text("\n".join([",".join(ADULT_COLUMNS), *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def adult(adult_csv: Path) -> Ingested:
    return inspect_file(adult_csv, fmt="csv", label_column="income", missing_markers=("?",))


@pytest.fixture(scope="module")
def adult_frame(adult_csv: Path) -> pd.DataFrame:
    return pd.read_csv(adult_csv, na_values=["?"])


@pytest.fixture(scope="module")
def compas_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The COMPAS file with its repeated column names renamed the way pandas does (a second ``x`` is ``x.1``)."""
    raw = shared_file("compas-scores-two-years.csv").read_bytes()
    header, body = raw.split(b"\n", 1)
    names, renamed = header.decode().rstrip("\r").split(","), []
    for name in names:
        renamed.append(f"{name}.1" if name in renamed else name)
    path = tmp_path_factory.mktemp("compas") / "compas.csv"
    path.write_bytes(",".join(renamed).encode() + b"\r\n" + body)
    return path


# ---------------------------------------------------------------------------------------------------------------
# Hashing while streaming
# ---------------------------------------------------------------------------------------------------------------


def test_hash_file_matches_the_published_checksum_of_adult_data() -> None:
    # sha256 and size recorded in SOURCES.md (the sha256 is also published by GruAna/PreprocessData.jl).
    assert hash_file(shared_file("adult.data")) == (
        "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
        3974305,
    )


def test_copy_and_hash_copies_every_byte_and_matches_hashlib() -> None:
    data = shared_file("compas-scores-two-years.csv").read_bytes()
    dst = io.BytesIO()
    digest, size = copy_and_hash(io.BytesIO(data), dst, max_bytes=len(data), chunk_size=64 * 1024)
    assert (digest, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert dst.getvalue() == data


def test_copy_and_hash_reads_in_chunks_of_the_given_size() -> None:
    data = os.urandom(10 * 1024 + 17)
    src, dst = RecordingReader(data), io.BytesIO()
    assert copy_and_hash(src, dst, max_bytes=1 << 20, chunk_size=1024) == (hashlib.sha256(data).hexdigest(), len(data))
    assert src.requests == [1024] * 12  # 11 reads with data, then the empty read that ends the copy
    assert dst.getvalue() == data


def test_copy_and_hash_refuses_a_file_over_the_limit_without_reading_it_all() -> None:
    data = b"x" * (1 << 20)
    src = RecordingReader(data)
    with pytest.raises(IngestError, match=r"larger than 4 KiB") as caught:
        copy_and_hash(src, io.BytesIO(), max_bytes=4096, chunk_size=1024)
    assert caught.value.field == "file"
    assert len(src.requests) == 5  # stopped at the first chunk over the limit
    # Exactly at the limit is accepted; one byte more is not.
    assert copy_and_hash(io.BytesIO(data[:4096]), io.BytesIO(), max_bytes=4096)[1] == 4096
    with pytest.raises(IngestError):
        copy_and_hash(io.BytesIO(data[:4097]), io.BytesIO(), max_bytes=4096)


def test_hash_of_an_empty_stream() -> None:
    assert copy_and_hash(io.BytesIO(), io.BytesIO(), max_bytes=0) == (hashlib.sha256(b"").hexdigest(), 0)


# ---------------------------------------------------------------------------------------------------------------
# Format detection
# ---------------------------------------------------------------------------------------------------------------


def test_detect_format_by_parquet_magic_not_by_name(tmp_path: Path) -> None:
    parquet = write(tmp_path, parquet_bytes(pa.table({"a": [1, 2]})), "upload.bin")
    assert detect_format(parquet) == "parquet"
    assert detect_format(parquet, name="looks-like.csv") == "parquet"
    assert detect_format(write(tmp_path, b"a,b\n1,2\n", "x.txt")) == "csv"


def test_detect_format_refuses_a_parquet_name_on_other_content(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"data\.parquet is not a Parquet file \(no PAR1 magic"):
        detect_format(write(tmp_path, b"a,b\n1,2\n", "stored-name"), name="data.parquet")
    truncated = parquet_bytes(pa.table({"a": [1, 2]}))[:-10]
    with pytest.raises(IngestError, match=r"not a Parquet file \(no PAR1 magic at its end\).*truncated"):
        detect_format(write(tmp_path, truncated, "t.parquet"))


def test_detect_format_refuses_an_empty_file(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="empty"):
        detect_format(write(tmp_path, b""), name="upload.csv")


# ---------------------------------------------------------------------------------------------------------------
# UCI Adult: published counts and pandas cross-checks
# ---------------------------------------------------------------------------------------------------------------


def test_adult_published_row_and_missing_counts(adult: Ingested) -> None:
    assert adult.format == "csv"
    assert adult.row_count == adult.profile["rows"] == ADULT_ROWS
    assert adult.profile["columns"] == len(ADULT_COLUMNS)
    missing = {column: m["count"] for column, m in adult.profile["missing"].items() if m["count"]}
    assert missing == ADULT_MISSING
    assert adult.profile["missing"]["workclass"]["fraction"] == pytest.approx(1836 / ADULT_ROWS)


def test_adult_schema(adult: Ingested) -> None:
    assert [c["name"] for c in adult.schema] == ADULT_COLUMNS
    dtypes = {c["name"]: c["dtype"] for c in adult.schema}
    assert dtypes["age"] == dtypes["fnlwgt"] == dtypes["hours-per-week"] == "int64"
    assert dtypes["workclass"] == dtypes["income"] == "string"
    assert {c["name"] for c in adult.schema if c["nullable"]} == set(ADULT_MISSING)


def test_adult_profile_agrees_with_pandas(adult: Ingested, adult_frame: pd.DataFrame) -> None:
    assert {c: m["count"] for c, m in adult.profile["missing"].items()} == adult_frame.isna().sum().to_dict()
    assert adult.profile["duplicate_rows"] == int(adult_frame.duplicated().sum()) == 24
    label = adult.profile["label"]
    assert label["column"] == "income"
    assert label["counts"] == ADULT_INCOME == adult_frame["income"].value_counts().to_dict()
    assert label["minority_fraction"] == pytest.approx(7841 / ADULT_ROWS)
    numeric = list(adult_frame.select_dtypes("number").columns)
    assert sorted(adult.profile["outliers"]) == sorted(numeric)
    for column in numeric:
        ours, theirs = adult.profile["outliers"][column], tukey(adult_frame[column])
        assert ours["method"] == "tukey_iqr_1.5"
        assert {k: ours[k] for k in theirs} == pytest.approx(theirs), column
    assert adult.profile["outliers"]["age"]["count"] == 143
    assert adult.profile["outliers"]["hours-per-week"]["count"] == 9008


def test_adult_findings(adult: Ingested) -> None:
    missing = findings_of(adult, "missing_values")
    assert set(missing) == set(ADULT_MISSING)
    # 1836 and 1843 of 32561 are above 5%; 583 (1.8%) is below.
    assert missing["workclass"]["severity"] == missing["occupation"]["severity"] == "warning"
    assert missing["native-country"]["severity"] == "info"
    assert missing["workclass"]["measured"]["count"] == 1836
    assert "1836 of 32561" in missing["workclass"]["message"]
    assert "workclass" in missing["workclass"]["message"]
    (duplicates,) = findings_of(adult, "duplicate_rows").values()
    assert duplicates["column"] == ""
    assert duplicates["measured"]["count"] == 24
    assert duplicates["severity"] == "warning"
    assert not findings_of(adult, "class_imbalance")  # the minority class holds 24%
    outliers = findings_of(adult, "outliers")
    assert outliers["age"]["severity"] == "info"
    assert outliers["age"]["measured"]["count"] == 143
    assert not findings_of(adult, "missing_subject_id")
    assert adult.subject_ids is None
    for finding in adult.findings:
        assert set(finding) == {"kind", "column", "severity", "measured", "message"}
        assert finding["severity"] in ("info", "warning")
    assert_plain_json(adult.profile)
    assert_plain_json(adult.findings)
    assert_plain_json(adult.schema)


def test_missing_markers_are_compared_after_stripping_whitespace(adult: Ingested, tmp_path: Path) -> None:
    # The original file separates fields with ", ", so a missing value reads " ?" and numbers read " 39".
    raw = shared_file("adult.data").read_bytes()
    path = write(tmp_path, ",".join(ADULT_COLUMNS).encode() + b"\n" + raw)
    padded = inspect_file(path, fmt="csv", missing_markers=["?"])
    assert padded.profile["missing"] == adult.profile["missing"]
    assert [c["dtype"] for c in padded.schema] == [c["dtype"] for c in adult.schema]
    # Without the marker nothing is missing.
    plain = inspect_file(path, fmt="csv")
    assert not any(m["count"] for m in plain.profile["missing"].values())


def test_a_marker_in_a_numeric_column_keeps_the_column_numeric(tmp_path: Path) -> None:
    path = write(tmp_path, b"x,y\n1, ?\n2, 3\n3,?\n4,5.5\n")
    ingested = inspect_file(path, fmt="csv", missing_markers=["?"])
    assert [c["dtype"] for c in ingested.schema] == ["int64", "double"]
    assert ingested.profile["missing"]["y"]["count"] == 2
    assert "y" in ingested.profile["outliers"]


# ---------------------------------------------------------------------------------------------------------------
# COMPAS: repeated column names, then a profile checked against pandas
# ---------------------------------------------------------------------------------------------------------------


def test_compas_repeated_column_names_are_refused_by_name() -> None:
    error = rejected(shared_file("compas-scores-two-years.csv"))
    assert error.field == "file"
    assert "repeats column names" in str(error)
    assert "'decile_score' (columns 12, 40)" in str(error)
    assert "'priors_count' (columns 15, 49)" in str(error)


def test_compas_renamed_profile_agrees_with_pandas(compas_csv: Path) -> None:
    ingested = inspect_file(compas_csv, fmt="csv", subject_id_column="id", label_column="two_year_recid")
    frame = pd.read_csv(compas_csv)
    assert ingested.row_count == len(frame) == 7214
    assert [c["name"] for c in ingested.schema] == list(frame.columns)
    assert len(ingested.schema) == 53
    assert {c: m["count"] for c, m in ingested.profile["missing"].items()} == frame.isna().sum().to_dict()
    assert ingested.profile["duplicate_rows"] == int(frame.duplicated().sum())
    assert ingested.profile["label"]["counts"] == {
        str(k): v for k, v in frame["two_year_recid"].value_counts().to_dict().items()
    }
    dtypes = {c["name"]: c["dtype"] for c in ingested.schema}
    assert dtypes["id"] == "string"  # the subject-id column is read as text
    assert dtypes["c_jail_in"] == "timestamp[s]"
    assert dtypes["dob"] == "date32[day]"
    for column, ours in ingested.profile["outliers"].items():
        assert {k: ours[k] for k in ("q1", "q3", "low", "high", "count")} == pytest.approx(tukey(frame[column]))
    # Every numeric pandas column is profiled except the subject id, the label and the all-missing column (which
    # Arrow types as null, not as a number).
    assert set(ingested.profile["outliers"]) == set(frame.select_dtypes("number").columns) - {
        "id",
        "two_year_recid",
        "violent_recid",
    }
    assert ingested.subject_ids == {str(i) for i in frame["id"]}
    assert len(ingested.subject_ids) == 7214
    assert_plain_json(ingested.profile)


# ---------------------------------------------------------------------------------------------------------------
# Parquet gives the same answers as CSV
# ---------------------------------------------------------------------------------------------------------------


def test_parquet_and_csv_of_the_same_data_agree(adult: Ingested, adult_csv: Path, tmp_path: Path) -> None:
    table = pacsv.read_csv(adult_csv)  # "?" stays text here; the marker is applied on ingest
    path = write(tmp_path, parquet_bytes(table), "adult.parquet")
    assert detect_format(path) == "parquet"
    ingested = inspect_file(path, fmt="parquet", label_column="income", missing_markers=("?",))
    assert ingested.format == "parquet"
    assert ingested.schema == adult.schema
    assert ingested.profile == adult.profile
    assert ingested.findings == adult.findings


def test_parquet_nan_nulls_and_signed_zeros_match_pandas(tmp_path: Path) -> None:
    nan = float("nan")
    columns: dict[str, list[Any]] = {
        "x": [1.0, nan, nan, -0.0, 0.0, None, nan, 2.0],
        "s": ["a", "b", "b", "c", "c", None, None, "d"],
        "id": ["s1", "s2", "s2", "s3", "s3", None, None, " s4 "],
    }
    # pa.table, not from_pandas, so that NaN stays NaN in the file (pandas would write nulls).
    table = pa.table({"x": pa.array(columns["x"], pa.float64()), "s": columns["s"], "id": columns["id"]})
    assert nan_count(table["x"]) == 3
    frame = pd.DataFrame(columns)
    path = write(tmp_path, parquet_bytes(table), "nan.parquet")
    ingested = inspect_file(path, fmt="parquet", subject_id_column="id")
    assert {c: m["count"] for c, m in ingested.profile["missing"].items()} == frame.isna().sum().to_dict()
    # NaN equals NaN and null, -0.0 equals 0.0: rows 3, 5 and 7 repeat rows 2, 4 and 6.
    assert ingested.profile["duplicate_rows"] == int(frame.duplicated().sum()) == 3
    assert ingested.subject_ids == {"s1", "s2", "s3", "s4"}
    assert_plain_json(ingested.profile)


def test_parquet_nested_columns_are_profiled(tmp_path: Path) -> None:
    table = pa.table({"tags": pa.array([[1], [1], [2], None]), "n": [1, 1, 3, 4]})
    ingested = inspect_file(write(tmp_path, parquet_bytes(table), "n.parquet"), fmt="parquet")
    assert ingested.schema[0] == {"name": "tags", "dtype": "list<element: int64>", "nullable": True}
    assert ingested.profile["duplicate_rows"] == 1
    assert ingested.profile["missing"]["tags"]["count"] == 1


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
