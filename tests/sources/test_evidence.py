"""Immutability evidence of sources, and the URIs Assay accepts: file hashes for Parquet, an order-independent
content digest computed by PostgreSQL, each compared in words; refusals name the problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from governance.data.sources import SourceError, changes_between, evidence_of, parse_source, postgres
from governance.data.sources.evidence import DIGEST_METHOD
from tests.sources.conftest import admin_connection, connections, load_pg, pg_uri, write_parquet


def test_parquet_evidence_names_each_file_and_its_rows(tables: dict[str, pa.Table], tmp_path: Path) -> None:
    folder = write_parquet(tables["compas"], tmp_path / "compas", parts=3)
    source = parse_source(f"parquet://{folder}", roots=[str(tmp_path)], connections={})

    evidence = evidence_of(source)

    assert [f["path"] for f in evidence["files"]] == ["part-000.parquet", "part-001.parquet", "part-002.parquet"]
    assert evidence["rows"] == tables["compas"].num_rows == 7214
    assert all(len(f["sha256"]) == 64 for f in evidence["files"])
    assert changes_between(evidence, evidence_of(source)) == []


def test_a_changed_added_or_removed_file_is_named(tables: dict[str, pa.Table], tmp_path: Path) -> None:
    folder = write_parquet(tables["german"], tmp_path / "german", parts=2)
    source = parse_source(f"parquet://{folder}", roots=[str(tmp_path)], connections={})
    before = evidence_of(source)

    pq.write_table(tables["german"].slice(0, 499), folder / "part-001.parquet")  # one row fewer
    (folder / "part-000.parquet").rename(folder / "part-009.parquet")
    changes = changes_between(before, evidence_of(source))

    assert changes[0] == "part-000.parquet was removed"
    assert changes[1] == "part-009.parquet was added"
    assert changes[2].startswith("part-001.parquet changed (sha256 ")
    assert changes[3] == "the row count changed from 1,000 to 999"


def test_the_sql_digest_ignores_order_and_sees_an_edit(tables: dict[str, pa.Table], source_db: str) -> None:
    german = tables["german"]
    load_pg(german, "german_reordered", database=source_db, order=list(np.random.default_rng(3).permutation(1000)))
    first = evidence_of(parse_source(pg_uri("table=german"), roots=[], connections=connections()))
    reordered = evidence_of(parse_source(pg_uri("table=german_reordered"), roots=[], connections=connections()))

    assert first["rows"] == 1000
    assert first["method"] == DIGEST_METHOD
    assert changes_between(first, reordered) == []

    with admin_connection(source_db) as connection:
        connection.execute(
            "UPDATE german_reordered SET decision = 3 - decision WHERE ctid = (SELECT min(ctid) FROM german_reordered)"
        )
    edited = evidence_of(parse_source(pg_uri("table=german_reordered"), roots=[], connections=connections()))
    assert changes_between(first, edited) == [
        "the content digest of the rows changed (a row was added, removed or edited)"
    ]

    with admin_connection(source_db) as connection:
        connection.execute("ALTER TABLE german_reordered ADD COLUMN note text")
    widened = evidence_of(parse_source(pg_uri("table=german_reordered"), roots=[], connections=connections()))
    assert changes_between(edited, widened)[0].startswith("the columns changed (were credit_risk, decision,")


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("s3://bucket/scores", "must start with parquet://"),
        ("parquet://relative/path", "absolute path"),
        ("parquet:///etc/passwd", "not inside a folder DATA_SOURCE_ROOTS allows"),
        ("postgresql://source/t%22%3B", "plain name"),
        ("postgresql://source/t?query=SELECT+1", "one of the two"),
        ("postgresql://source", "Name a table"),
        ("postgresql://source?query=SELECT+1%3B+DROP+TABLE+t", "one SELECT"),
        ("postgresql://source?query=DELETE+FROM+t", "one SELECT"),
    ],
)
def test_refused_uris_say_why(uri: str, words: str, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as refused:
        parse_source(uri, roots=[str(tmp_path)], connections=connections())
    assert words in str(refused.value)


def test_no_source_is_accepted_until_the_operator_allows_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="set DATA_SOURCE_ROOTS"):
        parse_source(f"parquet://{tmp_path}", roots=[], connections={})
    with pytest.raises(SourceError, match="declares the connections they may use in DATA_SOURCE_CONNECTIONS"):
        parse_source("postgresql://source/t", roots=[], connections={})


def test_a_read_only_session_cannot_write(source_db: str) -> None:
    source = parse_source(pg_uri("table=german"), roots=[], connections=connections())
    with postgres.connect(source) as connection, pytest.raises(Exception, match="read-only transaction"):
        connection.execute("DELETE FROM german")


def test_a_link_out_of_the_folder_is_refused(tables: dict[str, pa.Table], tmp_path: Path) -> None:
    outside = write_parquet(tables["german"], tmp_path / "elsewhere")
    inside = write_parquet(tables["german"], tmp_path / "lake" / "german").parent
    (inside / "leak.parquet").symlink_to(outside)
    source = parse_source(f"parquet://{inside}", roots=[str(tmp_path / "lake")], connections={})

    with pytest.raises(SourceError, match=r"leak\.parquet links outside"):
        evidence_of(source)
