"""Tests for governance/data/ingest.py: streaming hash, format detection, and the schema and profile of the public
benchmark files. Findings' thresholds, edge cases and bad input are in test_ingest_input.py.

Known answers from outside the project: the missing-value counts published for UCI Adult, the checksum of
adult.data recorded in the data's SOURCES.md, and pandas recomputing every measure on the same file (quantiles,
``duplicated``, ``value_counts``, ``isna``). Plain pytest; no database.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from governance.data.ingest import Ingested, IngestError, copy_and_hash, detect_format, hash_file, inspect_file
from tests import ADULT_NAMES_COLUMNS as ADULT_COLUMNS
from tests import KNOWN_ANSWER_DATA
from tests.data.ingest_helpers import assert_plain_json, findings_of, parquet_bytes, rejected, tukey, write

# ---------------------------------------------------------------------------------------------------------------
# The public benchmark files
# ---------------------------------------------------------------------------------------------------------------

# Byte-for-byte public copies of the benchmark files, described (source, licence, checksums) in SOURCES.md there.
DATA = KNOWN_ANSWER_DATA


ADULT_ROWS = 32561


# Published with the data (adult.names and every description of it): values marked "?" in adult.data.
ADULT_MISSING = {"workclass": 1836, "occupation": 1843, "native-country": 583}


ADULT_INCOME = {"<=50K": 24720, ">50K": 7841}


def shared_file(name: str) -> Path:
    path = DATA / name
    # A missing file fails the test: skipping would hide that the known answers were never checked.
    assert path.exists(), f"known-answer data {path} is not available (set ASSAY_KNOWN_ANSWER_DATA)"
    return path


def nan_count(column: pa.ChunkedArray) -> int:
    return int(pc.sum(pc.is_nan(column)).as_py())


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
