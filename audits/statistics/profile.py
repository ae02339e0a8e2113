"""A source's quality profile computed by its engine, in SQL, equal to an uploaded file's profile of the same rows.

The upload profile (``governance.data.ingest.profile.inspect_whole``) holds, for every column, its missing values
(null, or a floating-point NaN), the rows that repeat an earlier row, the label's class counts, and Tukey's fences
on each numeric column (quartiles by linear interpolation). Here the engine computes each of them where the data is:

- missing: ``count(*) FILTER (WHERE c IS NULL OR c is NaN)`` per column;
- duplicate rows: the rows minus the distinct rows (NaN made NULL and ``-0.0`` made ``0.0`` first, as the upload
  profile's grouping treats them; NULLs are equal to each other in ``DISTINCT``, as in pandas' ``duplicated``);
- the label's classes: one ``GROUP BY``, their values written as text by Arrow (as the upload profile writes them);
- Tukey's fences: the two order statistics each quartile lies between are read from the engine (``ORDER BY ...
  LIMIT 2 OFFSET k``) and interpolated by Arrow's own ``quantile``, so the quartiles are the same floats; the
  values outside the fences are counted by the engine (as doubles, as the upload profile compares them).

Only counts and a few values come back. Engines: DuckDB over Parquet files, and PostgreSQL; another engine has no
profile (``None``), and the data-quality check says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from psycopg import sql

from audits.statistics.engines import DuckDBEngine, PostgresEngine, _quoted
from governance.data.ingest.profile import OUTLIER_IQR_FACTOR, OUTLIER_METHOD
from governance.data.sources import postgres

_DUCKDB_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_DUCKDB_FLOATS = {"FLOAT", "DOUBLE"}
_PG_INTEGERS = {20, 21, 23}  # int8, int2, int4 (type oids)
_PG_FLOATS = {700, 701}  # float4, float8


def duckdb_is_nan(column: str) -> str:
    """NaN, in DuckDB: neither finite nor infinite. Not ``isnan``: over ``read_parquet``, DuckDB answers it from the
    files' statistics, which pyarrow writes without NaN, so in a projection or a WHERE it is false for every row."""
    return f"(NOT isfinite({column}) AND NOT isinf({column}))"


class _Reader:
    """What the profile asks of an engine: the columns (name, numeric, floating), and a statement's rows. The
    statement's text names the rows as ``{rel}`` and each column as ``{c0}``, ``{c1}`` ... (quoted identifiers)."""

    columns: list[tuple[str, bool, bool]]
    single: frozenset[str] = frozenset()  # the 32-bit floating columns, whose classes Arrow spells as float32

    def query(self, text: str, names: Sequence[str], params: Sequence[Any] = ()) -> list[tuple]:
        raise NotImplementedError

    def is_nan(self, column: str) -> str:
        raise NotImplementedError


class _DuckDBReader(_Reader):
    def __init__(self, engine: DuckDBEngine) -> None:
        self.engine = engine
        self.connection = engine._connection()
        self.files = engine._files()
        described = self.connection.sql(
            "DESCRIBE SELECT * FROM read_parquet($files, union_by_name = true)", params={"files": self.files}
        ).fetchall()
        self.columns = [
            (row[0], row[1] in _DUCKDB_INTEGERS | _DUCKDB_FLOATS, row[1] in _DUCKDB_FLOATS) for row in described
        ]
        self.single = frozenset(row[0] for row in described if row[1] == "FLOAT")

    def query(self, text: str, names: Sequence[str], params: Sequence[Any] = ()) -> list[tuple]:
        named = {f"c{i}": _quoted(name) for i, name in enumerate(names)}
        statement = text.format(rel="read_parquet($files, union_by_name = true)", **named)
        pieces = statement.split("%s")  # the values' places, in order: $p0, $p1 ... (values, never text)
        statement = pieces[0] + "".join(f"$p{i}{piece}" for i, piece in enumerate(pieces[1:]))
        values = {"files": self.files, **{f"p{i}": value for i, value in enumerate(params)}}
        return self.connection.sql(statement, params=values).fetchall()

    def is_nan(self, column: str) -> str:
        return duckdb_is_nan(column)

    def close(self) -> None:
        self.connection.close()


class _PostgresReader(_Reader):
    def __init__(self, engine: PostgresEngine) -> None:
        self.engine = engine
        described, _ = postgres.run(
            engine.source,
            sql.SQL("SELECT * FROM {} AS t LIMIT 0").format(postgres.relation(engine.source)),
            connection=engine.connection,
        )
        self.columns = [
            (c.name, c.type_code in _PG_INTEGERS | _PG_FLOATS, c.type_code in _PG_FLOATS) for c in described
        ]
        self.single = frozenset(c.name for c in described if c.type_code == 700)

    def query(self, text: str, names: Sequence[str], params: Sequence[Any] = ()) -> list[tuple]:
        named = {f"c{i}": sql.Identifier(name) for i, name in enumerate(names)}
        statement = sql.SQL(text.replace("{rel}", "{rel} AS t")).format(
            rel=postgres.relation(self.engine.source), **named
        )
        _, rows = postgres.run(self.engine.source, statement, tuple(params), connection=self.engine.connection)
        return rows

    def is_nan(self, column: str) -> str:
        return f"({column} = 'NaN')"

    def close(self) -> None:
        return None


def _reader(engine: Any) -> _DuckDBReader | _PostgresReader | None:
    if hasattr(engine, "profile_reader"):  # an engine that brings its own (audits.statistics.lakehouse)
        return engine.profile_reader()  # type: ignore[no-any-return]
    if isinstance(engine, DuckDBEngine):
        return _DuckDBReader(engine)
    if isinstance(engine, PostgresEngine):
        return _PostgresReader(engine)
    return None


def source_profile(engine: Any, *, label_column: str = "") -> dict[str, Any] | None:
    """The quality profile of ``engine``'s rows, as ``inspect_whole`` computes it for a file (no subject ids: a
    source has none); None for an engine that cannot compute one."""
    reader = _reader(engine)
    if reader is None:
        return None
    try:
        return _profile(reader, label_column=label_column)
    finally:
        reader.close()


def _missing_expression(reader: _Reader, index: int, floating: bool) -> str:
    column = f"{{c{index}}}"
    if floating:
        return f"count(*) FILTER (WHERE {column} IS NULL OR {reader.is_nan(column)})"
    return f"count(*) FILTER (WHERE {column} IS NULL)"


def _normalised(reader: _Reader, index: int, floating: bool) -> str:
    """The column as the upload profile groups it: NaN is NULL, and ``-0.0 + 0.0`` is ``0.0`` (a 32-bit float
    stays one: REAL plus REAL, in DuckDB and PostgreSQL alike)."""
    column = f"{{c{index}}}"
    if floating:
        return f"CASE WHEN {reader.is_nan(column)} THEN NULL ELSE {column} + CAST(0 AS REAL) END"
    return column


def _profile(reader: _Reader, *, label_column: str) -> dict[str, Any]:
    names = [name for name, _, _ in reader.columns]
    floating = {name: is_float for name, _, is_float in reader.columns}
    counts = ", ".join(_missing_expression(reader, i, floating[name]) for i, name in enumerate(names))
    first = reader.query(f"SELECT count(*), {counts} FROM {{rel}}", names)[0]  # noqa: S608 - quoted identifiers
    rows = int(first[0])
    missing = {
        name: {"count": int(count), "fraction": int(count) / rows if rows else 0.0}
        for name, count in zip(names, first[1:], strict=True)
    }
    profile: dict[str, Any] = {
        "rows": rows,
        "columns": len(names),
        "missing": missing,
        "duplicate_rows": _duplicate_rows(reader, names, floating, rows),
    }
    if label_column:
        profile["label"] = _label_balance(reader, label_column, floating.get(label_column, False))
    numeric = [name for name, is_numeric, _ in reader.columns if is_numeric and name != label_column]
    profile["outliers"] = {
        name: stats for name in numeric if (stats := _tukey(reader, name, floating[name])) is not None
    }
    return profile


def _duplicate_rows(reader: _Reader, names: list[str], floating: dict[str, bool], rows: int) -> int:
    if rows < 2:
        return 0
    listed = ", ".join(_normalised(reader, i, floating[name]) for i, name in enumerate(names))
    (distinct,) = reader.query(f"SELECT count(*) FROM (SELECT DISTINCT {listed} FROM {{rel}}) AS d", names)[0]  # noqa: S608
    return rows - int(distinct)


def _label_balance(reader: _Reader, column: str, floating: bool) -> dict[str, Any]:
    import pyarrow as pa

    from governance.data.ingest.profile import _as_text  # noqa: PLC0415 - the upload profile's own text of a class

    value = _normalised(reader, 0, floating)
    found = reader.query(
        f"SELECT {value} AS v, count(*) FROM {{rel}} WHERE {value} IS NOT NULL GROUP BY 1",  # noqa: S608
        [column],
    )
    # A 32-bit float comes back as a Python float; as float32 again, Arrow spells it as the upload does (0.1).
    values = pa.array([row[0] for row in found], pa.float32() if column in reader.single else None)
    classes = _as_text(pa.chunked_array([values]), column=column).to_pylist() if found else []
    counted = [int(row[1]) for row in found]
    pairs = sorted(zip(classes, counted, strict=True), key=lambda pair: (-pair[1], pair[0]))
    labelled = sum(counted)
    return {"column": column, "counts": dict(pairs), "minority_fraction": pairs[-1][1] / labelled if labelled else None}


def _tukey(reader: _Reader, column: str, floating: bool) -> dict[str, Any] | None:
    """Tukey's fences as ``profile._tukey_outliers`` computes them, the quartiles from two order statistics each."""
    import pyarrow as pa
    import pyarrow.compute as pc

    present = "{c0} IS NOT NULL" + (f" AND NOT {reader.is_nan('{c0}')}" if floating else "")
    (count,) = reader.query(f"SELECT count(*) FROM {{rel}} WHERE {present}", [column])[0]  # noqa: S608
    n = int(count)
    if n == 0:
        return None
    quartiles = []
    for q in (0.25, 0.75):
        index = q * (n - 1)
        lower = math.floor(index)
        found = reader.query(
            f"SELECT {{c0}} FROM {{rel}} WHERE {present} ORDER BY {{c0}} LIMIT 2 OFFSET {lower}",  # noqa: S608 - an int
            [column],
        )
        pair = [row[0] for row in found][: 2 if lower + 1 < n else 1]
        # A 32-bit float as float32 again (PostgreSQL sends a REAL as its shortest decimal, 0.1, not 0.100000001...).
        values = pa.array(pair, pa.float32() if column in reader.single else None)
        # Arrow interpolates between the two values as it would in the whole column: the same fraction, same floats.
        quartiles.append(pc.quantile(values, q=index - lower if len(pair) == 2 else 0.0).to_pylist()[0])
    q1, q3 = quartiles
    if q1 is None or q3 is None or not (math.isfinite(q1) and math.isfinite(q3)):
        return None
    q1, q3 = q1 + 0.0, q3 + 0.0
    iqr = q3 - q1
    low, high = q1 - OUTLIER_IQR_FACTOR * iqr, q3 + OUTLIER_IQR_FACTOR * iqr
    as_double = "CAST({c0} AS DOUBLE PRECISION)"
    (outside,) = reader.query(
        f"SELECT count(*) FROM {{rel}} WHERE {present} AND ({as_double} < %s OR {as_double} > %s)",  # noqa: S608
        [column],
        [low, high],
    )[0]
    return {"method": OUTLIER_METHOD, "q1": q1, "q3": q3, "low": low, "high": high, "count": int(outside)}
