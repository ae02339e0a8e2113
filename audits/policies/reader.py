"""Read a policy's YAML into plain JSON values, remembering the line of every field.

PyYAML's ``safe_load`` is not enough for a document people review and sign off:

- it keeps the last of two duplicate keys without a word, so a reviewer can read one threshold and the audit use
  another; here a duplicate key is an error;
- it reads YAML 1.1, where ``no``, ``off`` and ``y`` are booleans (a group label ``NO`` for Norway becomes
  ``False``) and ``1e-3`` is text; here scalars follow the YAML 1.2 core schema: only ``true``/``false`` are
  booleans and ``1e-3`` is a number. Dates stay text; tags other than the core ones are refused;
- it expands aliases without limit (the "billion laughs": a 1 KiB text that expands to 10**9 values); here the
  text is capped at 64 KiB, aliases at 64, the expanded document at 10,000 values and nesting at 16 levels;
- it forgets where things were. The text is composed into PyYAML's node tree (which carries line marks) and the
  tree is walked by hand, so every error names its line and field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from audits.policies.errors import PolicyError

MAX_POLICY_BYTES = 64 * 1024
MAX_ALIASES = 64
MAX_VALUES = 10_000  # scalars, mappings and lists, counted after aliases are expanded
MAX_DEPTH = 16
# PyYAML composes recursively; past this depth the composer stops before Python's stack does. (The walker reports
# anything past MAX_DEPTH, with its field, for texts that compose.)
_MAX_COMPOSE_DEPTH = 64
_MAX_EXACT_INT = 2**53 - 1  # canonical JSON (RFC 8785) numbers are IEEE doubles

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

Path = tuple[str | int, ...]


class _CoreResolver(BaseResolver):
    """Implicit scalar types of the YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution)."""


for _tag, _pattern, _first in (
    (_NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    (_INT, r"^[-+]?[0-9]+$", list("-+0123456789")),
    (_INT, r"^0o[0-7]+$", ["0"]),
    (_INT, r"^0x[0-9a-fA-F]+$", ["0"]),
    (_FLOAT, r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$", list("-+.0123456789")),
    (_FLOAT, r"^[-+]?\.(?:inf|Inf|INF)$", list("-+.")),
    (_FLOAT, r"^\.(?:nan|NaN|NAN)$", ["."]),
):
    _CoreResolver.add_implicit_resolver(_tag, re.compile(_pattern), _first)


class _Loader(Reader, Scanner, Parser, Composer, _CoreResolver):
    """PyYAML's composing half (no constructor: values are built by ``_Walker``), counting aliases."""

    def __init__(self, text: str, *, source: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _CoreResolver.__init__(self)
        self.source = source
        self.alias_count = 0
        # Where each alias was written, keyed by (parent node, position): the node an alias yields is the anchored
        # node itself, whose marks point at the anchor, not at the alias.
        self.alias_lines: dict[tuple[int, int | None], int] = {}
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.depth >= _MAX_COMPOSE_DEPTH:
            mark = self.peek_event().start_mark
            raise PolicyError.at(f"nested more than {MAX_DEPTH} levels deep", line=mark.line + 1, source=self.source)
        if self.check_event(AliasEvent):
            mark = self.peek_event().start_mark
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                raise PolicyError.at(
                    f"more than {MAX_ALIASES} aliases; a policy should spell its values out",
                    line=mark.line + 1,
                    source=self.source,
                )
            position = index if isinstance(index, int) else (id(index) if index is not None else None)
            self.alias_lines[(id(parent), position)] = mark.line + 1
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def decode(data: str | bytes, *, source: str) -> str:
    """The policy text, refused when it is over the size limit or not UTF-8."""
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as error:
            line = data.count("\n", 0, error.start) + 1
            raise PolicyError.at(
                "the text holds a lone surrogate, which is not UTF-8", line=line, source=source
            ) from None
    else:
        raw = data
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyError.at(
            f"the policy is {len(raw)} bytes; the limit is {MAX_POLICY_BYTES}", line=None, source=source
        )
    if isinstance(data, str):
        return data
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise PolicyError.at(
            f"the policy is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})",
            line=line,
            source=source,
        ) from None


def read_yaml(text: str, *, source: str) -> tuple[Any, dict[Path, int]]:
    """The document as JSON values, and the line of every field (the key's line; for list items, the item's).

    The root's line is under ``()``. Raises PolicyError for anything that is not one plain YAML document.
    """
    loader = None
    try:
        loader = _Loader(text, source=source)  # the reader checks every character here
        root = loader.get_single_node()
    except ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        raise PolicyError.at(f"not YAML: {_reader_problem(error)}", line=line, source=source) from None
    except yaml.MarkedYAMLError as error:
        raise _syntax_error(error, source=source) from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        raise PolicyError.at("the policy is empty", line=None, source=source)
    walker = _Walker(loader.alias_lines, source=source)
    return walker.value(root, (), _line(root), frozenset(), 0), walker.lines


def _reader_problem(error: ReaderError) -> str:
    character = ord(error.character) if isinstance(error.character, str) else error.character
    if isinstance(character, int):
        return f"it holds the character U+{character:04X}, which YAML does not allow"
    return str(error.reason)


def _syntax_error(error: yaml.MarkedYAMLError, *, source: str) -> PolicyError:
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "not YAML"
    if error.context and error.problem and error.context_mark is not None:
        problem += f" ({error.context} at line {error.context_mark.line + 1})"
    return PolicyError.at(f"not YAML: {problem}", line=mark.line + 1 if mark else None, source=source)


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Walker:
    """Builds plain values from the node tree, enforcing the expansion limit, depth, key rules and scalar types."""

    def __init__(self, alias_lines: dict[tuple[int, int | None], int], *, source: str) -> None:
        self.alias_lines = alias_lines
        self.source = source
        self.lines: dict[Path, int] = {}
        self.count = 0
        self.seen: set[int] = set()
        self.sizes: dict[int, float] = {}

    def fail(self, problem: str, *, line: int, path: Path) -> PolicyError:
        return PolicyError.at(problem, line=line, path=path, source=self.source)

    def size(self, node: Node, in_progress: set[int] | None = None) -> float:
        """How many values ``node`` expands to; infinite for a node that contains itself."""
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        in_progress = set() if in_progress is None else in_progress
        if key in in_progress:
            return math.inf
        in_progress.add(key)
        total = 1.0 + sum(self.size(child, in_progress) for child in _children(node))
        in_progress.discard(key)
        self.sizes[key] = total
        return total

    def value(self, node: Node, path: Path, line: int, ancestors: frozenset[int], depth: int) -> Any:
        self.lines[path] = line
        if id(node) in ancestors:
            raise self.fail("an alias here refers to a value that contains it", line=line, path=path)
        if depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep", line=line, path=path)
        if id(node) in self.seen and self.count + self.size(node) > MAX_VALUES:
            raise self.fail(
                f"the alias here expands the policy past {MAX_VALUES} values; spell the values out",
                line=line,
                path=path,
            )
        self.seen.add(id(node))
        self.count += 1
        if self.count > MAX_VALUES:
            raise self.fail(f"the policy holds more than {MAX_VALUES} values", line=line, path=path)
        inside = ancestors | {id(node)}
        if isinstance(node, MappingNode):
            return self.mapping(node, path, inside, depth)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ:
                raise self.fail(f"unsupported YAML tag {node.tag!r}", line=line, path=path)
            items = []
            for index, item in enumerate(node.value):
                item_line = self.alias_lines.get((id(node), index), _line(item))
                items.append(self.value(item, (*path, index), item_line, inside, depth + 1))
            return items
        assert isinstance(node, ScalarNode)
        return self.scalar(node, path, line)

    def mapping(self, node: MappingNode, path: Path, inside: frozenset[int], depth: int) -> dict[str, Any]:
        if node.tag != _MAP:
            raise self.fail(f"unsupported YAML tag {node.tag!r}", line=_line(node), path=path)
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_line = _line(key_node)
            if not isinstance(key_node, ScalarNode):
                raise self.fail("keys must be text, not a mapping or list", line=key_line, path=path)
            if key_node.tag != _STR:
                raise self.fail(f"keys must be text; quote the key {key_node.value!r}", line=key_line, path=path)
            key = key_node.value
            if key == "<<" and key_node.style is None:
                raise self.fail("merge keys (<<) are not supported; spell the values out", line=key_line, path=path)
            if key in first_line:
                raise self.fail(
                    f"duplicate key {key!r} (first at line {first_line[key]})", line=key_line, path=(*path, key)
                )
            first_line[key] = key_line
            out[key] = self.value(value_node, (*path, key), key_line, inside, depth + 1)
        return out

    def scalar(self, node: ScalarNode, path: Path, line: int) -> Any:
        tag, text = node.tag, node.value
        if tag == _STR:
            return text
        if tag == _NULL:
            if text not in ("", "~") and text.lower() != "null":
                raise self.fail(f"{text!r} is not a valid null", line=line, path=path)
            return None
        if tag == _BOOL:
            if text.lower() not in ("true", "false"):
                raise self.fail(f"{text!r} is not a valid boolean (write true or false)", line=line, path=path)
            return text.lower() == "true"
        if tag == _INT:
            number = _parse_int(text)
            if number is None:
                raise self.fail(f"{text!r} is not a valid integer", line=line, path=path)
            if abs(number) > _MAX_EXACT_INT:
                raise self.fail(f"the integer {text} is too large", line=line, path=path)
            return number
        if tag == _FLOAT:
            if text.lstrip("+-").lower() in (".inf", ".nan"):
                raise self.fail(f"must be a finite number, got {text}", line=line, path=path)
            try:
                real = float(text)
            except ValueError:
                raise self.fail(f"{text!r} is not a valid number", line=line, path=path) from None
            if not math.isfinite(real):  # 1e999
                raise self.fail(f"must be a finite number, got {text}", line=line, path=path)
            return real
        raise self.fail(f"unsupported YAML tag {tag!r}", line=line, path=path)


def _parse_int(text: str) -> int | None:
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    try:
        if digits[:2] in ("0x", "0X"):
            return sign * int(digits[2:], 16)
        if digits[:2] in ("0o", "0O"):
            return sign * int(digits[2:], 8)
        return sign * int(digits, 10)
    except ValueError:
        return None


def _children(node: Node) -> Iterator[Node]:
    """The values inside ``node``, counted as ``_Walker.value`` counts them (keys are not values)."""
    if isinstance(node, MappingNode):
        for _key, value in node.value:
            yield value
    elif isinstance(node, SequenceNode):
        yield from node.value
