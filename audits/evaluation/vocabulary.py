"""The value vocabulary: a column's values as text (one spelling per number), and the rules that refuse a value
spelt differently from the label's ('Yes' beside 'yes', '1.0' beside '1') instead of counting it as unfavourable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def _text(column: Any) -> np.ndarray:
    """A column's values as strings (missing values as ""), for comparison with the favourable value."""
    return _spellings(column)[0]


def _spellings(column: Any) -> tuple[np.ndarray, set[str]]:
    """:func:`_text` of ``column``, and the set of its distinct strings.

    Each distinct value is spelt once and every row takes its value's spelling: the array (its values and its numpy
    ``<U`` width) is the one a spelling per row would give, without making a Python string per row of a large
    table."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(column.type):
        # 1.0 in a float column is "1" for comparisons with a favourable value given as text.
        values = column.to_numpy(zero_copy_only=False)
        if not len(values):
            return np.array([]), set()
        distinct, rows = np.unique(values, return_inverse=True)  # equal floats spell alike (-0.0 and 0.0: "0")
        # As _numeric_spelling writes a favourable value: Python's repr of the float ("0.5"), never numpy's scalar
        # repr ("np.float64(0.5)"), which no value given as text could ever match.
        spelt = np.array(
            ["" if math.isnan(v) else (str(int(v)) if float(v).is_integer() else repr(float(v))) for v in distinct]
        )
        return spelt[rows.reshape(-1)], set(spelt.tolist())
    filled = pc.fill_null(pc.cast(column, pa.string()), "")
    if not len(filled):
        return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=object).astype(str), set()
    parts, found = [], set()
    for chunk in filled.chunks:
        encoded = pc.dictionary_encode(chunk)
        spelt = np.asarray(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object).astype(str)
        parts.append(spelt[encoded.indices.to_numpy(zero_copy_only=False)])
        found.update(spelt.tolist())
    return np.concatenate(parts), found


def _is_numeric(column: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(column.type) or pa.types.is_floating(column.type))


def _numeric_spelling(text: str) -> str:
    """``text`` written as ``_text`` writes a number of a numeric column ("1.0" -> "1"); other text unchanged."""
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return str(int(number)) if number.is_integer() else repr(number)


def _same_value_spelt_differently(value: str, other: str) -> bool:
    """Whether two different texts look like one value: case or surrounding spaces apart, or one number."""
    if value == other:
        return False
    if value.strip().casefold() == other.strip().casefold():
        return True
    try:
        a, b = float(value), float(other)
    except ValueError:
        return False
    return math.isfinite(a) and a == b


def _strangers(found: set[str], vocabulary: Sequence[str]) -> str:
    """The values of ``found`` outside ``vocabulary``, each with its exact characters (repr), and the value each
    seems to be a spelling of; "" when there are none."""
    outside = sorted(found - set(vocabulary))
    if not outside:
        return ""
    shown = []
    for value in outside[:6]:
        near = [v for v in vocabulary if _same_value_spelt_differently(value, v)]
        shown.append(f"{value!r} (a spelling of {near[0]!r}?)" if near else repr(value))
    more = f" and {len(outside) - 6} more" if len(outside) > 6 else ""
    return ", ".join(shown) + more


def _spelt(values: Sequence[str]) -> str:
    return ", ".join(repr(v) for v in values)
