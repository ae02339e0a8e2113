"""Cells and rows of a Spark table, counted by Spark (one ``groupBy``) where the table lives.

``engines.engine_for`` hands a Spark source here with the engines' row-count column name and their final type
normalisation (passed in, so this module does not import ``engines``, which imports it). Only the counted cells, or
the role columns' rows, come back to the audit's process, as Arrow tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from governance.data.sources import spark
from governance.data.sources.uris import SourceError


@dataclass
class SparkEngine:
    """Cells and rows of a table on a declared Spark connection (the session of this process)."""

    source: spark.SparkSource
    count: str
    finish: Callable[[Any], Any]
    name: str = "spark"

    def _present(self, frame: Any, columns: Sequence[str]) -> list[str]:
        names = set(frame.columns)
        return [c for c in dict.fromkeys(columns) if c in names]

    def _arrow(self, frame: Any) -> Any:
        try:
            return self.finish(frame.toArrow())
        except Exception as exc:  # the JVM's errors, as the evidence reports them
            raise SourceError(f"Spark cannot read {self.source.table}: {str(exc).strip()[:500]}") from None

    def cells(self, columns: Sequence[str]) -> Any:
        from pyspark.sql import functions as F  # noqa: PLC0415 - PySpark loads only for a Spark source

        frame = spark.table(self.source)
        present = self._present(frame, columns)
        grouped = frame.groupBy(*[spark.column(c) for c in present]).agg(F.count(F.lit(1)).alias(self.count))
        return self._arrow(grouped)

    def rows(self, columns: Sequence[str]) -> Any:
        frame = spark.table(self.source)
        return self._arrow(frame.select(*[spark.column(c) for c in self._present(frame, columns)]))
