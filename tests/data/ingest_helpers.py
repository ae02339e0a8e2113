"""Helpers shared by the ingest tests (test_ingest.py, test_ingest_input.py): writing a file to read (CSV or
Parquet), the findings and refusals of an ingest, and the Tukey fences pandas computes for comparison.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from governance.data.ingest import Ingested, IngestError, inspect_file


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


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()
