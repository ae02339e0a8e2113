"""An audit reads its CSV in one parse and spells each column's values once per distinct value (issue 20), and gets
exactly what the plain definitions give.

``read_table`` used to parse a file twice: once with Arrow's null tokens, then again for the text columns as
written. It now parses once and applies the null tokens to the other text columns itself; the reference here is the
two-parse reading, written with pyarrow directly. ``_spellings`` (the evaluation's text of a column) spells each
distinct value once; the reference is one Python string per row, as it was.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from audits.evaluation import ColumnRoles, EvaluationError, build_evaluation
from audits.evaluation.vocabulary import _numeric_spelling, _spellings, _text
from governance.data.ingest import IngestError, csv_reader, read_table

# Every kind of cell the reading treats specially: empty, Arrow's null tokens (quoted or not), text that only looks
# like one, numbers with gaps, a value spanning lines, a column that is all empty.
EDGES = (
    "group,label,decision,note,score,count,blank,token\n"
    "a,1,1,NA,0.5,1,,NULL\n"
    'b,0,0,"NA",0.25,,,n/a\n'
    ",1,0,,,3,,x\n"
    'NA,0,1,"two\nlines",nan,4,,#N/A\n'
    '"",1,1,null,1e3,5,,\n'
    'N/A,0,0,text,-0.0,NA,,"NULL"\n'
    "  a ,1,1,NaN,0,7,,-nan\n"
)


def two_parse_reading(path: Path, text_columns: list[str]) -> pa.Table:
    """The reading an audit had before: Arrow's null tokens everywhere, then the text columns parsed again as
    written (no null token, an empty cell is "")."""
    parse = pacsv.ParseOptions(newlines_in_values=True)
    table = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False),
        parse_options=parse,
        convert_options=pacsv.ConvertOptions(
            strings_can_be_null=True, column_types={name: pa.string() for name in text_columns}
        ),
    )
    present = [name for name in text_columns if name in table.column_names]
    if not present or table.num_rows == 0:
        return table
    verbatim = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False),
        parse_options=parse,
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in present}, strings_can_be_null=False, include_columns=present
        ),
    )
    for name in present:
        table = table.set_column(table.column_names.index(name), name, verbatim.column(name))
    return table


def same_table(found: pa.Table, expected: pa.Table) -> None:
    assert found.schema == expected.schema
    assert found.to_pylist() == expected.to_pylist() or _nan_equal(found.to_pylist(), expected.to_pylist())


def _nan_equal(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    def key(value: Any) -> Any:
        return "NaN" if isinstance(value, float) and math.isnan(value) else value

    return [{k: key(v) for k, v in row.items()} for row in a] == [{k: key(v) for k, v in row.items()} for row in b]


@pytest.mark.parametrize(
    "text_columns",
    [
        ["group", "label", "decision"],
        ["group", "label", "decision", "token", "blank"],
        ["note"],
        [],
        ["label", "not-a-column"],
    ],
)
def test_one_parse_reads_what_two_parses_read(tmp_path: Path, text_columns: list[str]) -> None:
    path = tmp_path / "edges.csv"
    path.write_text(EDGES, encoding="utf-8")
    found = read_table(path, fmt="csv", text_columns=text_columns)
    same_table(found, two_parse_reading(path, text_columns))
    if "token" not in text_columns:  # an inferred text column still gets Arrow's null tokens, quoted or not
        assert found.column("token").to_pylist() == [None, None, "x", None, None, None, None]


def test_text_columns_keep_what_was_written(tmp_path: Path) -> None:
    path = tmp_path / "edges.csv"
    path.write_text(EDGES, encoding="utf-8")
    table = read_table(path, fmt="csv", text_columns=["group", "note"])
    assert table.column("group").to_pylist() == ["a", "b", "", "NA", "", "N/A", "  a "]
    assert table.column("note").to_pylist() == ["NA", "NA", "", "two\nlines", "null", "text", "NaN"]
    assert table.column("count").type == pa.int64()
    assert table.column("count").to_pylist() == [1, None, 3, 4, 5, None, 7]


def test_one_parse_across_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many blocks (so many chunks per column, with a null token in some): still the two-parse reading."""
    monkeypatch.setattr(csv_reader, "_CSV_BLOCK_SIZE", 1 << 10)
    rng = np.random.default_rng(5)
    lines = ["group,label,other,number"]
    for i in range(3000):
        group = rng.choice(["a", "b", "", "NA"])
        other = rng.choice(["x", "", "NULL", "y"])
        number = "" if i % 17 == 0 else str(i)
        lines.append(f"{group},{i % 2},{other},{number}")
    path = tmp_path / "blocks.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = read_table(path, fmt="csv", text_columns=["group", "label"])
    assert found.column("group").num_chunks > 1
    same_table(found, two_parse_reading(path, ["group", "label"]))


def test_malformed_files_are_refused_as_before(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3\n", encoding="utf-8")
    with pytest.raises(IngestError, match="Row 2 has 1 field, the header has 2"):
        read_table(ragged, fmt="csv", text_columns=["a"])
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("a,b\nx,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(IngestError, match="not valid UTF-8 at line 2"):
        read_table(latin1, fmt="csv", text_columns=["b"])
    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text('a,b\n1,"abc\n2,def\n', encoding="utf-8")
    with pytest.raises(IngestError, match="never closed"):
        read_table(unclosed, fmt="csv", text_columns=["a", "b"])


def one_string_per_row(column: Any) -> np.ndarray:
    """The evaluation's text of a column as it was computed: a Python string per row."""
    if pa.types.is_floating(column.type):
        values = column.to_numpy(zero_copy_only=False)
        return np.array(
            ["" if math.isnan(v) else (str(int(v)) if float(v).is_integer() else repr(float(v))) for v in values]
        )
    filled = pc.fill_null(pc.cast(column, pa.string()), "")
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=object).astype(str)


@pytest.mark.parametrize(
    "column",
    [
        pa.chunked_array([["b", "a", None, "", "b"], ["ccc", "a"]]),
        pa.chunked_array([["only"]]),
        pa.chunked_array([[None, None]], type=pa.string()),
        pa.chunked_array([[1, 0, None, 1]], type=pa.int64()),
        pa.chunked_array([[1.0, 0.0, -0.0, float("nan"), 0.5, None, 1e20, 2.5]], type=pa.float64()),
        pa.chunked_array([["\u00e9", "e\u0301", "x\x00"]]),
        pa.chunked_array([], type=pa.string()),
        pa.chunked_array([], type=pa.float64()),
    ],
)
def test_spelling_each_distinct_value_once_equals_a_string_per_row(column: Any) -> None:
    expected = one_string_per_row(column)
    found, distinct = _spellings(column)
    assert found.dtype == expected.dtype
    assert found.tolist() == expected.tolist()
    assert distinct == set(expected.tolist())
    assert _text(column).tolist() == expected.tolist()


def test_a_fraction_in_a_float_column_is_spelt_as_a_favourable_value_given_as_text_is() -> None:
    """A float column's 0.5 must read "0.5", the spelling a favourable value "0.5" (or "0.50") is given: numpy's
    scalar repr ("np.float64(0.5)") would never match it."""
    column = pa.chunked_array([[0.5, 1.0, 0.25, 0.5]], type=pa.float64())
    found, distinct = _spellings(column)
    assert found.tolist() == ["0.5", "1", "0.25", "0.5"]
    assert {_numeric_spelling("0.50"), _numeric_spelling("1.0"), _numeric_spelling("0.25")} == distinct


def test_evaluation_refusals_name_the_same_problems(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("sex,label,decision\nf,1,1\nm,0,\nm,1,Yes\n", encoding="utf-8")
    table = read_table(path, fmt="csv", text_columns=["sex", "label", "decision"])
    roles = ColumnRoles.from_json({"label": "label", "prediction": "decision", "protected": ["sex"]})
    with pytest.raises(EvaluationError, match="prediction: 1 rows have no prediction"):
        build_evaluation(table, roles)
    path.write_text("sex,label,decision\nf,1,1\nNA,0,0\nf,1,1\n", encoding="utf-8")
    table = read_table(path, fmt="csv", text_columns=["sex", "label", "decision"])
    roles = ColumnRoles.from_json(
        {"label": "label", "prediction": "decision", "protected": ["sex"], "unknown_values": {"sex": ["NA"]}}
    )
    with pytest.raises(EvaluationError, match=r"every row of 'sex' is in one group \('f'\) once its 1 unknown rows"):
        build_evaluation(table, roles)
    roles = ColumnRoles.from_json(
        {"label": "label", "prediction": "decision", "protected": ["sex"], "reference_groups": {"sex": "NA"}}
    )
    evaluation = build_evaluation(table, roles)  # without the token, NA is a group, and may be the reference
    assert sorted(set(evaluation.protected["sex"].tolist())) == ["NA", "f"]
