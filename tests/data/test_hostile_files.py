"""Hostile data files are refused before they cost memory (issue 17, "Resource exhaustion by one upload").

A 9.9 MB CSV with 10^6 columns drove the server to about 10 GB (100,000 columns: 1.1 GB here); it is now read in a
child process allowed 256 MiB more than its imports, and refused from its header line. Parquet files are refused
from their metadata (columns, unpacked size) before a column is read; long values are refused naming their column
and row. A consent CSV whose header has 10^6 columns was checked for repeats in quadratic time (a core at 100% for
over 4 minutes): it is now refused from its length. Through the API each answers 422 naming the limit and its
setting, with nothing written and no temporary file left behind.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.data.actions import DataError
from governance.data.consent_import import _read_header
from governance.data.ingest import IngestError, IngestLimits, inspect_file, read_table
from governance.data.models import Dataset, DatasetVersion
from tests.conftest import Cast
from tests.data.conftest import API, make_dataset, refused
from tests.hostile import MiB, memory_ceiling, run_under_ceiling, wide_csv
from tests.storage_files import stored_names

CEILING = 256 * MiB  # the unbounded reader needed 1.1 GB for 10^5 columns and about 10 GB for 10^6
IMPORTS = "import pyarrow, pyarrow.csv, pyarrow.compute, pyarrow.parquet\nfrom governance.data import ingest"


@pytest.fixture(scope="module")
def million_columns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "wide.csv"
    path.write_bytes(wide_csv(1_000_000))
    return path


def test_a_csv_of_a_million_columns_is_refused_from_its_header_within_the_ceiling(million_columns: Path) -> None:
    assert 9 * MiB < million_columns.stat().st_size < 10 * MiB

    child = run_under_ceiling(
        f"ingest.inspect_file(__import__('pathlib').Path({str(million_columns)!r}), fmt='csv')\n"
        "result = {'outcome': 'accepted'}",
        imports=IMPORTS,
        ceiling=CEILING,
    )

    assert child.result["outcome"] == "IngestError", (child.result, child.stderr)
    assert "more than 10,000 columns" in child.result["message"]
    assert "DATASET_MAX_COLUMNS" in child.result["message"]


def limits(**changes: Any) -> IngestLimits:
    return IngestLimits(**changes)


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("columns", [5, 6])
def test_the_column_limit_counts_the_header_exactly(tmp_path: Path, columns: int) -> None:
    path = write(tmp_path, "data.csv", wide_csv(columns, rows=2))

    if columns <= 5:
        assert inspect_file(path, fmt="csv", limits=limits(max_columns=5)).profile["columns"] == columns
    else:
        with pytest.raises(
            IngestError, match=r"The file has 6 columns; Assay accepts at most 5 \(DATASET_MAX_COLUMNS\)"
        ):
            inspect_file(path, fmt="csv", limits=limits(max_columns=5))


def test_delimiters_inside_quoted_names_are_not_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "data.csv", b'"a,b,c",d\n1,2\n')

    assert inspect_file(path, fmt="csv", limits=limits(max_columns=2)).profile["columns"] == 2


def test_the_column_limit_holds_for_other_delimiters_and_after_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "data.csv", b"\n\n" + wide_csv(30, rows=1).replace(b",", b";"))

    with pytest.raises(IngestError, match="30 columns"):
        read_table(path, fmt="csv", delimiter=";", limits=limits(max_columns=20))


def test_a_long_value_is_refused_naming_its_column_and_row(tmp_path: Path) -> None:
    path = write(tmp_path, "data.csv", b"id,note\n1,short\n2," + b"x" * 2000 + b"\n")

    with pytest.raises(IngestError) as caught:
        inspect_file(path, fmt="csv", limits=limits(max_cell_bytes=1024))

    assert str(caught.value) == (
        "Column 'note' holds a value of 2,000 bytes (row 2); Assay accepts values of at most 1,024 bytes"
        " (DATASET_MAX_CELL_BYTES)."
    )
    assert "xxxx" not in str(caught.value)  # never the value itself


def parquet_bytes(table: pa.Table, **options: Any) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **options)
    return sink.getvalue()


def test_a_parquet_file_with_too_many_columns_is_refused_from_its_metadata(tmp_path: Path) -> None:
    table = pa.table({f"c{i}": [1, 2] for i in range(12)})
    path = write(tmp_path, "data.parquet", parquet_bytes(table))

    with pytest.raises(IngestError, match=r"12 columns; Assay accepts at most 10 \(DATASET_MAX_COLUMNS\)"):
        inspect_file(path, fmt="parquet", limits=limits(max_columns=10))
    assert inspect_file(path, fmt="parquet", limits=limits(max_columns=12)).profile["columns"] == 12


def test_a_parquet_file_that_unpacks_past_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    # 64 MiB of one repeated value compresses to a few KiB.
    table = pa.table({"note": pa.array(["a" * 1024] * (64 * 1024))})
    path = write(tmp_path, "bomb.parquet", parquet_bytes(table, compression="zstd", use_dictionary=False))
    assert path.stat().st_size < MiB

    child = run_under_ceiling(
        f"ingest.inspect_file(__import__('pathlib').Path({str(path)!r}), fmt='parquet', "
        "limits=ingest.IngestLimits(max_table_bytes=16 * 1024 * 1024))\nresult = {'outcome': 'accepted'}",
        imports=IMPORTS,
        ceiling=32 * MiB,
    )

    assert child.result["outcome"] == "IngestError", (child.result, child.stderr)
    assert "DATASET_MAX_BYTES" in child.result["message"]


def test_the_configured_limits_are_the_settings(settings: Any) -> None:
    assert IngestLimits.configured() == IngestLimits()
    settings.DATASET_MAX_COLUMNS = 3
    settings.DATASET_MAX_CELL_BYTES = 99

    assert IngestLimits.configured() == IngestLimits(max_columns=3, max_cell_bytes=99)


# --- consent CSV headers -------------------------------------------------------------------------------------------


def test_a_consent_header_of_a_million_columns_is_refused_from_its_length(million_columns: Path) -> None:
    child = run_under_ceiling(
        f"consent_import._read_header(__import__('pathlib').Path({str(million_columns)!r}))\n"
        "result = {'outcome': 'accepted'}",
        imports="from governance.data import consent_import",
        ceiling=CEILING,
        django=True,
        cpu_seconds=60,  # the quadratic check spun for minutes: a guard, no assert on time
    )

    assert child.result["outcome"] == "DataError", (child.result, child.stderr)
    message = child.result["message"]
    assert message.startswith("The header (line 1) is longer than 4,096 bytes; a consent file has at most 12 columns")
    assert len(message) < 500  # it used to list every unknown column


def test_a_consent_header_of_too_many_short_columns_is_refused_by_their_count(tmp_path: Path) -> None:
    path = write(tmp_path, "consent.csv", b",".join([b"purpose"] * 500) + b"\n")

    with pytest.raises(DataError, match="has 500 columns; a consent file has at most 12"):
        _read_header(path)


def test_a_consent_header_naming_a_column_twice_still_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "consent.csv", b"external_id,purpose,kind,occurred_at,kind\n")

    with pytest.raises(DataError, match="columns named twice: kind"):
        _read_header(path)


# --- through the API -------------------------------------------------------------------------------------------


@pytest.fixture
def upload_dirs(settings: Any, tmp_path: Path) -> dict[str, Path]:
    """Stored files and upload temporary files each go to a folder of this test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    (tmp_path / "uploads").mkdir()
    return {"media": tmp_path / "media", "uploads": tmp_path / "uploads"}


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_a_csv_of_a_million_columns_answers_422_naming_the_setting_and_changes_nothing(
    cast: Cast, million_columns: Path, upload_dirs: dict[str, Path]
) -> None:
    make_dataset(cast, "applicants")
    upload = SimpleUploadedFile("wide.csv", million_columns.read_bytes(), content_type="text/csv")

    with memory_ceiling(512 * MiB):
        error = refused(
            lambda: cast.owner.client().post(
                f"{API}/datasets/applicants/versions/", {"file": upload}, format="multipart"
            ),
            422,
        )

    assert "DATASET_MAX_COLUMNS" in error["message"]
    assert "file" in error["details"]
    assert not DatasetVersion.objects.exists()
    assert Dataset.objects.count() == 1
    assert stored_names() == []
    assert files_in(upload_dirs["uploads"]) == []


def test_a_consent_csv_of_a_million_columns_answers_422_and_changes_nothing(
    cast: Cast, million_columns: Path, upload_dirs: dict[str, Path]
) -> None:
    upload = SimpleUploadedFile("consents.csv", million_columns.read_bytes(), content_type="text/csv")

    error = refused(
        lambda: cast.officer.client().post(f"{API}/consent/events/bulk", {"file": upload}, format="multipart"), 422
    )

    assert "at most 12 columns" in error["message"]
    assert files_in(upload_dirs["uploads"]) == []
