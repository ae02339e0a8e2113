"""The fast canonical-JSON path gives byte-for-byte the bytes of the reference RFC 8785 encoder."""

from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.trail.canonical import canonical_json

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
