"""A Parquet source's files leave out what a writer marks as not data: a path component below the folder that
starts with ``_`` or ``.`` (Spark's and Hive's ``_temporary/`` while a job writes, hidden files). A partition whose
only files are a writer's work in progress has not arrived (review finding 9)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from governance.data.sources import SourceError, parse_source
from governance.data.sources.evidence import parquet_files
from governance.data.sources.partitions import Partition, present

TABLE = pa.table({"x": [1, 2, 3]})


def _write(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(TABLE, path)
    return path


def test_a_writers_temporary_and_hidden_files_are_not_the_sources(tmp_path: Path) -> None:
    folder = tmp_path / "_lake" / "scores"  # a marked folder above the source's is no concern of the source's
    kept = [_write(folder / "part-000.parquet"), _write(folder / "sub" / "part-001.parquet")]
    _write(folder / "_temporary" / "0" / "part-002.parquet")
    _write(folder / ".part-003.parquet")
    _write(folder / ".hidden" / "part-004.parquet")
    _write(folder / "sub" / "_part-005.parquet")

    assert parquet_files(folder) == kept


def test_a_folder_holding_only_a_writers_work_in_progress_has_no_file(tmp_path: Path) -> None:
    folder = tmp_path / "scores"
    _write(folder / "_temporary" / "0" / "part-000.parquet")

    with pytest.raises(SourceError, match=r"holds no \.parquet file"):
        parquet_files(folder)


def test_a_partition_being_written_has_not_arrived(tmp_path: Path) -> None:
    day = tmp_path / "scores" / "date=2026-12-05"
    _write(day / "_temporary" / "0" / "part-000.parquet")
    source = parse_source(f"parquet://{tmp_path / 'scores'}", roots=[str(tmp_path)], connections={})
    partition = Partition(source=source, column="date", value=dt.date(2026, 12, 5))

    assert not present(partition)
    _write(day / "part-000.parquet")
    assert present(partition)
