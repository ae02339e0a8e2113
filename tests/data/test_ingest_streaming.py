"""The streaming profile (governance.data.ingest.streaming) gives exactly what the whole-table profile gives.

Large uploads are profiled batch by batch (issue 25); what a version records must not depend on the file's size.
Each case reads one file both ways: whole (the reference, reading the table at once as before) and streaming, once
with Arrow's usual 8 MiB block and once with blocks of a few hundred bytes, so that type inference, markers, quotes,
duplicates and quartiles cross many block boundaries. Results (every field of ``Ingested``) or refusals (message and
field) must be equal. The rest of test_ingest.py and test_ingest_input.py runs again with streaming forced for every
file (``test_ingest_streamed_again.py``).
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from governance.data.ingest import Ingested, IngestError, IngestLimits, inspect_file, streaming
from tests.data.test_ingest import ADULT_COLUMNS, shared_file

WHOLE = IngestLimits(stream_above_bytes=1 << 62)
STREAMED = IngestLimits(stream_above_bytes=0)


def outcome(read: Any) -> Ingested | tuple[str, str]:
    try:
        return read()
    except IngestError as exc:
        return (str(exc), exc.field)


def assert_same(path: Path, *, fmt: str = "csv", block_sizes: tuple[int, ...] = (8 << 20, 512), **kwargs: Any) -> Any:
    """Read ``path`` whole and streamed (for each block size); every field equal, or the same refusal."""
    whole = outcome(lambda: inspect_file(path, fmt=fmt, limits=WHOLE, **kwargs))
    markers = sorted({m.strip() for m in kwargs.get("missing_markers", ())})
    for block_size in block_sizes:

        def streamed(block_size: int = block_size) -> Ingested:
            try:
                return streaming.inspect_streaming(
                    path,
                    fmt=fmt,
                    subject_id_column=kwargs.get("subject_id_column", ""),
                    label_column=kwargs.get("label_column", ""),
                    delimiter="\t" if kwargs.get("delimiter") == "\\t" else kwargs.get("delimiter", ","),
                    markers=markers,
                    limits=STREAMED,
                    block_size=block_size,
                )
            except streaming.WholeFile:
                return inspect_file(path, fmt=fmt, limits=WHOLE, **kwargs)

        other = outcome(streamed)
        if isinstance(whole, Ingested) and isinstance(other, Ingested):
            for field in dataclasses.fields(Ingested):
                assert getattr(other, field.name) == getattr(whole, field.name), (field.name, block_size)
        else:
            assert other == whole, block_size
    # And through inspect_file's own switch.
    assert outcome(lambda: inspect_file(path, fmt=fmt, limits=STREAMED, **kwargs)) == whole
    return whole


@pytest.fixture(scope="module")
def adult_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = shared_file("adult.data").read_text(encoding="utf-8")
    rows = [line.replace(", ", ",") for line in raw.splitlines() if line]
    path = tmp_path_factory.mktemp("adult") / "adult.csv"
    path.write_text("\n".join([",".join(ADULT_COLUMNS), *rows]) + "\n", encoding="utf-8")
    return path


def test_adult_with_markers_and_label(adult_csv: Path) -> None:
    result = assert_same(adult_csv, label_column="income", missing_markers=("?",), block_sizes=(8 << 20, 4096))
    assert isinstance(result, Ingested)
    assert result.row_count == 32561


def test_adult_padded_markers_turn_a_column_numeric(tmp_path: Path) -> None:
    """adult.data as published (", " separators, " ?" markers): the whole-table code nulls padded markers after
    parsing and re-types the columns they leave numeric; streaming must decide the same after its pass."""
    raw = shared_file("adult.data").read_text(encoding="utf-8")
    path = tmp_path / "adult-raw.csv"
    path.write_text(",".join(ADULT_COLUMNS) + "\n" + raw, encoding="utf-8")
    assert_same(path, label_column="income", missing_markers=("?",), block_sizes=(8 << 20, 4096))


def test_compas_with_subject_ids(tmp_path: Path) -> None:
    raw = shared_file("compas-scores-two-years.csv").read_bytes()
    header, body = raw.split(b"\n", 1)
    names: list[str] = []
    for name in header.decode().rstrip("\r").split(","):
        names.append(f"{name}.1" if name in names else name)
    path = tmp_path / "compas.csv"
    path.write_bytes(",".join(names).encode() + b"\r\n" + body)
    result = assert_same(path, subject_id_column="id", label_column="two_year_recid", block_sizes=(8 << 20, 8192))
    assert isinstance(result, Ingested)
    assert result.row_count == 7214


def test_compas_repeated_names_refused_alike() -> None:
    assert_same(shared_file("compas-scores-two-years.csv"), block_sizes=(8 << 20,))


def test_german_credit_with_duplicates(tmp_path: Path) -> None:
    lines = shared_file("german.data").read_text(encoding="ascii").splitlines()
    path = tmp_path / "german.csv"
    header = ",".join(f"a{i}" for i in range(1, 21)) + ",label"
    body = [line.replace(" ", ",") for line in lines]
    path.write_text("\n".join([header, *body, *body[:250]]) + "\n", encoding="ascii")  # 250 repeated rows
    result = assert_same(path, label_column="label", block_sizes=(8 << 20, 1024))
    assert isinstance(result, Ingested)
    assert result.profile["duplicate_rows"] == 250


@pytest.mark.parametrize(
    ("first", "later"),
    [
        ("", "7"),
        ("1", "true"),
        ("1", "2.5"),
        ("1", "x"),
        ("true", "2020-01-02"),
        ("2020-01-02", "12:30:00"),
        ("12:30:00", "2020-01-02 10:00:00"),
        ("2020-01-02 10:00:00", "2020-01-02 10:00:00.123456789"),
        ("2020-01-02 10:00:00", "2020-01-02T10:00:00+01:00"),
        ("2020-01-02T10:00:00Z", "2020-01-02T10:00:00.5Z"),
        ("2020-01-02T10:00:00Z", "1.5"),
        ("2020-01-02", "3"),
        ("1.5", "abc"),
        ("1", ""),
    ],
)
def test_a_later_value_loosens_the_type_as_arrow_does(tmp_path: Path, first: str, later: str) -> None:
    """Arrow's ladder (null, int64, bool, date, time, timestamp s/ns, with zone s/ns, double, string), crossed
    at a block boundary: the first block holds only ``first``, a later one ``later``."""
    path = tmp_path / "t.csv"
    rows = [f"{first},{i}" for i in range(200)] + [f"{later},200"] + [f"{first},{i}" for i in range(201, 260)]
    path.write_text("v,n\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert_same(path, block_sizes=(8 << 20, 256))


def test_invalid_utf8_in_a_later_block_is_refused_alike(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"v,n\n" + b"abc,1\n" * 200 + b"ab\xffc,2\n" + b"abc,3\n" * 10)
    assert_same(path, block_sizes=(8 << 20, 256))


def test_ragged_row_unclosed_quote_and_long_cell_refused_alike(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n" + "1,2\n" * 300 + "1\n" + "1,2\n", encoding="utf-8")
    assert_same(ragged, block_sizes=(8 << 20, 256))
    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text("a,b\n" + "1,x\n" * 300 + '2,"abc\n3,def\n4,ghi\n', encoding="utf-8")
    assert_same(unclosed, block_sizes=(8 << 20, 256))
    quoted = tmp_path / "quoted.csv"
    quoted.write_text("a,b\n" + '1,"line one\nline two"\n' * 300, encoding="utf-8")
    assert_same(quoted, block_sizes=(8 << 20, 256))


def test_edge_files(tmp_path: Path) -> None:
    cases = {
        "header-only.csv": b"a,b\n",
        "header-no-newline.csv": b"a,b",
        "bom-crlf.csv": b"\xef\xbb\xbfa,b\r\n1,2\r\n,3\r\n1,2\r\n",
        "blank-lines.csv": b"a,b\n1,2\n\n3,4\n\n",
        "one-column.csv": b"a;b\n1;2\n",
        "empty-name.csv": b"a,\n1,2\n",
        "nan-and-zero.csv": b"x,y\n-0.0,1\n0.0,1\nnan,2\ninf,3\n-inf,3\n",
        # A row longer than the small block: the pass starts again with the whole-table reader's 8 MiB block.
        "long-row.csv": b"x,y\n" + b"1,a\n" * 100 + b"2," + b"b" * 5000 + b"\n" + b"3,c\n" * 100,
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert_same(path, block_sizes=(8 << 20, 64))
    assert_same(tmp_path / "bom-crlf.csv", label_column="missing", block_sizes=(8 << 20,))


def test_random_tables_agree(tmp_path: Path) -> None:
    """Seeded random tables: repeated rows, unknown cells, signed zeros, ids with spaces, long and short text,
    numbers at the quartiles' edges; the duplicate count goes through several spilled partitions."""
    rng = random.Random(20261206)
    for case in range(4):
        rows = []
        for _ in range(3000):
            rows.append(
                [
                    rng.choice(["", " 7", "007", str(rng.randrange(500)), "x y"]),
                    rng.choice(["", "?", " ?", str(rng.randrange(-50, 50)), "-0", "1e3"]),
                    rng.choice(["", "-0.0", "0.0", f"{rng.gauss(0, 1):.6f}", "nan", "1e308"]),
                    rng.choice(["good", "bad", "", "n/a", "NA"]),
                    "t" * rng.randrange(0, 30) + rng.choice(["", "é", '"q"']),
                ]
            )
        rows += rows[: rng.randrange(50, 400)]
        rng.shuffle(rows)
        path = tmp_path / f"random-{case}.csv"
        body = "\n".join(",".join('"' + v.replace('"', '""') + '"' if '"' in v else v for v in r) for r in rows)
        path.write_text("id,score,value,label,text\n" + body + "\n", encoding="utf-8")
        for kwargs in ({}, {"subject_id_column": "id", "label_column": "label", "missing_markers": ("?", "n/a")}):
            result = assert_same(path, block_sizes=(8 << 20, 2048), **kwargs)
            assert isinstance(result, Ingested)


def test_parquet_agrees(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 200_000
    table = pa.table(
        {
            "id": pa.array([f"S{i % 150_000}" for i in range(n)]),
            "age": pa.array(rng.integers(18, 90, n), pa.int32()),
            "income": pa.array(np.where(rng.random(n) < 0.01, np.nan, rng.normal(50_000, 20_000, n))),
            "small": pa.array(rng.random(n).astype(np.float32)),
            "label": pa.array(rng.integers(0, 2, n)),
            "when": pa.array(rng.integers(0, 10**9, n), pa.timestamp("s")),
        }
    )
    table = pa.concat_tables([table, table.slice(0, 5000)])
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=30_000)
    result = assert_same(path, fmt="parquet", subject_id_column="id", label_column="label", block_sizes=(8 << 20,))
    assert isinstance(result, Ingested)
    assert result.profile["duplicate_rows"] == 5000


def test_quartiles_by_radix_selection_equal_arrow_on_awkward_values(tmp_path: Path) -> None:
    """Negative and positive zeros, infinities, values 2**53 apart, huge int64: the selection's keys order them as
    Arrow does, and the interpolation is Arrow's own."""
    values = [0.0, -0.0, 1.5, -1e308, 1e308, 2.0**53, 2.0**53 + 2, -3.25, 7.0, 7.0, 7.0]
    path = tmp_path / "f.csv"
    path.write_text("x,i\n" + "\n".join(f"{v!r},{(2**62) - k}" for k, v in enumerate(values * 40)) + "\n")
    assert_same(path, block_sizes=(8 << 20, 128))
