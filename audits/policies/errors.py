"""The one error a policy is refused with."""

from __future__ import annotations


def format_field(path: tuple[str | int, ...]) -> str:
    """``('checks', 'disparate_impact', 'impact_ratio_min')`` -> ``checks.disparate_impact.impact_ratio_min``.

    List positions read ``intersections[0]``; a key that is not a plain word (a group label with spaces) is quoted,
    ``shares.race["Black or African American"]``, so the field name is never ambiguous.
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "a").replace("-", "a").isalnum() and part.isascii():
            out += f".{part}" if out else part
        else:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"')
            out += f'["{escaped}"]'
    return out


class PolicyError(ValueError):
    """A policy that cannot be used, with the line (1-based) and field at fault where they are known.

    ``message`` reads ``line 12, checks.disparate_impact.impact_ratio_min.basis: 'citation' is a required
    property``; ``line`` is None for faults of the whole text (too large, empty) and ``field`` is "" when the fault
    is not in one field (a YAML syntax error).
    """

    def __init__(self, message: str, *, line: int | None = None, field: str = "", source: str = "<policy>") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.field = field
        self.source = source

    @classmethod
    def at(
        cls, problem: str, *, line: int | None, path: tuple[str | int, ...] = (), source: str = "<policy>"
    ) -> PolicyError:
        """The error for ``problem`` at ``line`` and ``path``, its message prefixed with both."""
        field = format_field(path)
        where = ", ".join(part for part in (f"line {line}" if line is not None else "", field) if part)
        return cls(f"{where}: {problem}" if where else problem, line=line, field=field, source=source)
