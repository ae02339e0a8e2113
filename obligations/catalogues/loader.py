"""Load and validate obligation catalogues (pure: text in, plain values out; no database).

The YAML is read by the audit policies' reader (audits.policies.reader): duplicate keys refused, YAML 1.2 scalars,
size, alias and depth limits, and the line of every field, so a catalogue's errors name their line and field as a
policy's do. Rules JSON Schema cannot state are checked after it: every citation id resolves in the citations
catalogue (governance.citations) and obligation ids are unique.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

import rfc8785

from audits.policies.errors import PolicyError, format_field
from audits.policies.reader import Path, decode, read_yaml
from governance.citations import UnknownCitation, all_citations, cite
from obligations.catalogues.schema import CATALOGUE_SCHEMA

BUILTIN_DIR = FilePath(__file__).resolve().parent / "builtin"


class CatalogueError(ValueError):
    """A catalogue that cannot be used: ``message`` reads ``line 12, obligations[3].evidence[0]: ...``."""

    def __init__(self, message: str, *, line: int | None = None, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.field = field

    @classmethod
    def at(cls, problem: str, *, line: int | None, path: Path = ()) -> CatalogueError:
        """The error for ``problem`` at ``line`` and ``path``, its message prefixed with both."""
        field = format_field(path)
        where = ", ".join(part for part in (f"line {line}" if line is not None else "", field) if part)
        return cls(f"{where}: {problem}" if where else problem, line=line, field=field)


@dataclass(frozen=True)
class Evidence:
    """One kind of evidence that satisfies an obligation, with its settings (a policy name, a card section...)."""

    kind: str
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class Obligation:
    """One obligation of a catalogue: Assay's summary, what it rests on, what it applies to, what satisfies it."""

    id: str
    title: str
    summary: str
    citations: tuple[str, ...]
    control: str
    tiers: frozenset[str]
    roles: frozenset[str]
    annex_iii: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    requires_all: bool = False

    def labels(self) -> list[str]:
        """How the obligation is cited: the provisions' labels, or the standard's control id."""
        return [cite(c).label for c in self.citations] or [self.control]


@dataclass(frozen=True)
class Catalogue:
    """A catalogue that parsed and validated, with its hashes (as a policy's: ``sha256`` over the canonical JSON of
    the document, ``text_sha256`` over the text as written)."""

    name: str
    title: str
    framework: str
    binding: bool
    document: dict[str, Any]
    obligations: tuple[Obligation, ...]
    sha256: str
    text_sha256: str
    text: str

    def obligation(self, obligation_id: str) -> Obligation | None:
        """The obligation with that id, or None."""
        return next((o for o in self.obligations if o.id == obligation_id), None)


def load_catalogue(text: str | bytes, *, source: str = "<catalogue>") -> Catalogue:
    """Parse and validate a catalogue; CatalogueError (with line and field) when it cannot be used."""
    try:
        decoded = decode(text, source=source)
        document, lines = read_yaml(decoded, source=source)
    except PolicyError as error:
        raise CatalogueError(error.message.replace("the policy", "the catalogue"), line=error.line) from None
    if not isinstance(document, dict):
        raise CatalogueError.at("a catalogue is a mapping of fields (name, title, obligations, ...)", line=1)
    _validate(document, lines)
    raw = text if isinstance(text, bytes) else decoded.encode("utf-8")
    return Catalogue(
        name=document["name"],
        title=document["title"],
        framework=document["framework"],
        binding=document["binding"],
        document=document,
        obligations=tuple(_obligation(item) for item in document["obligations"]),
        sha256=hashlib.sha256(rfc8785.dumps(document)).hexdigest(),
        text_sha256=hashlib.sha256(raw).hexdigest(),
        text=decoded,
    )


def _obligation(item: dict[str, Any]) -> Obligation:
    applies = item["applies_to"]
    return Obligation(
        id=item["id"],
        title=item["title"],
        summary=item["summary"],
        citations=tuple(item.get("citations", ())),
        control=item.get("control", ""),
        tiers=frozenset(applies["tiers"]),
        roles=frozenset(applies["roles"]),
        annex_iii=tuple(applies.get("annex_iii", ())),
        evidence=tuple(
            Evidence(kind=e["kind"], settings={k: v for k, v in e.items() if k != "kind"}) for e in item["evidence"]
        ),
        requires_all=item.get("requires", "any") == "all",
    )


@functools.cache
def _builtin_texts() -> tuple[tuple[str, str], ...]:
    return tuple((path.stem, path.read_text(encoding="utf-8")) for path in sorted(BUILTIN_DIR.glob("*.yaml")))


def builtin_catalogues() -> dict[str, str]:
    """The YAML text of each catalogue Assay ships, by name."""
    return dict(_builtin_texts())


# --- validation -----------------------------------------------------------------------------------------------


def _is_int(_checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


@functools.cache
def _validator() -> Any:
    """As the policies' validator: 30.0 is not an integer here (JSON Schema would say it is)."""
    from jsonschema import Draft202012Validator, validators

    strict = validators.extend(
        Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_int)
    )
    return strict(CATALOGUE_SCHEMA)


def _line_of(lines: Mapping[Path, int], path: Path) -> int:
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)


def _validate(document: dict[str, Any], lines: dict[Path, int]) -> None:
    errors = list(_validator().iter_errors(document))
    # A key missing beside an unknown key is most likely that key misspelt: report the unknown key, not the absence.
    misspelt = {tuple(e.absolute_path) for e in errors if e.validator == "additionalProperties"}
    faults = [
        _describe(e, lines)
        for e in errors
        if not (e.validator in ("required", "anyOf") and tuple(e.absolute_path) in misspelt)
    ]
    if faults:
        # The fault nearest the top of the file; on one line, the most specific field.
        line, path, problem = min(faults, key=lambda fault: (fault[0], -len(fault[1]), fault[2]))
        raise CatalogueError.at(problem, line=line, path=path)
    seen: set[str] = set()
    for index, item in enumerate(document["obligations"]):
        if item["id"] in seen:
            path = ("obligations", index, "id")
            raise CatalogueError.at(
                f"obligation id {item['id']!r} appears twice", line=_line_of(lines, path), path=path
            )
        seen.add(item["id"])
        for position, citation_id in enumerate(item.get("citations", ())):
            try:
                cite(citation_id)
            except UnknownCitation:
                path = ("obligations", index, "citations", position)
                problem = f"unknown citation id {citation_id!r}: not in the citations catalogue (governance/citations/)"
                hint = difflib.get_close_matches(citation_id, [c.id for c in all_citations()], n=1)
                if hint:
                    problem += f"; did you mean {hint[0]!r}?"
                raise CatalogueError.at(problem, line=_line_of(lines, path), path=path) from None


def _describe(error: Any, lines: Mapping[Path, int]) -> tuple[int, Path, str]:
    """(line, field path, problem) of a jsonschema ValidationError, the problem in words an author can act on."""
    path: Path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = min(set(error.instance) - set(allowed), key=lambda k: _line_of(lines, (*path, k)))
        where: Path = (*path, extra)
        hint = difflib.get_close_matches(extra, allowed, n=1)
        if hint:
            return _line_of(lines, where), where, f"unknown key {extra!r} (did you mean {hint[0]!r}?)"
        return _line_of(lines, where), where, f"unknown key {extra!r}; allowed here: {', '.join(allowed)}"
    if error.validator == "anyOf" and error.validator_value == [{"required": ["citations"]}, {"required": ["control"]}]:
        problem = "needs citations (ids in the citations catalogue) or a control (the standard's own id)"
        return _line_of(lines, path), path, problem
    message = str(error.message)
    return _line_of(lines, path), path, message if len(message) <= 300 else message[:297] + "..."
