"""What the streaming profile (``ingest.streaming``) spills to disk and reads back: a hash that sends equal rows to one
partition, and exact order statistics of a spilled numeric column by radix selection, interpolated by Arrow.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

_SELECT_CHUNK = 1 << 20  # values per read while selecting order statistics (8 MiB of float64)


def _column_hash(column: pa.ChunkedArray) -> np.ndarray:
    """A 64-bit value per row, equal for equal values (nulls alike). Only spreads rows over partitions: a collision
    costs balance, never correctness, since each partition is grouped exactly."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = column.combine_chunks()
    kind = array.type
    null = np.asarray(pc.is_null(array).to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_null(kind):
        return np.zeros(len(array), dtype=np.uint64)
    if pa.types.is_string(kind) or pa.types.is_binary(kind) or pa.types.is_large_string(kind):
        hashed = _bytes_hash(array)
    elif pa.types.is_boolean(kind):
        hashed = np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=np.uint64)
    else:
        hashed = _fixed_width_hash(array)
    return np.where(null, np.uint64(0x9E3779B97F4A7C15), hashed)


def _fixed_width_hash(array: pa.Array) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_temporal(kind):
        try:
            filled = pc.fill_null(array, 0.0 if pa.types.is_floating(kind) else pa.scalar(0, kind))
            values = np.ascontiguousarray(filled.to_numpy(zero_copy_only=False))
            if values.dtype.kind in "iufmM":
                return values.view(f"u{values.dtype.itemsize}").astype(np.uint64)
        except (pa.ArrowException, TypeError, ValueError):
            pass
    # Decimals, intervals and others: rare. Python's hash is stable within this process, all a partition needs.
    return np.array([hash(repr(v)) for v in array.to_pylist()], dtype=np.int64).view(np.uint64)


def _bytes_hash(array: pa.Array) -> np.ndarray:
    """Length, first eight and last eight bytes of each value, mixed: vectorised, no Python object per row."""
    import pyarrow as pa

    n = len(array)
    offsets_type = (
        np.int64 if pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type) else np.int32
    )
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offsets_type)[array.offset : array.offset + n + 1].astype(np.int64)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    padded = np.concatenate([np.zeros(8, np.uint8), data, np.zeros(8, np.uint8)])
    starts, ends = offsets[:-1], offsets[1:]
    lengths = ends - starts
    window = np.arange(8)
    head = np.where(window < lengths[:, None], padded[starts[:, None] + 8 + window], 0).astype(np.uint8)
    tail = np.where(window >= 8 - lengths[:, None], padded[ends[:, None] + window], 0).astype(np.uint8)
    h = np.ascontiguousarray(head).view(np.uint64).ravel() * np.uint64(31)
    h ^= np.ascontiguousarray(tail).view(np.uint64).ravel()
    return h ^ lengths.astype(np.uint64)


# --- exact quantiles from a spilled column ------------------------------------------------------------------------
def _chunks(path: Path, dtype: Any) -> Iterator[np.ndarray]:
    with path.open("rb") as f:
        while True:
            chunk = np.fromfile(f, dtype=dtype, count=_SELECT_CHUNK)
            if not len(chunk):
                return
            yield chunk


def _keys(values: np.ndarray) -> np.ndarray:
    """Unsigned 64-bit keys that sort as the values do."""
    if values.dtype.kind == "f":
        bits = values.astype(np.float64).view(np.uint64)
        return np.where(bits >> np.uint64(63), ~bits, bits | np.uint64(1 << 63))
    if values.dtype.kind == "i":
        return values.astype(np.int64).view(np.uint64) ^ np.uint64(1 << 63)
    return values.astype(np.uint64)


def _select(path: Path, dtype: Any, ranks: Sequence[int]) -> dict[int, Any]:
    """The values at these 0-based ranks of the sorted column, by radix selection: four passes of 16 bits."""
    wanted = {rank: (0, rank) for rank in ranks}  # rank -> (key prefix so far, rank within that prefix)
    found: dict[int, int] = {}
    for level in range(4):
        shift = np.uint64(64 - 16 * (level + 1))
        histograms = {prefix: np.zeros(1 << 16, dtype=np.int64) for prefix, _ in wanted.values()}
        for chunk in _chunks(path, dtype):
            keys = _keys(chunk)
            for prefix in histograms:
                selected = keys if level == 0 else keys[(keys >> (shift + np.uint64(16))) == np.uint64(prefix)]
                histograms[prefix] += np.bincount(
                    ((selected >> shift) & np.uint64(0xFFFF)).astype(np.int64), minlength=1 << 16
                )
        for rank, (prefix, within) in list(wanted.items()):
            cumulative = np.cumsum(histograms[prefix])
            digit = int(np.searchsorted(cumulative, within, side="right"))
            below = int(cumulative[digit - 1]) if digit else 0
            wanted[rank] = ((prefix << 16) | digit, within - below)
    for rank, (key, _) in wanted.items():
        found[rank] = key
    return {rank: _value_of_key(key, np.dtype(dtype)) for rank, key in found.items()}


def _value_of_key(key: int, dtype: np.dtype) -> Any:
    k = np.array([key], dtype=np.uint64)
    if dtype.kind == "f":
        bits = np.where(k >> np.uint64(63), k ^ np.uint64(1 << 63), ~k)
        return bits.view(np.float64).astype(dtype)[0]
    if dtype.kind == "i":
        return (k ^ np.uint64(1 << 63)).view(np.int64).astype(dtype)[0]
    return k.astype(dtype)[0]


def _quantiles(path: Path, dtype: Any, count: int, arrow_type: pa.DataType, qs: Sequence[float]) -> list[float | None]:
    """Arrow's linear-interpolated quantiles of the spilled values: the two order statistics around each quantile's
    index (Arrow's ``(n - 1) * q``), then Arrow's own interpolation between them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if count == 0:
        return [None for _ in qs]
    ranks = set()
    positions = []
    for q in qs:
        index = (count - 1) * q
        lower = math.floor(index)
        positions.append((lower, index - lower))
        ranks.update({lower, min(lower + 1, count - 1)})
    values = _select(path, dtype, sorted(ranks))
    out: list[float | None] = []
    for lower, fraction in positions:
        pair = [values[lower].item(), values[min(lower + 1, count - 1)].item()]
        if lower + 1 >= count:
            pair = pair[:1]
        out.append(pc.quantile(pa.array(pair, type=arrow_type), q=[fraction], interpolation="linear")[0].as_py())
    return out
