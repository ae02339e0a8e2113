"""The API's JSON parser: DRF's, plus refusals for input the database cannot store or Python cannot walk."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def check_json_value(value: Any, *, depth: int = 0, where: str = "body") -> None:
    """Refuse nesting deeper than MAX_DEPTH, NUL characters and lone surrogates anywhere in a parsed value.

    PostgreSQL's jsonb rejects NUL (and SQLite would accept it: the two databases must agree), and a lone
    surrogate cannot be encoded as UTF-8: both would otherwise surface as a server error at save time.
    """
    if depth > MAX_DEPTH:
        raise ParseError(f"The JSON in {where} is nested more than {MAX_DEPTH} levels deep.")
    if isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)
            check_json_value(item, depth=depth + 1, where=where)
    elif isinstance(value, list):
        for item in value:
            check_json_value(item, depth=depth + 1, where=where)


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise ParseError(f"The JSON in {where} contains a NUL character (\\u0000), which cannot be stored.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ParseError(
            f"The JSON in {where} contains a lone surrogate (an invalid \\ud800-\\udfff escape)."
        ) from None


class SafeJSONParser(JSONParser):
    """JSON that is too deep for Python's recursion limit is a 400, never a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"The JSON body is nested too deeply (more than {MAX_DEPTH} levels).") from None
        check_json_value(data)
        return data
