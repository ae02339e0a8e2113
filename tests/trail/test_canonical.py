"""The fast canonical-JSON path gives byte-for-byte the bytes of the reference RFC 8785 encoder."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.trail.canonical import canonical_json, decode_json, json_number, with_float_numbers

# Keys and strings from the whole of Unicode, including characters above U+FFFF (where UTF-16 order and code
# point order disagree) and control characters (escaping rules).
text = st.text(st.characters(codec="utf-8"), max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(text, children, max_size=5)),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_fast_path_equals_reference(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except Exception as exc:  # the reference refuses (e.g. integers beyond 2**53): so must we
        with pytest.raises(type(exc)):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


def test_rfc8785_section_3_2_2_example() -> None:
    """The serialisation example printed in RFC 8785, section 3.2.2 (an answer from outside the project)."""
    value = json.loads(
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(value) == expected.encode()


def test_rfc8785_section_3_2_3_sorting_example() -> None:
    """Property order by UTF-16 code units (RFC 8785, section 3.2.3): the emoji sorts before U+FB33."""
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = list(json.loads(canonical_json(value)))
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_trail_shaped_leaf_takes_the_fast_path_and_matches() -> None:
    leaf = {
        "v": 1,
        "seq": 2**53 - 1,
        "payload": {"reason": 'line\nbreak \u2028 \x7f "quoted"'},
        "actor": {"user": None},
    }
    assert canonical_json(leaf) == rfc8785.dumps(leaf)


# --- reading stored payloads back: integers beyond 2**53 are the floats RFC 8785 or jsonb spelt without a fraction


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10000000000000000", 1e16),  # RFC 8785's spelling of 1e16 (its section 3.2.2.3 table: 1e+21 is the first
        ("-1" + "0" * 300, -1e300),  # with an exponent); PostgreSQL's jsonb prints -1e300 in plain decimal
        ("9007199254740992", 9007199254740992.0),  # 2**53, no longer an exact integer for I-JSON
        ("12345678901234567000", 1.2345678901234567e19),
        ("9007199254740991", 9007199254740991),  # 2**53 - 1: an integer
        ("-9007199254740991", -9007199254740991),
    ],
)
def test_json_number_reads_big_integers_as_the_floats_they_spell(text: str, expected: float) -> None:
    value = json_number(text)
    assert value == expected
    assert type(value) is type(expected)
    assert decode_json(f'{{"x":[{text}]}}') == {"x": [expected]}
    assert with_float_numbers({"x": [int(text)]}) == {"x": [expected]}


@pytest.mark.parametrize("text", ["10000000000000001", "9007199254740993", "1" + "0" * 400])
def test_an_integer_no_float_spells_stays_an_integer_and_is_refused(text: str) -> None:
    value = decode_json(text)
    assert value == int(text)
    assert type(value) is int
    with pytest.raises(rfc8785.IntegerDomainError):
        canonical_json(value)


@settings(max_examples=500, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_float_survives_its_canonical_and_its_plain_decimal_spelling(number: float) -> None:
    encoded = canonical_json({"x": number})
    assert decode_json(encoded) == {"x": number}
    assert canonical_json(decode_json(encoded)) == encoded
    # PostgreSQL's jsonb keeps the decimal Django sent (Python's shortest repr) and prints it without an exponent.
    plain = format(Decimal(repr(number)), "f")
    assert canonical_json(decode_json(f'{{"x":{plain}}}')) == encoded
