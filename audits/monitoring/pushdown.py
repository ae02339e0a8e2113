"""A production batch's monitoring statistics computed where it lives (pure: no Django): one partition of a source,
counted by DuckDB (Parquet) or by the PostgreSQL server, never read into this process row by row.

What the engine returns is what ``batch.compute`` keeps for an uploaded file, so the same statistics follow from
the same rows (``drift``'s accumulators are filled with the engine's counts):

- a numeric feature (and the score): its missing and non-finite counts, its sum and sum of squares, and, for the
  reference's bin edges and ECDF points, how many values lie at or below and strictly below each. The engine
  places each finite value among the sorted points (DuckDB: an ``ASOF LEFT JOIN`` on the points; PostgreSQL:
  ``width_bucket(x, points)``, a binary search) and groups by that place and whether the value equals the point:
  at most two rows per point come back, whatever the batch's size;
- a categorical feature: its values and their counts (one ``GROUP BY``);
- decisions, labels and protected attributes: the cells of one ``GROUP BY`` over the prediction (or ``score >=
  threshold``), the label and the protected columns, each standing for its count of rows (the live fairness check
  counts them in integers, as the audits' counted mode does);
- with a score and labels: the distinct (score, label) pairs and their counts, for ROC AUC.

Every count is an integer, so PSI, KS, chi-square, Jensen-Shannon, the decisions', labels' and groups' figures and
every alert equal an upload's of the same rows exactly. The batch mean (and its shift in reference SDs, an
``info`` statistic, never an alert) is a float sum in another order: equal to about 1e-15 relative, not bit for bit.
Where an upload differs: the columns a source may have besides the configured ones (an id, the partition column)
are ignored, not refused; of more than 20 categories the reference never had, which 20 are named may differ.
"""

# Statements are built as text: every name in them is a quoted identifier (DuckDB's quoting, or psycopg's), and
# every value a parameter or a float written by repr() inside a CAST; nothing a person typed is pasted as SQL.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from psycopg import sql

from audits.engine import json_safe
from audits.monitoring import drift
from audits.monitoring.batch import (
    CATEGORICAL,
    FAVOURABLE,
    MAX_FIELD_CHARS,
    NUMERIC,
    UNFAVOURABLE,
    BatchError,
    BatchSpec,
    FairnessRules,
    live_fairness,
)
from governance.data.sources import postgres

COUNT = "__assay_rows"
DUCKDB_MEMORY_LIMIT = "512MB"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_DUCKDB_NUMBERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_DUCKDB_NUMBERS |= {"HUGEINT", "UHUGEINT", "FLOAT", "DOUBLE"}
# PostgreSQL's numbers by type OID: bigint, smallint, integer, real, double precision, numeric.
_POSTGRES_NUMBERS = {20, 21, 23, 700, 701, 1700}


def _duckdb_number(type_name: str) -> bool:
    """Whether DuckDB's type holds numbers: the integers, floats and DECIMAL(p, s) (read as the nearest double,
    as an uploaded file's decimal text is)."""
    return type_name in _DUCKDB_NUMBERS or type_name.startswith("DECIMAL(")


class DuckDBPartition:
    """A Parquet partition's files read by DuckDB where they lie (one thread, 512 MB before it spills)."""

    engine = "duckdb"

    def __init__(self, files: Sequence[str]) -> None:
        import duckdb

        self.files = list(files)
        self.connection = duckdb.connect(config={"memory_limit": DUCKDB_MEMORY_LIMIT, "threads": "1"})
        # The partition column is in the folder's name, not in the files: hive_partitioning off, the files' columns.
        self.rel = "read_parquet($files, union_by_name = true, hive_partitioning = false)"
        described = self.connection.sql(f"DESCRIBE SELECT * FROM {self.rel}", params={"files": self.files}).fetchall()
        self.types = {row[0]: "numeric" if _duckdb_number(row[1]) else row[1] for row in described}

    def _fetch(self, statement: str) -> list[tuple]:
        return self.connection.sql(statement, params={"files": self.files}).fetchall()

    def _arrow(self, statement: str) -> Any:
        return self.connection.sql(statement, params={"files": self.files}).to_arrow_table()

    def numeric_summary(self, column: str) -> tuple[int, int, int, float | None, float | None]:
        x = f"CAST({_quoted(column)} AS DOUBLE)"
        statement = (
            f"SELECT count(*) FILTER (WHERE {x} IS NULL OR NOT isfinite({x})), count(*) FILTER (WHERE isinf({x})), "
            f"count(*) FILTER (WHERE isfinite({x})), sum({x}) FILTER (WHERE isfinite({x})), "
            f"sum({x} * {x}) FILTER (WHERE isfinite({x})) FROM {self.rel}"
        )
        return self._fetch(statement)[0]  # type: ignore[return-value]

    def places(self, column: str, points: np.ndarray) -> list[tuple]:
        """(number of points at or below the value, whether it equals the last of them, rows) per place."""
        import pyarrow as pa

        self.connection.register("assay_points", pa.table({"v": points, "i": np.arange(len(points))}))
        x = f"CAST({_quoted(column)} AS DOUBLE)"
        # Distinct values first (a batch repeats values: rounded amounts, ages), then each placed among the points.
        statement = (
            f"SELECT coalesce(p.i + 1, 0), coalesce(t.x = p.v, false), sum(t.c) FROM "
            f"(SELECT x, count(*) AS c FROM (SELECT {x} AS x FROM {self.rel}) WHERE isfinite(x) GROUP BY x) AS t "
            "ASOF LEFT JOIN assay_points AS p ON t.x >= p.v GROUP BY ALL"
        )
        try:
            return self._fetch(statement)
        finally:
            self.connection.unregister("assay_points")

    def grouped(self, expressions: Sequence[str], names: Sequence[str], where: str = "") -> Any:
        listed = ", ".join(f"{e} AS {_quoted(n)}" for e, n in zip(expressions, names, strict=True))
        condition = f" WHERE {where}" if where else ""
        return self._arrow(f"SELECT {listed}, count(*) AS {COUNT} FROM {self.rel}{condition} GROUP BY ALL")

    def column(self, name: str) -> str:
        return _quoted(name)

    def double(self, value: float) -> str:
        return f"CAST('{value!r}' AS DOUBLE)"

    def as_double(self, name: str) -> str:
        return f"CAST({_quoted(name)} AS DOUBLE)"

    def missing_number(self, name: str) -> str:
        x = self.as_double(name)
        # Not isnan(x): over read_parquet, DuckDB answers it from the files' statistics, which pyarrow writes
        # without NaN, so it is false for every row in a projection or WHERE. A NaN is neither finite nor infinite.
        return f"({x} IS NULL OR (NOT isfinite({x}) AND NOT isinf({x})))"

    def longest(self, columns: Sequence[str]) -> list[int | None]:
        listed = ", ".join(f"max(length(CAST({_quoted(c)} AS VARCHAR)))" for c in columns)
        return list(self._fetch(f"SELECT {listed} FROM {self.rel}")[0])

    def close(self) -> None:
        self.connection.close()


class PostgresPartition:
    """A PostgreSQL partition (``WHERE column = date``, the date a parameter) counted by the server, in the
    snapshot ``connection`` in which its evidence was checked."""

    engine = "postgresql"

    def __init__(self, source: Any, rel: Any, params: tuple[Any, ...], connection: Any) -> None:
        self.source, self.rel, self.params, self.connection = source, rel, params, connection
        described, _ = postgres.run(
            source, sql.SQL("SELECT * FROM {} AS t LIMIT 0").format(rel), params, connection=connection
        )
        self.types = {c.name: "numeric" if c.type_code in _POSTGRES_NUMBERS else str(c.type_code) for c in described}

    def _run(self, text: str, extra: tuple[Any, ...] = ()) -> tuple[list[Any], list[tuple]]:
        statement = sql.SQL(text).format(rel=self.rel)
        return postgres.run(self.source, statement, (*self.params, *extra), connection=self.connection)

    def column(self, name: str) -> str:
        # Quoted by psycopg, then escaped for the statement's own format braces and parameter marks.
        quoted = sql.Identifier(name).as_string(self.connection)
        return quoted.replace("{", "{{").replace("}", "}}").replace("%", "%%")

    def double(self, value: float) -> str:
        return f"CAST('{value!r}' AS float8)"

    def as_double(self, name: str) -> str:
        return f"CAST(t.{self.column(name)} AS float8)"

    def missing_number(self, name: str) -> str:
        return f"({self.as_double(name)} IS NULL OR {self.as_double(name)} = 'NaN')"

    def numeric_summary(self, column: str) -> tuple[int, int, int, float | None, float | None]:
        x = self.as_double(column)
        finite = f"{x} NOT IN ('NaN', 'Infinity', '-Infinity')"
        text = (
            f"SELECT count(*) FILTER (WHERE {x} IS NULL OR NOT ({finite})), "
            f"count(*) FILTER (WHERE {x} IN ('Infinity', '-Infinity')), count(*) FILTER (WHERE {finite}), "
            f"sum({x}) FILTER (WHERE {finite}), sum({x} * {x}) FILTER (WHERE {finite}) FROM {{rel}} AS t"
        )
        return self._run(text)[1][0]  # type: ignore[return-value]

    def places(self, column: str, points: np.ndarray) -> list[tuple]:
        x = self.as_double(column)
        text = (
            "SELECT width_bucket(b.x, pts.a), coalesce(b.x = pts.a[width_bucket(b.x, pts.a)], false), sum(b.c) "
            f"FROM (SELECT {x} AS x, count(*) AS c FROM {{rel}} AS t GROUP BY 1) AS b, "
            "(SELECT %s::float8[] AS a) AS pts "
            "WHERE b.x NOT IN ('NaN', 'Infinity', '-Infinity') GROUP BY 1, 2"
        )
        return self._run(text, (points.tolist(),))[1]

    def grouped(self, expressions: Sequence[str], names: Sequence[str], where: str = "") -> Any:
        import pyarrow as pa

        listed = ", ".join(expressions)
        groups = ", ".join(str(i + 1) for i in range(len(expressions)))
        condition = f" WHERE {where}" if where else ""
        _, found = self._run(f"SELECT {listed}, count(*) FROM {{rel}} AS t{condition} GROUP BY {groups}")
        arrays = [pa.array([row[i] for row in found]) for i in range(len(names) + 1)]
        return pa.table(arrays, names=[*names, COUNT])

    def longest(self, columns: Sequence[str]) -> list[int | None]:
        listed = ", ".join(f"max(length(CAST(t.{self.column(c)} AS text)))" for c in columns)
        return list(self._run(f"SELECT {listed} FROM {{rel}} AS t")[1][0])

    def close(self) -> None:
        return None


def _text(reader: Any, name: str) -> str:
    """A column as text, in SQL: what ``pyarrow.compute.cast(..., string)`` gives for text columns; other types
    are cast by Arrow after they come back (see ``_as_text``)."""
    return reader.column(name) if isinstance(reader, DuckDBPartition) else f"t.{reader.column(name)}"


def _as_text(values: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(values, pa.string())


def numeric_accumulator(reader: Any, column: str, reference: Mapping[str, Any]) -> drift.NumericAccumulator:
    """The accumulator ``batch.compute`` fills chunk by chunk, filled from the engine's counts."""
    accumulator = drift.NumericAccumulator(reference)
    missing, non_finite, n, total, squares = reader.numeric_summary(column)
    accumulator.missing, accumulator.non_finite, accumulator.n = int(missing), int(non_finite), int(n)
    accumulator.total, accumulator.total_squares = float(total or 0.0), float(squares or 0.0)
    for points, at_or_below, below in (
        (accumulator.edges, accumulator.at_or_below_edges, None),
        (accumulator.points, accumulator.at_or_below, accumulator.below),
    ):
        places = np.zeros(len(points) + 1, dtype=np.int64)  # values with r points at or below them
        lefts = np.zeros(len(points) + 1, dtype=np.int64)  # values with r points strictly below them
        if len(points):
            for right, equal, count in reader.places(column, points):
                places[int(right)] += int(count)
                lefts[int(right) - int(bool(equal))] += int(count)
        else:
            places[0] = lefts[0] = accumulator.n
        # x <= p_j exactly when fewer than j + 1 points lie strictly below x; x < p_j when at most j lie at or below.
        at_or_below[:] = np.cumsum(lefts)[: len(points)]
        if below is not None:
            below[:] = np.cumsum(places)[: len(points)]
    return accumulator


def _check_types(reader: Any, spec: BatchSpec) -> list[str]:
    names = list(reader.types)
    missing = [name for name in spec.required() if name not in names]
    if missing:
        raise BatchError(
            "The partition's columns do not match the model's input schema: missing columns: "
            + ", ".join(repr(n) for n in missing)
            + f". Expected: {', '.join(spec.required())}."
        )
    for name in sorted(spec.numeric_columns()):
        if name in reader.types and reader.types[name] != "numeric":
            raise BatchError(f"Column {name!r} must hold numbers; it has type {reader.types[name]}.")
    text = [c for c in sorted(spec.text_columns()) if c in names]
    for name, longest in zip(text, reader.longest(text) if text else [], strict=True):
        if longest is not None and longest > MAX_FIELD_CHARS:
            raise BatchError(f"A value in column {name!r} is longer than {MAX_FIELD_CHARS:,} characters.")
    return [n for n in names if n in set(spec.required()) | set(spec.optional())]


def compute_partition(  # noqa: PLR0912, PLR0915 - batch.compute's steps, each answered by the engine
    reader: Any, *, spec: BatchSpec, profile: Mapping[str, Any], rules: FairnessRules
) -> dict[str, Any]:
    """Every statistic of one partition against the reference ``profile``: what ``batch.compute`` gives for the
    same rows uploaded (see the module docstring)."""
    import pyarrow.compute as pc

    present = _check_types(reader, spec)
    results: dict[str, Any] = {"rows": 0, "features": {}, "prediction": None, "score": None, "label": None}
    results["protected_missing"] = [name for name in spec.protected if name not in present]
    for name, kind in spec.features:
        if kind == NUMERIC:
            results["features"][name] = drift.numeric_statistics(
                numeric_accumulator(reader, name, profile["features"][name])
            )
        elif kind == CATEGORICAL:
            counted = reader.grouped([_text(reader, name)], ["v"])
            accumulator = drift.CategoricalAccumulator(profile["features"][name])
            accumulator.add_counts(_as_text(counted.column("v")).to_pylist(), counted.column(COUNT).to_pylist())
            results["features"][name] = drift.categorical_statistics(accumulator)
    # The cells: decision (prediction as text, or score >= threshold), label and protected values as text.
    expressions, names = [], []
    if spec.prediction:
        expressions.append(_text(reader, spec.prediction))
    else:
        if spec.threshold is None:
            raise BatchError("The configuration needs a prediction column, or a score column and a threshold.")
        score = reader.as_double(spec.score)
        threshold = reader.double(float(spec.threshold))
        expressions.append(f"CASE WHEN {reader.missing_number(spec.score)} THEN NULL ELSE {score} >= {threshold} END")
    names.append("decision")
    labelled = bool(spec.label and spec.label in present)
    if labelled:
        expressions.append(_text(reader, spec.label))
        names.append("label")
    protected = [name for name in spec.protected if name in present]
    for i, name in enumerate(protected):
        expressions.append(_text(reader, name))
        names.append(f"p{i}")
    cells = reader.grouped(expressions, names)
    counts = np.asarray(cells.column(COUNT).to_pylist(), dtype=np.int64)
    rows = int(counts.sum())
    if rows == 0:
        raise BatchError("The batch has no rows.")
    decision = cells.column("decision")
    undecided = int(counts[np.asarray(pc.is_null(decision).to_pylist(), dtype=bool)].sum())
    if undecided:
        what = f"{spec.prediction!r}: {undecided} rows of the batch have no prediction"
        raise BatchError(f"Column {what}." if spec.prediction else f"Column {spec.score!r}: {undecided} rows of the "
                         "batch have no score.")  # fmt: skip
    if spec.prediction:
        y_pred = np.asarray(pc.equal(_as_text(decision), spec.favourable).to_pylist(), dtype=np.int8)
    else:
        y_pred = np.asarray(decision.to_pylist(), dtype=np.int8)
    results["rows"] = rows
    if spec.score and profile.get("score"):
        results["score"] = drift.numeric_statistics(numeric_accumulator(reader, spec.score, profile["score"]))
    favourable = int(counts[y_pred == 1].sum())
    if profile.get("decision"):
        decision_acc = drift.CategoricalAccumulator(profile["decision"])
        decision_acc.add_counts([FAVOURABLE, UNFAVOURABLE], [favourable, rows - favourable])
        results["prediction"] = drift.categorical_statistics(decision_acc)
    results["selection_rate"] = favourable / rows
    if labelled:
        labels = _as_text(cells.column("label"))
        if profile.get("label"):
            label_acc = drift.CategoricalAccumulator(profile["label"])
            totals: dict[Any, int] = {}
            for value, count in zip(labels.to_pylist(), counts.tolist(), strict=True):
                totals[value] = totals.get(value, 0) + count
            label_acc.add_counts(list(totals), list(totals.values()))
            results["label"] = drift.categorical_statistics(label_acc)
        known = np.asarray(pc.is_valid(labels).to_pylist(), dtype=bool)
        if known.any():
            truth = np.asarray(pc.equal(labels, spec.favourable).fill_null(False).to_pylist(), dtype=bool)
            results["performance"] = _performance(reader, spec, truth[known], y_pred[known], counts[known])
            results["performance"]["rows_without_label"] = int(counts[~known].sum())
    if protected:
        values = {
            name: _as_text(cells.column(f"p{i}")).combine_chunks().dictionary_encode().to_pandas()
            for i, name in enumerate(protected)
        }
        fairness = live_fairness(y_pred=y_pred, protected=values, spec=spec, rules=rules, row_weights=counts)
        results["fairness"] = json_safe(fairness)
    return json_safe(results)


def _performance(reader: Any, spec: BatchSpec, truth: np.ndarray, y_pred: np.ndarray, counts: np.ndarray) -> dict:
    """Accuracy and recall from the labelled cells' counts (the same divisions scikit-learn makes), and ROC AUC by
    scikit-learn over the distinct (score, label) pairs weighted by their rows (the same integer cumulative sums)."""
    known_rows = int(counts.sum())
    correct = int(counts[truth == y_pred.astype(bool)].sum())
    positives = int(counts[truth].sum())
    true_positives = int(counts[truth & (y_pred == 1)].sum())
    found: dict[str, Any] = {
        "rows": known_rows,
        "accuracy": correct / known_rows if known_rows else None,
        "recall": true_positives / positives if positives else None,
        "roc_auc": None,
    }
    both = 0 < positives < known_rows
    if spec.score and both:
        from sklearn import metrics

        pairs = reader.grouped(
            [reader.as_double(spec.score), _text(reader, spec.label)],
            ["s", "l"],
            where=f"{_text(reader, spec.label)} IS NOT NULL",
        )
        import pyarrow.compute as pc

        y = np.asarray(pc.equal(_as_text(pairs.column("l")), spec.favourable).to_pylist(), dtype=np.int8)
        found["roc_auc"] = float(
            metrics.roc_auc_score(
                y,
                np.asarray(pairs.column("s").to_pylist(), dtype=np.float64),
                sample_weight=pairs.column(COUNT).to_pylist(),
            )
        )
    return found
