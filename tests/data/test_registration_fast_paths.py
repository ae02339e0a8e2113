"""The fast paths of dataset registration give exactly what the plain definitions give.

Registering a million-row file (issue 20) pseudonymises ids in a batch (``crypto.pseudonym_digests``: RFC 2104
HMAC from two keyed SHA-256 states), sorts and deduplicates them in numpy, writes the subject index with one
statement per 50,000 pseudonyms, and skips grouping every column for duplicate rows when the subject ids are all
distinct. Each is checked here against the reference it replaces: ``hmac`` and :func:`crypto.pseudonym`, a Python
set of pseudonyms, and pandas ``DataFrame.duplicated``.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from governance.data import crypto
from governance.data.actions import datasets
from governance.data.ingest import inspect_file, profile
from governance.data.models import DatasetSubject
from tests.conftest import Cast
from tests.data.conftest import make_dataset, make_file_version, media_root, pseudonym  # noqa: F401 - a fixture

IDS = [
    "DE-0001",
    "  DE-0001\n",  # the same id, padded
    "Zo\u00eb-42",
    "Zoe\u0308-42",  # the same name in NFD
    "\u00e9l\u00e8ve",
    "x" * 300,
    "S00000007",
    "\u4e2d\u6587",
]
KEYS = [b"", b"k", b"k" * 32, b"k" * 64, b"k" * 65, bytes(range(256))]


def _hex(digests: bytes) -> list[str]:
    text = binascii.hexlify(digests).decode("ascii")
    return [text[start : start + 64] for start in range(0, len(text), 64)]


@pytest.mark.parametrize("key", KEYS, ids=lambda key: f"key-{len(key)}-bytes")
def test_batch_pseudonyms_equal_hmac_and_the_one_by_one_function(key: bytes) -> None:
    batch = _hex(crypto.pseudonym_digests(IDS, key=key))
    assert batch == [crypto.pseudonym(value, key=key) for value in IDS]
    ascii_ids = [value.strip() for value in IDS if value.isascii()]
    assert _hex(crypto.pseudonym_digests(ascii_ids, key=key)) == [
        hmac.new(key, value.encode(), hashlib.sha256).hexdigest() for value in ascii_ids
    ]


def test_batch_pseudonyms_reproduce_rfc_4231_with_a_key_longer_than_a_block() -> None:
    # RFC 4231, test case 6: a 131-byte key is hashed first.
    (found,) = _hex(
        crypto.pseudonym_digests(["Test Using Larger Than Block-Size Key - Hash Key First"], key=b"\xaa" * 131)
    )
    assert found == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_a_blank_id_in_a_batch_is_refused_or_skipped(blank: str) -> None:
    with pytest.raises(ValueError, match="cannot be empty"):
        crypto.pseudonym_digests(["DE-0001", blank], key=b"k")
    assert crypto.pseudonym_digests(["DE-0001", blank], key=b"k", skip_blank=True) == crypto.pseudonym_digests(
        ["DE-0001"], key=b"k"
    )


def test_distinct_pseudonyms_are_the_sorted_set_of_the_non_blank_ids() -> None:
    key = b"k" * 32
    ids = [*IDS, "", "   ", *IDS]
    expected = sorted({crypto.pseudonym(value, key=key) for value in ids if value.strip()})
    found = datasets._distinct_pseudonyms(ids, key=key)
    assert [value.decode("ascii") for value in found.tolist()] == expected
    assert len(expected) == len(IDS) - 2  # the padded id and the NFD spelling are not new subjects
    assert datasets._distinct_pseudonyms([], key=key).tolist() == []


def _csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


@pytest.mark.parametrize(
    "ids",
    [
        ["a", "b", "c", "d", "e", "f"],  # all distinct: no duplicate row, whatever the other columns hold
        ["a", "a", "c", "d", "e", "e"],  # repeated ids on repeated rows: duplicates
        ["a", "", "c", "", "e", "f"],  # empty ids are missing: the hint cannot decide, grouping does
        [1, 2, 3, 4, 5, 5],  # integers
    ],
    ids=["distinct", "repeated", "missing", "integers"],
)
def test_duplicate_rows_with_a_subject_column_equal_pandas(tmp_path: Path, ids: list[Any]) -> None:
    frame = pd.DataFrame({"id": ids, "x": [1, 1, 2, 2, 3, 3], "y": ["p", "p", "q", "q", "r", "r"]})
    path = tmp_path / "d.csv"
    path.write_bytes(_csv(frame))
    read_back = pd.read_csv(path, dtype={"id": str}, keep_default_na=True)
    for subject_column in ("id", ""):
        ingested = inspect_file(path, fmt="csv", subject_id_column=subject_column)
        assert ingested.profile["duplicate_rows"] == int(read_back.duplicated().sum())


def test_the_subject_index_holds_each_distinct_pseudonym_once(cast: Cast, media_root: Path) -> None:  # noqa: F811
    ids = [*IDS, "", *IDS[:3]]
    content = _csv(pd.DataFrame({"subject": ids, "n": range(len(ids))}))
    version = make_file_version(cast, make_dataset(cast, "tricky"), content, subject_id_column="subject")
    expected = {pseudonym(value) for value in ids if value.strip()}
    indexed = list(DatasetSubject.objects.filter(version=version).values_list("pseudonym", flat=True))
    assert sorted(indexed) == sorted(expected)
    assert version.subject_count == len(expected)


def test_float_subject_ids_that_differ_only_in_sign_still_make_a_duplicate_row(tmp_path: Path) -> None:
    # As text, -0.0 and 0.0 are two ids ("-0", "0"), but pandas (and the profile) compare the values: one repeats.
    frame = pd.DataFrame({"id": [0.0, -0.0, 1.0], "x": [1, 1, 2]})
    path = tmp_path / "ids.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    ingested = inspect_file(path, fmt="parquet", subject_id_column="id")
    assert ingested.profile["duplicate_rows"] == int(frame.duplicated().sum()) == 1
    assert len(ingested.subject_ids or ()) == 3


@pytest.mark.parametrize("seed", range(4))
def test_duplicate_rows_of_wide_dictionary_and_float_columns_equal_pandas(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = 2_000
    frame = pd.DataFrame(
        {
            # Many wide columns: the product of their distinct counts is far beyond int64.
            **{f"wide{i}": rng.integers(0, 2**40, rows) for i in range(6)},
            "small": rng.integers(0, 3, rows),
            "text": rng.choice(np.array(["a", "b", None], dtype=object), rows),
            "real": rng.choice(np.array([0.0, -0.0, 1.5, np.nan]), rows),
        }
    )
    repeated = rng.integers(0, rows, 300)
    frame = pd.concat([frame, frame.iloc[repeated]], ignore_index=True)  # 300 repeats of earlier rows
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.set_column(7, "text", table.column("text").dictionary_encode())  # a dictionary column with nulls
    found = profile._duplicate_rows(profile._nan_to_null(table))
    assert found == int(frame.duplicated().sum())
    assert found >= 300
