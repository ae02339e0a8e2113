"""The statistics layer: every engine's counted cells give the same group counts as the in-memory kernel.

The kernel (``audits.checks.groups.groupings`` over ``build_evaluation``'s arrays, numpy bincount) is the reference;
each engine counts the same real rows where they are (pyarrow in memory, DuckDB over Parquet files, PostgreSQL
on the server) and the confusion counts of every group, every grouping's unknown rows and the row total must be
equal as integers: no tolerance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audits.checks.groups import groupings
from audits.evaluation import ColumnRoles, EvaluationError, build_evaluation
from audits.metrics import confusion_by_group, encode_groups
from audits.statistics.cells import confusion_from_cells
from audits.statistics.engines import COUNT, ArrowEngine, DuckDBEngine, PostgresEngine
from audits.statistics.evaluation import counted_evaluation, rows_needed
from governance.data.sources import evidence_of, parse_source, postgres
from tests.sources.conftest import TABLES, admin_connection, connections, load_pg, pg_uri, write_parquet


def assert_same_groupings(reference: Any, counted: Any) -> None:
    """Every grouping (single attributes and the intersection) has the same groups, counts and unknown rows."""
    expected = groupings(reference, intersections=True)
    found = groupings(counted, intersections=True)
    assert [g.name for g in found] == [g.name for g in expected]
    for mine, theirs in zip(found, expected, strict=True):
        assert mine.names == theirs.names
        for cell in ("tp", "fp", "tn", "fn"):
            assert getattr(mine.counts, cell).dtype.kind == "i"
            assert getattr(mine.counts, cell).tolist() == getattr(theirs.counts, cell).tolist(), (mine.name, cell)
        assert (mine.unknown, mine.rows) == (theirs.unknown, theirs.rows)
    assert counted.rows == reference.rows


def _engine(kind: str, table: pa.Table, name: str, tmp_path: Path, source_db: Any) -> Any:
    if kind == "pyarrow":
        return ArrowEngine(table)
    if kind == "duckdb":
        path = write_parquet(table, tmp_path / name, parts=3)
        return DuckDBEngine(parse_source(f"parquet://{path}", roots=[str(tmp_path)], connections={}))
    source_db()  # the declared connection's database, with its tables
    return PostgresEngine(parse_source(pg_uri(f"table={name}"), roots=[], connections=connections()))


@pytest.fixture
def lazy_source_db(request: pytest.FixtureRequest) -> Any:
    return lambda: request.getfixturevalue("source_db")


@pytest.mark.parametrize("kind", ["pyarrow", "duckdb", "postgresql"])
@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_engine_counts_as_the_kernel(
    kind: str, name: str, tables: dict[str, pa.Table], tmp_path: Path, lazy_source_db: Any
) -> None:
    table, roles = tables[name], TABLES[name][1]
    reference = build_evaluation(table, roles)

    counted = counted_evaluation(_engine(kind, table, name, tmp_path, lazy_source_db), roles)

    assert counted.row_weights is not None
    assert len(counted.row_weights) < table.num_rows / 20  # cells, not rows
    assert_same_groupings(reference, counted)


def test_unknown_rows_are_counted_apart_and_small_groups_kept(tables: dict[str, pa.Table], tmp_path: Path) -> None:
    """COMPAS: 'Other' is declared unknown and every 53rd race is empty; Native American (16 rows) is a small group."""
    table, roles = tables["compas"], TABLES["compas"][1]
    path = write_parquet(table, tmp_path / "compas")
    engine = DuckDBEngine(parse_source(f"parquet://{path}", roots=[str(tmp_path)], connections={}))

    race = next(g for g in groupings(counted_evaluation(engine, roles), intersections=False) if g.name == "race")

    races = table.column("race").to_pylist()
    assert race.unknown == sum(1 for value in races if value in (None, "Other")) == 505
    assert "race=Other" not in race.names
    assert race.counts.n[race.names.index("race=Native American")] == races.count("Native American") == 16


def test_a_query_source_counts_only_its_rows(tables: dict[str, pa.Table], source_db: str) -> None:
    roles = TABLES["german"][1]
    german = tables["german"]
    uri = pg_uri("query=SELECT * FROM german WHERE foreign_worker = 'A201'")
    engine = PostgresEngine(parse_source(uri, roots=[], connections=connections()))
    kept = german.filter(pa.compute.equal(german.column("foreign_worker"), "A201"))
    two_roles = ColumnRoles(label=roles.label, protected=("personal_status", "age_group"), prediction="decision")

    assert_same_groupings(build_evaluation(kept, two_roles), counted_evaluation(engine, two_roles))


def test_rows_in_another_order_count_the_same(tables: dict[str, pa.Table], source_db: str) -> None:
    table, roles = tables["german"], TABLES["german"][1]
    order = list(np.random.default_rng(7).permutation(table.num_rows))
    load_pg(table, "german_shuffled", database=source_db, order=order)
    engine = PostgresEngine(parse_source(pg_uri("table=german_shuffled"), roots=[], connections=connections()))

    assert_same_groupings(build_evaluation(table, roles), counted_evaluation(engine, roles))


def test_cells_are_refused_as_the_rows_are(tables: dict[str, pa.Table], tmp_path: Path) -> None:
    """A decision outside the label's values is refused with the same words, counted or not."""
    table = tables["german"].set_column(1, "decision", pa.array([3] + [1] * (tables["german"].num_rows - 1)))
    roles = TABLES["german"][1]
    path = write_parquet(table, tmp_path / "bad")
    engine = DuckDBEngine(parse_source(f"parquet://{path}", roots=[str(tmp_path)], connections={}))

    with pytest.raises(EvaluationError) as from_rows:
        build_evaluation(table, roles)
    with pytest.raises(EvaluationError) as from_cells:
        counted_evaluation(engine, roles)

    assert str(from_cells.value) == str(from_rows.value)


def test_cell_counts_equal_bincount_over_the_expanded_rows() -> None:
    """confusion_from_cells against the kernel on the rows the cells stand for (large counts, in integers)."""
    groups = np.array(["a", "b", "a", "c", "b"])
    y_true, y_pred = np.array([1, 0, 0, 1, 1]), np.array([1, 1, 0, 0, 1])
    counts = np.array([3_000_000_001, 7, 0, 12, 5])
    found = confusion_from_cells(y_true=y_true, y_pred=y_pred, groups=encode_groups({"g": groups}), counts=counts)
    small = counts % 1000
    expanded = {k: np.repeat(v, small) for k, v in (("g", groups), ("t", y_true), ("p", y_pred))}
    reference = confusion_by_group(
        y_true=expanded["t"], y_pred=expanded["p"], groups=encode_groups({"g": expanded["g"]})
    )
    small_found = confusion_from_cells(y_true=y_true, y_pred=y_pred, groups=encode_groups({"g": groups}), counts=small)

    assert small_found.tp.tolist() == reference.tp.tolist()
    assert small_found.fn.tolist() == reference.fn.tolist()
    assert small_found.fp.tolist() == reference.fp.tolist()
    assert small_found.tn.tolist() == reference.tn.tolist()
    assert found.tp.tolist() == [3_000_000_001, 5, 0]  # a, b, c: beyond float32, exact in int64
    assert found.overall.n == int(counts.sum())


def test_the_arrow_engine_names_its_count_column(tables: dict[str, pa.Table]) -> None:
    cells = ArrowEngine(tables["german"]).cells(["credit_risk", "decision"])
    assert cells.column_names == ["credit_risk", "decision", COUNT]
    assert sum(cells.column(COUNT).to_pylist()) == 1000


@pytest.mark.parametrize(
    ("checks", "roles_change", "words"),
    [
        ({"disparate_impact": {}, "group_fairness": {}}, {}, ""),
        ({"performance": {}}, {}, "performance check(s) read rows"),
        ({"disparate_impact": {"rate": "scoring_rate"}}, {}, "scoring rates"),
        ({"disparate_impact": {}}, {"prediction": "", "score": "s", "threshold": 0.5}, "score threshold"),
    ],
)
def test_counts_suffice_only_for_the_group_checks(checks: dict, roles_change: dict, words: str) -> None:
    roles = ColumnRoles(**{"label": "y", "protected": ("g",), "prediction": "p", **roles_change})
    why = rows_needed({"checks": checks}, roles)
    assert (words in why) if words else why == ""


def test_the_evidence_and_the_counts_read_one_snapshot(tables: dict[str, pa.Table], source_db: str) -> None:
    """A change committed after the evidence was checked is not in the counts the audit reads."""
    table, roles = tables["german"], TABLES["german"][1]
    load_pg(table, "german_live", database=source_db)
    source = parse_source(pg_uri("table=german_live"), roots=[], connections=connections())

    with postgres.snapshot(source) as connection:
        checked = evidence_of(source, connection=connection)
        with admin_connection(source_db) as writer:
            writer.execute("UPDATE german_live SET decision = 3 - decision")
        counted = counted_evaluation(PostgresEngine(source, connection=connection), roles)

    assert checked["rows"] == 1000
    assert_same_groupings(build_evaluation(table, roles), counted)
    assert evidence_of(source)["digest"] != checked["digest"]  # the change is there for the next audit


def test_files_with_columns_in_another_order_or_missing_are_read_by_name(
    tables: dict[str, pa.Table], tmp_path: Path
) -> None:
    """docs/data-sources.md: files of one source may order their columns differently; a missing column is empty."""
    table, roles = tables["german"], TABLES["german"][1]
    folder = tmp_path / "german"
    folder.mkdir()
    first, second = table.slice(0, 400), table.slice(400)
    pq.write_table(first, folder / "a.parquet")
    pq.write_table(second.select(list(reversed(second.column_names))), folder / "b.parquet")
    pq.write_table(table.slice(0, 50).drop_columns(["foreign_worker"]), folder / "c.parquet")
    engine = DuckDBEngine(parse_source(f"parquet://{folder}", roots=[str(tmp_path)], connections={}))

    blank = table.slice(0, 50).set_column(4, "foreign_worker", pa.nulls(50, pa.string()))
    expected = pa.concat_tables([first, second, blank])
    assert_same_groupings(build_evaluation(expected, roles), counted_evaluation(engine, roles))
