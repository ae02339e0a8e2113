"""A seeded sample of a source's rows drawn by its engine, the same rows on every engine (for the explainability and
adversarial checks, which need rows, not counts).

Method (``md5-of-row-number``, engine-independent): the rows are put in one order defined by their values alone,
every column read ascending, text in bytewise (``C``) order, NULLs last; they are numbered 1..n in that order; the
sample is the ``size`` rows whose ``md5('<seed>:<row number>')`` (hex text) is smallest, returned in row-number
order. Rows equal in every column read are interchangeable, so the sample's values do not depend on how an engine
breaks ties. DuckDB, PostgreSQL and the in-memory reference (``arrow_sample``, for a source whose rows an
``ArrowEngine`` holds) give the same rows; a different seed gives another sample. An uploaded file's audit does not
use this method: its explainability and adversarial checks pick rows with ``seeded_rows`` (numpy's generator seeded
with the run's seed) over the file's row order, so the same rows as a source and as an upload are not sampled alike,
and a verdict of those two checks close to its threshold may differ between them.

DuckDB's own ``USING SAMPLE ... REPEATABLE (seed)`` was not used: its rows depend on DuckDB's version, thread count
and the files' layout, and no other engine can reproduce them.

The cost is one sort of the source by its columns (DuckDB spills past its memory limit) and a top-``size``
selection; only the sample's rows come back.
"""

# Statements are built as text: every name in them is a quoted identifier, and the seed a parameter.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from audits.statistics.engines import ArrowEngine, DuckDBEngine, PostgresEngine, _plain_types, _quoted
from governance.data.sources import postgres

SAMPLED_CHECKS = ("explainability", "adversarial")
METHOD = "md5-of-row-number"
METHOD_TEXT = (
    "rows ordered by the values of every column read (ascending, text in bytewise order, NULLs last), numbered "
    "1..n; the rows with the smallest md5('<seed>:<row number>') are the sample, in row-number order"
)


@dataclass(frozen=True)
class Sample:
    """The sample's rows (a pyarrow table) and how they were drawn."""

    table: Any
    seed: int
    engine: str
    rows_of: int  # the rows the sample was drawn from

    def as_json(self) -> dict[str, Any]:
        return {
            "method": METHOD,
            "how": METHOD_TEXT,
            "seed": self.seed,
            "rows": self.table.num_rows,
            "of_rows": self.rows_of,
            "engine": self.engine,
        }


def row_key(seed: int, number: int) -> str:
    """The key that decides whether row ``number`` (1-based, in the value order) is in the sample."""
    return hashlib.md5(f"{seed}:{number}".encode(), usedforsecurity=False).hexdigest()


def can_sample(engine: Any) -> bool:
    """Whether ``engine`` draws samples here (else the checks sample the rows already read, as for a file)."""
    return isinstance(engine, DuckDBEngine | PostgresEngine | ArrowEngine)


def draw_sample(engine: Any, columns: Sequence[str], *, size: int, seed: int) -> Sample:
    """``size`` rows of ``columns`` (those the source has) drawn by ``engine`` (see the module docstring)."""
    if size < 1:
        raise ValueError("size must be at least 1")
    if isinstance(engine, DuckDBEngine):
        return _duckdb(engine, columns, size, seed)
    if isinstance(engine, PostgresEngine):
        return _postgres(engine, columns, size, seed)
    if isinstance(engine, ArrowEngine):
        return arrow_sample(engine.table, columns, size=size, seed=seed)
    raise ValueError(f"{type(engine).__name__} cannot draw a sample")


def arrow_sample(table: Any, columns: Sequence[str], *, size: int, seed: int) -> Sample:
    """The reference implementation over a table in memory (an uploaded file's rows)."""
    import pyarrow.compute as pc

    present = [c for c in dict.fromkeys(columns) if c in table.column_names]
    chosen = table.select(present)
    order = pc.sort_indices(chosen, sort_keys=[(c, "ascending", "at_end") for c in present])
    keys = [row_key(seed, number) for number in range(1, chosen.num_rows + 1)]
    picked = sorted(sorted(range(len(keys)), key=keys.__getitem__)[:size])  # positions in the value order
    rows = chosen.take(order.take(picked)) if picked else chosen.slice(0, 0)
    return Sample(_plain_types(rows), seed, "in-memory (pyarrow)", chosen.num_rows)


def _duckdb(engine: DuckDBEngine, columns: Sequence[str], size: int, seed: int) -> Sample:
    with engine._connection() as connection:
        present = engine._present(connection, columns)
        listed = ", ".join(_quoted(c) for c in present)
        order = ", ".join(f"{_quoted(c)} ASC NULLS LAST" for c in present)
        source = "read_parquet($files, union_by_name = true)"
        numbered = f"SELECT {listed}, row_number() OVER (ORDER BY {order}) AS __assay_n FROM {source}"
        statement = (
            f"SELECT {listed} FROM (SELECT * FROM ({numbered}) ORDER BY md5($seed || ':' || CAST(__assay_n AS "
            f"VARCHAR)) LIMIT {int(size)}) ORDER BY __assay_n"
        )
        params = {"files": engine._files(), "seed": str(seed)}
        table = connection.sql(statement, params=params).to_arrow_table()
        (total,) = connection.sql(f"SELECT count(*) FROM {source}", params={"files": params["files"]}).fetchall()[0]
    return Sample(_plain_types(table), seed, engine.name, int(total))


def _postgres(engine: PostgresEngine, columns: Sequence[str], size: int, seed: int) -> Sample:
    import pyarrow as pa

    present = engine._present(columns)
    listed = sql.SQL(", ").join(sql.Identifier(c) for c in present)
    # Text in bytewise order (COLLATE "C"), as DuckDB and Arrow compare it; other types in their own order.
    described, _ = postgres.run(
        engine.source,
        sql.SQL("SELECT {} FROM {} AS t LIMIT 0").format(listed, postgres.relation(engine.source)),
        connection=engine.connection,
    )
    text_oids = {25, 1043, 1042, 19}  # text, varchar, bpchar, name
    order = sql.SQL(", ").join(
        sql.SQL('{} COLLATE "C" ASC NULLS LAST' if d.type_code in text_oids else "{} ASC NULLS LAST").format(
            sql.Identifier(c)
        )
        for c, d in zip(present, described, strict=True)
    )
    statement = sql.SQL(
        "SELECT {cols} FROM (SELECT * FROM (SELECT {cols}, row_number() OVER (ORDER BY {order}) AS __assay_n "
        "FROM {rel} AS t) AS numbered ORDER BY md5(%s || ':' || __assay_n::text) COLLATE \"C\" LIMIT {size}) "
        "AS picked ORDER BY __assay_n"
    ).format(cols=listed, order=order, rel=postgres.relation(engine.source), size=sql.Literal(int(size)))
    _, found = postgres.run(engine.source, statement, (str(seed),), connection=engine.connection)
    _, counted = postgres.run(
        engine.source,
        sql.SQL("SELECT count(*) FROM {} AS t").format(postgres.relation(engine.source)),
        connection=engine.connection,
    )
    arrays = [pa.array([row[i] for row in found]) for i in range(len(present))]
    return Sample(_plain_types(pa.table(arrays, names=present)), seed, engine.name, int(counted[0][0]))


def sample_size(document: Mapping[str, Any]) -> int:
    """How many rows the policy's explainability and adversarial checks read: the larger ``sample_rows``, plus
    explainability's background rows; 0 when the policy has neither check."""
    from audits.checks.explainability import BACKGROUND_ROWS, budget_settings  # noqa: PLC0415 - shap loads lazily

    checks = dict(document.get("checks") or {})
    sizes = [
        budget_settings(dict(checks[name] or {}), default_rows=100)[0] for name in SAMPLED_CHECKS if name in checks
    ]
    if not sizes:
        return 0
    return max(sizes) + (BACKGROUND_ROWS if "explainability" in checks else 0)
