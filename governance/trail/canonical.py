"""Canonical JSON (RFC 8785, JCS) for trail leaves, with a measured fast path.

``rfc8785.dumps`` is the reference and is used for anything unusual. It is pure Python and costs about
60 us per leaf here, which alone would put ``verify_trail`` over a million events past a minute
(benchmarks/bench_canonical.py). For the values trail leaves actually hold (strings, booleans, null,
integers within +/-2**53, lists and objects with BMP-only keys and no floats), JCS is exactly what
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` produces:

- JCS sorts keys by UTF-16 code units, Python by code points: the orders agree unless a key holds a character
  above U+FFFF, so such keys take the reference path;
- both escape only '"', '\\' and control characters, with the same short forms and lowercase \\u00xx;
- integers print the same; floats do not (JCS uses the ECMAScript number format), so floats take the
  reference path.

tests/trail/test_canonical.py checks the two agree on generated values, and that anything outside the fast
path's domain is sent to the reference.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import rfc8785

_MAX_EXACT_INT = 2**53 - 1  # JCS (I-JSON) numbers are IEEE doubles: larger integers are not exact
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _fast_path_ok(value: Any) -> bool:  # noqa: PLR0911 - one return per JSON type reads clearest
    """True when ``value`` holds only types for which the stdlib encoding equals JCS."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return -_MAX_EXACT_INT <= value <= _MAX_EXACT_INT
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and max(key) > "\uffff"):
                return False
            if not _fast_path_ok(item):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_fast_path_ok(item) for item in value)
    return False  # floats, subclasses, anything else: the reference encoder decides (or refuses)


_WHOLE = object()


def canonical_json(value: Any, *, check: Any = _WHOLE) -> bytes:
    """The RFC 8785 canonical UTF-8 encoding of ``value``.

    ``check`` names the parts of ``value`` whose types are not known by construction (by default, all of it);
    a caller that builds an envelope of plain strings and small integers around a payload passes just the
    payload, which saves walking the envelope on every leaf.
    """
    if _fast_path_ok(value if check is _WHOLE else check):
        try:
            return _encode(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: let the reference encoder decide
    return rfc8785.dumps(value)


def json_number(text: str) -> int | float:
    """An integer's JSON text as the trail's payloads mean it (``parse_int`` for ``decode_json``).

    RFC 8785 numbers are IEEE doubles, and ``canonical_json`` refuses integers beyond 2**53, so an integer text
    beyond it can only be a float spelt without a fraction: RFC 8785 writes 1e16 as 10000000000000000, and
    PostgreSQL's jsonb prints every number in plain decimal (so -1e300 comes back as 301 digits). Such a text reads
    as the float whose shortest spelling it is. Any other integer beyond 2**53 (say 10000000000000001, which no
    float prints as) stays an integer, which ``canonical_json`` refuses: it was not written by the trail.
    """
    value = int(text)
    if -_MAX_EXACT_INT <= value <= _MAX_EXACT_INT:
        return value
    number = float(text)
    if math.isfinite(number) and int(Decimal(repr(number))) == value:
        return number
    return value


def decode_json(text: str | bytes) -> Any:
    """``json.loads`` of a stored payload, integers beyond 2**53 read as the floats they were (``json_number``)."""
    return json.loads(text, parse_int=json_number)


def with_float_numbers(value: Any) -> Any:
    """``value`` (JSON already decoded, e.g. by a database driver) with integers read as ``json_number`` reads them."""
    kind = type(value)
    if kind is int:
        return value if -_MAX_EXACT_INT <= value <= _MAX_EXACT_INT else json_number(str(value))
    if kind is dict:
        return {key: with_float_numbers(item) for key, item in value.items()}
    if kind is list:
        return [with_float_numbers(item) for item in value]
    return value
