"""Real data for the monitoring tests: UCI German credit (governance/data/demo) and UCI Adult (known-answer data)."""

from __future__ import annotations

import functools
import io
from typing import Any

import pyarrow.csv as pv

from governance.data.demo import german_credit_csv
from tests import ADULT_COLUMNS, KNOWN_ANSWER_DATA

SHARED = KNOWN_ANSWER_DATA


@functools.cache
def german_csv() -> bytes:
    return german_credit_csv(with_groups=True)


def german_table() -> Any:
    return pv.read_csv(io.BytesIO(german_csv()))


@functools.cache
def _adult_rows(name: str) -> tuple[tuple[str, ...], ...]:
    path = SHARED / name
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        values = [v.strip() for v in line.split(",")]
        if len(values) == len(ADULT_COLUMNS):
            rows.append(tuple(values))
    return tuple(rows)


def adult_column(column: str, name: str) -> list[str | None]:
    """One column of adult.data or adult.test as text, ``?`` as missing."""
    index = ADULT_COLUMNS.index(column)
    return [None if row[index] == "?" else row[index] for row in _adult_rows(name)]
